//! `ImageImport`: a rootfs tarball (plain or gzip, untrusted) becomes a one-layer image.
//! The layer is applied into a storage staging dir while its diff ID is hashed in the same
//! pass; the staged layer is renamed into place, and the image, layer and tag rows are
//! committed in one transaction. A daemon killed mid-import leaves at most a staging dir
//! or an unreferenced layer directory, both removed at start-up: never a half image.

use super::{Engine, Job};
use crate::error::{Error, Result};
use crate::graph::image::{apply_changes, History, ImageConfig, RootFs, RunConfig};
use crate::util::reference::Reference;
use std::io::Read;

pub struct ImageImport<'a> {
    /// The request body, read once, streaming.
    pub source: Box<dyn Read + 'a>,
    /// "repo[:tag]" to tag the new image with, if any.
    pub repo: Option<String>,
    /// A separate tag (the API's `tag` parameter) when `repo` has none.
    pub tag: Option<String>,
    /// Commit message, stored as the image's comment.
    pub message: String,
    /// Dockerfile-style changes (`-c`).
    pub changes: Vec<String>,
}

impl Job for ImageImport<'_> {
    /// The new image's ID.
    type Output = String;
    const NAME: &'static str = "ImageImport";

    fn target(&self) -> String {
        self.repo.clone().unwrap_or_else(|| "<untagged>".into())
    }

    fn run(self, e: &Engine) -> Result<String> {
        // Everything that can be refused is checked before a byte of the body is read.
        let tag_ref = match self.repo.as_deref().filter(|r| !r.is_empty()) {
            Some(repo) => {
                let full = match self.tag.as_deref().filter(|t| !t.is_empty()) {
                    Some(t) => format!("{repo}:{t}"),
                    None => repo.to_string(),
                };
                let r = Reference::parse(&full)?;
                if r.digest.is_some() {
                    return Err(Error::invalid("cannot import to a digest reference"));
                }
                Some(r.with_default_tag())
            }
            None => None,
        };
        let mut run_config = RunConfig::default();
        apply_changes(&mut run_config, &self.changes)?;

        let mut source = self.source;
        let applied = e.apply_and_keep(&mut source, None)?;
        let diff_id = applied.diff_id.clone();
        let layer_id = diff_id.trim_start_matches("sha256:").to_string();
        e.commit_applied(applied, &layer_id, None)?;

        let now = crate::util::time::now_nanos();
        let created = crate::util::time::rfc3339_nanos(now);
        let comment = if self.message.is_empty() { "Imported from -".to_string() } else { self.message.clone() };
        let config = ImageConfig {
            architecture: crate::graph::image::host_architecture().to_string(),
            os: "linux".into(),
            created: Some(created.clone()),
            comment: self.message.clone(),
            docker_version: crate::version::VERSION.to_string(),
            config: run_config,
            rootfs: RootFs { kind: "layers".into(), diff_ids: vec![diff_id.clone()] },
            history: vec![History { created: Some(created), comment, ..History::default() }],
            ..ImageConfig::default()
        };
        let bytes = serde_json::to_vec(&config).map_err(|e| Error::system(e.to_string()))?;
        let tags: Vec<(String, String)> = tag_ref
            .iter()
            .map(|r| (r.repository(), r.tag.clone().unwrap_or_else(|| "latest".into())))
            .collect();
        let image_id = e.store_image(bytes, &config, &[layer_id], &tags, &[])?;
        Ok(image_id)
    }
}
