//! Money: exact decimal NOK, never floating point.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// An amount of NOK. Amounts on invoice lines are rounded to øre half away
/// from zero ([`Nok::round`]); configured amounts are kept as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Nok(pub Decimal);

/// A unit price as written: at least 4 decimals, as configured prices are
/// (`0.0450`), more when an uplift makes them longer. Never rounded.
pub fn price_text(price: Decimal) -> String {
    let mut p = price.normalize();
    if p.scale() < 4 {
        p.rescale(4);
    }
    p.to_string()
}

impl Nok {
    pub const ZERO: Nok = Nok(Decimal::ZERO);

    /// `value` rounded to øre, half away from zero.
    pub fn round(value: Decimal) -> Nok {
        Nok(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The amount with exactly two decimals, as it is shown.
    pub fn in_ore(self) -> Decimal {
        let mut v = self.0;
        v.rescale(2);
        v
    }
}

/// A number too large to compute exactly: an amount beyond rust_decimal's
/// 96 bits (about 7.9 × 10²⁸), or a count of pages beyond 64 bits; the
/// arithmetic would panic or be wrong. Billing could not run; it is never a
/// billing discrepancy. `0` says what was being computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} is too large to compute: check the contract's prices and the meter readings")]
pub struct Overflow(pub String);

/// `a × b`, or the overflow of computing `what`.
pub fn mul(a: Decimal, b: Decimal, what: impl FnOnce() -> String) -> Result<Decimal, Overflow> {
    a.checked_mul(b).ok_or_else(|| Overflow(what()))
}

/// `a + b`, or the overflow of computing `what`.
pub fn add(a: Decimal, b: Decimal, what: impl FnOnce() -> String) -> Result<Decimal, Overflow> {
    a.checked_add(b).ok_or_else(|| Overflow(what()))
}

/// The sum of amounts, or the overflow of computing `what`. Money has no
/// `+` that could panic: every sum goes through here.
pub fn sum(
    amounts: impl IntoIterator<Item = Nok>,
    what: impl Fn() -> String,
) -> Result<Nok, Overflow> {
    amounts
        .into_iter()
        .try_fold(Nok::ZERO, |total, a| add(total.0, a.0, &what).map(Nok))
}

/// Always two decimals: `5250.00`.
impl fmt::Display for Nok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.in_ore())
    }
}

impl FromStr for Nok {
    type Err = String;
    /// A decimal string with at most 2 decimals, like `200.00` or `200`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = Decimal::from_str_exact(s.trim())
            .map_err(|_| format!("`{s}` is not an amount like \"200.00\""))?;
        if v.scale() > 2 && v.normalize().scale() > 2 {
            return Err(format!("`{s}` has more than 2 decimals (øre)"));
        }
        Ok(Nok(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero_to_ore() {
        let r = |s: &str| Nok::round(Decimal::from_str_exact(s).unwrap()).to_string();
        assert_eq!(r("1.005"), "1.01");
        assert_eq!(r("1.004999"), "1.00");
        assert_eq!(r("-1.005"), "-1.01");
        assert_eq!(r("1350"), "1350.00");
        assert_eq!(r("2.5"), "2.50");
    }

    #[test]
    fn an_overflow_is_an_error_that_names_what_was_computed() {
        let max = Nok(Decimal::MAX);
        let e = sum([max, Nok(Decimal::ONE)], || "the total".to_owned()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the total is too large to compute"),
            "{e}"
        );
        assert!(mul(Decimal::MAX, Decimal::TWO, || "a line".to_owned()).is_err());
        assert_eq!(
            sum([Nok(Decimal::ONE), Nok(Decimal::TWO)], String::new).unwrap(),
            Nok(Decimal::from(3))
        );
    }

    #[test]
    fn parses_amounts_of_whole_ore() {
        assert_eq!("200.00".parse::<Nok>().unwrap().to_string(), "200.00");
        assert_eq!("200".parse::<Nok>().unwrap().to_string(), "200.00");
        assert_eq!("1.500".parse::<Nok>().unwrap().to_string(), "1.50");
        assert!("1.005".parse::<Nok>().is_err());
        assert!("abc".parse::<Nok>().is_err());
    }
}
