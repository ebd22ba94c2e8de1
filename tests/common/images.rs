//! Test images built from scratch: layer tars (busybox from Debian's busybox-static, and
//! layers with whiteouts, opaque directories, hardlinks and symlinks), written as an OCI
//! image layout (one platform or several behind an index), which `skopeo copy` pushes to a
//! registry and `berth load` reads.

#![allow(dead_code)]

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

pub enum Entry<'a> {
    Dir(&'a str),
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    /// Removes NAME from lower layers (`.wh.NAME`).
    Whiteout(&'a str),
    /// Hides everything lower layers had in DIR (`DIR/.wh..wh..opq`).
    Opaque(&'a str),
}

/// An uncompressed layer tar.
pub fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            Entry::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            Entry::File(p, data, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            Entry::Symlink(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Hardlink(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            Entry::Whiteout(p) => {
                let path = Path::new(p);
                let name = format!(".wh.{}", path.file_name().unwrap().to_string_lossy());
                let full = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    Some(d) => format!("{}/{name}", d.display()),
                    None => name,
                };
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, full, std::io::empty()).unwrap();
            }
            Entry::Opaque(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_data(&mut h, format!("{d}/.wh..wh..opq"), std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// A layer with busybox and the applets the tests use.
pub fn busybox_layer() -> Vec<u8> {
    busybox_layer_with(&[])
}

/// The busybox layer plus `extra` entries.
pub fn busybox_layer_with(extra: &[Entry<'_>]) -> Vec<u8> {
    let bb = std::fs::read("/usr/bin/busybox").expect("/usr/bin/busybox (install busybox-static)");
    let applets: Vec<String> = ["sh", "ls", "cat", "echo", "true", "find", "stat", "readlink", "test", "sleep", "uname"]
        .iter()
        .map(|a| format!("bin/{a}"))
        .collect();
    let mut entries = vec![
        Entry::Dir("bin"),
        Entry::Dir("etc"),
        Entry::Dir("tmp"),
        Entry::File("bin/busybox", &bb, 0o755),
        Entry::File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
    ];
    for a in &applets {
        entries.push(Entry::Symlink(a, "busybox"));
    }
    let mut all = layer(&entries);
    if !extra.is_empty() {
        // The tar crate ends an archive with exactly two zero blocks: cut them off the
        // first so the second's entries follow on.
        all.truncate(all.len() - 1024);
        all.extend_from_slice(&layer(extra));
    }
    all
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One platform's image.
pub struct Image {
    pub architecture: String,
    pub layers: Vec<Vec<u8>>,
    pub cmd: Vec<String>,
}

fn put_blob(dir: &Path, data: &[u8]) -> (String, usize) {
    let d = sha256(data);
    let p = dir.join("blobs/sha256").join(d.trim_start_matches("sha256:"));
    std::fs::write(p, data).unwrap();
    (d, data.len())
}

/// Writes an OCI image layout at `dir` holding `images` under `tag`: a single image
/// manifest for one image, an index of them for several. Returns the digest of what the
/// tag points to.
pub fn write_oci_layout(dir: &Path, tag: &str, images: &[Image]) -> String {
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut manifests = Vec::new();
    for img in images {
        let mut diff_ids = Vec::new();
        let mut layer_descs = Vec::new();
        for l in &img.layers {
            diff_ids.push(sha256(l));
            let gz = gzip(l);
            let (d, n) = put_blob(dir, &gz);
            layer_descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n}));
        }
        let config = serde_json::json!({
            "architecture": img.architecture,
            "os": "linux",
            "created": "2026-11-28T00:00:00Z",
            "config": { "Cmd": img.cmd, "Env": ["PATH=/bin"] },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
            "history": img.layers.iter().enumerate().map(|(i, _)| serde_json::json!({"created": "2026-11-28T00:00:00Z", "created_by": format!("layer {i}")})).collect::<Vec<_>>()
        });
        let cbytes = serde_json::to_vec(&config).unwrap();
        let (cd, cn) = put_blob(dir, &cbytes);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
            "layers": layer_descs
        });
        let mbytes = serde_json::to_vec(&manifest).unwrap();
        let (md, mn) = put_blob(dir, &mbytes);
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
            "platform": {"architecture": img.architecture, "os": "linux"}
        }));
    }
    let top = if manifests.len() == 1 {
        let mut m = manifests.remove(0);
        m.as_object_mut().unwrap().remove("platform");
        m
    } else {
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        let ib = serde_json::to_vec(&index).unwrap();
        let (d, n) = put_blob(dir, &ib);
        serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": n})
    };
    let digest = top["digest"].as_str().unwrap().to_string();
    let mut top = top;
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    digest
}

/// A tar of a directory (an OCI layout to `berth load`).
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}
