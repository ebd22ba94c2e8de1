//! `ImageHistory`: how an image was built, newest step first, from its config's `history`
//! (each step that made a layer is matched with that layer's size), as `docker history`
//! shows it.

use super::{Engine, Job};
use crate::error::Result;
use crate::graph::image::ImageConfig;

pub struct HistoryEntry {
    /// The image ID for the newest step, "<missing>" for the others (as Docker has it).
    pub id: String,
    /// Nanoseconds.
    pub created: i64,
    pub created_by: String,
    pub size: i64,
    pub comment: String,
    pub tags: Vec<String>,
}

pub struct ImageHistory {
    pub name: String,
}

impl Job for ImageHistory {
    type Output = Vec<HistoryEntry>;
    const NAME: &'static str = "ImageHistory";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        self.name.clone()
    }

    fn run(self, e: &Engine) -> Result<Vec<HistoryEntry>> {
        let id = e.resolve_image_id(&self.name)?;
        let image = e.image_details(&id)?;
        let layers = e.db.image_layers(&id)?;
        // The same measure as `images` and inspect: the layer trees on disk.
        let sizes: Vec<i64> = layers.iter().map(|l| l.size).collect();
        let ImageConfig { history, .. } = image.config;
        let mut out = Vec::new();
        let mut layer = 0;
        if history.is_empty() {
            for s in &sizes {
                out.push(HistoryEntry { id: String::new(), created: image.created, created_by: String::new(), size: *s, comment: String::new(), tags: vec![] });
            }
        }
        for h in history {
            let size = if h.empty_layer {
                0
            } else {
                layer += 1;
                sizes.get(layer - 1).copied().unwrap_or(0)
            };
            out.push(HistoryEntry {
                id: String::new(),
                created: h.created.as_deref().and_then(crate::util::time::parse_rfc3339).unwrap_or(0),
                created_by: h.created_by,
                size,
                comment: h.comment,
                tags: vec![],
            });
        }
        out.reverse();
        for (i, h) in out.iter_mut().enumerate() {
            if i == 0 {
                h.id = id.clone();
                h.tags = image.repo_tags.clone();
            } else {
                h.id = "<missing>".to_string();
            }
        }
        Ok(out)
    }
}
