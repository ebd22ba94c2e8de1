//! Turning a layer tar into a committed layer, for the jobs that get layers from a stream
//! (import, load, pull): apply it into a storage staging dir while hashing it (its diff ID)
//! and, when no original blob exists, keeping a gzip copy in the blob store (so push and
//! save have a blob to send); then commit it under its chain ID and record it in the GraphDB
//! in one transaction. Nothing here knows registries or archives.

use super::Engine;
use crate::driver::storage::Staging;
use crate::error::{Error, Result};
use crate::graph::blobs::Tee;
use crate::graph::db::{BlobRow, LayerRow};
use crate::graph::digest::DigestReader;
use std::io::{Read, Write};

/// The media type berth stores compressed copies under (and pushes them as).
pub const GZIP_LAYER: &str = crate::registry::manifest::DOCKER_LAYER_GZIP;

/// A layer applied into a staging dir, not yet committed.
pub struct Applied {
    pub staging: Staging,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
    /// Bytes of the uncompressed tar.
    pub diff_size: u64,
    /// The blob kept for it (a gzip copy made here, or the caller's original).
    pub blob: Option<BlobRow>,
}

impl Engine {
    /// Applies a layer stream (plain or compressed) on top of `parent` and keeps a gzip
    /// copy of it in the blob store. On any error nothing is left behind.
    pub(super) fn apply_and_keep(&self, source: &mut dyn Read, parent: Option<&str>) -> Result<Applied> {
        let staging = self.storage.begin_layer(parent)?;
        let writer = match self.blobs.writer() {
            Ok(w) => w,
            Err(e) => {
                self.storage.abort(staging);
                return Err(e);
            }
        };
        // Fast compression: the copy only needs to exist, and import speed matters more.
        let mut gz = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
        let applied = (|| -> Result<(String, u64)> {
            let plain = crate::graph::layer::decompress(source)?;
            let mut hashed = DigestReader::new(plain);
            let stats = {
                let mut tee = Tee { inner: &mut hashed, copy: &mut gz };
                crate::graph::layer::apply(&mut tee, &staging.dir, self.storage.whiteout_mode())?
            };
            Ok((hashed.digest(), stats.bytes))
        })();
        let (diff_id, diff_size) = match applied {
            Ok(v) => v,
            Err(err) => {
                if let Ok(w) = gz.finish() {
                    w.abort();
                }
                self.storage.abort(staging);
                return Err(err);
            }
        };
        let stored = gz
            .finish()
            .map_err(|e| Error::from(e).context("compress the layer copy"))
            .and_then(|mut w| {
                w.flush().map_err(|e| Error::from(e).context("write the layer copy"))?;
                w.commit(None)
            });
        let (digest, size) = match stored {
            Ok(v) => v,
            Err(err) => {
                self.storage.abort(staging);
                return Err(err);
            }
        };
        let blob = BlobRow { digest, media_type: GZIP_LAYER.to_string(), size: size as i64 };
        Ok(Applied { staging, diff_id, diff_size, blob: Some(blob) })
    }

    /// Records an image whose layers (`chains`, bottom first) are all committed, with its
    /// tags and digests, in one transaction; its size is that of its layers.
    pub(super) fn store_image(
        &self,
        config_bytes: Vec<u8>,
        config: &crate::graph::image::ImageConfig,
        chains: &[String],
        tags: &[(String, String)],
        digests: &[(String, String)],
    ) -> Result<String> {
        let id = crate::graph::image::digest_of(&config_bytes);
        let now = crate::util::time::now_nanos();
        let mut size = 0;
        for c in chains {
            size += self.db.layer(c)?.map(|l| l.size).unwrap_or(0);
        }
        let row = crate::graph::db::ImageRow {
            id: id.clone(),
            config: config_bytes,
            top_layer: chains.last().cloned(),
            size,
            created: config.created.as_deref().and_then(crate::util::time::parse_rfc3339).unwrap_or(now),
            loaded: now,
            last_tag_time: 0,
        };
        self.db.insert_image(&row, &[], tags, digests)?;
        Ok(id)
    }

    /// Commits an applied layer as `chain_id` over `parent` and records it with its blob.
    /// If another job committed the same layer first, theirs is kept.
    pub(super) fn commit_applied(&self, a: Applied, chain_id: &str, parent: Option<&str>) -> Result<LayerRow> {
        self.storage.commit_layer(a.staging, chain_id, parent)?;
        let size = self.storage.layer_size(chain_id)? as i64;
        let row = LayerRow {
            id: chain_id.to_string(),
            parent: parent.map(str::to_string),
            diff_id: a.diff_id,
            size,
            blob: a.blob.as_ref().map(|b| b.digest.clone()),
            diff_size: a.diff_size as i64,
        };
        self.db.insert_layer(&row, a.blob.as_ref())?;
        Ok(row)
    }
}
