//! The flags of `run` and `create`: docker's names, short forms and repeatable options
//! (stage two, argh), and which words are switches or take values (stage one). What they
//! mean for the create request is `create`'s business.

use super::args::FlagSpec;
use argh::FromArgs;

#[derive(FromArgs, Debug, Default)]
#[argh(help_triggers("--help"))]
/// Create and run a new container from an image (`berth create` takes the same flags
/// except -d).
pub struct RunArgs {
    /// run the container in the background and print its ID
    #[argh(switch, short = 'd')]
    pub detach: bool,
    /// keep STDIN open even if not attached
    #[argh(switch, short = 'i')]
    pub interactive: bool,
    /// allocate a pseudo-TTY
    #[argh(switch, short = 't')]
    pub tty: bool,
    /// remove the container when it exits
    #[argh(switch)]
    pub rm: bool,
    /// assign a name to the container
    #[argh(option)]
    pub name: Option<String>,
    /// set an environment variable (KEY=VALUE, or KEY to pass the CLI's value)
    #[argh(option, short = 'e')]
    pub env: Vec<String>,
    /// read environment variables from a file of KEY=VALUE lines
    #[argh(option)]
    pub env_file: Vec<String>,
    /// working directory inside the container
    #[argh(option, short = 'w')]
    pub workdir: Option<String>,
    /// user name or UID, with an optional group (NAME|UID[:GROUP|GID])
    #[argh(option, short = 'u')]
    pub user: Option<String>,
    /// container host name
    #[argh(option, short = 'h')]
    pub hostname: Option<String>,
    /// container NIS domain name
    #[argh(option)]
    pub domainname: Option<String>,
    /// overwrite the image's ENTRYPOINT
    #[argh(option)]
    pub entrypoint: Option<String>,
    /// set a label (KEY=VALUE)
    #[argh(option, short = 'l')]
    pub label: Vec<String>,
    /// read labels from a file of KEY=VALUE lines
    #[argh(option)]
    pub label_file: Vec<String>,
    /// publish a container port to the host ([IP:][HOSTPORT:]PORT[/PROTO])
    #[argh(option, short = 'p')]
    pub publish: Vec<String>,
    /// publish all exposed ports to random host ports
    #[argh(switch, short = 'P')]
    pub publish_all: bool,
    /// expose a port or a range of ports
    #[argh(option)]
    pub expose: Vec<String>,
    /// connect the container to a network: NAME, or name=NAME[,alias=A][,ip=IP]... (also --net)
    #[argh(option)]
    pub network: Vec<String>,
    /// add a network-scoped alias for the container (also --net-alias)
    #[argh(option)]
    pub network_alias: Vec<String>,
    /// IPv4 address on the first network (e.g. 172.30.100.104)
    #[argh(option)]
    pub ip: Option<String>,
    /// IPv6 address on the first network (e.g. 2001:db8::33)
    #[argh(option)]
    pub ip6: Option<String>,
    /// link-local address on the first network
    #[argh(option)]
    pub link_local_ip: Vec<String>,
    /// MAC address (refused: needs API 1.44, berth speaks 1.41)
    #[argh(option)]
    pub mac_address: Option<String>,
    /// add a link to another container (NAME[:ALIAS])
    #[argh(option)]
    pub link: Vec<String>,
    /// add a host-to-IP mapping (HOST:IP or HOST=IP)
    #[argh(option)]
    pub add_host: Vec<String>,
    /// set a DNS server (an IP address)
    #[argh(option)]
    pub dns: Vec<String>,
    /// set a DNS search domain
    #[argh(option)]
    pub dns_search: Vec<String>,
    /// set a DNS option
    #[argh(option)]
    pub dns_option: Vec<String>,
    /// restart policy: no, always, unless-stopped, on-failure[:MAX]
    #[argh(option)]
    pub restart: Option<String>,
    /// give extended privileges to the container
    #[argh(switch)]
    pub privileged: bool,
    /// mount the container's root filesystem read-only
    #[argh(switch)]
    pub read_only: bool,
    /// size of /dev/shm (e.g. 64m)
    #[argh(option)]
    pub shm_size: Option<String>,
    /// signal that stops the container
    #[argh(option)]
    pub stop_signal: Option<String>,
    /// seconds to wait before killing the container on stop
    #[argh(option)]
    pub stop_timeout: Option<i64>,
    /// add a Linux capability
    #[argh(option)]
    pub cap_add: Vec<String>,
    /// drop a Linux capability
    #[argh(option)]
    pub cap_drop: Vec<String>,
    /// memory limit (e.g. 512m)
    #[argh(option, short = 'm')]
    pub memory: Option<String>,
    /// memory plus swap limit; -1 for unlimited swap
    #[argh(option)]
    pub memory_swap: Option<String>,
    /// memory soft limit
    #[argh(option)]
    pub memory_reservation: Option<String>,
    /// number of CPUs (e.g. 1.5)
    #[argh(option)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[argh(option, short = 'c')]
    pub cpu_shares: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[argh(option)]
    pub cpuset_cpus: Option<String>,
    /// maximum number of processes; -1 for unlimited
    #[argh(option)]
    pub pids_limit: Option<i64>,
    /// bind mount a volume (SRC:DST[:OPTS]) or create an anonymous one (DST)
    #[argh(option, short = 'v')]
    pub volume: Vec<String>,
    /// mount a tmpfs (PATH[:OPTS])
    #[argh(option)]
    pub tmpfs: Vec<String>,
    /// set platform if server is multi-platform capable (sent with the create and the pull)
    #[argh(option)]
    pub platform: Option<String>,
    /// pull the image: missing (default), always or never
    #[argh(option)]
    pub pull: Option<String>,
    /// suppress the pull output
    #[argh(switch, short = 'q')]
    pub quiet: bool,
    /// attach to STDIN, STDOUT or STDERR
    #[argh(option, short = 'a')]
    pub attach: Vec<String>,
    /// run an init inside the container
    #[argh(switch)]
    pub init: bool,
    /// proxy received signals to the container (the default)
    #[argh(switch, long = "sig-proxy")]
    pub _sig_proxy: bool,
    /// do not proxy signals (--sig-proxy=false)
    #[argh(switch)]
    pub no_sig_proxy: bool,
    /// write the container ID to this file
    #[argh(option)]
    pub cidfile: Option<String>,
    /// logging driver for the container
    #[argh(option)]
    pub log_driver: Option<String>,
    /// log driver option (KEY=VALUE)
    #[argh(option)]
    pub log_opt: Vec<String>,
    /// add an additional group to join
    #[argh(option)]
    pub group_add: Vec<String>,
    /// security option
    #[argh(option)]
    pub security_opt: Vec<String>,
    /// IPC mode
    #[argh(option)]
    pub ipc: Option<String>,
    /// PID namespace to use
    #[argh(option)]
    pub pid: Option<String>,
    /// UTS namespace to use
    #[argh(option)]
    pub uts: Option<String>,
    /// parent cgroup for the container
    #[argh(option)]
    pub cgroup_parent: Option<String>,
    /// tune the host's OOM preferences (-1000 to 1000)
    #[argh(option)]
    pub oom_score_adj: Option<i64>,
    /// key sequence for detaching (accepted, not used)
    #[argh(option, long = "detach-keys")]
    pub _detach_keys: Option<String>,
    /// the image to run
    #[argh(positional)]
    pub image: String,
    /// the command and its arguments
    #[argh(positional)]
    pub command: Vec<String>,
}

/// Stage one for `run` and `create`: which words are switches and which take values.
pub const RUN_SPEC: FlagSpec = FlagSpec {
    switches: &[
        "-d",
        "--detach",
        "-i",
        "--interactive",
        "-t",
        "--tty",
        "--rm",
        "-P",
        "--publish-all",
        "--privileged",
        "--read-only",
        "--init",
        "--sig-proxy",
        "--no-sig-proxy",
        "-q",
        "--quiet",
    ],
    options: &[
        "--name",
        "-e",
        "--env",
        "--env-file",
        "-w",
        "--workdir",
        "-u",
        "--user",
        "-h",
        "--hostname",
        "--domainname",
        "--entrypoint",
        "-l",
        "--label",
        "--label-file",
        "-p",
        "--publish",
        "--expose",
        "--network",
        "--network-alias",
        "--ip",
        "--ip6",
        "--link-local-ip",
        "--mac-address",
        "--link",
        "--add-host",
        "--dns",
        "--dns-search",
        "--dns-option",
        "--restart",
        "--shm-size",
        "--stop-signal",
        "--stop-timeout",
        "--cap-add",
        "--cap-drop",
        "-m",
        "--memory",
        "--memory-swap",
        "--memory-reservation",
        "--cpus",
        "-c",
        "--cpu-shares",
        "--cpuset-cpus",
        "--pids-limit",
        "-v",
        "--volume",
        "--tmpfs",
        "--platform",
        "--pull",
        "-a",
        "--attach",
        "--cidfile",
        "--log-driver",
        "--log-opt",
        "--group-add",
        "--security-opt",
        "--ipc",
        "--pid",
        "--uts",
        "--cgroup-parent",
        "--oom-score-adj",
        "--detach-keys",
    ],
    stop_at_positional: true,
    aliases: &[
        ("--net", "--network"),
        ("--net-alias", "--network-alias"),
        ("--sig-proxy=false", "--no-sig-proxy"),
        ("--sig-proxy=0", "--no-sig-proxy"),
        ("--dns-opt", "--dns-option"),
    ],
};
