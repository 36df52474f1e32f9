//! Device profiles: which OIDs hold a model's meters, identity, status and
//! supplies. Profiles are data (TOML files in `mibs/`), so a new MFP model is a
//! new file, not a rebuild.
//!
//! Loading reads files; choosing a profile and evaluating a device's answers
//! against it are pure. This module never talks SNMP.

mod load;

use std::collections::{BTreeMap, HashMap};

pub use load::{ProfileError, line_of, load_profiles, load_yields};

use crate::meters::{Meter, MeterSet, MeterValue, ValueKind};
use crate::oid::{Oid, Scalar};

/// How a meter's value is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterSpec {
    /// One OID.
    Oid(Oid),
    /// The sum of the parts that are present; absent when none is.
    Sum(Vec<MeterSpec>),
    /// The first part that is present.
    FirstOf(Vec<MeterSpec>),
}

impl MeterSpec {
    fn collect_oids(&self, out: &mut Vec<Oid>) {
        match self {
            MeterSpec::Oid(oid) => out.push(oid.clone()),
            MeterSpec::Sum(parts) | MeterSpec::FirstOf(parts) => {
                parts.iter().for_each(|p| p.collect_oids(out))
            }
        }
    }
}

/// Where the supplies table and the colorant names live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppliesSpec {
    /// prtMarkerSuppliesEntry; columns 3 colorant index, 5 type,
    /// 6 description, 8 max capacity, 9 level.
    pub table: Oid,
    /// prtMarkerColorantValue column, indexed like the colorant index.
    pub colorants: Option<Oid>,
    /// What a supply is when the table gives no type (the column is
    /// missing, `other` or `unknown`): the first kind one of whose words is
    /// in its description, in order (a waste toner box before toner).
    pub kinds: Vec<KindWords>,
}

/// One supply kind and the words that name it in descriptions, lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindWords {
    pub kind: String,
    pub words: Vec<String>,
}

impl SuppliesSpec {
    /// The kind a description names, when one of `kinds` matches it
    /// (case-insensitive, anywhere in the text).
    pub fn kind_of(&self, description: &str) -> Option<&str> {
        let text = description.to_lowercase();
        self.kinds
            .iter()
            .find(|k| k.words.iter().any(|w| text.contains(w.as_str())))
            .map(|k| k.kind.as_str())
    }

    pub const COLORANT_INDEX: u32 = 3;
    pub const TYPE: u32 = 5;
    pub const DESCRIPTION: u32 = 6;
    pub const MAX: u32 = 8;
    pub const LEVEL: u32 = 9;

    /// The table columns to fetch, in a fixed order.
    pub fn columns(&self) -> Vec<Oid> {
        let mut cols: Vec<Oid> = [
            Self::COLORANT_INDEX,
            Self::TYPE,
            Self::DESCRIPTION,
            Self::MAX,
            Self::LEVEL,
        ]
        .iter()
        .map(|c| self.table.child(*c))
        .collect();
        if let Some(colorants) = &self.colorants {
            cols.push(colorants.clone());
        }
        cols
    }
}

/// A resolved profile (its `extends` chain already merged in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    /// The file it came from (or `built-in:NAME`), for messages.
    pub source: String,
    pub description: String,
    /// sysObjectID prefix that selects this profile; None: chosen only by name.
    pub match_prefix: Option<Oid>,
    /// Integer values that mean "the device lacks this meter".
    pub absent: Vec<i64>,
    pub model: Vec<Oid>,
    pub model_strip_prefix: Vec<String>,
    pub serial: Vec<Oid>,
    pub device_status: Option<Oid>,
    pub printer_status: Option<Oid>,
    pub error_state: Option<Oid>,
    pub meters: BTreeMap<Meter, MeterSpec>,
    pub supplies: Option<SuppliesSpec>,
}

/// sysDescr.0 and sysObjectID.0 (SNMPv2-MIB): every agent has them.
pub fn sys_descr() -> Oid {
    Oid::new(vec![1, 3, 6, 1, 2, 1, 1, 1, 0])
}
pub fn sys_object_id() -> Oid {
    Oid::new(vec![1, 3, 6, 1, 2, 1, 1, 2, 0])
}

/// What a profile makes of a device's answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluated {
    pub model: Option<String>,
    pub serial: Option<String>,
    pub device_status: Option<i64>,
    pub printer_status: Option<i64>,
    pub error_octets: Option<Vec<u8>>,
    pub meters: MeterSet,
    /// Values of the wrong type or out of range, each a sentence.
    pub problems: Vec<String>,
    /// Meter values no counter can have (beyond 2^63 − 1, alone or summed),
    /// each a sentence: the reading is refused as malformed, never stored
    /// as a wrong number.
    pub malformed: Vec<String>,
}

/// Where evaluating a meter puts what it found wrong.
struct Found<'a> {
    problems: &'a mut Vec<String>,
    malformed: &'a mut Vec<String>,
}

impl Profile {
    /// Every scalar OID this profile reads, without duplicates, in a stable order.
    pub fn scalar_oids(&self) -> Vec<Oid> {
        let mut out = vec![sys_descr(), sys_object_id()];
        out.extend(self.model.iter().cloned());
        out.extend(self.serial.iter().cloned());
        out.extend(self.device_status.iter().cloned());
        out.extend(self.printer_status.iter().cloned());
        out.extend(self.error_state.iter().cloned());
        for spec in self.meters.values() {
            spec.collect_oids(&mut out);
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|oid| seen.insert(oid.clone()));
        out
    }

    /// Applies the profile to the scalar values a device returned (missing OIDs
    /// are simply not in the map).
    pub fn evaluate(&self, values: &HashMap<Oid, Scalar>) -> Evaluated {
        let mut ev = Evaluated {
            model: self
                .first_text(&self.model, values)
                .map(|m| self.clean_model(&m)),
            serial: self.first_text(&self.serial, values),
            ..Evaluated::default()
        };
        if ev.model.is_none() {
            ev.model = text_of(values.get(&sys_descr()));
        }
        ev.device_status = self.int_at(self.device_status.as_ref(), values);
        ev.printer_status = self.int_at(self.printer_status.as_ref(), values);
        ev.error_octets = self
            .error_state
            .as_ref()
            .and_then(|oid| match values.get(oid) {
                Some(Scalar::Text(bytes)) => Some(bytes.clone()),
                _ => None,
            });
        for (meter, spec) in &self.meters {
            let mut found = Found {
                problems: &mut ev.problems,
                malformed: &mut ev.malformed,
            };
            if let Some((value, kind)) = self.eval_spec(*meter, spec, values, &mut found) {
                ev.meters.insert(MeterValue {
                    meter: *meter,
                    value,
                    kind,
                });
            }
        }
        ev
    }

    fn eval_spec(
        &self,
        meter: Meter,
        spec: &MeterSpec,
        values: &HashMap<Oid, Scalar>,
        found: &mut Found<'_>,
    ) -> Option<(u64, ValueKind)> {
        match spec {
            MeterSpec::Oid(oid) => self.meter_value(meter, oid, values.get(oid), found),
            MeterSpec::FirstOf(parts) => parts
                .iter()
                .find_map(|p| self.eval_spec(meter, p, values, found)),
            MeterSpec::Sum(parts) => {
                let present: Vec<u64> = parts
                    .iter()
                    .filter_map(|p| self.eval_spec(meter, p, values, found))
                    .map(|(v, _)| v)
                    .collect();
                if present.is_empty() {
                    return None;
                }
                let sum = crate::meters::checked_sum(&present);
                if sum.is_none() {
                    found.malformed.push(format!(
                        "meter {meter}: the sum of {present:?} is beyond any count ({})",
                        crate::meters::MAX_VALUE
                    ));
                }
                sum.map(|s| (s, ValueKind::Derived))
            }
        }
    }

    fn meter_value(
        &self,
        meter: Meter,
        oid: &Oid,
        value: Option<&Scalar>,
        found: &mut Found<'_>,
    ) -> Option<(u64, ValueKind)> {
        let problems = &mut *found.problems;
        match value? {
            Scalar::TooLarge(v) => {
                found.malformed.push(format!(
                    "meter {meter}: {oid} returned {v}, beyond any count ({})",
                    crate::meters::MAX_VALUE
                ));
                None
            }
            Scalar::Int(v, _) if self.absent.contains(v) => None,
            Scalar::Int(v, kind) => match u64::try_from(*v) {
                Ok(v) => Some((v, ValueKind::from(*kind))),
                Err(_) => {
                    problems.push(format!(
                        "meter {meter}: {oid} returned {v}, a negative count not listed in the profile's `absent` values; treated as absent"
                    ));
                    None
                }
            },
            other => {
                problems.push(format!(
                    "meter {meter}: {oid} returned {}, not a number; treated as absent",
                    scalar_type(other)
                ));
                None
            }
        }
    }

    fn first_text(&self, oids: &[Oid], values: &HashMap<Oid, Scalar>) -> Option<String> {
        oids.iter().find_map(|oid| text_of(values.get(oid)))
    }

    fn int_at(&self, oid: Option<&Oid>, values: &HashMap<Oid, Scalar>) -> Option<i64> {
        match values.get(oid?) {
            Some(Scalar::Int(v, _)) => Some(*v),
            _ => None,
        }
    }

    fn clean_model(&self, model: &str) -> String {
        let mut m = model.trim();
        for prefix in &self.model_strip_prefix {
            // By `get`: a byte index inside a multi-byte character is no
            // prefix (and must not panic).
            if let (Some(head), Some(rest)) = (m.get(..prefix.len()), m.get(prefix.len()..))
                && head.eq_ignore_ascii_case(prefix)
            {
                m = rest.trim_start();
            }
        }
        m.to_owned()
    }
}

/// A printable text value: trimmed, NULs and control characters removed; None
/// when empty.
pub fn text_of(value: Option<&Scalar>) -> Option<String> {
    let Some(Scalar::Text(bytes)) = value else {
        return None;
    };
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn scalar_type(value: &Scalar) -> &'static str {
    match value {
        Scalar::Int(..) => "a number",
        Scalar::Text(_) => "an OCTET STRING",
        Scalar::ObjectId(_) => "an OBJECT IDENTIFIER",
        Scalar::TooLarge(_) => "a Counter64 beyond 2^63",
        Scalar::Other(name) => name,
    }
}

/// All loaded profiles, by id.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    by_id: BTreeMap<String, Profile>,
    /// Every scalar OID of every profile, once each, in OID order.
    all_scalars: Vec<Oid>,
}

impl Profiles {
    pub fn new(profiles: Vec<Profile>) -> Profiles {
        let mut all_scalars: Vec<Oid> = profiles.iter().flat_map(Profile::scalar_oids).collect();
        all_scalars.sort();
        all_scalars.dedup();
        Profiles {
            by_id: profiles.into_iter().map(|p| (p.id.clone(), p)).collect(),
            all_scalars,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Profile> {
        self.by_id.get(id)
    }

    /// Every scalar OID of every profile, once each, in OID order: what a first
    /// poll can ask for in one request before it knows the profile.
    pub fn all_scalar_oids(&self) -> &[Oid] {
        &self.all_scalars
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// The profile whose sysObjectID prefix is the longest match.
    pub fn choose(&self, sys_object_id: &Oid) -> Option<&Profile> {
        self.by_id
            .values()
            .filter_map(|p| p.match_prefix.as_ref().map(|prefix| (prefix, p)))
            .filter(|(prefix, _)| sys_object_id.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.arcs().len())
            .map(|(_, p)| p)
    }
}

#[cfg(test)]
pub(crate) mod fuzz;
#[cfg(test)]
mod tests;
