//! One `outbound_hosts` entry, `scheme://host[:port]`: parsing (errors say what is expected)
//! and matching a request's scheme, host and port.

/// Which hosts a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host (lowercase; IPv6 literals in brackets).
    Exact(String),
    /// Any host ending in `.suffix`.
    Subdomains(String),
}

/// One parsed `outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// The entry as written, for messages.
    pub text: String,
    /// `None`: http and https.
    scheme: Option<&'static str>,
    host: HostPattern,
    /// `None`: any port; `Some(0)`: the scheme's default.
    port: Option<u16>,
}

pub(super) fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl HostRule {
    /// Parses `scheme://host[:port]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("`{text}`: expected scheme://host[:port], e.g. \"https://api.example.com\""))?;
        let scheme = match scheme {
            "http" => Some("http"),
            "https" => Some("https"),
            "*" => None,
            other => return Err(format!("`{text}`: scheme `{other}` is not http, https or *")),
        };
        if rest.contains(['/', '?', '#', '@']) {
            return Err(format!("`{text}`: only scheme://host[:port], no path, query or user"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) =
                v6.split_once(']').ok_or_else(|| format!("`{text}`: unclosed `[` of an IPv6 literal"))?;
            addr.parse::<std::net::Ipv6Addr>().map_err(|_| format!("`{text}`: `{addr}` is not an IPv6 address"))?;
            (format!("[{addr}]"), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        let port = match port {
            None => Some(0),
            Some("*") => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("`{text}`: port `{p}` is not a number in 1..=65535 or *"))?,
            ),
        };
        let host = host.to_ascii_lowercase();
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomains(suffix.to_owned())
        } else {
            HostPattern::Exact(host)
        };
        let name = match &host {
            HostPattern::Exact(h) | HostPattern::Subdomains(h) => h,
        };
        if name.is_empty() || name.contains('*') {
            return Err(format!("`{text}`: name a host (`*` only as a leading `*.` of a domain)"));
        }
        Ok(Self { text: text.to_owned(), scheme, host, port })
    }

    pub(super) fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme.is_none_or(|s| s == scheme);
        let port_ok = match self.port {
            None => true,
            Some(0) => port == default_port(scheme),
            Some(p) => p == port,
        };
        let host_ok = match &self.host {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(s) => host.strip_suffix(s.as_str()).is_some_and(|head| head.ends_with('.')),
        };
        scheme_ok && port_ok && host_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> HostRule {
        HostRule::parse(text).unwrap()
    }

    #[test]
    fn rules_match_scheme_host_and_port() {
        let r = rule("https://api.example.com");
        assert!(r.matches("https", "api.example.com", 443));
        assert!(!r.matches("http", "api.example.com", 80));
        assert!(!r.matches("https", "api.example.com", 8443));
        assert!(!r.matches("https", "evil-api.example.com", 443));
        let r = rule("*://*.example.org:*");
        assert!(r.matches("http", "a.b.example.org", 1234));
        assert!(!r.matches("https", "example.org", 443));
        assert!(!r.matches("https", "badexample.org", 443));
        let r = rule("http://[::1]:8080");
        assert!(r.matches("http", "[::1]", 8080));
        assert!(rule("HTTP://API.example.com:80".replace("HTTP", "http").as_str()).matches(
            "http",
            "api.example.com",
            80
        ));
    }

    #[test]
    fn bad_rules_say_what_is_expected() {
        for (text, needle) in [
            ("api.example.com", "expected scheme://host"),
            ("ftp://x", "scheme `ftp`"),
            ("https://x/path", "no path"),
            ("https://*", "name a host"),
            ("https://x:0", "port `0`"),
            ("https://a.*.com", "name a host"),
        ] {
            let e = HostRule::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
