//! Fuzzing (proptest): what a device answers and what a profile file says
//! are untrusted, so evaluating any answers against the built-in profiles,
//! and loading any profile text (mutated copies of `mibs/*.toml`, and
//! arbitrary text), returns a value or a clear error and never panics.
//!
//! The budget is proptest's: 256 cases a target, `PROPTEST_CASES=N` for more
//! (`benches/fuzz.sh` runs the long budget in release). The strategies for
//! answers and text edits are shared with the collector's and the config's
//! targets.

use std::collections::HashMap;
use std::sync::LazyLock;

use proptest::collection::{hash_map, vec};
use proptest::prelude::*;
use proptest::sample::select;

use super::load::{BUILT_IN, profiles_from};
use super::{Profile, Profiles, load_profiles};
use crate::oid::{Oid, Scalar, Syntax};

/// The built-in profiles, resolved.
static PROFILES: LazyLock<Profiles> =
    LazyLock::new(|| load_profiles(None).expect("the built-in profiles load"));

/// The built-in profiles, one by one.
pub(crate) static BUILT_INS: LazyLock<Vec<Profile>> = LazyLock::new(|| {
    PROFILES
        .ids()
        .map(|id| PROFILES.get(id).expect("listed").clone())
        .collect()
});

/// An integer an agent may send: edges, small counts and anything.
pub(crate) fn integer() -> impl Strategy<Value = i64> {
    prop_oneof![
        select(vec![
            0,
            -1,
            -2,
            -3,
            i64::MIN,
            i64::MAX,
            i64::from(u32::MAX),
            i64::from(u32::MAX) + 1,
            i64::from(i32::MIN),
        ]),
        0i64..1_000_000,
        any::<i64>(),
    ]
}

/// Text an agent may send for a model, serial or description: raw bytes,
/// and text that starts like a model with any character after it.
pub(crate) fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..80),
        "\\PC{0,40}".prop_map(String::into_bytes),
        (
            "[ ]{0,2}",
            "KONICA MINOLTA |bizhub |konica minolta",
            "\\PC{0,20}"
        )
            .prop_map(|(a, b, c)| format!("{a}{b}{c}").into_bytes()),
        ("[ A-Za-z]{0,16}", any::<char>(), "\\PC{0,4}")
            .prop_map(|(a, b, c)| format!("{a}{b}{c}").into_bytes()),
    ]
}

/// Any value an agent may return, of any type.
pub(crate) fn scalar() -> impl Strategy<Value = Scalar> {
    let syntax = select(vec![
        Syntax::Integer,
        Syntax::Counter32,
        Syntax::Gauge32,
        Syntax::Counter64,
    ]);
    prop_oneof![
        4 => (integer(), syntax).prop_map(|(v, s)| Scalar::Int(v, s)),
        3 => text_bytes().prop_map(Scalar::Text),
        1 => vec(any::<u32>(), 0..12).prop_map(|a| Scalar::ObjectId(Oid::new(a))),
        1 => any::<u64>().prop_map(|v| Scalar::TooLarge(v | 1 << 63)),
        1 => select(vec!["NoSuchObject", "NoSuchInstance", "EndOfMibView", "Null", "TimeTicks"])
            .prop_map(Scalar::Other),
    ]
}

/// An OID near `known`: one of them, one below one of them, or any.
pub(crate) fn oid_near(known: Vec<Oid>) -> impl Strategy<Value = Oid> {
    let below = known.clone();
    prop_oneof![
        4 => select(known),
        2 => (select(below), vec(any::<u32>(), 1..4)).prop_map(|(oid, tail)| {
            Oid::new(oid.arcs().iter().copied().chain(tail).collect())
        }),
        1 => vec(any::<u32>(), 0..14).prop_map(Oid::new),
    ]
}

/// A device's answers to a profile's scalars: some OIDs, any values.
pub(crate) fn answers(profile: &Profile) -> impl Strategy<Value = HashMap<Oid, Scalar>> + use<> {
    hash_map(oid_near(profile.scalar_oids()), scalar(), 0..40)
}

/// One edit of a text.
#[derive(Debug, Clone)]
pub(crate) enum Edit {
    /// Removes up to `.1` characters at `.0`.
    Delete(usize, usize),
    /// Inserts text at a character position.
    Insert(usize, String),
    /// Sets what follows the first `=` of a line.
    SetValue(usize, String),
    /// Copies a line before another.
    CopyLine(usize, usize),
    DropLine(usize),
}

/// A copy of `base` with up to eight edits; inserted text comes from `tokens`
/// or is any text.
pub(crate) fn mutated(
    base: &'static str,
    tokens: &'static [&'static str],
) -> impl Strategy<Value = String> {
    let piece = || {
        prop_oneof![
            3 => select(tokens).prop_map(str::to_owned),
            1 => "\\PC{0,12}",
            1 => any::<char>().prop_map(String::from),
        ]
    };
    let edit = prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), piece()).prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<usize>(), piece()).prop_map(|(at, s)| Edit::SetValue(at, s)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::CopyLine(a, b)),
        any::<usize>().prop_map(Edit::DropLine),
    ];
    vec(edit, 1..8).prop_map(move |edits| apply(base, &edits))
}

fn apply(base: &str, edits: &[Edit]) -> String {
    let mut text = base.to_owned();
    for edit in edits {
        let mut chars: Vec<char> = text.chars().collect();
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let (n_chars, n_lines) = (chars.len(), lines.len());
        match edit {
            Edit::Delete(at, n) => {
                let at = at % (n_chars + 1);
                chars.drain(at..(at + n).min(n_chars));
                text = chars.into_iter().collect();
            }
            Edit::Insert(at, s) => {
                let at = at % (n_chars + 1);
                chars.splice(at..at, s.chars());
                text = chars.into_iter().collect();
            }
            Edit::SetValue(line, s) => {
                let line = &mut lines[line % n_lines];
                if let Some((key, _)) = line.split_once('=') {
                    *line = format!("{key}= {s}");
                }
                text = lines.join("\n");
            }
            Edit::CopyLine(from, to) => {
                let copy = lines[from % n_lines].clone();
                lines.insert(to % (n_lines + 1), copy);
                text = lines.join("\n");
            }
            Edit::DropLine(line) => {
                lines.remove(line % n_lines);
                text = lines.join("\n");
            }
        }
    }
    text
}

/// Pieces of profile files: values of every type, keys and tables.
const PROFILE_TOKENS: &[&str] = &[
    "\"\"",
    "\"1.3.6\"",
    "\"1.3.6.1.4.1.18334.1.1.1.5.7.2.1.1.0\"",
    "\"1.3.6.1.4.1.4294967296\"",
    "\".\"",
    "\"1..3\"",
    "\"-1\"",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "nan",
    "true",
    "[]",
    "[-1, -2, -3]",
    "[\"\"]",
    "{}",
    "{ sum = [] }",
    "{ first_of = [] }",
    "{ sum = [{ first_of = [\"1.3\"] }] }",
    "{ sum = \"1.3\" }",
    "{ other = [\"1.3\"] }",
    "[\"KONICA MINOLTA \", \"\u{e9}\"]",
    "\"printer-mib\"",
    "\"konica-minolta-bizhub\"",
    "\"fuzz\"",
    "\n[meters]\n",
    "\n[identity]\n",
    "\n[supplies]\n",
    "\n[status]\n",
    "\nextends = \"fuzz\"\n",
    "\nextends = \"konica-minolta-bizhub\"\n",
    "\nid = \"printer-mib\"\n",
    "\nid = \"fuzz\"\n",
    "\ntotal = \"1.3.6.1\"\n",
    "\nbw_total = { first_of = [\"1.3\", { sum = [\"1.4\"] }] }\n",
    "\nno_such_meter = \"1.3\"\n",
    "=",
    "[",
    "]]",
    "\"",
    "'''",
    "#",
];

/// A profile file: a mutated built-in one, or any text.
fn profile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => mutated(BUILT_IN[0].1, PROFILE_TOKENS),
        4 => mutated(BUILT_IN[1].1, PROFILE_TOKENS),
        1 => "\\PC{0,200}",
        1 => vec(select(PROFILE_TOKENS), 0..30).prop_map(|t| t.concat()),
    ]
}

proptest! {
    #[test]
    fn fuzz_evaluating_any_answers_never_panics(
        (index, values) in (0..BUILT_INS.len())
            .prop_flat_map(|i| (Just(i), answers(&BUILT_INS[i])))
    ) {
        let profile = &BUILT_INS[index];
        let evaluated = profile.evaluate(&values);
        if let Some(Scalar::ObjectId(oid)) = values.get(&super::sys_object_id()) {
            let _ = PROFILES.choose(oid);
        }
        prop_assert!(evaluated.meters.len() <= profile.meters.len());
    }

    #[test]
    fn fuzz_loading_any_profile_file_never_panics(
        text in profile_text(),
        values in vec(scalar(), 1..24),
    ) {
        let loaded = profiles_from(&[("fuzz.toml".to_owned(), text)]);
        // A profile that loads is evaluated, each of its OIDs answered.
        if let Ok(profiles) = loaded {
            for id in profiles.ids() {
                let profile = profiles.get(id).expect("listed");
                let answers: HashMap<Oid, Scalar> = profile
                    .scalar_oids()
                    .into_iter()
                    .zip(values.iter().cycle().cloned())
                    .collect();
                let _ = profile.evaluate(&answers);
            }
        }
    }
}
