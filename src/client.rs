//! The CLI's HTTP/1.1 client for the daemon: unix socket or tcp (from `-H`, `BERTH_HOST`,
//! `DOCKER_HOST`, default unix:///run/berth.sock), one keep-alive connection reused for
//! calls made one after another, new connections for calls that must overlap (attach, wait
//! and start of `run`), streamed bodies both ways, and hijacked (101) connections.
//! It knows HTTP and the daemon's error body `{"message": ...}`, nothing else of the API.

use crate::error::{Error, Result};
use std::io::{self, Read, Write};

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    Unix(std::path::PathBuf),
    Tcp(String),
}

impl Addr {
    /// Parses "unix:///path", "tcp://host:port", or a bare "/path".
    pub fn parse(s: &str) -> Result<Addr> {
        todo!()
    }

    /// The address the CLI uses: `flag`, else $BERTH_HOST, else $DOCKER_HOST, else the
    /// default socket.
    pub fn from_env(flag: Option<&str>) -> Result<Addr> {
        todo!()
    }
}

/// The API version prefix berth speaks (the version the captured docker traffic used).
pub const API_PREFIX: &str = "/v1.41";

pub struct Client {}

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
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        todo!()
    }
    /// Reads the whole body.
    pub fn bytes(self) -> Result<Vec<u8>> {
        todo!()
    }
    /// Decodes the whole body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(self) -> Result<T> {
        todo!()
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        todo!()
    }
}

/// A hijacked connection: raw bytes both ways; `try_clone` for a second thread.
pub struct Hijacked {}

impl Hijacked {
    pub fn try_clone(&self) -> io::Result<Hijacked> {
        todo!()
    }
    /// Half-close: tells the daemon no more stdin will come.
    pub fn shutdown_write(&self) -> io::Result<()> {
        todo!()
    }
}

impl Read for Hijacked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        todo!()
    }
}

impl Write for Hijacked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        todo!()
    }
    fn flush(&mut self) -> io::Result<()> {
        todo!()
    }
}

impl Client {
    pub fn new(addr: Addr) -> Client {
        todo!()
    }

    pub fn addr(&self) -> &Addr {
        todo!()
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
        body: Body<'_>,
    ) -> Result<Response> {
        todo!()
    }

    /// Like `request`, but a status >= 400 becomes an `Error` whose message is the daemon's
    /// `message` and whose kind follows the status (404 NotFound, 409 Conflict, 400
    /// InvalidArgument, else System).
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Response> {
        todo!()
    }

    /// Sends an upgrade request (`Connection: Upgrade`, `Upgrade: tcp`) on a new
    /// connection and returns the raw stream once the daemon answers 101.
    pub fn hijack(&self, method: &str, path: &str, body: Body<'_>) -> Result<Hijacked> {
        todo!()
    }
}

/// Percent-encodes a query value.
pub fn encode_query(s: &str) -> String {
    todo!()
}

fn _unused(_: Error) {}
