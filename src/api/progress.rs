//! Docker's JSON progress stream (pull, push, load): one JSON object per line, each flushed
//! as its own chunk as soon as the engine reports it. The stream starts with the first
//! report, so a job that fails before saying anything still gets a plain HTTP error (what
//! the docker CLI expects for, e.g., a missing manifest); an error after that travels
//! inside the stream as `errorDetail`. A client that goes away makes the sink report
//! `cancelled`, which lets the job stop.

use super::http::ChunkedWriter;
use super::Out;
use crate::engine::progress::{Progress, Report};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub struct StreamSink<'a> {
    state: Mutex<State<'a>>,
    gone: AtomicBool,
}

struct State<'a> {
    out: &'a mut Out,
    writer: Option<ChunkedWriter>,
}

impl<'a> StreamSink<'a> {
    pub fn new(out: &'a mut Out) -> StreamSink<'a> {
        StreamSink { state: Mutex::new(State { out, writer: None }), gone: AtomicBool::new(false) }
    }

    /// Sends one JSON object (starting the stream if needed).
    pub fn send(&self, v: &Value) {
        let mut line = v.to_string();
        line.push('\n');
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.writer.is_none() {
            match st.out.stream(200, Some("application/json")) {
                Ok(w) => st.writer = Some(w),
                Err(_) => {
                    self.gone.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        if let Some(w) = st.writer.as_mut() {
            if w.write_all(line.as_bytes()).is_err() {
                self.gone.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Ends the job: its error goes into the stream if one was started, else back to the
    /// caller as a plain HTTP error.
    pub fn finish(self, result: Result<()>) -> Result<()> {
        let started = self.state.lock().unwrap_or_else(|p| p.into_inner()).writer.is_some();
        match result {
            Err(e) if !started => Err(e),
            Err(e) => {
                self.send(&json!({ "errorDetail": { "message": e.message }, "error": e.message }));
                self.close()
            }
            Ok(()) => {
                if !started {
                    // A job that reported nothing still answers with an (empty) stream.
                    let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if let Ok(w) = st.out.stream(200, Some("application/json")) {
                        st.writer = Some(w);
                    }
                }
                self.close()
            }
        }
    }

    fn close(self) -> Result<()> {
        let st = self.state.into_inner().unwrap_or_else(|p| p.into_inner());
        match st.writer {
            Some(w) => w.finish().map_err(|e| Error::system(format!("write response: {e}"))),
            None => Ok(()),
        }
    }
}

impl Progress for StreamSink<'_> {
    fn report(&self, r: Report) {
        self.send(&encode(&r));
    }

    fn cancelled(&self) -> bool {
        if self.gone.load(Ordering::Relaxed) {
            return true;
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let closed = st.writer.as_ref().is_some_and(|w| w.peer_closed());
        if closed {
            self.gone.store(true, Ordering::Relaxed);
        }
        closed
    }
}

/// A report as Docker's JSON message.
pub fn encode(r: &Report) -> Value {
    let mut v = json!({ "status": r.status });
    if let Some((current, total)) = r.bytes {
        v["progressDetail"] = match total {
            Some(t) => json!({ "current": current, "total": t }),
            None => json!({ "current": current }),
        };
        v["progress"] = json!(bar(current, total));
    } else if r.layer {
        v["progressDetail"] = json!({});
    }
    if let Some(id) = &r.id {
        v["id"] = json!(id);
    }
    v
}

/// Docker's progress bar: '=' for each of 50 columns done, a '>' head, then the
/// current size right-aligned in 8 columns and the total ("[=>   ]  32.77kB/1.069MB").
pub fn bar(current: u64, total: Option<u64>) -> String {
    match total {
        Some(t) if t > 0 => {
            let done = (current.min(t) * 50 / t) as usize;
            format!("[{}>{}] {:>8}/{}", "=".repeat(done), " ".repeat(50 - done), human_size(current), human_size(t))
        }
        _ => human_size(current),
    }
}

/// Docker's HumanSize: decimal units, four significant digits ("2.806MB", "32.77kB").
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 { 1 } else if v >= 10.0 { 2 } else { 3 };
    let mut s = format!("{v:.digits$}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    format!("{s}{}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_bars_read_like_docker() {
        assert_eq!(human_size(2_806_000), "2.806MB");
        assert_eq!(human_size(32_768), "32.77kB");
        assert_eq!(human_size(1_069_000), "1.069MB");
        assert_eq!(human_size(527), "527B");
        assert_eq!(human_size(100_000_000), "100MB");
        // As captured from dockerd (pull.md, load-tty.md).
        assert_eq!(bar(32768, Some(1069169)), format!("[=>{}]  32.77kB/1.069MB", " ".repeat(49)));
        assert_eq!(bar(425984, Some(1069169)), format!("[{}>{}]    426kB/1.069MB", "=".repeat(19), " ".repeat(31)));
        assert_eq!(bar(1069169, Some(1069169)), format!("[{}>]  1.069MB/1.069MB", "=".repeat(50)));
        assert_eq!(bar(2560, Some(2560)), format!("[{}>]   2.56kB/2.56kB", "=".repeat(50)));
    }

    #[test]
    fn reports_encode_like_docker() {
        let r = Report::bytes("abc", "Downloading", 5, Some(10));
        let v = encode(&r);
        assert_eq!(v["progressDetail"], json!({ "current": 5, "total": 10 }));
        assert_eq!(v["id"], "abc");
        let v = encode(&Report::line("abc", "Pull complete"));
        assert_eq!(v, json!({ "status": "Pull complete", "progressDetail": {}, "id": "abc" }));
        let v = encode(&Report::general("Digest: sha256:x"));
        assert_eq!(v, json!({ "status": "Digest: sha256:x" }));
        let v = encode(&Report::heading("v1", "Pulling from capture/busybox"));
        assert_eq!(v, json!({ "status": "Pulling from capture/busybox", "id": "v1" }));
    }
}
