//! Checks one `[[device]]` entry and the entries together.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{ConfigError, Ctx, DeviceEntry, HandDevice, RawDevice, RawV3};
use crate::profile::Profiles;
use crate::secret::Secret;
use crate::snmp::{Credentials, V3, Version};

/// The longest community, in octets (an OCTET STRING agents accept).
const MAX_COMMUNITY: usize = 255;

/// The longest SNMPv3 user name or context, in octets: SnmpAdminString's
/// size (RFC 3411).
const MAX_ADMIN_STRING: usize = 32;

impl Ctx<'_> {
    /// An entry with a serial and no address is a device read by hand; it may
    /// carry per-device settings but no SNMP keys.
    pub(super) fn hand_device(
        &self,
        index: usize,
        raw: &Spanned<RawDevice>,
    ) -> Result<Option<HandDevice>, ConfigError> {
        let d = raw.get_ref();
        let (None, Some(serial)) = (&d.address, &d.serial) else {
            return Ok(None);
        };
        let table = format!("device[{index}]");
        let snmp_key = [
            ("version", d.version.is_some()),
            ("community", d.community.is_some()),
            ("community_env", d.community_env.is_some()),
            ("profile", d.profile.is_some()),
            ("v3", d.v3.is_some()),
        ]
        .into_iter()
        .find(|(_, set)| *set);
        if let Some((key, _)) = snmp_key {
            return Err(self.at(
                raw,
                &format!("{table}.address"),
                format!("is required with `{key}`; without an address the entry is a device read by hand"),
            ));
        }
        Ok(Some(HandDevice {
            serial: serial.get_ref().clone(),
            location: d.location.clone(),
            large_counts_double: d.large_counts_double.as_ref().is_some_and(|f| *f.get_ref()),
            mono: d.mono.as_ref().is_some_and(|f| *f.get_ref()),
        }))
    }

    pub(super) fn device(
        &self,
        index: usize,
        raw: &Spanned<RawDevice>,
        profiles: &Profiles,
    ) -> Result<DeviceEntry, ConfigError> {
        let table = format!("device[{index}]");
        let d = raw.get_ref();
        let Some(address) = &d.address else {
            return Err(self.at(raw, &format!("{table}.address"), "is required"));
        };
        let address_text = address.0.clone();
        let version = self.version(d, &table, raw)?;
        let credentials = match (&d.v3, version) {
            (Some(v3), _) => {
                if let Some(c) = d.community.as_ref().or(d.community_env.as_ref()) {
                    return Err(self.at(
                        c,
                        &format!("{table}.community"),
                        "cannot be used together with [device.v3]",
                    ));
                }
                Credentials::V3(self.v3(v3, &format!("{table}.v3"))?)
            }
            (None, _) => {
                match self.secret(&d.community, &d.community_env, "community", &table)? {
                    Some(c) => Credentials::Community(self.community(c, d, &table)?),
                    None => return Err(self.at(
                        raw,
                        &format!("{table}.community"),
                        "is required for SNMP v1/v2c (or `community_env`, or a [device.v3] table)",
                    )),
                }
            }
        };
        let serial = d.serial.as_ref().map(|s| s.get_ref().clone());
        for (key, flag) in [
            ("large_counts_double", &d.large_counts_double),
            ("mono", &d.mono),
        ] {
            if let Some(flag) = flag
                && serial.is_none()
            {
                return Err(self.at(
                    flag,
                    &format!("{table}.{key}"),
                    "needs `serial` in the same entry: the setting belongs to one device",
                ));
            }
        }
        if let Some(p) = &d.profile
            && profiles.get(p.get_ref()).is_none()
        {
            let known: Vec<&str> = profiles.ids().collect();
            return Err(self.at(
                p,
                &format!("{table}.profile"),
                format!("no profile `{}` (known: {})", p.get_ref(), known.join(", ")),
            ));
        }
        let key = entry_key(&address_text, version, &credentials);
        Ok(DeviceEntry {
            index,
            address: address_text,
            version,
            credentials,
            serial,
            location: d.location.clone(),
            large_counts_double: d.large_counts_double.as_ref().is_some_and(|f| *f.get_ref()),
            mono: d.mono.as_ref().is_some_and(|f| *f.get_ref()),
            profile: d.profile.as_ref().map(|p| p.get_ref().clone()),
            key,
        })
    }

    fn version(
        &self,
        d: &RawDevice,
        table: &str,
        raw: &Spanned<RawDevice>,
    ) -> Result<Version, ConfigError> {
        let key = format!("{table}.version");
        let version = match &d.version {
            None if d.v3.is_some() => Version::V3,
            None => Version::V2c,
            Some(v) => v.get_ref().0,
        };
        match (version, &d.v3, &d.version) {
            (Version::V3, None, _) => {
                Err(self.at(raw, &key, "version \"3\" needs a [device.v3] table"))
            }
            (Version::V1 | Version::V2c, Some(_), Some(v)) => {
                Err(self.at(v, &key, "a [device.v3] table means version \"3\""))
            }
            _ => Ok(version),
        }
    }

    /// A community of 1 to 255 octets: an SNMP OCTET STRING agents accept
    /// (an empty one is no credential; a longer one no device takes).
    fn community(
        &self,
        community: Secret,
        d: &RawDevice,
        table: &str,
    ) -> Result<Secret, ConfigError> {
        let len = community.expose().len();
        if (1..=MAX_COMMUNITY).contains(&len) {
            return Ok(community);
        }
        let (key, span) = match (&d.community, &d.community_env) {
            (Some(c), _) => ("community", c),
            (None, Some(e)) => ("community_env", e),
            (None, None) => return Ok(community),
        };
        Err(self.at(
            span,
            &format!("{table}.{key}"),
            format!(
                "the community is {len} octets: it must be 1 to {MAX_COMMUNITY} octets \
                 (an empty community is no credential, and no agent takes a longer one)"
            ),
        ))
    }

    pub(super) fn v3(&self, raw: &Spanned<RawV3>, table: &str) -> Result<V3, ConfigError> {
        let v = raw.get_ref();
        let user = v.user.0.clone();
        for (key, text, min) in [("user", &user, 1), ("context", &v.context, 0)] {
            let len = text.len();
            if !(min..=MAX_ADMIN_STRING).contains(&len) {
                return Err(self.at(
                    raw,
                    &format!("{table}.{key}"),
                    format!(
                        "is {len} octets: an SNMPv3 {key} is an SnmpAdminString of \
                         {min} to {MAX_ADMIN_STRING} octets (RFC 3411, RFC 3414)"
                    ),
                ));
            }
        }
        let auth_protocol = v.auth_protocol.and_then(|p| p.0);
        let auth_password = self.secret(
            &v.auth_password,
            &v.auth_password_env,
            "auth_password",
            table,
        )?;
        let privacy_protocol = v.privacy_protocol.and_then(|p| p.0);
        let privacy_password = self.secret(
            &v.privacy_password,
            &v.privacy_password_env,
            "privacy_password",
            table,
        )?;
        let auth = self.paired(auth_protocol, auth_password, raw, table, "auth")?;
        let privacy = self.paired(privacy_protocol, privacy_password, raw, table, "privacy")?;
        if privacy.is_some() && auth.is_none() {
            return Err(self.at(
                raw,
                &format!("{table}.privacy_protocol"),
                "privacy needs authentication: set `auth_protocol` and `auth_password`",
            ));
        }
        Ok(V3 {
            user,
            auth,
            privacy,
            context: v.context.clone(),
            accept_unauthenticated_reports: v.accept_unauthenticated_reports,
        })
    }

    /// A protocol and its password: both or neither; passwords of 8 bytes or more.
    fn paired<P>(
        &self,
        protocol: Option<P>,
        password: Option<Secret>,
        raw: &Spanned<RawV3>,
        table: &str,
        what: &str,
    ) -> Result<Option<(P, Secret)>, ConfigError> {
        let proto_key = format!("{table}.{what}_protocol");
        let pass_key = format!("{table}.{what}_password");
        match (protocol, password) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(self.at(
                raw,
                &pass_key,
                format!("is required when `{what}_protocol` is set (or `{what}_password_env`)"),
            )),
            (None, Some(_)) => Err(self.at(
                raw,
                &proto_key,
                format!("is required when `{what}_password` is set"),
            )),
            (Some(_), Some(p)) if p.expose().len() < 8 => {
                Err(self.at(raw, &pass_key, "must be at least 8 characters (RFC 3414)"))
            }
            (Some(proto), Some(p)) => Ok(Some((proto, p))),
        }
    }

    pub(super) fn check_devices(
        &self,
        devices: &[DeviceEntry],
        raw: &[Spanned<RawDevice>],
    ) -> Result<(), ConfigError> {
        let mut keys: HashMap<&str, usize> = HashMap::new();
        let mut by_serial: HashMap<&str, &DeviceEntry> = HashMap::new();
        for d in devices {
            if let Some(first) = keys.insert(&d.key, d.index) {
                return Err(self.at(&raw[d.index], &format!("device[{}]", d.index), format!("is the same endpoint as device[{first}] (same address, version and credentials)")));
            }
            let Some(serial) = &d.serial else { continue };
            if let Some(other) = by_serial.insert(serial, d) {
                let disagree = [
                    (
                        "large_counts_double",
                        other.large_counts_double != d.large_counts_double,
                    ),
                    ("mono", other.mono != d.mono),
                    ("location", other.location != d.location),
                    ("profile", other.profile != d.profile),
                ];
                if let Some((key, _)) = disagree.iter().find(|(_, differs)| *differs) {
                    return Err(self.at(
                        &raw[d.index],
                        &format!("device[{}].{key}", d.index),
                        format!(
                            "device[{}] names the same serial `{serial}` with a different `{key}`",
                            other.index
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An SNMP address as `host:port` (IPv6 hosts in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Address(pub String);

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        parse_address(&text).map(Address).map_err(de::Error::custom)
    }
}

/// Checks `host`, `host:port`, `[v6]:port` or a bare IPv6 address and returns
/// `host:port` with the default port 161.
fn parse_address(text: &str) -> Result<String, String> {
    let text = text.trim();
    let bad = |why: &str| format!("`{text}` is not a valid address: {why}");
    if text.is_empty() {
        return Err(bad("empty"));
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 161).to_string());
    }
    if let Ok(sa) = text.parse::<std::net::SocketAddr>() {
        if sa.port() == 0 {
            return Err(bad("port 0"));
        }
        return Ok(sa.to_string());
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => {
            let port: u16 = p
                .parse()
                .map_err(|_| bad("the port must be a number from 1 to 65535"))?;
            if port == 0 {
                return Err(bad("port 0"));
            }
            (h, port)
        }
        None => (text, 161),
    };
    if host.starts_with('[') || host.contains(':') {
        return Err(bad("an IPv6 address with a port is written [addr]:port"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.len() > 253 || !host.trim_end_matches('.').split('.').all(label_ok) {
        return Err(bad("not an IP address or host name"));
    }
    if host
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad("not a valid IPv4 address"));
    }
    Ok(format!("{host}:{port}"))
}

/// An identity for the entry that survives restarts and reordering and holds
/// no secret: address, version and user/context (v3) or address and version
/// (v1/v2c; [`Ctx::key_entries`] tells entries that share them apart).
fn entry_key(address: &str, version: Version, credentials: &Credentials) -> String {
    match credentials {
        Credentials::V3(v3) => format!("{address} v3 user={} context={}", v3.user, v3.context),
        Credentials::Community(_) => format!("{address} v{}", version.name()),
    }
}

/// The key telleverk gave a community entry before keys held no value
/// derived from the community: an unkeyed fingerprint, which a short word
/// list recovers. Only to find such entries in an older database and give
/// them their new key.
fn legacy_entry_key(address: &str, version: Version, community: &Secret) -> String {
    let digest = Sha256::digest(format!("telleverk-endpoint\0{}", community.expose()).as_bytes());
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{address} v{} community#{short}", version.name())
}

/// The file beside the database that keys the fingerprints of communities
/// sharing an address: `telleverk.db.key`, readable by its owner only.
pub fn fingerprint_key_path(storage_path: &Path) -> PathBuf {
    let mut name = storage_path.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The fingerprint key: read, or made (32 random bytes, mode 0600) the
/// first time it is needed.
fn fingerprint_key(storage_path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = fingerprint_key_path(storage_path);
    match std::fs::read(&path) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "shorter than 32 bytes; restore it from a backup, or delete it (the entries sharing an address then start anew)",
            ));
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

impl Ctx<'_> {
    /// Community entries that share address and version (one agent serving
    /// several devices by community, like the simulator) get a fingerprint
    /// of the community keyed by a file beside the database, which the
    /// database and the API never see; an entry alone at its address needs
    /// none.
    pub(super) fn key_entries(
        &self,
        devices: &mut [DeviceEntry],
        storage_path: &Path,
    ) -> Result<(), ConfigError> {
        let mut sharing: HashMap<String, usize> = HashMap::new();
        for d in devices.iter() {
            if matches!(d.credentials, Credentials::Community(_)) {
                *sharing.entry(d.key.clone()).or_default() += 1;
            }
        }
        if sharing.values().all(|n| *n < 2) {
            return Ok(());
        }
        let key = fingerprint_key(storage_path).map_err(|e| ConfigError {
            file: self.file.clone(),
            line: None,
            key: "storage.path".into(),
            message: format!(
                "{}: cannot read or make the key of community fingerprints: {e}",
                fingerprint_key_path(storage_path).display()
            ),
        })?;
        for d in devices.iter_mut() {
            let Credentials::Community(c) = &d.credentials else {
                continue;
            };
            if sharing.get(&d.key).is_some_and(|n| *n > 1) {
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
                mac.update(c.expose().as_bytes());
                let digest = mac.finalize().into_bytes();
                let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
                d.key = format!("{} community#k{short}", d.key);
            }
        }
        Ok(())
    }
}

impl DeviceEntry {
    /// This entry's key in an older database (a community entry's unkeyed
    /// fingerprint), when it had another.
    pub fn legacy_key(&self) -> Option<String> {
        match &self.credentials {
            Credentials::Community(c) => Some(legacy_entry_key(&self.address, self.version, c)),
            Credentials::V3(_) => None,
        }
    }
}
