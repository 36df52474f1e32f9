//! The simulated bizhub fleet as values: which devices there are, and what
//! each one's MIB holds at a given instant.
//!
//! Pure: every figure follows from the seed, the device's index and the time
//! asked about, so a fleet is reproducible and needs no stored state. Pages are
//! printed only in working hours (Monday to Friday, 08:00–16:00 Europe/Oslo),
//! each device with its own daily volume, colour, A3, duplex and copy shares;
//! toner drains with A4-equivalent pages at the device's own coverage (drawn
//! from the seed: some print more than the contract's 5 %), against the
//! rated yield of its model where one is known, and is replaced when it
//! reaches 0. Never does I/O and never reads the clock.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use chrono_tz::Europe::Oslo;

use crate::supplies::yields::Yields;

/// A bizhub model the fleet is made of.
#[derive(Debug)]
pub struct Model {
    pub name: &'static str,
    pub sys_object_id: &'static str,
    pub serial_prefix: &'static str,
    pub colour: bool,
}

/// The models, colour first; a fleet draws its colour devices from the first
/// six and its mono devices from the last three.
pub const MODELS: [Model; 9] = [
    model(
        "bizhub C250i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.141.1.3",
        "AA2M",
        true,
    ),
    model(
        "bizhub C300i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.143.1.3",
        "AA2J",
        true,
    ),
    model(
        "bizhub C360i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.145.1.3",
        "AA2K",
        true,
    ),
    model(
        "bizhub C450i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.147.1.3",
        "AA6R",
        true,
    ),
    model(
        "bizhub C550i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.149.1.3",
        "AA6P",
        true,
    ),
    model(
        "bizhub C650i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.151.1.3",
        "AA6N",
        true,
    ),
    model(
        "bizhub 4050i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.157.1.1",
        "AAK6",
        false,
    ),
    model(
        "bizhub 4750i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.158.1.1",
        "AAK7",
        false,
    ),
    model(
        "bizhub 450i",
        "1.3.6.1.4.1.18334.1.2.1.2.1.139.1.1",
        "A61E",
        false,
    ),
];

/// Pages a full cartridge of each toner (C, M, Y, K) of `model` prints at
/// 5 %: its rated yield where one is known, else the supply row's figure.
fn toner_pages(model: &Model) -> [u64; 4] {
    let rows: &[SupplyRow] = if model.colour {
        &COLOUR_SUPPLIES
    } else {
        &MONO_SUPPLIES
    };
    let mut out = [0; 4];
    for (c, pages) in out.iter_mut().enumerate() {
        let own = rows
            .iter()
            .find(|r| r.per_page == PerPage::Toner && r.colour == Some(c))
            .map_or(20_000, |r| r.capacity);
        *pages = yields()
            .find(model.name, COLORANTS[c])
            .map_or(own, |y| u64::from(y.pages));
    }
    out
}

const fn model(
    name: &'static str,
    sys_object_id: &'static str,
    serial_prefix: &'static str,
    colour: bool,
) -> Model {
    Model {
        name,
        sys_object_id,
        serial_prefix,
        colour,
    }
}

/// What sets a device apart from a healthy one. In every 20 devices, the one
/// at position 1 is mono (not a fault, so it stays when quirks are off); with
/// quirks on, position 2 is slow, 3 resets its counters once and 4 answers 0
/// once while booting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quirk {
    /// Answers every request after the slow delay, near the poller's timeout.
    Slow,
    /// Its counters restart from 0 at [`Fleet::reset_at`].
    Reset,
    /// At [`Fleet::boot_at`] it reboots and answers one reading of zeros.
    Boots,
}

/// One simulated device.
#[derive(Debug, Clone)]
pub struct Device {
    pub index: usize,
    pub serial: String,
    pub model: &'static Model,
    /// The v1/v2c community that addresses this device.
    pub community: String,
    /// The v3 context that addresses it (`dev-00042`: contexts are at most 32
    /// octets).
    pub context: String,
    pub location: String,
    pub quirk: Option<Quirk>,
    daily_pages: u64,
    colour_pm: u64,
    a3_pm: u64,
    duplex_pm: u64,
    copy_pm: u64,
    scan_pm: u64,
    /// Toner used per A4 page against 5 % coverage, in ‰ (1000: 5 %), of the
    /// black toner and of the colour toners.
    coverage_pm: [u64; 2],
    /// Pages a full cartridge of each toner (C, M, Y, K) prints at 5 %: the
    /// model's rated yield, else the supply row's own figure.
    toner_pages: [u64; 4],
    base_pages: u64,
    supply_offsets: [u64; 11],
    up_before_start_s: u64,
}

/// A reproducible fleet.
#[derive(Debug, Clone)]
pub struct Fleet {
    pub seed: u64,
    /// When the simulation started (simulated time); the quirks are timed from it.
    pub start: DateTime<Utc>,
    pub devices: Vec<Device>,
}

/// How many pages a device has printed (since install, or since its reset).
/// The function counters split `pages` by colour mode and by copy/print, so
/// they always sum to it and never go down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub pages: u64,
    /// Pages by colour mode (black, full colour, single colour, two-colour)
    /// and function (copy, print).
    pub cells: [[u64; 2]; 4],
    /// The large-size (A3) pages among them.
    pub large: [[u64; 2]; 4],
    pub duplex: u64,
    pub scans: u64,
    /// Level in percent of each supplies-table row, in row order.
    pub supplies: Vec<i64>,
    pub working: bool,
    pub booting: bool,
    pub uptime_s: u64,
}

/// A value of the simulated MIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Text(String),
    Octets(Vec<u8>),
    Oid(String),
    Counter32(u32),
    Ticks(u32),
}

/// What an OID of a device's MIB shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    SysDescr,
    SysObjectId,
    SysUpTime,
    SysName,
    SysLocation,
    HrDeviceDescr,
    HrDeviceStatus,
    HrPrinterStatus,
    HrErrorState,
    Serial,
    MarkerLifeCount,
    /// prtMarkerSuppliesTable column 3..9, row 1..
    Supply {
        column: u32,
        row: usize,
    },
    /// prtMarkerColorantValue, 1..
    Colorant(usize),
    KmModel,
    /// KM general counter: 1 total, 3 duplex, 5 scan total.
    KmGeneral(u32),
    /// KM function counter: column 5 pages or 7 large; colour 1..4; function 1..2.
    KmFunction {
        column: u32,
        colour: u32,
        function: u32,
    },
}

/// A row of the supplies table.
#[derive(Debug, Clone, Copy)]
struct SupplyRow {
    description: &'static str,
    class: i64,
    type_code: i64,
    colorant: usize,
    capacity: u64,
    /// 0..3 toner/drum colour index into C, M, Y, K; None uses every page.
    colour: Option<usize>,
    per_page: PerPage,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum PerPage {
    Toner,
    Page,
}

const COLOUR_SUPPLIES: [SupplyRow; 11] = [
    row("Toner (Cyan)", 3, 3, 1, 21_000, Some(0), PerPage::Toner),
    row("Toner (Magenta)", 3, 3, 2, 21_000, Some(1), PerPage::Toner),
    row("Toner (Yellow)", 3, 3, 3, 21_000, Some(2), PerPage::Toner),
    row("Toner (Black)", 3, 3, 4, 28_000, Some(3), PerPage::Toner),
    row("Drum Unit (Cyan)", 3, 9, 1, 120_000, Some(0), PerPage::Page),
    row(
        "Drum Unit (Magenta)",
        3,
        9,
        2,
        120_000,
        Some(1),
        PerPage::Page,
    ),
    row(
        "Drum Unit (Yellow)",
        3,
        9,
        3,
        120_000,
        Some(2),
        PerPage::Page,
    ),
    row(
        "Drum Unit (Black)",
        3,
        9,
        4,
        120_000,
        Some(3),
        PerPage::Page,
    ),
    row("Waste Toner Box", 4, 4, 0, 90_000, None, PerPage::Toner),
    row("Fusing Unit", 3, 15, 0, 400_000, None, PerPage::Page),
    row("Transfer Belt Unit", 3, 20, 0, 300_000, None, PerPage::Page),
];

const MONO_SUPPLIES: [SupplyRow; 3] = [
    row(
        "Toner Cartridge (Black)",
        3,
        21,
        1,
        20_000,
        Some(3),
        PerPage::Toner,
    ),
    row("Drum Unit", 3, 9, 1, 80_000, Some(3), PerPage::Page),
    row("Fusing Unit", 3, 15, 0, 300_000, None, PerPage::Page),
];

const fn row(
    description: &'static str,
    class: i64,
    type_code: i64,
    colorant: usize,
    capacity: u64,
    colour: Option<usize>,
    per_page: PerPage,
) -> SupplyRow {
    SupplyRow {
        description,
        class,
        type_code,
        colorant,
        capacity,
        colour,
        per_page,
    }
}

const COLORANTS: [&str; 4] = ["cyan", "magenta", "yellow", "black"];
const LOCATIONS: [&str; 8] = [
    "Oslo HQ 2nd floor",
    "Oslo HQ 3rd floor",
    "Oslo HQ reception",
    "Bergen office",
    "Trondheim office",
    "Stavanger office",
    "Drammen warehouse",
    "Tromsø office",
];

/// The day the page history starts; counters before it are the device's base.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 1, 6).expect("a valid date")
}
const WORK_START_S: u64 = 8 * 3600;
const WORK_SECONDS: u64 = 8 * 3600;

impl Fleet {
    /// `n` devices. With `quirks` off every device is healthy (mono ones stay).
    pub fn new(seed: u64, n: usize, start: DateTime<Utc>, quirks: bool) -> Fleet {
        let devices = (0..n).map(|i| Device::new(seed, i, quirks)).collect();
        Fleet {
            seed,
            start,
            devices,
        }
    }

    /// When the booting device reboots: one simulated hour after the start.
    pub fn boot_at(&self) -> DateTime<Utc> {
        self.start + TimeDelta::hours(1)
    }

    /// When the resetting device's counters restart: two simulated hours in.
    pub fn reset_at(&self) -> DateTime<Utc> {
        self.start + TimeDelta::hours(2)
    }

    /// A device's state at `at`; `booting` makes it answer like a device that
    /// is starting up (counters 0).
    pub fn state(&self, device: &Device, at: DateTime<Utc>, booting: bool) -> State {
        let printed = device.pages_at(self.seed, at);
        let counted = match device.quirk {
            Some(Quirk::Reset) if at >= self.reset_at() => {
                printed - device.pages_at(self.seed, self.reset_at())
            }
            _ => printed,
        };
        let counted = if booting { 0 } else { counted };
        let (cells, large) = device.split(counted);
        let (all_cells, all_large) = device.split(printed);
        let colour_pages = all_cells[1..].iter().flatten().sum::<u64>();
        let pages = Pages {
            printed,
            colour: colour_pages,
            a4: printed + all_large.iter().flatten().sum::<u64>(),
            a4_colour: colour_pages + all_large[1..].iter().flatten().sum::<u64>(),
        };
        let since_boot = match device.quirk {
            Some(Quirk::Boots) if at >= self.boot_at() => seconds(at - self.boot_at()),
            _ => seconds(at - self.start) + device.up_before_start_s,
        };
        State {
            pages: counted,
            cells,
            large,
            duplex: share(counted, device.duplex_pm),
            scans: share(counted, device.scan_pm),
            supplies: device.supply_levels(&pages),
            working: working_seconds(at).is_some_and(|s| s > 0 && s < WORK_SECONDS),
            booting,
            uptime_s: if booting { 40 } else { since_boot },
        }
    }
}

fn seconds(d: TimeDelta) -> u64 {
    u64::try_from(d.num_seconds()).unwrap_or(0)
}

/// What a device has printed, for its supplies: sheets' pages and
/// A4-equivalents (an A3 page is two), in all and in colour.
struct Pages {
    printed: u64,
    colour: u64,
    a4: u64,
    a4_colour: u64,
}

/// The built-in rated yields, parsed once.
fn yields() -> &'static Yields {
    static YIELDS: OnceLock<Yields> = OnceLock::new();
    YIELDS.get_or_init(Yields::built_in)
}

/// `x` × permille / 1000, rounded down.
fn share(x: u64, permille: u64) -> u64 {
    x * permille / 1000
}

/// How far into the working day `at` is, in seconds (0 before 08:00, capped
/// at the end of the day), or None on a weekend.
fn working_seconds(at: DateTime<Utc>) -> Option<u64> {
    let local = at.with_timezone(&Oslo);
    if local.weekday().num_days_from_monday() >= 5 {
        return None;
    }
    let secs = u64::from(local.num_seconds_from_midnight());
    Some(secs.saturating_sub(WORK_START_S).min(WORK_SECONDS))
}

/// A 64-bit mix of the parts (splitmix64 steps): reproducible on every
/// platform and version, unlike a general-purpose random generator.
fn mix(parts: &[u64]) -> u64 {
    let mut z: u64 = 0x9E37_79B9_7F4A_7C15;
    for p in parts {
        z = z.wrapping_add(*p).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// `dev-00042-` and a word of 4 to 60 letters: the community of device 42.
/// The words' lengths differ because the SNMP agent compares a request's
/// community with every configured one in constant time, except those of
/// another length: with 10 000 devices of one length that scan was most of the
/// simulator's work. (At most 70 octets: prometheus-snmp-exporter 0.21 gets no
/// answer with a community of 128 octets or more.)
fn community(seed: u64, index: usize) -> String {
    let len = draw(seed, index, 12, 4, 60) as usize;
    let word: String = (0..len)
        .map(|i| char::from(b'a' + (mix(&[seed, index as u64, 200 + i as u64]) % 26) as u8))
        .collect();
    format!("dev-{:05}-{word}", index + 1)
}

/// A toner's coverage in ‰ of 5 %: most devices print 3 to 5.5 %, one in
/// four 6.25 to 8 % (the contract's 5 % plus 15 % is 5.75 %).
fn coverage_pm(seed: u64, index: usize, what: u64) -> u64 {
    if draw(seed, index, 300 + what, 0, 3) == 0 {
        draw(seed, index, what, 1250, 1600)
    } else {
        draw(seed, index, what, 600, 1100)
    }
}

/// A number in `lo..=hi` drawn for (seed, device, what).
fn draw(seed: u64, index: usize, what: u64, lo: u64, hi: u64) -> u64 {
    lo + mix(&[seed, index as u64, what]) % (hi - lo + 1)
}

impl Device {
    fn new(seed: u64, index: usize, quirks: bool) -> Device {
        let position = index % 20;
        let mono = position == 1;
        let quirk = match position {
            2 if quirks => Some(Quirk::Slow),
            3 if quirks => Some(Quirk::Reset),
            4 if quirks => Some(Quirk::Boots),
            _ => None,
        };
        let model = if mono {
            &MODELS[6 + draw(seed, index, 1, 0, 2) as usize]
        } else {
            &MODELS[draw(seed, index, 1, 0, 5) as usize]
        };
        let daily_pages = draw(seed, index, 2, 40, 600);
        let mut supply_offsets = [0; 11];
        for (i, o) in supply_offsets.iter_mut().enumerate() {
            *o = draw(seed, index, 100 + i as u64, 0, 400_000);
        }
        Device {
            index,
            serial: format!("{}{:03}{:06}", model.serial_prefix, seed % 1000, index + 1),
            model,
            community: community(seed, index),
            context: format!("dev-{:05}", index + 1),
            location: LOCATIONS[draw(seed, index, 3, 0, 7) as usize].to_owned(),
            quirk,
            daily_pages,
            colour_pm: if model.colour {
                draw(seed, index, 4, 150, 450)
            } else {
                0
            },
            a3_pm: draw(seed, index, 5, 0, 120),
            duplex_pm: draw(seed, index, 6, 200, 600),
            copy_pm: draw(seed, index, 7, 100, 400),
            scan_pm: draw(seed, index, 8, 100, 500),
            coverage_pm: [coverage_pm(seed, index, 9), coverage_pm(seed, index, 13)],
            toner_pages: toner_pages(model),
            base_pages: daily_pages * draw(seed, index, 10, 100, 1200),
            supply_offsets,
            up_before_start_s: draw(seed, index, 11, 3600, 30 * 86_400),
        }
    }

    /// Pages printed on working day `day` (days since the epoch): the daily
    /// volume times a factor between 0.5 and 1.5 drawn for that day.
    fn pages_on(&self, seed: u64, day: u64) -> u64 {
        self.daily_pages * (500 + mix(&[seed, self.index as u64, 1_000 + day]) % 1001) / 1000
    }

    /// Every page the device has printed up to `at`.
    fn pages_at(&self, seed: u64, at: DateTime<Utc>) -> u64 {
        let local = at.with_timezone(&Oslo);
        let Ok(today) = u64::try_from((local.date_naive() - epoch()).num_days()) else {
            return self.base_pages;
        };
        let first = epoch().weekday().num_days_from_monday() as u64;
        let mut pages = self.base_pages;
        for day in (0..today).filter(|d| (first + d) % 7 < 5) {
            pages += self.pages_on(seed, day);
        }
        if let Some(s) = working_seconds(at) {
            pages += self.pages_on(seed, today) * s / WORK_SECONDS;
        }
        pages
    }

    /// Splits pages into the function counters: colour modes first (full
    /// colour, then single and two-colour out of the rest), then copy/print,
    /// then the A3 share. Each split rounds one part down and gives the other
    /// the rest, so every counter grows with `pages` and they sum to it.
    fn split(&self, pages: u64) -> ([[u64; 2]; 4], [[u64; 2]; 4]) {
        let colour = share(pages, self.colour_pm);
        let full = share(colour, 920);
        let single = share(colour - full, 600);
        let modes = [pages - colour, full, single, colour - full - single];
        let mut cells = [[0; 2]; 4];
        let mut large = [[0; 2]; 4];
        for (m, n) in modes.iter().enumerate() {
            let copy = share(*n, self.copy_pm);
            cells[m] = [copy, n - copy];
            large[m] = [share(copy, self.a3_pm), share(n - copy, self.a3_pm)];
        }
        (cells, large)
    }

    fn supply_rows(&self) -> &'static [SupplyRow] {
        if self.model.colour {
            &COLOUR_SUPPLIES
        } else {
            &MONO_SUPPLIES
        }
    }

    /// Levels in percent: what is left of the current unit, which is replaced
    /// the moment it reaches 0 (the waste box: the room left in it). A toner
    /// uses its A4-equivalent pages at the device's coverage.
    fn supply_levels(&self, p: &Pages) -> Vec<i64> {
        self.supply_rows()
            .iter()
            .zip(self.supply_offsets)
            .map(|(row, offset)| {
                let (used, capacity) = match (row.per_page, row.colour) {
                    (PerPage::Toner, Some(c)) => {
                        let (a4, coverage) = if c == 3 {
                            (p.a4, self.coverage_pm[0])
                        } else {
                            (p.a4_colour, self.coverage_pm[1])
                        };
                        (share(a4, coverage), self.toner_pages[c])
                    }
                    (PerPage::Toner, None) => (share(p.a4, self.coverage_pm[0]), row.capacity),
                    (PerPage::Page, Some(c)) if c != 3 => (p.colour, row.capacity),
                    (PerPage::Page, _) => (p.printed, row.capacity),
                };
                // Offsets start each unit part-used, at most one unit in.
                let used = used + offset % capacity;
                let left = capacity - used % capacity;
                (left * 100 / capacity) as i64
            })
            .collect()
    }

    /// The coverage of its black toner and of its colour toners, in % to
    /// 2 decimals as text (`6.35`): what `telleverk supplies` should find.
    pub fn coverage_pct(&self) -> [String; 2] {
        self.coverage_pm.map(|pm| {
            let hundredths = pm / 2; // 5 % × pm / 1000, in hundredths of a %
            format!("{}.{:02}", hundredths / 100, hundredths % 100)
        })
    }

    /// The lowest toner level in percent.
    pub fn lowest_toner(&self, state: &State) -> i64 {
        self.supply_rows()
            .iter()
            .zip(&state.supplies)
            .filter(|(row, _)| matches!(row.type_code, 3 | 21))
            .map(|(_, level)| *level)
            .min()
            .unwrap_or(-2)
    }

    /// The hrPrinterDetectedErrorState bits (2 low toner, 3 no toner).
    fn error_bits(&self, state: &State) -> [u8; 2] {
        let lowest = self.lowest_toner(state);
        let mut first = 0u8;
        if lowest <= 10 {
            first |= 0x80 >> 2;
        }
        if lowest == 0 {
            first |= 0x80 >> 3;
        }
        [first, 0]
    }

    /// The value `slot` shows in `state`; None when the device lacks it.
    pub fn value(&self, slot: Slot, state: &State) -> Option<Value> {
        Some(match slot {
            Slot::SysDescr | Slot::HrDeviceDescr | Slot::KmModel => {
                Value::Text(format!("KONICA MINOLTA {}", self.model.name))
            }
            Slot::SysObjectId => Value::Oid(self.model.sys_object_id.to_owned()),
            Slot::SysUpTime => Value::Ticks((state.uptime_s.wrapping_mul(100) % (1 << 32)) as u32),
            Slot::SysName => Value::Text(format!(
                "KM{}",
                self.serial
                    .get(self.serial.len().saturating_sub(6)..)
                    .unwrap_or(&self.serial)
            )),
            Slot::SysLocation => Value::Text(self.location.clone()),
            Slot::HrDeviceStatus => Value::Int(match (state.booting, self.error_bits(state)[0]) {
                (true, _) => 4,
                (false, 0) => 2,
                (false, _) => 3,
            }),
            Slot::HrPrinterStatus => Value::Int(match (state.booting, state.working) {
                (true, _) => 5,
                (false, true) => 4,
                (false, false) => 3,
            }),
            Slot::HrErrorState => Value::Octets(self.error_bits(state).to_vec()),
            Slot::Serial => Value::Text(self.serial.clone()),
            Slot::MarkerLifeCount => Value::Counter32((state.pages % (1 << 32)) as u32),
            Slot::Supply { column, row } => {
                let r = self.supply_rows().get(row - 1)?;
                match column {
                    3 => Value::Int(r.colorant as i64),
                    4 => Value::Int(r.class),
                    5 => Value::Int(r.type_code),
                    6 => Value::Text(r.description.to_owned()),
                    7 => Value::Int(19),
                    8 => Value::Int(100),
                    _ => Value::Int(*state.supplies.get(row - 1)?),
                }
            }
            Slot::Colorant(i) => {
                let name = if self.model.colour {
                    COLORANTS.get(i - 1)?
                } else {
                    (i == 1).then_some(&"black")?
                };
                Value::Text((*name).to_owned())
            }
            Slot::KmGeneral(n) => Value::Int(match n {
                1 => state.pages,
                3 => state.duplex,
                _ => state.scans,
            } as i64),
            Slot::KmFunction {
                column,
                colour,
                function,
            } => {
                let (c, f) = ((colour - 1) as usize, (function - 1) as usize);
                if c > 0 && !self.model.colour {
                    Value::Int(-1)
                } else if column == 5 {
                    Value::Int(state.cells[c][f] as i64)
                } else {
                    Value::Int(state.large[c][f] as i64)
                }
            }
        })
    }
}

/// Every OID a device of this kind answers, in SNMP order, with its slot.
pub fn mib(colour: bool) -> Vec<(Vec<u32>, Slot)> {
    let oid = |s: &str| -> Vec<u32> { s.split('.').map(|a| a.parse().expect("an arc")).collect() };
    let mut out = vec![
        (oid("1.3.6.1.2.1.1.1.0"), Slot::SysDescr),
        (oid("1.3.6.1.2.1.1.2.0"), Slot::SysObjectId),
        (oid("1.3.6.1.2.1.1.3.0"), Slot::SysUpTime),
        (oid("1.3.6.1.2.1.1.5.0"), Slot::SysName),
        (oid("1.3.6.1.2.1.1.6.0"), Slot::SysLocation),
        (oid("1.3.6.1.2.1.25.3.2.1.3.1"), Slot::HrDeviceDescr),
        (oid("1.3.6.1.2.1.25.3.2.1.5.1"), Slot::HrDeviceStatus),
        (oid("1.3.6.1.2.1.25.3.5.1.1.1"), Slot::HrPrinterStatus),
        (oid("1.3.6.1.2.1.25.3.5.1.2.1"), Slot::HrErrorState),
        (oid("1.3.6.1.2.1.43.5.1.1.17.1"), Slot::Serial),
        (oid("1.3.6.1.2.1.43.10.2.1.4.1.1"), Slot::MarkerLifeCount),
        (oid("1.3.6.1.4.1.18334.1.1.1.1.6.2.1.0"), Slot::KmModel),
    ];
    let rows = if colour {
        COLOUR_SUPPLIES.len()
    } else {
        MONO_SUPPLIES.len()
    };
    for column in 3..=9 {
        for row in 1..=rows {
            let mut o = oid("1.3.6.1.2.1.43.11.1.1");
            o.extend([column, 1, row as u32]);
            out.push((o, Slot::Supply { column, row }));
        }
    }
    for i in 1..=(if colour { 4 } else { 1 }) {
        let mut o = oid("1.3.6.1.2.1.43.12.1.1.4.1");
        o.push(i as u32);
        out.push((o, Slot::Colorant(i)));
    }
    for n in [1, 3, 5] {
        let mut o = oid("1.3.6.1.4.1.18334.1.1.1.5.7.2.1");
        o.extend([n, 0]);
        out.push((o, Slot::KmGeneral(n)));
    }
    for column in [5, 7] {
        for colour in 1..=4 {
            for function in 1..=2 {
                let mut o = oid("1.3.6.1.4.1.18334.1.1.1.5.7.2.2.1");
                o.extend([column, colour, function]);
                out.push((
                    o,
                    Slot::KmFunction {
                        column,
                        colour,
                        function,
                    },
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests;
