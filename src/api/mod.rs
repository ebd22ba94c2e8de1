//! The daemon's HTTP face: listeners, the route table, handlers per resource and the Docker
//! wire types. Handlers turn requests into engine jobs and jobs' results into Docker's JSON;
//! nothing here touches SQLite or syscalls. `status_of` is the one place an error kind
//! becomes an HTTP status.

pub mod containers;
pub mod http;
pub mod images;
pub mod listen;
pub mod networks;
pub mod progress;
pub mod router;
pub mod system;
pub mod types;

use crate::engine::Engine;
use crate::error::{Error, Kind, Result};
use http::{ChunkedWriter, Conn, Request, Responder};
use std::sync::Arc;

/// Largest JSON request body accepted (create bodies are a few KiB).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// The one mapping from error kinds to HTTP statuses.
pub fn status_of(kind: Kind) -> u16 {
    match kind {
        Kind::InvalidArgument => 400,
        Kind::NotFound => 404,
        Kind::Conflict => 409,
        Kind::NotModified => 304,
        Kind::Forbidden => 403,
        Kind::System => 500,
    }
}

/// Builds the request handler the HTTP server calls.
pub fn handler(engine: Arc<Engine>) -> http::Handler {
    Arc::new(move |req: &mut Request, resp: Responder| router::dispatch(&engine, req, resp))
}

/// Headers on every response, as dockerd sends them.
fn standard_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Api-Version", crate::version::API_VERSION.to_string()),
        ("Docker-Experimental", "false".to_string()),
        ("Ostype", "linux".to_string()),
        ("Server", format!("berth/{} (linux)", crate::version::VERSION)),
        ("Date", crate::util::time::http_date(crate::util::time::now_nanos() / 1_000_000_000)),
    ]
}

/// A handler's way to answer: holds the responder until one of the methods uses it, so the
/// dispatcher can still send an error if the handler fails before answering.
pub struct Out {
    resp: Option<Responder>,
}

impl Out {
    fn new(resp: Responder) -> Out {
        Out { resp: Some(resp) }
    }

    fn take(&mut self) -> Result<Responder> {
        self.resp.take().ok_or_else(|| Error::system("response already sent"))
    }

    fn send(&mut self, status: u16, extra: &[(&str, &str)], body: &[u8]) -> Result<()> {
        let std = standard_headers();
        let mut headers: Vec<(&str, &str)> = std.iter().map(|(k, v)| (*k, v.as_str())).collect();
        headers.extend_from_slice(extra);
        self.take()?.send(status, &headers, body).map_err(|e| Error::system(format!("write response: {e}")))
    }

    /// A JSON document followed by a newline, as Go's encoder writes it.
    ///
    /// Serialized into a buffer the connection's thread keeps: list and inspect answers are
    /// tens of KiB, and growing a new vector for each (musl's allocator maps and unmaps such
    /// sizes every time) cost more than building them. Kept only up to `KEEP`.
    pub fn json<T: serde::Serialize + ?Sized>(&mut self, status: u16, value: &T) -> Result<()> {
        const KEEP: usize = 256 * 1024;
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|cell| {
            // (A handler that answers from inside another answer would find it borrowed.)
            let mut fresh = Vec::new();
            let mut guard = cell.try_borrow_mut();
            let body = match guard.as_deref_mut() {
                Ok(b) => b,
                Err(_) => &mut fresh,
            };
            body.clear();
            serde_json::to_writer(&mut *body, value).map_err(|e| Error::system(e.to_string()))?;
            body.push(b'\n');
            let sent = self.send(status, &[("Content-Type", "application/json")], body);
            if body.capacity() > KEEP {
                *body = Vec::new();
            }
            sent
        })
    }

    pub fn empty(&mut self, status: u16) -> Result<()> {
        self.send(status, &[], b"")
    }

    pub fn text(&mut self, status: u16, text: &str) -> Result<()> {
        self.send(status, &[("Content-Type", "text/plain; charset=utf-8")], text.as_bytes())
    }

    pub fn error(&mut self, err: &Error) -> Result<()> {
        let status = status_of(err.kind);
        if status == 304 {
            return self.empty(304);
        }
        self.json(status, &serde_json::json!({ "message": err.message }))
    }

    /// Starts a chunked stream; the head goes out at once.
    pub fn stream(&mut self, status: u16, content_type: Option<&str>) -> Result<ChunkedWriter> {
        let std = standard_headers();
        let mut headers: Vec<(&str, &str)> = std.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        self.take()?.stream(status, &headers).map_err(|e| Error::system(format!("write response: {e}")))
    }

    /// Answers 101 and returns the raw connection.
    pub fn hijack(&mut self, content_type: &str) -> Result<Conn> {
        self.take()?
            .hijack(&[("Content-Type", content_type)])
            .map_err(|e| Error::system(format!("hijack connection: {e}")))
    }

    fn answered(&self) -> bool {
        self.resp.is_none()
    }
}

/// Reads and decodes a JSON body, leniently: an empty body is the type's default.
pub fn json_body<T: serde::de::DeserializeOwned + Default>(req: &mut Request) -> Result<T> {
    if let Some(ct) = req.header("Content-Type") {
        let ct = ct.split(';').next().unwrap_or("").trim();
        if !ct.is_empty() && ct != "application/json" && !ct.ends_with("+json") {
            return Err(Error::invalid(format!(
                "Content-Type specified ({ct}) must be 'application/json'"
            )));
        }
    }
    let body = req.read_body(MAX_JSON_BODY).map_err(|e| match e {
        http::BodyError::TooLarge => {
            Error::invalid(format!("request body is larger than {MAX_JSON_BODY} bytes"))
        }
        http::BodyError::Io(e) => Error::invalid(format!("read request body: {e}")),
    })?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body).map_err(|e| Error::invalid(format!("invalid JSON: {e}")))
}

/// Query helpers over the request's decoded pairs.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(req: &Request) -> Query {
        Query(req.query_pairs())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// Docker's booleans: "1", "true", "True" (and "yes"); absent = `default`.
    pub fn flag(&self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(v) => matches!(v, "1" | "true" | "True" | "TRUE" | "yes"),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Error::invalid(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// The `filters` parameter: `{"key":{"value":true}}` (or the legacy `{"key":["value"]}`).
    pub fn filters(&self) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut out = std::collections::BTreeMap::new();
        let Some(raw) = self.get("filters").filter(|s| !s.is_empty()) else { return Ok(out) };
        let v: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| Error::invalid(format!("invalid filter: {e}")))?;
        let obj = v.as_object().ok_or_else(|| Error::invalid("invalid filter: not an object"))?;
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Object(m) => {
                    m.iter().filter(|(_, b)| b.as_bool() != Some(false)).map(|(s, _)| s.clone()).collect()
                }
                serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
                _ => return Err(Error::invalid(format!("invalid filter for {k}"))),
            };
            out.insert(k.clone(), list);
        }
        Ok(out)
    }
}
