//! Webhook endpoints' rules: where a delivery may go, which events an
//! endpoint takes, and its signing secret.
//!
//! A receiver's URL is checked twice: here, when it is given (http(s), a
//! host, no credentials; an address literal or a name that is loopback,
//! private, link-local or a cloud metadata service is refused), and again
//! by the delivering client each time it resolves the name (see
//! `webhooks::client`), so a name that later resolves elsewhere (DNS
//! rebinding) is refused too. `WEBHOOK_ALLOWED_HOSTS` lets an operator
//! permit such hosts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use ipnet::IpNet;

use crate::events::EventType;

/// What made a delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttemptKind {
    /// The deliverer, working through the endpoint's events in order.
    Scheduled,
    /// One event delivered again, asked for by the user.
    Replay,
    /// A `webhook.test` event, asked for by the user.
    Test,
}

impl AttemptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Replay => "replay",
            Self::Test => "test",
        }
    }

    /// The kind stored as `text`; an unknown one (written by a later
    /// release) reads as the deliverer's.
    pub fn parse(text: &str) -> Self {
        match text {
            "replay" => Self::Replay,
            "test" => Self::Test,
            _ => Self::Scheduled,
        }
    }
}

/// The prefix of a signing secret (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret.
const SECRET_BYTES: usize = 32;
/// Longest URL, in bytes.
pub const MAX_URL: usize = 2048;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 200;
/// Most event type patterns per endpoint.
pub const MAX_EVENT_TYPES: usize = 20;

/// Host names that are loopback or metadata services whatever DNS says.
const BLOCKED_NAMES: [&str; 4] = [
    "localhost",
    "metadata",
    "metadata.google.internal",
    "instance-data",
];

/// Where deliveries may go: anywhere public, and the allow-listed hosts.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Host names (lower case) permitted whatever they resolve to.
    names: Vec<String>,
    /// Addresses permitted although not public.
    nets: Vec<IpNet>,
}

impl AddressPolicy {
    /// From `WEBHOOK_ALLOWED_HOSTS` items: addresses, CIDR ranges, names.
    pub fn parse<'a>(items: impl Iterator<Item = &'a str>) -> Result<Self, String> {
        let mut policy = Self::default();
        for item in items {
            if let Ok(net) = item.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = item.trim_matches(['[', ']']).parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if item.contains('/') || item.contains(':') || item.is_empty() {
                return Err(format!(
                    "{item:?} is neither a host, an address nor a range"
                ));
            } else {
                policy.names.push(item.to_ascii_lowercase());
            }
        }
        Ok(policy)
    }

    /// Whether the host named in a URL is allow-listed by name.
    pub fn names(&self, host: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(host))
    }

    /// Whether a delivery may connect to `ip`.
    pub fn permits(&self, ip: IpAddr) -> bool {
        public(ip) || self.nets.iter().any(|net| net.contains(&ip))
    }

    /// Why a URL's host may not be delivered to, if it may not (an address
    /// literal is judged here for good; a name is judged again at each
    /// resolution).
    pub fn refuses_host(&self, host: &str) -> Option<String> {
        if self.names(host) {
            return None;
        }
        let bare = host.trim_matches(['[', ']']);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return (!self.permits(ip)).then(|| {
                format!("{ip} is a loopback, private, link-local or otherwise internal address")
            });
        }
        let name = bare.trim_end_matches('.').to_ascii_lowercase();
        let internal = BLOCKED_NAMES.contains(&name.as_str())
            || name.ends_with(".localhost")
            || name.ends_with(".internal")
            || name.ends_with(".local");
        internal.then(|| format!("{name} is an internal host"))
    }
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local
/// with the metadata services, shared, multicast, reserved or unspecified).
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 too)
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.169.254 and the other metadata services
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared (CGNAT; 100.100.100.200)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

/// A receiver's URL, checked: http(s), a host, no credentials, no fragment,
/// and (by the policy) not internal. Returns it as given.
pub fn parse_url(url: &str, policy: &AddressPolicy) -> Result<String, String> {
    if url.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} bytes"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    let uri: actix_web::http::Uri = url
        .parse()
        .map_err(|_| "is not a URL such as https://example.com/hooks/tasks".to_owned())?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err("must be an http or https URL".into());
    }
    let authority = uri
        .authority()
        .ok_or_else(|| "must name a host".to_owned())?;
    if authority.as_str().contains('@') {
        return Err("must not carry credentials (the signature authenticates deliveries)".into());
    }
    if url.contains('#') {
        return Err("must not have a fragment".into());
    }
    let host = authority.host();
    if host.is_empty() {
        return Err("must name a host".into());
    }
    if let Some(why) = policy.refuses_host(host) {
        return Err(format!("must point to a public host: {why}"));
    }
    Ok(url.to_owned())
}

/// An endpoint's event type patterns: known types (`task.completed`) or
/// families (`task.*`, `reminder.*`, `webhook.*`); none means every type.
pub fn parse_event_types(patterns: &[String]) -> Result<Vec<String>, String> {
    if patterns.len() > MAX_EVENT_TYPES {
        return Err(format!("at most {MAX_EVENT_TYPES} patterns"));
    }
    let mut out: Vec<String> = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        let known = match pattern.strip_suffix(".*") {
            Some(family) => EventType::ALL
                .iter()
                .any(|t| t.as_str().split('.').next() == Some(family)),
            None => EventType::ALL.iter().any(|t| t.as_str() == pattern),
        };
        if !known {
            let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(format!(
                "{pattern:?} is not an event type (one of {}) or a family such as task.*",
                types.join(", ")
            ));
        }
        if !out.contains(pattern) {
            out.push(pattern.clone());
        }
    }
    Ok(out)
}

/// Whether an event of `event_type` goes to an endpoint with these
/// patterns (space-separated, as stored; empty: every type).
pub fn matches(patterns: &str, event_type: &str) -> bool {
    let mut any = false;
    for pattern in patterns.split_whitespace() {
        any = true;
        let hit = match pattern.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => event_type == pattern,
        };
        if hit {
            return true;
        }
    }
    !any
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// A description: one line, at most [`MAX_DESCRIPTION`] characters.
pub fn parse_description(text: &str) -> Result<String, String> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(format!("must be at most {MAX_DESCRIPTION} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("must be one line without control characters".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(!public(ip(internal)), "{internal} is internal");
        }
        for outside in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:2800:220:1::1",
            "::ffff:1.1.1.1",
        ] {
            assert!(public(ip(outside)), "{outside} is public");
        }
    }

    #[test]
    fn urls_are_checked_and_the_allow_list_opens_what_it_names() {
        let none = AddressPolicy::default();
        for (bad, why) in [
            ("ftp://example.com/x", "http or https"),
            ("https://", "URL"),
            ("example.com/hook", "URL"),
            ("https://user:pw@example.com/", "credentials"),
            ("https://example.com/#frag", "fragment"),
            ("http://127.0.0.1:8080/hook", "127.0.0.1"),
            ("http://[::1]/hook", "::1"),
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("http://10.0.0.5/hook", "10.0.0.5"),
            ("http://localhost:9000/", "localhost"),
            ("http://api.localhost/", "internal host"),
            ("http://metadata.google.internal/", "internal host"),
            ("https://example.com/a b", "spaces"),
        ] {
            let err = parse_url(bad, &none).expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(parse_url("https://hooks.example.com/tasks?k=1", &none).is_ok());
        let lab =
            AddressPolicy::parse(["127.0.0.1", "10.0.0.0/8", "Receiver.Lab"].into_iter()).unwrap();
        for ok in [
            "http://127.0.0.1:8080/hook",
            "http://10.9.8.7/",
            "http://receiver.lab/",
        ] {
            assert!(parse_url(ok, &lab).is_ok(), "{ok}");
        }
        assert!(parse_url("http://127.0.0.2/", &lab).is_err());
        assert!(AddressPolicy::parse(["10.0.0.0/33"].into_iter()).is_err());
    }

    #[test]
    fn patterns_name_known_types_and_match_families() {
        let ok = parse_event_types(&["task.*".into(), "reminder.triggered".into()]).unwrap();
        assert_eq!(ok, ["task.*", "reminder.triggered"]);
        assert!(parse_event_types(&["task.exploded".into()]).is_err());
        assert!(parse_event_types(&["tasks.*".into()]).is_err());
        assert!(parse_event_types(&["*".into()]).is_err());
        let stored = ok.join(" ");
        assert!(matches(&stored, "task.completed"));
        assert!(matches(&stored, "reminder.triggered"));
        assert!(!matches(&stored, "reminder.scheduled"));
        assert!(matches("", "webhook.disabled"), "no pattern: every type");
    }

    #[test]
    fn secrets_are_standard_webhooks_secrets() {
        let secret = new_secret();
        let key = secret.strip_prefix(SECRET_PREFIX).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap();
        assert_eq!(bytes.len(), SECRET_BYTES);
        assert_ne!(secret, new_secret());
        assert!(standardwebhooks::Webhook::new(&secret).is_ok());
    }
}
