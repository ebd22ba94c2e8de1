//! Docker Engine API wire types for containers (API 1.41 shapes, as the captured docker CLI
//! traffic shows them), and their conversion to and from the engine's own types. Requests
//! are parsed leniently (unknown fields ignored, `null` for any collection); responses carry
//! every field with zero values, in Docker's field order, because the CLI's templates and
//! `inspect` output depend on complete documents.

use crate::engine::container::{Container, ContainerSpec, HostSpec, PortBinding, RestartPolicy, Status};
use crate::engine::inspect::ContainerDetails;
use crate::util::time::rfc3339_nanos;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Docker's strslice: a JSON array of strings, or a single string (older clients).
fn str_or_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Sv {
        S(String),
        V(Vec<String>),
    }
    Ok(match Option::<Sv>::deserialize(d)? {
        None => None,
        Some(Sv::S(s)) => Some(vec![s]),
        Some(Sv::V(v)) => Some(v),
    })
}

/// `Config` of a create request and of container inspect.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    #[serde(deserialize_with = "str_or_vec")]
    pub cmd: Option<Vec<String>>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, Value>>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_or_vec")]
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBindingWire {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicyWire {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfigWire {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Config")]
    pub config: BTreeMap<String, String>,
}

/// `HostConfig`, in the order dockerd 20.10 prints it. Fields berth does not act on are
/// parsed so that create can warn when they are set, and printed with zero values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: String,
    pub log_config: LogConfigWire,
    pub network_mode: String,
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBindingWire>>>>,
    pub restart_policy: RestartPolicyWire,
    pub auto_remove: bool,
    pub volume_driver: String,
    pub volumes_from: Option<Vec<String>>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub cgroupns_mode: String,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub ipc_mode: String,
    pub cgroup: String,
    pub links: Option<Vec<String>>,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub shm_size: i64,
    pub runtime: String,
    pub console_size: Option<[u16; 2]>,
    pub isolation: String,
    pub cpu_shares: i64,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cgroup_parent: String,
    pub blkio_weight: i64,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub devices: Option<Vec<Value>>,
    pub memory_reservation: i64,
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Value>>,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    pub init: Option<bool>,
    pub mounts: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<BTreeMap<String, String>>,
}

/// The body of `POST /containers/create`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: Config,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<NetworkingConfig>,
    /// `--mac-address` (API < 1.44 sends it here).
    pub mac_address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, Option<EndpointConfigWire>>>,
}

/// What a client asks for on one network (create's EndpointsConfig, network connect).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointConfigWire {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<IpamConfigWire>,
    pub aliases: Option<Vec<String>>,
    pub links: Option<Vec<String>>,
    pub mac_address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfigWire {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

impl EndpointConfigWire {
    pub fn into_settings(self) -> crate::engine::container::EndpointSettings {
        crate::engine::container::EndpointSettings {
            network_id: String::new(),
            aliases: self.aliases.unwrap_or_default(),
            ipv4_address: self.ipam_config.map(|i| i.ipv4_address).unwrap_or_default(),
        }
    }
}

impl CreateBody {
    /// The engine's spec, plus warnings for settings berth does not implement yet (they are
    /// ignored, and the user is told so rather than misled).
    pub fn into_spec(self) -> (ContainerSpec, Vec<String>) {
        let c = self.config;
        let h = self.host_config.unwrap_or_default();
        let mut mac_address = self.mac_address;
        let mut networks = BTreeMap::new();
        for (name, ep) in self.networking_config.and_then(|n| n.endpoints_config).unwrap_or_default() {
            let ep = ep.unwrap_or_default();
            if mac_address.is_empty() {
                mac_address = ep.mac_address.clone();
            }
            networks.insert(name, ep.into_settings());
        }
        let mut warnings = Vec::new();
        let mut unsupported = |set: bool, what: &str| {
            if set {
                warnings.push(format!("berth does not support {what} yet; it is ignored"));
            }
        };
        unsupported(h.memory != 0 || h.memory_swap != 0 || h.memory_reservation != 0, "memory limits");
        unsupported(h.cpu_shares != 0 || h.nano_cpus != 0 || h.cpu_quota != 0 || !h.cpuset_cpus.is_empty(), "CPU limits");
        unsupported(h.pids_limit.is_some_and(|p| p > 0), "--pids-limit");
        unsupported(h.binds.as_ref().is_some_and(|b| !b.is_empty()) || h.mounts.as_ref().is_some_and(|m| !m.is_empty()), "volumes and bind mounts");
        unsupported(c.volumes.as_ref().is_some_and(|v| !v.is_empty()), "anonymous volumes");
        unsupported(h.links.as_ref().is_some_and(|l| !l.is_empty()), "--link (use a user-defined network)");
        unsupported(h.devices.as_ref().is_some_and(|d| !d.is_empty()), "--device");
        unsupported(h.ulimits.as_ref().is_some_and(|d| !d.is_empty()), "--ulimit");
        unsupported(!matches!(h.restart_policy.name.as_str(), "" | "no"), "restart policies");
        unsupported(h.tmpfs.as_ref().is_some_and(|t| !t.is_empty()), "--tmpfs");
        unsupported(h.group_add.as_ref().is_some_and(|g| !g.is_empty()), "--group-add");
        unsupported(h.security_opt.as_ref().is_some_and(|o| !o.is_empty()), "--security-opt");
        unsupported(!matches!(h.ipc_mode.as_str(), "" | "private" | "shareable"), "--ipc");
        unsupported(!h.pid_mode.is_empty(), "--pid");
        unsupported(!h.uts_mode.is_empty(), "--uts");
        unsupported(!h.cgroup_parent.is_empty(), "a per-container --cgroup-parent");
        unsupported(h.oom_score_adj != 0, "--oom-score-adj");
        unsupported(h.init == Some(true), "--init");
        unsupported(!matches!(h.log_config.kind.as_str(), "" | "json-file"), "log drivers other than json-file");
        let host = HostSpec {
            auto_remove: h.auto_remove,
            network_mode: h.network_mode,
            restart_policy: RestartPolicy { name: h.restart_policy.name, max_retries: h.restart_policy.maximum_retry_count },
            binds: h.binds.unwrap_or_default(),
            port_bindings: h
                .port_bindings
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    let v = v.unwrap_or_default().into_iter().map(|b| PortBinding { host_ip: b.host_ip, host_port: b.host_port }).collect();
                    (k, v)
                })
                .collect(),
            publish_all_ports: h.publish_all_ports,
            dns: h.dns.unwrap_or_default(),
            dns_search: h.dns_search.unwrap_or_default(),
            dns_options: h.dns_options.unwrap_or_default(),
            extra_hosts: h.extra_hosts.unwrap_or_default(),
            privileged: h.privileged,
            cap_add: h.cap_add.unwrap_or_default(),
            cap_drop: h.cap_drop.unwrap_or_default(),
            readonly_rootfs: h.readonly_rootfs,
            shm_size: h.shm_size,
            console_size: h.console_size.map(|[r, c]| (r, c)).unwrap_or((0, 0)),
        };
        let mut exposed: Vec<String> = c.exposed_ports.unwrap_or_default().into_keys().collect();
        for p in host.port_bindings.keys() {
            if !exposed.contains(p) {
                exposed.push(p.clone());
            }
        }
        let spec = ContainerSpec {
            image: c.image,
            hostname: c.hostname,
            domainname: c.domainname,
            user: c.user,
            env: c.env.unwrap_or_default(),
            cmd: c.cmd,
            entrypoint: c.entrypoint,
            working_dir: c.working_dir,
            labels: c.labels.unwrap_or_default(),
            exposed_ports: exposed,
            volumes: c.volumes.unwrap_or_default().into_keys().collect(),
            stop_signal: c.stop_signal.unwrap_or_default(),
            stop_timeout: c.stop_timeout,
            tty: c.tty,
            open_stdin: c.open_stdin,
            stdin_once: c.stdin_once,
            attach_stdin: c.attach_stdin,
            attach_stdout: c.attach_stdout,
            attach_stderr: c.attach_stderr,
            host,
            networks,
            mac_address,
        };
        (spec, warnings)
    }
}

fn config_of(s: &ContainerSpec) -> Config {
    let map = |v: &[String]| -> Option<BTreeMap<String, Value>> {
        if v.is_empty() {
            None
        } else {
            Some(v.iter().map(|k| (k.clone(), serde_json::json!({}))).collect())
        }
    };
    Config {
        hostname: s.hostname.clone(),
        domainname: s.domainname.clone(),
        user: s.user.clone(),
        attach_stdin: s.attach_stdin,
        attach_stdout: s.attach_stdout,
        attach_stderr: s.attach_stderr,
        exposed_ports: map(&s.exposed_ports),
        tty: s.tty,
        open_stdin: s.open_stdin,
        stdin_once: s.stdin_once,
        env: Some(s.env.clone()),
        cmd: s.cmd.clone(),
        image: s.image.clone(),
        volumes: map(&s.volumes),
        working_dir: s.working_dir.clone(),
        entrypoint: s.entrypoint.clone().filter(|e| !e.is_empty()),
        on_build: None,
        labels: Some(s.labels.clone()),
        stop_signal: Some(s.stop_signal.clone()).filter(|x| !x.is_empty()),
        stop_timeout: s.stop_timeout,
    }
}

fn host_config_of(h: &HostSpec, masked: &[&str], readonly: &[&str]) -> HostConfig {
    let opt = |v: &Vec<String>| if v.is_empty() { None } else { Some(v.clone()) };
    HostConfig {
        binds: opt(&h.binds),
        log_config: LogConfigWire { kind: "json-file".into(), config: BTreeMap::new() },
        network_mode: if h.network_mode.is_empty() { "default".into() } else { h.network_mode.clone() },
        port_bindings: Some(
            h.port_bindings
                .iter()
                .map(|(k, v)| {
                    let v = v.iter().map(|b| PortBindingWire { host_ip: b.host_ip.clone(), host_port: b.host_port.clone() }).collect();
                    (k.clone(), Some(v))
                })
                .collect(),
        ),
        restart_policy: RestartPolicyWire {
            name: if h.restart_policy.name.is_empty() { "no".into() } else { h.restart_policy.name.clone() },
            maximum_retry_count: h.restart_policy.max_retries,
        },
        auto_remove: h.auto_remove,
        cap_add: opt(&h.cap_add),
        cap_drop: opt(&h.cap_drop),
        cgroupns_mode: "host".into(),
        dns: Some(h.dns.clone()),
        dns_options: Some(h.dns_options.clone()),
        dns_search: Some(h.dns_search.clone()),
        extra_hosts: opt(&h.extra_hosts),
        ipc_mode: "private".into(),
        privileged: h.privileged,
        publish_all_ports: h.publish_all_ports,
        readonly_rootfs: h.readonly_rootfs,
        shm_size: if h.shm_size > 0 { h.shm_size } else { crate::engine::start::DEFAULT_SHM_SIZE as i64 },
        runtime: "berth".into(),
        console_size: Some([h.console_size.0, h.console_size.1]),
        devices: Some(Vec::new()),
        ulimits: Some(Vec::new()),
        masked_paths: Some(masked.iter().map(|s| s.to_string()).collect()),
        readonly_paths: Some(readonly.iter().map(|s| s.to_string()).collect()),
        ..HostConfig::default()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateWire {
    pub status: &'static str,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriverWire {
    pub data: BTreeMap<String, String>,
    pub name: String,
}

/// `GET /containers/{id}/json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerJson<'a> {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: StateWire,
    pub image: String,
    pub resolv_conf_path: String,
    pub hostname_path: String,
    pub hosts_path: String,
    pub log_path: String,
    pub name: String,
    pub restart_count: i64,
    pub driver: String,
    pub platform: String,
    pub mount_label: String,
    pub process_label: String,
    pub app_armor_profile: String,
    #[serde(rename = "ExecIDs")]
    pub exec_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<u64>,
    pub host_config: HostConfig,
    pub graph_driver: GraphDriverWire,
    pub mounts: Vec<Value>,
    pub config: Config,
    pub network_settings: NetworkSettingsWire<'a>,
}

impl<'a> ContainerJson<'a> {
    pub fn from(d: &'a ContainerDetails) -> ContainerJson<'a> {
        let c = &d.container;
        let argv = c.spec.argv();
        let s = &c.state;
        let privileged = c.spec.host.privileged;
        let (masked, readonly): (&[&str], &[&str]) = if privileged {
            (&[], &[])
        } else {
            (crate::engine::start::MASKED_PATHS, crate::engine::start::READONLY_PATHS)
        };
        let path = |n: &str| d.dir.join(n).display().to_string();
        ContainerJson {
            id: c.id.clone(),
            created: rfc3339_nanos(c.created),
            path: argv.first().cloned().unwrap_or_default(),
            args: argv.iter().skip(1).cloned().collect(),
            state: StateWire {
                status: s.status.name(),
                running: matches!(s.status, Status::Running | Status::Paused | Status::Restarting),
                paused: s.status == Status::Paused,
                restarting: s.status == Status::Restarting,
                oom_killed: s.oom_killed,
                dead: s.status == Status::Dead,
                pid: s.pid,
                exit_code: s.exit_code,
                error: s.error.clone(),
                started_at: rfc3339_nanos(s.started_at),
                finished_at: rfc3339_nanos(s.finished_at),
            },
            image: c.image_id.clone(),
            resolv_conf_path: path("resolv.conf"),
            hostname_path: path("hostname"),
            hosts_path: path("hosts"),
            log_path: d.log_path.display().to_string(),
            name: format!("/{}", c.name),
            restart_count: s.restart_count,
            driver: d.driver.to_string(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            size_rw: d.size_rw,
            host_config: host_config_of(&c.spec.host, masked, readonly),
            graph_driver: GraphDriverWire {
                data: d.graph_data.iter().cloned().collect(),
                name: d.driver.to_string(),
            },
            mounts: Vec::new(),
            config: config_of(&c.spec),
            network_settings: network_settings(c),
        }
    }
}

/// The networks inspect and list show: those the container joins (with addresses while
/// it runs), or the one its mode names (`host`, `none`); none for `container:`.
fn endpoint_wires(c: &Container) -> BTreeMap<&str, EndpointWire<'_>> {
    let mut out = BTreeMap::new();
    let mode = c.spec.host.network_mode.as_str();
    if c.spec.networks.is_empty() {
        if !mode.starts_with("container:") {
            let name = if mode.is_empty() || mode == "default" { "bridge" } else { mode };
            out.insert(name, EndpointWire::default());
        }
        return out;
    }
    for (name, settings) in &c.spec.networks {
        let ep = c.state.network.endpoints.get(name);
        // On user-defined networks Docker lists the short ID as an alias too.
        let aliases = (name != "bridge")
            .then(|| settings.aliases.iter().map(String::as_str).chain(std::iter::once(&c.id[..12])).collect());
        out.insert(
            name.as_str(),
            EndpointWire {
                ipam_config: (!settings.ipv4_address.is_empty()).then_some(EndpointIpam { ipv4_address: &settings.ipv4_address }),
                links: None,
                aliases,
                network_id: &settings.network_id,
                endpoint_id: ep.map_or("", |e| &e.endpoint_id),
                gateway: ep.map_or("", |e| &e.gateway),
                ip_address: ep.map_or("", |e| &e.ip),
                ip_prefix_len: ep.map_or(0, |e| e.prefix as u32),
                mac_address: ep.map_or("", |e| &e.mac),
                ..EndpointWire::default()
            },
        );
    }
    out
}

/// `NetworkSettings.Ports`: published ports with their host side, exposed ones as null;
/// empty while the container is not running, as Docker shows it.
fn ports_map(c: &Container) -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    if !c.running() {
        return m;
    }
    for p in &c.spec.exposed_ports {
        let key = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
        m.insert(key, Value::Null);
    }
    for p in &c.state.network.ports {
        let key = format!("{}/{}", p.ctr_port, p.proto);
        let host_ip = if p.host_ip.is_empty() { "0.0.0.0" } else { p.host_ip.as_str() };
        let entry = serde_json::json!({"HostIp": host_ip, "HostPort": p.host_port.to_string()});
        match m.entry(key).or_insert(Value::Null) {
            Value::Array(a) => a.push(entry),
            v => *v = Value::Array(vec![entry]),
        }
    }
    m
}

/// `Ports` of a container list entry, in the order of `ports_map`'s keys ("PORT/PROTO"
/// compared as text), built without the map: one entry per binding, or one without a host
/// side for an exposed port that is not published.
fn summary_ports(c: &Container) -> Vec<SummaryPort<'_>> {
    let mut out = Vec::new();
    if !c.running() {
        return out;
    }
    let mut keys: Vec<(KeyText, &str, u16)> = Vec::new();
    for p in &c.spec.exposed_ports {
        let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
        let port: u16 = port.parse().unwrap_or(0);
        let key = KeyText::of(port, proto);
        if !c.state.network.ports.iter().any(|b| b.ctr_port == port && b.proto == proto) && !keys.iter().any(|k| k.0 == key) {
            keys.push((key, proto, port));
        }
    }
    for b in &c.state.network.ports {
        keys.push((KeyText::of(b.ctr_port, &b.proto), &b.proto, b.ctr_port));
    }
    // Stable: the bindings of one port keep their order.
    keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    keys.dedup_by(|a, b| a.0 == b.0);
    for (_, proto, port) in keys {
        let mut bound = c.state.network.ports.iter().filter(|b| b.ctr_port == port && b.proto == proto).peekable();
        if bound.peek().is_none() {
            out.push(SummaryPort { ip: None, private_port: port, public_port: None, ty: proto });
        }
        for b in bound {
            let ip = if b.host_ip.is_empty() { "0.0.0.0" } else { b.host_ip.as_str() };
            out.push(SummaryPort { ip: Some(ip), private_port: port, public_port: Some(b.host_port), ty: proto });
        }
    }
    out
}

/// "PORT/PROTO" on the stack, to sort ports as text without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
struct KeyText([u8; 16], usize);

impl KeyText {
    fn of(port: u16, proto: &str) -> KeyText {
        let mut buf = [0u8; 16];
        let mut w = &mut buf[..];
        let _ = std::io::Write::write_fmt(&mut w, format_args!("{port}/{proto}"));
        let len = 16 - w.len();
        KeyText(buf, len)
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

/// `NetworkSettings` of container inspect. A struct, not `json!`: serde_json's maps sort
/// their keys, and the docker CLI prints inspect output in the order it arrives, which for
/// dockerd is this one.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettingsWire<'a> {
    bridge: String,
    #[serde(rename = "SandboxID")]
    sandbox_id: String,
    hairpin_mode: bool,
    #[serde(rename = "LinkLocalIPv6Address")]
    link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    link_local_ipv6_prefix_len: u32,
    ports: BTreeMap<String, Value>,
    sandbox_key: String,
    #[serde(rename = "SecondaryIPAddresses")]
    secondary_ip_addresses: Option<Vec<Value>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    secondary_ipv6_addresses: Option<Vec<Value>>,
    #[serde(rename = "EndpointID")]
    endpoint_id: String,
    gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: u32,
    #[serde(rename = "IPAddress")]
    ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: u32,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: String,
    mac_address: String,
    networks: BTreeMap<&'a str, EndpointWire<'a>>,
}

fn network_settings(c: &Container) -> NetworkSettingsWire<'_> {
    // The legacy top-level fields describe the default bridge endpoint only.
    let bridge = c.state.network.endpoints.get("bridge");
    let field = |f: fn(&crate::engine::container::EndpointState) -> String| bridge.map(f).unwrap_or_default();
    let running = c.running() && c.state.pid > 0;
    NetworkSettingsWire {
        bridge: String::new(),
        sandbox_id: if running { c.id.clone() } else { String::new() },
        hairpin_mode: false,
        link_local_ipv6_address: String::new(),
        link_local_ipv6_prefix_len: 0,
        ports: ports_map(c),
        sandbox_key: if running { format!("/proc/{}/ns/net", c.state.pid) } else { String::new() },
        secondary_ip_addresses: None,
        secondary_ipv6_addresses: None,
        endpoint_id: field(|e| e.endpoint_id.clone()),
        gateway: field(|e| e.gateway.clone()),
        global_ipv6_address: String::new(),
        global_ipv6_prefix_len: 0,
        ip_address: field(|e| e.ip.clone()),
        ip_prefix_len: bridge.map(|e| e.prefix as u32).unwrap_or(0),
        ipv6_gateway: String::new(),
        mac_address: field(|e| e.mac.clone()),
        networks: endpoint_wires(c),
    }
}

/// One network endpoint of a container (inspect and list). Typed and borrowed from the
/// container, so that listing many containers allocates almost nothing per field (with
/// musl's allocator, allocations are most of what a list costs).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointWire<'a> {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpam<'a>>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<&'a str>>,
    #[serde(rename = "NetworkID")]
    pub network_id: &'a str,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: &'a str,
    pub gateway: &'a str,
    #[serde(rename = "IPAddress")]
    pub ip_address: &'a str,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u32,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: &'a str,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: &'a str,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u32,
    pub mac_address: &'a str,
    pub driver_opts: Option<Value>,
}

/// `IPAMConfig` of an endpoint: the address the user asked for.
#[derive(Debug, Serialize)]
pub struct EndpointIpam<'a> {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryHostConfig<'a> {
    pub network_mode: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryNetworks<'a> {
    pub networks: BTreeMap<&'a str, EndpointWire<'a>>,
}

/// One published or exposed port of a list entry (`IP` and `PublicPort` only when
/// published).
#[derive(Debug, Serialize)]
pub struct SummaryPort<'a> {
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", skip_serializing_if = "Option::is_none")]
    pub public_port: Option<u16>,
    #[serde(rename = "Type")]
    pub ty: &'a str,
}

/// One entry of `GET /containers/json`, borrowed from the container.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary<'a> {
    pub id: &'a str,
    pub names: [String; 1],
    pub image: &'a str,
    #[serde(rename = "ImageID")]
    pub image_id: &'a str,
    pub command: String,
    pub created: i64,
    pub ports: Vec<SummaryPort<'a>>,
    pub labels: &'a BTreeMap<String, String>,
    pub state: &'static str,
    pub status: String,
    pub host_config: SummaryHostConfig<'a>,
    pub network_settings: SummaryNetworks<'a>,
    pub mounts: [Value; 0],
}

impl<'a> ContainerSummary<'a> {
    pub fn from(c: &'a Container, now: i64) -> ContainerSummary<'a> {
        let mut command = String::new();
        for (i, a) in c.spec.entrypoint.iter().flatten().chain(c.spec.cmd.iter().flatten()).enumerate() {
            if i > 0 {
                command.push(' ');
            }
            command.push_str(a);
        }
        ContainerSummary {
            id: &c.id,
            names: [format!("/{}", c.name)],
            image: &c.spec.image,
            image_id: &c.image_id,
            command,
            created: c.created / 1_000_000_000,
            ports: summary_ports(c),
            labels: &c.spec.labels,
            state: c.state.status.name(),
            status: c.status_text(now),
            host_config: SummaryHostConfig {
                network_mode: if c.spec.host.network_mode.is_empty() { "default" } else { &c.spec.host.network_mode },
            },
            network_settings: SummaryNetworks { networks: endpoint_wires(c) },
            mounts: [],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_captured_create_body() {
        let body = r#"{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,
          "AttachStderr":true,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,
          "Env":["FOO=bar"],"Cmd":["sh","-c","echo hi"],"Image":"capture/busybox","Volumes":{},
          "WorkingDir":"/tmp","Entrypoint":null,"OnBuild":null,"Labels":{"cap.test":"1"},
          "HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},
          "NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},
          "AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,
          "CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,
          "MemorySwappiness":-1,"PidsLimit":0,"Ulimits":[],"MaskedPaths":null,"Future":{"x":1}},
          "NetworkingConfig":{"EndpointsConfig":{}},"SomethingNew":true}"#;
        let b: CreateBody = serde_json::from_str(body).unwrap();
        let (spec, warnings) = b.into_spec();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(spec.image, "capture/busybox");
        assert_eq!(spec.cmd.unwrap(), ["sh", "-c", "echo hi"]);
        assert_eq!(spec.env, ["FOO=bar"]);
        assert!(spec.host.auto_remove);
        assert_eq!(spec.exposed_ports, ["80/tcp"]);
    }

    #[test]
    fn string_cmd_and_warnings() {
        let b: CreateBody = serde_json::from_str(
            r#"{"Image":"x","Cmd":"ls","HostConfig":{"Memory":1048576}}"#,
        )
        .unwrap();
        let (spec, warnings) = b.into_spec();
        assert_eq!(spec.cmd.unwrap(), ["ls"]);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("memory"));
    }
}
