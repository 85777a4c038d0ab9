//! A real browser for the tests: Debian's Chromium, headless, driven over WebDriver by its
//! chromedriver (`apt-get install chromium chromium-driver`; deploy/local/services.sh installs
//! them). Each [`Chrome`] is one chromedriver on a free loopback port with one session (one
//! Chromium) and a fresh profile; [`Chrome::stop`] ends the session first (chromedriver killed
//! alone would leave its Chromium running), then chromedriver.
//!
//! Everything here awaits: chromedriver is a `tokio::process` child, its start is awaited over
//! HTTP, pauses are `tokio::time::sleep`. Only `Drop` (a test that panicked before `stop`) kills
//! in place, the whole process group at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

/// A phone's viewport in CSS pixels (an iPhone 12 to 15), for [`Chrome::screenshot`].
pub const PHONE: (u32, u32) = (390, 844);

/// chromedriver (`CHROMEDRIVER`, else `chromedriver` on the PATH) driving one headless
/// Chromium (`CHROMIUM`, else `/usr/bin/chromium` when present).
pub struct Chrome {
    pub client: Client,
    driver: Option<Child>,
    /// The profile (`--user-data-dir`), chromedriver's log and screenshots not kept in docs/img.
    pub dir: tempfile::TempDir,
}

impl Chrome {
    pub async fn start() -> Chrome {
        let dir = tempfile::tempdir().unwrap();
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let mut last_error = String::new();
        // A free port can be taken between the look and chromedriver's bind: a few tries.
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = dir.path().join("chromedriver.log");
            let spawned = Command::new(&driver_path)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so that Drop can kill chromedriver and its Chromium at once.
                .process_group(0)
                .kill_on_drop(true)
                .spawn();
            let driver = match spawned {
                Ok(driver) => driver,
                Err(e) => panic!(
                    "cannot start {driver_path}: {e}. The browser tests need Debian's chromium and \
                     chromium-driver (apt-get install -y chromium chromium-driver; deploy/local/services.sh \
                     installs them)"
                ),
            };
            let mut chrome_driver = Some(driver);
            let url = format!("http://127.0.0.1:{port}");
            if !ready(&url).await {
                last_error = format!("chromedriver did not answer on {url}: {}", read(&log).await);
                stop_child(&mut chrome_driver).await;
                continue;
            }
            let profile = dir.path().join("profile");
            let args = vec![
                "--headless=new".to_owned(),
                "--no-sandbox".to_owned(), // as root, on these machines and in containers
                "--disable-gpu".to_owned(),
                "--disable-quic".to_owned(),
                "--no-first-run".to_owned(),
                "--disable-background-networking".to_owned(),
                "--disable-component-update".to_owned(),
                "--disable-sync".to_owned(),
                "--disable-dev-shm-usage".to_owned(),
                "--hide-scrollbars".to_owned(),
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1200,800".to_owned(),
                "--force-device-scale-factor=1".to_owned(),
            ];
            let mut options = json!({ "args": args });
            let binary = std::env::var("CHROMIUM")
                .ok()
                .or_else(|| Path::new("/usr/bin/chromium").exists().then(|| "/usr/bin/chromium".to_owned()));
            if let Some(binary) = binary {
                options["binary"] = json!(binary);
            }
            let mut capabilities = serde_json::Map::new();
            capabilities.insert("goog:chromeOptions".to_owned(), options);
            // An alert, confirm or prompt stays open for the test to see (not dismissed by itself).
            capabilities.insert("unhandledPromptBehavior".to_owned(), json!("ignore"));
            let connected = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&url)
                .await;
            match connected {
                Ok(client) => return Chrome { client, driver: chrome_driver, dir },
                Err(e) => {
                    last_error = format!(
                        "no WebDriver session from {url}: {e}; chromedriver's log: {}",
                        read(&log).await
                    );
                    stop_child(&mut chrome_driver).await;
                }
            }
        }
        panic!("{last_error}")
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path and query of the page shown (`/sign-in?next=%2Fhistory`).
    pub async fn location(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Clicks the element `css` selects and waits (at most 10 s) until the page it leads to is
    /// loaded: a new document (the old one marked beforehand), fully read. For links and form
    /// buttons, including a POST answered by a redirect back to the same address.
    pub async fn click_and_wait(&self, css: &str) {
        self.client.execute("window.sjOldPage = true", vec![]).await.unwrap();
        let element = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self
                .client
                .execute("return window.sjOldPage === true ? 'old' : document.readyState", vec![])
                .await;
            if matches!(&state, Ok(serde_json::Value::String(s)) if s == "complete") {
                return;
            }
            assert!(Instant::now() < until, "{css}: no new page loaded after the click ({state:?})");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (at most 10 s) until the page's path is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let url = self.client.current_url().await.unwrap();
            if url.path() == path {
                return;
            }
            assert!(Instant::now() < until, "still at {url}, not {path}: {}", self.body_text().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text a person sees on the page (`document.body.innerText`).
    pub async fn body_text(&self) -> String {
        let text = self.client.execute("return document.body ? document.body.innerText : ''", vec![]).await;
        text.ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }

    /// The text of the alert, confirm or prompt open on the page, if one is.
    pub async fn open_alert(&self) -> Option<String> {
        match self.client.get_alert_text().await {
            Ok(text) => Some(text),
            Err(e) if e.is_no_such_alert() => None,
            Err(e) => panic!("asking for an open alert: {e}"),
        }
    }

    /// Sets the viewport (the page's inner size) to `width` × `height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let inner = |client: &Client| {
            let client = client.clone();
            async move {
                let v =
                    client.execute("return [window.innerWidth, window.innerHeight]", vec![]).await.unwrap();
                (v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32)
            }
        };
        // The window's outer size includes whatever the browser draws around the page: measure it
        // and ask for that much more.
        self.client.set_window_size(width, height).await.unwrap();
        let (w, h) = inner(&self.client).await;
        if (w, h) != (width, height) {
            self.client.set_window_size(2 * width - w, 2 * height - h).await.unwrap();
        }
        let now = inner(&self.client).await;
        assert_eq!(now, (width, height), "the viewport could not be set");
    }

    /// A screenshot of `url` at phone width ([`PHONE`]), as a PNG named `file`: written to
    /// `docs/img/FILE` when `WRITE_SCREENSHOTS=1` (to refresh the documentation's pictures), else
    /// into this browser's temporary folder. Returns where it went. The session's cookies are
    /// used (sign in first for a page behind the sign-in).
    pub async fn screenshot(&self, url: &str, file: &str) -> PathBuf {
        self.set_viewport(PHONE.0, PHONE.1).await;
        self.goto(url).await;
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 24, "not a PNG");
        let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(width, PHONE.0, "the screenshot is not at phone width");
        let path = if std::env::var("WRITE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            super::root().join("docs/img").join(file)
        } else {
            self.dir.path().join(file)
        };
        tokio::fs::create_dir_all(path.parent().unwrap()).await.unwrap();
        tokio::fs::write(&path, &png).await.unwrap();
        path
    }

    /// Ends the session (Chromium quits), then chromedriver.
    pub async fn stop(mut self) {
        let client = self.client.clone();
        if let Err(e) = client.close().await {
            eprintln!("closing the WebDriver session: {e}");
        }
        stop_child(&mut self.driver).await;
    }
}

impl Drop for Chrome {
    /// A test that panicked before [`Chrome::stop`]: chromedriver and the Chromium it started,
    /// one process group, killed at once.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.as_ref().and_then(Child::id) {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
    }
}

async fn stop_child(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// chromedriver answers `GET /status` with `ready: true` (within 20 s).
async fn ready(url: &str) -> bool {
    let http = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if let Ok(answer) = http.get(format!("{url}/status")).timeout(Duration::from_secs(2)).send().await {
            if let Ok(status) = answer.json::<serde_json::Value>().await {
                if status["value"]["ready"] == json!(true) {
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The last lines of chromedriver's log.
async fn read(path: &Path) -> String {
    let text = tokio::fs::read_to_string(path).await.unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}
