//! `sj-console`, the dealer's web console, as a real process over HTTP: a temporary SQLite file,
//! the real Redis (the history, the Jobber tokens) in a namespace of the test's own, the sandbox
//! delivering Jobber's webhooks.

mod browser;
mod connections;
mod pages;
mod parked;
mod review;
mod store;
mod webhooks;

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::pipeline::Namespace;
use crate::support::{binary, built};

/// The client secret the sandbox signs its webhooks with.
pub const CLIENT_SECRET: &str = "sandbox-client-secret";

/// One `sj-console` process and its database, in the test's namespace.
pub struct Console {
    child: Option<Child>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub ns: Namespace,
}

impl Console {
    pub async fn start(test: &str) -> Console {
        binary("sj-console", "sj-console").await;
        let ns = Namespace::new(test).await;
        let dir = tempfile::tempdir().unwrap();
        let mut console = Console { child: None, url: String::new(), dir, ns };
        console.serve().await;
        console
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("console.sqlite3")
    }

    /// `sj-console` with the test's settings.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(built("sj-console"));
        cmd.env_remove("SJ_CONFIG")
            .env("SJ_NAMESPACE", &self.ns.name)
            .env("SJ_LOG__FORMAT", "json")
            .env("SJ_CONSOLE__LISTEN", "127.0.0.1:0")
            .env("SJ_CONSOLE__DATABASE", self.database())
            .env("SJ_JOBBER__CLIENT_SECRET", CLIENT_SECRET)
            .kill_on_drop(true);
        cmd
    }

    /// Starts the server and waits for its `listening on IP:PORT` line.
    pub async fn serve(&mut self) {
        let mut child = self
            .command()
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.dir.path().join("console.log")).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let address = match line {
            Ok(Ok(Some(line))) => line.strip_prefix("listening on ").map(str::to_owned),
            _ => None,
        };
        let log = std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default();
        let address = address.unwrap_or_else(|| panic!("sj-console did not start: {log}"));
        self.url = format!("http://{address}");
        self.child = Some(child);
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub async fn kill_9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }

    /// A command of the binary (`user add …`), `stdin` as its input.
    pub async fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).await.unwrap();
        drop(input);
        child.wait_with_output().await.unwrap()
    }

    pub async fn add_user(&self, name: &str, role: &str, password: &str) {
        let out = self.cli(&["user", "add", name, "--role", role], &format!("{password}\n")).await;
        assert!(out.status.success(), "user add {name}: {}", text(&out));
    }

    pub fn browser(&self) -> Browser {
        Browser {
            base: self.url.clone(),
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
            cookies: Vec::new(),
        }
    }

    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.ns.remove().await;
    }
}

/// stdout then stderr.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// An answer, read whole.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        let start =
            self.body.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("no form: {}", self.body));
        let rest = &self.body[start + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

/// A browser without JavaScript: keeps its cookies, follows no redirect by itself.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let first = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        Page { status, headers, body: response.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(response).await
    }

    /// Fills in the sign-in form as a person does.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        self.post("/sign-in", &[("name", name), ("password", password), ("next", "/"), ("csrf", &csrf)]).await
    }

    /// The session cookie's value, if any.
    pub fn session(&self) -> Option<String> {
        self.cookies.iter().find(|(k, _)| k == "sj_session").map(|(_, v)| v.clone())
    }

    pub fn set_session(&mut self, token: &str) {
        self.cookies.retain(|(k, _)| k != "sj_session");
        self.cookies.push(("sj_session".to_owned(), token.to_owned()));
    }
}
