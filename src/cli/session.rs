//! An attached container session, as `run`, `start -a` and `attach` hold one: the hijacked
//! attach stream on its own connection, the wait request on another (its response head
//! must arrive before `start` is sent, README pitfall 1), stdin copied in a thread and
//! half-closed at EOF (or at once without -i), output demultiplexed (raw with a tty), the
//! local terminal in raw mode and its size sent with `resize`, and signals forwarded with
//! `kill` (docker's sig-proxy). The exit status is the wait result's StatusCode.

use super::api::{self, query};
use super::stream;
use crate::client::{Addr, Body, Client, Hijacked, Response};
use crate::error::{Error, Result};
use crate::sys::tty::{window_size, RawMode};
use nix::sys::signal::{SigSet, Signal};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;

/// Which streams to attach and how.
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    pub sig_proxy: bool,
}

/// The attach request path: docker sends only the streams it wants.
pub fn attach_path(container: &str, a: &Attach) -> String {
    let mut q = vec![("stream", "1".to_string())];
    if a.stdin {
        q.push(("stdin", "1".into()));
    }
    if a.stdout {
        q.push(("stdout", "1".into()));
    }
    if a.stderr {
        q.push(("stderr", "1".into()));
    }
    format!("/containers/{container}/attach{}", query(&q))
}

/// The hijacked stream with its stdin side settled: copied from our stdin in a thread
/// (half-closed at EOF), or half-closed at once, as the docker CLI does.
pub fn open(addr: &Addr, container: &str, a: &Attach) -> Result<Hijacked> {
    let conn = api::hijack(&Client::new(addr.clone()), &attach_path(container, a))?;
    if a.stdin {
        let mut w = conn
            .try_clone()
            .map_err(|e| Error::system(format!("clone the attach stream: {e}")))?;
        std::thread::spawn(move || {
            let mut stdin = io::stdin();
            let mut buf = [0u8; 32 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if w.write_all(&buf[..n]).and_then(|_| w.flush()).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = w.shutdown_write();
        });
    } else {
        conn.shutdown_write()
            .map_err(|e| Error::system(format!("half-close the attach stream: {e}")))?;
    }
    Ok(conn)
}

/// Starts waiting for the container on a fresh connection; returns once the response head
/// has arrived, so a `start` sent afterwards cannot race the wait.
pub fn wait_head(addr: &Addr, container: &str, condition: Option<&str>) -> Result<Response> {
    let q: Vec<(&str, String)> = condition
        .map(|c| ("condition", c.to_string()))
        .into_iter()
        .collect();
    let mut c = Client::new(addr.clone());
    api::call(
        &mut c,
        "POST",
        &format!("/containers/{container}/wait{}", query(&q)),
        &[],
        Body::Empty,
    )
}

/// Reads the wait result: the container's exit status.
pub fn wait_result(resp: Response) -> Result<i32> {
    let body = resp.bytes()?;
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| Error::invalid(format!("decode the wait result: {e}")))?;
    if let Some(msg) = v["Error"]["Message"].as_str().filter(|m| !m.is_empty()) {
        return Err(Error::system(msg.to_string()));
    }
    Ok(v["StatusCode"].as_i64().unwrap_or(0) as i32)
}

/// Tells the daemon the size of our terminal.
pub fn resize(addr: &Addr, container: &str) {
    if let Some((h, w)) =
        window_size(io::stdout().as_fd()).or_else(|| window_size(io::stdin().as_fd()))
    {
        let mut c = Client::new(addr.clone());
        let q = query(&[("h", h.to_string()), ("w", w.to_string())]);
        let _ = api::post(&mut c, &format!("/containers/{container}/resize{q}"));
    }
}

/// The terminal size docker puts in `ConsoleSize` for `-t`.
pub fn console_size() -> (u16, u16) {
    window_size(io::stdout().as_fd()).unwrap_or((0, 0))
}

/// Signals forwarded to the container (docker forwards all but SIGCHLD, SIGPIPE and
/// SIGURG; these are the ones users send).
const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Blocks the proxied signals (and SIGWINCH with a tty) in this thread, so threads spawned
/// afterwards inherit the mask, and handles them in a thread of their own: `kill` for the
/// proxied ones, `resize` for SIGWINCH.
pub fn proxy_signals(addr: &Addr, container: &str, a: &Attach) {
    let mut set = SigSet::empty();
    if a.sig_proxy {
        for s in PROXIED {
            set.add(s);
        }
    }
    if a.tty {
        set.add(Signal::SIGWINCH);
    }
    if set == SigSet::empty() || set.thread_block().is_err() {
        return;
    }
    let (addr, id) = (addr.clone(), container.to_string());
    std::thread::spawn(move || loop {
        let Ok(sig) = set.wait() else { return };
        if sig == Signal::SIGWINCH {
            resize(&addr, &id);
            continue;
        }
        let name = sig.as_str().trim_start_matches("SIG");
        let mut c = Client::new(addr.clone());
        let _ = api::post(&mut c, &format!("/containers/{id}/kill?signal={name}"));
    });
}

/// Copies the container's output to ours until the daemon ends the stream. A reader that
/// went away (`| head`) ends the copy quietly.
pub fn pump(conn: &mut Hijacked, tty: bool) -> Result<()> {
    let (mut out, mut err) = (io::stdout(), io::stderr());
    let r = if tty {
        stream::copy_raw(conn, &mut out)
    } else {
        stream::demux(conn, &mut out, &mut err)
    };
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(Error::invalid(e.to_string())),
        Err(e) => Err(Error::system(format!("read the attach stream: {e}"))),
    }
}

/// Raw mode for the session when there is a tty and our stdin is a terminal.
pub fn raw_mode(a: &Attach) -> Option<RawMode> {
    if a.tty && a.stdin && io::stdin().is_terminal() {
        RawMode::stdin().ok()
    } else {
        None
    }
}

/// How a container runs once attached: send `start` (run, start -a) or not (attach).
pub enum Then {
    Start,
    AlreadyRunning,
}

/// Why a session ended early.
pub enum Failed {
    /// `start` failed: docker maps its message to 125, 126 or 127.
    Start(Error),
    Other(Error),
}

/// The wait of a session: a condition to send, or a wait already under way (`attach`
/// waits before it inspects).
pub enum Wait<'a> {
    Condition(Option<&'a str>),
    Opened(Response),
}

/// The whole session in docker's order: signals blocked and proxied (before any thread
/// exists, so none of them receives a signal meant for the container), raw mode, attach,
/// wait, start, stream; returns the exit status.
pub fn session(
    addr: &Addr,
    id: &str,
    a: &Attach,
    wait: Wait<'_>,
    then: Then,
) -> std::result::Result<i32, Failed> {
    proxy_signals(addr, id, a);
    let raw = raw_mode(a);
    let mut conn = open(addr, id, a).map_err(Failed::Other)?;
    let wait = match wait {
        Wait::Opened(r) => r,
        Wait::Condition(c) => wait_head(addr, id, c).map_err(Failed::Other)?,
    };
    if let Then::Start = then {
        let mut c = Client::new(addr.clone());
        if let Err(e) = api::post(&mut c, &format!("/containers/{id}/start")) {
            drop(raw);
            return Err(Failed::Start(e));
        }
    }
    if a.tty {
        resize(addr, id);
    }
    let pumped = pump(&mut conn, a.tty);
    drop(raw);
    pumped.map_err(Failed::Other)?;
    wait_result(wait).map_err(Failed::Other)
}

/// docker's exit status for a failed `run`: 127 when the command was not found, 126 when
/// it could not be executed, else 125.
pub fn run_failure_status(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
        || message.contains("system cannot find the file specified")
    {
        127
    } else if message.contains("permission denied") || message.contains("is a directory") {
        126
    } else {
        125
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_paths_like_docker() {
        let a = Attach {
            stdin: false,
            stdout: true,
            stderr: true,
            tty: false,
            sig_proxy: true,
        };
        assert_eq!(
            attach_path("184d", &a),
            "/containers/184d/attach?stderr=1&stdout=1&stream=1"
        );
        let a = Attach { stdin: true, ..a };
        assert_eq!(
            attach_path("df27", &a),
            "/containers/df27/attach?stderr=1&stdin=1&stdout=1&stream=1"
        );
        let a = Attach {
            stdin: false,
            stdout: true,
            stderr: false,
            tty: false,
            sig_proxy: false,
        };
        assert_eq!(
            attach_path("x", &a),
            "/containers/x/attach?stdout=1&stream=1"
        );
    }

    #[test]
    fn run_failures_map_to_docker_statuses() {
        let m = "failed to create shim task: OCI runtime create failed: exec: \"/nonexistent\": stat /nonexistent: no such file or directory: unknown";
        assert_eq!(run_failure_status(m), 127);
        assert_eq!(
            run_failure_status("exec: \"foo\": executable file not found in $PATH: unknown"),
            127
        );
        assert_eq!(
            run_failure_status("exec: \"/etc\": permission denied: unknown"),
            126
        );
        assert_eq!(run_failure_status("something else broke"), 125);
    }
}
