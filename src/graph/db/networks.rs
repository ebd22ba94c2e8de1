//! Networks and the addresses handed out on them (IPAM) in the GraphDB. The engine owns
//! what a network spec means; this file keeps rows and makes address allocation atomic.

use super::{GraphDb, NetworkRow};
use crate::error::{Error, Result};
use rusqlite::{params, OptionalExtension};
use std::collections::HashSet;
use std::net::Ipv4Addr;

impl GraphDb {
    /// Inserts a network; a taken name is a Conflict in Docker's words.
    pub fn insert_network(&self, n: &NetworkRow) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let taken: Option<String> =
            tx.query_row("SELECT id FROM networks WHERE name = ?1", [&n.name], |r| r.get(0)).optional()?;
        if taken.is_some() {
            return Err(Error::conflict(format!("network with name {} already exists", n.name)));
        }
        tx.execute(
            "INSERT INTO networks (id, name, created, spec) VALUES (?1, ?2, ?3, ?4)",
            params![n.id, n.name, n.created, n.spec],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn update_network_spec(&self, id: &str, spec: &str) -> Result<()> {
        self.lock().execute("UPDATE networks SET spec = ?2 WHERE id = ?1", [id, spec])?;
        Ok(())
    }

    /// Deletes a network with its address rows.
    pub fn delete_network(&self, id: &str) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM endpoints WHERE network_id = ?1", [id])?;
        tx.execute("DELETE FROM networks WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    pub fn networks(&self) -> Result<Vec<NetworkRow>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached("SELECT id, name, created, spec FROM networks ORDER BY created")?;
        let rows = st
            .query_map([], |r| Ok(NetworkRow { id: r.get(0)?, name: r.get(1)?, created: r.get(2)?, spec: r.get(3)? }))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Hands `container_id` an address on `network_id` in one transaction: `wanted` when
    /// given (Conflict if taken), else the first address `pick` chooses among those not in
    /// use. A container that already holds an address on the network keeps it.
    pub fn allocate_ip(
        &self,
        network_id: &str,
        container_id: &str,
        wanted: Option<Ipv4Addr>,
        pick: &dyn Fn(&HashSet<Ipv4Addr>) -> Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let held: Option<String> = tx
            .query_row(
                "SELECT ip FROM endpoints WHERE network_id = ?1 AND container_id = ?2",
                [network_id, container_id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(ip) = held.and_then(|s| s.parse::<Ipv4Addr>().ok()) {
            if wanted.is_none() || wanted == Some(ip) {
                return Ok(ip);
            }
            tx.execute("DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2", [network_id, container_id])?;
        }
        let used: HashSet<Ipv4Addr> = {
            let mut st = tx.prepare_cached("SELECT ip FROM endpoints WHERE network_id = ?1")?;
            let rows = st.query_map([network_id], |r| r.get::<_, String>(0))?;
            rows.filter_map(|r| r.ok().and_then(|s| s.parse().ok())).collect()
        };
        let ip = match wanted {
            Some(ip) if used.contains(&ip) => {
                return Err(Error::conflict(format!("Address already in use: {ip}")));
            }
            Some(ip) => ip,
            None => pick(&used).ok_or_else(|| {
                Error::system(format!("no available IPv4 addresses on network {}", crate::util::id::short(network_id)))
            })?,
        };
        tx.execute(
            "INSERT INTO endpoints (network_id, container_id, ip) VALUES (?1, ?2, ?3)",
            params![network_id, container_id, ip.to_string()],
        )?;
        tx.commit()?;
        Ok(ip)
    }

    /// Gives back `container_id`'s address on `network_id` (none held is fine).
    pub fn release_ip(&self, network_id: &str, container_id: &str) -> Result<()> {
        self.lock()
            .execute("DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2", [network_id, container_id])?;
        Ok(())
    }

    /// Every (network, container, address) row.
    pub fn allocations(&self) -> Result<Vec<(String, String, Ipv4Addr)>> {
        let conn = self.lock();
        let mut st = conn.prepare_cached("SELECT network_id, container_id, ip FROM endpoints")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().filter_map(|(n, c, ip)| ip.parse().ok().map(|ip| (n, c, ip))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, name: &str) -> NetworkRow {
        NetworkRow { id: id.into(), name: name.into(), created: 1, spec: "{}".into() }
    }

    fn lowest(base: u32) -> impl Fn(&HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
        move |used| (base..base + 4).map(Ipv4Addr::from).find(|ip| !used.contains(ip))
    }

    #[test]
    fn names_are_unique() {
        let db = GraphDb::memory().unwrap();
        db.insert_network(&net("a", "app")).unwrap();
        let e = db.insert_network(&net("b", "app")).unwrap_err();
        assert_eq!(e.message, "network with name app already exists");
        assert_eq!(db.networks().unwrap().len(), 1);
        db.delete_network("a").unwrap();
        assert!(db.networks().unwrap().is_empty());
    }

    #[test]
    fn addresses_are_handed_out_once_and_given_back() {
        let db = GraphDb::memory().unwrap();
        db.insert_network(&net("n", "app")).unwrap();
        let base = u32::from(Ipv4Addr::new(10, 0, 0, 2));
        let a = db.allocate_ip("n", "c1", None, &lowest(base)).unwrap();
        let b = db.allocate_ip("n", "c2", None, &lowest(base)).unwrap();
        assert_eq!((a, b), (Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)));
        // Asking again keeps the address held.
        assert_eq!(db.allocate_ip("n", "c1", None, &lowest(base)).unwrap(), a);
        // A wanted address that is taken is a conflict.
        let e = db.allocate_ip("n", "c3", Some(b), &lowest(base)).unwrap_err();
        assert_eq!(e.message, "Address already in use: 10.0.0.3");
        db.release_ip("n", "c1").unwrap();
        assert_eq!(db.allocate_ip("n", "c3", None, &lowest(base)).unwrap(), a);
        // Exhaustion.
        db.allocate_ip("n", "c4", None, &lowest(base)).unwrap();
        db.allocate_ip("n", "c5", None, &lowest(base)).unwrap();
        assert!(db.allocate_ip("n", "c6", None, &lowest(base)).is_err());
        assert_eq!(db.allocations().unwrap().len(), 4);
    }

    #[test]
    fn concurrent_allocations_never_share_an_address() {
        let db = std::sync::Arc::new(GraphDb::memory().unwrap());
        db.insert_network(&net("n", "app")).unwrap();
        let base = u32::from(Ipv4Addr::new(10, 0, 0, 2));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let pick = move |used: &HashSet<Ipv4Addr>| (base..base + 100).map(Ipv4Addr::from).find(|ip| !used.contains(ip));
                    (0..10).map(|j| db.allocate_ip("n", &format!("c{i}-{j}"), None, &pick).unwrap()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<Ipv4Addr> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort();
        let n = all.len();
        all.dedup();
        assert_eq!(all.len(), n, "an address was handed out twice");
    }
}
