//! `sjctl jobber connect / disconnect / status` as an operator runs them, against the sandbox's
//! OAuth and the real Redis: the test plays the browser (it opens the printed authorize address,
//! follows Jobber's redirect to sjctl's callback, or clicks Deny), and a worker-style
//! `JobberClient` checks what the workers would see afterwards.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use sj_shared::config::{JobberSettings, RedisSettings, Secret};
use sj_shared::jobber::{CostBudget, JobberClient, TokenState, TokenStore};
use sj_shared::store::{self, Keys};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::pipeline::Namespace;
use crate::support::{binary, built};

/// A namespace in Redis and a sandbox: one Jobber account waiting to be connected.
struct Setup {
    ns: Namespace,
    sandbox: sj_sandbox::Sandbox,
}

impl Setup {
    async fn new(test: &str, config: sj_sandbox::Config) -> Self {
        let ns = Namespace::new(test).await;
        binary("sjctl", "sjctl").await; // `sjctl` (not async) only looks its path up
        let sandbox = sj_sandbox::spawn(config).await.expect("sandbox");
        Self { ns, sandbox }
    }

    /// `sjctl jobber ARGS…` with this test's settings and no refresh token configured.
    fn sjctl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(built("sjctl"));
        cmd.env_remove("SJ_CONFIG")
            .env_remove("SJ_JOBBER__REFRESH_TOKEN")
            .env("SJ_NAMESPACE", &self.ns.name)
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_JOBBER__API_URL", self.sandbox.base_url())
            .env("SJ_JOBBER__CLIENT_SECRET", "sandbox-client-secret")
            .arg("jobber")
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Starts `sjctl jobber connect` on a free port and returns it with the authorize address it
    /// printed.
    async fn connect(&self, extra: &[&str]) -> Connecting {
        let mut args = vec!["connect", "--port", "0", "--no-browser", "--timeout", "60s"];
        args.extend_from_slice(extra);
        let mut child =
            self.sjctl(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start sjctl");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = String::new();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("sjctl prints the authorize address")
                .unwrap()
                .unwrap_or_else(|| panic!("sjctl ended before printing the address:\n{printed}"));
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("/api/oauth/authorize?") {
                break line.trim().to_owned();
            }
        };
        let rest = tokio::spawn(async move {
            let mut rest = String::new();
            while let Ok(Some(line)) = lines.next_line().await {
                rest.push_str(&line);
                rest.push('\n');
            }
            rest
        });
        Connecting { child, url, printed, rest }
    }

    /// A token store and client as a worker builds them (`bootstrap`: its
    /// `SJ_JOBBER__REFRESH_TOKEN`).
    fn worker(&self, bootstrap: Option<&str>) -> (TokenStore, JobberClient) {
        let pool = store::pool(&RedisSettings::default()).unwrap();
        let keys = Keys::new(&self.ns.name);
        let settings = JobberSettings { api_url: self.sandbox.base_url(), ..JobberSettings::default() };
        let http = reqwest::Client::new();
        let tokens = TokenStore::new(
            pool.clone(),
            keys.clone(),
            http.clone(),
            &settings.api_url,
            &settings.client_id,
            Some(Secret::new("sandbox-client-secret")),
            bootstrap.map(Secret::new),
        );
        let client = JobberClient::new(&settings, http, tokens.clone(), CostBudget::new(pool, &keys));
        (tokens, client)
    }

    /// Whether the sandbox still takes this refresh token (it rotates it when it does).
    async fn refresh_accepted(&self, refresh_token: &str) -> bool {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
            ("refresh_token", refresh_token),
        ];
        let response = reqwest::Client::new()
            .post(self.sandbox.url("/api/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap();
        response.status().is_success()
    }
}

/// A running `sjctl jobber connect`.
struct Connecting {
    child: Child,
    /// The authorize address it printed.
    url: String,
    /// Its stdout up to that address.
    printed: String,
    rest: tokio::task::JoinHandle<String>,
}

impl Connecting {
    /// Waits for the exit: status, the rest of stdout, stderr.
    async fn finish(mut self) -> (ExitStatus, String, String) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("sjctl jobber connect ends")
            .unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
        let stdout = format!("{}{}", self.printed, self.rest.await.unwrap());
        (status, stdout, stderr)
    }
}

/// A browser: no proxy, and redirects followed or not.
fn browser(follow: bool) -> reqwest::Client {
    let policy =
        if follow { reqwest::redirect::Policy::limited(5) } else { reqwest::redirect::Policy::none() };
    reqwest::Client::builder().no_proxy().redirect(policy).build().unwrap()
}

async fn run(mut cmd: Command) -> (Option<i32>, String, String) {
    let out = cmd.output().await.unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn connect_stores_tokens_workers_use_and_disconnect_revokes_them_for_good() {
    let mut config = sj_sandbox::Config::default();
    // Nobody listens there: the attempt is recorded all the same.
    config.webhooks.target_url = Some("http://127.0.0.1:9/webhooks".to_owned());
    let setup = Setup::new("jobber-connect", config).await;

    // Not connected yet: status says so.
    let (code, _, err) = run(setup.sjctl(&["status"])).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("not connected") && err.contains("sjctl jobber connect"), "{err}");

    // The operator opens the address; Jobber (auto-approving) redirects to sjctl's callback.
    let connecting = setup.connect(&[]).await;
    assert!(connecting.url.starts_with(&setup.sandbox.url("/api/oauth/authorize?")), "{}", connecting.url);
    assert!(connecting.url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"), "{}", connecting.url);
    let page = browser(true).get(&connecting.url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Connected to Sandbox Cabinets Ltd."), "{page}");
    let (status, out, err) = connecting.finish().await;
    assert_eq!(status.code(), Some(0), "{out}{err}");
    assert!(out.contains("Connected to Jobber account Sandbox Cabinets Ltd. ("), "{out}");
    assert!(out.contains("access token expires in"), "{out}");

    // The tokens are in Redis, and a worker with no refresh token configured works with them.
    let (tokens, worker) = setup.worker(None);
    let stored = tokens.load().await.unwrap().expect("tokens stored by connect");
    let (_, name) = worker.account().await.unwrap();
    assert_eq!(name, "Sandbox Cabinets Ltd.");
    let (code, out, err) = run(setup.sjctl(&["status"])).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Connected to Jobber account Sandbox Cabinets Ltd.") && out.contains("expires in"));

    // Disconnect, with the old refresh token still configured (as an operator would forget to
    // remove SJ_JOBBER__REFRESH_TOKEN).
    let (code, out, err) = run({
        let mut cmd = setup.sjctl(&["disconnect", "--yes"]);
        cmd.env("SJ_JOBBER__REFRESH_TOKEN", &stored.refresh_token);
        cmd
    })
    .await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Disconnected from Jobber account Sandbox Cabinets Ltd."), "{out}");
    assert!(out.contains("until sjctl jobber connect is run again"), "{out}");

    // Redis holds no tokens; Jobber revoked the grant (its refresh token is refused) and told
    // the app's webhook.
    assert!(matches!(tokens.state().await.unwrap(), TokenState::Disconnected { .. }));
    assert!(!setup.refresh_accepted(&stored.refresh_token).await, "the grant is revoked");
    let webhooks = &setup.sandbox.jobber().webhooks;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !webhooks.deliveries().iter().any(|d| d.topic == "APP_DISCONNECT") {
        assert!(tokio::time::Instant::now() < deadline, "no APP_DISCONNECT: {:?}", webhooks.deliveries());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The worker that knew the tokens, and a new one with the old refresh token configured,
    // both fail with the reason and the fix; neither brings the connection back.
    let reason = "disconnected: run sjctl jobber connect";
    let e = worker.account().await.unwrap_err();
    assert!(e.message.contains(reason), "{e}");
    let (_, restarted) = setup.worker(Some(&stored.refresh_token));
    let e = restarted.account().await.unwrap_err();
    assert!(e.message.contains(reason), "{e}");
    assert!(matches!(tokens.state().await.unwrap(), TokenState::Disconnected { .. }));
    let (code, _, err) = run(setup.sjctl(&["status"])).await;
    assert_eq!(code, Some(2));
    assert!(err.contains(reason), "{err}");
    let (code, out, _) = run(setup.sjctl(&["disconnect", "--yes"])).await;
    assert_eq!(code, Some(0));
    assert!(out.contains("Already disconnected"), "{out}");

    // Connecting again replaces the tombstone: the same worker works again.
    let connecting = setup.connect(&[]).await;
    browser(true).get(&connecting.url).send().await.unwrap();
    let (status, out, err) = connecting.finish().await;
    assert_eq!(status.code(), Some(0), "{out}{err}");
    let (_, name) = worker.account().await.unwrap();
    assert_eq!(name, "Sandbox Cabinets Ltd.");
    setup.ns.remove().await;
}

#[tokio::test]
async fn a_callback_with_another_state_stores_nothing() {
    let setup = Setup::new("jobber-state", sj_sandbox::Config::default()).await;
    let connecting = setup.connect(&[]).await;
    // Jobber's redirect, with the state changed on the way.
    let redirect = browser(false).get(&connecting.url).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    let mut callback = reqwest::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { "forged".to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    callback.query_pairs_mut().clear().extend_pairs(pairs);
    let page = browser(false).get(callback).send().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("state does not match"));
    let (status, out, err) = connecting.finish().await;
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert!(err.contains("state does not match") && err.contains("nothing stored"), "{err}");
    assert_eq!(setup.worker(None).0.state().await.unwrap(), TokenState::NotStored);
    setup.ns.remove().await;
}

#[tokio::test]
async fn denied_in_jobber_stores_nothing() {
    let mut config = sj_sandbox::Config::default();
    config.oauth.auto_approve = false;
    let setup = Setup::new("jobber-denied", config).await;
    let connecting = setup.connect(&[]).await;
    // The approve page; the user clicks Deny (the page's form: its hidden fields + the button).
    let page = browser(true).get(&connecting.url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("value=\"deny\""), "{page}");
    let url = reqwest::Url::parse(&connecting.url).unwrap();
    let mut form: Vec<(String, String)> =
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    form.push(("decision".to_owned(), "deny".to_owned()));
    let answer =
        browser(true).post(setup.sandbox.url("/api/oauth/authorize")).form(&form).send().await.unwrap();
    assert!(answer.text().await.unwrap().contains("access was denied"));
    let (status, out, err) = connecting.finish().await;
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert!(err.contains("access was denied in Jobber (access_denied"), "{err}");
    assert_eq!(setup.worker(None).0.state().await.unwrap(), TokenState::NotStored);
    setup.ns.remove().await;
}

#[tokio::test]
async fn a_code_jobber_refuses_stores_nothing() {
    let setup = Setup::new("jobber-code", sj_sandbox::Config::default()).await;
    let connecting = setup.connect(&[]).await;
    let redirect = browser(false).get(&connecting.url).send().await.unwrap();
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    // Someone else exchanged the code first: it is single-use.
    let callback = reqwest::Url::parse(&location).unwrap();
    let code = callback.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let redirect_uri = location.split('?').next().unwrap().to_owned();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
    ];
    let taken = reqwest::Client::new().post(setup.sandbox.url("/api/oauth/token")).form(&form).send().await;
    assert!(taken.unwrap().status().is_success());
    let page = browser(false).get(&location).send().await.unwrap();
    assert_eq!(page.status(), 400);
    let (status, out, err) = connecting.finish().await;
    assert_eq!(status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("Jobber refused the authorization code (HTTP 400") && err.contains("invalid_grant"),
        "{err}"
    );
    assert_eq!(setup.worker(None).0.state().await.unwrap(), TokenState::NotStored);
    setup.ns.remove().await;
}

#[tokio::test]
async fn connect_needs_the_client_secret_and_gives_up_after_its_timeout() {
    let setup = Setup::new("jobber-refusals", sj_sandbox::Config::default()).await;
    let mut cmd = setup.sjctl(&["connect", "--port", "0", "--no-browser"]);
    cmd.env_remove("SJ_JOBBER__CLIENT_SECRET");
    let (code, out, err) = run(cmd).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        err.contains("jobber.client_secret is not set") && err.contains("SJ_JOBBER__CLIENT_SECRET"),
        "{err}"
    );
    assert!(!out.contains("authorize"), "no address without a secret: {out}");

    let (code, out, err) =
        run(setup.sjctl(&["connect", "--port", "0", "--no-browser", "--timeout", "1s"])).await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("no answer from Jobber within 1s"), "{err}");
    setup.ns.remove().await;
}
