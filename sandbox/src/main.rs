//! `sj-sandbox`: run the local stand-ins for Jobber, SaberisConnect and Google Sheets.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use sj_sandbox::Config;

/// Local stand-ins for Jobber (GraphQL + OAuth + webhooks), SaberisConnect and Google Sheets v4,
/// with fault injection. Serves everything on one port of 127.0.0.1.
///
/// Settings come from defaults, then --config FILE (TOML), then SJ_SANDBOX_* environment
/// variables (nested keys with "__", e.g. SJ_SANDBOX_OAUTH__CLIENT_SECRET), then the flags.
/// See sandbox/README.md for every key.
#[derive(Parser)]
#[command(name = "sj-sandbox", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default). Prints `sj-sandbox listening on http://127.0.0.1:PORT` as its first
    /// line on stdout.
    Serve(ServeArgs),
    /// Print a new access token and refresh token for the default account, as the JSON of Jobber's
    /// token response (plus grant_id), obtained from a running sandbox's admin API.
    Token {
        /// Base URL of the running sandbox (the address `serve` printed).
        #[arg(long, env = "SJ_SANDBOX_URL")]
        url: String,
        /// Account id (default 1, the default account).
        #[arg(long)]
        account: Option<u64>,
    },
}

#[derive(clap::Args, Clone, Default)]
struct ServeArgs {
    /// Port on 127.0.0.1; 0 picks a free one. [default: 0]
    #[arg(long, global = true)]
    port: Option<u16>,
    /// Address to listen on [default: 127.0.0.1]; 0.0.0.0 inside a container.
    #[arg(long, global = true, value_name = "IP")]
    bind: Option<std::net::IpAddr>,
    /// TOML settings file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep all data (clients, quotes, tokens, documents, sheets) in this JSON file between runs.
    #[arg(long, global = true, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Load Saberis documents (*.json in SaberisConnect's JSON form, *.xml) from this folder.
    #[arg(long, global = true, value_name = "DIR")]
    saberis_docs: Option<PathBuf>,
}

fn load_config(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &args.config {
        if !path.exists() {
            bail!("config file {} does not exist", path.display());
        }
        figment = figment.merge(Toml::file(path));
    }
    let mut config: Config = figment
        .merge(Env::prefixed("SJ_SANDBOX_").split("__").ignore(&["url"]))
        .extract()
        .context("invalid sj-sandbox settings")?;
    if let Some(bind) = args.bind {
        config.bind = Some(bind);
    }
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(state) = &args.state {
        config.state_file = Some(state.clone());
    }
    if let Some(dir) = &args.saberis_docs {
        config.saberis.docs_dir = Some(dir.clone());
    }
    Ok(config)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let sandbox = sj_sandbox::spawn(config).await?;
    // Scripts read the address from this first line.
    println!("sj-sandbox listening on {}", sandbox.base_url());
    shutdown_signal().await?;
    tracing::info!("shutting down");
    sandbox.shutdown().await;
    Ok(())
}

/// Resolves on SIGTERM (what Docker, Kubernetes and systemd send; as a container's PID 1 the
/// process would otherwise ignore it) or SIGINT (Ctrl-C).
async fn shutdown_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => Ok(()),
        result = tokio::signal::ctrl_c() => result,
    }
}

async fn token(url: &str, account: Option<u64>) -> anyhow::Result<()> {
    let mut endpoint = format!("{}/_admin/oauth/grants", url.trim_end_matches('/'));
    if let Some(account) = account {
        endpoint.push_str(&format!("?account={account}"));
    }
    let response = reqwest::Client::new()
        .post(&endpoint)
        .send()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))?;
    if !response.status().is_success() {
        bail!("{endpoint} answered {}", response.status());
    }
    println!("{}", response.text().await?);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => {
            // Flags may come before or after `serve`.
            let merged = ServeArgs {
                port: args.port.or(cli.serve.port),
                bind: args.bind.or(cli.serve.bind),
                config: args.config.or(cli.serve.config),
                state: args.state.or(cli.serve.state),
                saberis_docs: args.saberis_docs.or(cli.serve.saberis_docs),
            };
            serve(merged).await
        }
        Some(Command::Token { url, account }) => token(&url, account).await,
    }
}
