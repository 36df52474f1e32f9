//! `telleverk discover`: asks every address of the ranges for its identity
//! with each `[discovery]` credential and lists the printers found, the
//! other SNMP devices apart, and whether the config polls them already.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use super::InputError;
use crate::collector::discovery::{Found, Scan, scan};
use crate::config::{Config, SecretUse};
use crate::discover::{MAX_ADDRESSES, Range};
use crate::snmp::Credentials;

/// What `telleverk discover` was asked for.
#[derive(Debug, Clone, clap::Args)]
pub struct Discover {
    /// The configuration file: its `[discovery]` credentials, and its
    /// entries, to tell which devices are polled already.
    #[arg(long)]
    pub config: PathBuf,
    /// The UDP port asked on every address (default: `[discovery] port`, 161).
    #[arg(long)]
    pub port: Option<u16>,
    /// Address ranges: a CIDR (10.20.0.0/22), a span (10.20.0.10-40) or a
    /// host (default: `[discovery] ranges`).
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

pub async fn discover(config: Config, args: Discover, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut ranges = Vec::new();
    for text in &args.ranges {
        ranges.push(Range::parse(text).map_err(|e| InputError(e.to_string()))?);
    }
    if ranges.is_empty() {
        if config.discovery.ranges.is_empty() {
            return Err(InputError(format!(
                "no range to scan: give one (10.20.0.0/22, 10.20.0.10-40 or a host) or set [discovery] ranges in {}",
                config.file.display()
            ))
            .into());
        }
        ranges.clone_from(&config.discovery.ranges);
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
    let port = args.port.unwrap_or(discovery.port);
    let Scan {
        found,
        requests,
        took,
        ..
    } = scan(&config, &ranges, port).await;
    if args.json {
        for f in &found {
            writeln!(out, "{}", serde_json::to_string(f)?)?;
        }
    } else {
        text(&found, total, took, requests, out)?;
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
