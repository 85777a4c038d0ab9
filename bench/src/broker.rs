//! The broker's ceiling: raw lapin publishing with confirms and consuming with manual acks,
//! messages of the pipeline's size, persistent, on a quorum queue as the topology declares.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::BasicProperties;
use serde::Serialize;
use sj_shared::config::AmqpSettings;
use sj_shared::intake;
use sj_shared::message::{Source, SourceKind};
use sj_shared::saberis::{self, Format, Limits};

#[derive(Serialize, Clone)]
pub struct Ceiling {
    pub messages: usize,
    pub message_bytes: usize,
    pub consumers: usize,
    pub seconds: f64,
    pub msgs_per_s: f64,
}

/// The message the poller publishes for one generated document (its JSON body).
pub fn message_body() -> anyhow::Result<Vec<u8>> {
    let text = crate::docs::document(&crate::docs::template()?, "size", 0, 0);
    let doc = saberis::parse(text.as_bytes(), Some(Format::Xml), &Limits::default())
        .map_err(|e| anyhow::anyhow!("the template does not parse: {e}"))?;
    let request = intake::normalize(&doc, Source::now(SourceKind::Folder, "order-00000.xml"));
    Ok(serde_json::to_vec(&request)?)
}

/// Publishes `n` messages (at most 64 unconfirmed) while `consumers` consumers (prefetch 10, as a
/// worker) ack each one; msgs/s from the first publish to the last ack.
pub async fn run(namespace: &str, n: usize, consumers: usize) -> anyhow::Result<Ceiling> {
    let body = message_body()?;
    let settings = AmqpSettings::default();
    let queue = format!("{namespace}.ceiling");
    let publisher_conn = sj_shared::amqp::connect(&settings).await.context("RabbitMQ on 127.0.0.1:5672")?;
    let channel = publisher_conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString(LongString::from("quorum")));
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions { durable: true, ..Default::default() },
            args,
        )
        .await?;
    channel.confirm_select(ConfirmSelectOptions::default()).await?;

    let mut consumer_tasks = Vec::new();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut consumer_conns = Vec::new();
    for i in 0..consumers {
        let conn = sj_shared::amqp::connect(&settings).await?;
        let ch = conn.create_channel().await?;
        ch.basic_qos(10, BasicQosOptions::default()).await?;
        let mut consumer = ch
            .basic_consume(
                queue.as_str().into(),
                format!("ceiling-{i}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let tx = done_tx.clone();
        consumer_tasks.push(tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                std::hint::black_box(&delivery.data);
                if delivery.acker.ack(BasicAckOptions::default()).await.is_err() {
                    break;
                }
                let _ = tx.send(());
            }
        }));
        consumer_conns.push(conn);
    }

    let started = Instant::now();
    let properties =
        BasicProperties::default().with_content_type("application/json".into()).with_delivery_mode(2);
    let mut pending = VecDeque::new();
    for _ in 0..n {
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions { mandatory: true, ..Default::default() },
                &body,
                properties.clone(),
            )
            .await?;
        pending.push_back(confirm);
        if pending.len() >= 64 {
            let c = pending.pop_front().expect("non-empty").await?;
            anyhow::ensure!(c.is_ack(), "the broker did not confirm a message");
        }
    }
    for confirm in pending {
        anyhow::ensure!(confirm.await?.is_ack(), "the broker did not confirm a message");
    }
    let mut acked = 0;
    while acked < n {
        tokio::time::timeout(Duration::from_secs(60), done_rx.recv())
            .await
            .context("consumers stalled")?
            .context("consumers ended")?;
        acked += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    for conn in consumer_conns {
        let _ = conn.close(200, "done".into()).await;
    }
    for task in consumer_tasks {
        task.abort();
    }
    let _ = channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await;
    let _ = publisher_conn.close(200, "done".into()).await;
    Ok(Ceiling { messages: n, message_bytes: body.len(), consumers, seconds, msgs_per_s: n as f64 / seconds })
}
