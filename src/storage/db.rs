//! One connection interface over the two backends, SQLite (embedded, the
//! default) and PostgreSQL (a server, for a central store): statements,
//! parameters, rows and transactions look the same to the rest of storage.
//!
//! Statements are written once, in the SQL both understand, with SQLite's
//! numbered parameters (`?1`); on PostgreSQL they are rewritten
//! ([`postgres_sql`]) and prepared once per connection. Where the dialects
//! differ, a statement is given in each ([`Conn::pick`]).
//!
//! PostgreSQL is typed: every parameter is prepared with the type of the
//! value bound to it ([`Value`]), so a statement never depends on the
//! server's inference (`$1 IS NULL` has no type of its own), and a column is
//! read back through [`Cell`] whatever integer width the server chose for it.

use std::cell::{Cell as Flag, RefCell};
use std::collections::HashMap;

use postgres::types::{FromSql, IsNull, ToSql, Type};

/// A failure of the database itself, or a value of the wrong type read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("no row where one was expected")]
    NoRows,
    #[error("column {index}: {message}")]
    Column { index: usize, message: String },
    /// A check of storage's own failed inside a read or a write.
    #[error("{0}")]
    Invalid(String),
}

/// PostgreSQL's own message and code, with the detail it gives.
fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(": ");
                text.push_str(detail);
            }
            text
        }
        // The connection's own failures keep their cause (a TLS handshake's:
        // which certificate check failed) in the source chain.
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let said = cause.to_string();
                if !text.contains(&said) {
                    text.push_str(": ");
                    text.push_str(&said);
                }
                source = cause.source();
            }
            text
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Another connection held the lock past the wait, or PostgreSQL gave up
    /// one of two transactions that waited on each other: trying again later
    /// may succeed.
    pub fn is_busy(&self) -> bool {
        use postgres::error::SqlState;
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        match self {
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, DatabaseBusy | DatabaseLocked)
            }
            Error::Postgres(e) => matches!(
                e.code(),
                Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE
                    || *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::QUERY_CANCELED
            ),
            _ => false,
        }
    }

    /// The row a statement looked for is not there.
    pub fn is_no_rows(&self) -> bool {
        matches!(
            self,
            Error::NoRows | Error::Sqlite(rusqlite::Error::QueryReturnedNoRows)
        )
    }
}

/// `query_row` that may find nothing.
pub trait OptionalExtension<T> {
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_no_rows() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The type a parameter is prepared with on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    Int,
    Real,
    Text,
    Blob,
}

impl Ty {
    fn postgres(self) -> Type {
        match self {
            Ty::Int => Type::INT8,
            Ty::Real => Type::FLOAT8,
            Ty::Text => Type::TEXT,
            Ty::Blob => Type::BYTEA,
        }
    }
}

/// A value bound to a statement.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null(Ty),
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Value<'_> {
    fn ty(&self) -> Ty {
        match self {
            Value::Null(ty) => *ty,
            Value::Int(_) => Ty::Int,
            Value::Real(_) => Ty::Real,
            Value::Text(_) => Ty::Text,
            Value::Blob(_) => Ty::Blob,
        }
    }
}

/// What can be bound to a statement.
pub trait ToValue {
    fn value(&self) -> Value<'_>;
}

/// The type of a value that may be absent.
pub trait Typed {
    const TY: Ty;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn value(&self) -> Value<'_> {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
        impl Typed for $t {
            const TY: Ty = Ty::Int;
        }
        impl FromCell for $t {
            fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
                let wide = i64::from_cell(cell)?;
                <$t>::try_from(wide).map_err(|_| format!("{wide} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
int_values!(i32, u8, u16, u32, u64, usize, isize);

impl ToValue for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}
impl Typed for i64 {
    const TY: Ty = Ty::Int;
}
impl ToValue for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Typed for bool {
    const TY: Ty = Ty::Int;
}
impl ToValue for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}
impl Typed for f64 {
    const TY: Ty = Ty::Real;
}
impl ToValue for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl ToValue for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Typed for String {
    const TY: Ty = Ty::Text;
}
impl Typed for &str {
    const TY: Ty = Ty::Text;
}
impl ToValue for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl ToValue for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl Typed for Vec<u8> {
    const TY: Ty = Ty::Blob;
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}
impl<T: ToValue + Typed> ToValue for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(v) => v.value(),
            None => Value::Null(T::TY),
        }
    }
}
impl ToValue for Value<'_> {
    fn value(&self) -> Value<'_> {
        *self
    }
}

/// The parameters of a statement: `params![a, b]`, or `[]` for none.
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for [&dyn ToValue; 0] {
    fn values(&self) -> Vec<Value<'_>> {
        Vec::new()
    }
}
impl Params for &[&dyn ToValue] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.value()).collect()
    }
}
impl<const N: usize> Params for &[&dyn ToValue; N] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|v| v.value()).collect()
    }
}
impl Params for Vec<Value<'_>> {
    fn values(&self) -> Vec<Value<'_>> {
        self.clone()
    }
}

/// `params![a, b, c]`: the values bound to `?1`, `?2`, `?3`.
macro_rules! params {
    () => { [] as [&dyn $crate::storage::db::ToValue; 0] };
    ($($p:expr),+ $(,)?) => {
        &[$(&$p as &dyn $crate::storage::db::ToValue),+] as &[&dyn $crate::storage::db::ToValue]
    };
}
pub(crate) use params;

/// `params` bound from the values of an iterator.
pub fn params_from_iter<'a, T: ToValue + 'a>(
    items: impl IntoIterator<Item = &'a T>,
) -> Vec<Value<'a>> {
    items.into_iter().map(|v| v.value()).collect()
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null(_) => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(r) => ValueRef::Real(r),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null(_) => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                Type::FLOAT8 => (i as f64).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Real(r) => r.to_sql(ty, out),
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A column's value as read, before it becomes a Rust value.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl Cell<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Cell::Null => "NULL",
            Cell::Int(_) => "an integer",
            Cell::Real(_) => "a real",
            Cell::Text(_) => "text",
            Cell::Blob(_) => "a blob",
        }
    }
}

impl<'a> FromSql<'a> for Cell<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::BOOL => Cell::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::INT2 => Cell::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Cell::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Cell::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => Cell::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Cell::Blob(raw),
            _ if <&str as FromSql>::accepts(ty) => Cell::Text(<&str>::from_sql(ty, raw)?),
            _ => return Err(format!("a column of type {ty} cannot be read").into()),
        })
    }

    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A Rust value read from a column.
pub trait FromCell: Sized {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String>;
}

fn wrong(cell: Cell<'_>, wanted: &str) -> String {
    format!("{} where {wanted} was expected", cell.kind())
}

impl FromCell for i64 {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Int(i) => Ok(i),
            other => Err(wrong(other, "an integer")),
        }
    }
}
impl FromCell for bool {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        i64::from_cell(cell).map(|i| i != 0)
    }
}
impl FromCell for f64 {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Real(r) => Ok(r),
            Cell::Int(i) => Ok(i as f64),
            other => Err(wrong(other, "a number")),
        }
    }
}
impl FromCell for String {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Text(t) => Ok(t.to_owned()),
            other => Err(wrong(other, "text")),
        }
    }
}
impl FromCell for Vec<u8> {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Blob(b) => Ok(b.to_vec()),
            Cell::Text(t) => Ok(t.as_bytes().to_vec()),
            other => Err(wrong(other, "a blob")),
        }
    }
}
impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

/// A column's position in a row.
pub trait ColumnIndex {
    fn index(self) -> usize;
}
impl ColumnIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// A row of a result.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// The value of column `i` (from 0).
    pub fn get<I: ColumnIndex, T: FromCell>(&self, i: I) -> Result<T> {
        let index = i.index();
        let column = |message| Error::Column { index, message };
        match self {
            Row::Sqlite(row) => {
                use rusqlite::types::ValueRef;
                let cell = match row.get_ref(index)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(i) => Cell::Int(i),
                    ValueRef::Real(r) => Cell::Real(r),
                    ValueRef::Text(t) => {
                        Cell::Text(std::str::from_utf8(t).map_err(|e| column(e.to_string()))?)
                    }
                    ValueRef::Blob(b) => Cell::Blob(b),
                };
                T::from_cell(cell).map_err(column)
            }
            Row::Postgres(row) => {
                let cell: Cell<'_> = row.try_get(index)?;
                T::from_cell(cell).map_err(column)
            }
        }
    }
}

/// An open connection to either backend.
pub struct Conn {
    backend: Backend,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

/// A PostgreSQL connection with its prepared statements.
pub struct Pg {
    /// None only while the connection is dropped.
    client: RefCell<Option<postgres::Client>>,
    /// Prepared statements by their PostgreSQL text and parameter types.
    prepared: RefCell<HashMap<(String, Vec<Ty>), postgres::Statement>>,
    /// SQLite statements rewritten for PostgreSQL.
    rewritten: RefCell<HashMap<String, std::sync::Arc<str>>>,
    in_transaction: Flag<bool>,
}

/// Which of the two dialects a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The advisory lock every writing transaction on PostgreSQL holds until it
/// ends: writers take turns, as SQLite's one write lock makes them.
pub const WRITE_LOCK: i64 = 0x7465_6c6c_6576;

/// How a transaction begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Reads that see one snapshot; a write may follow on SQLite.
    Deferred,
    /// Takes the write lock first (waiting out the busy timeout), so a
    /// write never fails half-way for a lock another connection took.
    Immediate,
}

impl Conn {
    pub fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn {
            backend: Backend::Sqlite(conn),
        }
    }

    pub fn postgres(client: postgres::Client) -> Conn {
        Conn {
            backend: Backend::Postgres(Box::new(Pg {
                client: RefCell::new(Some(client)),
                prepared: RefCell::new(HashMap::new()),
                rewritten: RefCell::new(HashMap::new()),
                in_transaction: Flag::new(false),
            })),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The statement for this connection's dialect.
    pub fn pick<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        match self.dialect() {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// Runs statements without parameters, one after another.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Backend::Postgres(pg) => Ok(pg.with_client(|c| c.batch_execute(sql))?),
        }
    }

    /// A statement prepared once per connection and kept.
    pub fn prepare_cached(&self, sql: &str) -> Result<Stmt<'_>> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(Stmt::Sqlite(SqliteStmt::Cached(c.prepare_cached(sql)?))),
            Backend::Postgres(pg) => Ok(Stmt::Postgres(pg, pg.rewrite(sql))),
        }
    }

    /// A statement prepared for a few uses (PostgreSQL keeps it anyway).
    pub fn prepare(&self, sql: &str) -> Result<Stmt<'_>> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(Stmt::Sqlite(SqliteStmt::Once(c.prepare(sql)?))),
            Backend::Postgres(pg) => Ok(Stmt::Postgres(pg, pg.rewrite(sql))),
        }
    }

    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Whether no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(c) => c.is_autocommit(),
            Backend::Postgres(pg) => !pg.in_transaction.get(),
        }
    }

    /// Begins a transaction, ended by [`Tx::commit`] or else rolled back.
    pub fn transaction_with_behavior(&self, behavior: Behavior) -> Result<Tx<'_>> {
        self.begin(behavior)?;
        Ok(Tx {
            conn: self,
            open: true,
        })
    }

    pub fn transaction(&self) -> Result<Tx<'_>> {
        self.transaction_with_behavior(Behavior::Deferred)
    }

    /// Begins a transaction by hand (a pool's reads): end it with
    /// [`Conn::commit`] or [`Conn::rollback`].
    pub fn begin(&self, behavior: Behavior) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => c.execute_batch(match behavior {
                Behavior::Deferred => "BEGIN",
                Behavior::Immediate => "BEGIN IMMEDIATE",
            })?,
            Backend::Postgres(pg) => {
                let begin = match behavior {
                    // Every statement of a read sees the same snapshot.
                    Behavior::Deferred => "BEGIN ISOLATION LEVEL REPEATABLE READ".to_owned(),
                    Behavior::Immediate => {
                        format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})")
                    }
                };
                pg.with_client(|client| {
                    client.batch_execute(&begin).inspect_err(|_| {
                        let _ = client.batch_execute("ROLLBACK");
                    })
                })?;
                pg.in_transaction.set(true);
            }
        }
        Ok(())
    }

    pub fn commit(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch("COMMIT")?),
            Backend::Postgres(pg) => {
                let done = pg.with_client(|c| c.batch_execute("COMMIT"));
                pg.in_transaction.set(false);
                Ok(done?)
            }
        }
    }

    pub fn rollback(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(c) => Ok(c.execute_batch("ROLLBACK")?),
            Backend::Postgres(pg) => {
                let done = pg.with_client(|c| c.batch_execute("ROLLBACK"));
                pg.in_transaction.set(false);
                Ok(done?)
            }
        }
    }
}

/// Runs `f`, a call of the blocking PostgreSQL client, where it may block.
/// That client waits on a runtime of its own, which tokio refuses to start on
/// a thread that drives async tasks: on a worker of a multi-thread runtime
/// `f` runs in place while the worker's tasks move to another thread
/// (`block_in_place`); under a current-thread runtime it runs on a thread of
/// its own; on a blocking thread or outside any runtime, as it is. So a
/// store works wherever it is called from, as SQLite's does (the service's
/// long store work runs on blocking threads all the same).
pub(crate) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| {
            s.spawn(f)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
        Err(_) => f(),
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // Closing the connection blocks on the client's runtime too.
        if let Some(client) = self.client.get_mut().take() {
            blocking(move || drop(client));
        }
    }
}

impl Pg {
    /// Runs `f` on the client, where it may block ([`blocking`]).
    fn with_client<T: Send>(&self, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
        let mut guard = self.client.borrow_mut();
        let client = guard
            .as_mut()
            .expect("the client lives until the connection drops");
        blocking(move || f(client))
    }

    fn rewrite(&self, sql: &str) -> std::sync::Arc<str> {
        if let Some(done) = self.rewritten.borrow().get(sql) {
            return done.clone();
        }
        let done: std::sync::Arc<str> = postgres_sql(sql).into();
        self.rewritten
            .borrow_mut()
            .insert(sql.to_owned(), done.clone());
        done
    }

    fn statement(&self, sql: &str, values: &[Value<'_>]) -> Result<postgres::Statement> {
        let types: Vec<Ty> = values.iter().map(Value::ty).collect();
        let key = (sql.to_owned(), types);
        if let Some(s) = self.prepared.borrow().get(&key) {
            return Ok(s.clone());
        }
        let pg_types: Vec<Type> = key.1.iter().map(|t| t.postgres()).collect();
        let prepared = self.with_client(|c| c.prepare_typed(sql, &pg_types))?;
        self.prepared.borrow_mut().insert(key, prepared.clone());
        Ok(prepared)
    }

    fn query(&self, sql: &str, values: &[Value<'_>]) -> Result<Vec<postgres::Row>> {
        let statement = self.statement(sql, values)?;
        let bound: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        Ok(self.with_client(|c| c.query(&statement, &bound))?)
    }

    fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<usize> {
        let statement = self.statement(sql, values)?;
        let bound: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let n = self.with_client(|c| c.execute(&statement, &bound))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// A transaction: rolled back when dropped without [`Tx::commit`].
pub struct Tx<'c> {
    conn: &'c Conn,
    open: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> Result<()> {
        self.open = false;
        let done = self.conn.commit();
        if done.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.rollback();
        }
        done
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.rollback();
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

pub enum SqliteStmt<'c> {
    Cached(rusqlite::CachedStatement<'c>),
    Once(rusqlite::Statement<'c>),
}

impl<'c> std::ops::DerefMut for SqliteStmt<'c> {
    fn deref_mut(&mut self) -> &mut rusqlite::Statement<'c> {
        match self {
            SqliteStmt::Cached(s) => s,
            SqliteStmt::Once(s) => s,
        }
    }
}

impl<'c> std::ops::Deref for SqliteStmt<'c> {
    type Target = rusqlite::Statement<'c>;
    fn deref(&self) -> &rusqlite::Statement<'c> {
        match self {
            SqliteStmt::Cached(s) => s,
            SqliteStmt::Once(s) => s,
        }
    }
}

/// A prepared statement.
pub enum Stmt<'c> {
    Sqlite(SqliteStmt<'c>),
    Postgres(&'c Pg, std::sync::Arc<str>),
}

/// An error of the caller's closure, carried through rusqlite's.
#[derive(Debug)]
struct Carried(Error);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for Carried {}

fn carry(e: Error) -> rusqlite::Error {
    match e {
        Error::Sqlite(e) => e,
        other => rusqlite::Error::ToSqlConversionFailure(Box::new(Carried(other))),
    }
}

fn uncarry(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::ToSqlConversionFailure(inner) => match inner.downcast::<Carried>() {
            Ok(carried) => carried.0,
            Err(other) => Error::Sqlite(rusqlite::Error::ToSqlConversionFailure(other)),
        },
        other => Error::Sqlite(other),
    }
}

impl<'c> Stmt<'c> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = params.values();
        match self {
            Stmt::Sqlite(s) => Ok(s.execute(rusqlite::params_from_iter(values.iter()))?),
            Stmt::Postgres(pg, sql) => pg.execute(sql, &values),
        }
    }

    pub fn query_row<T, P: Params>(
        &mut self,
        params: P,
        f: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        let values = params.values();
        match self {
            Stmt::Sqlite(s) => s
                .query_row(rusqlite::params_from_iter(values.iter()), |r| {
                    f(&Row::Sqlite(r)).map_err(carry)
                })
                .map_err(uncarry),
            Stmt::Postgres(pg, sql) => {
                let rows = pg.query(sql, &values)?;
                let row = rows.first().ok_or(Error::NoRows)?;
                f(&Row::Postgres(row))
            }
        }
    }

    /// Every row, each turned into a value by `f`.
    pub fn query_map<'s, T: 's, P: Params, F: FnMut(&Row<'_>) -> Result<T> + 's>(
        &'s mut self,
        params: P,
        mut f: F,
    ) -> Result<Mapped<'s, T>> {
        let values = params.values();
        match self {
            Stmt::Sqlite(s) => {
                let rows = s
                    .query_map(rusqlite::params_from_iter(values.iter()), move |r| {
                        f(&Row::Sqlite(r)).map_err(carry)
                    })
                    .map_err(uncarry)?;
                Ok(Mapped::Sqlite(Box::new(rows.map(|r| r.map_err(uncarry)))))
            }
            Stmt::Postgres(pg, sql) => {
                let rows = pg.query(sql, &values)?;
                let out: Vec<Result<T>> = rows.iter().map(|r| f(&Row::Postgres(r))).collect();
                Ok(Mapped::Postgres(out.into_iter()))
            }
        }
    }

    /// The rows, one at a time.
    pub fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let values = params.values();
        match self {
            Stmt::Sqlite(s) => Ok(Rows::Sqlite(
                s.query(rusqlite::params_from_iter(values.iter()))?,
            )),
            Stmt::Postgres(pg, sql) => Ok(Rows::Postgres {
                rows: pg.query(sql, &values)?,
                next: 0,
            }),
        }
    }
}

/// The rows of [`Stmt::query_map`].
pub enum Mapped<'s, T> {
    Sqlite(Box<dyn Iterator<Item = Result<T>> + 's>),
    Postgres(std::vec::IntoIter<Result<T>>),
}

impl<T> Iterator for Mapped<'_, T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        match self {
            Mapped::Sqlite(rows) => rows.next(),
            Mapped::Postgres(rows) => rows.next(),
        }
    }
}

/// The rows of [`Stmt::query`].
pub enum Rows<'s> {
    Sqlite(rusqlite::Rows<'s>),
    Postgres {
        rows: Vec<postgres::Row>,
        next: usize,
    },
}

impl Rows<'_> {
    pub fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Sqlite(rows) => Ok(rows.next()?.map(Row::Sqlite)),
            Rows::Postgres { rows, next } => {
                let row = rows.get(*next);
                *next += 1;
                Ok(row.map(Row::Postgres))
            }
        }
    }
}

/// A statement written for SQLite, as PostgreSQL takes it: `?N` becomes
/// `$N`, and `INSERT OR IGNORE` an insert that does nothing on a conflict.
/// Text in quotes is left alone.
pub fn postgres_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 24);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    let mut next_unnumbered = 1;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next_unnumbered.to_string();
                    next_unnumbered += 1;
                }
                out.push('$');
                out.push_str(&digits);
            }
            None => out.push(c),
        }
    }
    const IGNORE: &str = "INSERT OR IGNORE INTO";
    if let Some(at) = out.find(IGNORE) {
        out.replace_range(at..at + IGNORE.len(), "INSERT INTO");
        let end = out.trim_end().trim_end_matches(';').len();
        let clause = " ON CONFLICT DO NOTHING";
        match out.find(" RETURNING ") {
            Some(returning) => out.insert_str(returning, clause),
            None => {
                out.truncate(end);
                out.push_str(clause);
            }
        }
    }
    out
}

/// Rows appended to one table through a write. On SQLite each is inserted
/// as it comes, through one prepared statement (in-process, that is as
/// fast as it gets). On PostgreSQL they wait for [`Appender::flush`], which
/// inserts them in one statement per few thousand rows — each column an
/// array, unnested — where a statement a row cost a round trip a row.
pub struct Appender {
    table: &'static str,
    columns: &'static [(&'static str, Ty)],
    /// One row's INSERT (SQLite).
    row_sql: String,
    /// Many rows' INSERT, from arrays (PostgreSQL).
    arrays_sql: String,
    waiting: Vec<Vec<Kept>>,
}

/// A value waiting in an [`Appender`].
enum Kept {
    Null,
    Int(i64),
    Text(String),
}

/// Rows per statement when an [`Appender`] flushes on PostgreSQL.
const APPEND_CHUNK: usize = 5_000;

impl Appender {
    /// Rows of `table`, whose `columns` (integer or text) a row gives in order.
    pub fn new(table: &'static str, columns: &'static [(&'static str, Ty)]) -> Appender {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let arrays: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| {
                let sql_type = if *ty == Ty::Int { "BIGINT" } else { "TEXT" };
                format!("${}::{sql_type}[]", i + 1)
            })
            .collect();
        Appender {
            table,
            columns,
            row_sql: format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                marks.join(", ")
            ),
            arrays_sql: format!(
                "INSERT INTO {table} ({}) SELECT * FROM unnest({})",
                names.join(", "),
                arrays.join(", ")
            ),
            waiting: Vec::new(),
        }
    }

    /// Appends a row: inserted now on SQLite, kept for [`Appender::flush`]
    /// on PostgreSQL.
    pub fn push<P: Params>(&mut self, conn: &Conn, row: P) -> Result<()> {
        let values = row.values();
        if values.len() != self.columns.len() {
            return Err(Error::Invalid(format!(
                "{} values for the {} columns of {}",
                values.len(),
                self.columns.len(),
                self.table
            )));
        }
        match &conn.backend {
            Backend::Sqlite(c) => {
                c.prepare_cached(&self.row_sql)?
                    .execute(rusqlite::params_from_iter(values.iter()))?;
            }
            Backend::Postgres(_) => {
                let mut row = Vec::with_capacity(values.len());
                for (value, (name, ty)) in values.iter().zip(self.columns) {
                    row.push(match (value, ty) {
                        (Value::Null(_), _) => Kept::Null,
                        (Value::Int(i), Ty::Int) => Kept::Int(*i),
                        (Value::Text(t), Ty::Text) => Kept::Text((*t).to_owned()),
                        _ => {
                            return Err(Error::Invalid(format!(
                                "{}.{name}: a value of another type",
                                self.table
                            )));
                        }
                    });
                }
                self.waiting.push(row);
            }
        }
        Ok(())
    }

    /// Inserts the rows kept (PostgreSQL); nothing waits on SQLite.
    pub fn flush(&mut self, conn: &Conn) -> Result<()> {
        let Backend::Postgres(pg) = &conn.backend else {
            return Ok(());
        };
        let sql = self.arrays_sql.as_str();
        let waiting = std::mem::take(&mut self.waiting);
        for chunk in waiting.chunks(APPEND_CHUNK) {
            let mut columns: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
            for (i, (_, ty)) in self.columns.iter().enumerate() {
                let cells = chunk.iter().map(|row| &row[i]);
                columns.push(if *ty == Ty::Int {
                    Box::new(
                        cells
                            .map(|c| match c {
                                Kept::Int(v) => Some(*v),
                                _ => None,
                            })
                            .collect::<Vec<Option<i64>>>(),
                    )
                } else {
                    Box::new(
                        cells
                            .map(|c| match c {
                                Kept::Text(t) => Some(t.as_str()),
                                _ => None,
                            })
                            .collect::<Vec<Option<&str>>>(),
                    )
                });
            }
            let bound: Vec<&(dyn ToSql + Sync)> = columns
                .iter()
                .map(|c| c.as_ref() as &(dyn ToSql + Sync))
                .collect();
            pg.with_client(|c| c.execute(sql, &bound))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_sql;

    #[test]
    fn statements_are_rewritten_for_postgresql() {
        assert_eq!(
            postgres_sql("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?1'"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?1'"
        );
        assert_eq!(
            postgres_sql("INSERT OR IGNORE INTO meta (key, value) VALUES ('purpose', ?1)"),
            "INSERT INTO meta (key, value) VALUES ('purpose', $1) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            postgres_sql("INSERT OR IGNORE INTO t (a) VALUES (?1) RETURNING id"),
            "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id"
        );
        assert_eq!(postgres_sql("SELECT ? , ?"), "SELECT $1 , $2");
    }
}
