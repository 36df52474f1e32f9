//! Data-driven tests of the invoice check: K1 and its readings (the
//! contract's worked example), a vendor file per case, and the findings
//! with their arithmetic worked out by hand beside them.

use super::*;
use crate::billing::tests::{SERIAL, history, k1_readings};
use crate::billing::{DeviceHistory, invoices};
use crate::contract::tests::{d, dec, k1};

const HEADER: &str = "fakturanr;fakturadato;kind;periode_fra;periode_til;class;description;serial;antall;enhetspris;beløp;målerstand_fra;målerstand_til;estimert\n";

/// The vendor's file for K1: the header and `rows`, `;` and decimal comma.
fn file(rows: &[&str]) -> Vec<VendorInvoice> {
    let text = format!("{HEADER}{}\n", rows.join("\n"));
    parse_invoices(&text).expect("the test file reads")
}

fn checked_with(
    vendor: &[VendorInvoice],
    histories: &[DeviceHistory],
    c: &Contract,
) -> Vec<Checked> {
    let until = needed_until(vendor).unwrap();
    let ours = invoices(c, histories, until).expect("no overflow");
    check(c, vendor, &ours, &Tolerance::default()).expect("checks")
}

fn checked(rows: &[&str]) -> Vec<Checked> {
    checked_with(&file(rows), &k1_readings(), &k1())
}

/// (kind, severity, theirs, ours, Δ pages, Δ NOK) of each finding.
type Row = (
    &'static str,
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn rows(c: &Checked) -> Vec<Row> {
    let text = |d: Option<Decimal>| d.map(|d| d.normalize().to_string());
    c.findings
        .iter()
        .map(|f| {
            (
                f.kind.name(),
                f.severity.name(),
                text(f.theirs),
                text(f.ours),
                text(f.delta_pages),
                f.delta_nok.to_string(),
            )
        })
        .collect()
}

fn row(
    kind: &'static str,
    severity: &'static str,
    theirs: Option<&str>,
    ours: Option<&str>,
    pages: Option<&str>,
    nok: &str,
) -> Row {
    let s = |x: Option<&str>| x.map(str::to_owned);
    (kind, severity, s(theirs), s(ours), s(pages), nok.to_owned())
}

const A_KONTO_FIXED: &str =
    "1001;01.07.2025;a_konto;01.07.2025;31.12.2025;fixed;Faste avgifter;;6;200,00;1 200,00;;;";

#[test]
fn example_i1_gives_exactly_its_findings_and_amounts() {
    let c = checked(&[
        A_KONTO_FIXED,
        // 30 000 × 0,0470 = 1 410,00: right sum, wrong price.
        "1001;01.07.2025;a_konto;01.07.2025;31.12.2025;bw;S/H a konto;;30 000;0,0470;1 410,00;;;",
        // 6 000 × 0,45 = 2 700,00, not 2 750,00.
        "1001;01.07.2025;a_konto;01.07.2025;31.12.2025;colour;Farge a konto;;6 000;0,45;2 750,00;;;",
        format!("1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;S/H avregning;{SERIAL};0;0,045;0,00;100 000;158 000;nei").as_str(),
        format!("1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;Farge avregning;{SERIAL};2 300;0,45;1 035,00;20 000;33 500;ja").as_str(),
        format!("1002;01.01.2026;settlement;01.01.2025;31.12.2025;estimation_fee;Estimeringsgebyr;{SERIAL};1;95,00;95,00;;;").as_str(),
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;other;Miljøgebyr;;1;49,00;49,00;;;",
    ]);
    assert_eq!(c.len(), 2);
    // 1001: fixed 6 × 200 agrees; b/w (0.047 − 0.045) × 30 000 = +60.00;
    // colour 2 750 − 2 700 = +50.00. 1 200 + 1 410 + 2 750 = 5 360 against
    // 1 200 + 1 350 + 2 700 = 5 250; disputed 110.00.
    assert_eq!(
        rows(&c[0]),
        [
            row(
                "price",
                "dispute",
                Some("0.047"),
                Some("0.045"),
                None,
                "60.00"
            ),
            row(
                "arithmetic",
                "dispute",
                Some("2750"),
                Some("2700"),
                None,
                "50.00"
            ),
        ]
    );
    assert_eq!(c[0].vendor_total.to_string(), "5360.00");
    assert_eq!(c[0].our_total.unwrap().to_string(), "5250.00");
    assert_eq!(c[0].disputed.to_string(), "110.00");
    // 1002: b/w agrees (0 pages; 100 000 and 158 000 are ours, exact).
    // Colour 2 300 − 1 800 = +500 pages × 0.45 = +225.00; colour_total
    // 33 500 against our exact 33 000 (500 beyond 0.5 % of our use 13 000
    // = 65); estimated where we measured. The fee +95.00 and Miljøgebyr
    // +49.00. 0 + 1 035 + 95 + 49 = 1 179 against 810; disputed
    // 225 + 95 + 49 = 369.00.
    assert_eq!(
        rows(&c[1]),
        [
            row(
                "pages",
                "dispute",
                Some("2300"),
                Some("1800"),
                Some("500"),
                "225.00"
            ),
            row(
                "reading",
                "dispute",
                Some("33500"),
                Some("33000"),
                Some("500"),
                "0.00"
            ),
            row(
                "estimated_reading",
                "dispute",
                Some("33500"),
                Some("33000"),
                None,
                "0.00"
            ),
            row(
                "estimation_fee",
                "dispute",
                Some("95"),
                Some("0"),
                None,
                "95.00"
            ),
            row(
                "unexpected_line",
                "dispute",
                Some("49"),
                None,
                None,
                "49.00"
            ),
        ]
    );
    assert_eq!(c[1].vendor_total.to_string(), "1179.00");
    assert_eq!(c[1].our_total.unwrap().to_string(), "810.00");
    assert_eq!(c[1].disputed.to_string(), "369.00");
    // 110 + 369 = 479.00 in all.
    let reading = &c[1].findings[1];
    assert_eq!(reading.meter, Some(Meter::ColourTotal));
    assert_eq!(reading.evidence.len(), 1);
    assert_eq!(reading.evidence[0].boundary.value, 33_000);
    assert_eq!(reading.evidence[0].boundary.method.name(), "exact");
    // The fee's evidence: our four measured values at 2026-01-01.
    assert_eq!(c[1].findings[3].evidence.len(), 4);
    assert!(
        c[1].findings[3].message.contains("we measured it (exact)"),
        "{}",
        c[1].findings[3].message
    );
}

#[test]
fn pages_within_the_tolerance_are_a_note() {
    // 1 805 against our 1 800: 5 ≤ 0.5 % of 1 800 = 9, a note; Δ 5 × 0.45 =
    // 2.25. 1 810: 10 > 9, a dispute of 4.50.
    for (pages, amount, severity, nok) in [
        ("1 805", "812,25", "note", "2.25"),
        ("1 810", "814,50", "dispute", "4.50"),
    ] {
        let c = checked(&[&format!(
            "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;;{pages};0,45;{amount};;;"
        )]);
        let found = rows(&c[0]);
        assert_eq!(found[0].0, "pages");
        assert_eq!(
            (found[0].1, found[0].5.as_str()),
            (severity, nok),
            "{found:?}"
        );
        // A note is no dispute: nothing disputed.
        let disputed = if severity == "note" { "0.00" } else { nok };
        assert_eq!(c[0].disputed.to_string(), disputed);
    }
}

#[test]
fn a_reading_within_the_tolerance_of_our_use_is_a_note() {
    // Our b/w use 2025: 158 000 − 100 000 = 58 000; 0.5 % = 290. 158 200 is
    // 200 off: a note; 158 300 is 300 off: a dispute. Δ NOK 0 either way.
    for (to, severity) in [("158 200", "note"), ("158 300", "dispute")] {
        let c = checked(&[&format!(
            "1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;x;{SERIAL};0;0,045;0,00;100 000;{to};nei"
        )]);
        let found = rows(&c[0]);
        assert_eq!(found.len(), 2, "{found:?}"); // and the missing colour line
        assert_eq!(
            (found[0].0, found[0].1, found[0].5.as_str()),
            ("reading", severity, "0.00")
        );
    }
}

#[test]
fn lines_without_a_counterpart_and_ours_without_theirs() {
    // A b/w line for a device outside K1: unexpected, its amount disputed.
    // Our colour line of 810.00 is missing from theirs: a note of −810.00.
    let c = checked(&[
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;x;AA2M099999999;10;0,045;0,45;;;",
    ]);
    assert_eq!(
        rows(&c[0]),
        [
            row(
                "unexpected_line",
                "dispute",
                Some("0.45"),
                None,
                None,
                "0.45"
            ),
            row(
                "missing_line",
                "note",
                None,
                Some("810"),
                Some("-1800"),
                "-810.00"
            ),
        ]
    );
    assert!(
        c[0].findings[0]
            .message
            .contains("not a device of the contract")
    );
    // A period telleverk has no invoice for: every line is unexpected.
    let c =
        checked(&["1003;01.03.2025;a_konto;01.03.2025;31.08.2025;fixed;x;;6;200,00;1 200,00;;;"]);
    assert_eq!(
        rows(&c[0]),
        [row(
            "unexpected_line",
            "dispute",
            Some("1200"),
            None,
            None,
            "1200.00"
        )]
    );
    assert!(c[0].our_total.is_none());
    assert!(
        c[0].findings[0]
            .message
            .contains("no a_konto invoice for 2025-03-01 – 2025-08-31")
    );
}

#[test]
fn per_device_lines_add_up_to_our_pooled_line() {
    // Two devices: 1 000 + 800 colour pages beyond the prepaid volume at
    // 0.45 = 450.00 + 360.00 = 810.00, our one pooled line of 1 800.
    let c = checked(&[
        &format!(
            "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;{SERIAL};1 000;0,45;450,00;;;"
        ),
        &format!(
            "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;{SERIAL};800;0,45;360,00;;;"
        ),
        &format!("1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;x;{SERIAL};0;0,045;0,00;;;"),
    ]);
    assert_eq!(rows(&c[0]), []);
    assert_eq!(c[0].disputed, Nok::ZERO);
}

#[test]
fn estimation_fees_are_matched_across_the_invoices_of_a_date() {
    // Read last on 2025-12-01: 2026-01-01 is extrapolated, so telleverk
    // charges a fee (configured 95.00) on the settlement of that date. The
    // vendor puts it on the a-konto issued the same day: it agrees.
    let mut c = k1();
    c.estimation_fee = Nok(dec("95.00"));
    let sparse = vec![history(
        SERIAL,
        &[
            ("2025-01-01", [100_000, 5_000, 20_000, 1_000]),
            ("2025-07-01", [131_000, 6_000, 27_500, 1_500]),
            ("2025-12-01", [154_000, 6_700, 32_000, 1_700]),
        ],
    )];
    let fixed = "1003;01.01.2026;a_konto;01.01.2026;30.06.2026;fixed;x;;6;200,00;1 200,00;;;";
    let fee = format!(
        "1003;01.01.2026;a_konto;01.01.2026;30.06.2026;estimation_fee;x;{SERIAL};1;95,00;95,00;;;"
    );
    let fees = |out: &[Checked]| -> Vec<Row> {
        rows(&out[0])
            .into_iter()
            .filter(|r| r.0 != "missing_line" || r.3.as_deref() == Some("95"))
            .collect()
    };
    let out = checked_with(&file(&[fixed, &fee]), &sparse, &c);
    assert_eq!(fees(&out), []);
    // Charged at 120,00: a price finding of 120 − 95 = +25.00.
    let dear = fee.replace("95,00;95,00", "120,00;120,00");
    let out = checked_with(&file(&[fixed, &dear]), &sparse, &c);
    assert_eq!(
        fees(&out),
        [row(
            "price",
            "dispute",
            Some("120"),
            Some("95"),
            None,
            "25.00"
        )]
    );
    // Not charged by the vendor: our fee is a note of −95.00.
    let out = checked_with(&file(&[fixed]), &sparse, &c);
    assert_eq!(
        fees(&out),
        [row(
            "missing_line",
            "note",
            None,
            Some("95"),
            None,
            "-95.00"
        )]
    );
    // A pooled line of 2 fees where we charge 1: one disputed, 1 × 95.00.
    let pooled =
        "1003;01.01.2026;a_konto;01.01.2026;30.06.2026;estimation_fee;x;;2;95,00;190,00;;;";
    let out = checked_with(&file(&[fixed, pooled]), &sparse, &c);
    assert_eq!(
        fees(&out),
        [row(
            "estimation_fee",
            "dispute",
            Some("2"),
            Some("1"),
            Some("1"),
            "95.00"
        )]
    );
}

#[test]
fn another_contract_s_invoice_is_refused() {
    let text = "invoice,issue_date,kind,period_from,period_to,class,description,serial,pages,unit_price,amount,contract\n\
                7,2025-07-01,a_konto,2025-07-01,2025-12-31,fixed,x,,6,200.00,1200.00,K2\n";
    let vendor = parse_invoices(text).unwrap();
    let ours = invoices(&k1(), &k1_readings(), d("2026-01-01")).unwrap();
    let e = check(&k1(), &vendor, &ours, &Tolerance::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2: invoice 7 is for contract `K2`, not `K1`: check it against its own contract"
    );
}

#[test]
fn amounts_too_large_to_compute_are_an_error_never_a_panic() {
    let c = k1();
    let vendor = file(&[
        "1001;01.07.2025;a_konto;01.07.2025;31.12.2025;bw;x;;79 000 000 000 000 000 000 000 000 000;79 000 000 000 000 000 000 000 000 000;1,00;;;",
    ]);
    let ours = invoices(&c, &k1_readings(), d("2026-01-01")).unwrap();
    assert!(matches!(
        check(&c, &vendor, &ours, &Tolerance::default()),
        Err(CheckError::Overflow(_))
    ));
}

#[test]
fn an_estimate_billed_above_the_measured_value_is_a_cost_never_refunded() {
    // I1's 1002 estimated colour_total 33 500 at 2026-01-01; we measured
    // 33 000 (exact): (33 500 − 33 000) × 0.45 = 225.00. The b/w line was
    // not estimated; a line sent twice counts once.
    let vendor = file(&[
        &format!(
            "1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;x;{SERIAL};0;0,045;0,00;100 000;158 100;nei"
        ),
        &format!(
            "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;{SERIAL};2 300;0,45;1 035,00;20 000;33 500;ja"
        ),
    ]);
    let ours = invoices(&k1(), &k1_readings(), d("2026-01-01")).unwrap();
    let found = unrefunded(&[vendor.clone(), vendor], &ours).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let u = &found[0];
    assert_eq!(
        (u.serial.as_str(), u.meter, u.at, u.theirs),
        (SERIAL, Meter::ColourTotal, d("2026-01-01"), 33_500)
    );
    assert_eq!(u.ours.boundary.value, 33_000);
    assert_eq!(u.cost.to_string(), "225.00");
    // An estimate at or below what we measured cost nothing.
    let low = file(&[&format!(
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;{SERIAL};1 800;0,45;810,00;20 000;33 000;ja"
    )]);
    assert!(unrefunded(&[low], &ours).unwrap().is_empty());
}

#[test]
fn a_credit_line_is_a_line_like_any_other() {
    // 2 000 colour pages × 0,45 = 900,00, and a credit of −200 × 0,45 =
    // −90,00: 1 800 pages and 810.00, as ours. Nothing to find.
    let c = checked(&[
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;;2 000;0,45;900,00;;;",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;Kreditnota;;-200;0,45;-90,00;;;",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;x;;0;0,045;0,00;;;",
    ]);
    assert_eq!(rows(&c[0]), []);
    assert_eq!(c[0].vendor_total.to_string(), "810.00");
    // A credit whose amount is not pages × price: −200 × 0.45 is −90.00,
    // not −80.00, so the vendor credited 10.00 too little: +10.00.
    let c = checked(&[
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;;2 000;0,45;900,00;;;",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;Kreditnota;;-200;0,45;-80,00;;;",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;bw;x;;0;0,045;0,00;;;",
    ]);
    assert_eq!(
        rows(&c[0]),
        [row(
            "arithmetic",
            "dispute",
            Some("-80"),
            Some("-90"),
            None,
            "10.00"
        )]
    );
}
