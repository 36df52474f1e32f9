//! Why: the web API must stay quick with a large fleet behind it (issue 5).
//! `benches/api.sh` serves the database this module builds and loads the API
//! with wrk and curl; this module only makes the data (or finds it made) and
//! prints where it is.
//!
//! Sizes: 10 000 devices, the fleet one telleverk is built for (see the
//! `fleet` bench), with a year of readings from 2025-07-01 to 2026-06-30:
//! polls at 08:00, 12:00 and 16:00 Oslo on weekdays, 7.8 M polls. Production
//! polls every 15 minutes; three polls a day keep the generation to minutes
//! and the file to a few GB, and the API finds every row it needs by key, so
//! its cost follows the devices, not the polls a day. A colour device (19 in
//! 20) reports the five meters of the counter report and nine supplies, a mono
//! one three meters and two supplies. Toner and drums drain with the pages and
//! are replaced when empty, so some are low at the end; one device in 100
//! missed its last poll (unreachable). Everything is written through
//! `Store::write_round`, one day per transaction, as the collector writes,
//! into `target/bench-data/`, and reused while `VERSION` is unchanged.
//!
//! The config beside it names every device as an SNMP entry at 127.0.0.1:9
//! (discard: nothing answers there) with its own community and location, and
//! one advance contract over the whole fleet. Its collector sends one request
//! at a time with a 10 s timeout and a yearly interval: the round that starts
//! with `serve` sends a datagram every 10 s and would take 28 hours, so it
//! stores nothing during a run and no device turns stale.

#![allow(clippy::disallowed_methods)] // benchmarks and tests measure real time

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Oslo;
use telleverk::meters::{Meter, MeterSet, MeterValue, ValueKind};
use telleverk::record::{DeviceReading, Outcome, PollRecord};
use telleverk::storage::{Purpose, Store};
use telleverk::supplies::{Supply, percent};

const DEVICES: usize = 10_000;
/// Change it whenever the data changes, so a stale database is not reused.
const VERSION: &str = "v1";
/// The Oslo hours of the polls on a weekday.
const HOURS: [u32; 3] = [8, 12, 16];
/// Per mille of a day's pages printed before each poll (none at night).
const SHARE_PM: [u64; 3] = [50, 500, 450];
/// Every device in this many answers its last poll with a timeout.
const FAILED_EVERY: usize = 100;
const MODELS: [&str; 4] = [
    "bizhub C250i",
    "bizhub C300i",
    "bizhub C360i",
    "bizhub C450i",
];
const MONO_MODEL: &str = "bizhub 4050i";
const CITIES: [&str; 8] = [
    "Oslo",
    "Bergen",
    "Trondheim",
    "Stavanger",
    "Tromsø",
    "Drammen",
    "Kristiansand",
    "Bodø",
];

/// Which pages use a supply.
#[derive(Clone, Copy)]
enum Uses {
    Colour,
    All,
    /// A waste box: reported as −3 (some remaining), never a level.
    Nothing,
}

/// One row of a device's supplies table.
struct SupplySpec {
    description: &'static str,
    kind: &'static str,
    colour: Option<&'static str>,
    /// Pages from full to empty.
    capacity: u64,
    uses: Uses,
}

const fn spec(
    description: &'static str,
    kind: &'static str,
    colour: Option<&'static str>,
    capacity: u64,
    uses: Uses,
) -> SupplySpec {
    SupplySpec {
        description,
        kind,
        colour,
        capacity,
        uses,
    }
}

const COLOUR_SUPPLIES: [SupplySpec; 9] = [
    spec("Toner (Cyan)", "toner", Some("cyan"), 21_000, Uses::Colour),
    spec(
        "Toner (Magenta)",
        "toner",
        Some("magenta"),
        21_000,
        Uses::Colour,
    ),
    spec(
        "Toner (Yellow)",
        "toner",
        Some("yellow"),
        21_000,
        Uses::Colour,
    ),
    spec("Toner (Black)", "toner", Some("black"), 28_000, Uses::All),
    spec(
        "Drum Unit (Cyan)",
        "opc",
        Some("cyan"),
        120_000,
        Uses::Colour,
    ),
    spec(
        "Drum Unit (Magenta)",
        "opc",
        Some("magenta"),
        120_000,
        Uses::Colour,
    ),
    spec(
        "Drum Unit (Yellow)",
        "opc",
        Some("yellow"),
        120_000,
        Uses::Colour,
    ),
    spec(
        "Drum Unit (Black)",
        "opc",
        Some("black"),
        120_000,
        Uses::All,
    ),
    spec("Waste Toner Box", "waste_toner", None, 0, Uses::Nothing),
];

const MONO_SUPPLIES: [SupplySpec; 2] = [
    spec(
        "Toner Cartridge (Black)",
        "toner",
        Some("black"),
        20_000,
        Uses::All,
    ),
    spec("Drum Unit", "opc", Some("black"), 80_000, Uses::All),
];

/// Builds the database and its config when missing and says where they are.
pub fn run() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let name = format!("api-{DEVICES}x1y-{VERSION}");
    let db = dir.join(format!("{name}.db"));
    let config = dir.join(format!("{name}.toml"));
    let facts = dir.join(format!("{name}.txt"));
    write_config(&config, &db);
    if !db.exists() {
        let entries = entries(&config);
        let t = Instant::now();
        let written = generate(&db, &entries);
        let text = format!("generated in {:.0} s: {written}", t.elapsed().as_secs_f64());
        std::fs::write(&facts, &text).expect("write the generation figures");
    }
    let generated = std::fs::read_to_string(&facts).unwrap_or_else(|_| "(no figures)".into());
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    format!(
        "api_seed: {DEVICES} devices, polls at 08:00, 12:00 and 16:00 Oslo on weekdays from 2025-07-01 to 2026-06-30, one advance contract over all\n\
         {generated}\n\
         database: {} ({:.0} MB)\n\
         config: {}",
        db.display(),
        size as f64 / 1e6,
        config.display()
    )
}

/// The serial of device `i`; serials sort as the devices are numbered.
fn serial(i: usize) -> String {
    format!("A7PU{i:09}")
}

/// The config: every device an entry at 127.0.0.1:9, one contract over all.
/// `api.sh` adds `[http]` (listen address and token).
fn write_config(path: &Path, db: &Path) {
    let mut text = format!(
        "# Written by benches/api_seed.rs for benches/api.sh, which adds [http].\n\
         [storage]\npath = \"{}\"\n\n\
         # Nothing answers at 127.0.0.1:9: one request at a time, each waiting\n\
         # out its timeout, keeps the collector's round quiet for 28 hours.\n\
         [collector]\ninterval = \"365d\"\nconcurrency = 1\ntimeout = \"10s\"\nretries = 0\n",
        db.display()
    );
    for i in 0..DEVICES {
        let city = CITIES[i % CITIES.len()];
        let _ = write!(
            text,
            "\n[[device]]\naddress = \"127.0.0.1:9\"\ncommunity = \"bench-{i:05}\"\nlocation = \"{city} site {}, floor {}\"\n",
            i / 400 + 1,
            i / 40 % 10 + 1
        );
    }
    text.push_str("\n[[contract]]\nid = \"FLEET\"\ndevices = [\n");
    for i in 0..DEVICES {
        let _ = write!(text, "\"{}\",", serial(i));
        if i % 8 == 7 {
            text.push('\n');
        }
    }
    text.push_str(
        "]\nstart = \"2025-07-01\"\nterm_months = 36\nbilling = \"advance\"\n\
         committed_bw = 650000000\ncommitted_colour = 200000000\nfixed_fee_monthly = \"150000.00\"\n\n\
         [[contract.price]]\nfrom = \"2025-07-01\"\nbw = \"0.0450\"\ncolour = \"0.4500\"\n",
    );
    std::fs::write(path, text).expect("write the bench config");
}

/// Each device's entry key and address, as the config resolves them, so the
/// stored polls come through exactly the configured entries.
fn entries(config: &Path) -> Vec<(String, String)> {
    let config = telleverk::config::load(config).expect("load the bench config");
    assert_eq!(config.devices.len(), DEVICES);
    config
        .devices
        .into_iter()
        .map(|d| (d.key, d.address))
        .collect()
}

/// Writes the year a day at a time and returns what was stored.
fn generate(db: &Path, entries: &[(String, String)]) -> String {
    let tmp = db.with_extension("tmp");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    let mut store = Store::open(&tmp).expect("open the bench database");
    store
        .claim(Purpose::Production)
        .expect("mark it production");
    let mut devices: Vec<Device> = (0..DEVICES).map(Device::new).collect();
    let first = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default();
    let last = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap_or_default();
    let (mut polls, mut failed, mut meter_values, mut supply_values) = (0, 0, 0, 0);
    for day in first.iter_days().take_while(|d| *d <= last) {
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        let mut round = Vec::with_capacity(DEVICES * HOURS.len());
        for (slot, hour) in HOURS.iter().enumerate() {
            let start = local(day, *hour);
            for (i, device) in devices.iter_mut().enumerate() {
                // A round of 10 000 takes a few seconds: answers arrive apart.
                let at = start + Duration::milliseconds(i as i64 * 2 / 5);
                let fails = day == last && slot == HOURS.len() - 1 && i % FAILED_EVERY == 42;
                round.push(device.poll(i, day, slot, at, &entries[i], fails));
            }
        }
        let summary = store.write_round(&round).expect("write a day");
        polls += summary.polls;
        failed += summary.failures;
        meter_values += summary.meter_values;
        supply_values += summary.supply_values;
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", tmp.display()));
        let to = PathBuf::from(format!("{}{suffix}", db.display()));
        let _ = std::fs::rename(from, to);
    }
    format!(
        "{polls} polls, {failed} failed polls, {meter_values} meter values, {supply_values} supply values stored"
    )
}

fn local(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    let naive = day.and_hms_opt(hour, 0, 0).unwrap_or_default();
    Oslo.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// A well-mixed number from a seed (SplitMix64's finaliser), so the fleet is
/// the same on every run without a random-number crate.
fn mix(seed: u64) -> u64 {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One simulated device: how it prints and where its counters stand.
struct Device {
    colour: bool,
    model: &'static str,
    /// Pages on an average weekday.
    daily: u64,
    /// Per mille of the pages in colour, and of each class's pages on A3.
    colour_pm: u64,
    large_pm: u64,
    bw: u64,
    bw_large: u64,
    colour_pages: u64,
    colour_large: u64,
    /// Pages each supply has served since it was replaced.
    used: Vec<u64>,
}

impl Device {
    fn new(i: usize) -> Device {
        let r = mix(i as u64);
        let colour = !i.is_multiple_of(20);
        let supplies = Device::specs(colour);
        Device {
            colour,
            model: if colour {
                MODELS[(r % 4) as usize]
            } else {
                MONO_MODEL
            },
            daily: 40 + (r >> 8) % 560,
            colour_pm: if colour { 100 + (r >> 20) % 300 } else { 0 },
            large_pm: 20 + (r >> 32) % 60,
            bw: 10_000 + (r >> 40) % 200_000,
            bw_large: 500 + (r >> 44) % 5_000,
            colour_pages: if colour {
                2_000 + (r >> 48) % 80_000
            } else {
                0
            },
            colour_large: if colour { (r >> 52) % 2_000 } else { 0 },
            used: supplies
                .iter()
                .enumerate()
                .map(|(k, s)| mix(r ^ k as u64) % s.capacity.max(1))
                .collect(),
        }
    }

    fn specs(colour: bool) -> &'static [SupplySpec] {
        if colour {
            &COLOUR_SUPPLIES
        } else {
            &MONO_SUPPLIES
        }
    }

    /// The poll of `slot` on `day`: the pages since the last one counted.
    fn poll(
        &mut self,
        i: usize,
        day: NaiveDate,
        slot: usize,
        at: DateTime<Utc>,
        entry: &(String, String),
        fails: bool,
    ) -> PollRecord {
        let (entry_key, address) = entry.clone();
        if fails {
            return PollRecord {
                at,
                entry_key,
                address,
                outcome: Outcome::Failed {
                    cause: telleverk::record::FailureCause::Timeout,
                    detail: "no answer after 2 s".into(),
                },
            };
        }
        let seed = ((i as u64) << 32) ^ ((day.num_days_from_ce() as u64) << 2) ^ slot as u64;
        let jitter = 500 + mix(seed) % 1_000;
        let pages = self.daily * SHARE_PM[slot] / 1_000 * jitter / 1_000;
        let colour = pages * self.colour_pm / 1_000;
        let bw = pages - colour;
        self.bw += bw;
        self.bw_large += bw * self.large_pm / 1_000;
        self.colour_pages += colour;
        self.colour_large += colour * self.large_pm / 1_000;
        let supplies = self.supplies(bw, colour);
        PollRecord {
            at,
            entry_key,
            address,
            outcome: Outcome::Ok(Box::new(DeviceReading {
                serial: telleverk::serial::Serial::parse(&serial(i)).expect("a serial"),
                model: Some(self.model.to_owned()),
                profile: Some("konica-minolta-bizhub".into()),
                meters: self.meters(),
                supplies: Some(supplies),
                device_status: Some(2),
                printer_status: Some(3),
                errors: Some(0),
                ..DeviceReading::default()
            })),
        }
    }

    fn meters(&self) -> MeterSet {
        let mut values = vec![
            (Meter::Total, self.bw + self.colour_pages),
            (Meter::BwTotal, self.bw),
            (Meter::BwLarge, self.bw_large),
        ];
        if self.colour {
            values.push((Meter::ColourTotal, self.colour_pages));
            values.push((Meter::ColourLarge, self.colour_large));
        }
        let mut meters = MeterSet::new();
        for (meter, value) in values {
            meters.insert(MeterValue {
                meter,
                value,
                kind: ValueKind::Integer,
            });
        }
        meters
    }

    /// The supplies after `bw` and `colour` more pages; one found empty is
    /// replaced before the next poll.
    fn supplies(&mut self, bw: u64, colour: u64) -> Vec<Supply> {
        let specs = Device::specs(self.colour);
        let mut out = Vec::with_capacity(specs.len());
        for (k, (s, used)) in specs.iter().zip(self.used.iter_mut()).enumerate() {
            let (level, max) = match s.uses {
                Uses::Nothing => (-3, 100),
                Uses::Colour | Uses::All => {
                    *used += match s.uses {
                        Uses::Colour => colour,
                        _ => bw + colour,
                    };
                    let left = s.capacity.saturating_sub(*used);
                    if left == 0 {
                        *used = 0;
                    }
                    ((left * 100).div_ceil(s.capacity) as i64, 100)
                }
            };
            out.push(Supply {
                index: k as u32 + 1,
                description: s.description.to_owned(),
                kind: s.kind.to_owned(),
                colour: s.colour.map(str::to_owned),
                level,
                max,
                percent: percent(level, max),
            });
        }
        out
    }
}
