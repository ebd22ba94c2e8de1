//! Images, layers, tags, digests and blobs in the GraphDB.

use super::{BlobRow, GraphDb, ImageDeletion, ImageRow, LayerRow};
use crate::error::{Error, Result};
use rusqlite::{params, OptionalExtension, Transaction};

impl GraphDb {

    /// Stores an image with its layers (missing layers are inserted; existing ones kept)
    /// and optionally points tags and digests at it, all in one transaction.
    pub fn insert_image(
        &self,
        image: &ImageRow,
        layers: &[LayerRow],
        tags: &[(String, String)],
        digests: &[(String, String)],
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for l in layers {
            insert_layer_tx(&tx, l)?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO images (id, config, top_layer, size, created, loaded)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![image.id, image.config, image.top_layer, image.size, image.created, image.loaded],
        )?;
        for (repo, tag) in tags {
            set_tag_tx(&tx, repo, tag, &image.id)?;
        }
        for (repo, digest) in digests {
            tx.execute(
                "INSERT OR REPLACE INTO digests (repo, digest, image_id) VALUES (?1, ?2, ?3)",
                params![repo, digest, image.id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores one committed layer (and the blob it came from), unless it is there.
    pub fn insert_layer(&self, layer: &LayerRow, blob: Option<&BlobRow>) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if let Some(b) = blob {
            insert_blob_tx(&tx, b)?;
        }
        insert_layer_tx(&tx, layer)?;
        tx.commit()?;
        Ok(())
    }

    pub fn layer(&self, id: &str) -> Result<Option<LayerRow>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, parent, diff_id, size, blob, diff_size FROM layers WHERE id = ?1",
                [id],
                layer_row,
            )
            .optional()?)
    }

    pub fn blob(&self, digest: &str) -> Result<Option<BlobRow>> {
        Ok(self
            .lock()
            .query_row("SELECT digest, media_type, size FROM blobs WHERE digest = ?1", [digest], |r| {
                Ok(BlobRow { digest: r.get(0)?, media_type: r.get(1)?, size: r.get(2)? })
            })
            .optional()?)
    }

    /// Records that `repository` (full name) holds a blob.
    pub fn add_blob_source(&self, digest: &str, repository: &str) -> Result<()> {
        self.lock().execute(
            "INSERT OR IGNORE INTO blob_sources (digest, repository) VALUES (?1, ?2)",
            [digest, repository],
        )?;
        Ok(())
    }

    /// Repositories known to hold a blob.
    pub fn blob_sources(&self, digest: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached("SELECT repository FROM blob_sources WHERE digest = ?1 ORDER BY repository")?;
        let rows = st.query_map([digest], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Layers and blobs no image needs (left by an interrupted pull or a crash), removed
    /// from the database; returns them so their files can go too. A layer is needed when
    /// it is in the chain of an image's top layer.
    pub fn collect_unused(&self) -> Result<(Vec<String>, Vec<String>)> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let unused_layers: Vec<String> = {
            let mut st = tx.prepare(
                "WITH RECURSIVE needed(id) AS (
                    SELECT top_layer FROM images WHERE top_layer IS NOT NULL
                    UNION SELECT l.parent FROM layers l JOIN needed n ON l.id = n.id WHERE l.parent IS NOT NULL
                 )
                 SELECT id FROM layers WHERE id NOT IN (SELECT id FROM needed)",
            )?;
            let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
            rows
        };
        // Children before parents, so foreign keys hold at every step.
        let mut left = unused_layers.clone();
        while !left.is_empty() {
            let before = left.len();
            let mut keep = Vec::new();
            for id in left {
                let children: i64 = tx.query_row("SELECT COUNT(*) FROM layers WHERE parent = ?1", [&id], |r| r.get(0))?;
                if children == 0 {
                    tx.execute("DELETE FROM layers WHERE id = ?1", [&id])?;
                } else {
                    keep.push(id);
                }
            }
            if keep.len() == before {
                break;
            }
            left = keep;
        }
        let blobs: Vec<String> = {
            let mut st = tx.prepare("SELECT digest FROM blobs WHERE digest NOT IN (SELECT blob FROM layers WHERE blob IS NOT NULL)")?;
            let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
            rows
        };
        for b in &blobs {
            tx.execute("DELETE FROM blob_sources WHERE digest = ?1", [b])?;
            tx.execute("DELETE FROM blobs WHERE digest = ?1", [b])?;
        }
        tx.commit()?;
        Ok((unused_layers, blobs))
    }

    /// Every blob digest the database knows.
    pub fn all_blob_digests(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached("SELECT digest FROM blobs")?;
        let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRow>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT id, config, top_layer, size, created, loaded, last_tag_time
                 FROM images WHERE id = ?1",
                [id],
                image_row,
            )
            .optional()?)
    }

    /// Image IDs starting with `prefix` ("sha256:" optional), at most `limit`.
    pub fn images_by_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        let hex = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let conn = self.lock();
        let mut st = conn.prepare_cached(
            "SELECT id FROM images WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3",
        )?;
        let lo = format!("sha256:{}", hex.to_ascii_lowercase());
        let hi = format!("{lo}\u{10FFFF}");
        let ids = st
            .query_map(params![lo, hi, limit as i64], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(ids)
    }

    pub fn all_images(&self) -> Result<Vec<ImageRow>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached(
            "SELECT id, config, top_layer, size, created, loaded, last_tag_time
             FROM images ORDER BY created DESC, id",
        )?;
        let rows = st.query_map([], image_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The image's layers, bottom first.
    pub fn image_layers(&self, image_id: &str) -> Result<Vec<LayerRow>> {
        let conn = self.lock();
        let top: Option<String> = conn
            .query_row("SELECT top_layer FROM images WHERE id = ?1", [image_id], |r| r.get(0))
            .optional()?
            .flatten();
        let mut out = Vec::new();
        let mut next = top;
        while let Some(id) = next {
            let l = conn
                .query_row(
                    "SELECT id, parent, diff_id, size, blob, diff_size FROM layers WHERE id = ?1",
                    [&id],
                    layer_row,
                )
                .optional()?
                .ok_or_else(|| Error::system(format!("graph database: layer {id} is missing")))?;
            next = l.parent.clone();
            out.push(l);
            if out.len() > 4096 {
                return Err(Error::system("graph database: layer chain loops"));
            }
        }
        out.reverse();
        Ok(out)
    }

    pub fn all_layer_ids(&self) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached("SELECT id FROM layers")?;
        let ids = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(ids)
    }

    /// Every (repo, tag, image_id), of one image or of all when `image_id` is None.
    pub fn tags(&self, image_id: Option<&str>) -> Result<Vec<(String, String, String)>> {
        self.references("SELECT repo, tag, image_id FROM tags WHERE ?1 IS NULL OR image_id = ?1 ORDER BY repo, tag", image_id)
    }

    /// Every (repo, digest, image_id), of one image or of all when `image_id` is None.
    pub fn digests(&self, image_id: Option<&str>) -> Result<Vec<(String, String, String)>> {
        self.references("SELECT repo, digest, image_id FROM digests WHERE ?1 IS NULL OR image_id = ?1 ORDER BY repo, digest", image_id)
    }

    fn references(&self, sql: &str, image_id: Option<&str>) -> Result<Vec<(String, String, String)>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached(sql)?;
        let rows = st
            .query_map([image_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    pub fn lookup_tag(&self, repo: &str, tag: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT image_id FROM tags WHERE repo = ?1 AND tag = ?2",
                [repo, tag],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn lookup_digest(&self, repo: &str, digest: &str) -> Result<Option<String>> {
        Ok(self
            .lock()
            .query_row(
                "SELECT image_id FROM digests WHERE repo = ?1 AND digest = ?2",
                [repo, digest],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Points repo:tag at an image (moving it from another image if needed).
    pub fn set_tag(&self, repo: &str, tag: &str, image_id: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        set_tag_tx(&tx, repo, tag, image_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes one tag; true if it existed.
    pub fn remove_tag(&self, repo: &str, tag: &str) -> Result<bool> {
        let n = self
            .lock()
            .execute("DELETE FROM tags WHERE repo = ?1 AND tag = ?2", [repo, tag])?;
        Ok(n > 0)
    }

    /// Removes one digest reference; true if it existed.
    pub fn remove_digest(&self, repo: &str, digest: &str) -> Result<bool> {
        let n = self
            .lock()
            .execute("DELETE FROM digests WHERE repo = ?1 AND digest = ?2", [repo, digest])?;
        Ok(n > 0)
    }

    /// Deletes an image with its tags and digests, and every layer of its chain that no
    /// other image (or layer) still needs, in one transaction. Refuses while a container
    /// row references the image.
    pub fn delete_image(&self, image_id: &str) -> Result<ImageDeletion> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let users: i64 = tx.query_row(
            "SELECT COUNT(*) FROM containers WHERE image_id = ?1",
            [image_id],
            |r| r.get(0),
        )?;
        if users > 0 {
            return Err(Error::conflict(format!(
                "image {} is used by {users} container(s)",
                crate::util::id::short(image_id)
            )));
        }
        let mut out = ImageDeletion::default();
        {
            let mut st = tx.prepare("SELECT repo, tag FROM tags WHERE image_id = ?1")?;
            for row in st.query_map([image_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
                let (repo, tag) = row?;
                out.untagged.push(format!("{repo}:{tag}"));
            }
            let mut st = tx.prepare("SELECT repo, digest FROM digests WHERE image_id = ?1")?;
            for row in st.query_map([image_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
                let (repo, digest) = row?;
                out.untagged.push(format!("{repo}@{digest}"));
            }
        }
        tx.execute("DELETE FROM tags WHERE image_id = ?1", [image_id])?;
        tx.execute("DELETE FROM digests WHERE image_id = ?1", [image_id])?;
        let top: Option<String> = tx
            .query_row("SELECT top_layer FROM images WHERE id = ?1", [image_id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| Error::not_found(format!("No such image: {image_id}")))?;
        tx.execute("DELETE FROM images WHERE id = ?1", [image_id])?;
        // Walk down the chain while each layer is unused: no image tops it, no layer sits
        // on it.
        let mut next = top;
        while let Some(id) = next {
            let used_by_image: i64 =
                tx.query_row("SELECT COUNT(*) FROM images WHERE top_layer = ?1", [&id], |r| r.get(0))?;
            let children: i64 =
                tx.query_row("SELECT COUNT(*) FROM layers WHERE parent = ?1", [&id], |r| r.get(0))?;
            if used_by_image > 0 || children > 0 {
                break;
            }
            let parent: Option<String> =
                tx.query_row("SELECT parent FROM layers WHERE id = ?1", [&id], |r| r.get(0))?;
            let blob: Option<String> = tx.query_row("SELECT blob FROM layers WHERE id = ?1", [&id], |r| r.get(0))?;
            tx.execute("DELETE FROM layers WHERE id = ?1", [&id])?;
            if let Some(b) = blob {
                let users: i64 = tx.query_row("SELECT COUNT(*) FROM layers WHERE blob = ?1", [&b], |r| r.get(0))?;
                if users == 0 {
                    tx.execute("DELETE FROM blob_sources WHERE digest = ?1", [&b])?;
                    tx.execute("DELETE FROM blobs WHERE digest = ?1", [&b])?;
                    out.blobs.push(b);
                }
            }
            out.layers.push(id);
            next = parent;
        }
        tx.commit()?;
        Ok(out)
    }
}

fn set_tag_tx(tx: &Transaction<'_>, repo: &str, tag: &str, image_id: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO tags (repo, tag, image_id) VALUES (?1, ?2, ?3)
         ON CONFLICT(repo, tag) DO UPDATE SET image_id = excluded.image_id",
        params![repo, tag, image_id],
    )?;
    tx.execute(
        "UPDATE images SET last_tag_time = ?2 WHERE id = ?1",
        params![image_id, crate::util::time::now_nanos()],
    )?;
    Ok(())
}

fn image_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImageRow> {
    Ok(ImageRow {
        id: r.get(0)?,
        config: r.get(1)?,
        top_layer: r.get(2)?,
        size: r.get(3)?,
        created: r.get(4)?,
        loaded: r.get(5)?,
        last_tag_time: r.get(6)?,
    })
}

fn layer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LayerRow> {
    Ok(LayerRow {
        id: r.get(0)?,
        parent: r.get(1)?,
        diff_id: r.get(2)?,
        size: r.get(3)?,
        blob: r.get(4)?,
        diff_size: r.get(5)?,
    })
}

fn insert_layer_tx(tx: &Transaction<'_>, l: &LayerRow) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO layers (id, parent, diff_id, size, created, blob, diff_size)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![l.id, l.parent, l.diff_id, l.size, crate::util::time::now_nanos(), l.blob, l.diff_size],
    )?;
    Ok(())
}

fn insert_blob_tx(tx: &Transaction<'_>, b: &BlobRow) -> Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO blobs (digest, media_type, size) VALUES (?1, ?2, ?3)",
        params![b.digest, b.media_type, b.size],
    )?;
    Ok(())
}
