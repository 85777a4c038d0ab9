//! A RabbitMQ node of the benchmark's own, for the recovery benchmark, which restarts its broker:
//! the machine's RabbitMQ serves other runs and tests meanwhile and is never touched. The same
//! approach as the fault run's (tests/it/fault_run/services.rs): its own node name, AMQP and
//! distribution ports, database, logs, Erlang cookie (its own `HOME`) and configuration, no
//! plugins, in a temporary folder; killed (its whole process group) when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use tokio::process::{Child, Command};

/// A free TCP port on 127.0.0.1 (asked of the kernel; free when this returns).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `rabbitmq-server` script itself (not Debian's `/usr/sbin` wrapper, which switches to the
/// `rabbitmq` user and its home); `SJ_BENCH_RABBITMQ_SERVER` names another.
fn rabbitmq_server() -> PathBuf {
    if let Some(path) = std::env::var_os("SJ_BENCH_RABBITMQ_SERVER") {
        return path.into();
    }
    let debian = Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if debian.exists() {
        debian.to_owned()
    } else {
        "rabbitmq-server".into()
    }
}

/// SIGKILL to a whole process group (quiet when it is gone already).
async fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

pub struct PrivateRabbit {
    pub port: u16,
    dir: PathBuf,
    node: String,
    dist_port: u16,
    child: Option<Child>,
}

impl PrivateRabbit {
    /// Starts a node in `dir` and waits until it answers an AMQP client (at most 180 s).
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("home"))?;
        let port = free_port()?;
        let mut dist_port = free_port()?;
        while dist_port == port {
            dist_port = free_port()?;
        }
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users.guest = true\n"),
        )?;
        std::fs::write(dir.join("enabled_plugins"), "[].\n")?;
        std::fs::write(dir.join("rabbitmq-env.conf"), "")?;
        let node = format!("sjbench-{}-{port}@localhost", std::process::id());
        let mut rabbit = Self { port, dir: dir.to_owned(), node, dist_port, child: None };
        rabbit.spawn().await?;
        Ok(rabbit)
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let d = &self.dir;
        let log = || std::fs::File::options().create(true).append(true).open(d.join("rabbitmq-server.log"));
        let child = Command::new(rabbitmq_server())
            .env("HOME", d.join("home"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
            .env("RABBITMQ_ADVANCED_CONFIG_FILE", d.join("advanced.config"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_CONF_ENV_FILE", d.join("rabbitmq-env.conf"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env_remove("RABBITMQ_ALLOW_INPUT")
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(log()?)
            .stderr(log()?)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("{} (apt-get install rabbitmq-server)", rabbitmq_server().display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if self.answers().await {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let log = std::fs::read_to_string(d.join("rabbitmq-server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                bail!(
                    "the private RabbitMQ node exited ({status}):\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            if Instant::now() > deadline {
                bail!("the private RabbitMQ node did not answer within 180 s (log: {})", d.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A full AMQP handshake (a listening port alone is not a broker that serves).
    pub async fn answers(&self) -> bool {
        let url = self.url();
        let connecting = lapin::Connection::connect(&url, lapin::ConnectionProperties::default());
        match tokio::time::timeout(Duration::from_secs(5), connecting).await {
            Ok(Ok(connection)) => {
                let _ = connection.close(200, "up".into()).await;
                true
            }
            _ => false,
        }
    }

    /// A clean stop (the script's SIGTERM handler stops the node and waits for it; SIGKILL to
    /// the group after 60 s), then a start on the same database. Returns once it answers again.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
                if tokio::time::timeout(Duration::from_secs(60), child.wait()).await.is_err() {
                    kill_group(pid).await;
                }
                // The Erlang VM is the script's child: make sure nothing of the node is left.
                kill_group(pid).await;
            }
            let _ = child.wait().await;
        }
        self.spawn().await
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
