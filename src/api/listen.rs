//! The daemon's `-H` values made into listening sockets: `unix:///path` (mode 0660, group
//! from `--group`), `tcp://HOST:PORT` (loopback only: berth has no TLS yet, and the API is
//! root-equivalent), and `fd://` / `fd://N` (systemd socket activation, sd_listen_fds(3)).
//! It must not serve anything; `http::Server` does.

use super::http::Listener;
use crate::error::{Context, Error, Result};
use crate::sys::socket::{adopt_inherited, listening_family};
use nix::sys::socket::AddressFamily;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// sd_listen_fds(3): passed descriptors start here.
const SD_LISTEN_FDS_START: RawFd = 3;
/// More passed sockets than this is a broken environment, not a configuration.
const MAX_LISTEN_FDS: RawFd = 1024;
/// The port `tcp://host` means when it names none (Docker's plain-tcp port).
const DEFAULT_TCP_PORT: u16 = 2375;

/// Opens the listeners one `-H` value names. For `fd://` it must run before the daemon
/// starts threads: it unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (so the monitors
/// don't see them, and so no second `-H fd://` adopts the same sockets twice).
pub fn listen(spec: &str, group: Option<&str>) -> Result<Vec<Listener>> {
    if let Some(path) = spec.strip_prefix("unix://") {
        return Ok(vec![listen_unix(Path::new(path), group)?]);
    }
    if let Some(hostport) = spec.strip_prefix("tcp://") {
        return Ok(vec![listen_tcp(hostport)?]);
    }
    if let Some(which) = spec.strip_prefix("fd://") {
        return listen_fds(which);
    }
    Err(Error::invalid(format!(
        "invalid listen address {spec:?}: expected unix:///path, tcp://host:port, fd:// or fd://N"
    )))
}

fn listen_unix(path: &Path, group: Option<&str>) -> Result<Listener> {
    let shown = path.display();
    if path.as_os_str().is_empty() || !path.is_absolute() {
        return Err(Error::invalid(format!("listen on unix://{shown}: the path must be absolute")));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).ctx(|| format!("create {}", parent.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // A socket file survives its daemon; one that still accepts belongs to a live
            // daemon, which must not lose its socket to us.
            if UnixStream::connect(path).is_ok() {
                return Err(Error::conflict(format!(
                    "listen on unix://{shown}: another daemon is listening on it"
                )));
            }
            std::fs::remove_file(path).ctx(|| format!("remove stale socket {shown}"))?;
        }
        Ok(_) => {
            return Err(Error::invalid(format!(
                "listen on unix://{shown}: the path exists and is not a socket"
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::from(e).context(format!("stat {shown}"))),
    }
    let listener = UnixListener::bind(path).ctx(|| format!("listen on unix://{shown}"))?;
    // connect(2) on a unix socket needs write permission on its file: 0660 limits the
    // root-equivalent API to root and the group.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .ctx(|| format!("chmod 0660 {shown}"))?;
    if let Some(group) = group {
        let groups = match std::fs::read_to_string("/etc/group") {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::from(e).context("read /etc/group")),
        };
        match group_gid(&groups, group) {
            Some(gid) => std::os::unix::fs::chown(path, None, Some(gid))
                .ctx(|| format!("chown :{group} {shown}"))?,
            None => crate::log_info!("group {group} not in /etc/group: {shown} stays root:root"),
        }
    }
    Ok(Listener::Unix(listener))
}

/// The gid of `name` in /etc/group text (`name:password:gid:members`).
fn group_gid(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        fields.nth(1)?.trim().parse().ok()
    })
}

fn listen_tcp(hostport: &str) -> Result<Listener> {
    let hostport = hostport.trim_end_matches('/');
    let has_port = match hostport.rfind(']') {
        Some(close) => hostport[close..].contains(':'),
        None => hostport.contains(':'),
    };
    let hostport =
        if has_port { hostport.to_string() } else { format!("{hostport}:{DEFAULT_TCP_PORT}") };
    if hostport.starts_with(':') {
        return Err(Error::invalid(format!(
            "listen on tcp://{hostport}: an empty host means every address; berth listens on \
             tcp only on loopback (TLS is not implemented yet)"
        )));
    }
    let addrs: Vec<SocketAddr> = hostport
        .to_socket_addrs()
        .map_err(|e| Error::invalid(format!("listen on tcp://{hostport}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(Error::invalid(format!("listen on tcp://{hostport}: no address")));
    }
    if let Some(open) = addrs.iter().find(|a| !is_loopback(a.ip())) {
        return Err(not_loopback(&hostport, open.ip()));
    }
    let listener = TcpListener::bind(&addrs[..]).ctx(|| format!("listen on tcp://{hostport}"))?;
    Ok(Listener::Tcp(listener))
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn not_loopback(what: &str, ip: IpAddr) -> Error {
    Error::invalid(format!(
        "listen on tcp://{what}: {ip} is not a loopback address; the API is root-equivalent and \
         berth does not implement TLS yet, so it listens on tcp only on loopback"
    ))
}

fn listen_fds(which: &str) -> Result<Vec<Listener>> {
    let range = activation_fds(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::process::id(),
    )?;
    let wanted = match which {
        "" | "*" => None,
        n => {
            let fd = n
                .parse::<RawFd>()
                .map_err(|_| Error::invalid(format!("invalid listen address fd://{n}")))?;
            if !range.contains(&fd) {
                return Err(Error::invalid(format!(
                    "listen on fd://{fd}: systemd passed descriptors {} to {}",
                    range.start,
                    range.end - 1
                )));
            }
            Some(fd)
        }
    };
    // The descriptors are ours from here on, whatever fails next (sd_listen_fds(3) with
    // unset_environment).
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    let mut listeners = Vec::new();
    for fd in range {
        let owned = adopt_inherited(fd)?;
        // Like dockerd, sockets not asked for are closed.
        if wanted.is_none_or(|w| w == fd) {
            listeners.push(inherited_listener(owned)?);
        }
    }
    Ok(listeners)
}

/// The descriptors systemd passed, from LISTEN_PID and LISTEN_FDS.
fn activation_fds(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    our_pid: u32,
) -> Result<std::ops::Range<RawFd>> {
    let pid = listen_pid.ok_or_else(|| {
        Error::invalid("listen on fd://: LISTEN_PID is not set (not started by socket activation)")
    })?;
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| Error::invalid(format!("listen on fd://: invalid LISTEN_PID {pid:?}")))?;
    if pid != our_pid {
        return Err(Error::invalid(format!(
            "listen on fd://: LISTEN_PID {pid} is not this process ({our_pid})"
        )));
    }
    let count = listen_fds.unwrap_or("");
    let n: RawFd = count
        .trim()
        .parse()
        .map_err(|_| Error::invalid(format!("listen on fd://: invalid LISTEN_FDS {count:?}")))?;
    if n <= 0 || n > MAX_LISTEN_FDS {
        return Err(Error::invalid(format!("listen on fd://: systemd passed {n} sockets")));
    }
    Ok(SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + n)
}

/// A listener from an inherited listening socket, unix or tcp by its address family.
fn inherited_listener(fd: OwnedFd) -> Result<Listener> {
    match listening_family(fd.as_fd())? {
        AddressFamily::Unix => Ok(Listener::Unix(UnixListener::from(fd))),
        AddressFamily::Inet | AddressFamily::Inet6 => {
            let listener = TcpListener::from(fd);
            let addr = listener.local_addr().ctx(|| "getsockname of an inherited socket")?;
            if !is_loopback(addr.ip()) {
                return Err(not_loopback(&addr.to_string(), addr.ip()));
            }
            Ok(Listener::Tcp(listener))
        }
        other => Err(Error::invalid(format!("inherited socket has unsupported family {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::testutil::TempDir;
    use std::os::fd::IntoRawFd;
    use std::os::unix::fs::MetadataExt;

    fn unix_path(l: &Listener) -> std::path::PathBuf {
        match l {
            Listener::Unix(u) => u.local_addr().unwrap().as_pathname().unwrap().to_path_buf(),
            Listener::Tcp(_) => panic!("expected a unix listener"),
        }
    }

    #[test]
    fn unix_socket_is_0660_and_replaces_a_stale_one() {
        let dir = TempDir::new("listen-unix");
        let path = dir.path().join("sub/berth.sock");
        let spec = format!("unix://{}", path.display());
        let first = listen(&spec, None).unwrap();
        assert_eq!(unix_path(&first[0]), path);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        // While the first listener lives, the socket is not stale.
        let e = listen(&spec, None).err().unwrap();
        assert_eq!(e.kind, Kind::Conflict, "{}", e.message);
        drop(first);
        let second = listen(&spec, None).unwrap();
        assert_eq!(second.len(), 1);
        UnixStream::connect(&path).unwrap();
    }

    #[test]
    fn unix_refuses_to_replace_other_files() {
        let dir = TempDir::new("listen-file");
        let path = dir.path().join("file");
        std::fs::write(&path, "keep me").unwrap();
        let e = listen(&format!("unix://{}", path.display()), None).err().unwrap();
        assert!(e.message.contains("not a socket"), "{}", e.message);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
        assert!(listen("unix://relative.sock", None).is_err());
    }

    #[test]
    fn unix_socket_gets_the_group_when_it_exists() {
        if !crate::testutil::is_root("unix_socket_gets_the_group_when_it_exists") {
            return;
        }
        let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
        let Some(gid) = group_gid(&groups, "daemon") else {
            eprintln!("skipped unix_socket_gets_the_group_when_it_exists: no group daemon");
            return;
        };
        let dir = TempDir::new("listen-group");
        let path = dir.path().join("g.sock");
        let _l = listen(&format!("unix://{}", path.display()), Some("daemon")).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().gid(), gid);
        let other = dir.path().join("n.sock");
        let _m = listen(&format!("unix://{}", other.display()), Some("no-such-group-x")).unwrap();
        assert_eq!(std::fs::metadata(&other).unwrap().gid(), 0);
    }

    #[test]
    fn group_lookup() {
        let text = "root:x:0:\nberth:x:998:alice,bob\nbad:x:notanumber:\n";
        assert_eq!(group_gid(text, "berth"), Some(998));
        assert_eq!(group_gid(text, "root"), Some(0));
        assert_eq!(group_gid(text, "ber"), None);
        assert_eq!(group_gid(text, "bad"), None);
    }

    #[test]
    fn tcp_only_on_loopback() {
        for spec in ["tcp://0.0.0.0:2375", "tcp://:2375", "tcp://[::]:2375", "tcp://10.1.2.3:1"] {
            let e = listen(spec, None).err().unwrap();
            assert_eq!(e.kind, Kind::InvalidArgument, "{spec}");
            assert!(e.message.contains("loopback"), "{spec}: {}", e.message);
        }
        let l = listen("tcp://127.0.0.1:0", None).unwrap();
        match &l[0] {
            Listener::Tcp(t) => assert!(t.local_addr().unwrap().ip().is_loopback()),
            Listener::Unix(_) => panic!("expected tcp"),
        }
    }

    #[test]
    fn bad_specs() {
        for spec in ["", "http://x", "/run/berth.sock", "fd://x"] {
            assert!(listen(spec, None).is_err(), "{spec}");
        }
    }

    #[test]
    fn activation_environment() {
        assert_eq!(activation_fds(Some("42"), Some("2"), 42).unwrap(), 3..5);
        for (pid, fds) in [
            (None, Some("1")),
            (Some("41"), Some("1")),
            (Some("x"), Some("1")),
            (Some("42"), None),
            (Some("42"), Some("0")),
            (Some("42"), Some("-1")),
        ] {
            assert!(activation_fds(pid, fds, 42).is_err(), "{pid:?} {fds:?}");
        }
    }

    #[test]
    fn inherited_sockets_by_family() {
        let dir = TempDir::new("listen-inherit");
        let unix = UnixListener::bind(dir.path().join("s")).unwrap();
        let fd = adopt_inherited(unix.into_raw_fd()).unwrap();
        assert!(matches!(inherited_listener(fd).unwrap(), Listener::Unix(_)));
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = adopt_inherited(tcp.into_raw_fd()).unwrap();
        assert!(matches!(inherited_listener(fd).unwrap(), Listener::Tcp(_)));
    }
}
