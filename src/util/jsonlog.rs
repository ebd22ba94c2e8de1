//! Docker's json-file log format, one JSON object per line:
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-28T19:12:14.151913362Z"}`.
//! The monitor writes it (encode), the engine reads it back for `logs` (decode).

use serde::Deserialize;

/// Which output stream a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One decoded log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub stream: Stream,
    /// Nanoseconds since the epoch.
    pub time: i64,
    pub log: Vec<u8>,
}

/// Appends the JSON line for `data` to `out`. Bytes that are not valid UTF-8 become U+FFFD,
/// as in Docker (the format stores strings).
pub fn encode(out: &mut Vec<u8>, stream: Stream, time_nanos: i64, data: &[u8]) {
    out.extend_from_slice(b"{\"log\":\"");
    escape_into(out, &String::from_utf8_lossy(data));
    out.extend_from_slice(b"\",\"stream\":\"");
    out.extend_from_slice(stream.name().as_bytes());
    out.extend_from_slice(b"\",\"time\":\"");
    out.extend_from_slice(super::time::rfc3339_nanos(time_nanos).as_bytes());
    out.extend_from_slice(b"\"}\n");
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

/// Decodes one line (without or with its trailing newline). Malformed lines give `None`
/// and are skipped by readers, as a torn last line after a crash would be.
pub fn decode(line: &[u8]) -> Option<Entry> {
    let l: Line = serde_json::from_slice(line).ok()?;
    let stream = match l.stream.as_str() {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let time = super::time::parse_rfc3339(&l.time)?;
    Some(Entry { stream, time, log: l.log.into_bytes() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut out = Vec::new();
        encode(&mut out, Stream::Stderr, 1_795_893_095_181_347_940, b"a \"q\" <b>\n");
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            "{\"log\":\"a \\\"q\\\" \\u003cb\\u003e\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-28T19:11:35.18134794Z\"}\n"
        );
        let e = decode(&out).unwrap();
        assert_eq!(e.stream, Stream::Stderr);
        assert_eq!(e.log, b"a \"q\" <b>\n");
        assert_eq!(e.time, 1_795_893_095_181_347_940);
        assert!(decode(b"{\"log\":\"x").is_none());
    }
}
