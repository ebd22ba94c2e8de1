//! Manifest documents: Docker schema2 and OCI image manifests, Docker manifest lists and OCI
//! indexes, their media types, and choosing the entry for a platform. Pure data: nothing
//! here does I/O; the client hands in bytes it has already bounded and verified.

use crate::error::{Error, Result};
use crate::util::reference::valid_digest;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Schema 1 (signed and unsigned): recognised only to refuse it clearly.
const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_MANIFEST_V1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The `Accept` header of a manifest GET: every kind berth reads.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl Platform {
    /// The host's platform (linux/amd64, linux/arm64/v8, ...).
    pub fn host() -> Platform {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", ""),
            "aarch64" => ("arm64", "v8"),
            // Rust's "arm" targets are ARMv6/v7; v7 is what images are built for.
            "arm" => ("arm", "v7"),
            "x86" => ("386", ""),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", ""),
            "mips64" if cfg!(target_endian = "little") => ("mips64le", ""),
            "loongarch64" => ("loong64", ""),
            other => (other, ""),
        };
        Platform { os: std::env::consts::OS.to_string(), architecture: arch.to_string(), variant: variant.to_string() }
    }

    /// Parses "os/arch[/variant]" (`--platform`); one word is an OS (with the host's
    /// architecture) or an architecture (on linux). The result is normalised
    /// (x86_64 → amd64, aarch64 → arm64/v8, armhf → arm/v7).
    pub fn parse(s: &str) -> Result<Platform> {
        let bad = |why: &str| Error::invalid(format!("invalid platform {s:?}: {why}"));
        let lower = s.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.iter().any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))) {
            return Err(bad("want os/arch[/variant]"));
        }
        let p = match parts[..] {
            [one] if KNOWN_OS.contains(&one) => Platform { os: one.to_string(), ..Platform::host() },
            [one] => Platform { os: "linux".to_string(), architecture: one.to_string(), variant: String::new() },
            [os, arch] => Platform { os: os.to_string(), architecture: arch.to_string(), variant: String::new() },
            [os, arch, variant] => Platform { os: os.to_string(), architecture: arch.to_string(), variant: variant.to_string() },
            _ => return Err(bad("want os/arch[/variant]")),
        };
        Ok(p.normalized())
    }

    /// The canonical spelling of this platform, as containerd's `platforms.Normalize` has
    /// it except that arm64 keeps an explicit "v8" (what Docker records for arm64 images).
    pub fn normalized(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_string(),
            other => other.to_string(),
        };
        let arch = self.architecture.to_ascii_lowercase();
        let variant = self.variant.to_ascii_lowercase();
        let (architecture, variant) = match (arch.as_str(), variant.as_str()) {
            ("i386" | "x86" | "386", _) => ("386".to_string(), String::new()),
            ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64".to_string(), String::new()),
            ("x86_64" | "x86-64" | "amd64", v) => ("amd64".to_string(), v.to_string()),
            ("aarch64" | "arm64", "" | "8" | "v8" | "v8.0") => ("arm64".to_string(), "v8".to_string()),
            ("aarch64" | "arm64", v) => ("arm64".to_string(), v.to_string()),
            ("armhf", _) => ("arm".to_string(), "v7".to_string()),
            ("armel", _) => ("arm".to_string(), "v6".to_string()),
            ("arm", "" | "7") => ("arm".to_string(), "v7".to_string()),
            ("arm", "5" | "6" | "8") => ("arm".to_string(), format!("v{variant}")),
            (a, v) => (a.to_string(), v.to_string()),
        };
        Platform { os, architecture, variant }
    }

    /// How well an image for `self` runs on `want`: None when it does not, else a rank
    /// (0 best). amd64 ignores variants; an arm host also runs older arm variants.
    fn rank_on(&self, want: &Platform) -> Option<u32> {
        let have = self.normalized();
        let want = want.normalized();
        if have.os != want.os || have.architecture != want.architecture {
            return None;
        }
        if have.variant == want.variant {
            return Some(0);
        }
        match want.architecture.as_str() {
            "amd64" => Some(1),
            "arm" => {
                let level = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
                match (level(&have.variant), level(&want.variant)) {
                    (Some(h), Some(w)) if h < w => Some(w - h),
                    _ => None,
                }
            }
            _ if have.variant.is_empty() || want.variant.is_empty() => Some(1),
            _ => None,
        }
    }
}

const KNOWN_OS: &[&str] = &["linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "illumos", "solaris"];

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// An image manifest (schema2 or OCI): the config blob and the layers, bottom first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

/// A Docker manifest list or OCI index: one manifest per platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

impl Index {
    /// The entry for `want` (the best match when several run there, the first of equals).
    /// No match is NotFound, in Docker's words, listing the platforms the index has.
    pub fn choose(&self, want: &Platform) -> Result<&Descriptor> {
        let best = self
            .manifests
            .iter()
            .filter(|d| d.media_type != OCI_INDEX && d.media_type != DOCKER_MANIFEST_LIST)
            .filter_map(|d| d.platform.as_ref().and_then(|p| p.rank_on(want)).map(|r| (r, d)))
            .min_by_key(|(r, _)| *r);
        match best {
            Some((_, d)) => Ok(d),
            None => {
                let have: Vec<String> = self.manifests.iter().filter_map(|d| d.platform.as_ref()).map(|p| p.to_string()).collect();
                Err(Error::not_found(format!(
                    "no matching manifest for {} in the manifest list entries (it has: {})",
                    want.normalized(),
                    if have.is_empty() { "no platforms".to_string() } else { have.join(", ") }
                )))
            }
        }
    }
}

/// A manifest document as the registry sent it.
#[derive(Debug)]
pub enum Document {
    Image(Manifest),
    Index(Index),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: u32,
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

/// Parses a manifest body. The kind comes from the body's `mediaType`, else from the
/// response's Content-Type, else from its shape (OCI allows omitting `mediaType`). Every
/// digest in it is checked for the `sha256:<64 hex>` form, since callers use digests as
/// file names.
pub fn parse(body: &[u8], content_type: &str, what: &str) -> Result<Document> {
    let probe: Probe = serde_json::from_slice(body).map_err(|e| Error::system(format!("{what}: invalid manifest: {e}")))?;
    let content_type = content_type.split(';').next().unwrap_or("").trim();
    let kind = if !probe.media_type.is_empty() {
        probe.media_type.as_str()
    } else if [DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED]
        .contains(&content_type)
    {
        content_type
    } else if probe.manifests.is_some() {
        OCI_INDEX
    } else {
        OCI_MANIFEST
    };
    if probe.schema_version == 1 || kind == DOCKER_MANIFEST_V1 || kind == DOCKER_MANIFEST_V1_SIGNED {
        return Err(Error::invalid(format!(
            "{what} is a Docker image manifest schema 1, which berth does not support: push the image again with a current client"
        )));
    }
    let invalid = |e: serde_json::Error| Error::system(format!("{what}: invalid manifest: {e}"));
    let doc = match kind {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            let mut m: Manifest = serde_json::from_slice(body).map_err(invalid)?;
            m.media_type = kind.to_string();
            Document::Image(m)
        }
        DOCKER_MANIFEST_LIST | OCI_INDEX => {
            let mut i: Index = serde_json::from_slice(body).map_err(invalid)?;
            i.media_type = kind.to_string();
            Document::Index(i)
        }
        other => return Err(Error::invalid(format!("{what}: unsupported manifest media type {other:?}"))),
    };
    let descriptors: Vec<&Descriptor> = match &doc {
        Document::Image(m) => std::iter::once(&m.config).chain(&m.layers).collect(),
        Document::Index(i) => i.manifests.iter().collect(),
    };
    if let Some(d) = descriptors.iter().find(|d| !valid_digest(&d.digest)) {
        return Err(Error::system(format!("{what}: invalid digest {:?} in manifest", d.digest)));
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        Platform::parse(s).unwrap()
    }

    fn entry(platform: &str, n: u8) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.to_string(),
            digest: format!("sha256:{}", format!("{n:02x}").repeat(32)),
            size: 100,
            platform: Some(p(platform)),
            urls: vec![],
        }
    }

    fn index(platforms: &[&str]) -> Index {
        let manifests = platforms.iter().enumerate().map(|(i, s)| entry(s, i as u8)).collect();
        Index { schema_version: 2, media_type: OCI_INDEX.to_string(), manifests }
    }

    #[test]
    fn parses_and_normalises_platforms() {
        assert_eq!(p("linux/amd64"), Platform { os: "linux".into(), architecture: "amd64".into(), variant: String::new() });
        assert_eq!(p("linux/x86_64").architecture, "amd64");
        assert_eq!(p("linux/arm64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/aarch64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert_eq!(p("linux/arm/6").to_string(), "linux/arm/v6");
        assert_eq!(p("Linux/ARM64/v8").to_string(), "linux/arm64/v8");
        assert_eq!(p("arm64").to_string(), "linux/arm64/v8");
        assert_eq!(p("linux").architecture, Platform::host().architecture);
        for bad in ["", "/", "linux/", "linux/amd64/v1/x", "linux amd64", "linux//amd64"] {
            let e = Platform::parse(bad).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::InvalidArgument, "{bad}");
            assert!(e.message.starts_with("invalid platform"), "{}", e.message);
        }
    }

    #[test]
    fn host_platform_is_linux_and_known() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        assert_eq!(h, h.normalized());
    }

    #[test]
    fn chooses_the_matching_entry() {
        let i = index(&["linux/amd64", "linux/arm64/v8", "linux/arm/v7", "linux/arm/v6", "windows/amd64"]);
        assert_eq!(i.choose(&p("linux/amd64")).unwrap().digest, i.manifests[0].digest);
        assert_eq!(i.choose(&p("linux/arm64")).unwrap().digest, i.manifests[1].digest);
        assert_eq!(i.choose(&p("linux/arm/v7")).unwrap().digest, i.manifests[2].digest);
        assert_eq!(i.choose(&p("linux/arm/v6")).unwrap().digest, i.manifests[3].digest);
        assert_eq!(i.choose(&p("windows/amd64")).unwrap().digest, i.manifests[4].digest);
    }

    #[test]
    fn arm64_without_variant_matches_v8_and_amd64_ignores_variants() {
        let mut i = index(&["linux/amd64/v3", "linux/arm64"]);
        i.manifests[1].platform.as_mut().unwrap().variant.clear();
        assert_eq!(i.choose(&p("linux/amd64")).unwrap().digest, i.manifests[0].digest);
        assert_eq!(i.choose(&p("linux/arm64/v8")).unwrap().digest, i.manifests[1].digest);
    }

    #[test]
    fn arm_falls_back_to_older_variants_only() {
        let i = index(&["linux/arm/v5", "linux/arm/v6"]);
        assert_eq!(i.choose(&p("linux/arm/v7")).unwrap().digest, i.manifests[1].digest, "closest older variant");
        let i = index(&["linux/arm/v7"]);
        assert!(i.choose(&p("linux/arm/v6")).is_err(), "a v6 host cannot run v7");
    }

    #[test]
    fn no_match_lists_what_exists() {
        let i = index(&["linux/amd64", "linux/arm/v7"]);
        let e = i.choose(&p("linux/s390x")).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::NotFound);
        assert_eq!(e.message, "no matching manifest for linux/s390x in the manifest list entries (it has: linux/amd64, linux/arm/v7)");
    }

    #[test]
    fn skips_entries_without_platform_and_attestations() {
        let mut i = index(&["linux/amd64", "linux/amd64"]);
        i.manifests[0].platform = Some(Platform { os: "unknown".into(), architecture: "unknown".into(), variant: String::new() });
        i.manifests.insert(0, Descriptor { platform: None, ..entry("linux/amd64", 9) });
        assert_eq!(i.choose(&p("linux/amd64")).unwrap().digest, i.manifests[2].digest);
    }

    const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn parses_manifests_by_media_type_content_type_or_shape() {
        let m = format!(r#"{{"schemaVersion":2,"config":{{"mediaType":"{OCI_CONFIG}","digest":"{DIGEST}","size":5}},"layers":[]}}"#);
        match parse(m.as_bytes(), "application/json", "x").unwrap() {
            Document::Image(m) => assert_eq!(m.media_type, OCI_MANIFEST),
            other => panic!("{other:?}"),
        }
        match parse(m.as_bytes(), &format!("{DOCKER_MANIFEST}; charset=utf-8"), "x").unwrap() {
            Document::Image(m) => assert_eq!(m.media_type, DOCKER_MANIFEST),
            other => panic!("{other:?}"),
        }
        let i = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{DIGEST}","size":5,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        match parse(i.as_bytes(), "", "x").unwrap() {
            Document::Index(i) => assert_eq!(i.manifests.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_schema1_bad_digests_and_unknown_types() {
        let s1 = br#"{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[]}"#;
        let e = parse(s1, DOCKER_MANIFEST_V1_SIGNED, "manifest for x:latest").unwrap_err();
        assert!(e.message.contains("schema 1"), "{}", e.message);
        let bad = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:../../etc/passwd","size":5},"layers":[]}"#;
        let e = parse(bad.as_bytes(), "", "manifest for x:latest").unwrap_err();
        assert!(e.message.contains("invalid digest"), "{}", e.message);
        let other = r#"{"schemaVersion":2,"mediaType":"application/vnd.example+json"}"#;
        let e = parse(other.as_bytes(), "", "m").unwrap_err();
        assert!(e.message.contains("unsupported manifest media type"), "{}", e.message);
        assert!(parse(b"not json", "", "m").is_err());
    }
}
