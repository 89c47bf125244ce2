//! Which address is the client's. The socket peer, unless the peer is a proxy the owner trusts;
//! only then do forwarding headers count, because anyone can write them. The address found is
//! used for the visitor hash and the location lookup, in memory, and never stored.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Which header a trusted proxy puts the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For`, then `Forwarded`, then `X-Real-IP`, then `CF-Connecting-IP`: the first
    /// that yields an address.
    Auto,
    XForwardedFor,
    Forwarded,
    XRealIp,
    CfConnectingIp,
}

impl ClientIpHeader {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "auto" => Self::Auto,
            "x-forwarded-for" => Self::XForwardedFor,
            "forwarded" => Self::Forwarded,
            "x-real-ip" => Self::XRealIp,
            "cf-connecting-ip" => Self::CfConnectingIp,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ClientIpPolicy {
    trusted: Vec<IpNet>,
    header: ClientIpHeader,
}

impl ClientIpPolicy {
    /// Whether any proxy is trusted (the server runs behind one).
    pub fn trusts_any(&self) -> bool {
        !self.trusted.is_empty()
    }

    pub fn new(trusted: Vec<IpNet>, header: ClientIpHeader) -> Self {
        ClientIpPolicy { trusted, header }
    }

    /// Whether `peer` is one of the trusted proxies.
    pub fn is_proxy(&self, peer: IpAddr) -> bool {
        self.is_trusted(canonical(peer))
    }

    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let from = |h: ClientIpHeader| match h {
            ClientIpHeader::XForwardedFor => self.rightmost_untrusted(forwarded_for(headers)),
            ClientIpHeader::Forwarded => self.rightmost_untrusted(forwarded(headers)),
            ClientIpHeader::XRealIp => single(headers, "x-real-ip"),
            ClientIpHeader::CfConnectingIp => single(headers, "cf-connecting-ip"),
            ClientIpHeader::Auto => None,
        };
        let found = match self.header {
            ClientIpHeader::Auto => [
                ClientIpHeader::XForwardedFor,
                ClientIpHeader::Forwarded,
                ClientIpHeader::XRealIp,
                ClientIpHeader::CfConnectingIp,
            ]
            .into_iter()
            .find_map(from),
            one => from(one),
        };
        found.unwrap_or(peer)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// Each proxy appends the address it received the request from, so the chain reads
    /// client, proxy1, proxy2, … The rightmost hop that is not a trusted proxy is the client;
    /// anything left of it was written by the client and may be forged. A hop that does not
    /// parse breaks the chain: nothing left of it can be believed, so the header is not used.
    fn rightmost_untrusted(&self, hops: Vec<Option<IpAddr>>) -> Option<IpAddr> {
        let mut leftmost = None;
        for hop in hops.into_iter().rev() {
            let ip = canonical(hop?);
            if !self.is_trusted(ip) {
                return Some(ip);
            }
            leftmost = Some(ip);
        }
        leftmost
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:1.2.3.4`) are IPv4 addresses.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// All `X-Forwarded-For` headers, in order, as one list of hops.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(parse_hop).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::17]:4711"`.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"'))
            });
            if let Some(node) = node {
                hops.push(parse_hop(node));
            }
        }
    }
    hops
}

fn single(headers: &HeaderMap, name: &str) -> Option<IpAddr> {
    let value = headers.get(name)?.to_str().ok()?;
    parse_hop(value).map(canonical)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn policy(trusted: &[&str], header: ClientIpHeader) -> ClientIpPolicy {
        ClientIpPolicy::new(trusted.iter().map(|t| t.parse().unwrap()).collect(), header)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let p = policy(&[], ClientIpHeader::Auto);
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-real-ip", "2.2.2.2"),
            ("cf-connecting-ip", "3.3.3.3"),
        ]);
        assert_eq!(p.client_ip(ip("203.0.113.5"), &h), ip("203.0.113.5"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let p = policy(&["127.0.0.1/32", "10.0.0.0/8"], ClientIpHeader::Auto);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.4, 10.0.0.2")]);
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &h),
            ip("198.51.100.4"),
            "6.6.6.6 was written by the client"
        );
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.4:4431"),
        ]);
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &h),
            ip("198.51.100.4"),
            "repeated headers form one chain"
        );
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.2")]);
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &h),
            ip("10.0.0.9"),
            "all trusted: the leftmost"
        );
        let h = headers(&[("x-forwarded-for", "198.51.100.4, garbage")]);
        assert_eq!(
            p.client_ip(ip("127.0.0.1"), &h),
            ip("127.0.0.1"),
            "a broken chain is not used"
        );
    }

    #[test]
    fn forwarded_real_ip_and_cloudflare() {
        let p = policy(&["::1/128"], ClientIpHeader::Auto);
        let h = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::17]:4711\";proto=https",
        )]);
        assert_eq!(p.client_ip(ip("::1"), &h), ip("2001:db8::17"));
        let h = headers(&[("x-real-ip", "198.51.100.9")]);
        assert_eq!(p.client_ip(ip("::1"), &h), ip("198.51.100.9"));
        let h = headers(&[("cf-connecting-ip", "2001:db8::9")]);
        assert_eq!(p.client_ip(ip("::1"), &h), ip("2001:db8::9"));
        let h = headers(&[("x-real-ip", "not an ip")]);
        assert_eq!(p.client_ip(ip("::1"), &h), ip("::1"));
    }

    #[test]
    fn a_named_header_is_the_only_one_read() {
        let p = policy(&["127.0.0.0/8"], ClientIpHeader::CfConnectingIp);
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("cf-connecting-ip", "3.3.3.3"),
        ]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("3.3.3.3"));
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn mapped_ipv4_peers_match_ipv4_networks() {
        let p = policy(&["127.0.0.1/32"], ClientIpHeader::Auto);
        let h = headers(&[("x-forwarded-for", "198.51.100.4")]);
        assert_eq!(p.client_ip(ip("::ffff:127.0.0.1"), &h), ip("198.51.100.4"));
    }
}
