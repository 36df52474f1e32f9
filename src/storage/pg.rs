//! Opening a PostgreSQL database: connecting, checking the server, and
//! creating or migrating telleverk's tables (`postgres.sql`).

use std::time::Duration;

use super::db::{self, Conn};
use super::{BUSY_TIMEOUT, Error, MIGRATIONS, sql_error};
use crate::database::{Server, SslMode};

/// The schema version `postgres.sql` creates at once; the SQLite migrations
/// after it have a PostgreSQL step each in [`STEPS`].
const BASE_VERSION: usize = 10;

/// The PostgreSQL form of each SQLite migration after [`BASE_VERSION`].
const STEPS: [&str; 3] = [
    // 11: each entry's device, kept when it changes.
    "CREATE TABLE entry_devices (
         entry_id BIGINT NOT NULL,
         at BIGINT NOT NULL,
         device_id BIGINT NOT NULL,
         PRIMARY KEY (entry_id, at)
     );
     CREATE TRIGGER entry_devices_wrote AFTER INSERT OR UPDATE OR DELETE ON entry_devices
         FOR EACH STATEMENT EXECUTE FUNCTION telleverk_wrote();
     INSERT INTO entry_devices (entry_id, at, device_id)
     SELECT p.entry_id, p.at, p.device_id
     FROM polls p
     JOIN (SELECT entry_id, max(at) AS at FROM polls GROUP BY entry_id) latest
         ON latest.entry_id = p.entry_id AND latest.at = p.at
     ON CONFLICT DO NOTHING;",
    // 12: a site's outbox; the central's sites, their batches, contacts,
    // rounds and entries.
    "CREATE TABLE outbox (
         seq BIGINT PRIMARY KEY,
         at BIGINT NOT NULL,
         body BYTEA NOT NULL
     );
     CREATE TABLE outbox_forwarded (
         id BIGINT PRIMARY KEY CHECK (id = 1),
         through BIGINT NOT NULL,
         stream TEXT COLLATE \"C\" NOT NULL,
         base BIGINT NOT NULL
     );
     CREATE TABLE sites (
         id BIGINT PRIMARY KEY,
         name TEXT COLLATE \"C\" NOT NULL UNIQUE,
         first_contact BIGINT NOT NULL
     );
     CREATE TABLE site_contacts (
         id BIGINT PRIMARY KEY,
         site_id BIGINT NOT NULL,
         stream TEXT COLLATE \"C\" NOT NULL,
         at BIGINT NOT NULL,
         through BIGINT NOT NULL,
         applied BIGINT NOT NULL
     );
     CREATE INDEX site_contacts_stream ON site_contacts (site_id, stream, through);
     CREATE TABLE site_seen (
         site_id BIGINT PRIMARY KEY,
         at BIGINT NOT NULL,
         stream TEXT COLLATE \"C\" NOT NULL,
         backlog BIGINT NOT NULL,
         version TEXT COLLATE \"C\" NOT NULL
     );
     CREATE TABLE site_rounds (
         id BIGINT PRIMARY KEY,
         site_id BIGINT NOT NULL,
         started BIGINT NOT NULL,
         ended BIGINT NOT NULL,
         interval_ms BIGINT,
         entries BIGINT NOT NULL,
         answered BIGINT NOT NULL,
         failed BIGINT NOT NULL,
         aborted BIGINT NOT NULL,
         ending TEXT COLLATE \"C\" NOT NULL CHECK (ending IN ('completed', 'stopped'))
     );
     CREATE INDEX site_rounds_started ON site_rounds (site_id, started);
     CREATE TABLE entry_sites (
         entry_id BIGINT PRIMARY KEY,
         site_id BIGINT NOT NULL
     );
     DO $$
     DECLARE
         t TEXT;
     BEGIN
         FOREACH t IN ARRAY ARRAY['sites', 'site_contacts', 'site_rounds'] LOOP
             EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %I FOR EACH ROW '
                            'EXECUTE FUNCTION telleverk_next_id(%L)', t || '_id', t, 'id');
         END LOOP;
         FOREACH t IN ARRAY ARRAY['outbox', 'outbox_forwarded', 'sites', 'site_contacts',
                                  'site_seen', 'site_rounds', 'entry_sites'] LOOP
             EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                            'FOR EACH STATEMENT EXECUTE FUNCTION telleverk_wrote()',
                            t || '_wrote', t);
         END LOOP;
     END $$;",
    // 13: the plan of a site's history to forward.
    "CREATE TABLE outbox_history (
         seq BIGINT PRIMARY KEY,
         from_at BIGINT,
         to_at BIGINT,
         entered BIGINT,
         withdrawn BIGINT,
         CHECK ((from_at IS NOT NULL AND to_at IS NOT NULL)::int + (entered IS NOT NULL)::int
                + (withdrawn IS NOT NULL)::int = 1)
     );
     CREATE TRIGGER outbox_history_wrote AFTER INSERT OR UPDATE OR DELETE ON outbox_history
         FOR EACH STATEMENT EXECUTE FUNCTION telleverk_wrote();",
];

const _: () = assert!(BASE_VERSION + STEPS.len() == MIGRATIONS.len());

/// The advisory lock (per session) a migration holds: two telleverks
/// starting at once migrate one after the other.
const MIGRATE_LOCK: i64 = 0x7465_6c6c_6d69;

/// How long a connection attempt may take before the server counts as down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// The writer: migrates first.
    Write,
    /// A reader: the schema must be current; every transaction reads only.
    Read,
}

/// Connects to `server` and readies the connection for `open`.
pub fn open(server: &Server, shown: &str, open: Open) -> Result<Conn, Error> {
    let sql = |action| sql_error(shown, action);
    let conn = Conn::postgres(connect(server).map_err(sql("connect"))?);
    let setup = format!(
        "SET lock_timeout = '{}ms'; SET TIME ZONE 'UTC'; SET client_min_messages = warning{}",
        BUSY_TIMEOUT.as_millis(),
        if open == Open::Read {
            "; SET default_transaction_read_only = on"
        } else {
            ""
        }
    );
    conn.execute_batch(&setup)
        .map_err(sql("set up the session"))?;
    let encoding: String = conn
        .query_row("SHOW server_encoding", [], |r| r.get(0))
        .map_err(sql("read the server's encoding"))?;
    if encoding != "UTF8" {
        return Err(Error::Database {
            path: shown.to_owned(),
            action: "check the encoding",
            source: db::Error::Invalid(format!(
                "the database's encoding is {encoding}; telleverk needs UTF8 \
                 (CREATE DATABASE … ENCODING 'UTF8')"
            )),
        });
    }
    match open {
        Open::Write => migrate(&conn, shown)?,
        Open::Read => {
            let found = version(&conn).map_err(sql("read the schema version"))?;
            super::current_version(shown, found)?;
        }
    }
    Ok(conn)
}

fn connect(server: &Server) -> db::Result<postgres::Client> {
    let mut config: postgres::Config = server
        .url()
        .parse()
        .map_err(|e| db::Error::Invalid(format!("not a PostgreSQL URL: {e}")))?;
    if let Some(password) = server.password() {
        config.password(password.expose());
    }
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .application_name("telleverk");
    let mode = server.sslmode();
    config.ssl_mode(match mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyFull => postgres::config::SslMode::Require,
    });
    // A Unix socket is local: libpq uses no TLS on one, whatever sslmode.
    let local = config
        .get_hosts()
        .iter()
        .all(|h| !matches!(h, postgres::config::Host::Tcp(_)));
    if mode == SslMode::Disable || local {
        return Ok(db::blocking(|| config.connect(postgres::NoTls))?);
    }
    let tls = super::tls::connector(mode, server.root_cert()).map_err(db::Error::Invalid)?;
    db::blocking(|| config.connect(tls)).map_err(|e| {
        let e = db::Error::from(e);
        let said = e.to_string();
        if mode == SslMode::VerifyFull && said.contains("invalid peer certificate") {
            db::Error::Invalid(format!(
                "{said} (verify-full needs a certificate that chains to sslrootcert, or to a \
                 root this system trusts, names the URL's host in its subjectAltName, and \
                 is not itself a CA)"
            ))
        } else {
            e
        }
    })
}

/// The schema version, 0 before telleverk created its tables.
fn version(conn: &Conn) -> db::Result<i64> {
    let exists: bool = conn.query_row(
        "SELECT to_regclass('schema_version') IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(0);
    }
    conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0))
}

fn migrate(conn: &Conn, shown: &str) -> Result<(), Error> {
    let sql = |action| sql_error(shown, action);
    conn.execute_batch(&format!("SELECT pg_advisory_lock({MIGRATE_LOCK})"))
        .map_err(sql("wait for another migration"))?;
    let done = (|| {
        let found = version(conn).map_err(sql("read the schema version"))?;
        if found >= MIGRATIONS.len() as i64 {
            // Current, or newer than this telleverk: the readers' check.
            return super::current_version(shown, found);
        }
        let tx = conn.transaction().map_err(sql("begin a migration"))?;
        if found == 0 {
            tx.execute_batch(include_str!("postgres.sql"))
                .map_err(sql("create the tables"))?;
            tx.execute_batch(&format!(
                "CREATE TABLE schema_version (id BIGINT PRIMARY KEY CHECK (id = 1), \
                 version BIGINT NOT NULL); \
                 INSERT INTO schema_version VALUES (1, {BASE_VERSION})"
            ))
            .map_err(sql("record the schema version"))?;
        }
        let from = (found as usize).max(BASE_VERSION);
        for (i, step) in STEPS.iter().enumerate().skip(from - BASE_VERSION) {
            tx.execute_batch(step).map_err(sql("migrate the schema"))?;
            let version = (BASE_VERSION + i + 1) as i64;
            tx.execute(
                "UPDATE schema_version SET version = ?1",
                db::params![version],
            )
            .map_err(sql("record the schema version"))?;
        }
        tx.commit().map_err(sql("commit a migration"))
    })();
    let unlocked = conn
        .execute_batch(&format!("SELECT pg_advisory_unlock({MIGRATE_LOCK})"))
        .map_err(sql("end the migration"));
    done.and(unlocked)
}
