//! `ContainerCreate`: resolve the image, merge its defaults into the user's settings, pick
//! the ID and name, lay out the container's directory and read-write layer, then commit
//! the row. The row comes last: a daemon killed earlier leaves only directories without a
//! row, which start-up garbage collection removes.

use super::container::{Container, ContainerSpec, State};
use super::{names, Engine, Job};
use crate::error::{Context, Error, Result};
use crate::graph::image::RunConfig;
use std::collections::BTreeMap;

pub struct ContainerCreate {
    /// `--name`, if given.
    pub name: Option<String>,
    /// The user's settings; empty fields take the image's defaults.
    pub spec: ContainerSpec,
}

pub struct Created {
    pub id: String,
    pub warnings: Vec<String>,
}

/// Docker's default PATH when neither the image nor the user sets one.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Job for ContainerCreate {
    type Output = Created;
    const NAME: &'static str = "ContainerCreate";

    fn target(&self) -> String {
        format!("{} (image {})", self.name.as_deref().unwrap_or("<generated>"), self.spec.image)
    }

    fn run(self, e: &Engine) -> Result<Created> {
        let name = match &self.name {
            Some(n) if !n.is_empty() => Some(names::validate(n)?),
            _ => None,
        };
        let mut user = self.spec;
        let mut warnings = Vec::new();
        let h = &user.host;
        if h.network_mode == super::network::HOST && (!h.port_bindings.is_empty() || h.publish_all_ports) {
            warnings.push("Published ports are discarded when using host network mode".to_string());
        }
        plan_networks(e, &mut user)?;
        crate::sys::caps::compute(&user.host.cap_add, &user.host.cap_drop)?;
        let (image_id, image) = e.resolve_image(&user.image)?;
        let mut spec = merge(user, &image.config);
        if spec.argv().is_empty() {
            return Err(Error::invalid("No command specified"));
        }
        let id = crate::util::id::random_id();
        if spec.hostname.is_empty() {
            spec.hostname = id[..12].to_string();
        }
        let layers: Vec<String> = e.db.image_layers(&image_id)?.into_iter().map(|l| l.id).collect();
        // The name is claimed at once, atomically: two creates at the same time must not
        // both pass a check and then have one fail at the database (generated names retry).
        let name = match name {
            Some(n) => {
                if !e.claim_name(&n, &id) {
                    let holder = e.lookup_exact_name(&n).unwrap_or_default();
                    return Err(crate::graph::db::name_conflict(&n, &holder));
                }
                n
            }
            None => names::generate(&|n| !e.claim_name(n, &id)),
        };
        let c = Container {
            id: id.clone(),
            name,
            image_id,
            created: crate::util::time::now_nanos(),
            spec: spec.into(),
            state: State::default(),
        };
        let dir = e.container_dir(&id);
        let undo = |e: &Engine| {
            let _ = e.storage.remove_rw(&id);
            let _ = std::fs::remove_dir_all(e.container_dir(&id));
            e.release_name(&c.name, &id);
        };
        let result = (|| -> Result<()> {
            std::fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
            write_etc_files(e, &c)?;
            std::fs::File::create(e.log_path(&id)).ctx(|| "create log file")?;
            e.storage.create_rw(&id, &layers)?;
            e.db.insert_container(&Engine::row_of(&c)?)
        })();
        if let Err(err) = result {
            undo(e);
            return Err(err);
        }
        e.insert(c);
        Ok(Created { id, warnings })
    }
}

impl Engine {
    /// The ID of the container holding exactly this name, if any.
    fn lookup_exact_name(&self, name: &str) -> Option<String> {
        self.table().names.get(name).cloned()
    }
}

/// Resolves the network mode into the networks the container joins at start: the
/// `bridge` network by default, a user-defined network by name, none for `none`, `host`
/// and `container:NAME` (whose container must exist). Endpoint settings the client sent
/// (aliases, `--ip`) are kept for the networks they name.
/// Docker's refusal of `--network-alias` on the default bridge.
pub const ALIAS_ON_DEFAULT: &str = "network-scoped alias is supported only for containers in user defined networks";

fn plan_networks(e: &Engine, spec: &mut ContainerSpec) -> Result<()> {
    let asked = std::mem::take(&mut spec.networks);
    let mode = spec.host.network_mode.clone();
    let bindings = !spec.host.port_bindings.is_empty() || spec.host.publish_all_ports;
    // (Networks and containers named here are looked up when the container starts, as
    // Docker does: a 404 from create would make the docker CLI pull the image and retry.)
    if super::connect::joined_container(&mode).is_some() {
        if bindings {
            return Err(Error::invalid("conflicting options: port publishing and the container type network mode"));
        }
        if !spec.hostname.is_empty() {
            return Err(Error::invalid("conflicting options: hostname and the network mode"));
        }
        // Docker's other refusals: the joined container's namespace, hosts and resolv.conf
        // are used as they are.
        let h = &spec.host;
        if !h.dns.is_empty() {
            return Err(Error::invalid("conflicting options: dns and the network mode"));
        }
        if !h.extra_hosts.is_empty() {
            return Err(Error::invalid("conflicting options: custom host-to-IP mapping and the network mode"));
        }
        if !spec.exposed_ports.is_empty() {
            return Err(Error::invalid("conflicting options: port exposing and the container type network mode"));
        }
        if !spec.mac_address.is_empty() {
            return Err(Error::invalid("conflicting options: mac-address and the network mode"));
        }
        return Ok(());
    }
    let first = match mode.as_str() {
        "" | "default" => super::network::BRIDGE,
        m => m,
    };
    let net = match e.lookup_network(first) {
        Ok(n) => n,
        // `--bridge none`: the default mode means no network at all, as with Docker.
        Err(_) if first == super::network::BRIDGE && asked.keys().all(|k| k == "default" || k == first) => {
            spec.host.port_bindings.clear();
            spec.host.publish_all_ports = false;
            return Ok(());
        }
        // Unknown: kept by name, for the start to resolve (or refuse with a 404).
        Err(e) if e.kind == crate::error::Kind::NotFound => {
            super::connect::port_requests(spec)?;
            spec.networks = asked.into_iter().map(|(k, v)| (if k == "default" { first.to_string() } else { k }, v)).collect();
            spec.networks.entry(first.to_string()).or_default();
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if !net.is_bridge() {
        // `host` and `none` (also named by ID): no interfaces to make; ports mean nothing.
        spec.host.port_bindings.clear();
        spec.host.publish_all_ports = false;
        return Ok(());
    }
    for (name, mut settings) in asked {
        // The docker CLI keys the mode's own network as "default" when none is named.
        let name = if name == "default" { first.to_string() } else { name };
        let Ok(n) = e.lookup_network(&name) else {
            spec.networks.insert(name, settings);
            continue;
        };
        if n.id != net.id && !n.is_bridge() {
            return Err(Error::invalid(format!("container cannot be connected to network {}", n.name)));
        }
        settings.network_id = n.id.clone();
        spec.networks.insert(n.name.clone(), settings);
    }
    // Bad bindings are refused now, not at the first start.
    super::connect::port_requests(spec)?;
    spec.networks.entry(net.name.clone()).or_default().network_id = net.id.clone();
    if net.spec.builtin && spec.networks.get(&net.name).is_some_and(|s| !s.aliases.is_empty()) {
        return Err(Error::invalid(ALIAS_ON_DEFAULT));
    }
    if !spec.mac_address.is_empty() {
        crate::driver::network::ipam::parse_mac(&spec.mac_address)?;
    }
    Ok(())
}

/// Fills what the user left empty from the image, with Docker's rules: an entrypoint given
/// by the user drops the image's cmd; env and labels are merged key by key, the user's
/// first.
fn merge(mut s: ContainerSpec, image: &RunConfig) -> ContainerSpec {
    let user_entrypoint = s.entrypoint.as_ref().is_some_and(|e| !e.is_empty());
    if !user_entrypoint {
        if s.cmd.as_ref().is_none_or(|c| c.is_empty()) {
            s.cmd = image.cmd.clone();
        }
        if s.entrypoint.is_none() {
            s.entrypoint = image.entrypoint.clone();
        }
    }
    // `--entrypoint ""` arrives as [""] and means "no entrypoint".
    if s.entrypoint.as_ref().is_some_and(|e| e.len() == 1 && e[0].is_empty()) {
        s.entrypoint = Some(Vec::new());
    }
    let key = |e: &str| e.split('=').next().unwrap_or("").to_string();
    let user_keys: Vec<String> = s.env.iter().map(|e| key(e)).collect();
    for e in image.env.iter().flatten() {
        if !user_keys.contains(&key(e)) {
            s.env.push(e.clone());
        }
    }
    if !s.env.iter().any(|e| key(e) == "PATH") {
        s.env.push(DEFAULT_PATH.to_string());
    }
    if s.working_dir.is_empty() {
        s.working_dir = image.working_dir.clone();
    }
    if s.user.is_empty() {
        s.user = image.user.clone();
    }
    if s.stop_signal.is_empty() {
        s.stop_signal = image.stop_signal.clone();
    }
    let mut labels: BTreeMap<String, String> = image.labels.clone().unwrap_or_default();
    labels.append(&mut s.labels);
    s.labels = labels;
    for p in image.exposed_ports.iter().flat_map(|m| m.keys()) {
        if !s.exposed_ports.contains(p) {
            s.exposed_ports.push(p.clone());
        }
    }
    for v in image.volumes.iter().flat_map(|m| m.keys()) {
        if !s.volumes.contains(v) {
            s.volumes.push(v.clone());
        }
    }
    s
}

/// hostname, hosts and resolv.conf in the container dir; the monitor bind-mounts them.
fn write_etc_files(e: &Engine, c: &Container) -> Result<()> {
    let dir = e.container_dir(&c.id);
    let host = c.spec.host.network_mode == "host";
    let hostname = if host {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| c.spec.hostname.clone())
    } else {
        c.spec.hostname.clone()
    };
    write(&dir.join("hostname"), &format!("{hostname}\n"))?;
    let extra_hosts = e.resolve_extra_hosts(&c.spec.host.extra_hosts)?;
    let hosts = if host && extra_hosts.is_empty() {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        let mut h = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for extra in &extra_hosts {
            if let Some((name, ip)) = extra.split_once(':') {
                h.push_str(&format!("{ip}\t{name}\n"));
            }
        }
        h
    };
    write(&dir.join("hosts"), &hosts)?;
    write(&dir.join("resolv.conf"), &container_resolv_conf(&host_resolv_conf(host), &c.spec.host, host))
}

/// The host's resolv.conf, as a container should start from. On a host whose only server
/// is systemd-resolved's stub (127.0.0.53, unreachable from another network namespace),
/// resolved's own list of the upstream servers, as Docker reads it.
fn host_resolv_conf(host_net: bool) -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let servers: Vec<&str> = main.lines().filter_map(|l| l.strip_prefix("nameserver")).map(str::trim).collect();
    if !host_net && !servers.is_empty() && servers.iter().all(|s| *s == "127.0.0.53") {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    main
}

fn write(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).ctx(|| format!("write {}", path.display()))
}

/// The host's resolv.conf minus loopback name servers (they mean nothing inside another
/// network namespace) and IPv6 ones (containers have IPv4 only: a resolver trying them would
/// only time out), with the user's --dns, --dns-search and --dns-option applied. Without
/// any server left, Docker's fallback public servers are used.
pub fn container_resolv_conf(host_conf: &str, h: &super::container::HostSpec, host_net: bool) -> String {
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    for line in host_conf.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(s) = w.next() {
                    let loopback = s.starts_with("127.") || s == "::1";
                    if host_net || !(loopback || s.contains(':')) {
                        servers.push(s.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => search = w.map(str::to_string).collect(),
            Some("options") => options = w.map(str::to_string).collect(),
            _ => {}
        }
    }
    if !h.dns.is_empty() {
        servers = h.dns.clone();
    }
    if servers.is_empty() {
        servers = vec!["8.8.8.8".into(), "8.8.4.4".into()];
    }
    if !h.dns_search.is_empty() {
        search = h.dns_search.iter().filter(|s| s.as_str() != ".").cloned().collect();
    }
    if !h.dns_options.is_empty() {
        options = h.dns_options.clone();
    }
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_follows_docker_rules() {
        let image = RunConfig {
            cmd: Some(vec!["sh".into()]),
            env: Some(vec!["PATH=/bin".into(), "A=image".into()]),
            working_dir: "/srv".into(),
            labels: Some([("l".to_string(), "image".to_string())].into()),
            ..RunConfig::default()
        };
        let user = ContainerSpec {
            env: vec!["A=user".into()],
            labels: [("l".to_string(), "user".to_string())].into(),
            ..ContainerSpec::default()
        };
        let m = merge(user.clone(), &image);
        assert_eq!(m.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(m.env, vec!["A=user".to_string(), "PATH=/bin".to_string()]);
        assert_eq!(m.working_dir, "/srv");
        assert_eq!(m.labels["l"], "user");
        // A user entrypoint drops the image's cmd.
        let m = merge(ContainerSpec { entrypoint: Some(vec!["ls".into()]), ..user.clone() }, &image);
        assert_eq!(m.argv(), vec!["ls".to_string()]);
        // `--entrypoint ""` clears it.
        let m = merge(ContainerSpec { entrypoint: Some(vec!["".into()]), ..user }, &image);
        assert!(m.argv().is_empty());
        // No PATH anywhere: Docker's default.
        let m = merge(ContainerSpec::default(), &RunConfig::default());
        assert_eq!(m.env, vec![DEFAULT_PATH.to_string()]);
    }

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions ndots:2\n";
        let h = super::super::container::HostSpec::default();
        assert_eq!(
            container_resolv_conf(host, &h, false),
            "nameserver 10.0.0.2\nsearch corp\noptions ndots:2\n"
        );
        let v6 = "nameserver fd00::1\nnameserver 10.0.0.3\n";
        assert_eq!(container_resolv_conf(v6, &h, false), "nameserver 10.0.0.3\n");
        assert_eq!(container_resolv_conf(v6, &h, true), v6);
        let only_local = "nameserver 127.0.0.1\n";
        assert!(container_resolv_conf(only_local, &h, false).starts_with("nameserver 8.8.8.8\n"));
        assert_eq!(container_resolv_conf(only_local, &h, true), "nameserver 127.0.0.1\n");
        let h = super::super::container::HostSpec {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["x.y".into()],
            ..Default::default()
        };
        assert_eq!(container_resolv_conf(host, &h, false), "nameserver 1.1.1.1\nsearch x.y\noptions ndots:2\n");
    }
}
