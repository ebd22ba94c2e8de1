//! The engine: berth's core. Every operation is a typed job (`ContainerCreate`,
//! `ContainerStart`, `ImageImport`, ...) run by `Engine::run`, which logs it with its
//! duration and outcome. Jobs use the GraphDB, the storage driver and the exec driver; they
//! never see HTTP (the API builds jobs from requests) and never make syscalls themselves.
//!
//! Containers are held in memory (`Table`) and written through to the GraphDB on every state
//! change, so lists and inspects never touch SQLite.
//!
//! Lock order: `Engine::table` before any `Ctr::data`; `members` before `networks`
//! (hosts.rs); no lock is held across a blocking
//! wait (waiting is done with `Ctr::changed`, which releases `data`).

pub mod attach;
pub mod connect;
pub mod container;
pub mod create;
pub mod history;
pub mod hosts;
pub mod images;
pub mod inspect;
pub mod layers;
pub mod load;
pub mod login;
pub mod import;
pub mod logs;
pub mod names;
pub mod network;
pub mod progress;
pub mod prune;
pub mod pull;
pub mod push;
pub mod remove;
pub mod restore;
pub mod save;
pub mod start;
pub mod stop;
pub mod system;
#[cfg(test)]
mod tests;
pub mod wait;

use crate::driver::exec::{AttachStream, ExecDriver};
use crate::driver::network::NetworkDriver;
use crate::driver::storage::StorageDriver;
use crate::error::{Error, Result};
use crate::graph::blobs::BlobStore;
pub use crate::registry::Credentials;
use crate::graph::db::{ContainerRow, GraphDb};
use container::{Container, ContainerSpec, State};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

/// Where the engine keeps things; every host-global name comes from here (daemon flags).
#[derive(Debug, Clone)]
pub struct Config {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub cgroup_parent: String,
    pub storage_driver: Option<String>,
    /// Registries reachable over plain HTTP besides loopback ones.
    pub insecure_registries: Vec<String>,
    /// Layers one pull downloads at once.
    pub max_concurrent_downloads: usize,
    pub network: NetConfig,
}

/// The daemon's network flags.
#[derive(Debug, Clone, Default)]
pub struct NetConfig {
    /// Linux bridge of the `bridge` network (`--bridge`); "" or "none": no such network.
    pub bridge: String,
    /// `--bip`: the default bridge's address and prefix ("172.17.0.1/16").
    pub bip: Option<String>,
    /// nf_tables table of this daemon (`--nft-table`); "": no firewall (unit tests).
    pub nft_table: String,
    pub userland_proxy_only: bool,
    /// Containers on the default bridge may talk to each other (`--icc`).
    pub icc: bool,
    pub ip_forward: bool,
    /// Where networks without `--subnet` (and the default bridge without `--bip`) take
    /// their subnets (`--default-address-pool`).
    pub address_pools: Vec<crate::driver::network::ipam::Pool>,
    /// MTU of bridges and container interfaces (`--mtu`); 0: the kernel's default.
    pub mtu: u32,
    /// The address `--add-host NAME:host-gateway` stands for (`--host-gateway-ip`); None:
    /// the default bridge's gateway.
    pub host_gateway_ip: Option<std::net::Ipv4Addr>,
}

/// One operation of the engine.
pub trait Job {
    type Output;
    /// The job's name in the log, like the API's verbs ("ContainerStart").
    const NAME: &'static str;
    /// Jobs that only read are logged at debug level, the others at info.
    const READ_ONLY: bool = false;
    /// The object acted on, for the log.
    fn target(&self) -> String;
    fn run(self, engine: &Engine) -> Result<Self::Output>;
}

/// What the engine has attached to a container beyond its stored state.
#[derive(Default)]
pub struct Runtime {
    /// A start or removal is under way (the other operations wait or refuse).
    pub busy: Option<Busy>,
    /// Exits seen by this daemon (the `next-exit` wait condition counts them).
    pub exits: u64,
    /// The container is gone (the `removed` wait condition).
    pub removed: bool,
    /// Attach streams waiting for the next start.
    pub pending_attach: Vec<AttachStream>,
    /// Attach requests between their answer (101, after which the client may start the
    /// container) and the registration of their stream: a start waits for them, or the
    /// first output would go to the log only (see attach::AttachIntent).
    pub attaching: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Starting,
    Removing,
}

/// A container in the table: its data under one mutex, and a condition variable signalled
/// on every change.
pub struct Ctr {
    pub id: String,
    /// Creation time (never changes): lists sort by it without locking every container.
    pub created: i64,
    data: Mutex<(Container, Runtime)>,
    changed: Condvar,
}

impl Ctr {
    fn new(c: Container) -> Arc<Ctr> {
        Arc::new(Ctr {
            id: c.id.clone(),
            created: c.created,
            data: Mutex::new((c, Runtime::default())),
            changed: Condvar::new(),
        })
    }

    /// Locks the container's data. A poisoned lock (a panicking job) still holds consistent
    /// data: jobs mutate it only in whole assignments.
    pub fn lock(&self) -> MutexGuard<'_, (Container, Runtime)> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> Container {
        self.lock().0.clone()
    }

    /// Waits for a change, at most `timeout`; returns the guard again.
    pub fn wait_change<'a>(
        &self,
        guard: MutexGuard<'a, (Container, Runtime)>,
        timeout: std::time::Duration,
    ) -> MutexGuard<'a, (Container, Runtime)> {
        match self.changed.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        }
    }

    pub fn notify(&self) {
        self.changed.notify_all();
    }
}

#[derive(Default)]
struct Table {
    by_id: BTreeMap<String, Arc<Ctr>>,
    /// name → id.
    names: HashMap<String, String>,
}

pub struct Engine {
    pub config: Config,
    pub db: GraphDb,
    pub blobs: BlobStore,
    pub storage: Box<dyn StorageDriver>,
    pub exec: ExecDriver,
    pub net: NetworkDriver,
    table: Mutex<Table>,
    /// Networks by ID.
    networks: Mutex<BTreeMap<String, network::Network>>,
    /// Running containers on user networks, for their hosts files (hosts.rs).
    members: Mutex<hosts::Members>,
    /// Network create and remove, one at a time: a new network's subnet and bridge name
    /// are chosen against the others, which must not change meanwhile. Taken before
    /// `members`.
    network_changes: Mutex<()>,
    /// The address each network handed out last (IPAM goes round, see ipam::next_free).
    last_ip: Mutex<HashMap<String, std::net::Ipv4Addr>>,
    /// The registry client, made on first use (loading the system's CA roots costs time
    /// and memory that a daemon which never pulls need not pay).
    registry: OnceLock<crate::registry::Client>,
    /// Layers being fetched right now, by chain ID: a second pull of the same layer waits
    /// for the first instead of downloading it again.
    flights: Mutex<HashMap<String, Arc<pull::Flight>>>,
    /// This engine, for jobs that leave threads behind (exit watchers).
    me: Weak<Engine>,
}

impl Engine {
    /// Opens the GraphDB and drivers under the configured roots. Call `restore` next.
    pub fn new(config: Config) -> Result<Arc<Engine>> {
        use crate::error::Context;
        std::fs::create_dir_all(&config.data_root)
            .ctx(|| format!("create data root {}", config.data_root.display()))?;
        std::fs::create_dir_all(config.data_root.join("containers"))
            .ctx(|| "create containers dir")?;
        let storage = crate::driver::storage::choose(config.storage_driver.as_deref(), &config.data_root)?;
        let db = GraphDb::open(&config.data_root.join("berth.db"))?;
        let blobs = BlobStore::new(&config.data_root.join("blobs"))?;
        let exec = ExecDriver::new(&config.exec_root)?;
        let net = NetworkDriver::new(crate::driver::network::Options {
            table: config.network.nft_table.clone(),
            userland_proxy_only: config.network.userland_proxy_only,
            ip_forward: config.network.ip_forward,
        });
        Ok(Arc::new_cyclic(|me| Engine {
            config,
            db,
            blobs,
            storage,
            exec,
            net,
            table: Mutex::new(Table::default()),
            networks: Mutex::new(BTreeMap::new()),
            members: Mutex::new(hosts::Members::default()),
            network_changes: Mutex::new(()),
            last_ip: Mutex::new(HashMap::new()),
            registry: OnceLock::new(),
            flights: Mutex::new(HashMap::new()),
            me: me.clone(),
        }))
    }

    /// The registry client.
    pub fn registry(&self) -> Result<&crate::registry::Client> {
        if let Some(c) = self.registry.get() {
            return Ok(c);
        }
        let options = crate::registry::Options {
            insecure: self.config.insecure_registries.clone(),
            ..crate::registry::Options::default()
        };
        let client = crate::registry::Client::new(options)?;
        Ok(self.registry.get_or_init(|| client))
    }

    /// Runs a job, logging its name, target, duration and outcome.
    pub fn run<J: Job>(&self, job: J) -> Result<J::Output> {
        let target = job.target();
        let t0 = Instant::now();
        let result = job.run(self);
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(_) if J::READ_ONLY => log_debug!("job {} {target}: ok in {ms:.2}ms", J::NAME),
            Ok(_) => log_info!("job {} {target}: ok in {ms:.2}ms", J::NAME),
            Err(e) if e.kind == crate::error::Kind::NotModified => {
                log_info!("job {} {target}: not modified in {ms:.2}ms", J::NAME)
            }
            Err(e) => log_info!("job {} {target}: failed in {ms:.2}ms: {}", J::NAME, e.message),
        }
        result
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finds a container by full ID, name (with or without '/'), or unique ID prefix.
    pub fn lookup(&self, reference: &str) -> Result<Arc<Ctr>> {
        let t = self.table();
        let name = reference.strip_prefix('/').unwrap_or(reference);
        if let Some(c) = t.by_id.get(reference) {
            return Ok(c.clone());
        }
        if let Some(id) = t.names.get(name) {
            if let Some(c) = t.by_id.get(id) {
                return Ok(c.clone());
            }
        }
        if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut hits = t.by_id.range(reference.to_string()..).take_while(|(k, _)| k.starts_with(reference));
            if let Some((_, c)) = hits.next() {
                if hits.next().is_some() {
                    return Err(Error::invalid(format!(
                        "multiple IDs found with provided prefix: {reference}"
                    )));
                }
                return Ok(c.clone());
            }
        }
        Err(no_such_container(reference))
    }

    /// All containers, oldest first.
    pub fn all(&self) -> Vec<Arc<Ctr>> {
        let mut v: Vec<Arc<Ctr>> = self.table().by_id.values().cloned().collect();
        v.sort_by_key(|c| c.created);
        v
    }

    /// Adds a container to the table (after its row is committed).
    fn insert(&self, c: Container) -> Arc<Ctr> {
        let ctr = Ctr::new(c);
        let mut t = self.table();
        let (id, name) = {
            let g = ctr.lock();
            (g.0.id.clone(), g.0.name.clone())
        };
        t.names.insert(name, id.clone());
        t.by_id.insert(id, ctr.clone());
        ctr
    }

    /// Drops a container from the table (after its row is deleted).
    fn forget(&self, ctr: &Ctr) {
        let mut t = self.table();
        let name = ctr.lock().0.name.clone();
        if t.names.get(&name) == Some(&ctr.id) {
            t.names.remove(&name);
        }
        t.by_id.remove(&ctr.id);
    }

    /// Renames in the GraphDB and the table under the table lock, so two renames (or a
    /// create) cannot take the same name.
    fn rename(&self, ctr: &Ctr, old: &str, new: &str) -> Result<()> {
        let mut t = self.table();
        if let Some(holder) = t.names.get(new) {
            return Err(crate::graph::db::name_conflict(new, holder));
        }
        self.db.rename_container(&ctr.id, new)?;
        t.names.remove(old);
        t.names.insert(new.to_string(), ctr.id.clone());
        ctr.lock().0.name = new.to_string();
        Ok(())
    }

    /// True if a name is taken in the table.
    /// Takes `name` for container `id` if no one holds it (the table's lock makes the
    /// check and the take one step).
    fn claim_name(&self, name: &str, id: &str) -> bool {
        let mut t = self.table();
        if t.names.contains_key(name) {
            return false;
        }
        t.names.insert(name.to_string(), id.to_string());
        true
    }

    /// Gives back a name `claim_name` took for `id` (a create that failed).
    fn release_name(&self, name: &str, id: &str) {
        let mut t = self.table();
        if t.names.get(name).is_some_and(|holder| holder == id) {
            t.names.remove(name);
        }
    }

    /// Writes a container's spec to the GraphDB (network connect and disconnect change it).
    fn persist_spec(&self, c: &Container) -> Result<()> {
        let spec = serde_json::to_string(&*c.spec).map_err(|e| Error::system(e.to_string()))?;
        self.db.update_container_spec(&c.id, &spec)
    }

    /// Writes a container's state to the GraphDB (one transaction).
    fn persist(&self, c: &Container) -> Result<()> {
        let state = serde_json::to_string(&c.state).map_err(|e| Error::system(e.to_string()))?;
        self.db.update_container_state(&c.id, &state)
    }

    fn row_of(c: &Container) -> Result<ContainerRow> {
        Ok(ContainerRow {
            id: c.id.clone(),
            name: c.name.clone(),
            image_id: c.image_id.clone(),
            created: c.created,
            spec: serde_json::to_string(&*c.spec).map_err(|e| Error::system(e.to_string()))?,
            state: serde_json::to_string(&c.state).map_err(|e| Error::system(e.to_string()))?,
        })
    }

    fn from_row(r: ContainerRow) -> Result<Container> {
        let spec: ContainerSpec = serde_json::from_str(&r.spec)
            .map_err(|e| Error::system(format!("container {}: bad spec in graph database: {e}", r.id)))?;
        let state: State = serde_json::from_str(&r.state)
            .map_err(|e| Error::system(format!("container {}: bad state in graph database: {e}", r.id)))?;
        Ok(Container { id: r.id, name: r.name, image_id: r.image_id, created: r.created, spec: spec.into(), state })
    }

    /// `<data-root>/containers/<id>`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.config.data_root.join("containers").join(id)
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(format!("{id}-json.log"))
    }
}

pub fn no_such_container(reference: &str) -> Error {
    Error::not_found(format!("No such container: {reference}"))
}

#[cfg(test)]
pub mod testing {
    //! An engine over a temp dir with the vfs driver, for unit tests of jobs that do not
    //! start containers.
    use super::*;
    use crate::testutil::TempDir;

    pub fn engine(t: &TempDir) -> Arc<Engine> {
        Engine::new(Config {
            data_root: t.path().join("data"),
            exec_root: t.path().join("exec"),
            cgroup_parent: format!("berth-test-{}", &crate::util::id::random_id()[..8]),
            storage_driver: Some("vfs".into()),
            insecure_registries: Vec::new(),
            max_concurrent_downloads: 3,
            // No bridge and no firewall: unit tests never touch the host's network.
            network: NetConfig::default(),
        })
        .expect("engine")
    }
}
