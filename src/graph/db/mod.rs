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
use rusqlite::Connection;
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
    // 1 → 2: registry images. Each layer keeps the blob it came as (compressed, byte for
    // byte) so push and save reproduce it exactly; blob_sources remembers where a blob is
    // known to exist, for cross-repository mounts.
    "CREATE TABLE blobs (
        digest TEXT PRIMARY KEY,        -- sha256:<hex> of blobs/sha256/<hex>
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL
     );
     ALTER TABLE layers ADD COLUMN blob TEXT REFERENCES blobs(digest);
     ALTER TABLE layers ADD COLUMN diff_size INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE blob_sources (
        digest TEXT NOT NULL,
        repository TEXT NOT NULL,       -- full name: docker.io/library/busybox
        PRIMARY KEY (digest, repository)
     );",
    // 2 → 3: networks. A row in `endpoints` is an IP address handed to a container on a
    // network (IPAM): the UNIQUE constraint is what guarantees that two concurrent starts
    // never get the same address. Rows exist while the container runs.
    "CREATE TABLE networks (
        id TEXT PRIMARY KEY,            -- 64 hex
        name TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL,
        spec TEXT NOT NULL              -- engine-owned JSON
     );
     CREATE TABLE endpoints (
        network_id TEXT NOT NULL REFERENCES networks(id),
        container_id TEXT NOT NULL,
        ip TEXT NOT NULL,               -- dotted IPv4
        PRIMARY KEY (network_id, container_id),
        UNIQUE (network_id, ip)
     );
     CREATE INDEX endpoints_by_container ON endpoints(container_id);",
];

#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    pub id: String,
    pub parent: Option<String>,
    pub diff_id: String,
    /// Bytes in the layer's tree on disk.
    pub size: i64,
    /// The blob the layer was made from, if kept.
    pub blob: Option<String>,
    /// Bytes of the uncompressed layer tar.
    pub diff_size: i64,
}

/// A stored blob (a layer as a registry or an archive gave it).
#[derive(Debug, Clone, PartialEq)]
pub struct BlobRow {
    pub digest: String,
    pub media_type: String,
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
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub spec: String,
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
    /// Blobs no remaining layer is made from.
    pub blobs: Vec<String>,
}

mod containers;
mod images;
mod networks;
pub use containers::name_conflict;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(id: &str, parent: Option<&str>) -> LayerRow {
        LayerRow { id: id.into(), parent: parent.map(Into::into), diff_id: format!("sha256:{id}"), size: 10, blob: None, diff_size: 10 }
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
