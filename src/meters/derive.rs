//! One derivation for every reading, whatever its source (docs/contract-rules.md,
//! "Meters"): `colour_total` from `colour_copy +
//! colour_print`; `bw_total` from `bw_copy + bw_print`, else — on a device
//! known to be mono — its `total`, else — on a colour device whose own
//! `total` and `colour_total` were read at the same instant — `total −
//! colour_total`; `total` from `bw_total + colour_total`. Derived values have
//! kind `derived`; a value the device gave itself always wins.
//!
//! Whether a device is mono is a property of the device, not of one reading:
//! it is colour once any reading of it has a colour meter or it reports a
//! non-black supply; only a device known to be mono lets `total` stand for
//! `bw_total`.

use std::collections::{BTreeMap, HashMap};

use super::series::{Point, sort_points};
use super::{Meter, MeterSet, MeterValue, Source, ValueKind};
use crate::timestamp::Timestamp;

/// What is known of whether a device prints colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceColour {
    /// A reading had a colour meter, or it reports a non-black supply.
    Colour,
    /// Known to print black only: black supplies only, or marked so.
    Mono,
    /// Nothing says either way.
    #[default]
    Unknown,
}

impl DeviceColour {
    /// The stronger of two pieces of evidence: colour wins over mono, and
    /// either over nothing.
    pub fn and(self, other: DeviceColour) -> DeviceColour {
        match (self, other) {
            (DeviceColour::Colour, _) | (_, DeviceColour::Colour) => DeviceColour::Colour,
            (DeviceColour::Mono, _) | (_, DeviceColour::Mono) => DeviceColour::Mono,
            _ => DeviceColour::Unknown,
        }
    }
}

/// Which parts a derived meter needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// A poll returns every meter the device has: a part it does not return
    /// is one it lacks, and the parts it has are summed.
    Present,
    /// A reading a person entered may give some meters only: a derived meter
    /// needs every one of its parts at that instant.
    All,
}

impl MeterSet {
    /// Fills in `colour_total`, `bw_total` and `total` where the reading has
    /// no value of its own (see the module's rules). `colour` is what is
    /// known of the device; a colour meter in this reading makes it colour.
    pub fn derive_totals(&mut self, colour: DeviceColour, parts: Parts) {
        let colour = if self.values.iter().any(|v| v.meter.is_colour()) {
            DeviceColour::Colour
        } else {
            colour
        };
        if self.get(Meter::ColourTotal).is_none() {
            let sum = self.sum(&[Meter::ColourCopy, Meter::ColourPrint], parts);
            self.insert_derived(Meter::ColourTotal, sum);
        }
        if self.get(Meter::BwTotal).is_none() {
            let bw = self
                .sum(&[Meter::BwCopy, Meter::BwPrint], parts)
                .or_else(|| match colour {
                    DeviceColour::Mono => self.value(Meter::Total),
                    DeviceColour::Colour => self.total_less_colour(),
                    DeviceColour::Unknown => None,
                });
            self.insert_derived(Meter::BwTotal, bw);
        }
        if self.get(Meter::Total).is_none() {
            let total = match (parts, colour) {
                (Parts::All, DeviceColour::Mono) => self.value(Meter::BwTotal),
                _ => self.sum(&[Meter::BwTotal, Meter::ColourTotal], parts),
            };
            self.insert_derived(Meter::Total, total);
        }
    }

    /// The sum of `meters`: of those present, or only when all are.
    fn sum(&self, meters: &[Meter], parts: Parts) -> Option<u64> {
        let present: Vec<u64> = meters.iter().filter_map(|m| self.value(*m)).collect();
        match parts {
            _ if present.is_empty() => None,
            Parts::All if present.len() < meters.len() => None,
            _ => super::checked_sum(&present),
        }
    }

    /// `total − colour_total` from the device's own `total` and a colour
    /// total read at the same instant.
    fn total_less_colour(&self) -> Option<u64> {
        let total = self
            .get(Meter::Total)
            .filter(|v| v.kind != ValueKind::Derived)?;
        total.value.checked_sub(self.value(Meter::ColourTotal)?)
    }
}

/// The points of a device's meters with every derivable value filled in:
/// the readings at each instant (by source) are derived as one reading —
/// entered readings needing every part, polls summing the parts they have.
/// Only the meters in `wanted` are returned.
pub fn complete_points(
    points: HashMap<Meter, Vec<Point>>,
    colour: DeviceColour,
    wanted: &[Meter],
) -> HashMap<Meter, Vec<Point>> {
    let mut readings: BTreeMap<(Timestamp, u8), (Source, MeterSet)> = BTreeMap::new();
    for (meter, list) in &points {
        for p in list {
            let (_, set) = readings
                .entry((p.at, p.source as u8))
                .or_insert_with(|| (p.source, MeterSet::new()));
            set.insert(MeterValue {
                meter: *meter,
                value: p.value,
                kind: p.kind,
            });
        }
    }
    let mut out: HashMap<Meter, Vec<Point>> = HashMap::new();
    for ((at, _), (source, mut set)) in readings {
        let parts = if source == Source::Polled {
            Parts::Present
        } else {
            Parts::All
        };
        set.derive_totals(colour, parts);
        for v in set.iter().filter(|v| wanted.contains(&v.meter)) {
            out.entry(v.meter).or_default().push(Point {
                at,
                value: v.value,
                source,
                kind: v.kind,
            });
        }
    }
    for list in out.values_mut() {
        sort_points(list);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceColour::{Colour, Mono, Unknown};
    use Meter::*;

    fn set(values: &[(Meter, u64)]) -> MeterSet {
        let mut s = MeterSet::new();
        for (meter, value) in values {
            s.insert(MeterValue {
                meter: *meter,
                value: *value,
                kind: ValueKind::Integer,
            });
        }
        s
    }

    #[test]
    fn every_reading_derives_by_the_same_rules() {
        // (what, the reading, what is known of the device, parts needed,
        //  expected bw_total, colour_total, total)
        type Case = (
            &'static str,
            &'static [(Meter, u64)],
            DeviceColour,
            Parts,
            [Option<u64>; 3],
        );
        let cases: [Case; 11] = [
            // 1 000 + 2 000; 300 + 400; 3 000 + 700.
            (
                "functions of a colour device",
                &[
                    (BwCopy, 1_000),
                    (BwPrint, 2_000),
                    (ColourCopy, 300),
                    (ColourPrint, 400),
                ],
                Unknown,
                Parts::Present,
                [Some(3_000), Some(700), Some(3_700)],
            ),
            (
                "the same, entered",
                &[
                    (BwCopy, 1_000),
                    (BwPrint, 2_000),
                    (ColourCopy, 300),
                    (ColourPrint, 400),
                ],
                Unknown,
                Parts::All,
                [Some(3_000), Some(700), Some(3_700)],
            ),
            // A device's own total wins over bw + colour.
            (
                "own values win",
                &[(Total, 9_999), (BwCopy, 1_000), (BwPrint, 2_000)],
                Mono,
                Parts::Present,
                [Some(3_000), None, Some(9_999)],
            ),
            // A poll returns what the device has: a printer without copier.
            (
                "a poll sums the parts it has",
                &[(BwPrint, 2_000)],
                Unknown,
                Parts::Present,
                [Some(2_000), None, Some(2_000)],
            ),
            // An entry may give one part only: no bw_total from it.
            (
                "an entry needs every part",
                &[(BwCopy, 1_000)],
                Unknown,
                Parts::All,
                [None, None, None],
            ),
            (
                "a known mono device: total is b/w",
                &[(Total, 5_000)],
                Mono,
                Parts::Present,
                [Some(5_000), None, Some(5_000)],
            ),
            (
                "a mono entry: total is b/w",
                &[(Total, 5_000)],
                Mono,
                Parts::All,
                [Some(5_000), None, Some(5_000)],
            ),
            (
                "nothing known: total is not b/w",
                &[(Total, 5_000)],
                Unknown,
                Parts::Present,
                [None, None, Some(5_000)],
            ),
            (
                "a colour device: total is not b/w",
                &[(Total, 5_000)],
                Colour,
                Parts::All,
                [None, None, Some(5_000)],
            ),
            // 5 000 − 100 = 4 900: own total and colour_total, no b/w meter.
            (
                "total less colour",
                &[(Total, 5_000), (ColourTotal, 100)],
                Unknown,
                Parts::Present,
                [Some(4_900), Some(100), Some(5_000)],
            ),
            // Mono marked, but a colour meter in the reading makes it colour.
            (
                "colour evidence wins",
                &[(Total, 5_000), (ColourCopy, 50), (ColourPrint, 50)],
                Mono,
                Parts::All,
                [Some(4_900), Some(100), Some(5_000)],
            ),
        ];
        for (what, values, colour, parts, [bw, col, total]) in cases {
            let mut s = set(values);
            s.derive_totals(colour, parts);
            assert_eq!(
                [s.value(BwTotal), s.value(ColourTotal), s.value(Total)],
                [bw, col, total],
                "{what}"
            );
        }
    }

    #[test]
    fn derived_values_say_so() {
        let mut s = set(&[(BwCopy, 1), (BwPrint, 2)]);
        s.derive_totals(Unknown, Parts::Present);
        assert_eq!(s.get(BwTotal).unwrap().kind, ValueKind::Derived);
        assert_eq!(s.get(Total).unwrap().kind, ValueKind::Derived);
    }

    #[test]
    fn entered_readings_are_derived_per_instant_and_source() {
        let at = |h: i64| Timestamp::from_millis(h * 3_600_000);
        let point = |h: i64, value: u64, source: Source| Point {
            at: at(h),
            value,
            source,
            kind: ValueKind::Manual,
        };
        let points = HashMap::from([
            // bw_copy at 0 and 1 h, bw_print only at 0 h: bw_total at 0 h only.
            (
                BwCopy,
                vec![point(0, 100, Source::Manual), point(1, 150, Source::Manual)],
            ),
            (BwPrint, vec![point(0, 200, Source::Manual)]),
            // A vendor's bw_total at 1 h stays as given.
            (BwTotal, vec![point(1, 400, Source::Vendor)]),
        ]);
        let out = complete_points(points, Unknown, &[BwTotal]);
        let bw: Vec<(Timestamp, u64, Source)> = out[&BwTotal]
            .iter()
            .map(|p| (p.at, p.value, p.source))
            .collect();
        assert_eq!(
            bw,
            [(at(0), 300, Source::Manual), (at(1), 400, Source::Vendor)]
        );
        assert_eq!(out[&BwTotal][0].kind, ValueKind::Derived);
    }
}
