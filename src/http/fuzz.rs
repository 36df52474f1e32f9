//! Fuzzing (proptest): query parameters are untrusted, so every parameter
//! parser given any text — arbitrary, shaped like a date or a time with odd
//! fields, or decoded from any query string the way axum decodes it —
//! returns a value or a 400 that names the parameter, and never panics.

use axum::extract::Query;
use axum::http::Uri;
use proptest::prelude::*;
use proptest::sample::select;

use super::params;
use crate::answer::ErrorCode;

/// Text shaped like the values the parsers take, with fields out of range.
fn shaped() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}",
        "20[0-9]{2}-[0-1][0-9]-[0-3][0-9]( [0-2][0-9]:[0-6][0-9](:[0-6][0-9])?)?",
        "20[0-9]{2}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})",
        "[+-]?[0-9]{0,30}",
        select(vec![
            "",
            " ",
            "0",
            "-0",
            "+1",
            "1 ",
            "٣",
            "²",
            "2026-03-29 02:30",
            "2026-10-25 02:30",
            "2026-06-29T23:59:60Z",
            "2026-13-01",
            "0000-01-01",
            "9999-12-31T23:59:59+99:99",
            "json",
            "csv",
            "xlsx",
            ";",
            ",",
            "\u{0}",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A query string: pairs of names and values with escapes, good and bad.
fn query_string() -> impl Strategy<Value = String> {
    "([a-z_]{0,8}(=([A-Za-z0-9:+ ._-]|%[0-9A-Fa-f]{2}|%[G-Z]?){0,20})?&?){0,6}"
}

/// Every parser on `text`: a value or a bad-parameter error naming `p`.
fn parse_all(text: &str) -> Result<(), TestCaseError> {
    let given = Some(text.to_owned());
    let errors = [
        params::date("p", text).err(),
        params::opt_date("p", &given).err(),
        params::required_date("p", &given).err(),
        params::opt_instant("p", &given).err(),
        params::limit("p", &given, 100, 10_000).err(),
        params::limit("p", &given, 1, usize::MAX).err(),
        params::choice("p", text, &["json", "csv", "xlsx"]).err(),
    ];
    for e in errors.into_iter().flatten() {
        prop_assert_eq!(e.code, ErrorCode::BadParameter);
        prop_assert!(e.message.starts_with("`p`"), "{}", e.message);
    }
    Ok(())
}

proptest! {
    #[test]
    fn fuzz_parsing_any_parameter_never_panics(
        text in prop_oneof![2 => shaped(), 1 => "\\PC{0,40}", 1 => ".{0,40}"]
    ) {
        parse_all(&text)?;
    }

    #[test]
    fn fuzz_decoding_any_query_string_never_panics(query in query_string()) {
        let Ok(uri) = Uri::try_from(format!("/api/v1/devices?{query}")) else {
            return Ok(());
        };
        if let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(&uri) {
            for (_, value) in pairs {
                parse_all(&value)?;
            }
        }
    }
}
