//! The storage backend the integration tests run on: a SQLite file in each
//! test's folder by default, or a fresh database of a throwaway PostgreSQL
//! cluster when `TELLEVERK_IT_BACKEND=postgresql` (the test command runs the
//! billing, API, schemathesis, page and report suites a second time so).
//! `backends.rs` runs both in one test and compares their answers.

use std::path::Path;

use telleverk::database::{Database, Server, SslMode};

#[path = "../support/pg_cluster.rs"]
mod pg_cluster;

/// The environment variable the PostgreSQL configs name in `password_env`.
pub const PASSWORD_ENV: &str = "TELLEVERK_IT_DB_PASSWORD";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgresql,
}

impl Backend {
    /// The backend `TELLEVERK_IT_BACKEND` names (SQLite when unset).
    pub fn chosen() -> Backend {
        match std::env::var("TELLEVERK_IT_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
            Ok("postgresql") => Backend::Postgresql,
            Ok(other) => panic!("TELLEVERK_IT_BACKEND=`{other}`: expected sqlite or postgresql"),
        }
    }
}

/// A new empty PostgreSQL database of the test cluster: its URL, with no
/// password in it.
pub fn new_database() -> String {
    pg_cluster::cluster().database()
}

/// The `[storage]` table of a config using the database at `url`, over
/// TLS with the server's certificate checked, as in production.
pub fn storage_toml(url: &str) -> String {
    format!(
        "\n[storage]\nurl = \"{url}\"\npassword_env = \"{PASSWORD_ENV}\"\n\
         sslmode = \"verify-full\"\nsslrootcert = \"{}\"\n",
        pg_cluster::cluster().ca.display()
    )
}

/// A CA (`ca.crt`) and a certificate for 127.0.0.1 it signed
/// (`server.crt`, `server.key`), made with openssl in `dir`.
pub fn certificates(dir: &std::path::Path) {
    pg_cluster::make_certificates(dir);
}

/// The database at `url`, as the storage layer opens it.
pub fn server(url: &str) -> Database {
    let password = telleverk::secret::Secret::new(pg_cluster::PASSWORD.to_owned());
    let server = Server::new(url, Some(password), SslMode::VerifyFull).expect("a test URL");
    Database::Server(server.with_root_cert(pg_cluster::cluster().ca.clone()))
}

/// The environment as a test's config sees it: the process's, with the
/// cluster's password under [`PASSWORD_ENV`].
pub fn env(name: &str) -> Option<String> {
    if name == PASSWORD_ENV {
        Some(pg_cluster::PASSWORD.to_owned())
    } else {
        std::env::var(name).ok()
    }
}

/// The cluster's password, for the environment of a child process.
pub fn password() -> &'static str {
    pg_cluster::PASSWORD
}

/// Loads a test config as `telleverk::config::load` does, with [`env`].
pub fn load_config(path: &Path) -> telleverk::config::Config {
    let text = std::fs::read_to_string(path).expect("read the test config");
    telleverk::config::parse(path, &text, &env).expect("the test config loads")
}

/// A client of the database at `url`, for a test to look into it.
pub fn client(url: &str) -> postgres::Client {
    let mut config: postgres::Config = url.parse().expect("a test URL");
    config.password(pg_cluster::PASSWORD);
    config
        .connect(postgres::NoTls)
        .expect("connect to the test cluster")
}
