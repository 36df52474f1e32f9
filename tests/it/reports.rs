//! Scheduled reports: `telleverk report run`, the schedule of the running
//! service (a first start makes up nothing, missed runs are made up, at most
//! 12, oldest first, a run when it is due), and mail to a real SMTP sink
//! (aiosmtpd on 127.0.0.1), retried at the next start when it failed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Europe::Oslo;
use serde_json::Value;

use telleverk::storage::{Reader, ReportRun};

use super::api::App;
use super::cli::{Workdir, text};

/// A free TCP port on 127.0.0.1 (nothing listens on it when this returns).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The venv's Python, which has aiosmtpd (`tests/run.sh` installs it).
pub fn python() -> PathBuf {
    let path = std::env::var_os("TELLEVERK_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/venv/bin/python")
        });
    assert!(
        path.is_file(),
        "the test venv's python is missing ({}); run the tests with `bash tests/run.sh`",
        path.display()
    );
    path
}

/// `tests/smtp/sink.py` on a port: every mail it takes becomes a folder.
pub struct SmtpSink {
    child: Child,
    _stdin: ChildStdin,
    out: PathBuf,
}

/// A mail the sink took: its envelope facts and its folder of attachments.
pub struct Mail {
    pub envelope: Value,
    pub dir: PathBuf,
}

impl SmtpSink {
    pub fn start(port: u16, out: PathBuf) -> SmtpSink {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/sink.py");
        let mut child = Command::new(python())
            .arg(&script)
            .arg(port.to_string())
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        SmtpSink {
            child,
            _stdin: stdin,
            out,
        }
    }

    /// The mails taken so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut mails: Vec<(usize, Mail)> = std::fs::read_dir(&self.out)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let n: usize = name.strip_prefix("mail-")?.parse().ok()?;
                        let text = std::fs::read_to_string(e.path().join("envelope.json")).ok()?;
                        Some((
                            n,
                            Mail {
                                envelope: serde_json::from_str(&text).unwrap(),
                                dir: e.path(),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        mails.sort_by_key(|(n, _)| *n);
        mails.into_iter().map(|(_, m)| m).collect()
    }

    /// Waits until `count` mails have come.
    pub fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} mails came",
                mails.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config: the API test head, `[smtp]` on `smtp_port` (no TLS), a device
/// read by hand, and the given `[[report]]` blocks.
pub(super) fn config(work: &Workdir, smtp_port: Option<u16>, reports: &str) -> PathBuf {
    let smtp = smtp_port
        .map(|port| {
            format!(
                "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
                 from = \"Telleverk <telleverk@example.com>\"\n\n"
            )
        })
        .unwrap_or_default();
    work.config_with(
        &App::head(),
        &format!(
            "{smtp}[[device]]\nserial = \"HANDREAD0001\"\nlocation = \"Bergen\"\n\n\
             [[contract]]\nid = \"K1\"\ndevices = [\"HANDREAD0001\"]\nstart = \"2025-01-01\"\n\
             term_months = 60\nbilling = \"advance\"\ncommitted_bw = 60000\n\
             fixed_fee_monthly = \"200.00\"\n\n[[contract.price]]\nfrom = \"2025-01-01\"\n\
             bw = \"0.0450\"\ncolour = \"0.4500\"\n\n{reports}"
        ),
    )
}

/// Imports two readings of the hand-read device.
pub(super) fn seed(work: &Workdir) {
    let csv = work.path().join("readings.csv");
    std::fs::write(
        &csv,
        "serial;taken_at;meter;value;source\n\
         HANDREAD0001;2025-01-01;bw_total;1000;start\n\
         HANDREAD0001;2026-06-01;bw_total;9000;vendor\n",
    )
    .unwrap();
    let out = work.run(&[
        "import-readings",
        "--config",
        "telleverk.toml",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// The files in `dir`, sorted.
pub(super) fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub(super) fn runs(work: &Workdir, name: &str) -> Vec<ReportRun> {
    let mut runs = Reader::open(work.database())
        .unwrap()
        .report_runs(Some(name), 100)
        .unwrap();
    runs.reverse();
    runs
}

/// A time in Oslo.
fn oslo(text: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_local_timezone(Oslo)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

const VENDOR_REPORT: &str = "[[report]]\nname = \"vendor\"\nschedule = \"0 6 * * *\"\n\
    kind = \"vendor-billing\"\nformat = \"csv\"\ndirectory = \"out\"\n\
    email_to = [\"facilities@example.com\", \"Regnskap <billing@example.com>\"]\n";

#[test]
fn report_run_writes_the_file_and_mails_it() {
    let work = Workdir::new();
    let port = free_port();
    let sink = SmtpSink::start(port, work.path().join("mail"));
    config(&work, Some(port), VENDOR_REPORT);
    seed(&work);

    let out = work.run(&["report", "run", "--config", "telleverk.toml", "vendor"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = files(&work.path().join("out"));
    assert_eq!(
        written.len(),
        1,
        "one file and no temporary one: {written:?}"
    );
    let name = &written[0];
    let date = name
        .strip_prefix("vendor_")
        .and_then(|n| n.strip_suffix(".csv"))
        .unwrap_or_else(|| panic!("{name} is vendor_DATE.csv"));
    assert!(
        telleverk::import::parse_date(date).is_ok(),
        "{name}: {date}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(name.as_str()),
        "{}",
        text(&out)
    );
    let bytes = std::fs::read(work.path().join("out").join(name)).unwrap();
    let csv = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        csv.starts_with("\u{feff}serial;model;contract;meter;reading_date;value;source;method\r\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("HANDREAD0001;;K1;bw_total;{date};")),
        "{csv}"
    );

    let mails = sink.wait_for(1);
    let mail = &mails[0];
    assert_eq!(mail.envelope["from"], "telleverk@example.com");
    assert_eq!(
        mail.envelope["to"],
        serde_json::json!(["facilities@example.com", "billing@example.com"])
    );
    assert_eq!(
        mail.envelope["subject"],
        format!("telleverk: vendor {date}")
    );
    assert_eq!(mail.envelope["attachments"][0]["name"], name.as_str());
    assert_eq!(mail.envelope["attachments"][0]["content_type"], "text/csv");
    assert_eq!(
        std::fs::read(mail.dir.join(name)).unwrap(),
        bytes,
        "the attachment is the file, byte for byte"
    );

    // The run and its mail are recorded.
    let runs = runs(&work, "vendor");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].scheduled_at, None, "asked for, not scheduled");
    assert_eq!(runs[0].period, date);
    assert!(runs[0].mailed_at.is_some() && runs[0].mail_error.is_none());

    // An unknown report is an input error that names the known ones.
    let out = work.run(&["report", "run", "--config", "telleverk.toml", "weekly"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no [[report]] named `weekly`"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("known: vendor"), "{}", text(&out));
}

#[test]
fn a_failed_mail_keeps_the_file_and_is_sent_at_the_next_start() {
    let work = Workdir::new();
    let port = free_port();
    let path = config(&work, Some(port), VENDOR_REPORT);
    seed(&work);

    // Nothing listens on the port: the file is written, the mail fails.
    let out = work.run(&["report", "run", "--config", "telleverk.toml", "vendor"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("the file is written, but mailing it failed"),
        "{}",
        text(&out)
    );
    let written = files(&work.path().join("out"));
    assert_eq!(written.len(), 1, "{written:?}");
    let before = runs(&work, "vendor");
    assert!(before[0].mailed_at.is_none());
    assert!(
        before[0]
            .mail_error
            .as_deref()
            .unwrap_or("")
            .contains("127.0.0.1"),
        "{:?}",
        before[0]
    );

    // The sink comes up; the service sends the mail when it starts.
    let sink = SmtpSink::start(port, work.path().join("mail"));
    let app = App::start(&path, Utc::now(), 1);
    let mails = sink.wait_for(1);
    assert_eq!(
        std::fs::read(mails[0].dir.join(&written[0])).unwrap(),
        std::fs::read(work.path().join("out").join(&written[0])).unwrap()
    );
    app.stop().expect("clean shutdown");
    let after = runs(&work, "vendor");
    assert_eq!(after.len(), 1, "the run is not repeated, only its mail");
    assert!(after[0].mailed_at.is_some() && after[0].mail_error.is_none());
    assert_eq!(sink.mails().len(), 1, "sent once");
}

/// Waits until the report `name` has `count` runs.
fn wait_for_runs(work: &Workdir, name: &str, count: usize) -> Vec<ReportRun> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = Reader::open(work.database())
            .ok()
            .and_then(|r| r.report_runs(Some(name), 100).ok())
            .unwrap_or_default();
        if found.len() >= count {
            return runs(work, name);
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} runs of {name}",
            found.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_schedule_makes_up_missed_runs_and_runs_when_due() {
    let work = Workdir::new();
    let path = config(
        &work,
        None,
        "[[report]]\nname = \"daily\"\nschedule = \"0 6 * * *\"\nkind = \"vendor-billing\"\n\
         directory = \"out\"\n",
    );
    seed(&work);
    let out = work.path().join("out");

    // A first start makes up nothing: the schedule starts now.
    let app = App::start(&path, oslo("2026-06-01 10:00:00"), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Reader::open(work.database())
        .ok()
        .and_then(|r| r.report_since("daily").ok().flatten())
        .is_none()
    {
        assert!(Instant::now() < deadline, "the schedule was not recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    app.stop().expect("clean shutdown");
    assert!(runs(&work, "daily").is_empty());
    assert!(files(&out).is_empty());

    // Three days later: the three runs missed are made up, oldest first.
    let app = App::start(&path, oslo("2026-06-04 10:00:00"), 1);
    let made_up = wait_for_runs(&work, "daily", 3);
    app.stop().expect("clean shutdown");
    let due: Vec<Option<DateTime<Utc>>> = made_up.iter().map(|r| r.scheduled_at).collect();
    assert_eq!(
        due,
        [
            Some(oslo("2026-06-02 06:00:00")),
            Some(oslo("2026-06-03 06:00:00")),
            Some(oslo("2026-06-04 06:00:00"))
        ]
    );
    assert_eq!(
        files(&out),
        [
            "daily_2026-06-02.csv",
            "daily_2026-06-03.csv",
            "daily_2026-06-04.csv"
        ]
    );

    // Twenty missed: the latest twelve are made up; then, two seconds after
    // the start, today's run comes when it is due.
    let app = App::start(&path, oslo("2026-06-25 05:59:58"), 1);
    let all = wait_for_runs(&work, "daily", 3 + 12 + 1);
    app.stop().expect("clean shutdown");
    let days: Vec<String> = all[3..].iter().map(|r| r.period.clone()).collect();
    let expected: Vec<String> = (13..=25).map(|d| format!("2026-06-{d:02}")).collect();
    assert_eq!(
        days, expected,
        "the latest twelve, oldest first, then today's"
    );
    assert!(
        all.windows(2)
            .all(|w| w[0].scheduled_at < w[1].scheduled_at)
    );
    assert_eq!(files(&out).len(), 3 + 13);
    assert!(!files(&out).contains(&"daily_2026-06-12.csv".to_owned()));
}

#[test]
fn a_report_that_cannot_be_written_is_an_error_that_names_the_folder() {
    let work = Workdir::new();
    // The folder is a file: nothing can be written there.
    std::fs::write(work.path().join("blocked"), "a file, not a folder").unwrap();
    config(
        &work,
        None,
        "[[report]]\nname = \"counters\"\nschedule = \"0 6 1 * *\"\nkind = \"counters\"\n\
         directory = \"blocked\"\n",
    );
    let out = work.run(&["report", "run", "--config", "telleverk.toml", "counters"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("report `counters`"), "{}", text(&out));
    assert!(text(&out).contains("blocked"), "{}", text(&out));
    let runs = runs(&work, "counters");
    assert_eq!(runs.len(), 1, "the failed run is recorded");
    assert!(runs[0].file.is_none());
    assert!(
        runs[0].error.as_deref().unwrap_or("").contains("blocked"),
        "{:?}",
        runs[0]
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("blocked")).unwrap(),
        "a file, not a folder",
        "nothing there was changed"
    );
}
