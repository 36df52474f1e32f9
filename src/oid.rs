//! Object identifiers and the values agents return, as plain data
//! independent of the SNMP library: what the SNMP client hands over and
//! device profiles read. Pure.

use std::fmt;
use std::str::FromStr;

/// A numeric OID such as `1.3.6.1.2.1.1.2.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(Vec<u32>);

impl Oid {
    pub fn new(arcs: Vec<u32>) -> Oid {
        Oid(arcs)
    }

    pub fn from_slice(arcs: &[u32]) -> Oid {
        Oid(arcs.to_vec())
    }

    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// True when `self` lies inside the subtree rooted at `root` (or is it).
    pub fn starts_with(&self, root: &Oid) -> bool {
        self.0.starts_with(&root.0)
    }

    /// This OID with one more arc.
    pub fn child(&self, arc: u32) -> Oid {
        let mut arcs = self.0.clone();
        arcs.push(arc);
        Oid(arcs)
    }

    /// The arcs after `root`, when `self` is inside it.
    pub fn suffix(&self, root: &Oid) -> Option<&[u32]> {
        self.starts_with(root).then(|| &self.0[root.0.len()..])
    }
}

/// The text is not a dotted numeric OID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a numeric OID (expected digits separated by dots, e.g. 1.3.6.1.2.1.1.2.0)")]
pub struct BadOid(pub String);

impl FromStr for Oid {
    type Err = BadOid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim().trim_start_matches('.').trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(BadOid(s.to_owned()));
        }
        let arcs: Result<Vec<u32>, _> = trimmed.split('.').map(str::parse::<u32>).collect();
        match arcs {
            Ok(arcs) if arcs.len() >= 2 => Ok(Oid(arcs)),
            _ => Err(BadOid(s.to_owned())),
        }
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

/// The SNMP type of an integer value (RFC 2578): Counter32 wraps at 2^32,
/// INTEGER never wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Syntax {
    Integer,
    Counter32,
    Gauge32,
    Counter64,
}

/// A value as an agent returned it, reduced to what profiles need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Int(i64, Syntax),
    Text(Vec<u8>),
    ObjectId(Oid),
    /// An unsigned value beyond `i64` (a Counter64 of 2^63 or more): no
    /// page count is that large, and storage could not hold it.
    TooLarge(u64),
    /// Any other SNMP type, by name (for error messages).
    Other(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let oid: Oid = ".1.3.6.1.4.1.18334.1.".parse().unwrap();
        assert_eq!(oid.to_string(), "1.3.6.1.4.1.18334.1");
        assert!("1.3.x".parse::<Oid>().is_err());
        assert!("".parse::<Oid>().is_err());
        assert!("1".parse::<Oid>().is_err());
    }

    #[test]
    fn prefixes_are_on_arcs_not_text() {
        let root: Oid = "1.3.6.1.4.1.1833".parse().unwrap();
        let oid: Oid = "1.3.6.1.4.1.18334.1".parse().unwrap();
        assert!(!oid.starts_with(&root));
        let root: Oid = "1.3.6.1.4.1.18334".parse().unwrap();
        assert_eq!(oid.suffix(&root), Some(&[1u32][..]));
    }
}
