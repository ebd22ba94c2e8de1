//! `berth daemon`: parses the daemon's flags, builds the engine (GraphDB, storage driver,
//! exec driver), restores containers that outlived the previous daemon, and serves the API
//! until SIGTERM or SIGINT. Running containers keep running when the daemon stops: their
//! monitors are separate processes in their own sessions.

use crate::api;
use crate::engine::{Config, Engine};
use crate::error::{Context, Error, Result};
use argh::FromArgs;
use nix::sys::signal::{SigSet, Signal};
use std::path::{Path, PathBuf};

#[derive(FromArgs, Debug)]
/// Run the berth daemon: serve the Docker Engine API and manage containers and images.
pub struct DaemonArgs {
    /// socket to listen on, repeatable: unix:///path, tcp://127.0.0.1:PORT (loopback only),
    /// fd:// (systemd socket activation) (default unix:///run/berth.sock)
    #[argh(option, short = 'H')]
    pub host: Vec<String>,
    /// directory for images, containers and the graph database (default /var/lib/berth)
    #[argh(option, default = "PathBuf::from(\"/var/lib/berth\")")]
    pub data_root: PathBuf,
    /// directory for runtime state: monitor sockets, pid and exit records (default /run/berth)
    #[argh(option, default = "PathBuf::from(\"/run/berth\")")]
    pub exec_root: PathBuf,
    /// storage driver: overlay or vfs (default: $BERTH_DRIVER, else overlay where it works)
    #[argh(option, short = 's')]
    pub storage_driver: Option<String>,
    /// cgroup (relative to each hierarchy's root) under which containers' cgroups are made
    /// (default berth)
    #[argh(option, default = "String::from(\"berth\")")]
    pub cgroup_parent: String,
    /// file to write the daemon's PID to
    #[argh(option, short = 'p')]
    pub pidfile: Option<PathBuf>,
    /// group that owns unix sockets (mode 0660) (default berth, if it exists)
    #[argh(option, short = 'G', default = "String::from(\"berth\")")]
    pub group: String,
    /// registry reachable over plain HTTP (loopback registries always are), repeatable
    #[argh(option)]
    pub insecure_registry: Vec<String>,
    /// layers one pull downloads at once (default 3)
    #[argh(option, default = "3")]
    pub max_concurrent_downloads: usize,
    /// the Linux bridge of the default `bridge` network, or "none" for no default network
    /// (default berth0)
    #[argh(option, short = 'b', default = "String::from(\"berth0\")")]
    pub bridge: String,
    /// address and prefix of the default bridge, e.g. 172.17.0.1/16 (default: the first free
    /// subnet of the address pools)
    #[argh(option)]
    pub bip: Option<String>,
    /// subnets for networks without --subnet, as base=CIDR,size=PREFIX, repeatable (default
    /// 172.17.0.0/16 to 172.31.0.0/16, then base=192.168.0.0/16,size=20)
    #[argh(option)]
    pub default_address_pool: Vec<String>,
    /// nf_tables table holding this daemon's NAT and filter rules (default berth)
    #[argh(option, default = "String::from(\"berth\")")]
    pub nft_table: String,
    /// forward published ports with the userland proxy instead of nf_tables
    #[argh(switch)]
    pub userland_proxy_only: bool,
    /// let containers on the default bridge talk to each other: true or false (default true)
    #[argh(option, default = "true")]
    pub icc: bool,
    /// enable IPv4 forwarding when a bridge is set up: true or false (default true)
    #[argh(option, default = "true")]
    pub ip_forward: bool,
    /// mtu of bridges and container interfaces (default: the kernel's, 1500)
    #[argh(option, default = "0")]
    pub mtu: u32,
    /// the address of `--add-host NAME:host-gateway` (default: the default bridge's gateway)
    #[argh(option)]
    pub host_gateway_ip: Option<String>,
    /// log level: debug, info, warn or error (default info)
    #[argh(option, short = 'l', default = "String::from(\"info\")")]
    pub log_level: String,
    /// shorthand for --log-level debug
    #[argh(switch, short = 'D')]
    pub debug: bool,
}

fn network_config(flags: &DaemonArgs) -> Result<crate::engine::NetConfig> {
    use crate::driver::network::ipam;
    let mut pools = Vec::new();
    for p in &flags.default_address_pool {
        pools.push(ipam::Pool::parse(p)?);
    }
    if pools.is_empty() {
        pools = ipam::default_pools();
    }
    if let Some(bip) = &flags.bip {
        ipam::Subnet::parse_host(bip)?;
    }
    if flags.bridge != "none" {
        crate::sys::rtnetlink::check_name(&flags.bridge)?;
    }
    let host_gateway_ip = match &flags.host_gateway_ip {
        Some(ip) => Some(ip.parse().map_err(|_| crate::error::Error::invalid(format!("invalid --host-gateway-ip {ip:?}: not an IPv4 address")))?),
        None => None,
    };
    Ok(crate::engine::NetConfig {
        bridge: flags.bridge.clone(),
        bip: flags.bip.clone(),
        nft_table: flags.nft_table.clone(),
        userland_proxy_only: flags.userland_proxy_only,
        icc: flags.icc,
        ip_forward: flags.ip_forward,
        address_pools: pools,
        mtu: flags.mtu,
        host_gateway_ip,
    })
}

pub fn main(args: &[String]) -> i32 {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let expanded = crate::cli::args::expand_equals(&argv);
    let expanded: Vec<&str> = expanded.iter().map(String::as_str).collect();
    let flags = match DaemonArgs::from_args(&["berth daemon"], &expanded) {
        Ok(f) => f,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    print!("{}", early.output);
                    0
                }
                Err(()) => {
                    eprint!("{}", early.output);
                    2
                }
            }
        }
    };
    match run(flags) {
        Ok(()) => 0,
        Err(e) => {
            log_error!("{}", e.message);
            eprintln!("berth daemon: {}", e.message);
            1
        }
    }
}

fn run(flags: DaemonArgs) -> Result<()> {
    let level = if flags.debug { Some(crate::util::log::Level::Debug) } else { crate::util::log::parse_level(&flags.log_level) };
    crate::util::log::set_level(level.ok_or_else(|| Error::invalid(format!("invalid log level {:?}", flags.log_level)))?);
    // Block the stop signals before any thread exists, so every thread inherits the mask
    // and only the signal thread (sigwait) ever sees them.
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    stop.thread_block().ctx(|| "block signals")?;

    // Layer trees and container files get exactly the modes the images and Docker give
    // them: directories a tarball implies are 0755, not shaped by the caller's umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let hosts = if flags.host.is_empty() { vec!["unix:///run/berth.sock".to_string()] } else { flags.host.clone() };
    std::fs::create_dir_all(&flags.exec_root).ctx(|| format!("create exec root {}", flags.exec_root.display()))?;
    std::fs::create_dir_all(&flags.data_root).ctx(|| format!("create data root {}", flags.data_root.display()))?;
    let _lock = lock_data_root(&flags.data_root)?;
    if let Some(p) = &flags.pidfile {
        write_pidfile(p)?;
    }
    let engine = Engine::new(Config {
        data_root: flags.data_root.clone(),
        exec_root: flags.exec_root.clone(),
        cgroup_parent: flags.cgroup_parent.clone(),
        storage_driver: flags.storage_driver.clone(),
        insecure_registries: flags.insecure_registry.clone(),
        max_concurrent_downloads: flags.max_concurrent_downloads.max(1),
        network: network_config(&flags)?,
    })?;
    engine.restore()?;
    let mut listeners = Vec::new();
    let mut socket_files = Vec::new();
    for h in &hosts {
        listeners.extend(api::listen::listen(h, Some(&flags.group))?);
        if let Some(path) = h.strip_prefix("unix://") {
            socket_files.push(PathBuf::from(path));
        }
    }
    let server = api::http::Server::new(listeners, api::http::Limits::default(), api::handler(engine.clone()));
    let shutdown = server.shutdown_handle();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = stop.wait() {
                log_info!("received {sig:?}: shutting down (containers keep running)");
            }
            shutdown.shutdown();
        })
        .ctx(|| "start signal thread")?;
    log_info!(
        "berth {} serving on {} (storage driver {}, data root {})",
        crate::version::VERSION,
        hosts.join(", "),
        engine.storage.name(),
        flags.data_root.display()
    );
    server.run();
    for f in socket_files {
        let _ = std::fs::remove_file(f);
    }
    if let Some(p) = &flags.pidfile {
        let _ = std::fs::remove_file(p);
    }
    let _ = crate::sys::cgroup::remove_parent(&flags.cgroup_parent);
    log_info!("stopped");
    Ok(())
}

/// Two daemons on one data root would corrupt each other's view: an exclusive lock on
/// `<data-root>/berth.lock`, held for the daemon's life (released by the kernel on exit).
fn lock_data_root(root: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    use nix::fcntl::{Flock, FlockArg};
    let path = root.join("berth.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx(|| format!("open {}", path.display()))?;
    match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, _)) => Err(Error::conflict(format!(
            "another berth daemon is using data root {}",
            root.display()
        ))),
    }
}

/// Writes our PID, refusing when the file names a live process (another daemon).
fn write_pidfile(p: &Path) -> Result<()> {
    if let Ok(old) = std::fs::read_to_string(p) {
        if let Ok(pid) = old.trim().parse::<i32>() {
            if pid > 0 && Path::new(&format!("/proc/{pid}")).exists() && pid != std::process::id() as i32 {
                return Err(Error::conflict(format!(
                    "pid file found, ensure berth is not running or delete {}",
                    p.display()
                )));
            }
        }
    }
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
    }
    std::fs::write(p, format!("{}\n", std::process::id())).ctx(|| format!("write pid file {}", p.display()))
}
