//! Reads profile files (TOML), checks them and resolves `extends`.
//! Every error names the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{KindWords, MeterSpec, Oid, Profile, Profiles, SuppliesSpec};
use crate::meters::Meter;
use crate::supplies::yields::{YieldError, Yields};

/// The profiles shipped in `mibs/`, compiled in so the binary works anywhere.
/// A profiles directory given in the config adds to them and may override them.
pub(super) const BUILT_IN: [(&str, &str); 2] = [
    (
        "printer-mib.toml",
        include_str!("../../mibs/printer-mib.toml"),
    ),
    (
        "konica-minolta-bizhub.toml",
        include_str!("../../mibs/konica-minolta-bizhub.toml"),
    ),
];

/// A profile file could not be read or is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile {file}: {key}: {message}")]
pub struct ProfileError {
    pub file: String,
    pub key: String,
    pub message: String,
}

fn err(file: &str, key: &str, message: impl Into<String>) -> ProfileError {
    ProfileError {
        file: file.to_owned(),
        key: key.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: String,
    extends: Option<String>,
    description: Option<String>,
    sys_object_id_prefix: Option<String>,
    absent: Option<Vec<i64>>,
    identity: Option<RawIdentity>,
    status: Option<RawStatus>,
    meters: Option<toml::Table>,
    supplies: Option<RawSupplies>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    model: Option<toml::Value>,
    serial: Option<toml::Value>,
    model_strip_prefix: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    device_status: Option<String>,
    printer_status: Option<String>,
    error_state: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSupplies {
    table: String,
    colorants: Option<String>,
    #[serde(default)]
    kind: Vec<RawKind>,
}

/// `[[supplies.kind]]`: a kind and the words that name it in descriptions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    name: String,
    words: Vec<String>,
}

/// A profile as written in its file, before `extends` is applied.
#[derive(Debug, Clone)]
struct Partial {
    file: String,
    extends: Option<String>,
    profile: Profile,
    has_absent: bool,
    has_model_strip: bool,
}

/// Loads the built-in profiles and, when given, every `*.toml` in `dir`.
pub fn load_profiles(dir: Option<&Path>) -> Result<Profiles, ProfileError> {
    let mut files = Vec::new();
    if let Some(dir) = dir {
        for path in profile_files(dir)? {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err(&file, "(file)", format!("cannot read: {e}")))?;
            files.push((file, text));
        }
    }
    profiles_from(&files)
}

/// The built-in rated toner yields and, when given, every `*.toml` in the
/// `yields` folder of `dir` (when it has one).
pub fn load_yields(dir: Option<&Path>) -> Result<Yields, YieldError> {
    let mut files = Vec::new();
    let folder = dir.map(|d| d.join("yields")).filter(|f| f.is_dir());
    if let Some(folder) = folder {
        let paths = profile_files(&folder).map_err(|e| YieldError {
            file: e.file,
            line: 0,
            key: e.key,
            message: e.message,
        })?;
        for path in paths {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| YieldError {
                file: file.clone(),
                line: 0,
                key: "(file)".into(),
                message: format!("cannot read: {e}"),
            })?;
            files.push((file, text));
        }
    }
    Yields::from_files(&files)
}

/// The built-in profiles and the profile files given as (name, text), in
/// order; pure.
pub(super) fn profiles_from(files: &[(String, String)]) -> Result<Profiles, ProfileError> {
    let mut partials: BTreeMap<String, Partial> = BTreeMap::new();
    for (name, text) in BUILT_IN {
        let p = parse_profile(&format!("built-in:{name}"), text)?;
        partials.insert(p.profile.id.clone(), p);
    }
    let mut from_dir: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in files {
        let p = parse_profile(file, text)?;
        if let Some(first) = from_dir.insert(p.profile.id.clone(), file.clone()) {
            return Err(err(
                file,
                "id",
                format!("`{}` is also the id in {first}", p.profile.id),
            ));
        }
        partials.insert(p.profile.id.clone(), p);
    }
    let mut resolved = Vec::new();
    for id in partials.keys() {
        resolved.push(resolve(id, &partials, &mut Vec::new())?);
    }
    Ok(Profiles::new(resolved))
}

fn profile_files(dir: &Path) -> Result<Vec<PathBuf>, ProfileError> {
    let file = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| err(&file, "(directory)", format!("cannot read: {e}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| err(&file, "(directory)", format!("cannot read: {e}")))?
            .path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn resolve(
    id: &str,
    partials: &BTreeMap<String, Partial>,
    chain: &mut Vec<String>,
) -> Result<Profile, ProfileError> {
    let partial = &partials[id];
    if chain.iter().any(|c| c == id) {
        return Err(err(
            &partial.file,
            "extends",
            format!(
                "`extends` goes round in a circle: {} → {id}",
                chain.join(" → ")
            ),
        ));
    }
    let Some(parent_id) = &partial.extends else {
        return Ok(partial.profile.clone());
    };
    if !partials.contains_key(parent_id) {
        let known: Vec<&str> = partials.keys().map(String::as_str).collect();
        return Err(err(
            &partial.file,
            "extends",
            format!("no profile `{parent_id}` (known: {})", known.join(", ")),
        ));
    }
    chain.push(id.to_owned());
    let parent = resolve(parent_id, partials, chain)?;
    chain.pop();
    Ok(merge(parent, partial))
}

fn merge(parent: Profile, child: &Partial) -> Profile {
    let c = &child.profile;
    let mut meters = parent.meters;
    meters.extend(c.meters.iter().map(|(m, s)| (*m, s.clone())));
    Profile {
        id: c.id.clone(),
        source: c.source.clone(),
        description: c.description.clone(),
        match_prefix: c.match_prefix.clone(),
        absent: if child.has_absent {
            c.absent.clone()
        } else {
            parent.absent
        },
        model: pick(&c.model, parent.model),
        model_strip_prefix: if child.has_model_strip {
            c.model_strip_prefix.clone()
        } else {
            parent.model_strip_prefix
        },
        serial: pick(&c.serial, parent.serial),
        device_status: c.device_status.clone().or(parent.device_status),
        printer_status: c.printer_status.clone().or(parent.printer_status),
        error_state: c.error_state.clone().or(parent.error_state),
        meters,
        supplies: c.supplies.clone().or(parent.supplies),
    }
}

fn pick(child: &[Oid], parent: Vec<Oid>) -> Vec<Oid> {
    if child.is_empty() {
        parent
    } else {
        child.to_vec()
    }
}

fn parse_profile(file: &str, text: &str) -> Result<Partial, ProfileError> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| {
        let message = e.message().to_owned();
        let key = match e.span() {
            Some(span) => format!("line {}", line_of(text, span.start)),
            None => "(file)".to_owned(),
        };
        err(file, &key, message)
    })?;
    if raw.id.trim().is_empty() {
        return Err(err(file, "id", "must not be empty"));
    }
    let oid = |key: &str, text: &str| -> Result<Oid, ProfileError> {
        text.parse::<Oid>()
            .map_err(|e| err(file, key, e.to_string()))
    };
    let opt_oid = |key: &str, text: &Option<String>| -> Result<Option<Oid>, ProfileError> {
        text.as_deref().map(|t| oid(key, t)).transpose()
    };
    let identity = raw.identity.as_ref();
    let status = raw.status.as_ref();
    let mut meters = BTreeMap::new();
    for (name, value) in raw.meters.iter().flatten() {
        let key = format!("meters.{name}");
        let meter: Meter = name
            .parse()
            .map_err(|e: crate::meters::UnknownMeter| err(file, &key, e.to_string()))?;
        meters.insert(meter, meter_spec(file, &key, value)?);
    }
    let supplies = match &raw.supplies {
        Some(s) => Some(SuppliesSpec {
            table: oid("supplies.table", &s.table)?,
            colorants: opt_oid("supplies.colorants", &s.colorants)?,
            kinds: kind_words(file, &s.kind)?,
        }),
        None => None,
    };
    let profile = Profile {
        id: raw.id.clone(),
        source: file.to_owned(),
        description: raw.description.clone().unwrap_or_default(),
        match_prefix: opt_oid("sys_object_id_prefix", &raw.sys_object_id_prefix)?,
        absent: raw.absent.clone().unwrap_or_default(),
        model: oid_list(
            file,
            "identity.model",
            identity.and_then(|i| i.model.as_ref()),
        )?,
        model_strip_prefix: identity
            .and_then(|i| i.model_strip_prefix.clone())
            .unwrap_or_default(),
        serial: oid_list(
            file,
            "identity.serial",
            identity.and_then(|i| i.serial.as_ref()),
        )?,
        device_status: opt_oid(
            "status.device_status",
            &status.and_then(|s| s.device_status.clone()),
        )?,
        printer_status: opt_oid(
            "status.printer_status",
            &status.and_then(|s| s.printer_status.clone()),
        )?,
        error_state: opt_oid(
            "status.error_state",
            &status.and_then(|s| s.error_state.clone()),
        )?,
        meters,
        supplies,
    };
    Ok(Partial {
        file: file.to_owned(),
        extends: raw.extends,
        profile,
        has_absent: raw.absent.is_some(),
        has_model_strip: identity.is_some_and(|i| i.model_strip_prefix.is_some()),
    })
}

/// `[[supplies.kind]]` checked: a snake_case name and at least one word,
/// none empty; the words kept in lower case.
fn kind_words(file: &str, raw: &[RawKind]) -> Result<Vec<KindWords>, ProfileError> {
    raw.iter()
        .enumerate()
        .map(|(i, k)| {
            let key = format!("supplies.kind[{i}]");
            let snake = !k.name.is_empty()
                && k.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !snake {
                return Err(err(
                    file,
                    &format!("{key}.name"),
                    format!("`{}` is not a kind name (lower case, digits and _)", k.name),
                ));
            }
            if k.words.is_empty() || k.words.iter().any(|w| w.trim().is_empty()) {
                return Err(err(
                    file,
                    &format!("{key}.words"),
                    "needs at least one word, and no empty one",
                ));
            }
            Ok(KindWords {
                kind: k.name.clone(),
                words: k.words.iter().map(|w| w.trim().to_lowercase()).collect(),
            })
        })
        .collect()
}

/// An OID string or a list of them (first present wins).
fn oid_list(file: &str, key: &str, value: Option<&toml::Value>) -> Result<Vec<Oid>, ProfileError> {
    let parse = |v: &toml::Value| -> Result<Oid, ProfileError> {
        let text = v
            .as_str()
            .ok_or_else(|| err(file, key, "expected an OID string or a list of OID strings"))?;
        text.parse::<Oid>()
            .map_err(|e| err(file, key, e.to_string()))
    };
    match value {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items.iter().map(parse).collect(),
        Some(v) => Ok(vec![parse(v)?]),
    }
}

fn meter_spec(file: &str, key: &str, value: &toml::Value) -> Result<MeterSpec, ProfileError> {
    const FORMS: &str = "expected an OID string, { sum = [ … ] } or { first_of = [ … ] } (parts are OIDs or such tables)";
    match value {
        toml::Value::String(text) => text
            .parse::<Oid>()
            .map(MeterSpec::Oid)
            .map_err(|e| err(file, key, e.to_string())),
        toml::Value::Table(table) if table.len() == 1 => {
            let (form, parts) = table.iter().next().expect("one entry");
            let toml::Value::Array(parts) = parts else {
                return Err(err(file, key, FORMS));
            };
            if parts.is_empty() {
                return Err(err(file, &format!("{key}.{form}"), "must not be empty"));
            }
            let parts = parts
                .iter()
                .enumerate()
                .map(|(i, p)| meter_spec(file, &format!("{key}.{form}[{i}]"), p))
                .collect::<Result<Vec<_>, _>>()?;
            match form.as_str() {
                "sum" => Ok(MeterSpec::Sum(parts)),
                "first_of" => Ok(MeterSpec::FirstOf(parts)),
                _ => Err(err(file, &format!("{key}.{form}"), FORMS)),
            }
        }
        _ => Err(err(file, key, FORMS)),
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    before.iter().filter(|b| **b == b'\n').count() + 1
}
