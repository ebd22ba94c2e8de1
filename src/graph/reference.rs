//! Image references as Docker reads them: `busybox` is `docker.io/library/busybox:latest`,
//! `host:port/name`, `localhost/name`, `name@sha256:...`. Parsing validates the grammar
//! (lowercase path components, tag and digest forms) and normalises; `familiar` gives back
//! the short form users see in `images` and `ps`.

use crate::error::{Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host, e.g. "docker.io", "127.0.0.1:5000", "localhost".
    pub domain: String,
    /// Repository path within the registry, e.g. "library/busybox".
    pub path: String,
    pub tag: Option<String>,
    /// "sha256:<64 hex>".
    pub digest: Option<String>,
}

fn invalid(s: &str) -> Error {
    Error::invalid(format!("invalid reference format: {s:?}"))
}

/// A path component: lowercase alphanumerics separated by one '.', one or two '_', or any
/// number of '-'.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A digest: "sha256:" + 64 lower-case hex (other algorithms are not used by registries).
pub fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(crate::util::id::is_full_id)
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

impl Reference {
    /// Parses and normalises a reference; the tag stays `None` when not given.
    pub fn parse(s: &str) -> Result<Reference> {
        if s.is_empty() || s.len() > 512 {
            return Err(invalid(s));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(invalid(s));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                if !valid_tag(t) {
                    return Err(invalid(s));
                }
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.') || first.contains(':') || first == "localhost"
                    || first.bytes().any(|c| c.is_ascii_uppercase()) =>
            {
                if !valid_domain(first) {
                    return Err(invalid(s));
                }
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(Error::invalid(format!(
                "invalid reference format: repository name ({path}) must be lowercase"
            )));
        }
        if path.len() > 255 || !path.split('/').all(valid_component) {
            return Err(invalid(s));
        }
        Ok(Reference { domain, path, tag, digest })
    }

    /// The tag, defaulting to "latest" when neither tag nor digest was given.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// Full repository name: "docker.io/library/busybox".
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Short repository name: "busybox", "user/app", "127.0.0.1:5000/app".
    pub fn familiar_repository(&self) -> String {
        familiar(&self.repository())
    }

    /// "busybox:latest", "busybox@sha256:...", "busybox:1@sha256:...".
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }
}

/// Shortens a full repository name for display: drops "docker.io/" and "library/".
pub fn familiar(repository: &str) -> String {
    match repository.strip_prefix("docker.io/") {
        Some(rest) => rest.strip_prefix("library/").filter(|r| !r.contains('/')).unwrap_or(rest).to_string(),
        None => repository.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let r = Reference::parse(s).unwrap().with_default_tag();
        format!("{}:{}", r.repository(), r.tag.unwrap_or_default())
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("user/app:v1"), "docker.io/user/app:v1");
        assert_eq!(norm("127.0.0.1:5000/x/y:2"), "127.0.0.1:5000/x/y:2");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(norm("ghcr.io/o/p"), "ghcr.io/o/p:latest");
        assert_eq!(norm("docker.io/library/busybox"), "docker.io/library/busybox:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("busybox@{d}")).unwrap().with_default_tag();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
    }

    #[test]
    fn familiar_forms() {
        let r = Reference::parse("busybox:1.36").unwrap();
        assert_eq!(r.familiar_string(), "busybox:1.36");
        assert_eq!(familiar("docker.io/user/app"), "user/app");
        assert_eq!(familiar("127.0.0.1:5066/capture/busybox"), "127.0.0.1:5066/capture/busybox");
        assert_eq!(familiar("docker.io/library/a/b"), "library/a/b");
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "Busybox", "a//b", "a:", "a:b:c", "-a", "a-", "a@sha256:12", "a..b",
                    "a/b:/c", "tag:with space", ":tag", "a@"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        let e = Reference::parse("library/Busybox").unwrap_err();
        assert!(e.message.contains("must be lowercase"), "{}", e.message);
        assert!(valid_tag("v1.0-rc_1") && !valid_tag(".x") && !valid_tag(&"x".repeat(129)));
    }
}
