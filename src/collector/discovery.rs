//! Discovery: asks every address of some ranges who is there (sysObjectID,
//! sysDescr, the Printer-MIB's serial) with each `[discovery]` credential;
//! and, in `serve`, rescans `[discovery] ranges` on schedule, follows each
//! entry's device to the address it is found at, and polls the new
//! Konica Minolta MFPs (`auto_add`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::{Config, DeviceEntry, discovered_key};
use crate::discover::{self, Range, Seen, Target, address};
use crate::oid::{Oid, Scalar};
use crate::profile::{Profiles, sys_object_id};
use crate::serial::Serial;
use crate::snmp::{Credentials, Options, Snmp, Version};
use crate::storage::{Added, Known, Move, Store};

/// prtGeneralSerialNumber.1 and prtMarkerLifeCount.1.1: a device answering
/// either has the Printer-MIB.
const PRINTER_MIB: [&str; 2] = ["1.3.6.1.2.1.43.5.1.1.17.1", "1.3.6.1.2.1.43.10.2.1.4.1.1"];

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

/// A scan's outcome.
pub struct Scan {
    /// Every device that answered, printers first, by address.
    pub found: Vec<Found>,
    pub addresses: u64,
    pub requests: u64,
    pub took: Duration,
}

/// Asks every address of `ranges` on `port` with the `[discovery]`
/// credentials, `concurrency` at once.
pub async fn scan(config: &Config, ranges: &[Range], port: u16) -> Scan {
    let discovery = &config.discovery;
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
        if tasks.len() < discovery.concurrency.max(1)
            && let Some(host) = targets.next()
        {
            let probe = probe.clone();
            let target = address(&host, port);
            tasks.spawn(async move { probe.ask(target).await });
            continue;
        }
        match tasks.join_next().await {
            Some(Ok(Some(f))) => found.push(f),
            Some(Ok(None)) => {}
            Some(Err(e)) => {
                tracing::error!("a discovery probe failed inside telleverk (a bug): {e}")
            }
            None => break,
        }
    }
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
    Scan {
        found,
        addresses: ranges.iter().map(Range::len).sum(),
        requests: snmp.requests(),
        took: started.elapsed(),
    }
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

/// The entries a round polls: the config's, each at the address it was
/// last found at, then (with `auto_add`) the devices discovery added that
/// no config entry polls, in the order they were found. A discovered
/// device stops being polled as such once the config names its serial,
/// polls it through an entry, or polls its address: a person added it.
pub fn targets(config: &Config, known: &Known) -> Vec<DeviceEntry> {
    let mut out: Vec<DeviceEntry> = config
        .devices
        .iter()
        .map(|d| {
            let mut d = d.clone();
            if let Some(address) = known.addresses.get(&d.key) {
                d.address.clone_from(address);
            }
            d
        })
        .collect();
    if !config.discovery.auto_add {
        return out;
    }
    let configured: HashSet<String> = out
        .iter()
        .filter_map(|d| {
            d.serial
                .as_deref()
                .or_else(|| known.serials.get(&d.key).map(Serial::as_str))
        })
        .chain(config.hand_read.iter().map(|h| h.serial.as_str()))
        .map(str::to_owned)
        .collect();
    let mut polled: HashSet<String> = out.iter().map(|d| d.address.clone()).collect();
    for found in &known.discovered {
        if configured.contains(found.serial.as_str()) || polled.contains(&found.address) {
            continue;
        }
        let Some((_, version, credentials)) = config.discovery.credential(&found.credential) else {
            tracing::warn!(
                serial = %found.serial,
                "discovered device not polled: [discovery] has no credential `{}` any more",
                found.credential
            );
            continue;
        };
        polled.insert(found.address.clone());
        out.push(DeviceEntry {
            index: out.len(),
            address: found.address.clone(),
            version: *version,
            credentials: credentials.clone(),
            serial: Some(found.serial.clone()),
            location: None,
            large_counts_double: false,
            mono: false,
            profile: None,
            key: discovered_key(&found.serial),
        });
    }
    out
}

/// What a scan changed, for the log.
#[derive(Debug, Default)]
pub struct Followed {
    pub printers: usize,
    pub moved: Vec<Move>,
    pub added: Vec<Added>,
    /// Printers found that no entry polls, not added (`auto_add` is off,
    /// or not Konica Minolta).
    pub not_polled: usize,
    /// Entries whose device was found at no address of the ranges.
    pub missing: usize,
}

/// Works out and stores what `found` means for the entries polled now
/// (`entries`): the moves, and (with `auto_add`) the new devices. Returns
/// them and the entries to poll from now on.
pub fn follow(
    config: &Config,
    store: &mut Store,
    entries: &[DeviceEntry],
    found: &[Found],
    clock: Clock,
) -> Result<(Followed, Vec<DeviceEntry>), crate::storage::Error> {
    let known = store.known()?;
    fn serial_of<'a>(d: &'a DeviceEntry, known: &'a Known) -> Option<&'a str> {
        d.serial
            .as_deref()
            .or_else(|| known.serials.get(&d.key).map(Serial::as_str))
    }
    let targets: Vec<Target<'_>> = entries
        .iter()
        .map(|d| Target {
            address: &d.address,
            serial: serial_of(d, &known),
        })
        .collect();
    let seen: Vec<Seen<'_>> = found
        .iter()
        .filter(|f| f.printer)
        .filter_map(|f| {
            Some(Seen {
                address: &f.address,
                serial: f.serial.as_deref()?,
                konica_minolta: f
                    .sys_object_id
                    .as_deref()
                    .is_some_and(discover::is_konica_minolta),
            })
        })
        .collect();
    // Devices a person placed (an entry's or a hand-read serial), and
    // those discovery added before: never added again. A serial only a
    // contract names is added when found: something must poll it.
    let named: HashSet<&str> = config
        .devices
        .iter()
        .filter_map(|d| d.serial.as_deref())
        .chain(config.hand_read.iter().map(|h| h.serial.as_str()))
        .chain(known.discovered.iter().map(|d| d.serial.as_str()))
        .collect();
    let plan = discover::plan(&targets, &seen, &named);
    let moved: Vec<Move> = plan
        .moves
        .iter()
        .filter_map(|&(t, s)| {
            Some(Move {
                entry_key: entries[t].key.clone(),
                serial: Serial::stored(targets[t].serial?),
                from: entries[t].address.clone(),
                to: seen[s].address.to_owned(),
            })
        })
        .collect();
    let new: Vec<&Found> = plan
        .new
        .iter()
        .filter_map(|&s| found.iter().find(|f| f.address == seen[s].address))
        .collect();
    let added: Vec<Added> = if config.discovery.auto_add {
        new.iter()
            .filter_map(|f| {
                let serial = Serial::parse(f.serial.as_deref()?).ok()?;
                Some(Added {
                    entry_key: discovered_key(&serial),
                    serial,
                    address: f.address.clone(),
                    credential: f.credential.clone(),
                    model: f.model.clone(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let polled: HashSet<&str> = entries.iter().map(|d| d.address.as_str()).collect();
    let followed: HashSet<&str> = targets.iter().filter_map(|t| t.serial).collect();
    let not_polled = seen
        .iter()
        .filter(|s| !polled.contains(s.address) && !followed.contains(s.serial))
        .count()
        .saturating_sub(added.len());
    let found_serials: HashSet<&str> = seen.iter().map(|s| s.serial).collect();
    let missing = targets
        .iter()
        .filter(|t| t.serial.is_some_and(|s| !found_serials.contains(s)))
        .count();
    store.record_discovery(clock.now(), &moved, &added)?;
    let next = targets_after(config, store)?;
    Ok((
        Followed {
            printers: seen.len(),
            moved,
            added,
            not_polled,
            missing,
        },
        next,
    ))
}

/// The entries to poll, from what the store knows now.
pub fn targets_after(
    config: &Config,
    store: &Store,
) -> Result<Vec<DeviceEntry>, crate::storage::Error> {
    Ok(targets(config, &store.known()?))
}

/// Scans `[discovery] ranges` now and every `rediscover` after, until
/// `shutdown`; each scan's moves and new devices go to the store and the
/// entries to poll to `entries`. A scan or a write that fails is logged
/// and tried again at the next scan: discovery never stops the service.
pub async fn run(
    config: Arc<Config>,
    store: Arc<Mutex<Store>>,
    clock: Clock,
    entries: watch::Sender<Arc<Vec<DeviceEntry>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let discovery = &config.discovery;
    if discovery.ranges.is_empty() {
        return;
    }
    tracing::info!(
        ranges = discovery.ranges.len(),
        every = ?discovery.rediscover,
        auto_add = discovery.auto_add,
        "discovery scans [discovery] ranges"
    );
    let mut ticker = tokio::time::interval(discovery.rediscover);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let scan = tokio::select! {
            scan = scan(&config, &discovery.ranges, discovery.port) => scan,
            _ = shutdown.changed() => return,
        };
        let current = entries.borrow().clone();
        let (config, store) = (config.clone(), store.clone());
        let followed = tokio::task::spawn_blocking(move || {
            let mut store = store.lock().expect("store lock");
            follow(&config, &mut store, &current, &scan.found, clock).map(|f| (f, scan))
        })
        .await;
        match followed {
            Ok(Ok(((followed, next), scan))) => {
                log_scan(&followed, &scan);
                entries.send_replace(Arc::new(next));
            }
            Ok(Err(e)) => tracing::warn!(
                "discovery could not store what it found ({e}); it tries again at the next scan"
            ),
            Err(e) => tracing::error!("discovery failed inside telleverk (a bug): {e}"),
        }
    }
}

fn log_scan(f: &Followed, scan: &Scan) {
    for m in &f.moved {
        tracing::info!(serial = %m.serial, from = %m.from, to = %m.to, entry = %m.entry_key, "device moved: polled at its new address");
    }
    for a in &f.added {
        tracing::info!(serial = %a.serial, address = %a.address, model = a.model.as_deref().unwrap_or("-"), "new device discovered: polled until a [[device]] entry names it");
    }
    tracing::info!(
        addresses = scan.addresses,
        printers = f.printers,
        moved = f.moved.len(),
        added = f.added.len(),
        not_polled = f.not_polled,
        missing = f.missing,
        requests = scan.requests,
        took_ms = scan.took.as_millis() as u64,
        "discovery scan done"
    );
}
