//! The billing commands end to end: the contract's worked examples from TOML and
//! CSV (tests/data/billing) through `import-readings`, `invoices --json` and
//! `reconcile --json` on a real SQLite file, exact to the øre.

use serde_json::{Value, json};

use super::backend::Backend;
use super::cli::{Workdir, text};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/billing");

/// A workdir holding the billing config and the CSV files.
fn workdir() -> Workdir {
    workdir_on(Backend::chosen())
}

/// [`workdir`] storing on `backend`.
pub fn workdir_on(backend: Backend) -> Workdir {
    let w = Workdir::on(backend);
    for file in [
        "contracts.toml",
        "k1.csv",
        "k2.csv",
        "estimates.csv",
        "hand-meters.csv",
        "i1-vendor.csv",
    ] {
        std::fs::copy(format!("{DATA}/{file}"), w.path().join(file)).expect("copy test data");
    }
    w.point_config("contracts.toml");
    w
}

fn import(w: &Workdir, csv: &str) -> String {
    let out = w.run(&["import-readings", "--config", "contracts.toml", csv]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    text(&out)
}

fn json_of(w: &Workdir, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--config", "contracts.toml", "--json"]);
    let out = w.run(&all);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// (kind, issue date, total, status) of every invoice.
fn summary(invoices: &Value) -> Vec<(String, String, String, String)> {
    invoices["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_owned();
            (s("kind"), s("issue_date"), s("total"), s("status"))
        })
        .collect()
}

fn row(kind: &str, issued: &str, total: &str, status: &str) -> (String, String, String, String) {
    (kind.into(), issued.into(), total.into(), status.into())
}

#[test]
fn k1_advance_from_toml_and_csv() {
    let w = workdir();
    assert!(import(&w, "k1.csv").contains("imported 12 readings"));
    let inv = json_of(
        &w,
        &["invoices", "--contract", "K1", "--until", "2026-01-01"],
    );
    assert_eq!(
        summary(&inv),
        [
            // 1 200.00 + 30 000 × 0.045 + 6 000 × 0.45 = 5 250.00
            row("a_konto", "2025-01-01", "5250.00", "due"),
            row("a_konto", "2025-07-01", "5250.00", "due"),
            // colour 13 800 − 12 000 prepaid = 1 800 × 0.45 = 810.00; b/w none.
            row("settlement", "2026-01-01", "810.00", "due"),
            row("a_konto", "2026-01-01", "5250.00", "due"),
        ]
    );
    let first = &inv["invoices"][0];
    assert_eq!(
        first["lines"],
        json!([
            {"description": "fixed fees 2025-01-01 – 2025-07-01: 6 months × 200.00", "class": "fixed", "pages": null, "unit_price": "200.00", "amount": "1200.00", "months": 6},
            {"description": "b/w prepaid: half of 60000 committed pages", "class": "bw", "pages": 30000, "unit_price": "0.0450", "amount": "1350.00"},
            {"description": "colour prepaid: half of 12000 committed pages", "class": "colour", "pages": 6000, "unit_price": "0.4500", "amount": "2700.00"},
        ])
    );
    assert_eq!(first["period_end"], "2025-07-01");
    assert_eq!(first["boundary_values"], json!([]));
    let settlement = &inv["invoices"][2];
    assert_eq!(settlement["lines"][0]["amount"], "0.00");
    assert_eq!(settlement["lines"][1]["pages"], 1800);
    assert_eq!(settlement["estimated"], false);
    // Both ends of the year: the opening values first, then the closing.
    assert_eq!(
        settlement["boundary_values"][0],
        json!({"serial": "AA2M021115700", "at": "2025-01-01T00:00:00+01:00", "meter": "bw_total", "value": 100000, "method": "exact",
               "basis": [{"taken_at": "2025-01-01T00:00:00+01:00", "value": 100000, "source": "manual"}]})
    );
    assert_eq!(
        settlement["boundary_values"][4],
        json!({"serial": "AA2M021115700", "at": "2026-01-01T00:00:00+01:00", "meter": "bw_total", "value": 158000, "method": "exact",
               "basis": [{"taken_at": "2026-01-01T00:00:00+01:00", "value": 158000, "source": "manual"}]})
    );

    let st = json_of(&w, &["reconcile", "--contract", "K1", "--at", "2026-01-01"]);
    let p = &st["periods"];
    // First half: b/w 32 000 (+6.67 %), colour 8 000 (+33.33 %, a breach).
    assert_eq!(
        p[0],
        json!({"kind": "half", "start": "2025-01-01", "end": "2025-07-01", "running": false,
               "bw": {"committed": 30000, "actual": 32000, "projected": null, "deviation_pct": 6.67, "breach": false},
               "colour": {"committed": 6000, "actual": 8000, "projected": null, "deviation_pct": 33.33, "breach": true}})
    );
    // Second half: 27 900 (−7.00 %), 5 800 (−3.33 %).
    assert_eq!(
        (
            p[1]["bw"]["actual"].clone(),
            p[1]["bw"]["deviation_pct"].clone()
        ),
        (json!(27900), json!(-7.0))
    );
    assert_eq!(
        (
            p[1]["colour"]["actual"].clone(),
            p[1]["colour"]["deviation_pct"].clone()
        ),
        (json!(5800), json!(-3.33))
    );
    // The year: 59 900 (−0.17 %), 13 800 (exactly +15.00 %: inside).
    assert_eq!(p[2]["kind"], "year");
    assert_eq!(
        (
            p[2]["bw"]["actual"].clone(),
            p[2]["bw"]["deviation_pct"].clone()
        ),
        (json!(59900), json!(-0.17))
    );
    assert_eq!(
        p[2]["colour"],
        json!({"committed": 12000, "actual": 13800, "projected": null, "deviation_pct": 15.0, "breach": false})
    );
    assert_eq!(p[3]["running"], true);
    assert_eq!(st["notice_deadline"], "2029-08-31");
    assert_eq!(
        st["renewal"],
        json!({"date": "2030-01-01", "prices": {"bw": "0.0585", "colour": "0.5850"}})
    );
    assert_eq!(st["gaps"], json!([]));
    assert_eq!(st["events"], json!([]));
}

/// Example I1: the vendor's two invoices for K1 (`;`, decimal comma,
/// Norwegian header) checked against K1's own from its readings, end to
/// end: the findings and amounts exactly, the dispute list as CSV, the
/// check kept, and a second check of the same file compared with the first.
#[test]
fn example_i1_vendor_invoices_checked_end_to_end() {
    let w = workdir();
    import(&w, "k1.csv");
    let check = json_of(
        &w,
        &[
            "check-invoice",
            "--contract",
            "K1",
            "i1-vendor.csv",
            "--csv",
            "disputes.csv",
        ],
    );
    assert_eq!(check["id"], 1);
    assert_eq!(check["contract"], "K1");
    // 5 360 + 1 179 = 6 539 against 5 250 + 810 = 6 060; disputed
    // 110 + 369 = 479.
    assert_eq!(
        (
            &check["vendor_total"],
            &check["our_total"],
            &check["disputed"]
        ),
        (&json!("6539.00"), &json!("6060.00"), &json!("479.00"))
    );
    let findings = |i: usize| -> Vec<(String, String, Value, Value, Value, String)> {
        check["invoices"][i]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["kind"].as_str().unwrap().to_owned(),
                    f["severity"].as_str().unwrap().to_owned(),
                    f["theirs"].clone(),
                    f["ours"].clone(),
                    f["delta_pages"].clone(),
                    f["delta_nok"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let f = |kind: &str, theirs: Value, ours: Value, pages: Value, nok: &str| {
        (
            kind.to_owned(),
            "dispute".to_owned(),
            theirs,
            ours,
            pages,
            nok.to_owned(),
        )
    };
    // 1001: (0.047 − 0.045) × 30 000 = +60.00; 2 750 − 6 000 × 0.45 = +50.00.
    assert_eq!(
        findings(0),
        [
            f(
                "price",
                json!("0.047"),
                json!("0.045"),
                Value::Null,
                "60.00"
            ),
            f(
                "arithmetic",
                json!("2750"),
                json!("2700"),
                Value::Null,
                "50.00"
            ),
        ]
    );
    // (vendor total, ours, disputed) of an invoice.
    let totals = |i: usize| {
        let inv = &check["invoices"][i];
        [&inv["vendor_total"], &inv["our_total"], &inv["disputed"]].map(Value::clone)
    };
    assert_eq!(
        totals(0),
        [json!("5360.00"), json!("5250.00"), json!("110.00")]
    );
    // 1002: (2 300 − 1 800) × 0.45 = +225.00; colour_total 33 500 vs our
    // exact 33 000; estimated where we measured; the fee +95.00; Miljøgebyr
    // +49.00.
    assert_eq!(
        findings(1),
        [
            f(
                "pages",
                json!("2300"),
                json!("1800"),
                json!("500"),
                "225.00"
            ),
            f(
                "reading",
                json!("33500"),
                json!("33000"),
                json!("500"),
                "0.00"
            ),
            f(
                "estimated_reading",
                json!("33500"),
                json!("33000"),
                Value::Null,
                "0.00"
            ),
            f(
                "estimation_fee",
                json!("95"),
                json!("0"),
                Value::Null,
                "95.00"
            ),
            f(
                "unexpected_line",
                json!("49"),
                Value::Null,
                Value::Null,
                "49.00"
            ),
        ]
    );
    assert_eq!(
        totals(1),
        [json!("1179.00"), json!("810.00"), json!("369.00")]
    );
    let i1002 = &check["invoices"][1];
    assert_eq!(
        i1002["findings"][1]["evidence"],
        json!([{"serial": "AA2M021115700", "at": "2026-01-01T00:00:00+01:00", "meter": "colour_total", "value": 33000, "method": "exact",
                "basis": [{"taken_at": "2026-01-01T00:00:00+01:00", "value": 33000, "source": "manual"}]}])
    );
    assert_eq!(i1002["findings"][4]["line"], 8);

    // The dispute list: the seven disputes, decimal comma.
    let csv = std::fs::read_to_string(w.path().join("disputes.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 8, "{csv}");
    assert!(lines[0].starts_with("\u{feff}invoice;line;kind;class;serial;meter;theirs;ours;delta_pages;delta_nok;message;evidence"), "{csv}");
    assert!(
        lines[1].starts_with("1001;3;price;bw;;;0,047;0,045;;60,00;"),
        "{csv}"
    );
    assert!(
        lines[4]
            .starts_with("1002;6;reading;colour;AA2M021115700;colour_total;33500;33000;500;0,00;"),
        "{csv}"
    );
    assert!(
        lines[4].contains("AA2M021115700 colour_total 33000 (exact) at 2026-01-01T00:00:00+01:00"),
        "{csv}"
    );

    // The same file again: a new check, compared with the first.
    let again = json_of(&w, &["check-invoice", "--contract", "K1", "i1-vendor.csv"]);
    assert_eq!((&again["id"], &again["previous"]), (&json!(2), &json!(1)));
    assert_eq!(again["changes"], json!([]));
    assert_eq!(again["file_sha256"], check["file_sha256"]);

    // The text shows the same.
    let out = w.run(&[
        "check-invoice",
        "--config",
        "contracts.toml",
        "--contract",
        "K1",
        "i1-vendor.csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains("check #3 of contract K1 (2 invoices"),
        "{shown}"
    );
    assert!(shown.contains("invoice 1002 settlement 2025-01-01 – 2025-12-31: vendor 1179.00, ours 810.00, disputed 369.00"), "{shown}");
    assert!(
        shown.contains("since check #2 of the same file: nothing changed"),
        "{shown}"
    );

    // Files that cannot be checked: exit 2, line and column named, nothing
    // stored (the next check is #4).
    for (name, body, says) in [
        (
            "bad-class.csv",
            "invoice;issue_date;kind;period_from;period_to;class;description;serial;pages;unit_price;amount\n1;01.07.2025;a_konto;01.07.2025;31.12.2025;toner;x;;1;1,00;1,00\n",
            "line 2, column `class`: `toner` is not a class",
        ),
        (
            "bad-amount.csv",
            "invoice;issue_date;kind;period_from;period_to;class;description;serial;pages;unit_price;amount\n1;01.07.2025;a_konto;01.07.2025;31.12.2025;bw;x;;1;1,00;ein\n",
            "line 2, column `amount`: `ein` is not a number",
        ),
        (
            "other-contract.csv",
            "invoice;issue_date;kind;period_from;period_to;class;description;serial;pages;unit_price;amount;contract\n1;01.07.2025;a_konto;01.07.2025;31.12.2025;bw;x;;1;1,00;1,00;K2\n",
            "is for contract `K2`, not `K1`",
        ),
    ] {
        std::fs::write(w.path().join(name), body).unwrap();
        let out = w.run(&[
            "check-invoice",
            "--config",
            "contracts.toml",
            "--contract",
            "K1",
            name,
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
        assert!(text(&out).contains("nothing was stored"), "{}", text(&out));
    }
    let last = json_of(&w, &["check-invoice", "--contract", "K1", "i1-vendor.csv"]);
    assert_eq!(last["id"], 4);

    // §4.1: 1002's estimated colour_total 33 500 where 33 000 was measured:
    // (33 500 − 33 000) × 0.45 = 225.00 that is never refunded.
    let st = json_of(&w, &["reconcile", "--contract", "K1", "--at", "2026-01-01"]);
    let u = &st["unrefunded_estimates"];
    assert_eq!(u.as_array().map(Vec::len), Some(1), "{st}");
    assert_eq!(
        (
            &u[0]["invoice"],
            &u[0]["meter"],
            &u[0]["at"],
            &u[0]["estimated"],
            &u[0]["measured"]["value"],
            &u[0]["measured"]["method"],
            &u[0]["unit_price"],
            &u[0]["cost"]
        ),
        (
            &json!("1002"),
            &json!("colour_total"),
            &json!("2026-01-01"),
            &json!(33500),
            &json!(33000),
            &json!("exact"),
            &json!("0.4500"),
            &json!("225.00")
        )
    );
}

#[test]
fn k2_arrears_with_a3_from_toml_and_csv() {
    let w = workdir();
    import(&w, "k2.csv");
    let inv = json_of(
        &w,
        &["invoices", "--contract", "K2", "--until", "2025-06-15"],
    );
    assert_eq!(
        summary(&inv),
        [row("arrears", "2025-06-15", "1310.00", "due")]
    );
    let lines: Vec<(String, Value, String)> = inv["invoices"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["class"].as_str().unwrap().to_owned(),
                l["pages"].clone(),
                l["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // 4 000 × 0.05; 200 × 0.10; 320 × 0.50; 30 × 1.00; 3 × 300.00
            ("bw".into(), json!(4000), "200.00".into()),
            ("bw_a3".into(), json!(200), "20.00".into()),
            ("colour".into(), json!(320), "160.00".into()),
            ("colour_a3".into(), json!(30), "30.00".into()),
            ("fixed".into(), Value::Null, "900.00".into()),
        ]
    );
    // The opening values came from the vendor.
    let st = json_of(&w, &["reconcile", "--contract", "K2", "--at", "2025-06-15"]);
    let q = &st["periods"][0];
    assert_eq!(q["kind"], "quarter");
    assert_eq!(
        q["bw"],
        json!({"committed": 4000, "actual": 4000, "projected": null, "deviation_pct": 0.0, "breach": false})
    );
    assert_eq!(
        q["colour"],
        json!({"committed": 400, "actual": 320, "projected": null, "deviation_pct": -20.0, "breach": true})
    );
    // `readings` shows what was imported, with its source.
    let out = w.run(&[
        "readings",
        "--config",
        "contracts.toml",
        "--serial",
        "A7PU011002345",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let sources: Vec<Value> = super::cli::json_lines(&out)
        .iter()
        .map(|r| r["source"].clone())
        .collect();
    assert_eq!(sources, [json!("vendor"), json!("manual")]);
    let opening = st["boundary_values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["at"] == "2025-03-15T00:00:00+01:00")
        .unwrap();
    assert_eq!(opening["basis"][0]["source"], "vendor");
}

#[test]
fn estimates_by_interpolation_and_extrapolation_carry_fees() {
    let w = workdir();
    import(&w, "estimates.csv");
    let inv = json_of(
        &w,
        &["invoices", "--contract", "K3", "--until", "2025-07-01"],
    );
    let q = &inv["invoices"][0];
    assert_eq!(q["estimated"], true);
    let closing: Vec<(String, u64, String)> = q["boundary_values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["at"] == "2025-07-01T00:00:00+02:00")
        .map(|v| {
            (
                v["serial"].as_str().unwrap().to_owned(),
                v["value"].as_u64().unwrap(),
                v["method"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        closing,
        [
            // By serial. 130 000 + 240 h × 9 000 / 2 159 h = 131 000.46 →
            // 131 000
            ("EST-EXTRA".into(), 131_000, "extrapolation".into()),
            // 130 000 + 2 400 × 10/20 days = 131 200
            ("EST-INTERP".into(), 131_200, "interpolation".into()),
        ]
    );
    // Use: EST-INTERP 131 200 − 128 000 = 3 200; EST-EXTRA from 04-01, where
    // 121 000 + 9 000 × 215 h / 2 159 h = 121 896, to 131 000: 9 104. Pooled
    // 12 304 × 0.05 = 615.20; colour 0.00; two estimation fees of 50.00.
    assert_eq!(q["lines"][0]["pages"], 12304);
    assert_eq!(q["lines"][0]["amount"], "615.20");
    let fees = q["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["class"] == "estimation_fee")
        .count();
    assert_eq!(fees, 2);
    assert_eq!(q["total"], "715.20");

    // A real reading arriving later replaces the extrapolation: 131 050 on
    // 07-01 makes EST-EXTRA exact and its fee goes.
    std::fs::write(
        w.path().join("late.csv"),
        "serial,taken_at,meter,value\nEST-EXTRA,2025-07-01,bw_total,131050\n",
    )
    .unwrap();
    import(&w, "late.csv");
    let inv = json_of(
        &w,
        &["invoices", "--contract", "K3", "--until", "2025-07-01"],
    );
    let q = &inv["invoices"][0];
    // 3 200 + (131 050 − 121 896) = 12 354 × 0.05 = 617.70 + one fee = 667.70
    assert_eq!(q["lines"][0]["pages"], 12354);
    assert_eq!(q["total"], "667.70");
}

#[test]
fn notice_deadlines_of_domain_examples() {
    let w = workdir();
    import(&w, "k1.csv");
    for (id, deadline, renewal) in [
        ("N1", "2027-02-28", "2027-07-01"),
        ("N2", "2027-02-28", "2027-07-15"),
    ] {
        let st = json_of(&w, &["reconcile", "--contract", id, "--at", "2026-06-01"]);
        assert_eq!(st["notice_deadline"], deadline, "{id}");
        // After the term, per-page prices rise by 30 %: 0.05 → 0.065.
        assert_eq!(st["renewal"]["date"], renewal, "{id}");
        assert_eq!(st["renewal"]["prices"]["bw"], "0.0650", "{id}");
        // No readings at all: nothing is invented, the gap is reported.
        assert_eq!(st["periods"][0]["bw"]["actual"], 0);
        // One gap per meter over the whole contract so far, not one per period.
        assert_eq!(
            st["gaps"].as_array().unwrap().len(),
            4,
            "{id}: {}",
            st["gaps"]
        );
        assert_eq!(st["gaps"][0]["reason"], "no readings", "{id}");
        assert_eq!(st["gaps"][0]["to"], "2026-06-01T00:00:00+02:00", "{id}");
    }
}

#[test]
fn a_bad_row_imports_nothing_and_names_line_and_column() {
    let w = workdir();
    let bad = "serial,taken_at,meter,value\nAA2M021115700,2025-01-01,bw_total,100\nAA2M021115700,2025-03-30 02:30,bw_total,200\n";
    std::fs::write(w.path().join("bad.csv"), bad).unwrap();
    let out = w.run(&["import-readings", "--config", "contracts.toml", "bad.csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("line 3") && msg.contains("taken_at") && msg.contains("nothing was imported"),
        "{msg}"
    );
    // Nothing stored: the first row is not there either.
    let inv = w.run(&[
        "reconcile",
        "--config",
        "contracts.toml",
        "--contract",
        "K1",
        "--at",
        "2025-02-01",
    ]);
    if w.server.is_none() {
        assert_eq!(
            inv.status.code(),
            Some(2),
            "no database file yet: {}",
            text(&inv)
        );
    } else {
        // The import made the schema in the server's database, and nothing else.
        assert_eq!(inv.status.code(), Some(0), "{}", text(&inv));
        let shown = text(&inv);
        assert!(
            shown.contains("running  |     30000         0")
                && shown.contains(
                    "bw_total 2025-01-01T00:00:00+01:00 – 2025-02-01T00:00:00+01:00: no readings"
                ),
            "{shown}"
        );
    }

    import(&w, "k1.csv");
    let conflict = "serial;taken_at;meter;value\nAA2M021115700;2025-01-01;bw_total;100001\n";
    std::fs::write(w.path().join("conflict.csv"), conflict).unwrap();
    let out = w.run(&[
        "import-readings",
        "--config",
        "contracts.toml",
        "conflict.csv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("already stored as 100000, not 100001"),
        "{}",
        text(&out)
    );
    let st = json_of(&w, &["reconcile", "--contract", "K1", "--at", "2026-01-01"]);
    assert_eq!(st["periods"][0]["bw"]["actual"], 32000);
}

#[test]
fn an_unknown_contract_or_a_bad_contract_config_exits_2() {
    let w = workdir();
    import(&w, "k1.csv");
    let out = w.run(&[
        "invoices",
        "--config",
        "contracts.toml",
        "--contract",
        "K9",
        "--until",
        "2026-01-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no contract `K9`") && text(&out).contains("K1, K2, K3"),
        "{}",
        text(&out)
    );
    let config = std::fs::read_to_string(w.path().join("contracts.toml")).unwrap();
    std::fs::write(
        w.path().join("contracts.toml"),
        config.replacen(
            "fixed_fee_monthly = \"200.00\"",
            "fixed_fee_monthly = 200.00",
            1,
        ),
    )
    .unwrap();
    let out = w.run(&[
        "invoices",
        "--config",
        "contracts.toml",
        "--contract",
        "K1",
        "--until",
        "2026-01-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("contract[0].fixed_fee_monthly") && text(&out).contains("TOML float"),
        "{}",
        text(&out)
    );
}

mod sparse {
    //! Storage reads only the readings around boundaries and drops; the engine
    //! must come to exactly the same answers as from every poll.

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use telleverk::billing::{self, BILLING_METERS, DeviceHistory, HISTORY_METERS, needed_dates};
    use telleverk::config;
    use telleverk::contract::midnight;
    use telleverk::import::parse_readings;
    use telleverk::meters::{Meter, MeterSet, MeterValue, ValueKind};
    use telleverk::record::{DeviceReading, Outcome, PollRecord};
    use telleverk::serial::Serial;
    use telleverk::storage::Store;
    use telleverk::timestamp::Timestamp;

    const SERIAL: &str = "POLLED0001";

    fn poll(at: DateTime<Utc>, values: [u64; 4]) -> PollRecord {
        let mut meters = MeterSet::new();
        for (meter, value) in BILLING_METERS.iter().zip(values) {
            meters.insert(MeterValue {
                meter: *meter,
                value,
                kind: ValueKind::Integer,
            });
        }
        PollRecord {
            at,
            entry_key: "127.0.0.1:161 v2c community#000000000000".into(),
            address: "127.0.0.1:161".into(),
            outcome: Outcome::Ok(Box::new(DeviceReading {
                serial: Serial::parse(SERIAL).unwrap(),
                meters,
                ..Default::default()
            })),
        }
    }

    /// Polls every 6 hours through 2025 and into 2026 with a boot glitch, a
    /// counter reset, and a 12-day outage around 2025-07-01; page counts grow
    /// on weekdays. Plus a vendor reading in the outage.
    fn fill(store: &mut Store) {
        let start = Utc.with_ymd_and_hms(2024, 12, 30, 23, 0, 0).unwrap();
        let mut v = [50_000u64, 2_000, 9_000, 300];
        let mut vendor = 0;
        for step in 0..(4 * 420) {
            let at = start + Duration::hours(6 * step);
            let day = step / 4;
            if day % 7 < 5 {
                v = [v[0] + 61, v[1] + 3, v[2] + 17, v[3] + 1];
            }
            if (176..188).contains(&day) {
                // The outage around 1 July: the device prints on, unread,
                // but for the vendor's reading on 29 June at 13:00 (11:00 UTC).
                if at == Utc.with_ymd_and_hms(2025, 6, 29, 11, 0, 0).unwrap() {
                    vendor = v[0];
                }
                continue;
            }
            let mut values = v;
            if step == 400 {
                values = [0, 0, 0, 0]; // booting: a glitch
            }
            if step == 800 {
                v = [120, 2, 30, 0]; // the board was replaced: a reset
                values = v;
            }
            store.write_round(&[poll(at, values)]).unwrap();
        }
        assert!(vendor > 0);
        let csv = format!(
            "serial,taken_at,meter,value,source\n{SERIAL},2025-06-29 13:00,bw_total,{vendor},vendor\n"
        );
        let entering = telleverk::storage::Entering {
            by: "the tests",
            at: chrono::Utc::now(),
            accept_implausible: true,
            shown: Default::default(),
        };
        store
            .import_readings(
                &parse_readings(&csv, chrono::Utc::now(), &Default::default())
                    .unwrap()
                    .rows,
                entering,
            )
            .unwrap();
    }

    /// Point indices differ between the two reads; the readings they name
    /// (`basis`) are compared instead.
    fn forget_indices(v: &mut billing::BoundaryValue) {
        v.boundary.basis.clear();
    }

    #[test]
    fn sparse_reads_give_the_same_money_as_every_poll() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "[[contract]]\nid = \"P\"\ndevices = [\"{SERIAL}\"]\nstart = \"2025-01-01\"\nterm_months = 12\nbilling = \"advance\"\ncommitted_bw = 10000\ncommitted_colour = 3000\nestimation_fee = \"25.00\"\n[[contract.price]]\nfrom = \"2025-01-01\"\nbw = \"0.05\"\ncolour = \"0.50\"\n[[contract.price]]\nfrom = \"2025-10-01\"\nbw = \"0.06\"\ncolour = \"0.55\"\n"
        );
        let cfg = config::parse(&dir.path().join("t.toml"), &text, &|_| None).unwrap();
        let contract = cfg.contract("P").unwrap();
        let mut store = Store::open(dir.path().join("t.db")).unwrap();
        fill(&mut store);
        let meters = HISTORY_METERS;
        for date in [
            "2025-04-15",
            "2025-07-01",
            "2025-09-30",
            "2026-01-01",
            "2026-02-10",
        ] {
            let date = date.parse().unwrap();
            let full = vec![DeviceHistory::new(
                &Serial::parse(SERIAL).unwrap(),
                false,
                store.meter_points(SERIAL, &meters).unwrap(),
            )];
            let instants: Vec<Timestamp> = needed_dates(contract, date)
                .into_iter()
                .map(midnight)
                .collect();
            let sparse_points = store
                .billing_points(SERIAL, &meters, &instants, contract.trailing_days)
                .unwrap();
            let n_sparse: usize = sparse_points.values().map(Vec::len).sum();
            let sparse = vec![DeviceHistory::new(
                &Serial::parse(SERIAL).unwrap(),
                false,
                sparse_points,
            )];
            let n_full: usize = full[0].meters.iter().map(Vec::len).sum();
            assert!(
                n_sparse * 10 < n_full,
                "{date}: sparse {n_sparse} of {n_full} points"
            );
            let standing = |h| {
                let mut s = billing::reconcile(contract, h, date).unwrap();
                s.boundary_values.iter_mut().for_each(forget_indices);
                s
            };
            assert_eq!(standing(&full), standing(&sparse), "standing on {date}");
            let invoices = |h| {
                let mut all = billing::invoices(contract, h, date).unwrap();
                all.iter_mut()
                    .flat_map(|i| i.boundary_values.iter_mut())
                    .for_each(forget_indices);
                all
            };
            assert_eq!(invoices(&full), invoices(&sparse), "invoices until {date}");
        }
        // The history has what it should: a glitch, a reset with its gap, and
        // estimated values at 1 July from the outage (vendor reading 2 days
        // before it; the next poll 10 days after).
        let date = "2026-01-01".parse().unwrap();
        let instants: Vec<Timestamp> = needed_dates(contract, date)
            .into_iter()
            .map(midnight)
            .collect();
        let sparse = vec![DeviceHistory::new(
            &Serial::parse(SERIAL).unwrap(),
            false,
            store
                .billing_points(SERIAL, &meters, &instants, 90)
                .unwrap(),
        )];
        let st = billing::reconcile(contract, &sparse, date).unwrap();
        let kinds: Vec<&str> = st.events.iter().map(|e| e.event.kind.name()).collect();
        assert!(
            kinds.contains(&"glitch") && kinds.contains(&"reset"),
            "{kinds:?}"
        );
        assert!(st.gaps.iter().any(|g| g.reason == "counter reset"));
        let july = st
            .boundary_values
            .iter()
            .find(|v| {
                v.boundary.at == midnight("2025-07-01".parse().unwrap())
                    && v.meter == Meter::BwTotal
            })
            .unwrap();
        assert_eq!(july.boundary.method.name(), "interpolation");
        assert_eq!(july.basis[0].2.name(), "vendor");
    }
}

#[test]
fn readings_entered_on_other_meters_are_derived_as_polls_are() {
    let w = workdir();
    import(&w, "hand-meters.csv");
    let pages = |contract: &str| -> Vec<(String, Value)> {
        let inv = json_of(
            &w,
            &["invoices", "--contract", contract, "--until", "2025-04-01"],
        );
        inv["invoices"][0]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["class"].as_str().unwrap().to_owned(), l["pages"].clone()))
            .collect()
    };
    // b/w (1 100 + 2 200) − (1 000 + 2 000) = 300; colour (55 + 66) −
    // (50 + 60) = 11.
    assert_eq!(
        pages("F1"),
        [("bw".into(), json!(300)), ("colour".into(), json!(11))]
    );
    // Marked mono: its total is b/w, 6 000 − 5 000.
    assert_eq!(
        pages("F2"),
        [("bw".into(), json!(1000)), ("colour".into(), json!(0))]
    );
    // Nothing says it is mono: no split, nothing billed as b/w, and a gap.
    assert_eq!(
        pages("F3"),
        [("bw".into(), json!(0)), ("colour".into(), json!(0))]
    );
    let st = json_of(&w, &["reconcile", "--contract", "F3", "--at", "2025-04-01"]);
    assert!(
        st["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["reason"] == "no_colour_split" && g["meter"] == "bw_total"),
        "{st}"
    );
}

mod entered {
    //! Readings people enter are checked (the future, unknown serials, a
    //! manual and a vendor value that disagree, values that break the polled
    //! series), kept with who entered them, and withdrawn without deleting.

    use chrono::{Duration, Utc};
    use serde_json::Value;
    use telleverk::meters::{Meter, MeterSet, MeterValue, ValueKind};
    use telleverk::record::{DeviceReading, Outcome, PollRecord};
    use telleverk::serial::Serial;
    use telleverk::storage::Store;

    use super::{import, json_of, workdir};
    use crate::cli::{Workdir, text};

    /// A device polled at 27 352 b/w pages a day ago and at 27 400 an hour
    /// ago: telleverk knows it from its polls.
    fn polled(w: &Workdir) {
        let mut store = Store::open(w.database()).unwrap();
        for (hours_ago, value) in [(24, 27_352), (1, 27_400)] {
            let mut meters = MeterSet::new();
            meters.insert(MeterValue {
                meter: Meter::BwTotal,
                value,
                kind: ValueKind::Integer,
            });
            let record = PollRecord {
                at: Utc::now() - Duration::hours(hours_ago),
                entry_key: "10.0.0.9:161 v2c community#000000000000".into(),
                address: "10.0.0.9:161".into(),
                outcome: Outcome::Ok(Box::new(DeviceReading {
                    serial: Serial::parse("POLLED-E1").unwrap(),
                    meters,
                    ..Default::default()
                })),
            };
            store.write_round(&[record]).unwrap();
        }
    }

    fn import_text(w: &Workdir, name: &str, csv: &str, flags: &[&str]) -> std::process::Output {
        std::fs::write(w.path().join(name), csv).unwrap();
        let mut args = vec!["import-readings", "--config", "contracts.toml", name];
        args.extend(flags);
        w.run(&args)
    }

    /// The readings of a serial as `readings --json` lines.
    fn readings(w: &Workdir, serial: &str) -> Vec<Value> {
        let out = w.run(&[
            "readings",
            "--json",
            "--config",
            "contracts.toml",
            "--serial",
            serial,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        crate::cli::json_lines(&out)
    }

    #[test]
    fn bad_entries_are_refused_with_the_reason_and_nothing_is_stored() {
        let w = workdir();
        polled(&w);
        let day_ago = (Utc::now() - Duration::hours(12)).format("%Y-%m-%dT%H:%M:%SZ");
        let in_an_hour = (Utc::now() + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
        let cases: [(&str, String, &str); 4] = [
            (
                "the future",
                format!("serial,taken_at,meter,value\nPOLLED-E1,{in_an_hour},bw_total,27500\n"),
                "in the future",
            ),
            (
                "an unknown serial",
                "serial,taken_at,meter,value\nNOBODY-KNOWS,2025-07-01,bw_total,1\n".into(),
                "`NOBODY-KNOWS` is no device telleverk knows",
            ),
            (
                // 100 pages, between polls of 27 352 and 27 400: a typo.
                "a value that breaks the polled series",
                format!("serial,taken_at,meter,value\nPOLLED-E1,{day_ago},bw_total,100\n"),
                "breaks the polled series: polled 27352 at",
            ),
            (
                "a manual and a vendor value that disagree",
                "serial,taken_at,meter,value,source\nA7PU011002345,2025-07-01,bw_total,5,vendor\nA7PU011002345,2025-07-01,bw_total,6,manual\n".into(),
                "disagrees with 5 (vendor)",
            ),
        ];
        for (what, csv, message) in cases {
            let out = import_text(&w, "bad.csv", &csv, &[]);
            assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(message), "{what}: {err}");
            assert!(err.contains("nothing was imported"), "{what}: {err}");
        }
        // Nothing of it was stored: the polled device has its polls only.
        assert!(
            readings(&w, "POLLED-E1")
                .iter()
                .all(|r| r["source"] == "polled")
        );
        // Accepted on purpose, the implausible value is stored, with who.
        let csv = format!("serial,taken_at,meter,value\nPOLLED-E1,{day_ago},bw_total,100\n");
        let out = import_text(&w, "bad.csv", &csv, &["--accept-implausible"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("warning: line 2: POLLED-E1 bw_total 100"),
            "{said}"
        );
        assert!(said.contains("stored as accepted"), "{said}");
        let manual: Vec<Value> = readings(&w, "POLLED-E1")
            .into_iter()
            .filter(|r| r["source"] == "manual")
            .collect();
        assert_eq!(manual.len(), 1);
        assert!(manual[0]["entered_by"].is_string(), "{manual:?}");
    }

    #[test]
    fn a_stored_vendor_value_disputes_a_manual_one_entered_later() {
        let w = workdir();
        let vendor =
            "serial,taken_at,meter,value,source\nA7PU011002345,2025-07-01,bw_total,5000,vendor\n";
        assert_eq!(import_text(&w, "v.csv", vendor, &[]).status.code(), Some(0));
        let manual =
            "serial,taken_at,meter,value,source\nA7PU011002345,2025-07-01,bw_total,5100,manual\n";
        let out = import_text(&w, "m.csv", manual, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("5100 (manual) disagrees with the stored vendor reading 5000"),
            "{}",
            text(&out)
        );
    }

    #[test]
    fn a_withdrawn_reading_leaves_billing_and_frees_its_key() {
        let w = workdir();
        import(&w, "k2.csv");
        let total = |w: &Workdir| -> String {
            let inv = json_of(
                w,
                &["invoices", "--contract", "K2", "--until", "2025-06-15"],
            );
            inv["invoices"][0]["total"].as_str().unwrap().to_owned()
        };
        // K2's quarter, as the worked example: 1 310.00.
        assert_eq!(total(&w), "1310.00");
        // The closing b/w reading 14 200 was typed for 14 000: withdraw it.
        let out = w.run(&[
            "withdraw-reading",
            "--config",
            "contracts.toml",
            "--serial",
            "A7PU011002345",
            "--meter",
            "bw_total",
            "--at",
            "2025-06-15",
            "--source",
            "manual",
            "--reason",
            "typed 200 too high",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        // Without it the quarter's end has no b/w value after the one reading
        // before: no rate, so no b/w pages; the A3 pages stay (bw_large was
        // not withdrawn): 200 × 0.10 − … the total falls.
        assert_ne!(total(&w), "1310.00");
        // The right value under the same key: 14 000 − 10 000 − 200 A3 =
        // 3 800 × 0.05 = 190.00 instead of 200.00 → 1 300.00.
        let right =
            "serial,taken_at,meter,value,source\nA7PU011002345,2025-06-15,bw_total,14000,manual\n";
        assert_eq!(
            import_text(&w, "right.csv", right, &[]).status.code(),
            Some(0)
        );
        assert_eq!(total(&w), "1300.00");
        // The history keeps both, with who and why (shown in Oslo time).
        let june: Vec<Value> = readings(&w, "A7PU011002345")
            .into_iter()
            .filter(|r| r["taken_at"] == "2025-06-15T00:00:00+02:00")
            .collect();
        assert_eq!(june.len(), 1, "{june:?}");
        assert_eq!(june[0]["meters"]["bw_total"], 14_000);
        assert_eq!(june[0]["withdrawn"][0]["value"], 14_200);
        assert_eq!(june[0]["withdrawn"][0]["reason"], "typed 200 too high");
        // Withdrawing what is not there is an error that says so.
        let out = w.run(&[
            "withdraw-reading",
            "--config",
            "contracts.toml",
            "--serial",
            "A7PU011002345",
            "--meter",
            "bw_total",
            "--at",
            "2025-06-16",
            "--reason",
            "x",
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("in force to withdraw"));
    }
}
