//! Fuzzing (proptest): a device's supplies table is untrusted, so turning any
//! walked rows (any OIDs under the table and the colorants, any values) into
//! supplies never panics, for every built-in profile's table.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::poll::build_supplies;
use crate::oid::{Oid, Scalar};
use crate::profile::SuppliesSpec;
use crate::profile::fuzz::{BUILT_INS, oid_near, scalar};

/// The supplies tables of the built-in profiles.
fn specs() -> Vec<SuppliesSpec> {
    BUILT_INS
        .iter()
        .filter_map(|p| p.supplies.clone())
        .collect()
}

/// Walked rows of `spec`: a column, any index below it (rows of one index
/// meet), or an OID near the table; any value.
fn rows(spec: &SuppliesSpec) -> impl Strategy<Value = Vec<(Oid, Scalar)>> + use<> {
    let columns = spec.columns();
    let cell = (
        select(columns.clone()),
        prop_oneof![
            3 => (0u32..4).prop_map(|i| vec![1, i]),
            1 => vec(any::<u32>(), 0..4),
        ],
    )
        .prop_map(|(column, index)| Oid::new(column.arcs().iter().copied().chain(index).collect()));
    let oid = prop_oneof![4 => cell, 1 => oid_near(columns)];
    vec((oid, scalar()), 0..60)
}

proptest! {
    #[test]
    fn fuzz_building_supplies_from_any_rows_never_panics(
        (spec, rows) in select(specs()).prop_flat_map(|s| (Just(s.clone()), rows(&s)))
    ) {
        let supplies = build_supplies(&spec, &rows);
        prop_assert!(supplies.len() <= rows.len());
    }
}
