//! The HTTP server of `/healthz`, `/readyz` and `/metrics` (axum, one task beside the process's
//! work), and the address file that tells `sjctl probe` where it listens.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::config::HealthSettings;

/// How long one scrape hook may take before `/metrics` answers without it.
const HOOK_TIMEOUT: Duration = Duration::from_secs(2);

type Hook = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Runs `hook` before every `/metrics` answer (bounded in time): for values read elsewhere at
/// scrape time, such as the mapping index in Redis.
pub fn on_scrape<F, Fut>(hook: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let hook: Hook = Arc::new(move || Box::pin(hook()));
    HOOKS.lock().unwrap_or_else(|p| p.into_inner()).push(hook);
}

/// Starts serving `/healthz`, `/readyz` and `/metrics` on `settings.listen`, declares the
/// process's readiness `conditions` (unmet until set), names the program in `sj_build_info`, and
/// writes the bound address to `settings.address_file` when there is one. Returns the bound
/// address. The server runs until the process ends.
pub async fn serve(
    program: &str,
    settings: &HealthSettings,
    conditions: &[&'static str],
) -> io::Result<SocketAddr> {
    super::readiness().require(conditions);
    super::metrics().set_program(program);
    let listener = tokio::net::TcpListener::bind(settings.listen).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("health endpoint: cannot listen on {} (health.listen): {e}", settings.listen),
        )
    })?;
    let addr = listener.local_addr()?;
    if let Some(file) = &settings.address_file {
        write_address(file, reachable(addr)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("health endpoint: cannot write {} (health.address_file): {e}", file.display()),
            )
        })?;
    }
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router()).await {
            tracing::error!(error = %e, "the health endpoint stopped");
        }
    });
    tracing::info!(address = %addr, "health endpoints: /healthz, /readyz, /metrics");
    Ok(addr)
}

/// The routes, for [`serve`] and tests.
pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Alive: the process runs and its runtime answers.
async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz() -> Response {
    match super::readiness().check().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(unmet) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", unmet.join("; "))).into_response()
        }
    }
}

async fn metrics() -> Response {
    let hooks: Vec<Hook> = HOOKS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for hook in hooks {
        let _ = tokio::time::timeout(HOOK_TIMEOUT, hook()).await;
    }
    let ready = super::readiness().check().await.is_ok();
    let metrics = super::metrics();
    metrics.ready.set(i64::from(ready));
    let content_type = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    ([(header::CONTENT_TYPE, content_type)], metrics.encode()).into_response()
}

/// The address to connect to: a wildcard listen address (`0.0.0.0`, `::`) is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

/// Writes `addr` and a newline to `file`, whole or not at all (a temporary file renamed over it),
/// creating its folder.
fn write_address(file: &Path, addr: SocketAddr) -> io::Result<()> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = file.file_name().ok_or_else(|| io::Error::other("not a file name"))?;
    let temporary = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    std::fs::write(&temporary, format!("{addr}\n"))?;
    std::fs::rename(&temporary, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Reads what [`serve`] wrote to an address file.
pub fn read_address(file: &Path) -> io::Result<SocketAddr> {
    let text = std::fs::read_to_string(file)?;
    text.trim().parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {:?} is not an address: {e}", file.display(), text.trim()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_address_is_reached_on_loopback() {
        assert_eq!(reachable("0.0.0.0:9600".parse().unwrap()).to_string(), "127.0.0.1:9600");
        assert_eq!(reachable("[::]:9600".parse().unwrap()).to_string(), "[::1]:9600");
        assert_eq!(reachable("10.1.2.3:9600".parse().unwrap()).to_string(), "10.1.2.3:9600");
    }

    #[test]
    fn the_address_file_is_written_whole_and_read_back() {
        let dir = std::env::temp_dir().join(format!("sj-observe-test-{}", std::process::id()));
        let file = dir.join("run/worker.addr");
        write_address(&file, "127.0.0.1:41234".parse().unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "127.0.0.1:41234\n");
        assert_eq!(read_address(&file).unwrap().to_string(), "127.0.0.1:41234");
        write_address(&file, "127.0.0.1:41235".parse().unwrap()).unwrap();
        assert_eq!(read_address(&file).unwrap().port(), 41235);
        std::fs::write(&file, "nonsense").unwrap();
        assert!(read_address(&file).unwrap_err().to_string().contains("is not an address"));
        assert_eq!(std::fs::read_dir(file.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn serves_the_three_endpoints() {
        let settings = HealthSettings::default();
        let addr = serve("sj-test", &settings, &["broker"]).await.unwrap();
        let get = |path: &'static str| async move {
            let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (status, content_type, response.text().await.unwrap())
        };
        assert_eq!(get("/healthz").await.0, 200);
        let (status, _, body) = get("/readyz").await;
        assert_eq!((status, body.as_str()), (503, "not ready: broker: starting\n"));
        super::super::readiness().ready("broker");
        assert_eq!(get("/readyz").await.0, 200);
        let (status, content_type, body) = get("/metrics").await;
        assert_eq!(status, 200);
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        assert!(body.contains("sj_build_info{program=\"sj-test\""), "{body}");
        assert!(body.contains("\nsj_ready 1\n"), "{body}");
    }
}
