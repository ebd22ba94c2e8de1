//! `ImagePrune`: removes dangling images (no tag), or with `all` every image no container
//! uses, through the same removal as `rmi` (so shared layers stay while used).

use super::images::{ImageRemove, Removed};
use super::{Engine, Job};
use crate::error::Result;
use std::collections::HashSet;

pub struct ImagePrune {
    /// Also images that have tags (but no container).
    pub all: bool,
}

pub struct Pruned {
    pub removed: Vec<Removed>,
    /// Bytes of layer trees freed.
    pub reclaimed: u64,
}

impl Job for ImagePrune {
    type Output = Pruned;
    const NAME: &'static str = "ImagePrune";

    fn target(&self) -> String {
        if self.all { "all unused".into() } else { "dangling".into() }
    }

    fn run(self, e: &Engine) -> Result<Pruned> {
        let used: HashSet<String> = e.all().iter().map(|c| c.lock().0.image_id.clone()).collect();
        let tagged: HashSet<String> = e.db.tags(None)?.into_iter().map(|(_, _, id)| id).collect();
        let mut out = Pruned { removed: Vec::new(), reclaimed: 0 };
        for img in e.db.all_images()? {
            if used.contains(&img.id) || (!self.all && tagged.contains(&img.id)) {
                continue;
            }
            let sizes: Vec<(String, u64)> =
                e.db.image_layers(&img.id)?.into_iter().map(|l| (format!("sha256:{}", l.id), l.size as u64)).collect();
            match e.run(ImageRemove { name: img.id.clone(), force: true }) {
                Ok(removed) => {
                    for r in &removed {
                        if let Removed::Deleted(d) = r {
                            out.reclaimed += sizes.iter().find(|(id, _)| id == d).map(|(_, s)| *s).unwrap_or(0);
                        }
                    }
                    out.removed.extend(removed);
                }
                Err(err) => log_warn!("prune {}: {}", img.id, err.message),
            }
        }
        Ok(out)
    }
}
