//! The contract between the daemon (driver/exec) and a container monitor: the start `Spec`
//! and the messages on the monitor's channel. Both sides depend on this file only, so it is
//! plain data with serde derives and no behaviour.
//!
//! Transport: SOCK_SEQPACKET unix sockets, one JSON message per packet, so message
//! boundaries survive and a file descriptor (SCM_RIGHTS) belongs to exactly one message.
//! - At start the daemon hands the monitor one end of a socketpair as fd 3. The daemon sends
//!   `Spec`; the monitor answers `Ready` (or `Failed`); the daemon may send `Attach` (with fd)
//!   any number of times and then `Go`; the monitor answers `Started` (or `Failed`). The
//!   channel then stays open as a watch: the monitor sends `Exit` when the container is gone.
//! - Afterwards anyone with access to `<run_dir>/monitor.sock` connects and sends one
//!   request: `Watch` (answered by `Exit` at the end), `Kill`, `Attach` (with fd) or `Resize`
//!   (each answered by `Done` or `Error`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Largest message either side sends or accepts; a spec with a huge environment is refused
/// by the daemon before it is sent.
pub const MAX_MESSAGE: usize = 256 * 1024;

/// Name of the listening socket inside the run dir.
pub const SOCKET_NAME: &str = "monitor.sock";
/// Name of the exit record inside the run dir, written atomically when the container ends.
pub const EXIT_NAME: &str = "exit.json";
/// Name of the pid record inside the run dir ({"monitor":N,"init":M}).
pub const PIDS_NAME: &str = "pids.json";

/// Everything the monitor needs to run one container, computed by the daemon.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Spec {
    /// Full 64-hex container ID.
    pub id: String,
    /// How to mount the container's root filesystem.
    pub rootfs: RootfsMount,
    /// Files and directories bind-mounted into the container after the standard mounts
    /// (hostname, hosts, resolv.conf; later volumes), in order.
    pub mounts: Vec<BindMount>,
    /// Container hostname (UTS namespace).
    pub hostname: String,
    pub process: Process,
    /// Host path of the json-file log the monitor appends to.
    pub log_path: PathBuf,
    /// Host dir owned by this monitor: socket, pids, exit record (under the exec root).
    pub run_dir: PathBuf,
    /// Absolute cgroup directories (one per v1 hierarchy, or one for v2) that the monitor
    /// creates if missing, puts the init into before it runs, and removes when it is done.
    pub cgroups: Vec<PathBuf>,
    pub network: Network,
    /// Paths hidden from the container (bind of /dev/null over files, empty read-only tmpfs
    /// over directories); missing paths are skipped.
    pub masked_paths: Vec<String>,
    /// Paths made read-only inside the container; missing paths are skipped.
    pub readonly_paths: Vec<String>,
    /// Size of /dev/shm in bytes.
    pub shm_size: u64,
    /// Capabilities the container's process keeps (kernel names, "CAP_CHOWN"); the rest
    /// leave its bounding set. None keeps all the monitor holds (`--privileged`).
    #[serde(default)]
    pub capabilities: Option<Vec<String>>,
    /// Files written, in order, in the container's new cgroups before its process joins
    /// them: (absolute path, value), e.g. the v1 device allowlist.
    #[serde(default)]
    pub cgroup_writes: Vec<(PathBuf, String)>,
}

/// The root filesystem mount, as mount(2) arguments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RootfsMount {
    /// "overlay", or "bind" for a plain directory (vfs).
    pub fstype: String,
    /// Mount source: "overlay", or the directory to bind for "bind".
    pub source: PathBuf,
    /// Mount data ("lowerdir=...,upperdir=...,workdir=..."), empty for bind.
    pub data: String,
    /// Directory to chdir into before mounting, so `data` may use short relative paths
    /// (overlay's mount data is limited to one page).
    pub data_dir: Option<PathBuf>,
    /// Empty host directory the rootfs is mounted on (inside the monitor's mount namespace
    /// only: nothing is mounted in the host's namespace).
    pub target: PathBuf,
    pub readonly: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BindMount {
    pub source: PathBuf,
    /// Absolute path inside the container; symlinks resolve inside the rootfs.
    pub destination: String,
    pub readonly: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Process {
    /// argv; args[0] is looked up in the container's PATH when it has no '/'.
    pub args: Vec<String>,
    /// "KEY=value" pairs, already merged (image env, then user env).
    pub env: Vec<String>,
    /// Working directory inside the container, created if missing.
    pub cwd: String,
    /// "", "uid", "uid:gid", "name", "name:group": names are looked up in the container's
    /// /etc/passwd and /etc/group.
    pub user: String,
    /// Allocate a pty for stdio (raw attach stream) instead of pipes (framed stream).
    pub tty: bool,
    /// Keep a stdin pipe open for attach clients (docker's OpenStdin).
    pub open_stdin: bool,
    /// Close the container's stdin when the first attached client half-closes (StdinOnce).
    pub stdin_once: bool,
    /// Initial pty size (rows, cols), 0 = leave the default.
    pub console_size: (u16, u16),
}

/// Which network namespace the container gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Network {
    /// A new network namespace with only the loopback interface, brought up.
    Loopback,
    /// The host's network namespace.
    Host,
    /// Join an existing network namespace (a bind-mounted handle or /proc/PID/ns/net).
    Join(PathBuf),
}

/// Messages to the monitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum ToMonitor {
    /// First message on the start channel.
    Spec(Box<Spec>),
    /// Serve the connection passed with this message (SCM_RIGHTS) as an attach stream:
    /// frames (or raw pty bytes) to it, raw bytes from it to the container's stdin.
    /// `preread` holds stdin bytes the daemon had already read from the connection.
    Attach { stdin: bool, stdout: bool, stderr: bool, preread: Vec<u8> },
    /// Let the container's process exec (sent once, on the start channel).
    Go,
    /// Send a signal to the container's init.
    Kill { signal: i32 },
    /// Resize the pty.
    Resize { rows: u16, cols: u16 },
    /// Keep this connection open and send `Exit` when the container is gone.
    Watch,
}

/// Messages from the monitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum FromMonitor {
    /// The container's namespaces exist and its process waits for `Go`.
    Ready { monitor_pid: i32, pid: i32 },
    /// The container's process has called execve successfully.
    Started { pid: i32 },
    /// Start failed; the monitor has cleaned up and exits. The message uses the kernel's
    /// words ("exec: \"nope\": executable file not found in $PATH").
    Failed { message: String },
    Done,
    Error { message: String },
    Exit(ExitStatus),
}

/// How a container ended, as recorded in `exit.json` and sent in `Exit`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExitStatus {
    /// Exit code, or 128 + signal number when killed by a signal (Docker's convention).
    pub code: i32,
    /// Nanoseconds since the epoch.
    pub finished_at: i64,
    pub oom_killed: bool,
    /// Set when the monitor itself failed while the container ran.
    pub error: String,
}
