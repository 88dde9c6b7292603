//! The SSRF guard: callbacks go only to `https` URLs on public addresses. Checked when
//! a URL is registered and again on the resolved address at connect time (a resolver
//! that refuses non-public answers), so DNS rebinding cannot reach inside.
//! `PINPAY_CALLBACK_ALLOW_PRIVATE=true` (development, tests) lifts it.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::{Host, Url};

/// True for addresses on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                   // "this network"
        || (a == 100 && (64..128).contains(&b))     // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))       // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped (::ffff:0:0/96) and IPv4-compatible (::/96) forms are refused outright.
    let embeds_v4 = s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0);
    let global_unicast = (s[0] & 0xe000) == 0x2000; // 2000::/3
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || embeds_v4
        || (s[0] == 0x2001 && s[1] == 0x0db8)       // documentation
        || (s[0] == 0x2001 && s[1] == 0)            // Teredo
        || s[0] == 0x2002                           // 6to4
        || (s[0] == 0x0064 && s[1] == 0xff9b); // NAT64
    global_unicast && !special
}

/// Names that never leave the host or the site.
fn is_internal_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    !h.contains('.')
        || [
            "localhost",
            "local",
            "internal",
            "localdomain",
            "home.arpa",
            "lan",
        ]
        .iter()
        .any(|suffix| h == *suffix || h.ends_with(&format!(".{suffix}")))
}

/// Checks a callback URL as registered. URL parsing (WHATWG) already turns numeric
/// spellings such as `127.1`, `2130706433`, `0x7f000001` or `0177.0.0.1` into the address
/// they mean, so they are judged as that address.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_string())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("must use https".into()),
    }
    if allow_private {
        return url
            .host()
            .is_some()
            .then_some(url.clone())
            .ok_or_else(|| "must name a host".into());
    }
    match url.host() {
        Some(Host::Ipv4(ip)) if is_public_v4(ip) => Ok(url.clone()),
        Some(Host::Ipv6(ip)) if is_public_v6(ip) => Ok(url.clone()),
        Some(Host::Domain(d)) if !is_internal_name(d) => Ok(url.clone()),
        Some(_) => Err("must point to a public address".into()),
        None => Err("must name a host".into()),
    }
}

/// The check before each delivery: scheme and literal addresses. Names are judged on
/// the addresses they resolve to, by `GuardedResolver`, when the connection is made.
pub fn check_target(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL".to_string())?;
    match (url.scheme(), url.host()) {
        (_, _) if allow_private => Ok(url.clone()),
        ("https", Some(Host::Ipv4(ip))) if is_public_v4(ip) => Ok(url.clone()),
        ("https", Some(Host::Ipv6(ip))) if is_public_v6(ip) => Ok(url.clone()),
        ("https", Some(Host::Domain(_))) => Ok(url.clone()),
        ("https", _) => Err("must point to a public address".into()),
        _ => Err("must use https".into()),
    }
}

/// Resolves a registered domain (2 s at most): refuses it if it resolves to a
/// non-public address now; an unresolvable name is accepted and judged at delivery.
pub async fn check_resolution(url: &Url, allow_private: bool) -> Result<(), String> {
    let (Some(Host::Domain(domain)), false) = (url.host(), allow_private) else {
        return Ok(());
    };
    let lookup = tokio::net::lookup_host((
        domain.to_string(),
        url.port_or_known_default().unwrap_or(443),
    ));
    match tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.iter().any(|a| !is_public(a.ip())) {
                Err("resolves to a non-public address".into())
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The delivery client's resolver: answers only with public addresses.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(
                    format!("callback host {host} resolves to a non-public address").into(),
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_internal_spelling() {
        for bad in [
            "http://example.com/cb",
            "https://127.0.0.1/cb",
            "https://127.1/cb",
            "https://2130706433/cb",
            "https://0x7f000001/cb",
            "https://0177.0.0.1/cb",
            "https://10.0.0.5/cb",
            "https://172.16.3.4/cb",
            "https://192.168.1.1/cb",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/cb",
            "https://192.0.2.10/cb",
            "https://198.51.100.7/cb",
            "https://203.0.113.9/cb",
            "https://224.0.0.1/cb",
            "https://0.0.0.0/cb",
            "https://[::1]/cb",
            "https://[::]/cb",
            "https://[::ffff:127.0.0.1]/cb",
            "https://[::ffff:8.8.8.8]/cb",
            "https://[fe80::1]/cb",
            "https://[fd00::1]/cb",
            "https://[2001:db8::1]/cb",
            "https://[ff02::1]/cb",
            "https://localhost/cb",
            "https://api.localhost/cb",
            "https://printer.local/cb",
            "https://intranet/cb",
            "https://user:pw@shop.example.com/cb",
            "ftp://shop.example.com/cb",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn accepts_public_https() {
        for ok in [
            "https://shop.example.com/cb",
            "https://8.8.8.8/cb",
            "https://[2606:4700::1111]/cb",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        assert!(check_url("http://127.0.0.1:9000/cb", true).is_ok());
    }
}
