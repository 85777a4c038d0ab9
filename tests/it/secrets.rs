//! No secret ever reaches a process's output: every binary's `--check-config`, every `sjctl`
//! command that shows configuration or where it connects, and the logs of processes whose broker
//! and Redis refuse them. Each secret setting gets a distinctive value (the passwords inside the
//! AMQP and Redis URLs too), and no output may hold any of them.

use std::process::Stdio;
use std::time::Duration;

use crate::support::binary;

/// Every secret of the test: none may appear in any output.
const SECRETS: &[&str] = &[
    "PW-amqp-XYZ",
    "PW-redis-XYZ",
    "PW-jobber-secret-XYZ",
    "PW-jobber-refresh-XYZ",
    "PW-smtp-XYZ",
    "PW-saberis-XYZ",
    "PW-sheets-key-XYZ",
];

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where the processes of one test run: their folders, and the secrets in their environment.
struct Setup {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Setup {
    /// The processes are sent to the broker and Redis at `amqp` and `redis`, `host:port`, with
    /// passwords neither knows.
    fn new(test: &str, amqp: &str, redis: &str) -> Self {
        let urls =
            (format!("amqp://guest:PW-amqp-XYZ@{amqp}/%2f"), format!("redis://:PW-redis-XYZ@{redis}/0"));
        Self::with_urls(test, &urls.0, &urls.1)
    }

    fn with_urls(test: &str, amqp_url: &str, redis_url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["incoming", "archive", "rejected"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let path = |p: &str| dir.path().join(p).display().to_string();
        let nowhere = format!("http://127.0.0.1:{}", closed_port());
        let env = [
            ("SJ_NAMESPACE", format!("t{}-secrets-{test}", std::process::id())),
            ("SJ_LOG__FORMAT", "json".to_owned()),
            // More than the default shows: nothing at debug level leaks either.
            ("SJ_LOG__LEVEL", "debug".to_owned()),
            ("SJ_AMQP__URL", amqp_url.to_owned()),
            // Give up on the broker soon: the processes log their attempts, then the error.
            ("SJ_AMQP__CONNECT_TIMEOUT", "2s".to_owned()),
            ("SJ_REDIS__URL", redis_url.to_owned()),
            ("SJ_JOBBER__API_URL", nowhere.clone()),
            ("SJ_JOBBER__CLIENT_SECRET", "PW-jobber-secret-XYZ".to_owned()),
            ("SJ_JOBBER__REFRESH_TOKEN", "PW-jobber-refresh-XYZ".to_owned()),
            ("SJ_ALERTS__SMTP__PORT", closed_port().to_string()),
            ("SJ_ALERTS__SMTP__USERNAME", "bridge".to_owned()),
            ("SJ_ALERTS__SMTP__PASSWORD", "PW-smtp-XYZ".to_owned()),
            ("SJ_POLLER__SABERIS_CONNECT__ENABLED", "true".to_owned()),
            ("SJ_POLLER__SABERIS_CONNECT__BASE_URL", format!("{nowhere}/saberis")),
            ("SJ_POLLER__SABERIS_CONNECT__AUTH_TOKEN", "PW-saberis-XYZ".to_owned()),
            ("SJ_POLLER__FOLDER__INCOMING", path("incoming")),
            ("SJ_POLLER__FOLDER__ARCHIVE", path("archive")),
            ("SJ_POLLER__FOLDER__REJECTED", path("rejected")),
            ("SJ_MAPPING__CSV__PATH", path("mapping.csv")),
        ];
        let env = env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Self { dir, env }
    }

    /// The mapping table in a Google Sheet, whose service account key holds a secret (not a
    /// usable key: whatever reads it must not repeat it).
    fn with_sheets(mut self) -> Self {
        let key = self.dir.path().join("service-account.json");
        let json = serde_json::json!({
            "client_email": "bridge@example.iam.gserviceaccount.com",
            "private_key": "-----BEGIN PRIVATE KEY-----\nPW-sheets-key-XYZ\n-----END PRIVATE KEY-----\n",
            "private_key_id": "k1",
            "token_uri": format!("http://127.0.0.1:{}/token", closed_port()),
        });
        std::fs::write(&key, json.to_string()).unwrap();
        self.set("SJ_MAPPING__STORE", "sheets");
        self.set("SJ_MAPPING__SHEETS__SERVICE_ACCOUNT_FILE", &key.display().to_string());
        self.set("SJ_MAPPING__SHEETS__API_URL", &format!("http://127.0.0.1:{}", closed_port()));
        self
    }

    fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    async fn command(&self, package: &str, name: &str, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(binary(package, name).await);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("SJ_CONFIG")
            .env_remove("RUST_LOG")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs a command to its end (at most 60 s) or, when `stop_after` is given, stops it
    /// (SIGKILL) after that long; its exit code (`None` when stopped) and stdout then stderr.
    async fn run(
        &self,
        package: &str,
        name: &str,
        args: &[&str],
        stop_after: Option<Duration>,
    ) -> (Option<i32>, String) {
        let mut child = self.command(package, name, args).await.spawn().unwrap();
        let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let read = async {
            use tokio::io::AsyncReadExt as _;
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
            format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err))
        };
        let limit = stop_after.unwrap_or(Duration::from_secs(60));
        let (code, text) = tokio::join!(
            async {
                match tokio::time::timeout(limit, child.wait()).await {
                    Ok(status) => status.unwrap().code(),
                    Err(_) => {
                        assert!(stop_after.is_some(), "{name} {args:?} did not end within {limit:?}");
                        child.kill().await.unwrap();
                        None
                    }
                }
            },
            read
        );
        (code, text)
    }
}

/// Fails naming the command and the secret when `text` holds any secret.
fn assert_no_secret(what: &str, text: &str) {
    assert_none_of(SECRETS, what, text);
}

fn assert_none_of(secrets: &[&str], what: &str, text: &str) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} printed the secret {secret}:\n{text}");
    }
}

/// The long-running binaries: (package, binary).
const SERVICES: &[(&str, &str)] =
    &[("sj-poller", "sj-poller"), ("sj-worker", "sj-worker"), ("sj-alerter", "sj-alerter")];

/// The sjctl commands that show configuration or where they connect, and those that connect.
const SJCTL: &[&[&str]] = &[
    &["verify"],
    &["verify", "--json"],
    &["status"],
    &["status", "--json"],
    &["jobber", "status"],
    &["history"],
    &["mapping", "list"],
    &["dlq", "list"],
];

#[tokio::test]
async fn check_config_shows_the_urls_without_their_passwords() {
    let setup = Setup::new("check", "127.0.0.1:5672", "127.0.0.1:6379");
    for (package, name) in SERVICES {
        let (code, text) = setup.run(package, name, &["--check-config"], None).await;
        assert_no_secret(&format!("{name} --check-config"), &text);
        assert_eq!(code, Some(0), "{name} --check-config:\n{text}");
        // What is shown instead: the URLs without their passwords, a placeholder for secrets.
        assert!(text.contains("amqp://guest:***@127.0.0.1:5672/%2f"), "{name}:\n{text}");
        assert!(text.contains("redis://:***@127.0.0.1:6379/0"), "{name}:\n{text}");
        assert!(text.contains("Secret(\"***\")"), "{name}:\n{text}");
    }
    // With the Sheets store too (its key is in a file, which is only named).
    let setup = Setup::new("check-sheets", "127.0.0.1:5672", "127.0.0.1:6379").with_sheets();
    let (code, text) = setup.run("sj-worker", "sj-worker", &["--check-config"], None).await;
    assert_no_secret("sj-worker --check-config (sheets)", &text);
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test]
async fn a_malformed_url_is_refused_naming_its_key_without_its_password() {
    let setup = Setup::new("malformed", "127.0.0.1:5672", "127.0.0.1:6379");
    let cases = [
        ("SJ_AMQP__URL", "amqp://guest:PW-amqp-XYZ@127.0.0.1:notaport/%2f", "amqp.url"),
        ("SJ_AMQP__URL", "http://guest:PW-amqp-XYZ@127.0.0.1:5672/%2f", "amqp.url"),
        ("SJ_REDIS__URL", "redis://:PW-redis-XYZ@/0", "redis.url"),
        ("SJ_REDIS__URL", "amqp://:PW-redis-XYZ@127.0.0.1:6379/0", "redis.url"),
    ];
    for (var, url, key) in cases {
        for (package, name, args) in
            [("sj-worker", "sj-worker", &["--check-config"][..]), ("sjctl", "sjctl", &["status"][..])]
        {
            let mut cmd = setup.command(package, name, args).await;
            let out = cmd.env(var, url).output().await.unwrap();
            let text =
                format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert_no_secret(&format!("{name} with {var}={url}"), &text);
            assert_eq!(out.status.code(), Some(1), "{name} with {var}={url}:\n{text}");
            assert!(text.contains(key), "{name} with {var}={url}:\n{text}");
        }
    }
}

/// Runs every service for a few seconds and every sjctl command against `setup` (and `sheets`,
/// the same with the Sheets store), checking that none prints a secret. The services must have
/// logged something about the connection they could not make (else the test saw nothing).
async fn nothing_leaks_while_connections_fail(setup: &Setup, sheets: &Setup) {
    let runs = SERVICES.iter().map(|(package, name)| async move {
        let (_, text) = setup.run(package, name, &[], Some(Duration::from_secs(4))).await;
        (format!("{name} (run)"), text)
    });
    let services = futures_util::future::join_all(runs).await;
    for (what, text) in &services {
        assert_no_secret(what, text);
        assert!(
            ["RabbitMQ", "Redis"].iter().any(|w| text.contains(w)),
            "{what} logged nothing about its connections:\n{text}"
        );
    }
    for args in SJCTL {
        for setup in [setup, sheets] {
            let (_, text) = setup.run("sjctl", "sjctl", args, None).await;
            let what = format!("sjctl {}", args.join(" "));
            assert_no_secret(&what, &text);
            assert!(!text.trim().is_empty(), "{what} printed nothing");
        }
    }
}

#[tokio::test]
async fn nothing_leaks_when_the_broker_and_redis_are_not_there() {
    let (amqp, redis) = (format!("127.0.0.1:{}", closed_port()), format!("127.0.0.1:{}", closed_port()));
    let setup = Setup::new("closed", &amqp, &redis);
    let sheets = Setup::new("closed-sheets", &amqp, &redis).with_sheets();
    nothing_leaks_while_connections_fail(&setup, &sheets).await;
}

#[tokio::test]
async fn nothing_leaks_when_the_broker_and_redis_refuse_the_password() {
    // The real services, which know no such password.
    let setup = Setup::new("refused", "127.0.0.1:5672", "127.0.0.1:6379");
    let sheets = Setup::new("refused-sheets", "127.0.0.1:5672", "127.0.0.1:6379").with_sheets();
    nothing_leaks_while_connections_fail(&setup, &sheets).await;
}

#[tokio::test]
async fn nothing_leaks_when_only_the_broker_refuses_the_password() {
    // Redis and Jobber (the sandbox, with this test's client secret) work, so every service gets
    // as far as the broker, which refuses the password: the worker keeps reconnecting, the
    // others stop with the error.
    let mut config = sj_sandbox::Config::default();
    config.oauth.client_secret = "PW-jobber-secret-XYZ".to_owned();
    let sandbox = sj_sandbox::spawn(config).await.expect("sandbox");
    let tokens = sandbox.issue_tokens();
    let mut setup = Setup::with_urls(
        "broker-refuses",
        "amqp://guest:PW-amqp-XYZ@127.0.0.1:5672/%2f",
        "redis://127.0.0.1:6379/0",
    );
    setup.set("SJ_JOBBER__API_URL", &sandbox.base_url());
    setup.set("SJ_JOBBER__REFRESH_TOKEN", &tokens.refresh_token);
    let issued = [tokens.refresh_token.as_str(), tokens.access_token.as_str()];

    let runs = SERVICES.iter().map(|(package, name)| {
        let setup = &setup;
        async move {
            let (_, text) = setup.run(package, name, &[], Some(Duration::from_secs(8))).await;
            (*name, text)
        }
    });
    let outputs = futures_util::future::join_all(runs).await;
    let namespace = setup.env.iter().find(|(k, _)| k == "SJ_NAMESPACE").map(|(_, v)| v.clone()).unwrap();
    forget_redis(&namespace).await;
    sandbox.shutdown().await;
    for (name, text) in &outputs {
        assert_no_secret(name, text);
        assert_none_of(&issued, name, text);
        assert!(text.contains("ACCESS_REFUSED"), "{name} did not get as far as the broker:\n{text}");
    }
}

/// Removes the Redis keys of `namespace` (the worker stored Jobber's tokens there).
async fn forget_redis(namespace: &str) {
    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{namespace}:*")).query_async(&mut conn).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut conn).await.unwrap();
    }
}
