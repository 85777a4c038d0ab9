//! A RabbitMQ node and a Redis server of the fault run's own, in its temporary folder, on free
//! ports: the run stops, kills and restarts them, so it must never touch the machine's (other
//! test runs use those meanwhile). Each is a guard: dropped (the run failed or ended), its
//! processes are killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// A free TCP port on 127.0.0.1 (asked of the kernel; free when this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// How a service is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM: the service shuts down cleanly (Redis writes its append-only file out).
    Graceful,
    /// SIGKILL: a crash (the OOM killer, a power cut of the process).
    Crash,
}

/// SIGTERM to one process, waited for up to `within`; SIGKILL to its process group after that.
async fn terminate(child: &mut Child, within: Duration) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        if tokio::time::timeout(within, child.wait()).await.is_ok() {
            return;
        }
        kill_group(pid).await;
    }
    let _ = child.wait().await;
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

/// Not async (for `Drop`): SIGKILL to a whole process group.
fn kill_group_now(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::File::options().create(true).append(true).open(path).expect("service log file")
}

/// `redis-server` with an append-only file (`appendfsync always`): a clean restart or a crash
/// keeps every acknowledged write; [`PrivateRedis::restart`] with `wipe` deletes the files first,
/// as a Redis replaced or restarted without persistence comes back empty.
pub struct PrivateRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    pub async fn start(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut redis = Self { port: free_port(), dir: dir.to_owned(), child: None };
        redis.spawn().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.join("data"))
            .stdin(Stdio::null())
            .stdout(log_file(&self.dir.join("redis.log")))
            .stderr(log_file(&self.dir.join("redis.log")))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.pong().await {
            assert!(Instant::now() < deadline, "the private Redis did not answer within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn pong(&self) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return false;
        };
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").await.is_ok()
            && tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut answer)).await.is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Stops Redis, keeps it away for `down`, starts it again (without its data when `wipe`).
    pub async fn restart(&mut self, how: Stop, wipe: bool, down: Duration) {
        if let Some(mut child) = self.child.take() {
            match how {
                Stop::Graceful => terminate(&mut child, Duration::from_secs(20)).await,
                Stop::Crash => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                }
            }
        }
        if wipe {
            std::fs::remove_dir_all(self.dir.join("data")).unwrap();
            std::fs::create_dir_all(self.dir.join("data")).unwrap();
        }
        tokio::time::sleep(down).await;
        self.spawn().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            kill_group_now(pid);
        }
    }
}

/// The `rabbitmq-server` script itself (not Debian's `/usr/sbin` wrapper, which switches to the
/// `rabbitmq` user and its home); `SJ_FAULT_RUN_RABBITMQ_SERVER` names another.
fn rabbitmq_server() -> PathBuf {
    if let Some(path) = std::env::var_os("SJ_FAULT_RUN_RABBITMQ_SERVER") {
        return path.into();
    }
    let debian = Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if debian.exists() {
        debian.to_owned()
    } else {
        "rabbitmq-server".into()
    }
}

/// A RabbitMQ node of its own: its own node name, AMQP and distribution ports, database, logs,
/// Erlang cookie (its own `HOME`) and configuration; no plugins (no management listener). Quorum
/// queues keep their messages across a restart or a crash, as on the machine's broker. Every
/// feature flag is on, as on any new node (at-least-once dead-lettering needs them).
pub struct PrivateRabbit {
    pub port: u16,
    dir: PathBuf,
    node: String,
    dist_port: u16,
    child: Option<Child>,
    /// How long each start took until the broker answered an AMQP client.
    pub starts: Vec<Duration>,
}

impl PrivateRabbit {
    pub async fn start(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let port = free_port();
        let mut dist_port = free_port();
        while dist_port == port {
            dist_port = free_port();
        }
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users.guest = true\n"),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(dir.join("rabbitmq-env.conf"), "").unwrap();
        let node = format!("sjfault-{}-{port}@localhost", std::process::id());
        let mut rabbit = Self { port, dir: dir.to_owned(), node, dist_port, child: None, starts: Vec::new() };
        rabbit.spawn().await;
        rabbit
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    async fn spawn(&mut self) {
        let began = Instant::now();
        let d = &self.dir;
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
            .stdout(log_file(&d.join("rabbitmq-server.log")))
            .stderr(log_file(&d.join("rabbitmq-server.log")))
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{}: {e} (apt-get install rabbitmq-server)", rabbitmq_server().display())
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if self.answers().await {
                break;
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let log = std::fs::read_to_string(d.join("rabbitmq-server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                panic!(
                    "the private RabbitMQ node exited ({status}):\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            assert!(Instant::now() < deadline, "the private RabbitMQ node did not answer within 180 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.starts.push(began.elapsed());
    }

    /// A full AMQP handshake (a listening port alone is not a broker that serves).
    async fn answers(&self) -> bool {
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

    /// Stops the node, keeps it away for `down`, starts it again on the same database.
    pub async fn restart(&mut self, how: Stop, down: Duration) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id();
            match how {
                // The script's SIGTERM handler stops the node cleanly and waits for it.
                Stop::Graceful => terminate(&mut child, Duration::from_secs(60)).await,
                Stop::Crash => {
                    if let Some(pid) = pid {
                        kill_group(pid).await;
                    }
                    let _ = child.wait().await;
                }
            }
            // The Erlang VM is the script's child: make sure nothing of the node is left.
            if let Some(pid) = pid {
                kill_group(pid).await;
            }
        }
        tokio::time::sleep(down).await;
        self.spawn().await;
    }
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            kill_group_now(pid);
        }
    }
}
