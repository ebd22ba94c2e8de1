//! Local image jobs: resolving a user's image name, `ImageList`, `ImageInspect`,
//! `ImageTag` and `ImageRemove` (untag or delete, refusing while containers use it).

use super::{Engine, Job};
use crate::error::{Error, Result};
use crate::graph::db::ImageRow;
pub use crate::graph::image::{host_architecture, ImageConfig, RunConfig};
use crate::util::reference::{familiar, Reference};

/// An image as the jobs return it.
#[derive(Debug, Clone)]
pub struct Image {
    /// "sha256:<hex>".
    pub id: String,
    pub config: ImageConfig,
    /// "busybox:latest" (familiar form).
    pub repo_tags: Vec<String>,
    /// "busybox@sha256:..." (familiar form).
    pub repo_digests: Vec<String>,
    pub size: i64,
    /// Nanoseconds; from the config, or the time stored when the config has none.
    pub created: i64,
    pub last_tag_time: i64,
    /// Layer diff IDs, bottom first.
    pub layers: Vec<String>,
    /// Storage layer IDs (chain IDs), bottom first.
    pub layer_ids: Vec<String>,
}

impl Engine {
    /// Finds an image by full ID, reference (tag or digest; "latest" by default), or
    /// unique ID prefix. Returns its ID and parsed config.
    pub fn resolve_image(&self, name: &str) -> Result<(String, ImageConfig)> {
        let id = self.resolve_image_id(name)?;
        let row = self.db.image(&id)?.ok_or_else(|| no_such_image(name))?;
        Ok((id, ImageConfig::parse(&row.config)?))
    }

    pub fn resolve_image_id(&self, name: &str) -> Result<String> {
        if let Some(hex) = name.strip_prefix("sha256:") {
            return self.image_by_prefix(hex).ok_or_else(|| no_such_image(name));
        }
        if let Ok(r) = Reference::parse(name) {
            let found = match (&r.digest, &r.tag) {
                (Some(d), _) => self.db.lookup_digest(&r.repository(), d)?,
                (None, t) => {
                    self.db.lookup_tag(&r.repository(), t.as_deref().unwrap_or("latest"))?
                }
            };
            if let Some(id) = found {
                return Ok(id);
            }
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(id) = self.image_by_prefix(name) {
                return Ok(id);
            }
        }
        Err(no_such_image(&display_name(name)))
    }

    fn image_by_prefix(&self, hex: &str) -> Option<String> {
        let ids = self.db.images_by_prefix(hex, 2).ok()?;
        if ids.len() == 1 {
            ids.into_iter().next()
        } else {
            None
        }
    }

    /// Loads one image with its references.
    pub fn image_details(&self, id: &str) -> Result<Image> {
        let row = self.db.image(id)?.ok_or_else(|| no_such_image(id))?;
        let layer_ids = self.db.image_layers(id)?.into_iter().map(|l| l.id).collect();
        Ok(image_of(row, &self.db.tags(Some(id))?, &self.db.digests(Some(id))?, layer_ids))
    }
}

/// An image from its row and the (repo, tag|digest, image) references, of which those of
/// this image are kept, in familiar form.
fn image_of(row: ImageRow, tags: &[(String, String, String)], digests: &[(String, String, String)], layer_ids: Vec<String>) -> Image {
    let config = ImageConfig::parse(&row.config).unwrap_or_default();
    let refs = |list: &[(String, String, String)], sep: char| -> Vec<String> {
        list.iter().filter(|r| r.2 == row.id).map(|(repo, t, _)| format!("{}{sep}{t}", familiar(repo))).collect()
    };
    Image {
        repo_tags: refs(tags, ':'),
        repo_digests: refs(digests, '@'),
        created: if row.created != 0 { row.created } else { row.loaded },
        layers: config.rootfs.diff_ids.clone(),
        config,
        size: row.size,
        last_tag_time: row.last_tag_time,
        layer_ids,
        id: row.id,
    }
}

/// "busybox" → "busybox:latest" for messages, as Docker words "No such image".
fn display_name(name: &str) -> String {
    match Reference::parse(name) {
        Ok(r) => r.with_default_tag().familiar_string(),
        Err(_) => name.to_string(),
    }
}

pub fn no_such_image(name: &str) -> Error {
    Error::not_found(format!("No such image: {name}"))
}

/// `images`: every image, newest first, with its tags and digests.
pub struct ImageList {
    /// `dangling=true|false` filter.
    pub dangling: Option<bool>,
    /// `reference=` filters (glob patterns on the familiar repository[:tag]).
    pub references: Vec<String>,
}

impl Job for ImageList {
    type Output = Vec<Image>;
    const NAME: &'static str = "ImageList";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        String::new()
    }

    fn run(self, e: &Engine) -> Result<Vec<Image>> {
        let tags = e.db.tags(None)?;
        let digests = e.db.digests(None)?;
        let mut out = Vec::new();
        for row in e.db.all_images()? {
            let image = image_of(row, &tags, &digests, Vec::new());
            if let Some(want) = self.dangling {
                if want != image.repo_tags.is_empty() {
                    continue;
                }
            }
            if !self.references.is_empty()
                && !image.repo_tags.iter().any(|t| self.references.iter().any(|p| reference_matches(p, t)))
            {
                continue;
            }
            out.push(image);
        }
        Ok(out)
    }
}

/// Docker's `reference=` filter: a glob on "repo:tag", or on "repo" alone when the pattern
/// has no tag.
fn reference_matches(pattern: &str, repo_tag: &str) -> bool {
    let has_tag = pattern.rsplit('/').next().is_some_and(|last| last.contains(':'));
    let subject = if has_tag {
        repo_tag
    } else {
        repo_tag.rsplit_once(':').map(|(r, _)| r).unwrap_or(repo_tag)
    };
    glob(pattern.as_bytes(), subject.as_bytes())
}

/// Shell-style glob with `*` (not crossing '/') and `?`, as Go's path.Match.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&p[1..], s) || (s.first().is_some_and(|c| *c != b'/') && glob(p, &s[1..])),
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

pub struct ImageInspect {
    pub name: String,
}

impl Job for ImageInspect {
    type Output = Image;
    const NAME: &'static str = "ImageInspect";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        self.name.clone()
    }

    fn run(self, e: &Engine) -> Result<Image> {
        let id = e.resolve_image_id(&self.name)?;
        e.image_details(&id)
    }
}

pub struct ImageTag {
    pub source: String,
    /// Repository, possibly with ":tag" when `tag` is empty.
    pub repo: String,
    pub tag: String,
}

impl Job for ImageTag {
    type Output = ();
    const NAME: &'static str = "ImageTag";

    fn target(&self) -> String {
        format!("{} -> {}:{}", self.source, self.repo, self.tag)
    }

    fn run(self, e: &Engine) -> Result<()> {
        let id = e.resolve_image_id(&self.source)?;
        let target = if self.tag.is_empty() { self.repo.clone() } else { format!("{}:{}", self.repo, self.tag) };
        let r = Reference::parse(&target)?;
        if r.digest.is_some() {
            return Err(Error::invalid("refusing to create a tag with a digest reference"));
        }
        let r = r.with_default_tag();
        e.db.set_tag(&r.repository(), r.tag.as_deref().unwrap_or("latest"), &id)
    }
}

/// One line of `rmi` output.
#[derive(Debug, Clone, PartialEq)]
pub enum Removed {
    Untagged(String),
    Deleted(String),
}

pub struct ImageRemove {
    pub name: String,
    pub force: bool,
}

impl Job for ImageRemove {
    type Output = Vec<Removed>;
    const NAME: &'static str = "ImageRemove";

    fn target(&self) -> String {
        self.name.clone()
    }

    fn run(self, e: &Engine) -> Result<Vec<Removed>> {
        let id = e.resolve_image_id(&self.name)?;
        let by_reference = Reference::parse(&self.name).ok().filter(|r| {
            // A hex string that resolved as an ID prefix is not a reference to untag.
            let t = r.clone().with_default_tag();
            e.db.lookup_tag(&t.repository(), t.tag.as_deref().unwrap_or("latest")).ok().flatten().as_deref()
                == Some(id.as_str())
                || r.digest.as_ref().is_some_and(|d| {
                    e.db.lookup_digest(&r.repository(), d).ok().flatten().as_deref() == Some(id.as_str())
                })
        });
        let tags = e.db.tags(Some(&id))?;
        let digests = e.db.digests(Some(&id))?;
        let refs = tags.len() + digests.len();
        let users: Vec<super::container::Container> = e
            .all()
            .into_iter()
            .map(|c| c.snapshot())
            .filter(|c| c.image_id == id)
            .collect();
        let mut out = Vec::new();

        // Removing one reference of several keeps the image. Digest references do not keep
        // an image alive on their own (Docker): removing its last tag deletes it.
        if let Some(r) = &by_reference {
            let last = if r.digest.is_some() { refs == 1 } else { tags.len() == 1 };
            if !last {
                untag(e, r, &mut out)?;
                return Ok(out);
            }
            if let Some(c) = users.first() {
                if !self.force || c.running() {
                    return Err(Error::conflict(format!(
                        "conflict: unable to remove repository reference \"{}\" (must force) - \
                         container {} is using its referenced image {}",
                        self.name,
                        crate::util::id::short(&c.id),
                        crate::util::id::short(&id)
                    )));
                }
                // Forced: the last tag goes, the image stays for its containers.
                untag(e, r, &mut out)?;
                return Ok(out);
            }
        } else if let Some(c) = users.first() {
            let how = if c.running() { "cannot be forced" } else { "must be forced" };
            if !self.force || c.running() {
                return Err(Error::conflict(format!(
                    "conflict: unable to delete {} ({how}) - image is being used by {} container {}",
                    crate::util::id::short(&id),
                    if c.running() { "running" } else { "stopped" },
                    crate::util::id::short(&c.id)
                )));
            }
            for (repo, tag, _) in &tags {
                e.db.remove_tag(repo, tag)?;
                out.push(Removed::Untagged(format!("{}:{tag}", familiar(repo))));
            }
            return Ok(out);
        } else if refs > 1 && !self.force {
            return Err(Error::conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                crate::util::id::short(&id)
            )));
        }
        let deletion = e.db.delete_image(&id)?;
        for u in deletion.untagged {
            let shown = match u.rsplit_once('@') {
                Some((repo, d)) if d.starts_with("sha256:") => format!("{}@{d}", familiar(repo)),
                _ => match u.rsplit_once(':') {
                    Some((repo, t)) => format!("{}:{t}", familiar(repo)),
                    None => u.clone(),
                },
            };
            out.push(Removed::Untagged(shown));
        }
        out.push(Removed::Deleted(id.clone()));
        for layer in deletion.layers {
            if let Err(err) = e.storage.remove_layer(&layer) {
                // The row is gone; start-up garbage collection retries the directory.
                log_warn!("remove layer {layer}: {}", err.message);
            }
            out.push(Removed::Deleted(format!("sha256:{layer}")));
        }
        for blob in deletion.blobs {
            e.blobs.remove(&blob);
        }
        Ok(out)
    }
}

fn untag(e: &Engine, r: &Reference, out: &mut Vec<Removed>) -> Result<()> {
    if let Some(d) = &r.digest {
        e.db.remove_digest(&r.repository(), d)?;
        out.push(Removed::Untagged(format!("{}@{d}", r.familiar_repository())));
    } else {
        let t = r.clone().with_default_tag();
        let tag = t.tag.clone().unwrap_or_default();
        let repo = t.repository();
        let id = e.db.lookup_tag(&repo, &tag)?;
        e.db.remove_tag(&repo, &tag)?;
        out.push(Removed::Untagged(format!("{}:{tag}", t.familiar_repository())));
        // With no tag of this repository left on the image, its digests of this repository
        // go too, as in Docker.
        if let Some(id) = id {
            if !e.db.tags(Some(&id))?.iter().any(|(r2, _, _)| *r2 == repo) {
                for (r2, d, _) in e.db.digests(Some(&id))? {
                    if r2 == repo {
                        e.db.remove_digest(&r2, &d)?;
                        out.push(Removed::Untagged(format!("{}@{d}", familiar(&r2))));
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_globs() {
        assert!(reference_matches("capture/*", "capture/busybox:latest"));
        assert!(!reference_matches("capture/*", "other/busybox:latest"));
        assert!(reference_matches("busybox", "busybox:1.36"));
        assert!(reference_matches("busybox:1.*", "busybox:1.36"));
        assert!(!reference_matches("busybox:2*", "busybox:1.36"));
        assert!(!reference_matches("*", "a/b:c"));
    }
}
