//! The simulated bizhub fleet, for `telleverk demo`, `telleverk simulate`, the
//! tests and the benchmarks: [`model`] says what each device shows at an
//! instant (pure); [`agent`] serves it over real SNMP on one UDP port; and
//! [`config_text`] writes the telleverk config that polls it.

pub mod agent;
pub mod model;

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::Duration;

use model::Fleet;

/// The SNMP versions a written config polls the fleet with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Versions {
    /// Every device over v1.
    #[value(name = "1")]
    V1,
    /// Every device over v2c.
    #[value(name = "2c")]
    V2c,
    /// Every device over v3 (SHA-256, AES-128), told apart by context.
    #[value(name = "3")]
    V3,
    /// In every 20 devices, one over v1 and two over v3; the rest over v2c.
    #[value(name = "mixed")]
    Mixed,
}

/// How the written config polls.
#[derive(Debug, Clone)]
pub struct Polling {
    /// The database, as written into `[storage] path`.
    pub storage: String,
    pub interval: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    pub versions: Versions,
}

/// A telleverk config that polls every device of `fleet` at `address`.
pub fn config_text(fleet: &Fleet, address: SocketAddr, polling: &Polling) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by telleverk for its simulated fleet of {} bizhubs at {address}\n\
         # (seed {}). Poll it with: telleverk poll --once --config THIS-FILE\n\n\
         [storage]\npath = {}\n\n[collector]\ninterval = \"{}\"\nconcurrency = {}\n\
         timeout = \"{}\"\nretries = 1",
        fleet.devices.len(),
        fleet.seed,
        toml_string(&polling.storage),
        humantime::format_duration(polling.interval),
        polling.concurrency,
        humantime::format_duration(polling.timeout),
    );
    for d in &fleet.devices {
        let version = match (polling.versions, d.index % 20) {
            (Versions::Mixed, 5) | (Versions::V1, _) => "1",
            (Versions::Mixed, 10 | 15) | (Versions::V3, _) => "3",
            _ => "2c",
        };
        let _ = write!(
            out,
            "\n[[device]]\naddress = \"{address}\"\nlocation = {}\n",
            toml_string(&d.location)
        );
        let _ = match version {
            "3" => writeln!(
                out,
                "[device.v3]\nuser = \"{}\"\nauth_protocol = \"sha256\"\nauth_password = \"{}\"\n\
                 privacy_protocol = \"aes128\"\nprivacy_password = \"{}\"\ncontext = \"{}\"",
                agent::V3_USER,
                agent::V3_AUTH_PASSWORD,
                agent::V3_PRIV_PASSWORD,
                d.context
            ),
            _ => writeln!(
                out,
                "version = \"{version}\"\ncommunity = \"{}\"",
                d.community
            ),
        };
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}
