//! Fuzzing (proptest): the config file is written by hand, so loading any
//! mutated copy of `config/telleverk.toml`, any text made of its keys and
//! values, and any text at all gives a `Config` or an error that names a
//! key, and never panics. Every environment variable is set, so secrets
//! read from the environment are checked too.

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::{Config, ConfigError, parse};
use crate::profile::fuzz::mutated;

const EXAMPLE: &str = include_str!("../../config/telleverk.toml");

/// Pieces of config files: tables, keys and values of every kind.
const CONFIG_TOKENS: &[&str] = &[
    "\"\"",
    "\" \"",
    "0",
    "-1",
    "1",
    "65536",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "1e400",
    "0.1",
    "nan",
    "inf",
    "true",
    "[]",
    "{}",
    "[1, \"a\"]",
    "\"100000000y\"",
    "\"0s\"",
    "\"1ms\"",
    "\"1ns\"",
    "\"584942417355y\"",
    "\"15m\"",
    "\"2025-02-30\"",
    "2025-01-01",
    "2025-01-01T00:00:00Z",
    "\"9999-12-31\"",
    "\"2099-12-31\"",
    "\"0.00\"",
    "\"-0.01\"",
    "\"0.0000000000000000000000000001\"",
    "\"100000000000000000\"",
    "\"79228162514264337593543950335\"",
    "\"1e5\"",
    "\"\u{1F600}\"",
    "\"=cmd|' /C calc'!A0\"",
    "\"127.0.0.1:0\"",
    "\"[::1]:65536\"",
    "\"localhost\"",
    "\"300.1.1.1:161\"",
    "\"sha256:zz\"",
    "\"sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8\"",
    "\"*/0 * * * *\"",
    "\"60 25 32 13 8\"",
    "\"0 6 1 * *\"",
    "\"@yearly\"",
    "\"viewer\"",
    "\"root\"",
    "\"advance\"",
    "\"arrears\"",
    "\"2c\"",
    "\"3\"",
    "\"aes256c\"",
    "\"sha512\"",
    "\"counters\"",
    "\"vendor\"",
    "\"xlsx\"",
    "\"csv\"",
    "\"K1\"",
    "\"../..\"",
    "\"/\"",
    "\"\\u0000\"",
    "\"a\\tb\"",
    "'''\nmulti\n'''",
    "\n[[device]]\n",
    "\n[[device]]\naddress = \"10.0.0.1\"\n",
    "\n[device.v3]\n",
    "\n[[contract]]\n",
    "\n[[contract.price]]\n",
    "\n[[report]]\n",
    "\n[[http.token]]\n",
    "\n[http]\n",
    "\n[smtp]\n",
    "\n[collector]\n",
    "\n[alerts]\n",
    "\n[profiles]\n",
    "\n[storage]\n",
    "\nmono = true\n",
    "\nlarge_counts_double = true\n",
    "\nextends = \"x\"\n",
    "\nterm_months = 0\n",
    "\ndevices = []\n",
    "\ndevices = [\"AA2J021004711\", \"AA2J021004711\"]\n",
    "=",
    "[",
    "]]",
    "\"",
    "#",
    ".",
];

/// Lines `key = value` and table headers from the example's own words.
fn assembled() -> impl Strategy<Value = String> {
    let keys: Vec<&'static str> = EXAMPLE
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| !k.starts_with('#') && !k.is_empty())
        .collect();
    let line = prop_oneof![
        3 => (select(keys), select(CONFIG_TOKENS)).prop_map(|(k, v)| format!("{k} = {v}\n")),
        1 => select(CONFIG_TOKENS).prop_map(|t| format!("{t}\n")),
    ];
    vec(line, 0..40).prop_map(|lines| lines.concat())
}

fn load(text: &str) -> Result<Config, ConfigError> {
    let env = |name: &str| Some(format!("{name}-value-from-the-environment"));
    parse(
        Path::new("/nonexistent/telleverk/telleverk.toml"),
        text,
        &env,
    )
}

fn check(result: Result<Config, ConfigError>, text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let lines = text.lines().count().max(1);
        prop_assert!(!e.key.is_empty() && !e.message.is_empty(), "{e}");
        prop_assert!(
            e.line.is_none_or(|l| l <= lines + 1),
            "{e} of {lines} lines"
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_loading_a_mutated_example_config_never_panics(text in mutated(EXAMPLE, CONFIG_TOKENS)) {
        check(load(&text), &text)?;
    }

    #[test]
    fn fuzz_loading_any_config_text_never_panics(
        text in prop_oneof![3 => assembled(), 1 => "\\PC{0,300}"]
    ) {
        check(load(&text), &text)?;
    }
}
