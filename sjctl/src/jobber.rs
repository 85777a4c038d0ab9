//! `sjctl jobber`: connect the bridge to a Jobber account, disconnect it, show the connection.
//!
//! `connect` is OAuth's authorization-code flow for a command line: it prints Jobber's authorize
//! address (and opens a browser when one is at hand), listens on 127.0.0.1 for Jobber's redirect
//! to `http://127.0.0.1:PORT/callback` (the redirect URI registered on the app in Jobber's
//! Developer Center), checks the `state` it sent, exchanges the code, and stores the tokens in
//! Redis where every worker takes them ([`TokenStore::store_initial`]). A cheap `account` query
//! through the workers' own client proves the tokens work and names the account.
//!
//! `disconnect` tells Jobber (`appDisconnect`: the grant is revoked, its tokens die) and leaves a
//! tombstone in Redis in place of the tokens ([`TokenStore::disconnect`]), so that no worker
//! brings the connection back from `jobber.refresh_token` or from its memory.
//!
//! Exit codes: 0 done; 1 configuration or usage (no client secret, a question answered no);
//! 2 the flow failed (denied, state mismatch, code refused, timeout, Redis or Jobber failing).

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::Duration;

use sj_shared::config::Settings;
use sj_shared::jobber::{JobberClient, JobberError, JobberErrorKind, TokenState, TokenStore};
use sj_shared::store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::verify;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Connect the bridge to a Jobber account (first setup, or after a disconnect): prints the
    /// address to open in a browser signed in to Jobber, waits for Jobber's redirect on
    /// 127.0.0.1, and stores the tokens in Redis.
    Connect(ConnectArgs),
    /// Disconnect the bridge from Jobber: Jobber revokes its tokens and Redis forgets them.
    /// Workers stop writing quotes until `sjctl jobber connect` is run again.
    Disconnect(DisconnectArgs),
    /// The connected Jobber account and when the access token expires.
    Status,
}

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// The local port Jobber redirects to: the app's redirect URI in Jobber's Developer Center
    /// must be http://127.0.0.1:PORT/callback. 0 picks a free port (for tests).
    #[arg(long, default_value_t = 8788)]
    port: u16,
    /// Only print the address to open; do not try to open a browser.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for Jobber's redirect.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(clap::Args)]
pub struct DisconnectArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Forget the tokens even when Jobber cannot be told (unreachable, or refusing): the app then
    /// stays connected in Jobber until removed there.
    #[arg(long)]
    force: bool,
}

/// Why a command stopped: a setting or an answer (exit 1), or the flow failed (exit 2).
pub(crate) enum Failure {
    Usage(String),
    Failed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(reason) | Failure::Failed(reason) => f.write_str(reason),
        }
    }
}

impl From<JobberError> for Failure {
    fn from(e: JobberError) -> Self {
        Failure::Failed(e.to_string())
    }
}

pub fn run(settings: &Settings, command: Command) -> ExitCode {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    let (name, result) = match command {
        Command::Connect(args) => ("connect", runtime.block_on(connect(settings, &args))),
        Command::Disconnect(args) => ("disconnect", runtime.block_on(disconnect(settings, &args))),
        Command::Status => ("status", runtime.block_on(status(settings))),
    };
    exit_code(&format!("jobber {name}"), result)
}

/// Exit 0, or the reason on stderr and 1 (usage, a question answered no) or 2 (the work failed).
pub(crate) fn exit_code(command: &str, result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(reason)) => {
            eprintln!("sjctl {command}: {reason}");
            ExitCode::from(1)
        }
        Err(Failure::Failed(reason)) => {
            eprintln!("sjctl {command}: {reason}");
            ExitCode::from(2)
        }
    }
}

/// The token store and client the workers use, from this installation's settings.
pub(crate) fn jobber_client(settings: &Settings) -> Result<(TokenStore, JobberClient), Failure> {
    let pool = store::pool(&settings.redis).map_err(|e| Failure::Usage(format!("redis.url: {e}")))?;
    let client = JobberClient::from_settings(settings, pool)
        .map_err(|e| Failure::Failed(format!("HTTP client: {e}")))?;
    Ok((client.tokens().clone(), client))
}

// ---------------------------------------------------------------------------------------------
// connect

async fn connect(settings: &Settings, args: &ConnectArgs) -> Result<(), Failure> {
    let jobber = &settings.jobber;
    if jobber.client_secret.is_none() {
        return Err(Failure::Usage(
            "jobber.client_secret is not set: the code exchange needs the app's client secret \
             (SJ_JOBBER__CLIENT_SECRET or jobber.client_secret_file)"
                .to_owned(),
        ));
    }
    let (tokens, client) = jobber_client(settings)?;
    // Redis first: better to learn it is down before the browser round trip than after.
    match tokens.state().await? {
        TokenState::Connected(_) => {
            println!("Redis holds tokens of a connection already: connecting replaces them.")
        }
        TokenState::Disconnected { .. } | TokenState::NotStored => {}
    }

    let listener = TcpListener::bind(("127.0.0.1", args.port)).await.map_err(|e| {
        Failure::Failed(format!(
            "cannot listen on 127.0.0.1:{}: {e} (is another sjctl jobber connect running? --port chooses another)",
            args.port
        ))
    })?;
    let port = listener.local_addr().map_err(|e| Failure::Failed(e.to_string()))?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let state = random_state();
    let authorize = reqwest::Url::parse_with_params(
        &format!("{}/api/oauth/authorize", jobber.api_url.trim_end_matches('/')),
        [
            ("response_type", "code"),
            ("client_id", jobber.client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("state", state.as_str()),
        ],
    )
    .map_err(|e| Failure::Usage(format!("jobber.api_url: {e}")))?;

    println!("Open this address in a browser signed in to Jobber as an administrator of the account:");
    println!();
    println!("    {authorize}");
    println!();
    println!(
        "Waiting up to {} for Jobber to redirect to {redirect_uri} (this must be the app's redirect \
         URI in Jobber's Developer Center). Ctrl-C gives up.",
        humantime::format_duration(args.timeout)
    );
    std::io::stdout().flush().ok();
    if !args.no_browser {
        open_browser(authorize.as_str());
    }

    let (mut stream, callback) = match tokio::time::timeout(args.timeout, wait_for_callback(&listener)).await
    {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return Err(Failure::Failed(format!("listening on 127.0.0.1:{port}: {e}"))),
        Err(_) => {
            return Err(Failure::Failed(format!(
                "no answer from Jobber within {}: nothing stored; run sjctl jobber connect again",
                humantime::format_duration(args.timeout)
            )))
        }
    };
    drop(listener);

    let outcome = finish(&tokens, &client, &callback, &state, &redirect_uri).await;
    let page = match &outcome {
        Ok((_, name)) => format!("Connected to {}. You can close this tab.", html(name)),
        Err(reason) => format!("Not connected: {}", html(reason)),
    };
    respond(&mut stream, if outcome.is_ok() { "200 OK" } else { "400 Bad Request" }, &page).await;
    let (id, name) = outcome.map_err(Failure::Failed)?;
    let expiry = match tokens.load().await {
        Ok(Some(stored)) => format!("; access token expires {}", verify::expiry(&stored)),
        _ => String::new(),
    };
    println!(
        "Connected to Jobber account {name} ({id}); tokens stored in Redis{expiry}. Workers use them from \
         their next request."
    );
    if jobber.refresh_token.is_some() {
        println!("jobber.refresh_token (SJ_JOBBER__REFRESH_TOKEN) is no longer needed: remove it.");
    }
    Ok(())
}

/// What the redirect to `/callback` carried.
#[derive(Debug, Default)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Checks the callback, exchanges the code, stores the tokens and names the account.
async fn finish(
    tokens: &TokenStore,
    client: &JobberClient,
    callback: &Callback,
    state: &str,
    redirect_uri: &str,
) -> Result<(String, String), String> {
    // Constant-time enough: the state is single-use and compared once.
    if callback.state.as_deref() != Some(state) {
        return Err("the callback's state does not match the one this command sent (an old browser tab, \
                    or a request that did not come from Jobber); nothing stored: run sjctl jobber connect \
                    again"
            .to_owned());
    }
    if let Some(error) = &callback.error {
        let description = callback.error_description.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        let what = if error == "access_denied" {
            "access was denied in Jobber"
        } else {
            "Jobber did not authorize the bridge"
        };
        return Err(format!("{what} ({error}{description}); nothing stored"));
    }
    let Some(code) = callback.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err("the callback carried neither a code nor an error; nothing stored".to_owned());
    };
    let fresh = tokens
        .exchange_code(code, redirect_uri)
        .await
        .map_err(|e| format!("{}; nothing stored", e.message))?;
    tokens.store_initial(&fresh).await.map_err(|e| format!("storing the tokens: {e}"))?;
    client.account().await.map_err(|e| {
        format!("the tokens are stored, but a first query with them failed ({e}); check with sjctl verify")
    })
}

/// Serves 127.0.0.1 until a `GET /callback` arrives; anything else (a favicon) gets a 404.
async fn wait_for_callback(listener: &TcpListener) -> std::io::Result<(TcpStream, Callback)> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let target = match tokio::time::timeout(Duration::from_secs(10), request_target(&mut stream)).await {
            Ok(Ok(Some(target))) => target,
            _ => {
                respond(&mut stream, "400 Bad Request", "sjctl jobber connect: not an HTTP GET request")
                    .await;
                continue;
            }
        };
        let Ok(url) = reqwest::Url::parse(&format!("http://127.0.0.1{target}")) else {
            respond(&mut stream, "400 Bad Request", "sjctl jobber connect: unreadable address").await;
            continue;
        };
        if url.path() != "/callback" {
            respond(&mut stream, "404 Not Found", "sjctl jobber connect is waiting for /callback").await;
            continue;
        }
        let mut callback = Callback::default();
        for (name, value) in url.query_pairs() {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        return Ok((stream, callback));
    }
}

/// The target of a `GET` request line (`/callback?code=…`), read up to the end of the head.
async fn request_target(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next().unwrap_or_default().split_whitespace();
    Ok(match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_owned()),
        _ => None,
    })
}

async fn respond(stream: &mut TcpStream, status: &str, message: &str) {
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>sjctl jobber connect</title>\
         <p style=\"font: 1.2em sans-serif; margin: 3em\">{message}</p>\n"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// 128 random bits, hex: the OAuth `state` that ties the callback to this run.
fn random_state() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens the address in a browser when that is plainly possible (a desktop session); else the
/// printed address is enough. Never waits for the browser.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if cfg!(unix)
        && (std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some())
    {
        Some("xdg-open")
    } else {
        None
    };
    if let Some(opener) = opener {
        let _ = std::process::Command::new(opener)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

// ---------------------------------------------------------------------------------------------
// disconnect

async fn disconnect(settings: &Settings, args: &DisconnectArgs) -> Result<(), Failure> {
    let (tokens, client) = jobber_client(settings)?;
    match tokens.state().await? {
        TokenState::Disconnected { at } => {
            println!("Already disconnected (since {}): nothing to do.", stamp(at));
            return Ok(());
        }
        TokenState::NotStored if settings.jobber.refresh_token.is_none() => {
            println!("Not connected: Redis holds no Jobber tokens and no refresh token is configured.");
            return Ok(());
        }
        TokenState::Connected(_) | TokenState::NotStored => {}
    }

    // Which account, for the question; tokens Jobber refuses mean it was disconnected there.
    let (who, jobber_refuses) = match client.account().await {
        Ok((id, name)) => (format!("Jobber account {name} ({id})"), false),
        Err(e) if e.kind == JobberErrorKind::Unauthorized => {
            ("Jobber (its tokens no longer work)".to_owned(), true)
        }
        Err(e) if args.force => (format!("Jobber (unreachable: {e})"), true),
        Err(e) => {
            return Err(Failure::Failed(format!(
                "Jobber could not be asked ({e}); nothing changed: try again, or --force to forget the \
                 tokens without telling Jobber"
            )))
        }
    };
    if !args.yes {
        eprint!(
            "Disconnect the bridge from {who}? Workers stop writing quotes until sjctl jobber connect is run \
             again. [y/N] "
        );
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Err(Failure::Usage("nothing changed".to_owned()));
        }
    }

    let told = if jobber_refuses {
        "Jobber no longer accepted the tokens (disconnected there already?)".to_owned()
    } else {
        match client.disconnect().await {
            Ok(()) => "Jobber revoked the bridge's tokens".to_owned(),
            Err(e) if e.kind == JobberErrorKind::Unauthorized => {
                "Jobber no longer accepted the tokens (disconnected there already?)".to_owned()
            }
            Err(e) if args.force => format!("Jobber could not be told ({e}): remove the app in Jobber too"),
            Err(e) => {
                return Err(Failure::Failed(format!(
                    "Jobber's appDisconnect failed ({e}); nothing changed: try again, or --force to forget \
                     the tokens without telling Jobber"
                )))
            }
        }
    };
    tokens.disconnect().await?;
    println!("Disconnected from {who}: {told}, and Redis holds none.");
    println!(
        "Workers stop writing quotes (documents wait in the retry tiers, then park) until sjctl jobber \
         connect is run again."
    );
    if settings.jobber.refresh_token.is_some() {
        println!("jobber.refresh_token (SJ_JOBBER__REFRESH_TOKEN) is ignored from now on: remove it.");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// status

async fn status(settings: &Settings) -> Result<(), Failure> {
    let (tokens, client) = jobber_client(settings)?;
    match tokens.state().await? {
        TokenState::Disconnected { at } => Err(Failure::Failed(format!(
            "disconnected: run sjctl jobber connect (sjctl jobber disconnect ended the connection at {})",
            stamp(at)
        ))),
        TokenState::NotStored if settings.jobber.refresh_token.is_none() => Err(Failure::Failed(
            "not connected: Redis holds no Jobber tokens and no refresh token is configured: run sjctl \
             jobber connect"
                .to_owned(),
        )),
        TokenState::Connected(_) | TokenState::NotStored => {
            let (id, name) = client.account().await?;
            println!("Connected to Jobber account {name} ({id})");
            if let Some(stored) = tokens.load().await? {
                println!("Access token expires {}", verify::expiry(&stored));
            }
            Ok(())
        }
    }
}

fn stamp(unix_seconds: u64) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(unix_seconds))
}
