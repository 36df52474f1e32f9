//! The SNMP client edge: v1, v2c and v3 requests over one shared UDP socket per
//! address family, with per-request timeout and retries, and failures sorted
//! into the causes the collector records.
//!
//! It knows OIDs and values, never meters, profiles or billing.

mod classify;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_snmp::{
    Auth, Client, ClientBuilder, EngineCache, Error as LibError, ErrorStatus, Retry, UdpTransport,
    UsmConfig, Value,
};
use tokio::sync::OnceCell;

use classify::{Facts, classify};
use watch::Watched;

use crate::oid::{Oid, Scalar, Syntax};
use crate::record::FailureCause;
use crate::secret::Secret;

/// SNMP protocol version of a device entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2c,
    V3,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "1",
            Version::V2c => "2c",
            Version::V3 => "3",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    Des,
    Aes128,
    Aes192,
    Aes256,
    Aes192c,
    Aes256c,
}

impl AuthProtocol {
    /// Its name in the config (`auth_protocol`).
    pub fn config_name(self) -> &'static str {
        match self {
            AuthProtocol::Md5 => "md5",
            AuthProtocol::Sha1 => "sha1",
            AuthProtocol::Sha224 => "sha224",
            AuthProtocol::Sha256 => "sha256",
            AuthProtocol::Sha384 => "sha384",
            AuthProtocol::Sha512 => "sha512",
        }
    }
}

impl PrivProtocol {
    /// Its name in the config (`privacy_protocol`).
    pub fn config_name(self) -> &'static str {
        match self {
            PrivProtocol::Des => "des",
            PrivProtocol::Aes128 => "aes128",
            PrivProtocol::Aes192 => "aes192",
            PrivProtocol::Aes256 => "aes256",
            PrivProtocol::Aes192c => "aes192c",
            PrivProtocol::Aes256c => "aes256c",
        }
    }
}

/// SNMPv3 USM settings of one device entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3 {
    pub user: String,
    pub auth: Option<(AuthProtocol, Secret)>,
    pub privacy: Option<(PrivProtocol, Secret)>,
    pub context: String,
    /// Accept the agent's unauthenticated reports: wrong digest, unknown user
    /// and decryption errors can only come unauthenticated, so with this off
    /// a wrong password shows as a timeout. On by default (ARCHITECTURE.md).
    pub accept_unauthenticated_reports: bool,
}

/// How an entry authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Community(Secret),
    V3(V3),
}

/// A failed SNMP exchange: its cause as the collector records it (one of
/// timeout, refused, unreachable, authentication, malformed, agent_error).
/// The detail never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", cause.name())]
pub struct Error {
    pub cause: FailureCause,
    pub detail: String,
}

/// Settings shared by every request.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub timeout: Duration,
    pub retries: u32,
    /// Most OIDs in one GET; a tooBig answer halves it.
    pub max_oids_per_request: usize,
    /// Most varbinds asked for in one GETBULK (columns × repetitions); agents
    /// such as snmpsim drop larger requests silently.
    pub max_bulk_varbinds: u32,
    /// SO_RCVBUF of the shared socket.
    pub recv_buffer: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(2),
            retries: 1,
            max_oids_per_request: 48,
            max_bulk_varbinds: 48,
            recv_buffer: 4 << 20,
        }
    }
}

/// The client side: shared sockets and the SNMPv3 engine cache.
pub struct Snmp {
    options: Options,
    v4: OnceCell<UdpTransport>,
    v6: OnceCell<UdpTransport>,
    engines: Arc<EngineCache>,
    des: Option<async_snmp::DesSaltState>,
    requests: Arc<AtomicU64>,
}

/// One device entry's session.
pub struct Session {
    client: Client<Watched>,
    transport: Watched,
    version: Version,
    options: Options,
    requests: Arc<AtomicU64>,
    target: SocketAddr,
    engines: Arc<EngineCache>,
    /// What classification knows of the entry (version, v3 settings).
    facts: Facts,
}

impl Snmp {
    /// `des` is the durable DES salt state; without it DES privacy is refused.
    pub fn new(options: Options, des: Option<async_snmp::DesSaltState>) -> Snmp {
        Snmp {
            options,
            v4: OnceCell::new(),
            v6: OnceCell::new(),
            engines: Arc::new(EngineCache::new()),
            des,
            requests: Arc::default(),
        }
    }

    /// How many GET, GETNEXT and GETBULK requests the sessions have made so
    /// far (a retry after a timeout is not counted again).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    async fn transport(&self, v6: bool) -> Result<&UdpTransport, Error> {
        let (cell, bind) = if v6 {
            (&self.v6, "[::]:0")
        } else {
            (&self.v4, "0.0.0.0:0")
        };
        cell.get_or_try_init(|| async {
            UdpTransport::builder()
                .bind(bind)
                .recv_buffer_size(self.options.recv_buffer)
                .build()
                .await
                .map_err(|e| Error {
                    cause: FailureCause::Unreachable,
                    detail: format!("cannot open a UDP socket on {bind}: {e}"),
                })
        })
        .await
    }

    /// Opens a session to `address` (`host:port`; resolves the name, no
    /// packet is sent).
    pub async fn session(
        &self,
        address: &str,
        version: Version,
        credentials: &Credentials,
    ) -> Result<Session, Error> {
        let target = resolve(address, self.options.timeout).await?;
        let socket = self.transport(target.is_ipv6()).await?;
        let facts = entry_facts(version, credentials);
        let fail = |e: Box<LibError>| classify(&e, &facts);
        let transport = Watched::new(socket.handle(target).map_err(fail)?);
        let auth = auth(version, credentials)?;
        let retry = Retry::fixed(self.options.retries, Duration::ZERO).map_err(|e| Error {
            cause: FailureCause::Malformed,
            detail: format!("bad retry setting: {e}"),
        })?;
        let mut builder = ClientBuilder::new(auth)
            .request_timeout(self.options.timeout)
            .retry(retry)
            .max_oids_per_request(self.options.max_oids_per_request)
            .engine_cache(self.engines.clone());
        if let Credentials::V3(v3) = credentials {
            builder =
                builder.allow_unauthenticated_v3_time_correction(v3.accept_unauthenticated_reports);
            if let Some(des) = &self.des {
                builder = builder.des_salt_state(des.clone());
            }
        }
        let client = builder
            .build_with_transport(transport.clone())
            .map_err(fail)?;
        Ok(Session {
            client,
            transport,
            version,
            options: self.options,
            requests: self.requests.clone(),
            target,
            engines: self.engines.clone(),
            facts,
        })
    }
}

/// What classification knows of an entry before anything is sent.
fn entry_facts(version: Version, credentials: &Credentials) -> Facts {
    let mut facts = Facts {
        version: Some(version),
        ..Facts::default()
    };
    if let Credentials::V3(v3) = credentials {
        facts.privacy = v3.privacy.is_some();
        facts.context = v3.context.clone();
        facts.accept_reports = v3.accept_unauthenticated_reports;
    }
    facts
}

/// The library's authentication settings of an entry.
fn auth(version: Version, credentials: &Credentials) -> Result<Auth, Error> {
    let v3 = match credentials {
        Credentials::Community(c) => {
            let community = c.expose().as_bytes().to_vec();
            return Ok(match version {
                Version::V1 => Auth::v1(community),
                _ => Auth::v2c(community),
            });
        }
        Credentials::V3(v3) => v3,
    };
    let bad = |e: async_snmp::CryptoError| Error {
        cause: FailureCause::Authentication,
        detail: format!("SNMPv3 settings rejected: {e}"),
    };
    let usm =
        UsmConfig::new(v3.user.clone().into_bytes()).context_name(v3.context.clone().into_bytes());
    let usm = match (&v3.auth, &v3.privacy) {
        (None, _) => usm,
        (Some((a, pass)), None) => usm.auth(auth_protocol(*a), pass.expose()).map_err(bad)?,
        (Some((a, apass)), Some((p, ppass))) => usm
            .auth_priv(
                auth_protocol(*a),
                apass.expose(),
                priv_protocol(*p),
                ppass.expose(),
            )
            .map_err(bad)?,
    };
    Ok(Auth::Usm(usm))
}

fn auth_protocol(p: AuthProtocol) -> async_snmp::AuthProtocol {
    use async_snmp::AuthProtocol as A;
    match p {
        AuthProtocol::Md5 => A::Md5,
        AuthProtocol::Sha1 => A::Sha1,
        AuthProtocol::Sha224 => A::Sha224,
        AuthProtocol::Sha256 => A::Sha256,
        AuthProtocol::Sha384 => A::Sha384,
        AuthProtocol::Sha512 => A::Sha512,
    }
}

fn priv_protocol(p: PrivProtocol) -> async_snmp::PrivProtocol {
    use async_snmp::PrivProtocol as P;
    match p {
        PrivProtocol::Des => P::Des,
        PrivProtocol::Aes128 => P::Aes128,
        PrivProtocol::Aes192 => P::Aes192Blumenthal,
        PrivProtocol::Aes256 => P::Aes256Blumenthal,
        PrivProtocol::Aes192c => P::Aes192Reeder,
        PrivProtocol::Aes256c => P::Aes256Reeder,
    }
}

async fn resolve(address: &str, timeout: Duration) -> Result<std::net::SocketAddr, Error> {
    let unreachable = |detail: String| Error {
        cause: FailureCause::Unreachable,
        detail,
    };
    let lookup = tokio::time::timeout(timeout, tokio::net::lookup_host(address.to_owned()))
        .await
        .map_err(|_| unreachable(format!("looking up {address} took longer than {timeout:?}")))?
        .map_err(|e| unreachable(format!("cannot resolve {address}: {e}")))?;
    let mut addrs: Vec<_> = lookup.collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| unreachable(format!("{address} resolves to no address")))
}

impl Session {
    /// GETs scalars, as few requests as the agent allows. OIDs the agent does not
    /// have (noSuchObject, noSuchInstance, endOfMibView; v1 noSuchName) are left
    /// out of the answer, never an error.
    pub async fn get(&self, oids: &[Oid]) -> Result<HashMap<Oid, Scalar>, Error> {
        let mut wanted: Vec<async_snmp::Oid> = oids.iter().map(lib_oid).collect();
        let mut out = HashMap::with_capacity(oids.len());
        // v1 agents answer noSuchName for a whole request: drop that OID and resend.
        for _ in 0..=oids.len() {
            if wanted.is_empty() {
                return Ok(out);
            }
            self.count(wanted.len().div_ceil(self.options.max_oids_per_request));
            match self.client.get_many(&wanted).await {
                Ok(response) => {
                    if !response.anomalies.is_empty() {
                        return Err(malformed(format!(
                            "the answer does not match the request: {:?}",
                            response.anomalies
                        )));
                    }
                    for vb in response.varbinds {
                        if let Some(scalar) = to_scalar(vb.value) {
                            out.insert(Oid::from_slice(vb.oid.arcs()), scalar);
                        }
                    }
                    self.check_context(&wanted, &out)?;
                    return Ok(out);
                }
                Err(e) => match no_such_name(&e, &wanted) {
                    Some(missing) => wanted.retain(|o| *o != missing),
                    None => return Err(self.fail(&e)),
                },
            }
        }
        Err(malformed("the agent kept answering noSuchName".into()))
    }

    /// Reads table columns (GETBULK; GETNEXT on v1) and returns every
    /// (OID, value) inside them. Stops at the end of each column.
    pub async fn columns(&self, columns: &[Oid]) -> Result<Vec<(Oid, Scalar)>, Error> {
        let mut walk = Walk::new(columns);
        let mut out = Vec::new();
        // Some agents answer GETBULK with genErr or tooBig (seen with net-snmp
        // over v3) or not at all: then walk on with GETNEXT.
        let mut bulk = self.version != Version::V1;
        // A guard against agents that never end a column.
        for _ in 0..1000 {
            if walk.at.is_empty() {
                return Ok(out);
            }
            let varbinds = match self.step(&walk.at, bulk).await {
                Ok(v) => v,
                Err(e)
                    if bulk
                        && matches!(
                            e.exchange_source(),
                            LibError::Snmp { .. } | LibError::Timeout { .. }
                        ) =>
                {
                    tracing::debug!("GETBULK refused ({e}); walking with GETNEXT");
                    bulk = false;
                    continue;
                }
                Err(e) => match no_such_name(&e, &walk.at) {
                    // v1: GETNEXT past the end of the MIB.
                    Some(done) => {
                        walk.retain(|at| *at != done);
                        continue;
                    }
                    None => return Err(self.fail(&e)),
                },
            };
            advance(&mut walk, varbinds, &mut out)?;
        }
        Err(malformed(
            "a table never ended (more than 1000 requests)".into(),
        ))
    }

    /// The most OIDs one GET carries.
    pub fn max_oids(&self) -> usize {
        self.options.max_oids_per_request
    }

    /// An empty v3 answer in a named context to a GET that asked for
    /// sysObjectID.0, which every agent has: some agents (async-snmp's, hence
    /// `telleverk simulate`) answer noSuchObject for every object of a context
    /// they do not know instead of reporting snmpUnknownContexts.
    fn check_context(
        &self,
        asked: &[async_snmp::Oid],
        answer: &HashMap<Oid, Scalar>,
    ) -> Result<(), Error> {
        let asked_sys_object_id = asked.iter().any(|o| o.arcs() == SYS_OBJECT_ID);
        if self.version != Version::V3
            || self.facts.context.is_empty()
            || !asked_sys_object_id
            || !answer.is_empty()
        {
            return Ok(());
        }
        let how = format!(
            "it answered none of the {} objects asked for, not even sysObjectID.0",
            asked.len()
        );
        Err(Error {
            cause: FailureCause::AgentError,
            detail: classify::unknown_context(&self.facts.context, &how),
        })
    }

    /// Classifies a failed exchange with what this session has seen.
    fn fail(&self, e: &LibError) -> Error {
        let facts = Facts {
            engine_known: self.engines.get(&self.target).is_some(),
            undecodable: self.transport.undecodable(),
            ..self.facts.clone()
        };
        classify(e, &facts)
    }

    fn count(&self, requests: usize) {
        self.requests.fetch_add(requests as u64, Ordering::Relaxed);
    }

    async fn step(
        &self,
        next: &[async_snmp::Oid],
        bulk: bool,
    ) -> Result<Vec<async_snmp::VarBind>, Box<LibError>> {
        self.count(1);
        if bulk {
            let repetitions = (self.options.max_bulk_varbinds / next.len().max(1) as u32).max(1);
            self.client.get_bulk(next, 0, repetitions).await
        } else {
            Ok(self.client.get_next_many(next).await?.varbinds)
        }
    }
}

/// sysObjectID.0 (SNMPv2-MIB).
const SYS_OBJECT_ID: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];

/// The columns a table walk still reads, in the library's OID type so each
/// request is sent from them as they are: each column's root and the last
/// OID read in it (where the next request starts), side by side.
struct Walk {
    roots: Vec<async_snmp::Oid>,
    at: Vec<async_snmp::Oid>,
}

impl Walk {
    fn new(columns: &[Oid]) -> Walk {
        let roots: Vec<async_snmp::Oid> = columns.iter().map(lib_oid).collect();
        Walk {
            at: roots.clone(),
            roots,
        }
    }

    /// Keeps the columns whose last OID passes `keep`.
    fn retain(&mut self, mut keep: impl FnMut(&async_snmp::Oid) -> bool) {
        let kept: Vec<bool> = self.at.iter().map(&mut keep).collect();
        let mut flags = kept.iter();
        self.roots.retain(|_| *flags.next().unwrap_or(&false));
        let mut flags = kept.iter();
        self.at.retain(|_| *flags.next().unwrap_or(&false));
    }
}

/// Files the GETBULK/GETNEXT answer (row-major: repetition r, column c) and
/// drops the columns that ended. Each answer's OID moves into its column's
/// cursor: no OID is copied but the ones filed in `out`.
fn advance(
    walk: &mut Walk,
    varbinds: Vec<async_snmp::VarBind>,
    out: &mut Vec<(Oid, Scalar)>,
) -> Result<(), Error> {
    let width = walk.at.len();
    if varbinds.is_empty() {
        return Err(malformed("an empty answer to a table request".into()));
    }
    let mut ended = vec![false; width];
    // Nearly every answer is a row: one growth of `out` instead of several.
    out.reserve(varbinds.len());
    for (i, vb) in varbinds.into_iter().enumerate() {
        let col = i % width;
        if ended[col] {
            continue;
        }
        let oid = vb.oid.arcs();
        if matches!(vb.value, Value::EndOfMibView) || !oid.starts_with(walk.roots[col].arcs()) {
            ended[col] = true;
            continue;
        }
        let last = walk.at[col].arcs();
        if oid <= last {
            return Err(malformed(format!(
                "the agent went backwards in a table: {} after {}",
                Oid::from_slice(oid),
                Oid::from_slice(last)
            )));
        }
        if let Some(scalar) = to_scalar(vb.value) {
            out.push((Oid::from_slice(oid), scalar));
        }
        walk.at[col] = vb.oid;
    }
    let mut flags = ended.into_iter();
    walk.retain(|_| !flags.next().unwrap_or(true));
    Ok(())
}

/// The library's form of an OID.
fn lib_oid(oid: &Oid) -> async_snmp::Oid {
    async_snmp::Oid::from_slice(oid.arcs())
}

/// The OID a v1 noSuchName error points at.
fn no_such_name(e: &LibError, sent: &[async_snmp::Oid]) -> Option<async_snmp::Oid> {
    match e.exchange_source() {
        LibError::Snmp {
            status: ErrorStatus::NoSuchName,
            oid,
            index,
            ..
        } => oid
            .as_deref()
            .cloned()
            .or_else(|| sent.get((*index as usize).checked_sub(1)?).cloned()),
        _ => None,
    }
}

fn to_scalar(value: Value) -> Option<Scalar> {
    Some(match value {
        Value::Integer(v) => Scalar::Int(i64::from(v), Syntax::Integer),
        Value::Counter32(v) => Scalar::Int(i64::from(v), Syntax::Counter32),
        Value::Gauge32(v) | Value::UInteger32(v) => Scalar::Int(i64::from(v), Syntax::Gauge32),
        Value::Counter64(v) => match i64::try_from(v) {
            Ok(v) => Scalar::Int(v, Syntax::Counter64),
            Err(_) => Scalar::TooLarge(v),
        },
        Value::TimeTicks(_) => Scalar::Other("TimeTicks"),
        Value::OctetString(bytes) => Scalar::Text(bytes.to_vec()),
        Value::ObjectIdentifier(oid) => Scalar::ObjectId(Oid::from_slice(oid.arcs())),
        Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView | Value::Null => {
            return None;
        }
        Value::IpAddress(_) => Scalar::Other("an IpAddress"),
        _ => Scalar::Other("an unexpected SNMP type"),
    })
}

fn malformed(detail: String) -> Error {
    Error {
        cause: FailureCause::Malformed,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vb(oid: &str, value: Value) -> async_snmp::VarBind {
        async_snmp::VarBind {
            oid: async_snmp::Oid::parse(oid).unwrap(),
            value,
        }
    }

    #[test]
    fn advance_files_rows_and_ends_columns() {
        let c5: Oid = "1.3.6.1.2.1.43.11.1.1.5".parse().unwrap();
        let c9: Oid = "1.3.6.1.2.1.43.11.1.1.9".parse().unwrap();
        let mut walk = Walk::new(&[c5, c9]);
        let answer = vec![
            vb("1.3.6.1.2.1.43.11.1.1.5.1.1", Value::Integer(3)),
            vb("1.3.6.1.2.1.43.11.1.1.9.1.1", Value::Integer(80)),
            vb("1.3.6.1.2.1.43.11.1.1.6.1.1", Value::Integer(0)),
            vb("1.3.6.1.2.1.43.11.1.1.9.1.4", Value::Integer(-2)),
        ];
        let mut out = Vec::new();
        advance(&mut walk, answer, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(walk.at.len(), 1);
        assert_eq!(walk.at[0].to_string(), "1.3.6.1.2.1.43.11.1.1.9.1.4");
        assert_eq!(walk.roots[0].to_string(), "1.3.6.1.2.1.43.11.1.1.9");
    }

    #[test]
    fn advance_rejects_an_agent_that_goes_backwards() {
        let c5: Oid = "1.3.6.1.2.1.43.11.1.1.5".parse().unwrap();
        let mut walk = Walk::new(&[c5]);
        walk.at[0] = async_snmp::Oid::parse("1.3.6.1.2.1.43.11.1.1.5.1.3").unwrap();
        let answer = vec![vb("1.3.6.1.2.1.43.11.1.1.5.1.2", Value::Integer(3))];
        let err = advance(&mut walk, answer, &mut Vec::new()).unwrap_err();
        assert_eq!(err.cause, FailureCause::Malformed);
    }
}
