//! What `telleverk discover` scans: address ranges as people write them
//! (`10.20.0.0/22`, `10.20.0.10-40`, one host), and what a scan means for
//! the entries `serve` polls ([`plan`]): which follow their device to a new
//! address, which devices are new. Pure: no sockets, no clock.

use core::net::Ipv4Addr;
use std::collections::{HashMap, HashSet};

/// Konica Minolta's enterprise number: a sysObjectID under it is a bizhub.
const KONICA_MINOLTA: &str = "1.3.6.1.4.1.18334";

/// Whether a sysObjectID is Konica Minolta's.
pub fn is_konica_minolta(sys_object_id: &str) -> bool {
    sys_object_id
        .strip_prefix(KONICA_MINOLTA)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// An entry `serve` polls: where it polls now, and the serial it follows
/// (the config's, else the one that last answered through it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub address: &'a str,
    pub serial: Option<&'a str>,
}

/// A printer a scan found, with its serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen<'a> {
    pub address: &'a str,
    pub serial: &'a str,
    pub konica_minolta: bool,
}

/// What a scan changes, by index into the targets and the printers seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// (target, seen): the target follows its serial to that address.
    pub moves: Vec<(usize, usize)>,
    /// Konica Minolta printers no target follows, at addresses no target
    /// polls: new devices to poll, when they are to be added.
    pub new: Vec<usize>,
}

/// The moves and new devices a scan finds:
/// - a target whose serial answers at another address follows it there,
///   unless another target polls that address: then that target reads the
///   serial there (a `swap`, as before), and this one stays, so that no
///   address is ever polled twice;
/// - a target whose serial was found nowhere stays where it is (its polls
///   fail, and the device shows as unreachable);
/// - a Konica Minolta printer whose serial no target follows and that is
///   not in `known` (devices the config names or discovery added before),
///   at an address no target polls after the moves, is new.
pub fn plan(targets: &[Target<'_>], seen: &[Seen<'_>], known: &HashSet<&str>) -> Plan {
    // The first address each serial was seen at.
    let mut at: HashMap<&str, usize> = HashMap::new();
    for (i, s) in seen.iter().enumerate() {
        at.entry(s.serial).or_insert(i);
    }
    let mut goes: Vec<Option<usize>> = targets
        .iter()
        .map(|t| {
            let i = *at.get(t.serial?)?;
            (seen[i].address != t.address).then_some(i)
        })
        .collect();
    // A target moving onto an address another target polls stays; one
    // staying can take an address back from a target moving away, so
    // repeat until nothing changes.
    loop {
        let address = |t: usize, goes: &[Option<usize>]| {
            goes[t].map_or(targets[t].address, |i| seen[i].address)
        };
        let mut claims: HashMap<&str, Vec<usize>> = HashMap::new();
        for t in 0..targets.len() {
            claims.entry(address(t, &goes)).or_default().push(t);
        }
        let mut changed = false;
        for claimants in claims.values().filter(|c| c.len() > 1) {
            for &t in claimants {
                if goes[t].is_some() {
                    goes[t] = None;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let polled: HashSet<&str> = targets
        .iter()
        .zip(&goes)
        .map(|(t, g)| g.map_or(t.address, |i| seen[i].address))
        .collect();
    let followed: HashSet<&str> = targets.iter().filter_map(|t| t.serial).collect();
    let mut added: HashSet<&str> = HashSet::new();
    let new = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.konica_minolta
                && !followed.contains(s.serial)
                && !known.contains(s.serial)
                && !polled.contains(s.address)
                && added.insert(s.serial)
        })
        .map(|(i, _)| i)
        .collect();
    Plan {
        moves: goes
            .iter()
            .enumerate()
            .filter_map(|(t, g)| g.map(|i| (t, i)))
            .collect(),
        new,
    }
}

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

    fn target<'a>(address: &'a str, serial: Option<&'a str>) -> Target<'a> {
        Target { address, serial }
    }

    fn seen<'a>(address: &'a str, serial: &'a str) -> Seen<'a> {
        Seen {
            address,
            serial,
            konica_minolta: true,
        }
    }

    #[test]
    fn a_scan_moves_entries_after_their_devices_and_finds_the_new_ones() {
        let none = HashSet::new();
        // A moved to .7; B still at .2; C (no serial known) at .3; a new
        // bizhub at .8, another vendor's printer at .9.
        let targets = [
            target("a:161", Some("A")),
            target("b:161", Some("B")),
            target("c:161", None),
        ];
        let mut found = vec![
            seen("b:161", "B"),
            seen("c:161", "C"),
            seen("g:161", "A"),
            seen("h:161", "N"),
            seen("i:161", "HP"),
        ];
        found[4].konica_minolta = false;
        let p = plan(&targets, &found, &none);
        assert_eq!(p.moves, vec![(0, 2)]);
        assert_eq!(
            p.new,
            vec![3],
            "C is polled at its address; HP is no bizhub"
        );
        // A device the config names or discovery added before is not new.
        assert!(plan(&targets, &found, &HashSet::from(["N"])).new.is_empty());
        // Found nowhere: nothing moves.
        assert_eq!(plan(&targets, &found[..2], &none), Plan::default());
    }

    #[test]
    fn no_address_is_ever_polled_twice() {
        let none = HashSet::new();
        // A moved onto B's address while B vanished: B's entry reads A
        // there (a swap), A's stays.
        let targets = [target("a", Some("A")), target("b", Some("B"))];
        let p = plan(&targets, &[seen("b", "A")], &none);
        assert!(p.moves.is_empty());
        // A and B swapped addresses: both follow.
        let p = plan(&targets, &[seen("b", "A"), seen("a", "B")], &none);
        assert_eq!(p.moves, vec![(0, 0), (1, 1)]);
        // A chain: A to B's address, B to a free one.
        let p = plan(&targets, &[seen("b", "A"), seen("c", "B")], &none);
        assert_eq!(p.moves, vec![(0, 0), (1, 1)]);
        // Two entries following one serial never both move onto it.
        let targets = [target("a", Some("A")), target("x", Some("A"))];
        let p = plan(&targets, &[seen("c", "A")], &none);
        assert!(p.moves.is_empty());
        // A new bizhub at an address an entry polls is that entry's (swap).
        let p = plan(&[target("a", Some("A"))], &[seen("a", "N")], &none);
        assert!(p.new.is_empty());
        assert!(is_konica_minolta("1.3.6.1.4.1.18334.1.2.1"));
        assert!(!is_konica_minolta("1.3.6.1.4.1.183340"));
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
