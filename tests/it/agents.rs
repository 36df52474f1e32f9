//! Real SNMP agents on 127.0.0.1 for the integration tests.
//!
//! - [`snmpsim()`]: one snmpsim (PyPI) per test binary, replaying every
//!   `tests/data/*.snmprec` recording. Community `NAME` (v1/v2c) or v3 context
//!   `NAME` serves `NAME.snmprec`; the empty v3 context serves `self.snmprec`.
//!   Its v3 users are [`test_users()`].
//! - [`Snmpd`]: one Debian net-snmp `snmpd` per test. It answers the system group
//!   itself; the Printer-MIB, hrDevice and Konica Minolta subtrees come from a
//!   values file in snmprec format, served by `tests/data/live_values.py`, which
//!   [`Snmpd::set_values`] rewrites between two polls.
//! - [`GarbageAgent`]: a UDP socket answering every datagram with malformed bytes.
//!
//! Agents run under a small `sh` supervisor that kills them as soon as its stdin
//! pipe closes, which happens when the agent is dropped or the test process ends,
//! however it ends: no agent outlives `cargo test`. A missing program fails the
//! test with the reason; tests never skip. `bash tests/run.sh` installs everything.
#![allow(dead_code)] // each test uses only some of these helpers

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long an agent may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The interpreter of `tests/data/live_values.py` (Debian's, as for snmpsim's venv).
const PYTHON: &str = "/usr/bin/python3";

/// The subtrees [`Snmpd`] serves from its values file.
const LIVE_SUBTREES: [&str; 3] = [".1.3.6.1.2.1.43", ".1.3.6.1.2.1.25.3", ".1.3.6.1.4.1.18334"];

/// snmpd's host-resources modules that would shadow `.1.3.6.1.2.1.25.3` (hrDevice,
/// hrPrinter, …) with the test machine's own devices; `-I -a,b` disables a and b.
const SNMPD_DISABLED_MODULES: &str =
    "-hr_device,hr_print,hr_proc,hr_network,hr_disk,hr_partition,hrh_filesys,hr_other";

/// Runs `"$@"` and kills it (SIGTERM, then waits) when this shell's stdin reaches
/// end of file; exits with the program's status if the program ends first. An
/// asynchronous command's stdin is /dev/null, so the pipe is read through fd 3.
const SUPERVISOR: &str = r#"exec 3<&0
"$@" 3<&- &
child=$!
{ cat <&3 >/dev/null; kill "$child" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$child"
status=$?
kill "$watcher" 2>/dev/null
[ -z "$TELLEVERK_CLEANUP_DIR" ] || rm -rf "$TELLEVERK_CLEANUP_DIR"
exit "$status"
"#;

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|socket| socket.local_addr())
        .expect("bind a UDP socket on 127.0.0.1")
        .port()
}

/// `tests/data` of this crate.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The text of `tests/data/NAME.snmprec`.
pub fn recording(name: &str) -> String {
    let path = data_dir().join(format!("{name}.snmprec"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs a net-snmp command-line tool (`snmpget`, `snmpwalk`, …) with numeric
/// output, panics unless it succeeds, and returns its standard output.
pub fn net_snmp(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(["-On", "-t", "2", "-r", "1"])
        .args(args)
        .env("MIBS", "")
        .output()
        .unwrap_or_else(|e| panic!("run {tool} (run `bash tests/run.sh` to install it): {e}"));
    assert!(
        output.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether an SNMP agent on 127.0.0.1:`port` answers an SNMPv3 engine-discovery
/// request within `timeout` (any agent does, whatever its communities and users).
pub fn answers_snmp(port: u16, timeout: Duration) -> bool {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a probe socket");
    socket
        .connect((Ipv4Addr::LOCALHOST, port))
        .expect("connect the probe socket");
    socket
        .set_read_timeout(Some(timeout))
        .expect("set a read timeout");
    static MSG_ID: AtomicU32 = AtomicU32::new(1);
    let msg_id = MSG_ID.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 2048];
    // An ICMP "port unreachable" makes `recv` fail at once.
    socket.send(&discovery_probe(msg_id)).is_ok() && socket.recv(&mut buf).is_ok()
}

// ---------------------------------------------------------------------------
// SNMPv3 users
// ---------------------------------------------------------------------------

/// A USM authentication protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthProto {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl AuthProto {
    /// The spelling of net-snmp (`snmpd.conf`, `snmpget -a`).
    pub fn net_snmp(self) -> &'static str {
        match self {
            AuthProto::Md5 => "MD5",
            AuthProto::Sha1 => "SHA",
            AuthProto::Sha224 => "SHA-224",
            AuthProto::Sha256 => "SHA-256",
            AuthProto::Sha384 => "SHA-384",
            AuthProto::Sha512 => "SHA-512",
        }
    }

    fn snmpsim(self) -> &'static str {
        match self {
            AuthProto::Md5 => "MD5",
            AuthProto::Sha1 => "SHA",
            AuthProto::Sha224 => "SHA224",
            AuthProto::Sha256 => "SHA256",
            AuthProto::Sha384 => "SHA384",
            AuthProto::Sha512 => "SHA512",
        }
    }
}

/// A USM privacy protocol. AES-192/256 use the Blumenthal key extension (as
/// net-snmp does, and snmpsim's `AES192BLMT`/`AES256BLMT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivProto {
    Des,
    Aes128,
    Aes192,
    Aes256,
}

impl PrivProto {
    /// The spelling of net-snmp (`snmpd.conf`, `snmpget -x`).
    pub fn net_snmp(self) -> &'static str {
        match self {
            PrivProto::Des => "DES",
            PrivProto::Aes128 => "AES",
            PrivProto::Aes192 => "AES-192",
            PrivProto::Aes256 => "AES-256",
        }
    }

    fn snmpsim(self) -> &'static str {
        match self {
            PrivProto::Des => "DES",
            PrivProto::Aes128 => "AES",
            PrivProto::Aes192 => "AES192BLMT",
            PrivProto::Aes256 => "AES256BLMT",
        }
    }
}

/// An SNMPv3 USM user: authNoPriv when `priv_proto` is `None`, else authPriv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3User {
    pub name: String,
    pub auth_proto: AuthProto,
    pub auth_pass: String,
    pub priv_proto: Option<PrivProto>,
    pub priv_pass: String,
}

impl V3User {
    /// An authPriv user.
    pub fn auth_priv(
        name: &str,
        (auth_proto, auth_pass): (AuthProto, &str),
        (priv_proto, priv_pass): (PrivProto, &str),
    ) -> V3User {
        V3User {
            priv_proto: Some(priv_proto),
            priv_pass: priv_pass.to_owned(),
            ..V3User::auth_no_priv(name, auth_proto, auth_pass)
        }
    }

    /// An authNoPriv user.
    pub fn auth_no_priv(name: &str, auth_proto: AuthProto, auth_pass: &str) -> V3User {
        V3User {
            name: name.to_owned(),
            auth_proto,
            auth_pass: auth_pass.to_owned(),
            priv_proto: None,
            priv_pass: String::new(),
        }
    }

    /// The security arguments of net-snmp's tools for this user, e.g.
    /// `-v3 -l authPriv -u NAME -a SHA-256 -A PASS -x AES -X PASS`.
    pub fn net_snmp_args(&self) -> Vec<String> {
        let level = if self.priv_proto.is_some() {
            "authPriv"
        } else {
            "authNoPriv"
        };
        let mut args = ["-v3", "-l", level, "-u", self.name.as_str(), "-a"]
            .map(String::from)
            .to_vec();
        args.extend([
            self.auth_proto.net_snmp().to_owned(),
            "-A".into(),
            self.auth_pass.clone(),
        ]);
        if let Some(proto) = self.priv_proto {
            args.extend([
                "-x".into(),
                proto.net_snmp().to_owned(),
                "-X".into(),
                self.priv_pass.clone(),
            ]);
        }
        args
    }

    fn snmpsim_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--v3-user={}", self.name),
            format!("--v3-auth-key={}", self.auth_pass),
            format!("--v3-auth-proto={}", self.auth_proto.snmpsim()),
        ];
        if let Some(proto) = self.priv_proto {
            args.push(format!("--v3-priv-key={}", self.priv_pass));
            args.push(format!("--v3-priv-proto={}", proto.snmpsim()));
        }
        args
    }

    fn snmpd_conf_lines(&self) -> String {
        let mut create = format!(
            "createUser {} {} \"{}\"",
            self.name,
            self.auth_proto.net_snmp(),
            self.auth_pass
        );
        if let Some(proto) = self.priv_proto {
            create += &format!(" {} \"{}\"", proto.net_snmp(), self.priv_pass);
        }
        let level = if self.priv_proto.is_some() {
            "priv"
        } else {
            "auth"
        };
        format!("{create}\nrouser {} {level}\n", self.name)
    }
}

/// The v3 users of [`snmpsim()`], usable for [`Snmpd`] too.
pub fn test_users() -> Vec<V3User> {
    use AuthProto::*;
    use PrivProto::*;
    vec![
        V3User::auth_priv(
            "telleverk-sha256-aes",
            (Sha256, "authpass-sha256"),
            (Aes128, "privpass-aes128"),
        ),
        V3User::auth_priv(
            "telleverk-md5-des",
            (Md5, "authpass-md5"),
            (Des, "privpass-des"),
        ),
        V3User::auth_priv(
            "telleverk-sha512-aes256",
            (Sha512, "authpass-sha512"),
            (Aes256, "privpass-aes256"),
        ),
        V3User::auth_no_priv("telleverk-sha1-authonly", Sha1, "authpass-sha1"),
    ]
}

// ---------------------------------------------------------------------------
// Supervised child processes
// ---------------------------------------------------------------------------

/// An agent process started under [`SUPERVISOR`], stopped when this is dropped.
struct Supervised {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    /// The log, opened for reading: still readable after the supervisor deleted it.
    log: File,
}

impl Supervised {
    /// Starts `program args` with `envs`, its output going to `log`. If `envs`
    /// sets `TELLEVERK_CLEANUP_DIR`, the supervisor deletes that directory after
    /// the program ends.
    fn spawn(
        name: &'static str,
        program: &Path,
        args: &[String],
        envs: &[(&str, OsString)],
        log: &Path,
    ) -> Supervised {
        let stdout = File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let stderr = stdout.try_clone().expect("duplicate the log file handle");
        let log = File::open(log).unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let mut child = Command::new("/bin/sh")
            .args(["-c", SUPERVISOR, "telleverk-supervisor"])
            .arg(program)
            .args(args)
            .envs(envs.iter().map(|(key, value)| (*key, value)))
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({}): {e}", program.display()));
        let stdin = child.stdin.take();
        Supervised {
            name,
            child,
            stdin,
            log,
        }
    }

    /// Waits until the agent answers SNMP on 127.0.0.1:`port`, and panics with
    /// its log if it exits or stays silent too long.
    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log_text();
                panic!(
                    "{} exited ({status}) before answering; its log:\n{log}",
                    self.name
                );
            }
            if answers_snmp(port, Duration::from_millis(200)) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer on 127.0.0.1:{port} within {READY_TIMEOUT:?}; its log:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        match (&self.log).read_to_string(&mut text) {
            Ok(_) => text,
            Err(e) => format!("(unreadable log: {e})"),
        }
    }

    /// Closes the supervisor's stdin (it then kills the agent) and waits for it.
    fn stop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------
// snmpsim: one per test binary
// ---------------------------------------------------------------------------

/// The snmpsim of this test binary; see [`snmpsim()`].
pub struct Snmpsim {
    pub port: u16,
    process: Supervised,
}

static SNMPSIM: OnceLock<Snmpsim> = OnceLock::new();

/// The snmpsim shared by all tests of this binary, started on first use. It
/// serves `tests/data/*.snmprec` and knows the users of [`test_users()`].
pub fn snmpsim() -> &'static Snmpsim {
    SNMPSIM.get_or_init(Snmpsim::start)
}

impl Snmpsim {
    fn start() -> Snmpsim {
        let program = snmpsim_program();
        let dir = kept_temp_dir("telleverk-snmpsim-");
        let port = free_udp_port();
        let args = snmpsim_args(&dir, port);
        // As root, snmpsim insists on switching to another user unless told not to;
        // that user could not read a venv under e.g. /root (a lazy import fails on
        // the first encrypted request), so it keeps running as us.
        let envs = [
            ("SNMPSIM_ALLOW_ROOT", OsString::from("true")),
            ("TELLEVERK_CLEANUP_DIR", dir.clone().into_os_string()),
        ];
        let mut process =
            Supervised::spawn("snmpsim", &program, &args, &envs, &dir.join("snmpsim.log"));
        process.wait_ready(port);
        Snmpsim { port, process }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

/// snmpsim's arguments: data (the recordings) and cache in `dir`, [`test_users()`].
fn snmpsim_args(dir: &Path, port: u16) -> Vec<String> {
    let data = copy_recordings(&dir.join("data"));
    let cache = dir.join("cache");
    fs::create_dir(&cache).expect("create snmpsim's cache directory");
    // The engine options must come first; each user's options follow its --v3-user.
    let mut args = vec![
        "--log-level=error".to_owned(),
        "--v3-engine-id=auto".to_owned(),
    ];
    args.extend(test_users().iter().flat_map(V3User::snmpsim_args));
    args.push(format!("--data-dir={}", data.display()));
    args.push(format!("--cache-dir={}", cache.display()));
    args.push(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"));
    args
}

/// A new directory in the system's temporary directory that is not deleted when
/// dropped: its agent's supervisor deletes it when the agent ends, even if the
/// test process was killed.
fn kept_temp_dir(prefix: &str) -> PathBuf {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory")
        .keep()
}

/// `$TELLEVERK_SNMPSIM`, else where `tests/run.sh` installs it.
fn snmpsim_program() -> PathBuf {
    let configured = std::env::var_os("TELLEVERK_SNMPSIM").filter(|value| !value.is_empty());
    let path = configured.clone().map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/test-tools/venv/bin/snmpsim-command-responder")
    });
    if !path.is_file() {
        let setting = match &configured {
            Some(value) => format!("TELLEVERK_SNMPSIM={value:?} names a missing file"),
            None => format!(
                "TELLEVERK_SNMPSIM is unset and {} is missing",
                path.display()
            ),
        };
        panic!("snmpsim is not installed: {setting}; run the tests with `bash tests/run.sh`");
    }
    path
}

/// Copies `tests/data/*.snmprec` into a new directory `into`.
fn copy_recordings(into: &Path) -> PathBuf {
    fs::create_dir(into).unwrap_or_else(|e| panic!("create {}: {e}", into.display()));
    let entries = fs::read_dir(data_dir()).expect("list tests/data");
    for path in entries.map(|entry| entry.expect("list tests/data").path()) {
        if path.extension().is_some_and(|ext| ext == "snmprec") {
            let target = into.join(path.file_name().expect("a file name"));
            fs::copy(&path, &target).unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
    into.to_owned()
}

// ---------------------------------------------------------------------------
// snmpd: one per test
// ---------------------------------------------------------------------------

/// What an [`Snmpd`] serves.
#[derive(Clone, Debug, Default)]
pub struct SnmpdOptions {
    /// Read-only communities (v1 and v2c), for requests from 127.0.0.1.
    pub communities: Vec<String>,
    /// Read-only v3 users.
    pub users: Vec<V3User>,
    /// sysObjectID (`1.3.6.1.4.1.…`); snmpd's own when empty.
    pub sys_object_id: String,
    /// sysDescr; snmpd's own (`uname`) when empty.
    pub sys_descr: String,
    /// The initial values, in snmprec format (`OID|TAG|VALUE` lines); only those
    /// under the Printer-MIB, hrDevice and Konica Minolta subtrees are served.
    pub values: String,
}

impl SnmpdOptions {
    /// Serves the recording `tests/data/NAME.snmprec`: its sysObjectID and sysDescr,
    /// and its other values. Add communities or users before starting.
    pub fn from_recording(name: &str) -> SnmpdOptions {
        let values = recording(name);
        let field = |oid: &str| {
            let prefix = format!("{oid}|");
            let line = values.lines().find(|line| line.starts_with(&prefix));
            line.and_then(|line| line.splitn(3, '|').nth(2))
                .unwrap_or_default()
                .to_owned()
        };
        let sys_descr = field("1.3.6.1.2.1.1.1.0");
        let sys_object_id = field("1.3.6.1.2.1.1.2.0");
        SnmpdOptions {
            sys_descr,
            sys_object_id,
            values,
            ..SnmpdOptions::default()
        }
    }
}

/// A net-snmp `snmpd` of one test, killed when dropped.
pub struct Snmpd {
    pub port: u16,
    values_path: PathBuf,
    writes: AtomicUsize,
    process: Supervised,
    dir: PathBuf,
}

impl Snmpd {
    /// Starts snmpd on a free port and waits until it answers.
    pub fn start(options: SnmpdOptions) -> Snmpd {
        let program = find_program("snmpd");
        let dir = kept_temp_dir("telleverk-snmpd-");
        let port = free_udp_port();
        let values_path = dir.join("values.snmprec");
        write_file(&values_path, &options.values);
        let conf = dir.join("snmpd.conf");
        write_file(&conf, &snmpd_conf(&options, port, &values_path));
        let args = snmpd_args(&conf, &dir.join("snmpd.pid"));
        let envs = [
            ("SNMP_PERSISTENT_DIR", dir.join("persist").into_os_string()),
            ("MIBS", OsString::new()),
            ("TELLEVERK_CLEANUP_DIR", dir.clone().into_os_string()),
        ];
        let mut process =
            Supervised::spawn("snmpd", &program, &args, &envs, &dir.join("snmpd.log"));
        process.wait_ready(port);
        Snmpd {
            port,
            values_path,
            writes: AtomicUsize::new(0),
            process,
            dir,
        }
    }

    /// Replaces the served values (snmprec format) atomically: the next request
    /// sees either the old or the new values, never a mix.
    pub fn set_values(&self, text: &str) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed);
        let temporary = self.dir.join(format!("values.snmprec.{n}.tmp"));
        write_file(&temporary, text);
        fs::rename(&temporary, &self.values_path).expect("replace the values file");
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        // The supervisor deletes `dir` once snmpd has ended.
        self.process.stop();
    }
}

/// snmpd in the foreground, logging to stdout, reading only `conf`.
fn snmpd_args(conf: &Path, pid_file: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-f", "-Lo", "-C", "-c"].map(String::from).to_vec();
    args.push(conf.display().to_string());
    args.extend(["-p".to_owned(), pid_file.display().to_string()]);
    args.extend(["-I".to_owned(), SNMPD_DISABLED_MODULES.to_owned()]);
    args
}

/// snmpd.conf for `options`, listening on 127.0.0.1:`port`.
fn snmpd_conf(options: &SnmpdOptions, port: u16, values: &Path) -> String {
    let mut conf = format!("agentAddress udp:127.0.0.1:{port}\n");
    if !options.sys_object_id.is_empty() {
        let oid = options.sys_object_id.trim_start_matches('.');
        conf += &format!("sysobjectid .{oid}\n");
    }
    if !options.sys_descr.is_empty() {
        conf += &format!("sysdescr {}\n", options.sys_descr);
    }
    for community in &options.communities {
        conf += &format!("rocommunity {community} 127.0.0.1\n");
    }
    for user in &options.users {
        conf += &user.snmpd_conf_lines();
    }
    let script = data_dir().join("live_values.py");
    assert!(
        Path::new(PYTHON).is_file(),
        "{PYTHON} is missing; run `bash tests/run.sh`"
    );
    for subtree in LIVE_SUBTREES {
        let (script, values) = (script.display(), values.display());
        conf += &format!("pass_persist {subtree} {PYTHON} {script} {values} {subtree}\n");
    }
    conf
}

/// `name` on the PATH or in /usr/sbin (snmpd is there, not always on a user's PATH).
fn find_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed; run the tests with `bash tests/run.sh`")
        })
}

fn write_file(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------
// GarbageAgent
// ---------------------------------------------------------------------------

/// What a [`GarbageAgent`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GarbageMode {
    /// Bytes that are not BER at all (they never start with a SEQUENCE).
    Random,
    /// A Response that a client can correlate with its request (same version,
    /// community and request-id; for v3 the same msgGlobalData, hence msgID),
    /// followed by a truncated varbind list (v3: truncated security parameters).
    BrokenReply,
}

/// A UDP "agent" on 127.0.0.1 that answers every datagram with malformed bytes;
/// stops when dropped.
pub struct GarbageAgent {
    pub port: u16,
    received: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GarbageAgent {
    pub fn start(mode: GarbageMode) -> GarbageAgent {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the garbage agent");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("set a read timeout");
        let port = socket
            .local_addr()
            .expect("the garbage agent's address")
            .port();
        let received = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counter, stopping) = (Arc::clone(&received), Arc::clone(&stop));
        let thread = thread::spawn(move || serve_garbage(&socket, mode, &counter, &stopping));
        GarbageAgent {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// How many datagrams it has received (and answered) so far.
    pub fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

impl Drop for GarbageAgent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_garbage(socket: &UdpSocket, mode: GarbageMode, received: &AtomicUsize, stop: &AtomicBool) {
    let mut buf = [0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, peer)) = socket.recv_from(&mut buf) else {
            continue; // timeout: look at `stop` again
        };
        let count = received.fetch_add(1, Ordering::SeqCst) + 1;
        let reply = match mode {
            GarbageMode::Random => None,
            GarbageMode::BrokenReply => broken_reply(&buf[..len]),
        };
        let reply = reply.unwrap_or_else(|| random_garbage(count as u64 ^ len as u64));
        let _ = socket.send_to(&reply, peer);
    }
}

/// 8–47 pseudo-random bytes starting with 0xFF, which no SNMP message starts with.
fn random_garbage(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let len = 8 + (next() % 40) as usize;
    let mut bytes: Vec<u8> = (0..len).map(|_| next().to_be_bytes()[0]).collect();
    bytes[0] = 0xFF;
    bytes
}

/// The reply of [`GarbageMode::BrokenReply`], or `None` if `request` is not an
/// SNMP message.
fn broken_reply(request: &[u8]) -> Option<Vec<u8>> {
    let message = Tlv::read(request, 0).filter(|tlv| tlv.tag == 0x30)?;
    let version = Tlv::read(request, message.content).filter(|tlv| tlv.tag == 0x02)?;
    let second = Tlv::read(request, version.end)?;
    let body = match second.tag {
        // v1/v2c: community, then the PDU
        0x04 => broken_pdu(request, second.end)?,
        // v3: msgGlobalData, then msgSecurityParameters claiming 0x50 bytes, holding 4
        0x30 => vec![0x04, 0x50, 0x30, 0x4E, 0x04, 0x00],
        _ => return None,
    };
    Some(ber_tlv(
        0x30,
        &[&request[version.start..second.end], &body].concat(),
    ))
}

/// A Response PDU with the request-id of the PDU at `at` in `request`, no error,
/// and a varbind list claiming 0x40 bytes but holding only 5.
fn broken_pdu(request: &[u8], at: usize) -> Option<Vec<u8>> {
    let pdu = Tlv::read(request, at).filter(|tlv| (0xA0..=0xA8).contains(&tlv.tag))?;
    let request_id = Tlv::read(request, pdu.content).filter(|tlv| tlv.tag == 0x02)?;
    let mut content = request[request_id.start..request_id.end].to_vec();
    content.extend_from_slice(&[0x02, 0x01, 0x00, 0x02, 0x01, 0x00]);
    content.extend_from_slice(&[0x30, 0x40, 0x30, 0x3E, 0x06, 0x08, 0x2B]);
    Some(ber_tlv(0xA2, &content))
}

// ---------------------------------------------------------------------------
// Minimal BER
// ---------------------------------------------------------------------------

/// One BER type-length-value in a buffer: `start` is its tag's offset, `content`
/// its value's, `end` the offset after it.
#[derive(Clone, Copy, Debug)]
struct Tlv {
    tag: u8,
    start: usize,
    content: usize,
    end: usize,
}

impl Tlv {
    /// The TLV at `start`, if it is complete (single-byte tag, definite length).
    fn read(buf: &[u8], start: usize) -> Option<Tlv> {
        let tag = *buf.get(start)?;
        if tag & 0x1F == 0x1F {
            return None;
        }
        let first = *buf.get(start + 1)? as usize;
        let (len, content) = if first < 0x80 {
            (first, start + 2)
        } else {
            let count = first & 0x7F;
            if count == 0 || count > 4 {
                return None;
            }
            let bytes = buf.get(start + 2..start + 2 + count)?;
            let len = bytes
                .iter()
                .fold(0usize, |len, &byte| (len << 8) | byte as usize);
            (len, start + 2 + count)
        };
        let end = content.checked_add(len).filter(|&end| end <= buf.len())?;
        Some(Tlv {
            tag,
            start,
            content,
            end,
        })
    }
}

/// `tag`, the definite length of `content`, then `content`.
fn ber_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        len @ 0..=0x7F => out.push(len as u8),
        len @ 0x80..=0xFF => out.extend([0x81, len as u8]),
        len => out.extend([0x82, (len >> 8) as u8, len as u8]), // SNMP messages < 64 KiB
    }
    out.extend_from_slice(content);
    out
}

/// A BER INTEGER holding `value`.
fn ber_uint(value: u32) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take(3).take_while(|&&byte| byte == 0).count();
    let mut content = bytes[skip..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    ber_tlv(0x02, &content)
}

/// An SNMPv3 engine-discovery request (no user, reportable): every agent answers
/// it with a Report, whatever its communities and users.
fn discovery_probe(msg_id: u32) -> Vec<u8> {
    let empty = ber_tlv(0x04, &[]);
    let global = [
        ber_uint(msg_id),
        ber_uint(65507),
        ber_tlv(0x04, &[0x04]),
        ber_uint(3),
    ];
    let usm = [
        &empty[..],
        &ber_uint(0),
        &ber_uint(0),
        &empty,
        &empty,
        &empty,
    ]
    .concat();
    let pdu = [
        ber_uint(msg_id),
        ber_uint(0),
        ber_uint(0),
        ber_tlv(0x30, &[]),
    ]
    .concat();
    let scoped = [&empty[..], &empty, &ber_tlv(0xA0, &pdu)].concat();
    let message = [
        ber_uint(3),
        ber_tlv(0x30, &global.concat()),
        ber_tlv(0x04, &ber_tlv(0x30, &usm)),
        ber_tlv(0x30, &scoped),
    ];
    ber_tlv(0x30, &message.concat())
}

// ---------------------------------------------------------------------------
// A proxy in front of an agent
// ---------------------------------------------------------------------------

/// A UDP proxy to an agent that can drop every GETNEXT and GETBULK (v1/v2c), so
/// table walks fail while scalars arrive, and can delay every answer, or only
/// the answers to table requests (a slow table).
pub struct Proxy {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn start(agent: u16, drop_tables: bool, delay: Duration) -> Proxy {
        Proxy::with_delays(agent, drop_tables, delay, delay)
    }

    /// Table requests (GETNEXT, GETBULK) wait `table_delay`, others `delay`.
    pub fn with_delays(
        agent: u16,
        drop_tables: bool,
        delay: Duration,
        table_delay: Duration,
    ) -> Proxy {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let upstream = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            upstream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut buf = [0u8; 65_535];
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, client)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let table = matches!(pdu_tag(&buf[..n]), Some(0xA1 | 0xA5));
                if drop_tables && table {
                    continue;
                }
                std::thread::sleep(if table { table_delay } else { delay });
                upstream.send_to(&buf[..n], ("127.0.0.1", agent)).unwrap();
                let mut reply = [0u8; 65_535];
                if let Ok(m) = upstream.recv(&mut reply) {
                    socket.send_to(&reply[..m], client).unwrap();
                }
            }
        });
        Proxy { port, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The PDU tag of a v1/v2c message: SEQUENCE { version, community, PDU }.
fn pdu_tag(msg: &[u8]) -> Option<u8> {
    // Skips one TLV header at `at`, returning the offset of its contents and length.
    fn header(msg: &[u8], at: usize) -> Option<(usize, usize)> {
        let first = *msg.get(at + 1)?;
        if first < 0x80 {
            return Some((at + 2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        let len = msg
            .get(at + 2..at + 2 + n)?
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        Some((at + 2 + n, len))
    }
    let (body, _) = header(msg, 0)?;
    let (version, vlen) = header(msg, body)?;
    let (community, clen) = header(msg, version + vlen)?;
    msg.get(community + clen).copied()
}
