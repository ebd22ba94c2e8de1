//! The engine's container: what `create` fixed (`ContainerSpec`) and what changes as it runs
//! (`State`), with the transitions that the jobs apply. These are the engine's own names;
//! the API maps them to Docker's wire shapes. Both halves are stored in the GraphDB as JSON.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lifecycle status, with Docker's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "restarting" => Status::Restarting,
            "removing" => Status::Removing,
            "exited" => Status::Exited,
            "dead" => Status::Dead,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// "", "no", "always", "unless-stopped", "on-failure".
    pub name: String,
    pub max_retries: i64,
}

/// One published port: host address and port ("" = any / pick one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// Host-side settings fixed at create.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostSpec {
    pub auto_remove: bool,
    /// "default", "bridge", "none", "host", "container:<id>", or a network name.
    pub network_mode: String,
    pub restart_policy: RestartPolicy,
    pub binds: Vec<String>,
    /// "80/tcp" → bindings.
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub publish_all_ports: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub readonly_rootfs: bool,
    /// Bytes; 0 = the default (64 MiB).
    pub shm_size: i64,
    pub console_size: (u16, u16),
}

/// Everything `create` decided, with the image's defaults already merged in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// The image as the user named it (shown by `ps` and `inspect`).
    pub image: String,
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: String,
    pub labels: BTreeMap<String, String>,
    /// "80/tcp", ...
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub stop_signal: String,
    pub stop_timeout: Option<i64>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub host: HostSpec,
    /// The networks the container joins when it starts (bridge mode and user networks),
    /// by network name; the first one gets eth0 and the default route. Empty for the
    /// `none`, `host` and `container:` modes.
    pub networks: BTreeMap<String, EndpointSettings>,
    /// `--mac-address`, for the first network.
    pub mac_address: String,
}

/// What the user asked for on one network (`--network-alias`, `--ip`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointSettings {
    pub network_id: String,
    pub aliases: Vec<String>,
    /// "" lets IPAM choose.
    pub ipv4_address: String,
}

impl ContainerSpec {
    /// The command line: entrypoint followed by cmd.
    pub fn argv(&self) -> Vec<String> {
        let mut v = self.entrypoint.clone().unwrap_or_default();
        v.extend(self.cmd.clone().unwrap_or_default());
        v
    }
}

/// What changes while a container lives. Times are nanoseconds since the epoch, 0 = never.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: i64,
    pub finished_at: i64,
    pub oom_killed: bool,
    pub restart_count: i64,
    /// The running container's network attachments and published ports.
    pub network: NetState,
}

/// Network resources a running container holds (released when it stops).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetState {
    /// By network name.
    pub endpoints: BTreeMap<String, EndpointState>,
    pub ports: Vec<PublishedPort>,
}

/// One interface of a running container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointState {
    pub network_id: String,
    pub endpoint_id: String,
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    pub mac: String,
    /// Host end of the veth pair (on the network's bridge).
    pub veth: String,
    /// Name inside the container ("eth0").
    pub ifname: String,
    pub aliases: Vec<String>,
}

/// One published port as the kernel holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublishedPort {
    /// "tcp" or "udp".
    pub proto: String,
    /// "" for every host address.
    pub host_ip: String,
    pub host_port: u16,
    pub ctr_ip: String,
    pub ctr_port: u16,
}

/// A container as the engine holds it in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    /// Without the leading '/'.
    pub name: String,
    pub image_id: String,
    pub created: i64,
    /// Shared: a snapshot (every list, inspect and job takes one) copies a pointer, not
    /// the whole configuration; the rare change goes through `Arc::make_mut`.
    pub spec: std::sync::Arc<ContainerSpec>,
    pub state: State,
}

impl Container {
    pub fn running(&self) -> bool {
        matches!(self.state.status, Status::Running | Status::Paused | Status::Restarting)
    }

    /// Docker's human status for `ps`: "Up 2 seconds", "Exited (3) 5 minutes ago",
    /// "Created", "Up 2 minutes (Paused)".
    pub fn status_text(&self, now: i64) -> String {
        use crate::util::time::human_duration;
        let since = |t: i64| std::time::Duration::from_nanos((now - t).max(0) as u64);
        match self.state.status {
            Status::Running => format!("Up {}", human_duration(since(self.state.started_at))),
            Status::Paused => {
                format!("Up {} (Paused)", human_duration(since(self.state.started_at)))
            }
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                self.state.exit_code,
                human_duration(since(self.state.finished_at))
            ),
            Status::Removing => "Removal In Progress".to_string(),
            Status::Dead => "Dead".to_string(),
            Status::Created => "Created".to_string(),
            Status::Exited => {
                if self.state.finished_at == 0 {
                    format!("Exited ({})", self.state.exit_code)
                } else {
                    format!(
                        "Exited ({}) {} ago",
                        self.state.exit_code,
                        human_duration(since(self.state.finished_at))
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_texts_read_like_docker() {
        let mut c = Container {
            id: "x".into(),
            name: "n".into(),
            image_id: "sha256:1".into(),
            created: 0,
            spec: Default::default(),
            state: State::default(),
        };
        let now = 1_000_000_000_000;
        assert_eq!(c.status_text(now), "Created");
        c.state.status = Status::Running;
        c.state.started_at = now - 2_000_000_000;
        assert_eq!(c.status_text(now), "Up 2 seconds");
        c.state.status = Status::Exited;
        c.state.exit_code = 3;
        c.state.finished_at = now - 300_000_000_000;
        assert_eq!(c.status_text(now), "Exited (3) 5 minutes ago");
    }

    #[test]
    fn state_round_trips_through_json() {
        let s = State { status: Status::Exited, exit_code: 137, ..State::default() };
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"status\":\"exited\""));
        assert_eq!(serde_json::from_str::<State>(&j).unwrap(), s);
        // Unknown and missing fields are tolerated, so older rows keep loading.
        let s: State = serde_json::from_str("{\"status\":\"running\",\"x\":1}").unwrap();
        assert_eq!(s.status, Status::Running);
    }
}
