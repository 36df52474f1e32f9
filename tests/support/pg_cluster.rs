//! A throwaway PostgreSQL cluster for the tests, one per test process: made
//! with Debian's `initdb` in the system temp folder (as user `postgres` when
//! the tests run as root, which PostgreSQL refuses to run as), listening on
//! its own port on 127.0.0.1 with password authentication, and stopped and
//! removed when the test process ends (a shell beside it waits for the
//! process's end on a pipe). Each test gets a database of its own.
//!
//! PostgreSQL missing is a failure that says how to install it, never a
//! skip: `bash tests/run.sh` installs Debian's `postgresql`.

#![allow(clippy::disallowed_methods)] // waits for a server in real time

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The superuser's password in every test cluster.
pub const PASSWORD: &str = "telleverk-test-password";

pub struct Cluster {
    pub port: u16,
    /// The CA (PEM) that signed the server's certificate, which names
    /// 127.0.0.1 only: TLS is on, as a production server's would be.
    #[allow(dead_code)] // the benchmarks connect without TLS
    pub ca: PathBuf,
    /// The shell that stops the cluster when this process ends: it reads
    /// its stdin until the pipe closes.
    _keeper: Mutex<Child>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DURABLE: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The cluster of this test process, started on first use. It does not
/// fsync: the tests need its answers, not its durability.
#[allow(dead_code)] // the benchmarks use only the durable one
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| Cluster::start(false))
}

/// A cluster that syncs its writes as a production server does, for the
/// benchmarks.
#[allow(dead_code)] // the tests use only the fast one
pub fn durable_cluster() -> &'static Cluster {
    DURABLE.get_or_init(|| Cluster::start(true))
}

fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|d| d.ok())
                .map(|d| d.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's initdb is not installed (looked in /usr/lib/postgresql/*/bin): \
             run the tests with `bash tests/run.sh`, which installs Debian's postgresql"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as user postgres when running as root.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate it signed for 127.0.0.1, made with the
/// openssl command in `dir`.
pub fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("openssl: {e} (bash tests/run.sh installs Debian's openssl)")
            });
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3",
        "-subj",
        "/CN=telleverk test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "3",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    // PostgreSQL refuses a key others may read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

/// A folder removed if the thread panics while this lives.
struct RemoveOnPanic(PathBuf);

impl Drop for RemoveOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The superuser's connection to the `postgres` database.
fn admin(port: u16) -> Result<postgres::Client, postgres::Error> {
    postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .password(PASSWORD)
        .dbname("postgres")
        .connect(postgres::NoTls)
}

impl Cluster {
    fn start(fsync: bool) -> Cluster {
        let bin = bin_dir();
        let root = is_root();
        let dir = std::env::temp_dir().join(format!(
            "telleverk-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // Removed should anything fail before the keeper (which removes it
        // when the tests end) runs.
        let guard = RemoveOnPanic(dir.clone());
        let pwfile = dir.join("password");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        make_certificates(&dir);
        if root {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(chown.success(), "chown {} to postgres", dir.display());
        }
        let data = dir.join("data");
        let init = as_owner(root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&init.stdout),
            String::from_utf8_lossy(&init.stderr)
        );
        let port = free_port();
        let pg_ctl = bin.join("pg_ctl");
        let options = format!(
            "-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync={fsync} -c max_connections=200 \
             -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
            dir = dir.display(),
            fsync = if fsync { "on" } else { "off" }
        );
        // Started, then stopped once stdin closes: when this process ends,
        // however it ends.
        let script = format!(
            "'{ctl}' -D '{data}' -o '{options}' -l '{dir}/log' -w start >/dev/null || exit 1; \
             cat >/dev/null; '{ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            ctl = pg_ctl.display(),
            data = data.display(),
            dir = dir.display(),
        );
        let mut keeper = as_owner(root, Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::mem::forget(guard);
        // Ready when a connection is let in: a listening server may still
        // refuse one while it starts up (57P03).
        let deadline = Instant::now() + Duration::from_secs(60);
        while admin(port).is_err() {
            if let Ok(Some(status)) = keeper.try_wait() {
                let mut log = String::new();
                let _ =
                    std::fs::File::open(dir.join("log")).map(|mut f| f.read_to_string(&mut log));
                panic!("PostgreSQL did not start ({status}): {log}");
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Cluster {
            port,
            ca: dir.join("ca.crt"),
            _keeper: Mutex::new(keeper),
        }
    }

    /// The URL of database `name` as user postgres (no password in it).
    pub fn url(&self, name: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new empty database, and its URL.
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        let mut client = admin(self.port).unwrap();
        client
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
            ))
            .unwrap();
        self.url(&name)
    }
}
