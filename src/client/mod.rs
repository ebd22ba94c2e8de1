//! The CLI's HTTP/1.1 client for the daemon: unix socket or tcp (from `-H`, `BERTH_HOST`,
//! `DOCKER_HOST`, default unix:///run/berth.sock), one keep-alive connection reused for
//! calls made one after another, new connections for calls that must overlap (attach, wait
//! and start of `run`), streamed bodies both ways, and hijacked (101) connections.
//! It knows HTTP and the daemon's error body `{"message": ...}`, nothing else of the API.

use crate::error::{Error, Kind, Result};
use crate::sys::socket::Stream;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use wire::{lock, upload, Head, HeadFailure, Pool, ResponseBody, Upload, Wire};

mod wire;

const DEFAULT_HOST: &str = "unix:///run/berth.sock";
/// The port `tcp://host` means when it names none (Docker's plain-tcp port).
const DEFAULT_TCP_PORT: u16 = 2375;
/// How much of an error body is read to find its message.
const MAX_ERROR_BODY: u64 = 1024 * 1024;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Unix(std::path::PathBuf),
    Tcp(String),
}

impl Addr {
    /// Parses "unix:///path", "tcp://host:port", or a bare "/path".
    pub fn parse(s: &str) -> Result<Addr> {
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(Error::invalid(format!("invalid host {s:?}: empty socket path")));
            }
            return Ok(Addr::Unix(path.into()));
        }
        if s.starts_with('/') {
            return Ok(Addr::Unix(s.into()));
        }
        if let Some(rest) = s.strip_prefix("tcp://") {
            let hostport = rest.trim_end_matches('/');
            if hostport.is_empty() || hostport.contains('/') {
                return Err(Error::invalid(format!(
                    "invalid host {s:?}: expected tcp://host:port"
                )));
            }
            // "[::1]:2375", "host:2375"; a bare host or "[::1]" gets the default port.
            let has_port = match hostport.rfind(']') {
                Some(close) => hostport[close..].contains(':'),
                None => hostport.contains(':'),
            };
            let hostport = if has_port {
                hostport.to_string()
            } else {
                format!("{hostport}:{DEFAULT_TCP_PORT}")
            };
            return Ok(Addr::Tcp(hostport));
        }
        Err(Error::invalid(format!("invalid host {s:?}: expected unix:///path or tcp://host:port")))
    }

    /// The address the CLI uses: `flag`, else $BERTH_HOST, else $DOCKER_HOST, else the
    /// default socket.
    pub fn from_env(flag: Option<&str>) -> Result<Addr> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        match flag.filter(|f| !f.is_empty()) {
            Some(f) => Addr::parse(f),
            None => Addr::parse(
                &env("BERTH_HOST").or_else(|| env("DOCKER_HOST")).unwrap_or(DEFAULT_HOST.into()),
            ),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Unix(p) => write!(f, "unix://{}", p.display()),
            Addr::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// The API version prefix berth speaks (the version the captured docker traffic used).
pub const API_PREFIX: &str = "/v1.41";

pub struct Client {
    addr: Addr,
    idle: Pool,
}

/// A request body.
pub enum Body<'a> {
    Empty,
    /// Sent with Content-Length and `Content-Type: application/json`.
    Json(Vec<u8>),
    /// Streamed with chunked encoding, with this Content-Type.
    Stream(&'a mut dyn Read, &'a str),
}

/// A response whose body is read as a stream (chunked or Content-Length). When the body
/// is read to its end the connection goes back to the client for reuse.
pub struct Response {
    pub status: u16,
    /// The response headers; only the server's round-trip tests look at them.
    #[cfg_attr(not(test), allow(dead_code))]
    pub headers: Vec<(String, String)>,
    reason: String,
    body: ResponseBody,
}

impl Response {
    #[cfg(test)]
    pub fn header(&self, name: &str) -> Option<&str> {
        wire::header(&self.headers, name)
    }

    /// Like `Client::request`, but a status >= 400 becomes its `into_error`.
    #[cfg(test)]
    pub fn or_error(self) -> Result<Response> {
        if self.status >= 400 {
            Err(self.into_error())
        } else {
            Ok(self)
        }
    }

    /// The error a >= 400 response stands for: the daemon's `message`, the kind from the
    /// status (404 NotFound, 409 Conflict, 400 InvalidArgument, else System).
    pub fn into_error(self) -> Error {
        response_error(self)
    }

    /// Reads the whole body.
    pub fn bytes(mut self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out).map_err(|e| io_error("read response body", e))?;
        Ok(out)
    }

}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

/// A hijacked connection: raw bytes both ways; `try_clone` for a second thread,
/// `shutdown_write` to tell the daemon no more stdin comes.
pub type Hijacked = crate::sys::socket::Upgraded;

/// How an exchange failed.
enum Failure {
    /// Nothing of a response arrived and nothing of a streamed body was consumed: on a
    /// reused connection this is the daemon having closed it while idle, and the request
    /// can be sent again on a new one.
    Stale(Error),
    Fatal(Error),
}

impl Client {
    pub fn new(addr: Addr) -> Client {
        Client { addr, idle: Arc::new(Mutex::new(None)) }
    }


    /// Sends a request (path without the version prefix, e.g. "/containers/json?all=1",
    /// already query-encoded) and returns the response with any status. Connection
    /// failures read "Cannot connect to the berth daemon at unix:///run/berth.sock. Is the
    /// daemon running?".
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        mut body: Body<'_>,
    ) -> Result<Response> {
        let head = request_head(method, path, headers, &body, false)?;
        // A streamed body can't be sent twice, so it never rides a kept connection that
        // the daemon may have closed meanwhile.
        let idle = match body {
            Body::Stream(..) => None,
            _ => lock(&self.idle).take(),
        };
        let (mut wire, mut reused) = match idle {
            Some(w) => (w, true),
            None => (self.connect()?, false),
        };
        loop {
            match exchange(&mut wire, &head, &mut body, false) {
                Ok(head) => {
                    let body = ResponseBody::new(wire, method, &head, &self.idle);
                    let Head { status, reason, headers, .. } = head;
                    return Ok(Response { status, headers, reason, body });
                }
                Err(Failure::Stale(_)) if reused => {
                    wire = self.connect()?;
                    reused = false;
                }
                Err(Failure::Stale(e) | Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    /// Sends an upgrade request (`Connection: Upgrade`, `Upgrade: tcp`) on a new
    /// connection and returns the raw stream once the daemon answers 101.
    pub fn hijack(&self, method: &str, path: &str, mut body: Body<'_>) -> Result<Hijacked> {
        let head = request_head(method, path, &[], &body, true)?;
        let mut wire = self.connect()?;
        let head = match exchange(&mut wire, &head, &mut body, true) {
            Ok(r) => r,
            Err(Failure::Stale(e) | Failure::Fatal(e)) => return Err(e),
        };
        let status = head.status;
        if status != 101 {
            // This connection is not kept, so no pool to hand it back to.
            let body = ResponseBody::new(wire, method, &head, &Arc::new(Mutex::new(None)));
            let Head { reason, headers, .. } = head;
            let response = Response { status, headers, reason, body };
            if status >= 400 {
                return Err(response_error(response));
            }
            return Err(Error::system(format!("unable to upgrade to tcp, received {status}")));
        }
        let buffered = wire.buffered().to_vec();
        Ok(Hijacked::new(wire.stream, buffered))
    }

    fn connect(&self) -> Result<Wire> {
        let stream = match &self.addr {
            Addr::Unix(path) => std::os::unix::net::UnixStream::connect(path).map(Stream::Unix),
            Addr::Tcp(hostport) => std::net::TcpStream::connect(hostport.as_str()).map(Stream::Tcp),
        };
        let stream = stream.map_err(|e| {
            if e.kind() == io::ErrorKind::PermissionDenied {
                Error::system(format!(
                    "permission denied while trying to connect to the berth daemon socket at {}",
                    self.addr
                ))
            } else {
                Error::system(format!(
                    "Cannot connect to the berth daemon at {}. Is the daemon running?",
                    self.addr
                ))
            }
        })?;
        // Small requests must leave at once rather than wait for more to coalesce.
        let _ = stream.set_nodelay();
        Ok(Wire::new(stream))
    }
}

/// Turns a >= 400 response into an Error: the daemon's `message`, the kind from the status.
fn response_error(response: Response) -> Error {
    let status = response.status;
    let reason = response.reason.clone();
    let mut body = Vec::new();
    let read = response.take(MAX_ERROR_BODY).read_to_end(&mut body);
    if let Err(e) = read {
        return Error::new(
            kind_of_status(status),
            format!("read error response from the daemon: {e}"),
        );
    }
    Error::new(kind_of_status(status), error_message(status, &reason, &body))
}

/// The message of an error body: `{"message": m}` gives m; other text is shown trimmed;
/// nothing usable gives Docker's "API returned a 404 (Not Found) but provided no
/// error-message".
fn error_message(status: u16, reason: &str, body: &[u8]) -> String {
    let none = || format!("API returned a {status} ({reason}) but provided no error-message");
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
        return match map.get("message").and_then(|m| m.as_str()) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => none(),
        };
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        none()
    } else {
        text.to_string()
    }
}

/// The error kind that an HTTP status stands for.
pub fn kind_of_status(status: u16) -> Kind {
    match status {
        304 => Kind::NotModified,
        400 => Kind::InvalidArgument,
        404 => Kind::NotFound,
        409 => Kind::Conflict,
        _ => Kind::System,
    }
}

fn io_error(step: &str, e: io::Error) -> Error {
    Error::system(format!("{step}: {e}"))
}

/// The request head (and a JSON body behind it, so a small call is one write).
fn request_head(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Body<'_>,
    upgrade: bool,
) -> Result<Vec<u8>> {
    let unsafe_text = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    if method.is_empty() || method.bytes().any(|b| !b.is_ascii_uppercase()) {
        return Err(Error::invalid(format!("invalid request method {method:?}")));
    }
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(Error::invalid(format!("invalid request path {path:?}")));
    }
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(API_PREFIX.as_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth-cli/");
    out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if name.is_empty() || name.contains(':') || unsafe_text(name) || unsafe_text(value) {
            return Err(Error::invalid(format!("invalid request header {name:?}")));
        }
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    match body {
        // Docker sends `Content-Length: 0` on every bodiless request but GET and HEAD.
        Body::Empty if method == "GET" || method == "HEAD" => {}
        Body::Empty => out.extend_from_slice(b"Content-Length: 0\r\n"),
        Body::Json(json) => out.extend_from_slice(
            format!("Content-Type: application/json\r\nContent-Length: {}\r\n", json.len())
                .as_bytes(),
        ),
        Body::Stream(_, content_type) => {
            if unsafe_text(content_type) {
                return Err(Error::invalid(format!("invalid content type {content_type:?}")));
            }
            out.extend_from_slice(
                format!("Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n")
                    .as_bytes(),
            );
        }
    }
    if upgrade {
        out.extend_from_slice(b"Connection: Upgrade\r\nUpgrade: tcp\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if let Body::Json(json) = body {
        out.extend_from_slice(json);
    }
    Ok(out)
}

/// Sends one request and reads its response head.
fn exchange(
    wire: &mut Wire,
    head: &[u8],
    body: &mut Body<'_>,
    upgrade: bool,
) -> std::result::Result<Head, Failure> {
    let sent = (&wire.stream).write_all(head);
    if let Err(e) = sent {
        return Err(Failure::Stale(io_error("send request to the daemon", e)));
    }
    let mut in_step = true;
    if let Body::Stream(reader, _) = body {
        match upload(&wire.stream, &mut **reader) {
            Ok(()) => {}
            // The daemon may have answered early (an error) and closed: show its answer.
            Err(Upload::Write) => in_step = false,
            Err(Upload::Read(e)) => return Err(Failure::Fatal(io_error("read request body", e))),
        }
    }
    match wire.read_head(upgrade) {
        Ok(mut head) => {
            head.in_step &= in_step;
            Ok(head)
        }
        Err(HeadFailure::Nothing(e)) if !matches!(body, Body::Stream(..)) => {
            Err(Failure::Stale(io_error("read response from the daemon", e)))
        }
        Err(HeadFailure::Nothing(e) | HeadFailure::Partial(e)) => {
            Err(Failure::Fatal(io_error("read response from the daemon", e)))
        }
    }
}

/// Percent-encodes a query value.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;

    /// A one-connection fake daemon running `script` on the accepted stream.
    fn fake(name: &str, script: impl FnOnce(UnixStream) + Send + 'static) -> (TempDir, PathBuf) {
        let dir = TempDir::new(name);
        let path = dir.path().join("fake.sock");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            if let Ok((s, _)) = listener.accept() {
                s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
                script(s);
            }
        });
        (dir, path)
    }

    /// Reads one request head from the fake daemon's side.
    fn read_request_head(s: &mut UnixStream) -> String {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            assert_eq!(s.read(&mut b).unwrap(), 1, "client closed mid-head");
            head.push(b[0]);
        }
        String::from_utf8(head).unwrap()
    }

    #[test]
    fn addresses() {
        assert_eq!(
            Addr::parse("unix:///run/berth.sock").unwrap(),
            Addr::Unix("/run/berth.sock".into())
        );
        assert_eq!(Addr::parse("/tmp/x.sock").unwrap(), Addr::Unix("/tmp/x.sock".into()));
        assert_eq!(
            Addr::parse("tcp://127.0.0.1:2376").unwrap(),
            Addr::Tcp("127.0.0.1:2376".into())
        );
        assert_eq!(Addr::parse("tcp://localhost").unwrap(), Addr::Tcp("localhost:2375".into()));
        assert_eq!(Addr::parse("tcp://[::1]").unwrap(), Addr::Tcp("[::1]:2375".into()));
        assert_eq!(Addr::parse("tcp://[::1]:9/").unwrap(), Addr::Tcp("[::1]:9".into()));
        for bad in ["", "unix://", "tcp://", "ssh://host", "relative.sock", "tcp://h:1/path"] {
            assert!(Addr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Addr::from_env(Some("tcp://h:1")).unwrap(), Addr::Tcp("h:1".into()));
        assert_eq!(Addr::Unix("/run/berth.sock".into()).to_string(), DEFAULT_HOST);
        assert_eq!(Addr::Tcp("h:1".into()).to_string(), "tcp://h:1");
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode_query("abc-._~XYZ09"), "abc-._~XYZ09");
        assert_eq!(encode_query("a b&c=d/e+é"), "a%20b%26c%3Dd%2Fe%2B%C3%A9");
        assert_eq!(encode_query(r#"{"label":["a=b"]}"#), "%7B%22label%22%3A%5B%22a%3Db%22%5D%7D");
    }

    #[test]
    fn request_heads() {
        let head = request_head(
            "POST",
            "/containers/create?name=x",
            &[("X-Registry-Auth", "e30=")],
            &Body::Json(b"{}".to_vec()),
            false,
        )
        .unwrap();
        let expected = format!(
            "POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: berth\r\nUser-Agent: berth-cli/{}\r\n\
             X-Registry-Auth: e30=\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(String::from_utf8(head).unwrap(), expected);
        let head =
            String::from_utf8(request_head("POST", "/x/start", &[], &Body::Empty, false).unwrap())
                .unwrap();
        assert!(head.ends_with("\r\nContent-Length: 0\r\n\r\n"), "{head}");
        let head =
            String::from_utf8(request_head("GET", "/x/json", &[], &Body::Empty, false).unwrap())
                .unwrap();
        assert!(!head.contains("Content-Length"), "{head}");
        let mut r = &b""[..];
        let head = String::from_utf8(
            request_head("POST", "/a", &[], &Body::Stream(&mut r, "text/plain"), true).unwrap(),
        )
        .unwrap();
        assert!(head.ends_with(
            "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        ), "{head}");
        assert!(request_head("GET", "/a b", &[], &Body::Empty, false).is_err());
        assert!(request_head("GET", "nope", &[], &Body::Empty, false).is_err());
        assert!(request_head("GET", "/a", &[("X", "a\r\nEvil: 1")], &Body::Empty, false).is_err());
    }

    #[test]
    fn error_messages_and_kinds() {
        assert_eq!(
            error_message(404, "Not Found", b"{\"message\":\"No such image: a:b\"}\n"),
            "No such image: a:b"
        );
        assert_eq!(
            error_message(400, "Bad Request", b"  client version 1.11 is too old\n"),
            "client version 1.11 is too old"
        );
        assert_eq!(
            error_message(404, "Not Found", b"{\"other\":1}"),
            "API returned a 404 (Not Found) but provided no error-message"
        );
        assert_eq!(
            error_message(500, "Internal Server Error", b""),
            "API returned a 500 (Internal Server Error) but provided no error-message"
        );
        assert_eq!(error_message(500, "x", b"[1]"), "[1]");
        assert_eq!(kind_of_status(404), Kind::NotFound);
        assert_eq!(kind_of_status(409), Kind::Conflict);
        assert_eq!(kind_of_status(400), Kind::InvalidArgument);
        assert_eq!(kind_of_status(304), Kind::NotModified);
        assert_eq!(kind_of_status(500), Kind::System);
        assert_eq!(kind_of_status(403), Kind::System);
    }

    #[test]
    fn cannot_connect_message() {
        let dir = TempDir::new("client-noconnect");
        let path = dir.path().join("none.sock");
        let mut c = Client::new(Addr::Unix(path.clone()));
        let e = c.request("GET", "/_ping", &[], Body::Empty).err().unwrap();
        assert_eq!(
            e.message,
            format!(
                "Cannot connect to the berth daemon at unix://{}. Is the daemon running?",
                path.display()
            )
        );
    }

    #[test]
    fn early_answer_to_an_upload_is_reported() {
        let (_dir, path) = fake("client-early", |mut s| {
            read_request_head(&mut s);
            s.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\
                  Connection: close\r\n\r\n{\"message\":\"No such image\"}\n\n",
            )
            .unwrap();
        });
        let data = vec![7u8; 8 << 20];
        let mut reader = &data[..];
        let mut c = Client::new(Addr::Unix(path));
        let e = c
            .request("POST", "/images/load", &[], Body::Stream(&mut reader, "application/x-tar"))
            .and_then(|r| r.or_error())
            .err()
            .unwrap();
        assert_eq!((e.kind, e.message.as_str()), (Kind::NotFound, "No such image"));
    }

    #[test]
    fn hijack_refused() {
        let (_dir, path) = fake("client-nohijack", |mut s| {
            read_request_head(&mut s);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        });
        let c = Client::new(Addr::Unix(path));
        let e = c.hijack("POST", "/containers/x/attach", Body::Empty).err().unwrap();
        assert_eq!(e.message, "unable to upgrade to tcp, received 200");
        let (_dir, path) = fake("client-nohijack404", |mut s| {
            read_request_head(&mut s);
            s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 28\r\n\r\n{\"message\":\"No such exec\"}\n\n")
                .unwrap();
        });
        let c = Client::new(Addr::Unix(path));
        let e = c.hijack("POST", "/exec/x/start", Body::Json(b"{}".to_vec())).err().unwrap();
        assert_eq!((e.kind, e.message.as_str()), (Kind::NotFound, "No such exec"));
    }
}
