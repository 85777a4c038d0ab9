//! `sjctl probe`: asks a process's health endpoint (docs/operations.md, "Health and metrics"), for
//! a container's `HEALTHCHECK` and for scripts. Exit 0 when it answers 200; 1 otherwise, with the
//! reason (the endpoint's own, such as `not ready: broker: …`) on stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sj_shared::config::Settings;

#[derive(clap::Args)]
pub struct Args {
    /// The file where the process wrote its address (`health.address_file`). Default: the
    /// setting (SJ_HEALTH__ADDRESS_FILE).
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    address_file: Option<PathBuf>,

    /// The endpoint's base URL instead (`http://127.0.0.1:9600`).
    #[arg(long)]
    url: Option<String>,

    /// The path to ask: /readyz (ready), /healthz (alive) or /metrics.
    #[arg(long, default_value = "/readyz")]
    path: String,

    /// How long to wait for the answer.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,

    /// Print the answer's body on stdout (the metrics, for `--path /metrics`).
    #[arg(long)]
    print: bool,
}

pub fn run(settings: &Settings, args: &Args) -> ExitCode {
    match probe(settings, args) {
        Ok(body) => {
            if args.print {
                print!("{body}");
            }
            ExitCode::SUCCESS
        }
        Err(reason) => {
            eprintln!("sjctl probe: {reason}");
            ExitCode::from(1)
        }
    }
}

fn probe(settings: &Settings, args: &Args) -> Result<String, String> {
    let base = match (&args.url, &args.address_file) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, file) => {
            let file = file.as_ref().or(settings.health.address_file.as_ref()).ok_or(
                "no address: give --url or --address-file, or set health.address_file (SJ_HEALTH__ADDRESS_FILE)",
            )?;
            let addr = sj_shared::observe::read_address(file).map_err(|e| {
                format!("cannot read the address from {}: {e} (is the process started?)", file.display())
            })?;
            format!("http://{addr}")
        }
    };
    let path = if args.path.starts_with('/') { args.path.clone() } else { format!("/{}", args.path) };
    let url = format!("{base}{path}");
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(args.timeout).build().map_err(|e| e.to_string())?;
        let response = client.get(&url).send().await.map_err(|e| format!("{url}: {}", cause(&e)))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.as_u16() == 200 {
            Ok(body)
        } else {
            let reason = body.trim();
            Err(format!(
                "{url} answered {status}{}",
                if reason.is_empty() { String::new() } else { format!(": {reason}") }
            ))
        }
    })
}

/// The innermost cause of a request error ("Connection refused"), which says what went wrong.
fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    if e.is_timeout() {
        "no answer in time".to_owned()
    } else {
        source.to_string()
    }
}
