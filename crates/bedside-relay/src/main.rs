//! The `bedside-relay` binary: reads the TOML configuration, applies flags,
//! logs JSON (no PHI, no tokens, no addresses) and serves until SIGINT or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;

/// The Bedside relay: patient join page, waiting room and signaling.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (overrides `listen` in the configuration).
    #[arg(long, env = "BEDSIDE_RELAY_LISTEN")]
    listen: Option<SocketAddr>,
    /// The TOML configuration file.
    #[arg(long, env = "BEDSIDE_RELAY_CONFIG")]
    config: Option<PathBuf>,
    /// The relay's log level (error, warn, info, debug, trace); dependencies
    /// log errors only.
    #[arg(long, env = "BEDSIDE_RELAY_LOG", default_value = "info")]
    log: tracing::Level,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(bedside_relay::log_filter(args.log))
        .with_current_span(false)
        .init();
    let mut config = match &args.config {
        Some(path) => bedside_relay::Config::load(path)?,
        None => bedside_relay::Config::from_toml("")?,
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    bedside_relay::check_listen(&config)?;
    if config.clinics.is_empty() {
        tracing::warn!("no [[clinic]] configured: every invite will be refused");
    }
    let tls = config
        .tls
        .as_ref()
        .map(bedside_relay::tls_config)
        .transpose()?;
    let state = bedside_relay::AppState::new(&config, Arc::new(bedside_relay::SystemClock))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        tracing::info!(
            listen = %config.listen,
            tls = tls.is_some(),
            clinics = config.clinics.len(),
            "relay listening"
        );
        match tls {
            Some(tls) => bedside_relay::serve_tls(listener, state, tls, shutdown_signal()).await?,
            None => bedside_relay::serve(listener, state, shutdown_signal()).await?,
        }
        tracing::info!("relay stopped");
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
