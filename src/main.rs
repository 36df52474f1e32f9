//! The `telleverk` command: parse the command line, load the config, start
//! tracing, hand over to `app`. Exit codes: 0 ran (device failures included),
//! 2 usage, config or input error, 1 runtime failure.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use telleverk::app;
use telleverk::config;
use telleverk::database::Database;

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
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        /// One JSON object per device entry and line.
        #[arg(long)]
        json: bool,
    },
    /// Poll every `interval` and serve the web API until SIGINT or SIGTERM.
    Serve {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
    },
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Scheduled reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Serve a simulated bizhub fleet over SNMP on one UDP port until stopped.
    Simulate(app::Simulate),
    /// Find the printers in address ranges with the `[discovery]` credentials.
    Discover(app::Discover),
    /// Poll a simulated fleet on fast simulated time into a demo database, printing each round.
    Demo {
        #[arg(long, default_value_t = 20)]
        devices: usize,
        /// The demo's own database (never a production one).
        #[arg(long, default_value = "telleverk-demo.db")]
        db: PathBuf,
        /// On a new database, first poll this many weeks of history (three
        /// rounds a working day, on a clock set to each): months of toner and
        /// uptime in seconds. 0: none.
        #[arg(long, default_value_t = 13)]
        history_weeks: u32,
    },
    /// Check a configuration file without polling or writing anything:
    /// exit 0 and a summary when it is valid, 2 and the error when not.
    CheckConfig {
        /// The configuration file to check.
        file: PathBuf,
    },
    /// Show a device's stored readings.
    Readings {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        serial: String,
        /// Only readings at or after this time: YYYY-MM-DD (00:00 Oslo),
        /// YYYY-MM-DD HH:MM (Oslo) or RFC 3339 with an offset, as in the API.
        #[arg(long, value_parser = telleverk::import::parse_taken_at)]
        from: Option<DateTime<Utc>>,
        /// Only readings at or before this time (the same forms as --from).
        #[arg(long, value_parser = telleverk::import::parse_taken_at)]
        to: Option<DateTime<Utc>>,
        /// One JSON object per reading and line.
        #[arg(long)]
        json: bool,
    },
    /// Import manual, vendor or technician readings from a CSV file
    /// (`serial,taken_at,meter,value[,source]`); all or nothing.
    ImportReadings {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        /// The CSV file (`,` or `;` delimited, UTF-8).
        file: PathBuf,
        /// Store values that break the device's polled series all the same
        /// (below a value polled before, above one polled after).
        #[arg(long)]
        accept_implausible: bool,
    },
    /// Withdraw a reading a person entered (nothing is deleted): billing
    /// ignores it from then on, and the right value can be entered.
    WithdrawReading {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        serial: String,
        /// The meter, e.g. bw_total.
        #[arg(long)]
        meter: String,
        /// When it was taken: RFC 3339, YYYY-MM-DD or YYYY-MM-DD HH:MM (Oslo).
        #[arg(long)]
        at: String,
        /// manual, vendor, final or start.
        #[arg(long, default_value = "manual")]
        source: String,
        /// Why: kept with the withdrawal.
        #[arg(long)]
        reason: String,
    },
    /// Every invoice of a contract issued up to and including a date.
    Invoices {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        contract: String,
        /// A date (YYYY-MM-DD), meaning 00:00 Europe/Oslo.
        #[arg(long)]
        until: NaiveDate,
        /// Write JSON (the same shapes as the web API) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A contract's standing on a date: periods against the commitment (15 % rule),
    /// projections, notice deadline, estimates, gaps and counter events.
    Reconcile {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        contract: String,
        /// A date (YYYY-MM-DD), meaning 00:00 Europe/Oslo.
        #[arg(long)]
        at: NaiveDate,
        /// Write JSON (the same shapes as the web API) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Uptime on working days (Monday–Friday 08:00–16:00 Oslo, no public
    /// holidays) per device and month, from the polls: §4.7 of the contract.
    Uptime {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        /// The devices of this contract (default: every device polled).
        #[arg(long, conflicts_with = "serial")]
        contract: Option<String>,
        /// One device.
        #[arg(long)]
        serial: Option<String>,
        /// How many whole months before this one.
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=60))]
        months: u32,
        /// Write JSON (the same shape as the web API) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Every device's supplies and when each is forecast to run out (a line
    /// through its levels against working time, with an 80 % interval).
    Supplies {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        /// One device.
        #[arg(long)]
        serial: Option<String>,
        /// Write JSON (the same shape as the web API) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check the vendor's invoice (CSV) against the contract's own invoices:
    /// line by line what agrees, what not, the difference in pages and
    /// NOK, and our readings as evidence. The check is kept in the database.
    CheckInvoice {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        contract: String,
        /// The vendor's invoice file: `;` or `,`, decimal comma or point.
        file: PathBuf,
        /// Write JSON (the same shape as the web API) instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the disputes as CSV (`;`, decimal comma) to this file,
        /// for mailing the vendor.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Run a `[[report]]` now: write its file (and mail it) as its schedule would today.
    Run {
        /// The configuration file (TOML; config/telleverk.toml is the commented example).
        #[arg(long)]
        config: PathBuf,
        /// The report's `name`.
        name: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new random API token once, and the `[[http.token]]` block
    /// (with only its hash) to paste into the config.
    New {
        #[arg(long)]
        name: String,
        /// viewer, operator, admin or collector (a site's, with --site).
        #[arg(long)]
        role: String,
        /// The site a collector token forwards for.
        #[arg(long)]
        site: Option<String>,
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
        // Colours only on a terminal: a log written to a file or the journal
        // stays plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", app::error_text(&e));
            if app::is_input_error(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // A poll round is many small tasks that each wait on the network: on one
    // thread they cost about a quarter less CPU than spread over worker
    // threads that wake and steal from each other (benches/README.md
    // "poll_cpu"). Storing the round still runs on a blocking thread.
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Poll { config, json, .. } => {
            let config = config::load(&config)?;
            // PostgreSQL's blocking client blocks in place of a worker of a
            // multi-thread runtime; under a current-thread one each of its
            // calls would need a thread of its own (storage::db::blocking).
            // One worker is enough.
            let runtime = match config.storage {
                Database::File(_) => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
                Database::Server(_) => tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()?,
            };
            runtime.block_on(app::poll_once(config, json, &mut stdout))
        }
        Command::Serve { config } => {
            let config = config::load(&config)?;
            runtime()?.block_on(async { app::serve(config, stop_on_signal()).await })
        }
        Command::CheckConfig { file } => {
            let config = config::load(&file)?;
            app::check_config(&config, &mut stdout)
        }
        Command::Token(TokenCommand::New { name, role, site }) => {
            app::token_new(&name, &role, site.as_deref(), &mut stdout)
        }
        Command::Report(ReportCommand::Run { config, name }) => {
            let config = config::load(&config)?;
            runtime()?.block_on(app::report_run(config, &name, &mut stdout))
        }
        Command::Discover(args) => {
            let config = config::load(&args.config)?;
            runtime()?.block_on(app::discover(config, args, &mut stdout))
        }
        Command::Simulate(args) => {
            runtime()?.block_on(async { app::simulate(args, stop_on_signal(), &mut stdout).await })
        }
        Command::Demo {
            devices,
            db,
            history_weeks,
        } => runtime()?.block_on(async {
            app::demo(devices, &db, history_weeks, stop_on_signal(), &mut stdout).await
        }),
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
        Command::ImportReadings {
            config,
            file,
            accept_implausible,
        } => {
            let config = config::load(&config)?;
            app::import_readings(&config, &file, accept_implausible, &mut stdout)
        }
        Command::WithdrawReading {
            config,
            serial,
            meter,
            at,
            source,
            reason,
        } => {
            let config = config::load(&config)?;
            let key = app::ReadingKey {
                serial: &serial,
                meter: &meter,
                at: &at,
                source: &source,
            };
            app::withdraw_reading(&config, &key, &reason, &mut stdout)
        }
        Command::Invoices {
            config,
            contract,
            until,
            json,
        } => {
            let config = config::load(&config)?;
            app::invoices(&config, &contract, until, json, &mut stdout)
        }
        Command::Reconcile {
            config,
            contract,
            at,
            json,
        } => {
            let config = config::load(&config)?;
            app::reconcile(&config, &contract, at, json, &mut stdout)
        }
        Command::Uptime {
            config,
            contract,
            serial,
            months,
            json,
        } => {
            let config = config::load(&config)?;
            app::uptime(
                &config,
                contract.as_deref(),
                serial.as_deref(),
                months,
                json,
                &mut stdout,
            )
        }
        Command::Supplies {
            config,
            serial,
            json,
        } => {
            let config = config::load(&config)?;
            app::supplies(&config, serial.as_deref(), json, &mut stdout)
        }
        Command::CheckInvoice {
            config,
            contract,
            file,
            json,
            csv,
        } => {
            let config = config::load(&config)?;
            app::check_invoice(&config, &contract, &file, json, csv.as_deref(), &mut stdout)
        }
    }
}

/// A shutdown signal that turns true on SIGINT or SIGTERM.
fn stop_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received: stopping");
        let _ = tx.send(true);
    });
    rx
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
