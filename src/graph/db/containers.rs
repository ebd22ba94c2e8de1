//! Containers and their names in the GraphDB.

use super::{ContainerRow, GraphDb};
use crate::error::{Error, Result};
use rusqlite::{params, OptionalExtension};

impl GraphDb {

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

    pub fn update_container_spec(&self, id: &str, spec: &str) -> Result<()> {
        let n = self.lock().execute("UPDATE containers SET spec = ?2 WHERE id = ?1", [id, spec])?;
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

/// Docker's wording, which scripts match on.
pub fn name_conflict(name: &str, holder: &str) -> Error {
    Error::conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". \
         You have to remove (or rename) that container to be able to reuse that name."
    ))
}
