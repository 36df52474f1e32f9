//! Tests of `[[contract]]` checking: the issue's example resolves, and every
//! contract error names the key and the line.

use std::path::Path;

use super::*;
use rust_decimal::Decimal;

use crate::contract::Billing;

const K1: &str = r#"
[[device]]
serial = "A7PU011002345"
large_counts_double = true

[[contract]]
id = "K1"
devices = ["AA2M021115700", { serial = "A7PU011002345", from = "2025-03-01" }]
start = "2025-01-01"
term_months = 60
billing = "advance"
committed_bw = 60000
committed_colour = 12000
minimum_bw = 0
minimum_colour = 0
fixed_fee_monthly = "200.00"
deviation_threshold_pct = 15
defer_at_or_below = "100.00"
estimation_fee = "0.00"
renewal_uplift_pct = 30

[[contract.price]]
from = "2025-01-01"
bw = "0.0450"
colour = "0.4500"
"#;

fn parse_text(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/etc/telleverk/telleverk.toml"), text, &|_| None)
}

/// The error for K1 with `from` replaced by `to` (which must occur).
fn error_with(from: &str, to: &str) -> ConfigError {
    assert!(K1.contains(from), "{from}");
    match parse_text(&K1.replacen(from, to, 1)) {
        Ok(_) => panic!("expected an error with {to}"),
        Err(e) => e,
    }
}

#[test]
fn the_issue_example_resolves() {
    let c = parse_text(K1).unwrap();
    assert!(c.devices.is_empty());
    assert_eq!(c.hand_read.len(), 1);
    assert!(c.large_counts_double("A7PU011002345"));
    assert!(!c.large_counts_double("AA2M021115700"));
    let k1 = c.contract("K1").unwrap();
    assert_eq!(k1.billing, Billing::Advance);
    assert_eq!(k1.devices.len(), 2);
    assert_eq!(k1.devices[1].from.unwrap().to_string(), "2025-03-01");
    assert_eq!(k1.committed_bw, Some(60_000));
    assert_eq!(k1.fixed_fee_monthly.to_string(), "200.00");
    assert_eq!(k1.prices[0].prices.bw.to_string(), "0.0450");
    assert_eq!(k1.trailing_days, 90);
}

#[test]
fn toml_dates_and_integer_money_are_accepted() {
    let c = parse_text(
        &K1.replace("start = \"2025-01-01\"", "start = 2025-01-01")
            .replace("fixed_fee_monthly = \"200.00\"", "fixed_fee_monthly = 200"),
    )
    .unwrap();
    assert_eq!(c.contracts[0].start.to_string(), "2025-01-01");
    assert_eq!(c.contracts[0].fixed_fee_monthly.to_string(), "200.00");
}

struct Case {
    from: &'static str,
    to: &'static str,
    key: &'static str,
    message: &'static str,
}

const CASES: &[Case] = &[
    Case {
        from: "bw = \"0.0450\"",
        to: "bw = \"100000000000000000\"",
        key: "contract[0].price[0].bw",
        message: "100000000000000000 is more than 1000000 NOK a page, the largest unit price",
    },
    Case {
        from: "fixed_fee_monthly = \"200.00\"",
        to: "fixed_fee_monthly = \"10000000000000\"",
        key: "contract[0].fixed_fee_monthly",
        message: "is more than 1000000000000 NOK, the largest amount",
    },
    Case {
        from: "renewal_uplift_pct = 30",
        to: "renewal_uplift_pct = \"2000\"",
        key: "contract[0].renewal_uplift_pct",
        message: "2000 is more than 1000 %",
    },
    Case {
        from: "devices = [\"AA2M021115700\",",
        to: "devices = [\"=1+2\",",
        key: "contract[0].devices[0]",
        message: "the serial number `=1+2` starts with `=`, which a spreadsheet reads as a formula",
    },
    Case {
        from: "{ serial = \"A7PU011002345\", from",
        to: "{ serial = \"@A7PU\", from",
        key: "contract[0].devices[1]",
        message: "starts with `@`, which a spreadsheet reads as a formula",
    },
    Case {
        from: "serial = \"A7PU011002345\"\nlarge",
        to: "serial = \"-A7PU\"\nlarge",
        key: "device[0].serial",
        message: "starts with `-`, which a spreadsheet reads as a formula",
    },
    Case {
        from: "fixed_fee_monthly = \"200.00\"",
        to: "fixed_fee_monthly = 200.00",
        key: "contract[0].fixed_fee_monthly",
        message: "TOML float",
    },
    Case {
        from: "bw = \"0.0450\"",
        to: "bw = 0.045",
        key: "contract[0].price[0].bw",
        message: "TOML float",
    },
    Case {
        from: "bw = \"0.0450\"",
        to: "bw = \"-0.0450\"",
        key: "contract[0].price[0].bw",
        message: "negative",
    },
    Case {
        from: "from = \"2025-01-01\"",
        to: "from = \"2025-02-01\"",
        key: "contract[0].price",
        message: "not on the contract's start",
    },
    Case {
        from: "colour = \"0.4500\"",
        to: "colour = \"0.4500\"\n[[contract.price]]\nfrom = \"2025-01-01\"\nbw = \"0.05\"\ncolour = \"0.5\"",
        key: "contract[0].price",
        message: "overlapping price versions",
    },
    Case {
        from: "estimation_fee = \"0.00\"",
        to: "estimation_fee = \"0.005\"",
        key: "contract[0].estimation_fee",
        message: "more than 2 decimals",
    },
    Case {
        from: "term_months = 60",
        to: "term_months = 30",
        key: "contract[0].term_months",
        message: "whole number of years",
    },
    Case {
        from: "billing = \"advance\"",
        to: "billing = \"monthly\"",
        key: "contract[0].billing",
        message: "not advance or arrears",
    },
    Case {
        from: "from = \"2025-03-01\"",
        to: "from = \"2024-12-01\"",
        key: "contract[0].devices[1].from",
        message: "before the contract's start",
    },
    Case {
        from: "committed_bw = 60000",
        to: "committed_bw = -1",
        key: "contract[0].committed_bw",
        message: "negative",
    },
    Case {
        from: "renewal_uplift_pct = 30",
        to: "renewal_uplift_pct = 30\nrenewal = 1",
        key: "contract[0].renewal",
        message: "unknown field `renewal`",
    },
    Case {
        from: "devices = [\"AA2M021115700\", ",
        to: "devices = [\"AA2M021115700\", \"AA2M021115700\", ",
        key: "contract[0].devices",
        message: "listed twice at the same time",
    },
];

#[test]
fn contract_errors_name_the_key_and_line() {
    for case in CASES {
        let e = error_with(case.from, case.to);
        assert_eq!(e.key, case.key, "{}: {e}", case.to);
        assert!(e.message.contains(case.message), "{}: {e}", case.to);
        assert!(e.line.is_some(), "{}: {e}", case.to);
    }
}

#[test]
fn a_serial_in_two_contracts_at_once_is_rejected_but_one_after_the_other_is_fine() {
    let second = r#"
[[contract]]
id = "K2"
devices = [{ serial = "AA2M021115700", from = "2026-01-01" }]
start = "2025-06-01"
term_months = 12
billing = "arrears"
[[contract.price]]
from = "2025-06-01"
bw = "0.05"
colour = "0.5"
"#;
    let e = parse_text(&format!("{K1}{second}")).unwrap_err();
    assert!(
        e.message.contains("is in contract `K1` at the same time"),
        "{e}"
    );
    // K1 lets the device go at the end of 2025: no overlap.
    let k1_until = K1.replace(
        "devices = [\"AA2M021115700\",",
        "devices = [{ serial = \"AA2M021115700\", until = \"2026-01-01\" },",
    );
    let c = parse_text(&format!("{k1_until}{second}")).unwrap();
    assert_eq!(c.contracts.len(), 2);
}

#[test]
fn a_hand_read_device_may_not_carry_snmp_keys() {
    let text = K1.replace("large_counts_double = true", "community = \"public\"");
    let e = parse_text(&text).unwrap_err();
    assert_eq!(e.key, "device[0].address");
}

#[test]
fn the_example_config_file_resolves_with_its_contract() {
    let text = include_str!("../../config/telleverk.toml");
    let env = |name: &str| Some(format!("{name}-value-for-the-test"));
    let c = parse(Path::new("config/telleverk.toml"), text, &env).unwrap();
    let k1 = c.contract("K1").unwrap();
    assert_eq!(k1.prices.len(), 2);
    assert_eq!(c.hand_read.len(), 1);
    assert!(c.large_counts_double("A7PU011002345"));
    assert_eq!(
        c.http.limits,
        crate::config::Limits::default(),
        "the example writes out the defaults"
    );
}

#[test]
fn left_out_values_take_the_terms_defaults_and_required_ones_are_named() {
    let text = "[[contract]]\nid = \"K\"\ndevices = [\"A\"]\nstart = 2025-01-01\n\
                term_months = 12\nbilling = \"arrears\"\n\
                [[contract.price]]\nfrom = 2025-01-01\nbw = \"0.05\"\ncolour = \"0.5\"\n";
    let c = &parse_text(text).unwrap().contracts[0];
    assert_eq!(c.defer_at_or_below.to_string(), "100.00");
    assert_eq!(c.deviation_threshold_pct, Decimal::from(15));
    assert_eq!(c.renewal_uplift_pct, Decimal::from(30));
    assert_eq!(c.fixed_fee_monthly.to_string(), "0.00");
    assert_eq!(c.estimation_fee.to_string(), "0.00");
    assert_eq!((c.minimum_bw, c.minimum_colour), (0, 0));
    assert_eq!((c.committed_bw, c.committed_colour), (None, None));
    assert_eq!(c.trailing_days, 90);
    let e = parse_text(&text.replace("start = 2025-01-01\n", "")).unwrap_err();
    assert_eq!(
        (e.key.as_str(), e.message.as_str()),
        ("contract[0].start", "is required")
    );
    assert_eq!(e.line, Some(1));
}
