//! Container endpoints: each parses its request into an engine job and renders the result
//! in Docker's shape. Streams follow the captured contract: `wait` sends its head at once
//! and its body at exit; `attach` answers 101 and hands the connection to the engine;
//! `logs` frames each line (8-byte header) unless the container has a tty.

use super::http::Request;
use super::types::{ContainerJson, ContainerSummary, CreateBody};
use super::{json_body, Out, Query};
use crate::engine::attach::{AttachStream, ContainerAttach, ContainerResize};
use crate::engine::create::ContainerCreate;
use crate::engine::inspect::{ContainerInspect, ContainerList, ContainerRename};
use crate::engine::logs::ContainerLogs;
use crate::engine::remove::ContainerRemove;
use crate::engine::start::ContainerStart;
use crate::engine::stop::{ContainerKill, ContainerStop};
use crate::engine::wait::{Condition, ContainerWait};
use crate::engine::Engine;
use crate::error::{Error, Kind, Result};
use crate::util::jsonlog::Stream;
use std::io::Write;
use std::time::Duration;

pub fn list(e: &Engine, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let limit = q.int("limit")?.filter(|n| *n > 0).unwrap_or(0) as usize;
    let cs = e.run(ContainerList { all: q.flag("all", false), limit, filters: q.filters()? })?;
    let now = crate::util::time::now_nanos();
    let list: Vec<ContainerSummary> = cs.iter().map(|c| ContainerSummary::from(c, now)).collect();
    out.json(200, &list)
}

pub fn create(e: &Engine, req: &mut Request, out: &mut Out) -> Result<()> {
    let name = Query::of(req).get("name").map(str::to_string);
    let body: CreateBody = json_body(req)?;
    if body.config.image.is_empty() {
        return Err(Error::invalid("config cannot be empty in order to create a container"));
    }
    let (spec, mut warnings) = body.into_spec();
    let created = e.run(ContainerCreate { name, spec })?;
    warnings.extend(created.warnings);
    out.json(201, &serde_json::json!({ "Id": created.id, "Warnings": warnings }))
}

pub fn inspect(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let size = Query::of(req).flag("size", false);
    let d = e.run(ContainerInspect { id: id.to_string(), size })?;
    out.json(200, &ContainerJson::from(&d))
}

pub fn start(e: &Engine, id: &str, out: &mut Out) -> Result<()> {
    e.run(ContainerStart { id: id.to_string() })?;
    out.empty(204)
}

fn stop_timeout(q: &Query) -> Result<Option<i64>> {
    q.int("t").or_else(|_| q.int("timeout"))
}

pub fn stop(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    e.run(ContainerStop { id: id.to_string(), timeout: stop_timeout(&q)? })?;
    out.empty(204)
}

pub fn restart(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    match e.run(ContainerStop { id: id.to_string(), timeout: stop_timeout(&q)? }) {
        Err(err) if err.kind != Kind::NotModified => return Err(err),
        _ => {}
    }
    match e.run(ContainerStart { id: id.to_string() }) {
        Err(err) if err.kind != Kind::NotModified => Err(err),
        _ => out.empty(204),
    }
}

pub fn kill(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let signal = Query::of(req).get("signal").unwrap_or("").to_string();
    e.run(ContainerKill { id: id.to_string(), signal })?;
    out.empty(204)
}

pub fn rename(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let name = Query::of(req).get("name").unwrap_or("").to_string();
    e.run(ContainerRename { id: id.to_string(), name })?;
    out.empty(204)
}

pub fn remove(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    e.run(ContainerRemove { id: id.to_string(), force: q.flag("force", false) })?;
    out.empty(204)
}

/// How often a blocked stream checks that its client is still there.
const CLIENT_POLL: Duration = Duration::from_millis(500);

pub fn wait(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let condition = Condition::parse(Query::of(req).get("condition").unwrap_or(""))?;
    let waiter = e.run(ContainerWait { id: id.to_string(), condition })?;
    // The head goes out now: `docker run` sends `start` only once it has it.
    let mut w = out.stream(200, Some("application/json"))?;
    let gone = || w.peer_closed();
    let code = waiter.wait(&gone, CLIENT_POLL);
    if let Some(code) = code {
        let body = format!("{{\"Error\":null,\"StatusCode\":{code}}}\n");
        w.write_all(body.as_bytes()).map_err(io_err)?;
        w.finish().map_err(io_err)?;
    }
    Ok(())
}

pub fn attach(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let tty = e.lookup(id)?.lock().0.spec.tty;
    let (stdin, stdout, stderr) = (q.flag("stdin", false), q.flag("stdout", false), q.flag("stderr", false));
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    // Before the 101: the client starts the container as soon as it reads it.
    let _intent = e.attach_intent(id)?;
    let mut conn = out.hijack(content_type)?;
    let preread = conn.take_buffered();
    let stream = AttachStream { conn: conn.into_fd(), stdin, stdout, stderr, preread };
    e.run(ContainerAttach { id: id.to_string(), stream })
}

pub fn resize(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let dim = |k: &str| -> Result<u16> {
        let v = q.int(k)?.unwrap_or(0);
        u16::try_from(v).map_err(|_| Error::invalid(format!("invalid {k}: {v}")))
    };
    e.run(ContainerResize { id: id.to_string(), rows: dim("h")?, cols: dim("w")? })?;
    out.empty(200)
}

pub fn logs(e: &Engine, id: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let (stdout, stderr) = (q.flag("stdout", false), q.flag("stderr", false));
    if !stdout && !stderr {
        return Err(Error::invalid("Bad parameters: you must choose at least one stream"));
    }
    let tail = match q.get("tail") {
        None | Some("") | Some("all") => None,
        Some(n) => Some(n.parse::<i64>().map_err(|_| Error::invalid(format!("invalid tail: {n:?}")))?.max(0) as usize),
    };
    let time = |k: &str| -> Result<i64> {
        match q.get(k) {
            None | Some("") | Some("0") => Ok(0),
            Some(v) => crate::util::time::parse_timestamp(v)
                .ok_or_else(|| Error::invalid(format!("invalid value for {k}: {v:?}"))),
        }
    };
    let timestamps = q.flag("timestamps", false);
    let mut logs = e.run(ContainerLogs {
        id: id.to_string(),
        stdout,
        stderr,
        follow: q.flag("follow", false),
        tail,
        since: time("since")?,
        until: time("until")?,
    })?;
    let mut w = out.stream(200, None)?;
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let gone = || w.peer_closed();
        let Some(entry) = logs.next_entry(&gone) else { break };
        buf.clear();
        let ts = if timestamps {
            format!("{} ", crate::util::time::rfc3339_nanos_fixed(entry.time))
        } else {
            String::new()
        };
        let len = ts.len() + entry.log.len();
        if !logs.tty {
            let stream = match entry.stream {
                Stream::Stdout => 1u8,
                Stream::Stderr => 2u8,
            };
            buf.extend_from_slice(&[stream, 0, 0, 0]);
            buf.extend_from_slice(&(len as u32).to_be_bytes());
        }
        buf.extend_from_slice(ts.as_bytes());
        buf.extend_from_slice(&entry.log);
        if w.write_all(&buf).is_err() {
            return Ok(());
        }
    }
    w.finish().map_err(io_err)
}

fn io_err(e: std::io::Error) -> Error {
    Error::system(format!("write response: {e}"))
}
