//! `ImageLoad`: images from an archive (untrusted, like any layer): a docker-archive
//! (`manifest.json`, configs, `<id>/layer.tar`, as `docker save` writes it) or an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/sha256/...`). The archive's members are
//! unpacked into a private temp dir first — only regular files, directories and symlinks
//! that stay inside the archive, with cleaned names — because `docker save` writes
//! manifest.json after the layers. Then each image's config is verified against its ID,
//! each layer applied and checked against the config's diff IDs, and kept (the archive's own
//! file becomes the stored blob); the image and its tags are committed last.

use super::layers::Applied;
use super::progress::{short, Progress, Report};
use super::{Engine, Job};
use crate::error::{Context, Error, Result};
use crate::graph::db::BlobRow;
use crate::graph::digest::DigestReader;
use crate::graph::image::{chain_ids, digest_of, ImageConfig};
use crate::util::reference::Reference;
use crate::registry::manifest::{Manifest, DOCKER_LAYER_GZIP, OCI_LAYER_TAR};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest config or manifest read from an archive.
const MAX_DOCUMENT: u64 = 8 * 1024 * 1024;

pub struct ImageLoad<'a> {
    pub source: &'a mut dyn Read,
    pub progress: &'a dyn Progress,
}

/// One image loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// "name:tag".
    Tagged(String),
    /// An image without tags, by ID.
    Untagged(String),
}

impl Job for ImageLoad<'_> {
    type Output = Vec<Loaded>;
    const NAME: &'static str = "ImageLoad";

    fn target(&self) -> String {
        String::new()
    }

    fn run(self, e: &Engine) -> Result<Vec<Loaded>> {
        let dir = e.config.data_root.join("tmp").join(format!("load-{}", &crate::util::id::random_id()[..12]));
        std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let result = (|| {
            let archive = Archive::unpack(self.source, &dir)?;
            let images = archive.images()?;
            let mut loaded = Vec::new();
            for img in images {
                loaded.extend(load_one(e, &archive, &img, self.progress)?);
            }
            Ok(loaded)
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}

/// One image to load, in archive paths.
struct Entry {
    config: String,
    layers: Vec<String>,
    tags: Vec<String>,
}

/// An archive unpacked into a directory, with its symlinks kept aside.
struct Archive {
    root: PathBuf,
    links: HashMap<String, String>,
}

/// A member name as a clean relative path ("./a/../b" → "b"); None if it is empty or
/// climbs out.
fn clean(name: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir | Component::RootDir => {}
            Component::Prefix(_) => return None,
        }
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

impl Archive {
    fn unpack(source: &mut dyn Read, root: &Path) -> Result<Archive> {
        let plain = crate::graph::layer::decompress(source)?;
        let mut tar = tar::Archive::new(plain);
        let mut links = HashMap::new();
        let entries = tar.entries().map_err(|e| Error::invalid(format!("invalid archive: {e}")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| Error::invalid(format!("invalid archive: {e}")))?;
            let raw = entry.path().map_err(|e| Error::invalid(format!("invalid archive member name: {e}")))?.to_string_lossy().into_owned();
            let Some(name) = clean(&raw) else { continue };
            let dest = root.join(&name);
            match entry.header().entry_type() {
                tar::EntryType::Directory => std::fs::create_dir_all(&dest).ctx(|| format!("unpack {name}"))?,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent).ctx(|| format!("unpack {name}"))?;
                    }
                    // The name is clean and every directory on the way was made by us, so
                    // this stays in `root`; O_EXCL refuses a member that comes twice.
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&dest)
                        .ctx(|| format!("unpack {name}"))?;
                    std::io::copy(&mut entry, &mut f).map_err(|e| Error::invalid(format!("unpack {name}: {e}")))?;
                }
                tar::EntryType::Symlink => {
                    let target = entry.link_name().ok().flatten().map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                    let base = Path::new(&name).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    if let Some(t) = clean(&format!("{base}/{target}")) {
                        links.insert(name, t);
                    }
                }
                // Devices, fifos and hardlinks have no place in an image archive.
                _ => {}
            }
        }
        Ok(Archive { root: root.to_path_buf(), links })
    }

    /// The unpacked file for an archive path, following the archive's own symlinks.
    fn path(&self, name: &str) -> Result<PathBuf> {
        let mut n = clean(name).ok_or_else(|| Error::invalid(format!("invalid path {name:?} in the archive")))?;
        for _ in 0..16 {
            match self.links.get(&n) {
                Some(t) => n = t.clone(),
                None => {
                    let p = self.root.join(&n);
                    return if p.is_file() {
                        Ok(p)
                    } else {
                        Err(Error::invalid(format!("the archive has no file {name}")))
                    };
                }
            }
        }
        Err(Error::invalid(format!("too many symlinks for {name} in the archive")))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        let p = self.path(name)?;
        let mut v = Vec::new();
        std::fs::File::open(&p)
            .ctx(|| format!("open {name}"))?
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut v)
            .ctx(|| format!("read {name}"))?;
        if v.len() as u64 > MAX_DOCUMENT {
            return Err(Error::invalid(format!("{name} in the archive is larger than {MAX_DOCUMENT} bytes")));
        }
        Ok(v)
    }

    /// The images the archive describes, in either format.
    fn images(&self) -> Result<Vec<Entry>> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct DockerEntry {
            config: String,
            #[serde(default)]
            repo_tags: Option<Vec<String>>,
            layers: Vec<String>,
        }
        if self.path("manifest.json").is_ok() {
            let entries: Vec<DockerEntry> = serde_json::from_slice(&self.read("manifest.json")?)
                .map_err(|e| Error::invalid(format!("invalid manifest.json in the archive: {e}")))?;
            return Ok(entries
                .into_iter()
                .map(|d| Entry { config: d.config, layers: d.layers, tags: d.repo_tags.unwrap_or_default() })
                .collect());
        }
        if self.path("index.json").is_ok() {
            #[derive(Deserialize)]
            struct Index {
                manifests: Vec<IndexEntry>,
            }
            #[derive(Deserialize)]
            struct IndexEntry {
                digest: String,
                #[serde(default)]
                annotations: HashMap<String, String>,
            }
            let index: Index = serde_json::from_slice(&self.read("index.json")?)
                .map_err(|e| Error::invalid(format!("invalid index.json in the archive: {e}")))?;
            let blob = |d: &str| format!("blobs/{}", d.replace(':', "/"));
            let mut out = Vec::new();
            for m in index.manifests {
                let bytes = self.read(&blob(&m.digest))?;
                if digest_of(&bytes) != m.digest {
                    return Err(Error::invalid(format!("manifest {} in the archive does not match its digest", m.digest)));
                }
                let manifest: Manifest = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::invalid(format!("invalid manifest {} in the archive: {e}", m.digest)))?;
                // containerd's annotation holds a full name; OCI's ref.name is often just a
                // tag ("1", "latest") and names an image only when it looks like one.
                let tags = m
                    .annotations
                    .get("io.containerd.image.name")
                    .or(m.annotations.get("org.opencontainers.image.ref.name").filter(|n| n.contains('/') || n.contains(':')))
                    .cloned()
                    .into_iter()
                    .collect();
                out.push(Entry {
                    config: blob(&manifest.config.digest),
                    layers: manifest.layers.iter().map(|l| blob(&l.digest)).collect(),
                    tags,
                });
            }
            return Ok(out);
        }
        Err(Error::invalid("the archive has neither manifest.json (docker save) nor index.json (OCI layout)"))
    }
}

fn load_one(e: &Engine, archive: &Archive, img: &Entry, p: &dyn Progress) -> Result<Vec<Loaded>> {
    let config_bytes = archive.read(&img.config)?;
    let id = digest_of(&config_bytes);
    let config = ImageConfig::parse(&config_bytes)?;
    if config.rootfs.diff_ids.len() != img.layers.len() {
        return Err(Error::invalid(format!(
            "image {id}: the archive lists {} layers but its config {}",
            img.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    for (i, layer) in img.layers.iter().enumerate() {
        let chain = &chains[i];
        if e.db.layer(chain)?.is_some() {
            continue;
        }
        let parent = if i == 0 { None } else { Some(chains[i - 1].as_str()) };
        let path = archive.path(layer)?;
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let id_short = short(&config.rootfs.diff_ids[i]);
        p.report(Report::bytes(&id_short, "Loading layer", 0, Some(size)));
        let staging = e.storage.begin_layer(parent)?;
        let applied = (|| -> Result<(String, u64, bool)> {
            let file = std::fs::File::open(&path).ctx(|| format!("open {layer}"))?;
            let mut head = [0u8; 3];
            let gzip = std::fs::File::open(&path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
                && crate::graph::layer::is_gzip(&head);
            let plain = crate::graph::layer::decompress(std::io::BufReader::with_capacity(256 * 1024, file))?;
            let mut hashed = DigestReader::new(plain);
            let stats = crate::graph::layer::apply(&mut hashed, &staging.dir, e.storage.whiteout_mode())
                .map_err(|err| err.context(format!("layer {layer}")))?;
            Ok((hashed.digest(), stats.bytes, gzip))
        })();
        let (diff_id, diff_size, gzip) = match applied {
            Ok(v) => v,
            Err(err) => {
                e.storage.abort(staging);
                return Err(err);
            }
        };
        if diff_id != config.rootfs.diff_ids[i] {
            e.storage.abort(staging);
            return Err(Error::invalid(format!(
                "layer {layer}: content has digest {diff_id} but the image config says {}",
                config.rootfs.diff_ids[i]
            )));
        }
        // The archive's file is the layer's blob from now on (no second copy).
        let (digest, blob_size) = e.blobs.adopt(&path)?;
        let blob = BlobRow { digest, media_type: if gzip { DOCKER_LAYER_GZIP } else { OCI_LAYER_TAR }.into(), size: blob_size as i64 };
        e.commit_applied(Applied { staging, diff_id, diff_size, blob: Some(blob) }, chain, parent)?;
        p.report(Report::bytes(&id_short, "Loading layer", size, Some(size)));
    }
    let mut tags = Vec::new();
    let mut names = Vec::new();
    for t in &img.tags {
        let r = Reference::parse(t)?.with_default_tag();
        if r.digest.is_some() {
            continue;
        }
        tags.push((r.repository(), r.tag.clone().unwrap_or_else(|| "latest".into())));
        names.push(Loaded::Tagged(r.familiar_string()));
    }
    e.store_image(config_bytes, &config, &chains, &tags, &[])?;
    if names.is_empty() {
        names.push(Loaded::Untagged(id));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_cleaned_and_contained() {
        assert_eq!(clean("./a/b").as_deref(), Some("a/b"));
        assert_eq!(clean("/abs/x").as_deref(), Some("abs/x"));
        assert_eq!(clean("a/../b").as_deref(), Some("b"));
        assert_eq!(clean("../../etc/passwd"), None);
        assert_eq!(clean("a/../../b"), None);
        assert_eq!(clean("."), None);
    }
}
