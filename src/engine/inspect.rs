//! `ContainerList` (with Docker's `ps` filters) and `ContainerInspect`: read-only views of
//! the in-memory table, never touching SQLite.

use super::container::{Container, Status};
use super::{Engine, Job};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct ContainerList {
    pub all: bool,
    /// Only the newest N (0 = no limit; implies all).
    pub limit: usize,
    /// Docker's filters: key → accepted values.
    pub filters: BTreeMap<String, Vec<String>>,
}

impl Job for ContainerList {
    type Output = Vec<Container>;
    const NAME: &'static str = "ContainerList";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        String::new()
    }

    fn run(self, e: &Engine) -> Result<Vec<Container>> {
        for key in self.filters.keys() {
            if !matches!(key.as_str(), "id" | "name" | "label" | "status" | "exited" | "ancestor" | "network" | "publish" | "expose") {
                return Err(Error::invalid(format!("invalid filter '{key}'")));
            }
        }
        for key in ["publish", "expose"] {
            for v in self.filters.get(key).into_iter().flatten() {
                port_filter(v).ok_or_else(|| Error::invalid(format!("invalid filter '{key}={v}'")))?;
            }
        }
        for s in self.filters.get("status").into_iter().flatten() {
            if Status::parse(s).is_none() {
                return Err(Error::invalid(format!(
                    "invalid filter 'status={s}': must be one of created, restarting, running, removing, paused, exited, dead"
                )));
            }
        }
        let ancestors: Vec<String> = self
            .filters
            .get("ancestor")
            .into_iter()
            .flatten()
            .filter_map(|a| e.resolve_image_id(a).ok())
            .collect();
        let mut out: Vec<Container> = e
            .all()
            .into_iter()
            .map(|c| c.snapshot())
            .filter(|c| {
                let status_filter = self.filters.contains_key("status") || self.filters.contains_key("exited");
                (self.all || self.limit > 0 || status_filter || c.running())
                    && self.matches(c, &ancestors)
            })
            .collect();
        out.reverse(); // newest first, as docker ps
        if self.limit > 0 {
            out.truncate(self.limit);
        }
        Ok(out)
    }
}

impl ContainerList {
    fn matches(&self, c: &Container, ancestors: &[String]) -> bool {
        let any = |key: &str, f: &dyn Fn(&str) -> bool| match self.filters.get(key) {
            None => true,
            Some(vals) => vals.iter().any(|v| f(v)),
        };
        any("id", &|v| c.id.starts_with(v))
            && any("name", &|v| c.name.contains(v.trim_start_matches('/')))
            && self.filters.get("label").is_none_or(|vals| {
                vals.iter().all(|v| match v.split_once('=') {
                    Some((k, val)) => c.spec.labels.get(k).is_some_and(|x| x == val),
                    None => c.spec.labels.contains_key(v.as_str()),
                })
            })
            && any("status", &|v| c.state.status.name() == v)
            && any("exited", &|v| {
                c.state.status == Status::Exited && v.parse::<i32>().ok() == Some(c.state.exit_code)
            })
            && (!self.filters.contains_key("ancestor") || ancestors.contains(&c.image_id))
            && any("network", &|v| {
                c.spec.host.network_mode == v
                    || c.spec.networks.iter().any(|(name, s)| name == v || (!s.network_id.is_empty() && s.network_id.starts_with(v)))
            })
            && any("publish", &|v| has_port(c.spec.host.port_bindings.keys(), v))
            && any("expose", &|v| has_port(c.spec.exposed_ports.iter(), v))
    }
}

/// A `publish=` / `expose=` filter value: PORT[-PORT][/PROTO] (tcp by default), as
/// (first, last, proto).
fn port_filter(v: &str) -> Option<(u16, u16, String)> {
    let (ports, proto) = v.split_once('/').unwrap_or((v, "tcp"));
    let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
    let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
    (a <= b && matches!(proto, "tcp" | "udp" | "sctp")).then(|| (a, b, proto.to_string()))
}

/// Whether any container port ("80/tcp", or "80" for tcp) falls in the filter's range.
fn has_port<'a>(mut keys: impl Iterator<Item = &'a String>, filter: &str) -> bool {
    let Some((lo, hi, proto)) = port_filter(filter) else { return false };
    keys.any(|k| {
        let (port, p) = k.split_once('/').unwrap_or((k, "tcp"));
        p == proto && port.parse::<u16>().is_ok_and(|n| (lo..=hi).contains(&n))
    })
}

/// A container with what inspect shows beyond its own record.
pub struct ContainerDetails {
    pub container: Container,
    /// Bytes in the container's own layer (asked for with `size`).
    pub size_rw: Option<u64>,
    pub driver: &'static str,
    pub graph_data: Vec<(String, String)>,
    pub log_path: PathBuf,
    pub dir: PathBuf,
}

pub struct ContainerInspect {
    pub id: String,
    /// Also measure the container's read-write layer (walks it: costs time).
    pub size: bool,
}

impl Job for ContainerInspect {
    type Output = ContainerDetails;
    const NAME: &'static str = "ContainerInspect";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        self.id.clone()
    }

    fn run(self, e: &Engine) -> Result<ContainerDetails> {
        let container = e.lookup(&self.id)?.snapshot();
        let layers: Vec<String> = e
            .db
            .image_layers(&container.image_id)
            .map(|ls| ls.into_iter().map(|l| l.id).collect())
            .unwrap_or_default();
        let size_rw = if self.size { e.storage.rw_size(&container.id).ok() } else { None };
        Ok(ContainerDetails {
            size_rw,
            graph_data: e.storage.graph_data(&container.id, &layers),
            driver: e.storage.name(),
            log_path: e.log_path(&container.id),
            dir: e.container_dir(&container.id),
            container,
        })
    }
}

/// `ContainerRename`: a new unique name, in the GraphDB and the table together.
pub struct ContainerRename {
    pub id: String,
    pub name: String,
}

impl Job for ContainerRename {
    type Output = ();
    const NAME: &'static str = "ContainerRename";

    fn target(&self) -> String {
        format!("{} -> {}", self.id, self.name)
    }

    fn run(self, e: &Engine) -> Result<()> {
        let name = super::names::validate(&self.name)?;
        let ctr = e.lookup(&self.id)?;
        let old = ctr.lock().0.name.clone();
        if old == name {
            return Err(Error::invalid("Renaming a container with the same name as its current name"));
        }
        e.rename(&ctr, &old, &name)?;
        // Containers on its networks find it by the new name.
        e.rename_in_hosts(&ctr.id, &name);
        Ok(())
    }
}
