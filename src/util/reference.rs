//! Image references as Docker reads them (distribution's `ParseNormalizedNamed`): `busybox`
//! is `docker.io/library/busybox:latest`, `host:port/name`, `localhost/name`,
//! `name@sha256:...`. Parsing validates the grammar (lowercase path components, tag and
//! digest forms) with Docker's error words and normalises; `familiar` gives back the short
//! form users see. Shared by the daemon (the graph's tags) and the client (what it sends).

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

fn invalid(_s: &str) -> Error {
    Error::invalid("invalid reference format")
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

/// A digest berth accepts: "sha256:" + 64 lower-case hex (registries use no other).
pub fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(crate::util::id::is_full_id)
}

/// A digest: "sha256:" + 64 lower-case hex, with Docker's words for what is wrong.
fn check_digest(d: &str) -> std::result::Result<(), String> {
    let (alg, hex) = d.split_once(':').ok_or("invalid reference format")?;
    let alg_ok = alg.starts_with(|c: char| c.is_ascii_alphabetic())
        && alg.bytes().all(|c| c.is_ascii_alphanumeric() || b"-_+.".contains(&c));
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("invalid reference format".into());
    }
    match alg {
        "sha256" if hex.len() != 64 => Err("invalid checksum digest length".into()),
        "sha256" if hex.bytes().any(|c| c.is_ascii_uppercase()) => Err("invalid checksum digest format".into()),
        "sha256" => Ok(()),
        _ => Err("unsupported digest algorithm".into()),
    }
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
        if crate::util::id::is_full_id(s) {
            return Err(Error::invalid(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            )));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                check_digest(d).map_err(Error::invalid)?;
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
            Some(("index.docker.io", remainder)) => (DEFAULT_DOMAIN.to_string(), remainder.to_string()),
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
        if !path.split('/').all(valid_component) {
            return Err(invalid(s));
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err(Error::invalid("repository name must not be more than 255 characters"));
        }
        Ok(Reference { domain, path, tag, digest })
    }

    /// Neither a tag nor a digest was given.
    pub fn name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// What the `tag` query parameter of a pull carries: the digest if there is one, else
    /// the tag ("latest" when none was given).
    pub fn api_tag(&self) -> String {
        self.digest.clone().or_else(|| self.tag.clone()).unwrap_or_else(|| DEFAULT_TAG.into())
    }

    /// The full reference: "docker.io/library/busybox:latest".
    pub fn full_string(&self) -> String {
        self.with_tag_and_digest(self.repository())
    }

    /// `repository` followed by ":tag" and "@digest" where present.
    fn with_tag_and_digest(&self, mut s: String) -> String {
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
        self.with_tag_and_digest(self.familiar_repository())
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

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const D: &str = "sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24";

    #[test]
    fn forms_the_client_sends() {
        let b = p("busybox");
        assert!(b.name_only());
        let b = b.with_default_tag();
        assert_eq!(
            (b.full_string(), b.familiar_string(), b.api_tag()),
            ("docker.io/library/busybox:latest".into(), "busybox:latest".into(), "latest".into())
        );
        let r = p("127.0.0.1:5066/capture/busybox:v1");
        assert_eq!((r.repository(), r.api_tag()), ("127.0.0.1:5066/capture/busybox".into(), "v1".into()));
        assert_eq!(p("index.docker.io/busybox").repository(), "docker.io/library/busybox");
        assert_eq!(p("[::1]:5000/x:t").domain, "[::1]:5000");
        // A capitalised first component is a registry, as in docker.
        assert_eq!(p("Host/x").domain, "Host");
        // Without a slash there is no registry: "localhost:5000" is image localhost, tag 5000.
        assert_eq!(p("localhost:5000").full_string(), "docker.io/library/localhost:5000");
        let both = p(&format!("busybox:1@{D}"));
        assert_eq!((both.tag.as_deref(), both.api_tag()), (Some("1"), D.to_string()));
        assert!(p("a__b/c---d/e.f_g").path.contains("c---d"));
    }

    #[test]
    fn bad_names_get_dockers_errors() {
        let e = |s: &str| Reference::parse(s).unwrap_err().message;
        assert_eq!(e("Foo"), "invalid reference format: repository name (library/Foo) must be lowercase");
        assert_eq!(e("capture/Box:1"), "invalid reference format: repository name (capture/Box) must be lowercase");
        assert_eq!(e(""), "invalid reference format");
        assert_eq!(e("bad name"), "invalid reference format");
        assert_eq!(e("x@sha256:abc"), "invalid reference format");
        assert_eq!(e(&format!("x@{}", &D[..70])), "invalid checksum digest length");
        assert_eq!(e(&format!("x@md5:{}", &D[7..])), "unsupported digest algorithm");
        assert!(e(&D[7..]).contains("cannot specify 64-byte hexadecimal strings"));
        assert!(e(&format!("h.io/{}", "a".repeat(260))).contains("255 characters"));
    }

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
