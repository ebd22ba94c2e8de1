//! Image references the way the docker CLI reads them before it calls the daemon
//! (distribution's `ParseNormalizedNamed`): `busybox` is `docker.io/library/busybox`,
//! the first component is a registry when it has a `.` or `:`, is `localhost`, or has
//! capitals; path components are lowercase; tags and `sha256:` digests are checked. It
//! gives the forms docker sends (`fromImage`, the push path) and prints. Pure functions.

/// The registry docker.io images live on.
pub const DEFAULT_DOMAIN: &str = "docker.io";

/// A named reference, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// "docker.io", "127.0.0.1:5066", "localhost".
    pub domain: String,
    /// "library/busybox", "capture/busybox".
    pub path: String,
    pub tag: Option<String>,
    /// "sha256:<64 hex>".
    pub digest: Option<String>,
}

/// distribution's `splitDockerDomain`.
fn split_domain(s: &str) -> (String, String) {
    let (domain, rest) = match s.split_once('/') {
        None => (DEFAULT_DOMAIN, s),
        Some(("index.docker.io", rest)) => (DEFAULT_DOMAIN, rest),
        Some((d, rest)) if d == "localhost" || d.contains(['.', ':']) || d.to_lowercase() != d => {
            (d, rest)
        }
        Some(_) => (DEFAULT_DOMAIN, s),
    };
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        return (domain.to_string(), format!("library/{rest}"));
    }
    (domain.to_string(), rest.to_string())
}

/// A host name label, or a bracketed IPv6 address, with an optional port.
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && (!d.starts_with('[') || h.ends_with(']')) => (h, Some(p)),
        _ => (d, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit())) {
        return false;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !v6.is_empty() && v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':');
    }
    host.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
    })
}

/// A path component: lowercase alphanumerics joined by `.`, `_`, `__` or runs of `-`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep.is_empty()
            || sep == "."
            || sep == "_"
            || sep == "__"
            || sep.bytes().all(|x| x == b'-'))
        {
            return false;
        }
        while i < b.len() && alnum(b[i]) {
            i += 1;
        }
    }
    true
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// distribution's digest checks, with its messages.
fn check_digest(d: &str) -> Result<(), String> {
    let (alg, hex) = d.split_once(':').ok_or("invalid reference format")?;
    let alg_ok = alg.starts_with(|c: char| c.is_ascii_alphabetic())
        && alg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_+.".contains(&c));
    if !alg_ok || hex.len() < 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("invalid reference format".into());
    }
    match alg {
        "sha256" if hex.len() != 64 => Err("invalid checksum digest length".into()),
        "sha256" if hex.bytes().any(|c| c.is_ascii_uppercase()) => {
            Err("invalid checksum digest format".into())
        }
        "sha256" => Ok(()),
        _ => Err("unsupported digest algorithm".into()),
    }
}

impl Named {
    /// `ParseNormalizedNamed`: the reference with its registry made explicit, or docker's
    /// error text ("invalid reference format", "... repository name (x) must be lowercase").
    pub fn parse(s: &str) -> Result<Named, String> {
        if s.len() == 64
            && s.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(format!(
                "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
            ));
        }
        let (domain, rest) = split_domain(s);
        let remote = rest.split(':').next().unwrap_or("");
        if remote.to_lowercase() != remote {
            return Err(format!(
                "invalid reference format: repository name ({remote}) must be lowercase"
            ));
        }
        let (rest, digest) = match rest.split_once('@') {
            Some((r, d)) => {
                check_digest(d)?;
                (r, Some(d.to_string()))
            }
            None => (rest.as_str(), None),
        };
        let (path, tag) = match rest.rsplit_once(':') {
            Some((p, t)) => {
                if !valid_tag(t) {
                    return Err("invalid reference format".into());
                }
                (p, Some(t.to_string()))
            }
            None => (rest, None),
        };
        if !valid_domain(&domain) || !path.split('/').all(valid_component) {
            return Err("invalid reference format".into());
        }
        if domain.len() + 1 + path.len() > 255 {
            return Err("repository name must not be more than 255 characters".into());
        }
        Ok(Named {
            domain,
            path: path.to_string(),
            tag,
            digest,
        })
    }

    /// Neither a tag nor a digest was given.
    pub fn name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// `TagNameOnly`: "latest" when neither a tag nor a digest was given.
    pub fn with_default_tag(mut self) -> Named {
        if self.name_only() {
            self.tag = Some("latest".into());
        }
        self
    }

    /// The full name, registry included: what `fromImage` carries.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The name as users write it: docker.io and `library/` left out.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix("library/") {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.path.clone(),
        }
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
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

    /// The full reference: "docker.io/library/busybox:latest".
    pub fn full(&self) -> String {
        format!("{}{}", self.name(), self.suffix())
    }

    /// The familiar reference: "busybox:latest".
    pub fn familiar(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }

    /// What the `tag` query parameter of a pull carries: the digest if there is one, else
    /// the tag ("latest" when none was given).
    pub fn api_tag(&self) -> String {
        self.digest
            .clone()
            .or_else(|| self.tag.clone())
            .unwrap_or_else(|| "latest".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Named {
        Named::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const D: &str = "sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24";

    #[test]
    fn names_are_normalised_like_docker() {
        let b = p("busybox");
        assert_eq!(
            (b.name(), b.familiar()),
            ("docker.io/library/busybox".into(), "busybox".into())
        );
        assert!(b.name_only());
        let b = b.with_default_tag();
        assert_eq!(
            (b.full(), b.familiar(), b.api_tag()),
            (
                "docker.io/library/busybox:latest".into(),
                "busybox:latest".into(),
                "latest".into()
            )
        );
        let r = p("127.0.0.1:5066/capture/busybox:v1");
        assert_eq!(
            (r.name(), r.familiar(), r.api_tag()),
            (
                "127.0.0.1:5066/capture/busybox".into(),
                "127.0.0.1:5066/capture/busybox:v1".into(),
                "v1".into()
            )
        );
        assert_eq!(p("capture/busybox").name(), "docker.io/capture/busybox");
        assert_eq!(p("capture/busybox").familiar_name(), "capture/busybox");
        assert_eq!(
            p("index.docker.io/busybox").name(),
            "docker.io/library/busybox"
        );
        assert_eq!(p("docker.io/library/busybox:1").familiar(), "busybox:1");
        assert_eq!(p("docker.io/library/a/b").familiar_name(), "library/a/b");
        assert_eq!(p("localhost/x").name(), "localhost/x");
        assert_eq!(p("localhost:5000/x").tag, None);
        assert_eq!(p("[::1]:5000/x:t").domain, "[::1]:5000");
        // A capitalised first component is a registry, as in docker.
        assert_eq!(p("Host/x").domain, "Host");
        // Without a slash there is no registry: "localhost:5000" is image localhost, tag 5000.
        assert_eq!(
            p("localhost:5000").full(),
            "docker.io/library/localhost:5000"
        );
        let d = p(&format!("busybox@{D}"));
        assert_eq!(
            (d.api_tag(), d.familiar()),
            (D.to_string(), format!("busybox@{D}"))
        );
        let both = p(&format!("busybox:1@{D}"));
        assert_eq!(
            (both.tag.as_deref(), both.api_tag()),
            (Some("1"), D.to_string())
        );
        assert!(p("a__b/c---d/e.f_g").path.contains("c---d"));
    }

    #[test]
    fn bad_names_get_dockers_errors() {
        let e = |s: &str| Named::parse(s).unwrap_err();
        assert_eq!(
            e("Foo"),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(
            e("capture/Box:1"),
            "invalid reference format: repository name (capture/Box) must be lowercase"
        );
        assert_eq!(e(""), "invalid reference format");
        assert_eq!(e("bad name"), "invalid reference format");
        assert_eq!(e("x:-bad"), "invalid reference format");
        assert_eq!(e("a..b/c"), "invalid reference format");
        assert_eq!(e("x/-y"), "invalid reference format");
        assert_eq!(e("x@sha256:abc"), "invalid reference format");
        assert_eq!(
            e(&format!("x@{}", &D[..70])),
            "invalid checksum digest length"
        );
        assert_eq!(
            e(&format!("x@md5:{}", &D[7..])),
            "unsupported digest algorithm"
        );
        assert!(e(&D[7..]).contains("cannot specify 64-byte hexadecimal strings"));
        assert!(e(&format!("h.io/{}", "a".repeat(260))).contains("255 characters"));
    }
}
