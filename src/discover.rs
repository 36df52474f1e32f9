//! What `telleverk discover` scans: address ranges as people write them
//! (`10.20.0.0/22`, `10.20.0.10-40`, one host), and what a probe's answers
//! say of the device behind an address. Pure: no sockets, no clock.

use core::net::Ipv4Addr;

/// The most addresses a scan covers without `--force`: a /16.
pub const MAX_ADDRESSES: u64 = 1 << 16;

/// One range as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Range {
    /// IPv4 addresses from the first to the last, both included.
    V4 { first: Ipv4Addr, last: Ipv4Addr },
    /// A host name or an IPv6 address: one target, resolved when asked.
    Host(String),
}

/// A range that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not an address range: {why} (give a CIDR such as 10.20.0.0/22, a span such as 10.20.0.10-40, or one host)"
)]
pub struct RangeError {
    pub text: String,
    pub why: String,
}

impl Range {
    /// Reads `10.20.0.0/22`, `10.20.0.10-40`, `10.20.0.10-10.20.1.5`, or a
    /// host (an address or a name). A CIDR block of more than two addresses
    /// leaves out its network and broadcast addresses.
    pub fn parse(text: &str) -> Result<Range, RangeError> {
        let text = text.trim();
        let bad = |why: &str| RangeError {
            text: text.to_owned(),
            why: why.to_owned(),
        };
        if text.is_empty() {
            return Err(bad("empty"));
        }
        if let Some((base, bits)) = text.split_once('/') {
            let base: Ipv4Addr = base
                .parse()
                .map_err(|_| bad("the part before / is not an IPv4 address"))?;
            let bits: u32 = bits
                .parse()
                .ok()
                .filter(|b| *b <= 32)
                .ok_or_else(|| bad("the prefix length is not 0 to 32"))?;
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            let network = u32::from(base) & mask;
            let broadcast = network | !mask;
            let (first, last) = if bits < 31 {
                (network + 1, broadcast - 1)
            } else {
                (network, broadcast)
            };
            return Ok(Range::V4 {
                first: first.into(),
                last: last.into(),
            });
        }
        if let Some((from, to)) = text.split_once('-')
            && let Ok(first) = from.trim().parse::<Ipv4Addr>()
        {
            let to = to.trim();
            let last = if let Ok(last) = to.parse::<Ipv4Addr>() {
                last
            } else {
                let octet: u8 = to
                    .parse()
                    .map_err(|_| bad("the end is neither an address nor a last octet (0-255)"))?;
                let [a, b, c, _] = first.octets();
                Ipv4Addr::new(a, b, c, octet)
            };
            if last < first {
                return Err(bad("the end comes before the start"));
            }
            return Ok(Range::V4 { first, last });
        }
        if let Ok(ip) = text.parse::<Ipv4Addr>() {
            return Ok(Range::V4 {
                first: ip,
                last: ip,
            });
        }
        let host_like = text.parse::<core::net::Ipv6Addr>().is_ok()
            || text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !host_like {
            return Err(bad("not an address or a host name"));
        }
        if text.contains('.') && text.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad("not a valid IPv4 address"));
        }
        Ok(Range::Host(text.to_owned()))
    }

    /// How many addresses it covers.
    pub fn len(&self) -> u64 {
        match self {
            Range::V4 { first, last } => u64::from(u32::from(*last) - u32::from(*first)) + 1,
            Range::Host(_) => 1,
        }
    }

    /// Never empty: a range has at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Its targets, as `host` strings, in order.
    pub fn hosts(&self) -> Box<dyn Iterator<Item = String> + '_> {
        match self {
            Range::V4 { first, last } => Box::new(
                (u32::from(*first)..=u32::from(*last)).map(|ip| Ipv4Addr::from(ip).to_string()),
            ),
            Range::Host(h) => Box::new(std::iter::once(h.clone())),
        }
    }
}

/// `host:port` for a target (IPv6 in brackets).
pub fn address(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(first: &str, last: &str) -> Range {
        Range::V4 {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        }
    }

    #[test]
    fn ranges_read_as_people_write_them() {
        let r = Range::parse("10.20.0.0/22").unwrap();
        assert_eq!(r, v4("10.20.0.1", "10.20.3.254"));
        assert_eq!(r.len(), 1_022);
        assert_eq!(
            Range::parse("10.20.0.7/32").unwrap(),
            v4("10.20.0.7", "10.20.0.7")
        );
        assert_eq!(Range::parse("10.20.0.6/31").unwrap().len(), 2);
        assert_eq!(
            Range::parse(" 10.20.0.10-40 ").unwrap(),
            v4("10.20.0.10", "10.20.0.40")
        );
        assert_eq!(
            Range::parse("10.20.0.250-10.20.1.5").unwrap(),
            v4("10.20.0.250", "10.20.1.5")
        );
        assert_eq!(Range::parse("127.0.3.9").unwrap().len(), 1);
        assert_eq!(
            Range::parse("printer-2og.example").unwrap(),
            Range::Host("printer-2og.example".into())
        );
        assert_eq!(Range::parse("::1").unwrap(), Range::Host("::1".into()));
        let hosts: Vec<String> = Range::parse("127.0.3.254-127.0.4.1")
            .unwrap()
            .hosts()
            .collect();
        assert_eq!(
            hosts,
            ["127.0.3.254", "127.0.3.255", "127.0.4.0", "127.0.4.1"]
        );
        assert_eq!(address("::1", 161), "[::1]:161");
        assert_eq!(address("10.0.0.1", 1161), "10.0.0.1:1161");
    }

    #[test]
    fn what_is_not_a_range_says_why() {
        for (text, why) in [
            ("", "empty"),
            ("10.20.0.0/33", "prefix length"),
            ("10.20.0/22", "before /"),
            ("10.20.0.40-10", "before the start"),
            ("10.20.0.10-300", "last octet"),
            ("10.20.300.1", "valid IPv4"),
            ("printer 2og", "host name"),
        ] {
            let e = Range::parse(text).unwrap_err();
            assert!(e.why.contains(why), "{text}: {e}");
            assert!(e.to_string().contains("10.20.0.0/22"), "{e}");
        }
    }
}
