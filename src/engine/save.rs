//! `ImageSave`: images as a docker-archive tar stream (what `docker load` reads): each
//! image's config as `<id>.json`, each layer as `<chain id>/layer.tar` (the stored blob,
//! decompressed on the fly), `manifest.json` and the legacy `repositories` file last.
//! Nothing is staged on disk; the tar is written as it is read.

use super::{Engine, Job};
use crate::error::{Error, Result};
use crate::util::reference::{familiar, Reference};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};

pub struct ImageSave<'a> {
    pub names: Vec<String>,
    pub out: &'a mut dyn Write,
}

impl Job for ImageSave<'_> {
    type Output = ();
    const NAME: &'static str = "ImageSave";

    fn target(&self) -> String {
        self.names.join(" ")
    }

    fn run(self, e: &Engine) -> Result<()> {
        // Resolve every name first: an unknown one is an error before any byte is sent.
        let mut images: Vec<(String, Vec<String>)> = Vec::new();
        for name in &self.names {
            let id = e.resolve_image_id(name)?;
            let tag = Reference::parse(name)
                .ok()
                .filter(|r| r.digest.is_none() && !name.starts_with("sha256:") && !crate::util::id::is_full_id(name))
                .map(|r| r.with_default_tag().familiar_string());
            match images.iter_mut().find(|(i, _)| *i == id) {
                Some((_, tags)) => tags.extend(tag),
                None => images.push((id, tag.into_iter().collect())),
            }
        }
        let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(128 * 1024, self.out));
        let mut written: HashSet<String> = HashSet::new();
        let mut manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (id, tags) in &images {
            let row = e.db.image(id)?.ok_or_else(|| super::images::no_such_image(id))?;
            let hex = id.trim_start_matches("sha256:");
            let config_name = format!("{hex}.json");
            append(&mut tar, &config_name, row.config.len() as u64, &mut &row.config[..])?;
            let mut layer_paths = Vec::new();
            for l in e.db.image_layers(id)? {
                let path = format!("{}/layer.tar", l.id);
                if written.insert(l.id.clone()) {
                    let digest = l.blob.ok_or_else(|| {
                        Error::system(format!("layer {} has no stored blob to save (re-pull or re-import the image)", l.id))
                    })?;
                    append_dir(&mut tar, &l.id)?;
                    append(&mut tar, &format!("{}/VERSION", l.id), 3, &mut &b"1.0"[..])?;
                    let blob = e.blobs.open(&digest)?;
                    let plain = crate::graph::layer::decompress(std::io::BufReader::with_capacity(256 * 1024, blob))?;
                    let mut exact = Exact { inner: plain, left: l.diff_size as u64, what: digest.clone() };
                    append(&mut tar, &path, l.diff_size as u64, &mut exact)?;
                }
                layer_paths.push(path);
            }
            for t in tags {
                if let Some((repo, tag)) = t.rsplit_once(':') {
                    if let Some(top) = layer_paths.last() {
                        let top = top.trim_end_matches("/layer.tar").to_string();
                        repositories.entry(familiar(repo)).or_default().insert(tag.to_string(), top);
                    }
                }
            }
            manifest.push(json!({ "Config": config_name, "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { json!(tags) }, "Layers": layer_paths }));
        }
        let manifest = serde_json::to_vec(&manifest).map_err(|e| Error::system(e.to_string()))?;
        append(&mut tar, "manifest.json", manifest.len() as u64, &mut &manifest[..])?;
        let repos = serde_json::to_vec(&repositories).map_err(|e| Error::system(e.to_string()))?;
        append(&mut tar, "repositories", repos.len() as u64, &mut &repos[..])?;
        let mut w = tar.into_inner().map_err(|e| Error::system(format!("write archive: {e}")))?;
        w.flush().map_err(|e| Error::system(format!("write archive: {e}")))
    }
}

fn header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(mode);
    h.set_entry_type(kind);
    h.set_mtime(0);
    h
}

fn append<W: Write>(tar: &mut tar::Builder<W>, path: &str, size: u64, data: &mut dyn Read) -> Result<()> {
    let mut h = header(size, 0o644, tar::EntryType::Regular);
    tar.append_data(&mut h, path, data).map_err(|e| Error::system(format!("write {path} to the archive: {e}")))
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> Result<()> {
    let mut h = header(0, 0o755, tar::EntryType::Directory);
    tar.append_data(&mut h, path, std::io::empty()).map_err(|e| Error::system(format!("write {path} to the archive: {e}")))
}

/// Yields exactly `left` bytes, failing if the blob turns out shorter or longer than the
/// size recorded for it (a tar entry's size is written before its content).
struct Exact<R> {
    inner: R,
    left: u64,
    what: String,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(std::io::Error::other(format!("blob {} is longer than recorded", self.what))),
            };
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::other(format!("blob {} is shorter than recorded", self.what)));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
