//! Fuzzing (proptest): the vendor's invoice file is untrusted, so parsing
//! any text, and files of well-formed rows with hostile cells (huge and
//! negative figures, odd dates, unknown classes, serials in and out of the
//! contract), gives invoices or an error naming a line and column; and
//! checking whatever reads against K1's own invoices gives findings or an
//! error, and never panics.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::{Tolerance, check, needed_until, parse_invoices};
use crate::billing::invoices;
use crate::billing::tests::k1_readings;
use crate::contract::tests::k1;

/// A cell of some column, an edge, or any text.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec![
            "1001", "", " ", "01.07.2025", "31.12.2025", "2025-07-01", "2025-12-31", "2026-01-01",
            "01.01.2025", "29.02.2025", "31.12.2099", "a_konto", "settlement", "arrears", "a3",
            "fixed", "bw", "colour", "bw_a3", "colour_a3", "estimation_fee", "other", "toner",
            "AA2M021115700", "AA2M099999999", "=1+1", "0", "-0", "1", "-1", "6", "30 000",
            "0,0470", "0,45", "1 410,00", "-49,00", "1.410,00", "1410.00", "0.045",
            "79228162514264337593543950335", "-79228162514264337593543950335",
            "99999999999999999999999999,99", "1e9", "ja", "nei", "yes", "kanskje", "K1", "K2",
            "18446744073709551616", "158 000", "33 500",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,16}",
        1 => "-?[0-9 ]{1,30}(,[0-9]{1,6})?",
    ]
}

const HEADER: [&str; 15] = [
    "fakturanr",
    "fakturadato",
    "kind",
    "periode_fra",
    "periode_til",
    "class",
    "description",
    "serial",
    "antall",
    "enhetspris",
    "beløp",
    "målerstand_fra",
    "målerstand_til",
    "estimert",
    "contract",
];

/// A file: the header, then rows of 15 cells, `;` or `,`.
fn structured() -> impl Strategy<Value = String> {
    (select(vec![";", ","]), vec(vec(cell(), 15..=15), 0..12)).prop_map(|(delimiter, rows)| {
        let mut text = HEADER.join(delimiter);
        for row in rows {
            text.push('\n');
            text.push_str(&row.join(delimiter));
        }
        text
    })
}

/// Example I1's rows with a few cells replaced: files that read, so the
/// check itself meets hostile figures.
fn mutated() -> impl Strategy<Value = String> {
    const ROWS: [&str; 4] = [
        "1001;01.07.2025;a_konto;01.07.2025;31.12.2025;bw;x;;30 000;0,0470;1 410,00;;;;K1",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;colour;x;AA2M021115700;2 300;0,45;1 035,00;20 000;33 500;ja;K1",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;estimation_fee;x;AA2M021115700;1;95,00;95,00;;;;K1",
        "1002;01.01.2026;settlement;01.01.2025;31.12.2025;estimation_fee;x;;2;95,00;190,00;;;;",
    ];
    vec(
        (select(ROWS.to_vec()), vec((0..15usize, cell()), 0..3)),
        1..8,
    )
    .prop_map(|rows| {
        let mut text = HEADER.join(";");
        for (row, changes) in rows {
            let mut cells: Vec<String> = row.split(';').map(str::to_owned).collect();
            for (i, cell) in changes {
                cells[i] = cell.replace(';', ",");
            }
            text.push('\n');
            text.push_str(&cells.join(";"));
        }
        text
    })
}

fn checked(text: &str) -> Result<(), TestCaseError> {
    match parse_invoices(text) {
        Err(e) => {
            let lines = text.split(['\n', '\r']).count().max(1);
            prop_assert!(e.line <= lines + 1, "line {} of {lines}: {e}", e.line);
        }
        Ok(vendor) => {
            if let Some(until) = needed_until(&vendor) {
                let c = k1();
                if let Ok(ours) = invoices(&c, &k1_readings(), until) {
                    let _ = check(&c, &vendor, &ours, &Tolerance::default());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_reading_any_text_as_an_invoice_never_panics(text in "\\PC{0,400}") {
        checked(&text)?;
    }

    #[test]
    fn fuzz_reading_and_checking_hostile_cells_never_panics(text in structured()) {
        checked(&text)?;
    }

    #[test]
    fn fuzz_checking_mutated_invoices_never_panics(text in mutated()) {
        checked(&text)?;
    }
}
