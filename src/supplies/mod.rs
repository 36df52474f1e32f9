//! Supplies (Printer-MIB prtMarkerSuppliesTable): kind, colour and level of each
//! toner, drum, waste box, fuser and so on.
//!
//! Pure: turns raw table values into [`Supply`] values. The negative levels of
//! RFC 3805 (−1 no limit, −2 unknown, −3 some remaining) and a negative maximum
//! are kept exactly as reported and are never turned into percentages.

pub mod coverage;
pub mod forecast;
pub mod yields;

use serde::Serialize;
use utoipa::ToSchema;

use crate::meters::DeviceColour;

/// One supply as reported at one reading: what the collector reads, storage
/// keeps and every answer shows. `level` and `max` are as reported (−1 no
/// limit, −2 unknown, −3 some remaining); `percent` is null then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Supply {
    /// The supply's index in the device's table (indices have gaps).
    pub index: u32,
    pub description: String,
    /// prtMarkerSuppliesType as a name (toner, waste_toner, opc, …).
    pub kind: String,
    /// The colour from the colorant table or the description; null when none.
    pub colour: Option<String>,
    pub level: i64,
    pub max: i64,
    /// level / max × 100, rounded half away from zero; null when either is negative
    /// or max is 0.
    pub percent: Option<i64>,
}

/// Raw columns of one row of the supplies table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSupply {
    pub index: u32,
    pub type_code: Option<i64>,
    pub description: Option<String>,
    pub max: Option<i64>,
    pub level: Option<i64>,
    /// prtMarkerSuppliesColorantIndex (0: none).
    pub colorant_index: Option<i64>,
}

/// Builds a supply from its raw row and the colorant names (index → name).
/// Returns None when the row lacks a level (nothing to report).
pub fn from_raw(raw: RawSupply, colorants: &[(u32, String)]) -> Option<Supply> {
    let level = raw.level?;
    let max = raw.max.unwrap_or(-2);
    let description = raw.description.unwrap_or_default();
    let colorant = raw
        .colorant_index
        .filter(|i| *i > 0)
        .and_then(|i| colorants.iter().find(|(idx, _)| i64::from(*idx) == i))
        .and_then(|(_, name)| colour_name(name));
    Some(Supply {
        index: raw.index,
        kind: kind_name(raw.type_code.unwrap_or(2)).to_owned(),
        colour: colorant.or_else(|| colour_name(&description)),
        description,
        level,
        max,
        percent: percent(level, max),
    })
}

/// What a device's supplies say of its colour: a supply of another colour
/// than black makes it a colour device; black ones only, a mono device.
pub fn device_colour(supplies: &[Supply]) -> DeviceColour {
    let mut colours = supplies.iter().filter_map(|s| s.colour.as_deref());
    match colours.next() {
        None => DeviceColour::Unknown,
        Some(first) => {
            if first != "black" || colours.any(|c| c != "black") {
                DeviceColour::Colour
            } else {
                DeviceColour::Mono
            }
        }
    }
}

/// level / max as a whole percentage, half away from zero; None for the
/// negative sentinel values or a zero maximum.
pub fn percent(level: i64, max: i64) -> Option<i64> {
    if level < 0 || max <= 0 {
        return None;
    }
    let scaled = i128::from(level) * 200 / i128::from(max);
    Some(((scaled + 1) / 2) as i64)
}

/// prtMarkerSuppliesType (RFC 3805 / IANA-PRINTER-MIB) as a snake_case name.
pub fn kind_name(code: i64) -> &'static str {
    const NAMES: [&str; 34] = [
        "other",
        "unknown",
        "toner",
        "waste_toner",
        "ink",
        "ink_cartridge",
        "ink_ribbon",
        "waste_ink",
        "opc",
        "developer",
        "fuser_oil",
        "solid_wax",
        "ribbon_wax",
        "waste_wax",
        "fuser",
        "corona_wire",
        "fuser_oil_wick",
        "cleaner_unit",
        "fuser_cleaning_pad",
        "transfer_unit",
        "toner_cartridge",
        "fuser_oiler",
        "water",
        "waste_water",
        "glue_water_additive",
        "waste_paper",
        "binding_supply",
        "banding_supply",
        "stitching_wire",
        "shrink_wrap",
        "paper_wrap",
        "staples",
        "inserts",
        "covers",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|c| c.checked_sub(1))
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("unknown")
}

/// The process colour named in a colorant value or a description, if any.
/// Descriptions come as "Toner (Cyan)", "Black Toner", "Drum Cartridge Yellow",
/// and in Norwegian and German as bizhubs set to those languages report them
/// ("Toner (Gul)", "Trommel (Schwarz)").
pub fn colour_name(text: &str) -> Option<String> {
    const COLOURS: [(&str, &[&str]); 4] = [
        ("cyan", &["cyan", "zyan"]),
        ("magenta", &["magenta"]),
        ("yellow", &["yellow", "gul", "gelb"]),
        ("black", &["black", "svart", "sort", "schwarz"]),
    ];
    // Compared without copying the text: this runs for every supply polled.
    let names = |words: &[&str]| {
        text.split(|ch: char| !ch.is_alphanumeric())
            .any(|word| words.iter().any(|w| word.eq_ignore_ascii_case(w)))
    };
    let mut found = COLOURS
        .into_iter()
        .filter(|(_, words)| names(words))
        .map(|(colour, _)| colour);
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_half_away_from_zero_and_skips_sentinels() {
        assert_eq!(percent(76, 100), Some(76));
        assert_eq!(percent(1, 8), Some(13)); // 12.5 → 13
        assert_eq!(percent(3, 8), Some(38)); // 37.5 → 38
        assert_eq!(percent(0, 100), Some(0));
        assert_eq!(percent(-2, 100), None);
        assert_eq!(percent(-3, 100), None);
        assert_eq!(percent(50, -2), None);
        assert_eq!(percent(50, 0), None);
    }

    #[test]
    fn colours_come_from_words_not_indices() {
        assert_eq!(colour_name("Toner (Cyan)").as_deref(), Some("cyan"));
        assert_eq!(colour_name("Black Toner").as_deref(), Some("black"));
        assert_eq!(colour_name("Waste Toner Box"), None);
        assert_eq!(colour_name("Imaging Unit"), None);
        assert_eq!(colour_name("Toner (Gul)").as_deref(), Some("yellow"));
        assert_eq!(
            colour_name("Trommeleinheit (Schwarz)").as_deref(),
            Some("black")
        );
        assert_eq!(colour_name("Bildeenhet svart").as_deref(), Some("black"));
        // Two colours named: ambiguous, so none.
        assert_eq!(colour_name("Cyan/Magenta kit"), None);
    }

    #[test]
    fn colorant_table_wins_over_description() {
        let raw = RawSupply {
            index: 1,
            type_code: Some(3),
            description: Some("Toner 1".into()),
            max: Some(100),
            level: Some(40),
            colorant_index: Some(4),
        };
        let s = from_raw(raw, &[(4, "cyan".into())]).unwrap();
        assert_eq!(s.colour.as_deref(), Some("cyan"));
        assert_eq!(s.kind, "toner");
        assert_eq!(s.percent, Some(40));
    }

    #[test]
    fn kinds_are_named() {
        assert_eq!(kind_name(3), "toner");
        assert_eq!(kind_name(4), "waste_toner");
        assert_eq!(kind_name(9), "opc");
        assert_eq!(kind_name(15), "fuser");
        assert_eq!(kind_name(20), "transfer_unit");
        assert_eq!(kind_name(0), "unknown");
        assert_eq!(kind_name(99), "unknown");
    }
}
