//! The GraphDB: berth's metadata in one SQLite file (`<data-root>/berth.db`, WAL mode).
//! Images, layers, tags, containers and their names live here; every state change is one
//! transaction, so a daemon killed at any instant restarts from a consistent graph (layer
//! and container directories without rows are garbage-collected at start-up).
//!
//! The schema is versioned with `PRAGMA user_version`; `MIGRATIONS[i]` takes version i to
//! i+1 and runs in its own transaction. Container specs and states are stored as JSON text
//! that the engine owns: this module knows rows, not containers.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and the engine keeps
//! the hot read paths (container lists) in memory.

use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

const MIGRATIONS: &[&str] = &[
    // 0 → 1: the initial graph.
    "CREATE TABLE layers (
        id TEXT PRIMARY KEY,            -- chain ID, 64 hex, as the storage driver names it
        parent TEXT REFERENCES layers(id),
        diff_id TEXT NOT NULL,          -- sha256:<hex> of the uncompressed tar
        size INTEGER NOT NULL,
        created INTEGER NOT NULL
     );
     CREATE TABLE images (
        id TEXT PRIMARY KEY,            -- sha256:<hex> of config
        config BLOB NOT NULL,           -- the config document's exact bytes
        top_layer TEXT REFERENCES layers(id),
        size INTEGER NOT NULL,
        created INTEGER NOT NULL,       -- the config's creation time, ns
        loaded INTEGER NOT NULL,        -- when this daemon stored it, ns
        last_tag_time INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE tags (
        repo TEXT NOT NULL,             -- docker.io/library/busybox
        tag TEXT NOT NULL,
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (repo, tag)
     );
     CREATE INDEX tags_by_image ON tags(image_id);
     CREATE TABLE digests (
        repo TEXT NOT NULL,
        digest TEXT NOT NULL,           -- manifest digest
        image_id TEXT NOT NULL REFERENCES images(id),
        PRIMARY KEY (repo, digest)
     );
     CREATE INDEX digests_by_image ON digests(image_id);
     CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_id TEXT NOT NULL REFERENCES images(id),
        created INTEGER NOT NULL,
        spec TEXT NOT NULL,             -- engine-owned JSON
        state TEXT NOT NULL             -- engine-owned JSON
     );",
];

#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    pub id: String,
    pub parent: Option<String>,
    pub diff_id: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub id: String,
    pub config: Vec<u8>,
    pub top_layer: Option<String>,
    pub size: i64,
    pub created: i64,
    pub loaded: i64,
    pub last_tag_time: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub created: i64,
    pub spec: String,
    pub state: String,
}

/// What deleting an image removed: its tags and digests (as "repo:tag" / "repo@digest",
/// full repository names) and the layers no image uses any more (to delete from disk).
#[derive(Debug, Default, PartialEq)]
pub struct ImageDeletion {
    pub untagged: Vec<String>,
    pub layers: Vec<String>,
}

pub struct GraphDb {
    conn: Mutex<Connection>,
}

impl GraphDb {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<GraphDb> {
        let conn = Connection::open(path)
            .map_err(|e| Error::system(format!("open graph database {}: {e}", path.display())))?;
        GraphDb::setup(conn)
    }

    /// An in-memory database, for tests.
    #[cfg(test)]
    pub fn memory() -> Result<GraphDb> {
        GraphDb::setup(Connection::open_in_memory()?)
    }

    fn setup(mut conn: Connection) -> Result<GraphDb> {
        // WAL: readers never block the writer; NORMAL: a commit is durable once the WAL
        // is checkpointed, and the database is never corrupt after a crash or power loss.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version as usize > MIGRATIONS.len() {
            return Err(Error::system(format!(
                "graph database schema version {version} is newer than this berth ({}): \
                 refusing to open it",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(GraphDb { conn: Mutex::new(conn) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (the transaction
        // rolls back on drop), so a poisoned mutex is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.lock().query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    // ---- layers and images ----

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
            tx.execute(
                "INSERT OR IGNORE INTO layers (id, parent, diff_id, size, created)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![l.id, l.parent, l.diff_id, l.size, crate::util::time::now_nanos()],
            )?;
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
                    "SELECT id, parent, diff_id, size FROM layers WHERE id = ?1",
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
            tx.execute("DELETE FROM layers WHERE id = ?1", [&id])?;
            out.layers.push(id);
            next = parent;
        }
        tx.commit()?;
        Ok(out)
    }

    // ---- containers ----

    /// Inserts a container; a taken name is a Conflict naming the holder.
    pub fn insert_container(&self, c: &ContainerRow) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if let Some(holder) = tx
            .query_row("SELECT id FROM containers WHERE name = ?1", [&c.name], |r| r.get::<_, String>(0))
            .optional()?
        {
            return Err(name_conflict(&c.name, &holder));
        }
        tx.execute(
            "INSERT INTO containers (id, name, image_id, created, spec, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.id, c.name, c.image_id, c.created, c.spec, c.state],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn update_container_state(&self, id: &str, state: &str) -> Result<()> {
        let n = self
            .lock()
            .execute("UPDATE containers SET state = ?2 WHERE id = ?1", [id, state])?;
        if n == 0 {
            return Err(Error::not_found(format!("No such container: {id}")));
        }
        Ok(())
    }

    pub fn rename_container(&self, id: &str, name: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if let Some(holder) = tx
            .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| r.get::<_, String>(0))
            .optional()?
        {
            return Err(name_conflict(name, &holder));
        }
        tx.execute("UPDATE containers SET name = ?2 WHERE id = ?1", [id, name])?;
        tx.commit()?;
        Ok(())
    }

    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.lock().execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn containers(&self) -> Result<Vec<ContainerRow>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached(
            "SELECT id, name, image_id, created, spec, state FROM containers ORDER BY created",
        )?;
        let rows = st
            .query_map([], |r| {
                Ok(ContainerRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    image_id: r.get(2)?,
                    created: r.get(3)?,
                    spec: r.get(4)?,
                    state: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
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

/// Docker's wording, which scripts match on.
pub fn name_conflict(name: &str, holder: &str) -> Error {
    Error::conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". \
         You have to remove (or rename) that container to be able to reuse that name."
    ))
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
    Ok(LayerRow { id: r.get(0)?, parent: r.get(1)?, diff_id: r.get(2)?, size: r.get(3)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(id: &str, parent: Option<&str>) -> LayerRow {
        LayerRow { id: id.into(), parent: parent.map(Into::into), diff_id: format!("sha256:{id}"), size: 10 }
    }

    fn image(id: &str, top: Option<&str>) -> ImageRow {
        ImageRow {
            id: id.into(),
            config: b"{}".to_vec(),
            top_layer: top.map(Into::into),
            size: 10,
            created: 1,
            loaded: 2,
            last_tag_time: 0,
        }
    }

    fn tag(r: &str, t: &str) -> (String, String) {
        (r.to_string(), t.to_string())
    }

    #[test]
    fn migrates_to_the_latest_version() {
        let db = GraphDb::memory().unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn images_layers_and_shared_chains() {
        let db = GraphDb::memory().unwrap();
        db.insert_image(&image("sha256:ab01", Some("b")), &[layer("a", None), layer("b", Some("a"))],
            &[tag("docker.io/library/x", "latest")], &[]).unwrap();
        db.insert_image(&image("sha256:ab02", Some("c")), &[layer("a", None), layer("c", Some("a"))],
            &[tag("docker.io/library/y", "1")], &[]).unwrap();
        let ids: Vec<_> = db.image_layers("sha256:ab01").unwrap().into_iter().map(|l| l.id).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(db.lookup_tag("docker.io/library/x", "latest").unwrap().as_deref(), Some("sha256:ab01"));
        assert_eq!(db.images_by_prefix("ab", 5).unwrap(), ["sha256:ab01", "sha256:ab02"]);
        // Deleting i1 frees b but keeps a, which i2 still needs.
        let del = db.delete_image("sha256:ab01").unwrap();
        assert_eq!(del.layers, ["b"]);
        assert_eq!(del.untagged, ["docker.io/library/x:latest"]);
        let del = db.delete_image("sha256:ab02").unwrap();
        assert_eq!(del.layers, ["c", "a"]);
        assert!(db.all_layer_ids().unwrap().is_empty());
    }

    #[test]
    fn tags_move_between_images() {
        let db = GraphDb::memory().unwrap();
        db.insert_image(&image("sha256:ab01", None), &[], &[tag("r", "t")], &[]).unwrap();
        db.insert_image(&image("sha256:ab02", None), &[], &[tag("r", "t")], &[]).unwrap();
        assert_eq!(db.lookup_tag("r", "t").unwrap().as_deref(), Some("sha256:ab02"));
        assert!(db.tags(Some("sha256:ab01")).unwrap().is_empty());
        assert!(db.remove_tag("r", "t").unwrap());
        assert!(!db.remove_tag("r", "t").unwrap());
    }

    #[test]
    fn container_names_are_unique_and_images_in_use_stay() {
        let db = GraphDb::memory().unwrap();
        db.insert_image(&image("sha256:ab01", None), &[], &[], &[]).unwrap();
        let c = ContainerRow {
            id: "c1".into(),
            name: "web".into(),
            image_id: "sha256:ab01".into(),
            created: 1,
            spec: "{}".into(),
            state: "{}".into(),
        };
        db.insert_container(&c).unwrap();
        let e = db.insert_container(&ContainerRow { id: "c2".into(), ..c.clone() }).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Conflict);
        assert!(e.message.contains("\"/web\" is already in use by container \"c1\""));
        assert_eq!(db.delete_image("sha256:ab01").unwrap_err().kind, crate::error::Kind::Conflict);
        db.update_container_state("c1", "{\"x\":1}").unwrap();
        assert_eq!(db.containers().unwrap()[0].state, "{\"x\":1}");
        db.delete_container("c1").unwrap();
        db.delete_image("sha256:ab01").unwrap();
    }
}
