//! Where the database is: an SQLite file (the embedded default) or a
//! PostgreSQL server (`[storage] url`). The config reads it; storage opens
//! it. Nothing here connects.

use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// The database of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL server.
    Server(Server),
}

/// A PostgreSQL database: its URL (never with a password in it), the
/// password from the environment, and how TLS is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    url: String,
    password: Option<Secret>,
    sslmode: SslMode,
    root_cert: Option<PathBuf>,
}

/// `[storage] sslmode`, as libpq names them (libpq's `allow` and
/// `verify-ca` are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// libpq's default: TLS when the server offers it, else plain; the
    /// server's certificate is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked: safe from
    /// eavesdropping, not from a man in the middle.
    Require,
    /// TLS, and the server's certificate must chain to `sslrootcert` (or
    /// to a root the system trusts) and name the URL's host.
    VerifyFull,
}

impl SslMode {
    pub const NAMES: &str = "disable, prefer, require or verify-full";

    pub fn parse(text: &str) -> Option<SslMode> {
        match text {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl Server {
    /// Checks a `postgresql://` URL: the scheme, that it parses, that it
    /// names a host, and that no password is written in it (a password
    /// goes in the environment, `password_env`). The error says what is
    /// wrong with the URL, shown without any password.
    pub fn new(url: &str, password: Option<Secret>, sslmode: SslMode) -> Result<Server, String> {
        let shown = shown_url(url);
        if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
            return Err(format!(
                "`{shown}` is not a PostgreSQL URL: write postgresql://USER@HOST:PORT/DATABASE \
                 (or give `path` for an SQLite file)"
            ));
        }
        let parsed: postgres::Config = url
            .parse()
            .map_err(|e| format!("`{shown}` is not a PostgreSQL URL: {e}"))?;
        if parsed.get_password().is_some() {
            return Err(format!(
                "`{shown}` has a password in it: take it out and give it in the environment \
                 variable that `password_env` names"
            ));
        }
        // TLS is set in [storage], where telleverk reads it: a URL that set it
        // too would be overruled without a word.
        let query = url.split_once('?').map_or("", |(_, q)| q);
        for pair in query.split('&') {
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            if matches!(key, "sslmode" | "sslrootcert") {
                return Err(format!(
                    "`{shown}` sets `{key}` in the URL: give it as `{key}` in [storage] instead"
                ));
            }
            if matches!(key, "sslcert" | "sslkey") {
                return Err(format!(
                    "`{shown}` sets `{key}`: telleverk does not log in with a client certificate"
                ));
            }
        }
        if parsed.get_hosts().is_empty() {
            return Err(format!("`{shown}` names no host"));
        }
        if parsed.get_dbname().is_none() {
            return Err(format!(
                "`{shown}` names no database: end it with /DATABASE"
            ));
        }
        Ok(Server {
            url: url.to_owned(),
            password,
            sslmode,
            root_cert: None,
        })
    }

    /// The server with the certificates (PEM) its certificate must chain
    /// to under `verify-full`, instead of the system's roots.
    pub fn with_root_cert(mut self, path: PathBuf) -> Server {
        self.root_cert = Some(path);
        self
    }

    pub fn root_cert(&self) -> Option<&Path> {
        self.root_cert.as_deref()
    }

    /// The URL as given (it holds no password).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    pub fn sslmode(&self) -> SslMode {
        self.sslmode
    }
}

impl Database {
    /// How messages name it: the file's path, or the URL without a password.
    pub fn shown(&self) -> String {
        match self {
            Database::File(path) => path.display().to_string(),
            Database::Server(server) => shown_url(&server.url),
        }
    }

    /// The SQLite file, if it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Database::File(path) => Some(path),
            Database::Server(_) => None,
        }
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Database {
        Database::File(path.to_path_buf())
    }
}

impl From<&PathBuf> for Database {
    fn from(path: &PathBuf) -> Database {
        Database::File(path.clone())
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Database {
        Database::File(path)
    }
}

impl From<&Database> for Database {
    fn from(db: &Database) -> Database {
        db.clone()
    }
}

/// A URL with any password in it replaced by `***`: what every message shows.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            shown_url("postgresql://tv:s3cret@db.example:5432/telleverk"),
            "postgresql://tv:***@db.example:5432/telleverk"
        );
        assert_eq!(
            shown_url("postgresql://tv@db.example/telleverk"),
            "postgresql://tv@db.example/telleverk"
        );
        let e = Server::new(
            "postgresql://tv:s3cret@db.example/telleverk",
            None,
            SslMode::Prefer,
        )
        .unwrap_err();
        assert!(e.contains("has a password in it"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn only_postgresql_urls_are_taken() {
        for url in ["mysql://tv@db/telleverk", "telleverk.db", "http://db/x"] {
            let e = Server::new(url, None, SslMode::Prefer).unwrap_err();
            assert!(e.contains("is not a PostgreSQL URL"), "{url}: {e}");
        }
        let e = Server::new("postgresql://tv@db.example", None, SslMode::Prefer).unwrap_err();
        assert!(e.contains("names no database"), "{e}");
        let ok = Server::new("postgres://tv@db.example:5433/tl", None, SslMode::Disable).unwrap();
        assert_eq!(ok.url(), "postgres://tv@db.example:5433/tl");
    }
}
