//! The address pool of one Network: which addresses of its CIDR may be handed to pods, and
//! which free one comes next.
//!
//! What this guarantees:
//! - Only addresses inside the CIDR are handed out; never the gateway, never an excluded address
//!   or range, never the network address (IPv4 up to /30, IPv6 up to /126) and never the IPv4
//!   broadcast address (up to /30). Point-to-point networks (/31, /127, RFC 3021 and RFC 6164)
//!   and single-address networks use every address. IPv6 has no broadcast address.
//! - [`Pool::allocate`] hands out the lowest free addresses, skipping excluded ranges in one
//!   step, so it costs O(used + wanted) whatever the size of the network (a /64 is fine).
//!
//! Addresses are numbered by their offset from the network address (`u128` covers IPv6).

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

/// A CIDR: a network address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

/// Why a spec's address or CIDR cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Not an IP address.
    #[error("{0:?} is not a valid IP address")]
    Address(String),
    /// Not a CIDR.
    #[error("{0:?} is not a valid CIDR")]
    Cidr(String),
    /// A CIDR with bits set after its prefix.
    #[error("{given:?} is not in canonical form ({canonical:?})")]
    NotCanonical {
        /// What the spec says.
        given: String,
        /// What it should say.
        canonical: String,
    },
    /// The gateway is not a usable address of the network.
    #[error("gateway {0} is not a usable address of the network")]
    Gateway(String),
}

fn parse_address(text: &str) -> Option<IpAddr> {
    let address: IpAddr = text.parse().ok()?;
    // kube-apiserver's CEL library refuses IPv4-mapped IPv6 addresses; so does the pool.
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => None,
        _ => Some(address),
    }
}

fn bits(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn to_u128(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_u128(value: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4((value as u32).into())
    } else {
        IpAddr::V6(value.into())
    }
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::/n` (bits after the prefix are allowed; see [`Cidr::masked`]).
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = text.split_once('/')?;
        let address = parse_address(address)?;
        // Decimal digits only, no leading zero (as Go's netip.ParsePrefix).
        if prefix.is_empty()
            || !prefix.bytes().all(|b| b.is_ascii_digit())
            || (prefix.len() > 1 && prefix.starts_with('0'))
        {
            return None;
        }
        let prefix: u8 = prefix.parse().ok()?;
        (prefix <= bits(address)).then_some(Cidr { address, prefix })
    }

    /// Parses a CIDR that must already be in canonical form.
    pub fn parse_canonical(text: &str) -> Result<Cidr, PoolError> {
        let cidr = Cidr::parse(text).ok_or_else(|| PoolError::Cidr(text.to_string()))?;
        let canonical = cidr.masked().to_string();
        if canonical != text {
            return Err(PoolError::NotCanonical {
                given: text.to_string(),
                canonical,
            });
        }
        Ok(cidr)
    }

    /// The same prefix with the host bits cleared.
    pub fn masked(self) -> Cidr {
        let host = self.host_bits();
        let value = if host >= 128 {
            0
        } else {
            (to_u128(self.address) >> host) << host
        };
        Cidr {
            address: from_u128(value, self.is_v4()),
            prefix: self.prefix,
        }
    }

    /// Whether this is an IPv4 network.
    pub fn is_v4(self) -> bool {
        self.address.is_ipv4()
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    fn host_bits(self) -> u32 {
        (bits(self.address) - self.prefix) as u32
    }

    /// How many addresses the CIDR spans (saturating at `u128::MAX` for `::/0`).
    pub fn size(self) -> u128 {
        1u128.checked_shl(self.host_bits()).unwrap_or(u128::MAX)
    }

    /// The offset of the CIDR's last address.
    pub fn last(self) -> u128 {
        1u128
            .checked_shl(self.host_bits())
            .map_or(u128::MAX, |size| size - 1)
    }

    /// The offset of `address` from the network address, if the CIDR contains it.
    pub fn offset(self, address: IpAddr) -> Option<u128> {
        if address.is_ipv4() != self.is_v4() {
            return None;
        }
        let start = to_u128(self.masked().address);
        let offset = to_u128(address).wrapping_sub(start);
        (to_u128(address) >= start && offset <= self.last()).then_some(offset)
    }

    /// The address at `offset` from the network address.
    pub fn address(self, offset: u128) -> IpAddr {
        from_u128(to_u128(self.masked().address) + offset, self.is_v4())
    }

    /// Whether the two CIDRs share an address.
    pub fn overlaps(self, other: Cidr) -> bool {
        self.offset(other.masked().address).is_some()
            || other.offset(self.masked().address).is_some()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The addresses of one network that pods may get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    cidr: Cidr,
    /// Offsets never handed out, as merged, sorted, inclusive ranges.
    blocked: Vec<(u128, u128)>,
    capacity: u128,
}

impl Pool {
    /// The pool of a network spec: `cidr` (canonical), `gateway` (a usable address of it) and
    /// `excludes` (addresses or CIDRs; the parts outside `cidr` are ignored).
    pub fn new(cidr: &str, gateway: &str, excludes: &[String]) -> Result<Pool, PoolError> {
        let cidr = Cidr::parse_canonical(cidr)?;
        let gateway_address =
            parse_address(gateway).ok_or_else(|| PoolError::Address(gateway.to_string()))?;
        let size = cidr.size();
        let mut ranges = Vec::new();
        let point_to_point = cidr.host_bits() <= 1;
        if !point_to_point {
            ranges.push((0, 0));
            if cidr.is_v4() {
                ranges.push((cidr.last(), cidr.last()));
            }
        }
        let gateway_offset = cidr
            .offset(gateway_address)
            .ok_or_else(|| PoolError::Gateway(gateway.to_string()))?;
        if ranges
            .iter()
            .any(|&(a, b)| a <= gateway_offset && gateway_offset <= b)
        {
            return Err(PoolError::Gateway(gateway.to_string()));
        }
        ranges.push((gateway_offset, gateway_offset));
        for exclude in excludes {
            let excluded = match parse_address(exclude) {
                Some(address) => Cidr {
                    address,
                    prefix: bits(address),
                },
                None => Cidr::parse(exclude)
                    .ok_or_else(|| PoolError::Cidr(exclude.to_string()))?
                    .masked(),
            };
            if !excluded.overlaps(cidr) {
                continue;
            }
            // Overlapping CIDRs nest: either the exclusion lies inside the network or covers it.
            match cidr.offset(excluded.address) {
                Some(start) => ranges.push((start, start + excluded.last())),
                None => ranges.push((0, cidr.last())),
            }
        }
        ranges.sort_unstable();
        let mut blocked: Vec<(u128, u128)> = Vec::new();
        for (start, end) in ranges {
            match blocked.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => blocked.push((start, end)),
            }
        }
        let blocked_count: u128 = blocked
            .iter()
            .map(|&(a, b)| (b - a).saturating_add(1))
            .fold(0u128, u128::saturating_add);
        Ok(Pool {
            cidr,
            blocked,
            capacity: size.saturating_sub(blocked_count),
        })
    }

    /// The network's CIDR.
    pub fn cidr(&self) -> Cidr {
        self.cidr
    }

    /// How many addresses may be handed out in all.
    pub fn capacity(&self) -> u128 {
        self.capacity
    }

    /// The offset of `text` if it is an address pods may hold (inside, not blocked).
    pub fn usable(&self, text: &str) -> Option<u128> {
        let offset = self.cidr.offset(parse_address(text)?)?;
        // Canonical spelling only: one address has one annotation value.
        if self.cidr.address(offset).to_string() != text {
            return None;
        }
        (!self.is_blocked(offset)).then_some(offset)
    }

    fn blocked_range(&self, offset: u128) -> Option<(u128, u128)> {
        let index = self.blocked.partition_point(|&(start, _)| start <= offset);
        index
            .checked_sub(1)
            .map(|i| self.blocked[i])
            .filter(|&(_, end)| offset <= end)
    }

    fn is_blocked(&self, offset: u128) -> bool {
        self.blocked_range(offset).is_some()
    }

    /// Up to `wanted` of the lowest addresses that are neither blocked nor in `used` (offsets).
    pub fn allocate(&self, used: &BTreeSet<u128>, wanted: usize) -> Vec<IpAddr> {
        let mut found = Vec::with_capacity(wanted.min(1024));
        let last = self.cidr.last();
        let mut offset: u128 = 0;
        while found.len() < wanted {
            if let Some((_, end)) = self.blocked_range(offset) {
                if end >= last {
                    break;
                }
                offset = end + 1;
                continue;
            }
            if !used.contains(&offset) {
                found.push(self.cidr.address(offset));
            }
            if offset >= last {
                break;
            }
            offset += 1;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(cidr: &str, gateway: &str, excludes: &[&str]) -> Pool {
        let excludes: Vec<String> = excludes.iter().map(|e| e.to_string()).collect();
        Pool::new(cidr, gateway, &excludes).unwrap()
    }

    fn strings(addresses: Vec<IpAddr>) -> Vec<String> {
        addresses.into_iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn cidrs_parse_like_netip() {
        assert!(Cidr::parse("10.0.0.0/8").is_some());
        assert!(Cidr::parse("fd00::/64").is_some());
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/08",
            "10.0.0.0/+8",
            "010.0.0.0/8",
            "::ffff:1.2.3.4/120",
            "fe80::1%eth0/64",
            "x/8",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Cidr::parse_canonical("10.0.0.1/8").unwrap_err(),
            PoolError::NotCanonical {
                given: "10.0.0.1/8".into(),
                canonical: "10.0.0.0/8".into()
            }
        );
        assert!(Cidr::parse_canonical("fd00:0::/64").is_err());
    }

    #[test]
    fn ipv4_pools_skip_network_broadcast_gateway_and_excludes() {
        let p = pool("192.168.0.0/29", "192.168.0.1", &["192.168.0.4/31"]);
        // 8 addresses - network - broadcast - gateway - two excluded.
        assert_eq!(p.capacity(), 3);
        assert_eq!(
            strings(p.allocate(&BTreeSet::new(), 10)),
            ["192.168.0.2", "192.168.0.3", "192.168.0.6"]
        );
        let used = BTreeSet::from([2u128]);
        assert_eq!(strings(p.allocate(&used, 1)), ["192.168.0.3"]);
        assert_eq!(p.usable("192.168.0.7"), None, "broadcast");
        assert_eq!(p.usable("192.168.0.1"), None, "gateway");
        assert_eq!(p.usable("192.168.0.5"), None, "excluded");
        assert_eq!(p.usable("192.168.0.8"), None, "outside");
        assert_eq!(p.usable("192.168.0.6"), Some(6));
    }

    #[test]
    fn gateways_must_be_usable() {
        for gateway in [
            "192.168.0.0",
            "192.168.0.255",
            "192.168.1.1",
            "fd00::1",
            "x",
        ] {
            assert!(
                Pool::new("192.168.0.0/24", gateway, &[]).is_err(),
                "{gateway}"
            );
        }
        let p = pool("10.0.0.0/31", "10.0.0.0", &[]);
        assert_eq!(strings(p.allocate(&BTreeSet::new(), 5)), ["10.0.0.1"]);
    }

    #[test]
    fn ipv6_pools_are_not_enumerated() {
        let p = pool("fd00:10::/64", "fd00:10::1", &["fd00:10::2/127"]);
        assert_eq!(p.capacity(), (1u128 << 64) - 4);
        assert_eq!(
            strings(p.allocate(&BTreeSet::new(), 2)),
            ["fd00:10::4", "fd00:10::5"]
        );
        assert_eq!(
            p.usable("fd00:10:0:0:ffff:ffff:ffff:ffff"),
            None,
            "non-canonical spelling"
        );
        assert!(
            p.usable("fd00:10::ffff:ffff:ffff:ffff").is_some(),
            "no broadcast"
        );
    }

    #[test]
    fn an_exclusion_covering_the_network_empties_it() {
        let p = pool("10.1.0.0/24", "10.1.0.1", &["10.0.0.0/8"]);
        assert_eq!(p.capacity(), 0);
        assert!(p.allocate(&BTreeSet::new(), 1).is_empty());
    }

    #[test]
    fn overlap_is_symmetric() {
        let a = Cidr::parse("10.0.0.0/16").unwrap();
        let b = Cidr::parse("10.0.128.0/24").unwrap();
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c));
        assert!(!a.overlaps(Cidr::parse("fd00::/8").unwrap()));
    }
}
