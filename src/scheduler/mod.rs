//! Scheduled reports: each `[[report]]` runs on its cron schedule (Europe/
//! Oslo), writes its file atomically into its folder, is recorded in the
//! database and, with `email_to`, is mailed through `[smtp]`.
//!
//! At start-up, mails that failed before are sent again, and the runs missed
//! while telleverk was down are made up, oldest first, at most
//! [`MAX_CATCH_UP`] per report. A report telleverk has never seen before
//! makes up nothing: its schedule starts now.

pub mod mail;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::{Config, Report};
use crate::contract::dates::local_date;
use crate::gather::{ReportError, report_bytes};
use crate::report::schedule::{Period, file_name};
use crate::storage::{NewRun, Pool, Store};

/// At most this many missed runs of a report are made up at start-up.
pub const MAX_CATCH_UP: usize = 12;

/// The longest the scheduler sleeps before looking at the clock again.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    pub report: String,
    pub run_id: i64,
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub period: String,
    /// The file written, or why none was.
    pub file: Result<PathBuf, String>,
    pub mail: MailStatus,
}

/// Whether a run's file was mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailStatus {
    /// The report has no `email_to`, or no file was written.
    NotMailed,
    Sent,
    /// The send failed: the file stays and the mail is tried again at the
    /// next start.
    Failed(String),
}

/// The scheduler could not record or run a report (a report that could not
/// be written is an outcome, not this).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] crate::storage::Error),
    #[error("the report task panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
}

/// A report's file could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("cannot create {}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write in {}: {source}", path.display())]
    TempFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot rename the file to {}: {source}", path.display())]
    Rename {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs reports: shared by the schedule, `telleverk report run` and the API.
pub struct Runner {
    config: Arc<Config>,
    store: Arc<Mutex<Store>>,
    pool: Arc<Pool>,
    clock: Clock,
}

impl Runner {
    pub fn new(config: Arc<Config>, store: Arc<Mutex<Store>>, clock: Clock) -> Runner {
        Runner {
            pool: Arc::new(Pool::new(&config.storage)),
            config,
            store,
            clock,
        }
    }

    /// Runs `report` now, as asked for (not on its schedule).
    pub async fn run_now(&self, report: &Report) -> Result<RunOutcome, Error> {
        self.run(report, None).await
    }

    /// Runs `report` for `scheduled_at` (the time it was due), or now.
    async fn run(
        &self,
        report: &Report,
        scheduled_at: Option<DateTime<Utc>>,
    ) -> Result<RunOutcome, Error> {
        let ran_at = self.clock.now();
        let date = local_date(scheduled_at.unwrap_or(ran_at).into());
        let period = Period::of_run(report.kind, date);
        let config = self.config.clone();
        let spec = report.clone();
        let pool = self.pool.clone();
        let written = tokio::task::spawn_blocking(move || {
            let bytes = pool.read(|r| report_bytes(r, &config, &spec, period))?;
            let path = write_atomically(
                &spec.directory,
                &file_name(&spec.name, period, spec.format),
                &bytes,
            )?;
            Ok::<_, WriteError>((path, bytes))
        })
        .await?;
        let (file, bytes, error) = match written {
            Ok((path, bytes)) => (Some(path), Some(bytes), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
        let file_text = file.as_ref().map(|p| p.display().to_string());
        let label = period.label();
        let mail_to = if file.is_some() {
            report.email_to.as_slice()
        } else {
            &[]
        };
        let (name, period_label, written, failed, mail_to) = (
            report.name.clone(),
            label.clone(),
            file_text.clone(),
            error.clone(),
            mail_to.to_vec(),
        );
        let run_id = self
            .with_store(move |s| {
                s.record_run(&NewRun {
                    name: &name,
                    scheduled_at,
                    ran_at,
                    period: &period_label,
                    file: written.as_deref(),
                    error: failed.as_deref(),
                    mail_to: &mail_to,
                })
            })
            .await?;
        match (&file, &error) {
            (Some(path), _) => tracing::info!(
                report = %report.name, period = %label, file = %path.display(),
                scheduled = scheduled_at.is_some(), "report written"
            ),
            (None, Some(e)) => {
                tracing::error!(report = %report.name, period = %label, "report failed: {e}")
            }
            (None, None) => {}
        }
        let mail = match (&file, bytes) {
            (Some(path), Some(bytes)) if !report.email_to.is_empty() => {
                self.mail(run_id, report, path, bytes, &label).await?
            }
            _ => MailStatus::NotMailed,
        };
        Ok(RunOutcome {
            report: report.name.clone(),
            run_id,
            period: label,
            file: file.ok_or_else(|| error.unwrap_or_default()),
            mail,
        })
    }

    /// Mails a run's file and records the attempt.
    async fn mail(
        &self,
        run_id: i64,
        report: &Report,
        path: &Path,
        bytes: Vec<u8>,
        period: &str,
    ) -> Result<MailStatus, Error> {
        let result = match &self.config.smtp {
            Some(smtp) => mail::send(smtp, report, path, bytes, period).await,
            None => Err("no [smtp] table in the config".to_owned()),
        };
        let at = self.clock.now();
        let failure = result.as_ref().err().cloned();
        self.with_store(move |s| s.record_mail(run_id, at, failure.as_deref()))
            .await?;
        match &result {
            Ok(()) => {
                tracing::info!(report = %report.name, period, to = %report.email_to.join(", "), "report mailed")
            }
            Err(e) => tracing::warn!(
                report = %report.name, period, file = %path.display(),
                "mailing the report failed (the file stays; telleverk tries again at its next start): {e}"
            ),
        }
        Ok(match result {
            Ok(()) => MailStatus::Sent,
            Err(e) => MailStatus::Failed(e),
        })
    }

    /// Sends again every mail that failed before, if its file is still there
    /// and its report still mails.
    pub async fn retry_mails(&self) -> Result<Vec<RunOutcome>, Error> {
        let runs = self.with_store(|s| s.unmailed_runs()).await?;
        let mut outcomes = Vec::new();
        for run in runs {
            let Some(report) = self
                .config
                .report(&run.name)
                .filter(|r| !r.email_to.is_empty())
            else {
                continue;
            };
            let Some(file) = run.file.as_ref().map(PathBuf::from) else {
                continue;
            };
            let mail = match std::fs::read(&file) {
                Ok(bytes) => self.mail(run.id, report, &file, bytes, &run.period).await?,
                Err(e) => {
                    let message = format!("cannot read {}: {e}", file.display());
                    let at = self.clock.now();
                    let (id, text) = (run.id, message.clone());
                    self.with_store(move |s| s.record_mail(id, at, Some(&text)))
                        .await?;
                    MailStatus::Failed(message)
                }
            };
            outcomes.push(RunOutcome {
                report: run.name.clone(),
                run_id: run.id,
                period: run.period.clone(),
                file: Ok(file),
                mail,
            });
        }
        Ok(outcomes)
    }

    /// Runs on the schedule until `shutdown` turns true: first the mails to
    /// send again and the missed runs, then each run when it is due. A run
    /// in progress is finished before it stops. The database failing (busy
    /// with another process's write, say) never stops the schedule: what
    /// could not be recorded is tried again a minute later.
    pub async fn run_schedule(&self, mut shutdown: watch::Receiver<bool>) -> Result<(), Error> {
        if self.config.reports.is_empty() {
            return Ok(());
        }
        let mut cursors = loop {
            match self.start().await {
                Ok(cursors) => break cursors,
                Err(e) => {
                    tracing::warn!(
                        "the report schedule cannot start yet ({e}); trying again in {RETRY:?}"
                    );
                    if stopped_within(RETRY, &mut shutdown).await {
                        return Ok(());
                    }
                }
            }
        };
        loop {
            let now = self.clock.now();
            let mut failed = false;
            for (report, cursor) in self.config.reports.iter().zip(cursors.iter_mut()) {
                let (due, skipped) = report.schedule.due(*cursor, now, MAX_CATCH_UP);
                if skipped > 0 {
                    tracing::warn!(
                        report = %report.name, skipped,
                        "more than {MAX_CATCH_UP} runs were missed: the oldest are left out"
                    );
                }
                for at in due {
                    if *shutdown.borrow() {
                        return Ok(());
                    }
                    match self.run(report, Some(at)).await {
                        Ok(_) => *cursor = at,
                        Err(e) => {
                            tracing::error!(report = %report.name, "the run due at {at} could not be recorded ({e}); trying again in {RETRY:?}");
                            failed = true;
                            break;
                        }
                    }
                }
            }
            let next = self
                .config
                .reports
                .iter()
                .zip(&cursors)
                .filter_map(|(r, c)| r.schedule.next_after(*c))
                .min();
            let wait = next.map_or(MAX_SLEEP, |t| {
                self.clock
                    .real_duration(t - self.clock.now())
                    .min(MAX_SLEEP)
            });
            let wait = if failed { wait.min(RETRY) } else { wait };
            if stopped_within(wait, &mut shutdown).await {
                return Ok(());
            }
        }
    }

    /// Sends the failed mails again and finds where each report's schedule
    /// stands: its latest scheduled run, or when telleverk first knew it.
    async fn start(&self) -> Result<Vec<DateTime<Utc>>, Error> {
        self.retry_mails().await?;
        let now = self.clock.now();
        let mut cursors = Vec::new();
        for report in &self.config.reports {
            let name = report.name.clone();
            let since = self.with_store(move |s| s.know_report(&name, now)).await?;
            let name = report.name.clone();
            let last = self
                .with_store(move |s| s.last_scheduled_run(&name))
                .await?;
            cursors.push(last.map_or(since, |l| l.max(since)));
        }
        Ok(cursors)
    }

    /// Runs `f` on the store: short inserts and reads (it may wait for the
    /// collector to finish writing a round).
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, crate::storage::Error> + Send + 'static,
    ) -> Result<T, Error> {
        crate::storage::with_store_blocking(&self.store, f).await
    }
}

/// How long the schedule waits before it tries again what the database
/// could not record.
const RETRY: std::time::Duration = std::time::Duration::from_secs(60);

/// Waits `wait`; true when `shutdown` turned true meanwhile.
async fn stopped_within(wait: std::time::Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(wait) => false,
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

/// How old a temporary file of [`write_atomically`] must be before a later
/// write of the same file takes it for one a killed process left: no write
/// takes that long, so it is never one still being written.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files of `dir/name` that a process killed while
/// writing it left behind (older than [`STALE_TEMPORARY`]).
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(found) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in found.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !(file.starts_with(&prefix) && file.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMPORARY);
        if old {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(
                    "removed {}, left by a write cut short",
                    entry.path().display()
                ),
                Err(e) => tracing::warn!("cannot remove {}: {e}", entry.path().display()),
            }
        }
    }
}

/// Writes `bytes` to `dir/name` through a temporary file in the same folder
/// and a rename: a reader sees the old file or the whole new one.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, WriteError> {
    use std::io::Write;
    std::fs::create_dir_all(dir).map_err(|source| WriteError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let target = dir.join(name);
    remove_stale_temporaries(dir, name);
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|source| WriteError::TempFile {
            path: dir.to_path_buf(),
            source,
        })?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|source| WriteError::Write {
            path: temp.path().to_path_buf(),
            source,
        })?;
    temp.persist(&target).map_err(|e| WriteError::Rename {
        path: target.clone(),
        source: e.error,
    })?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    #[test]
    #[allow(clippy::disallowed_methods)] // file times are the system's
    fn a_write_removes_the_temporaries_a_killed_write_left_and_only_those() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".r.csv.abc123.tmp");
        let fresh = dir.path().join(".r.csv.def456.tmp");
        let other = dir.path().join(".other.csv.ghi789.tmp");
        for path in [&stale, &fresh, &other] {
            std::fs::write(path, b"part of a report").unwrap();
        }
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for path in [&stale, &other] {
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        let written = write_atomically(dir.path(), "r.csv", b"the whole report").unwrap();
        assert_eq!(std::fs::read(&written).unwrap(), b"the whole report");
        assert!(!stale.exists(), "left by a write cut short");
        assert!(fresh.exists(), "younger than an hour: may still be written");
        assert!(other.exists(), "another file's");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".other.csv.ghi789.tmp", ".r.csv.def456.tmp", "r.csv"]
        );
    }
}
