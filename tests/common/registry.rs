//! A real registry for integration tests, and images to put in it without berth: the
//! registry processes and the token server come from src/registry/testreg.rs (one
//! implementation for unit and integration tests); this file adds OCI image layouts built
//! from layer tarballs and `skopeo copy` to push them, so pull can be tested independently
//! of berth's push.
//!
//! ```ignore
//! let reg = common::registry::Registry::start();
//! let layout = common::registry::OciLayout::write(&dir, "v1", &[TestImage::linux("amd64", vec![tar_bytes])], true);
//! reg.push(&layout, "test/app:v1", None);
//! daemon.ok(&["pull", &format!("{}/test/app:v1", reg.addr)]);
//! ```

#[path = "../../src/registry/testreg.rs"]
mod testreg;

#[allow(unused_imports)] // each test binary uses its own part
pub use testreg::{available, Registry, TokenUsers};

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One platform's image: its layers as uncompressed tar bytes, bottom first.
#[derive(Clone)]
pub struct TestImage {
    pub os: String,
    pub architecture: String,
    pub variant: String,
    pub layers: Vec<Vec<u8>>,
    /// The image config's `config` object (Cmd, Env, ...).
    pub config: serde_json::Value,
}

impl TestImage {
    pub fn linux(architecture: &str, layers: Vec<Vec<u8>>) -> TestImage {
        TestImage {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: String::new(),
            layers,
            config: serde_json::json!({"Cmd": ["/bin/sh"]}),
        }
    }
}

/// An OCI image layout on disk (oci-layout, index.json, blobs/sha256/...).
pub struct OciLayout {
    pub dir: PathBuf,
    pub tag: String,
    /// The image manifests' digests, one per TestImage, in order.
    pub manifests: Vec<String>,
    /// The image index's digest when the layout holds several platforms.
    pub index: Option<String>,
    /// Each image's config digest (its image ID), in order.
    pub configs: Vec<String>,
}

pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

impl OciLayout {
    /// Writes `images` under `dir` tagged `tag`: one image manifest, or (for several) an
    /// image index over them. Layers are gzipped when `gzip` is set.
    pub fn write(dir: &Path, tag: &str, images: &[TestImage], gzip_layers: bool) -> OciLayout {
        // Tests want speed: the fastest gzip level.
        OciLayout::write_with(dir, tag, images, gzip_layers.then_some(1))
    }

    /// `write` with a chosen gzip level (None: uncompressed layers); 6 is what `docker push`
    /// and most registries' images use.
    pub fn write_with(dir: &Path, tag: &str, images: &[TestImage], gzip_level: Option<u32>) -> OciLayout {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("create layout");
        let put = |data: &[u8]| -> String {
            let d = sha256_digest(data);
            std::fs::write(blobs.join(&d["sha256:".len()..]), data).expect("write blob");
            d
        };
        let mut manifests = Vec::new();
        let mut configs = Vec::new();
        let mut descriptors = Vec::new();
        for img in images {
            let mut layers = Vec::new();
            let mut diff_ids = Vec::new();
            for tar in &img.layers {
                diff_ids.push(sha256_digest(tar));
                let (blob, media_type) = if let Some(level) = gzip_level {
                    (gzip(tar, level), "application/vnd.oci.image.layer.v1.tar+gzip")
                } else {
                    (tar.clone(), "application/vnd.oci.image.layer.v1.tar")
                };
                layers.push(serde_json::json!({"mediaType": media_type, "digest": put(&blob), "size": blob.len()}));
            }
            let mut config = serde_json::json!({
                "created": "2024-01-01T00:00:00Z",
                "architecture": img.architecture,
                "os": img.os,
                "config": img.config,
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": img.layers.iter().map(|_| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": "berth test"})).collect::<Vec<_>>(),
            });
            if !img.variant.is_empty() {
                config["variant"] = img.variant.clone().into();
            }
            let config = serde_json::to_vec(&config).expect("config json");
            let config_digest = put(&config);
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
                "layers": layers,
            });
            let manifest = serde_json::to_vec(&manifest).expect("manifest json");
            let digest = put(&manifest);
            let mut platform = serde_json::json!({"os": img.os, "architecture": img.architecture});
            if !img.variant.is_empty() {
                platform["variant"] = img.variant.clone().into();
            }
            descriptors.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(), "platform": platform,
            }));
            manifests.push(digest);
            configs.push(config_digest);
        }
        let annotations = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        let (top, index) = if descriptors.len() == 1 {
            let mut d = descriptors.remove(0);
            d["annotations"] = annotations;
            (d, None)
        } else {
            let index =
                serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descriptors});
            let index = serde_json::to_vec(&index).expect("index json");
            let digest = put(&index);
            let d = serde_json::json!({
                "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": index.len(), "annotations": annotations,
            });
            (d, Some(digest))
        };
        let top_index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&top_index).expect("index.json")).expect("write index.json");
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write oci-layout");
        OciLayout { dir: dir.to_path_buf(), tag: tag.to_string(), manifests, index, configs }
    }

    /// skopeo's name for this image: "oci:DIR:TAG".
    pub fn reference(&self) -> String {
        format!("oci:{}:{}", self.dir.display(), self.tag)
    }
}

impl Registry {
    /// Pushes an OCI layout (every platform of an index) as `name_tag` ("test/app:v1")
    /// with `skopeo copy`, with basic credentials when given.
    pub fn push(&self, layout: &OciLayout, name_tag: &str, creds: Option<(&str, &str)>) {
        self.skopeo_copy(&layout.reference(), name_tag, creds, layout.index.is_some());
    }

    /// `skopeo copy [--all] SOURCE docker://ADDR/NAME_TAG`: SOURCE is any skopeo
    /// transport ("oci:DIR:TAG", "docker-archive:FILE").
    pub fn skopeo_copy(&self, source: &str, name_tag: &str, creds: Option<(&str, &str)>, all: bool) {
        let policy = self.dir.join("skopeo-policy.json");
        std::fs::write(&policy, br#"{"default":[{"type":"insecureAcceptAnything"}]}"#).expect("write skopeo policy");
        let mut cmd = Command::new("skopeo");
        cmd.arg("--policy").arg(&policy).args(["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false"]);
        if all {
            cmd.arg("--all");
        }
        if let Some((user, pass)) = creds {
            cmd.arg("--dest-creds").arg(format!("{user}:{pass}"));
        }
        cmd.arg(source).arg(format!("docker://{}/{name_tag}", self.addr));
        let out = cmd.output().expect("run skopeo (install skopeo)");
        assert!(
            out.status.success(),
            "skopeo copy {source} to {}/{name_tag} failed: {}\nregistry log:\n{}",
            self.addr,
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    /// The manifest digest the registry serves for `name_tag`, through skopeo.
    pub fn digest_of(&self, name_tag: &str) -> String {
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{name_tag}", self.addr))
            .output()
            .expect("run skopeo inspect");
        assert!(out.status.success(), "skopeo inspect: {}", String::from_utf8_lossy(&out.stderr));
        sha256_digest(&out.stdout)
    }
}
