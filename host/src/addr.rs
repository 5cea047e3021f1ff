//! Which addresses the host may contact on a module's or a miner's say (also `net::target`).
//!
//! Which miner addresses a validator may contact. Miners choose their own axon address, so an
//! address is attacker input: without a check a validator would send signed requests wherever a
//! miner points it (its own loopback services, the cloud metadata endpoint at 169.254.169.254,
//! hosts on its private network).
//!
//! [`check_target`] refuses every address that is not globally routable: loopback (all of
//! 127.0.0.0/8 and `::1`), private (10/8, 172.16/12, 192.168/16, `fc00::/7`), link-local
//! (169.254/16, `fe80::/10`), shared CGNAT space (100.64/10), unspecified, broadcast, multicast,
//! documentation and benchmarking ranges, the reserved 240/4, IETF protocol assignments
//! (192.0.0/24), and IPv6 forms that embed one of those IPv4 addresses (mapped, compatible,
//! NAT64 `64:ff9b::/96`) — and, for every address, port 0. A subnet that runs its miners on
//! such addresses on purpose (a local test net, the sandbox) allows them with
//! `[subnet.network] allow_private_targets = true`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an axon address was not contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("miner axon {addr} is a {class} address; not contacted (allow_private_targets is off)")]
pub struct TargetRefused {
    /// The address the miner announced.
    pub addr: SocketAddr,
    /// What kind of address it is (`loopback`, `private`, `link-local`, ...).
    pub class: &'static str,
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, b, _) if (16..32).contains(&b) => "private",
        (169, 254, _) => "link-local",
        (100, b, _) if (64..128).contains(&b) => "shared (CGNAT)",
        (192, 0, 0) => "IETF-reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18 | 19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        0 if s[1..6].iter().all(|&x| x == 0) => {
            // IPv4-compatible (deprecated): treat as the IPv4 address it embeds.
            return v4_class(Ipv4Addr::from(u128::from(ip) as u32)).or(Some("IPv4-compatible"));
        }
        0x64 if s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) => {
            return v4_class(Ipv4Addr::from(u128::from(ip) as u32));
        }
        x if x & 0xfe00 == 0xfc00 => "private",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local",
        x if x & 0xff00 == 0xff00 => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        _ => return None,
    })
}

/// `Ok` when `addr` is a globally routable address with a port, or `allow_private` is set.
pub fn check_target(addr: SocketAddr, allow_private: bool) -> Result<(), TargetRefused> {
    if allow_private {
        return Ok(());
    }
    let class = match addr.ip() {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    };
    let class = class.or((addr.port() == 0).then_some("port-0"));
    match class {
        Some(class) => Err(TargetRefused { addr, class }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn class(s: &str) -> Option<&'static str> {
        check_target(s.parse().unwrap(), false).err().map(|e| e.class)
    }

    #[test]
    fn attacker_chosen_addresses_are_refused() {
        for (addr, want) in [
            ("127.0.0.1:80", "loopback"),
            ("127.53.1.9:8091", "loopback"),
            ("169.254.169.254:80", "link-local"),
            ("10.1.2.3:8091", "private"),
            ("172.31.255.1:8091", "private"),
            ("192.168.0.10:8091", "private"),
            ("100.100.100.200:80", "shared (CGNAT)"),
            ("0.0.0.0:8091", "unspecified"),
            ("255.255.255.255:8091", "reserved"),
            ("224.0.0.1:8091", "multicast"),
            ("[::1]:8091", "loopback"),
            ("[::]:8091", "unspecified"),
            ("[fe80::1]:8091", "link-local"),
            ("[fd00:ec2::254]:80", "private"),
            ("[::ffff:169.254.169.254]:80", "link-local"),
            ("[::ffff:127.0.0.1]:80", "loopback"),
            ("[64:ff9b::a9fe:a9fe]:80", "link-local"),
            ("[::127.0.0.1]:80", "loopback"),
            ("[2001:db8::1]:80", "documentation"),
            ("8.8.8.8:0", "port-0"),
        ] {
            assert_eq!(class(addr), Some(want), "{addr}");
        }
        for ok in ["8.8.8.8:8091", "172.32.0.1:8091", "[2606:4700::1111]:443", "[::ffff:1.1.1.1]:80"] {
            assert_eq!(class(ok), None, "{ok}");
        }
        assert!(check_target("127.0.0.1:8091".parse().unwrap(), true).is_ok());
    }

    proptest! {
        /// Any address: a typed answer, and everything mapped into IPv6 is judged as the IPv4
        /// address it carries.
        #[test]
        fn mapped_addresses_judge_as_their_ipv4(bits in any::<u32>(), port in 1u16..) {
            let v4 = Ipv4Addr::from(bits);
            let plain = check_target(SocketAddr::new(IpAddr::V4(v4), port), false).err().map(|e| e.class);
            let mapped = check_target(SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), port), false).err().map(|e| e.class);
            prop_assert_eq!(plain, mapped);
        }
    }
}
