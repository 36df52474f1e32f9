//! `telleverk discover`: asks every address of the ranges for its identity
//! with each `[discovery]` credential and lists the printers found, the
//! other SNMP devices apart, and whether the config polls them already.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use tokio::task::JoinSet;

use super::InputError;
use crate::config::{Config, SecretUse};
use crate::discover::{MAX_ADDRESSES, Range, address};
use crate::oid::{Oid, Scalar};
use crate::profile::{Profiles, sys_object_id};
use crate::snmp::{Credentials, Options, Snmp, Version};

/// prtGeneralSerialNumber.1 and prtMarkerLifeCount.1.1: a device answering
/// either has the Printer-MIB.
const PRINTER_MIB: [&str; 2] = ["1.3.6.1.2.1.43.5.1.1.17.1", "1.3.6.1.2.1.43.10.2.1.4.1.1"];

/// What `telleverk discover` was asked for.
#[derive(Debug, Clone, clap::Args)]
pub struct Discover {
    /// The configuration file: its `[discovery]` credentials, and its
    /// entries, to tell which devices are polled already.
    #[arg(long)]
    pub config: PathBuf,
    /// The UDP port asked on every address.
    #[arg(long, default_value_t = 161)]
    pub port: u16,
    /// Address ranges: a CIDR (10.20.0.0/22), a span (10.20.0.10-40) or a host.
    #[arg(required = true)]
    pub ranges: Vec<String>,
    /// One JSON object per device found and line.
    #[arg(long)]
    pub json: bool,
    /// Append a `[[device]]` block for each printer found that the config
    /// does not poll yet to this file (communities as `community_env`).
    #[arg(long)]
    pub write: Option<PathBuf>,
    /// Scan more than a /16 (65 536 addresses).
    #[arg(long)]
    pub force: bool,
}

/// A device that answered.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub address: String,
    /// Has the Printer-MIB (a serial or a life count answered).
    pub printer: bool,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub profile: Option<String>,
    pub sys_object_id: Option<String>,
    pub sys_descr: Option<String>,
    pub version: &'static str,
    /// Which credential answered: `communities[0]` or `$VARIABLE`.
    pub credential: String,
    /// Whether the config polls it (by serial or by address).
    pub configured: bool,
}

pub async fn discover(config: Config, args: Discover, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut ranges = Vec::new();
    for text in &args.ranges {
        ranges.push(Range::parse(text).map_err(|e| InputError(e.to_string()))?);
    }
    let total: u64 = ranges.iter().map(Range::len).sum();
    if total > MAX_ADDRESSES && !args.force {
        return Err(InputError(format!(
            "the ranges hold {total} addresses, more than a /16 ({MAX_ADDRESSES}): give --force to scan them all"
        ))
        .into());
    }
    config.require(&[SecretUse::Discovery])?;
    let discovery = &config.discovery;
    if discovery.credentials.is_empty() {
        return Err(InputError(format!(
            "{}: [discovery] lists no credential: add `communities = [\"public\"]` `community_env = [\"VARIABLE\"]` or a [[discovery.v3]] user",
            config.file.display()
        ))
        .into());
    }
    let snmp = Arc::new(Snmp::new(
        Options {
            timeout: discovery.timeout,
            retries: discovery.retries,
            ..Options::default()
        },
        None,
    ));
    let probe = Arc::new(Probe::new(
        snmp.clone(),
        config.profiles.clone(),
        discovery.credentials.clone(),
    ));
    let started = crate::clock::Stopwatch::start();
    let mut targets = ranges.iter().flat_map(Range::hosts);
    let mut tasks = JoinSet::new();
    let mut found = Vec::new();
    loop {
        if tasks.len() < discovery.concurrency
            && let Some(host) = targets.next()
        {
            let probe = probe.clone();
            let target = address(&host, args.port);
            tasks.spawn(async move { probe.ask(target).await });
            continue;
        }
        match tasks.join_next().await {
            Some(Ok(Some(f))) => found.push(f),
            Some(Ok(None)) => {}
            Some(Err(e)) => return Err(e).context("a probe failed"),
            None => break,
        }
    }
    let took = started.elapsed();
    let serials: HashSet<&str> = config
        .devices
        .iter()
        .filter_map(|d| d.serial.as_deref())
        .chain(config.hand_read.iter().map(|h| h.serial.as_str()))
        .collect();
    let addresses: HashSet<&str> = config.devices.iter().map(|d| d.address.as_str()).collect();
    for f in &mut found {
        f.configured = addresses.contains(f.address.as_str())
            || f.serial.as_deref().is_some_and(|s| serials.contains(s));
    }
    found.sort_by_key(|f| {
        let ip: Option<std::net::IpAddr> = f
            .address
            .rsplit_once(':')
            .and_then(|(h, _)| h.trim_matches(['[', ']']).parse().ok());
        (!f.printer, ip, f.address.clone())
    });
    if args.json {
        for f in &found {
            writeln!(out, "{}", serde_json::to_string(f)?)?;
        }
    } else {
        text(&found, total, took, snmp.requests(), out)?;
    }
    if let Some(path) = &args.write {
        let blocks = device_blocks(&found, &config);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(blocks.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !args.json {
            let new = found.iter().filter(|f| f.printer && !f.configured).count();
            writeln!(
                out,
                "{new} [[device]] blocks appended to {}",
                path.display()
            )?;
        }
    }
    Ok(())
}

/// What every address is asked with, made once for the scan.
struct Probe {
    snmp: Arc<Snmp>,
    profiles: Profiles,
    credentials: Vec<(String, Version, Credentials)>,
    /// The Printer-MIB's serial and life count.
    printer_oids: Vec<Oid>,
    /// Every profile's scalars and those two: one GET.
    asked: Vec<Oid>,
}

impl Probe {
    fn new(
        snmp: Arc<Snmp>,
        profiles: Profiles,
        credentials: Vec<(String, Version, Credentials)>,
    ) -> Probe {
        let printer_oids: Vec<Oid> = PRINTER_MIB.iter().filter_map(|o| o.parse().ok()).collect();
        let mut asked: Vec<Oid> = profiles.all_scalar_oids().to_vec();
        for oid in &printer_oids {
            if !asked.contains(oid) {
                asked.push(oid.clone());
            }
        }
        Probe {
            snmp,
            profiles,
            credentials,
            printer_oids,
            asked,
        }
    }

    /// Asks one address with each credential in turn; the first that
    /// answers says what is there. None: nothing answered.
    async fn ask(&self, target: String) -> Option<Found> {
        let Probe {
            snmp,
            profiles,
            credentials,
            printer_oids,
            asked,
        } = self;
        for (name, version, credentials) in credentials {
            let Ok(session) = snmp.session(&target, *version, credentials).await else {
                continue;
            };
            let Ok(values) = session.get(asked).await else {
                continue;
            };
            let text = |oid: &Oid| match values.get(oid) {
                Some(Scalar::Text(t)) => Some(String::from_utf8_lossy(t).trim().to_owned()),
                _ => None,
            };
            let object_id = match values.get(&sys_object_id()) {
                Some(Scalar::ObjectId(o)) => Some(o.clone()),
                _ => None,
            };
            let profile = object_id.as_ref().and_then(|o| profiles.choose(o));
            let evaluated = profile.map(|p| p.evaluate(&values));
            let printer = printer_oids.iter().any(|o| values.contains_key(o));
            return Some(Found {
                address: target,
                printer,
                serial: evaluated
                    .as_ref()
                    .and_then(|e| e.serial.clone())
                    .or_else(|| text(&printer_oids[0]))
                    .filter(|s| !s.is_empty()),
                model: evaluated.as_ref().and_then(|e| e.model.clone()),
                profile: profile.map(|p| p.id.clone()),
                sys_object_id: object_id.map(|o| o.to_string()),
                sys_descr: text(&crate::profile::sys_descr()),
                version: version.name(),
                credential: name.clone(),
                configured: false,
            });
        }
        None
    }
}

fn text(
    found: &[Found],
    total: u64,
    took: std::time::Duration,
    requests: u64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let printers: Vec<&Found> = found.iter().filter(|f| f.printer).collect();
    let others: Vec<&Found> = found.iter().filter(|f| !f.printer).collect();
    writeln!(
        out,
        "{} printers and {} other SNMP devices among {total} addresses ({:.1} s, {requests} requests)",
        printers.len(),
        others.len(),
        took.as_secs_f64()
    )?;
    if !printers.is_empty() {
        writeln!(
            out,
            "{:<22} {:<16} {:<18} {:<22} {:<4} {:<16} config",
            "address", "serial", "model", "profile", "ver", "credential"
        )?;
        for f in &printers {
            writeln!(
                out,
                "{:<22} {:<16} {:<18} {:<22} {:<4} {:<16} {}",
                f.address,
                f.serial.as_deref().unwrap_or("-"),
                f.model.as_deref().unwrap_or("-"),
                f.profile.as_deref().unwrap_or("-"),
                f.version,
                f.credential,
                if f.configured { "polled" } else { "new" }
            )?;
        }
    }
    if !others.is_empty() {
        writeln!(out, "not printers (no Printer-MIB):")?;
        for f in &others {
            writeln!(
                out,
                "  {:<22} {}",
                f.address,
                f.sys_descr.as_deref().unwrap_or("-")
            )?;
        }
    }
    Ok(())
}

/// `[[device]]` blocks for the printers the config does not poll, the
/// community named by the variable it came from (a literal one by a
/// variable to set, never written out).
fn device_blocks(found: &[Found], config: &Config) -> String {
    let mut out = String::new();
    for f in found.iter().filter(|f| f.printer && !f.configured) {
        let index = config
            .discovery
            .credentials
            .iter()
            .position(|(n, _, _)| *n == f.credential)
            .unwrap_or(0);
        if let Some((_, _, Credentials::V3(v3))) = config.discovery.credentials.get(index) {
            out.push_str(&v3_block(f, v3));
            continue;
        }
        let variable = match f.credential.strip_prefix('$') {
            Some(var) => var.to_owned(),
            None => format!("TELLEVERK_COMMUNITY_{}", index + 1),
        };
        let set = if f.credential.starts_with('$') {
            String::new()
        } else {
            format!(" (set {variable} to [discovery] {})", f.credential)
        };
        out.push_str(&format!(
            "\n# Found by telleverk discover: {} {}{set}\n[[device]]\naddress = \"{}\"\n\
             version = \"2c\"\ncommunity_env = \"{variable}\"\n",
            f.model.as_deref().unwrap_or("unknown model"),
            f.serial.as_deref().unwrap_or("(no serial)"),
            f.address
        ));
    }
    out
}

/// A `[[device]]` block for a printer a `[[discovery.v3]]` user found: its
/// user, protocols and context, the passwords from variables to set.
fn v3_block(f: &Found, v3: &crate::snmp::V3) -> String {
    let mut block = format!(
        "\n# Found by telleverk discover: {} {} (set the password variables below)\n\
         [[device]]\naddress = \"{}\"\n[device.v3]\nuser = \"{}\"\n",
        f.model.as_deref().unwrap_or("unknown model"),
        f.serial.as_deref().unwrap_or("(no serial)"),
        f.address,
        v3.user
    );
    if let Some((protocol, _)) = &v3.auth {
        block.push_str(&format!(
            "auth_protocol = \"{}\"\nauth_password_env = \"TELLEVERK_V3_AUTH\"\n",
            protocol.config_name()
        ));
    }
    if let Some((protocol, _)) = &v3.privacy {
        block.push_str(&format!(
            "privacy_protocol = \"{}\"\nprivacy_password_env = \"TELLEVERK_V3_PRIV\"\n",
            protocol.config_name()
        ));
    }
    if !v3.context.is_empty() {
        block.push_str(&format!("context = \"{}\"\n", v3.context));
    }
    block
}
