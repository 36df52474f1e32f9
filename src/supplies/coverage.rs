//! Real coverage (§4.3): the cartridges a toner used against those the
//! contract pays for, and the coverage that implies.
//!
//! The contract includes supplies sized to 5 % coverage per toner. It pays
//! for pages ÷ the rated yield cartridges (the black toner serves b/w and
//! colour pages, each colour toner the colour pages; A4-equivalents); the
//! levels say how many were used. Implied coverage = 5 % × used ÷ paid for.
//! Pure: integers in, exact decimals out.

use rust_decimal::{Decimal, RoundingStrategy};

use super::forecast::{Level, used_points};

/// The coverage the contract assumes for every toner, in %.
pub const ASSUMED_PCT: u32 = 5;

/// A toner's coverage over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Points of a cartridge used (100: one whole cartridge).
    pub used_points: i64,
    /// The A4-equivalent pages the toner served.
    pub pages: i128,
    /// Its rated yield at 5 %.
    pub rated_yield: u32,
    /// The tolerance above the assumption, in % of it.
    pub tolerance_pct: u32,
}

fn two_places(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl Coverage {
    /// The coverage of `levels` (the toner's levels in the window) over
    /// `pages` with `rated_yield`.
    pub fn of(levels: &[Level], pages: i128, rated_yield: u32, tolerance_pct: u32) -> Coverage {
        Coverage {
            used_points: used_points(levels),
            pages: pages.max(0),
            rated_yield,
            tolerance_pct,
        }
    }

    /// Cartridges used, to 2 decimals.
    pub fn cartridges_used(&self) -> Decimal {
        Decimal::new(self.used_points, 2)
    }

    /// Cartridges the contract pays for: pages ÷ rated yield, to 2 decimals.
    pub fn cartridges_paid(&self) -> Decimal {
        let pages = Decimal::try_from_i128_with_scale(self.pages, 0).unwrap_or(Decimal::MAX);
        two_places(pages / Decimal::from(self.rated_yield.max(1)))
    }

    /// 5 % × used ÷ paid for, to 2 decimals; None without pages.
    pub fn implied_pct(&self) -> Option<Decimal> {
        if self.pages <= 0 {
            return None;
        }
        let used = Decimal::from(self.used_points) * Decimal::from(self.rated_yield);
        let pages = Decimal::try_from_i128_with_scale(self.pages, 0).ok()?;
        let raw = used.checked_mul(Decimal::from(ASSUMED_PCT))? / Decimal::ONE_HUNDRED;
        Some(two_places(raw.checked_div(pages)?))
    }

    /// At least one whole cartridge used: enough to judge by.
    pub fn enough_evidence(&self) -> bool {
        self.used_points >= 100
    }

    /// The implied coverage exceeds the assumption by more than the
    /// tolerance, whatever the evidence. Exact: used × yield > (100 +
    /// tolerance) × pages, in points.
    pub fn over_tolerance(&self) -> bool {
        let used = i128::from(self.used_points) * i128::from(self.rated_yield);
        let allowed = (100 + i128::from(self.tolerance_pct)) * self.pages;
        self.pages > 0 && used > allowed
    }

    /// Over the tolerance with enough evidence: extra supplies will be
    /// invoiced.
    pub fn above_contract(&self) -> bool {
        self.enough_evidence() && self.over_tolerance()
    }
}

/// The A4-equivalent pages a toner of `colour` serves: the black toner
/// every page, a colour toner the colour pages.
pub fn pages_served(colour: &str, bw: i128, colour_pages: i128) -> i128 {
    if colour == "black" {
        bw + colour_pages
    } else {
        colour_pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::Timestamp;

    fn levels(points: &[i64]) -> Vec<Level> {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| Level {
                at: Timestamp::from_millis(i as i64 * 86_400_000),
                level: *p,
                percent: Some(*p),
            })
            .collect()
    }

    #[test]
    fn implied_coverage_is_five_percent_times_used_over_paid() {
        // 100 → 10, new → 40: 1.50 cartridges used. 42 000 pages at 28 000
        // a cartridge: 1.50 paid for. 5 %.
        let c = Coverage::of(&levels(&[100, 60, 10, 100, 40]), 42_000, 28_000, 15);
        assert_eq!(c.cartridges_used(), Decimal::new(150, 2));
        assert_eq!(c.cartridges_paid(), Decimal::new(150, 2));
        assert_eq!(c.implied_pct(), Some(Decimal::new(500, 2)));
        assert!(c.enough_evidence());
        assert!(!c.above_contract());
        // Example S1 (docs/contract-rules.md): the same cartridges over
        // 30 000 pages: 1.07 paid for, 7.00 %, above 5.75 %.
        let c = Coverage::of(&levels(&[100, 60, 10, 100, 40]), 30_000, 28_000, 15);
        assert_eq!(c.cartridges_paid(), Decimal::new(107, 2));
        assert_eq!(c.implied_pct(), Some(Decimal::new(700, 2)));
        assert!(c.above_contract());
    }

    #[test]
    fn the_tolerance_is_exact_at_its_edge() {
        // 115 points × 20 000 = 2 300 000 = 115 × 20 000 pages: exactly
        // 5.75 %, not above.
        let c = Coverage::of(&levels(&[100, 0, 100, 85]), 20_000, 20_000, 15);
        assert_eq!(c.implied_pct(), Some(Decimal::new(575, 2)));
        assert!(!c.above_contract());
        let c = Coverage::of(&levels(&[100, 0, 100, 85]), 19_999, 20_000, 15);
        assert!(c.above_contract());
    }

    #[test]
    fn less_than_a_cartridge_or_no_pages_never_warns() {
        let c = Coverage::of(&levels(&[100, 20]), 5_000, 28_000, 15);
        assert_eq!(c.implied_pct(), Some(Decimal::new(2240, 2)));
        assert!(!c.enough_evidence());
        assert!(c.over_tolerance());
        assert!(!c.above_contract());
        let c = Coverage::of(&levels(&[100, 0, 100, 0]), 0, 28_000, 15);
        assert_eq!(c.implied_pct(), None);
        assert!(!c.above_contract());
    }

    #[test]
    fn black_serves_every_page_and_colours_the_colour_pages() {
        assert_eq!(pages_served("black", 700, 300), 1000);
        assert_eq!(pages_served("cyan", 700, 300), 300);
    }
}
