//! The pipeline against the real RabbitMQ and Redis on 127.0.0.1, each test in its own
//! namespace (queues, exchanges and Redis keys), removed at the end.

mod budget;
mod catalogs;
mod first_poll;
mod jobber_api;
pub(crate) mod jobs;
mod leases;
mod matching;
mod poller;
mod pricing;
mod recovery;
mod requests;
mod restarts;
pub(crate) mod routing;
mod saberis_connect;
mod tracing;
pub(crate) mod worker;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Channel, Connection};
use sj_shared::amqp::Topology;
use sj_shared::config::{AmqpSettings, RedisSettings};

/// Every test shares RabbitMQ and Redis; a test that restarts one of them runs alone.
static SERVICES: LazyLock<RwLock<()>> = LazyLock::new(|| RwLock::new(()));

#[allow(dead_code)] // held, never read
enum ServicesGuard {
    Shared(RwLockReadGuard<'static, ()>),
    Exclusive(RwLockWriteGuard<'static, ()>),
}

/// A namespace of its own for one test, and the broker and Redis it lives on.
pub struct Namespace {
    pub name: String,
    pub topology: Topology,
    pub connection: Connection,
    pub channel: Channel,
    /// Set by [`Namespace::remove`]; otherwise (a failed assertion) `Drop` cleans up.
    removed: bool,
    _services: ServicesGuard,
}

impl Namespace {
    pub async fn new(test: &str) -> Self {
        let guard = ServicesGuard::Shared(SERVICES.read().await);
        Self::open(test, guard).await
    }

    /// For a test that stops and starts RabbitMQ or Redis: no other test runs meanwhile.
    pub async fn new_exclusive(test: &str) -> Self {
        let guard = ServicesGuard::Exclusive(SERVICES.write().await);
        Self::open(test, guard).await
    }

    /// A new connection and channel (after a broker restart).
    pub async fn reconnect(&mut self) {
        self.connection = sj_shared::amqp::connect(&AmqpSettings::default()).await.expect("RabbitMQ is back");
        self.channel = self.connection.create_channel().await.expect("channel");
    }

    async fn open(test: &str, guard: ServicesGuard) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}-{}-{test}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let settings = AmqpSettings::default();
        let topology = settings.topology(&name);
        let connection = sj_shared::amqp::connect(&settings).await.expect("RabbitMQ on 127.0.0.1:5672");
        let channel = connection.create_channel().await.expect("channel");
        Self { name, topology, connection, channel, removed: false, _services: guard }
    }

    /// Takes every message now in `queue` (acknowledging them).
    pub async fn drain(&self, queue: &str) -> Vec<lapin::message::BasicGetMessage> {
        let mut messages = Vec::new();
        while let Some(message) =
            self.channel.basic_get(queue.into(), BasicGetOptions { no_ack: true }).await.expect("basic.get")
        {
            messages.push(message);
        }
        messages
    }

    /// Messages ready in `queue` (not those delivered and not yet acknowledged).
    pub async fn peek_count(&self, queue: &str) -> u32 {
        let passive = lapin::options::QueueDeclareOptions { passive: true, ..Default::default() };
        match self.channel.queue_declare(queue.into(), passive, Default::default()).await {
            Ok(q) => q.message_count(),
            Err(_) => 0,
        }
    }

    pub async fn queue_empty(&self, queue: &str) -> bool {
        self.peek_count(queue).await == 0
    }

    /// Deletes every Redis key of the namespace, as a Redis restart without persistence would.
    pub async fn forget_redis(&self) {
        forget_redis(&self.name).await;
    }

    /// Deletes the namespace's queues, exchanges and Redis keys.
    pub async fn remove(mut self) {
        self.removed = true;
        delete_namespace(&self.name, &self.topology).await;
        let _ = self.connection.close(200, "test done".into()).await;
    }
}

impl Drop for Namespace {
    /// A test that failed before `remove` still leaves nothing behind: leftover quorum queues
    /// pile up in the broker run after run and slow it down.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (name, topology) = (self.name.clone(), self.topology.clone());
        let cleanup = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(delete_namespace(&name, &topology));
        });
        let _ = cleanup.join();
    }
}

async fn delete_namespace(name: &str, t: &Topology) {
    let Ok(connection) = sj_shared::amqp::connect(&AmqpSettings {
        connect_timeout: sj_shared::config::HumanDuration(std::time::Duration::from_secs(5)),
        ..AmqpSettings::default()
    })
    .await
    else {
        return;
    };
    if let Ok(channel) = connection.create_channel().await {
        let mut queues = vec![
            t.quotes_queue(),
            t.parked_queue(),
            t.alerts_queue(),
            t.undeliverable_alerts_queue(),
            t.review_queue(),
        ];
        queues.extend(t.retry_delays.iter().map(|d| t.retry_queue(*d)));
        for queue in queues {
            let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
        }
        for exchange in [t.quotes_exchange(), t.dead_exchange()] {
            let _ = channel.exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default()).await;
        }
    }
    let _ = connection.close(200, "test cleanup".into()).await;
    forget_redis(name).await;
}

async fn forget_redis(name: &str) {
    let Ok(client) = redis::Client::open(RedisSettings::default().url.expose()) else { return };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return };
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{name}:*")).query_async(&mut conn).await.unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}
