//! The `telleverk` command: parse the command line, load the config, start
//! tracing, hand over to `app`. Exit codes: 0 ran (device failures included),
//! 2 usage, config or input error, 1 runtime failure.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use telleverk::app::{self, InputError};
use telleverk::config::{self, ConfigError};

#[derive(Parser)]
#[command(
    name = "telleverk",
    version,
    about = "Polls Konica Minolta MFPs over SNMP and keeps every meter reading"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll every configured device once, store the readings and print a summary.
    Poll {
        /// Poll one round and exit (the only mode; `serve` polls on schedule).
        #[arg(long, required = true)]
        once: bool,
        #[arg(long)]
        config: PathBuf,
        /// One JSON object per device entry and line.
        #[arg(long)]
        json: bool,
    },
    /// Poll every `interval` until SIGINT or SIGTERM.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Show a device's stored readings.
    Readings {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        serial: String,
        /// Only readings at or after this instant (RFC 3339).
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// Only readings at or before this instant (RFC 3339).
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,async_snmp=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.is::<ConfigError>() || e.is::<InputError>() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Poll { config, json, .. } => {
            let config = config::load(&config)?;
            runtime.block_on(app::poll_once(config, json, &mut stdout))
        }
        Command::Serve { config } => {
            let config = config::load(&config)?;
            runtime.block_on(async {
                let (tx, rx) = watch::channel(false);
                tokio::spawn(async move {
                    wait_for_signal().await;
                    tracing::info!("signal received: finishing the round in flight");
                    let _ = tx.send(true);
                });
                app::serve(config, rx).await
            })
        }
        Command::Readings {
            config,
            serial,
            from,
            to,
            json,
        } => {
            let config = config::load(&config)?;
            app::readings(&config, &serial, from, to, json, &mut stdout)
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
