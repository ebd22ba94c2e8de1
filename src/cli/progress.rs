//! JSON progress streams (pull, push, load, import, the pull of `run`) shown the way the
//! docker CLI's jsonmessage package shows them. On a terminal each layer keeps its own
//! line, redrawn in place: a new id adds a line, and every update moves the cursor up to
//! its line (ESC[nA), erases it (ESC[2K), writes "id: status bar" ending in "\r", and moves
//! back down (ESC[nB); a line without progress forgets the layer lines. Without a terminal
//! only status changes are printed, never byte progress. Bars are drawn here from
//! `progressDetail` (the daemon's own `progress` text is shown only when there is no
//! detail), wide ones only on terminals wider than 110 columns. Readers and writers in;
//! whether the output is a terminal, its width and the clock are passed in.

use super::units::human_size_precision;
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;

/// Where the stream is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A terminal this many columns wide (0 when it does not say).
    Terminal(u16),
    Plain,
}

/// How progress shows on `f`: a terminal of its width (0 when it reports none, which
/// leaves bars out), else plain lines.
pub fn output_of<F: AsFd + IsTerminal>(f: &F) -> Output {
    if f.is_terminal() {
        Output::Terminal(crate::sys::tty::window_size(f.as_fd()).map_or(0, |(_, cols)| cols))
    } else {
        Output::Plain
    }
}

/// docker's `progressDetail`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Detail {
    current: i64,
    total: i64,
    /// Unix seconds the transfer began, for the time left.
    start: i64,
}

/// One message, with what the display needs.
struct Message<'a> {
    id: &'a str,
    status: &'a str,
    stream: &'a str,
    /// The daemon's drawn bar (docker's deprecated `progress`).
    progress: &'a str,
    detail: Option<Detail>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

impl<'a> Message<'a> {
    fn of(v: &'a Value) -> Message<'a> {
        let detail = v["progressDetail"].as_object().map(|d| {
            let n = |k: &str| d.get(k).and_then(Value::as_i64).unwrap_or(0);
            Detail {
                current: n("current"),
                total: n("total"),
                start: n("start"),
            }
        });
        Message {
            id: str_of(v, "id"),
            status: str_of(v, "status"),
            stream: str_of(v, "stream"),
            progress: str_of(v, "progress"),
            detail,
        }
    }
}

/// A Go duration rounded to seconds, as `time.Duration.String` writes it ("1m5s", "3s").
fn go_duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// docker's progress text for a terminal `width` columns wide at time `now`:
/// "[=====>      ]  12.3MB/45.6MB 5s".
fn bar(d: Detail, width: u16, now: i64) -> String {
    if d.current <= 0 && d.total <= 0 {
        return String::new();
    }
    let size = |n: i64| human_size_precision(n, 4);
    if d.total <= 0 {
        return format!("{:>8}", size(d.current));
    }
    let percent = ((d.current as f64 / d.total as f64 * 100.0) as i64 / 2).min(50);
    let mut out = String::new();
    if width > 110 {
        let spaces = (50 - percent).max(0) as usize;
        out.push_str(&format!(
            "[{}>{}] ",
            "=".repeat(percent.max(0) as usize),
            " ".repeat(spaces)
        ));
    }
    if d.current > d.total {
        out.push_str(&format!("{:>8}", size(d.current)));
    } else {
        out.push_str(&format!("{:>8}/{}", size(d.current), size(d.total)));
    }
    if d.current > 0 && d.start > 0 && percent < 50 && width > 50 {
        let elapsed = (now - d.start).max(0) as f64;
        let left = (elapsed / d.current as f64 * (d.total - d.current) as f64).round() as i64;
        out.push_str(&format!(" {}", go_duration(left)));
    }
    out
}

/// The failure a message reports (`errorDetail`, or the older bare `error`).
fn error_of(v: &Value) -> Option<&str> {
    if !v["errorDetail"].is_object() && !v["error"].is_string() {
        return None;
    }
    Some(
        v["errorDetail"]["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .or(v["error"].as_str())
            .unwrap_or("unknown error"),
    )
}

/// The renderer's state between messages: the line each layer id holds.
pub struct Display<W: Write> {
    out: W,
    output: Output,
    lines: HashMap<String, usize>,
    now: fn() -> i64,
}

fn unix_now() -> i64 {
    crate::util::time::now_nanos() / 1_000_000_000
}

/// Shows a whole stream; `aux` receives each `aux` object (push's digest, for instance).
/// An `errorDetail` in the stream ends it with that message as the error.
pub fn show<R: Read, W: Write>(
    stream: R,
    out: W,
    output: Output,
    aux: &mut dyn FnMut(&Value),
) -> Result<()> {
    let mut d = Display::new(out, output, unix_now);
    let stream = std::io::BufReader::new(stream);
    for v in serde_json::Deserializer::from_reader(stream).into_iter::<Value>() {
        let v = v.map_err(|e| {
            if e.is_io() {
                Error::system(format!("read the progress stream: {e}"))
            } else {
                Error::invalid(format!("decode the progress stream: {e}"))
            }
        })?;
        if !v["aux"].is_null() {
            aux(&v["aux"]);
            continue;
        }
        d.message(&v)?;
    }
    Ok(())
}

impl<W: Write> Display<W> {
    pub fn new(out: W, output: Output, now: fn() -> i64) -> Display<W> {
        Display {
            out,
            output,
            lines: HashMap::new(),
            now,
        }
    }

    /// Shows one message (not an `aux` one); an error message becomes the error.
    pub fn message(&mut self, v: &Value) -> Result<()> {
        let m = Message::of(v);
        let width = match self.output {
            Output::Terminal(w) => Some(w),
            Output::Plain => None,
        };
        let mut text = String::new();
        let mut up = 0;
        if !m.id.is_empty() && (m.detail.is_some() || !m.progress.is_empty()) {
            let n = self.lines.len();
            let line = *self.lines.entry(m.id.to_string()).or_insert_with(|| {
                if width.is_some() {
                    text.push('\n');
                }
                n
            });
            up = self.lines.len() - line;
            if width.is_some() && up > 0 {
                text.push_str(&format!("\x1b[{up}A"));
            }
        } else {
            // Not progress: older layer lines must not be redrawn (pull -a moves on to
            // another tag).
            self.lines.clear();
        }
        let error = error_of(v);
        if error.is_none() {
            text.push_str(&self.line(&m, width));
        }
        if width.is_some() && !m.id.is_empty() && up > 0 {
            text.push_str(&format!("\x1b[{up}B"));
        }
        self.out
            .write_all(text.as_bytes())
            .and_then(|_| self.out.flush())
            .map_err(|e| Error::system(format!("write progress: {e}")))?;
        match error {
            Some(msg) => Err(Error::system(msg.to_string())),
            None => Ok(()),
        }
    }

    /// jsonmessage's `Display` for one message.
    fn line(&self, m: &Message<'_>, width: Option<u16>) -> String {
        let mut s = String::new();
        let mut end = "";
        if width.is_some() && m.stream.is_empty() && m.detail.is_some() {
            s.push_str("\x1b[2K\r");
            end = "\r";
        } else if m.detail.is_some_and(|d| d.current > 0 || d.total > 0) {
            // Byte progress is for terminals only.
            return s;
        }
        if !m.id.is_empty() {
            s.push_str(m.id);
            s.push_str(": ");
        }
        match (width, m.detail) {
            (Some(w), Some(d)) => {
                s.push_str(&format!("{} {}{end}", m.status, bar(d, w, (self.now)())))
            }
            _ if !m.progress.is_empty() => s.push_str(&format!("{} {}{end}", m.status, m.progress)),
            _ if !m.stream.is_empty() => s.push_str(&format!("{}{end}", m.stream)),
            _ => s.push_str(&format!("{}{end}\n", m.status)),
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams captured from dockerd (transcripts/pull.md, push.md, load-tty.md,
    /// err-pull-midstream.md), one JSON document per line.
    const PULL: &str = include_str!("testdata/progress-pull.jsonl");
    const PUSH: &str = include_str!("testdata/progress-push.jsonl");
    const LOAD: &str = include_str!("testdata/progress-load.jsonl");
    const BROKEN: &str = include_str!("testdata/progress-pull-broken.jsonl");

    fn render(stream: &str, output: Output) -> (String, Result<()>, Vec<Value>) {
        let mut out = Vec::new();
        let mut auxes = Vec::new();
        let r = {
            let mut d = Display::new(&mut out, output, || 1_795_893_026);
            let mut r = Ok(());
            for line in stream.lines().filter(|l| !l.is_empty()) {
                let v: Value = serde_json::from_str(line).expect("json");
                if !v["aux"].is_null() {
                    auxes.push(v["aux"].clone());
                    continue;
                }
                r = d.message(&v);
                if r.is_err() {
                    break;
                }
            }
            r
        };
        (String::from_utf8(out).expect("utf8"), r, auxes)
    }

    #[test]
    fn pull_without_a_terminal_shows_status_changes_only() {
        let (out, r, _) = render(PULL, Output::Plain);
        assert!(r.is_ok());
        assert_eq!(
            out,
            concat!(
                "v1: Pulling from capture/busybox\n",
                "b10f72138379: Pulling fs layer\n",
                "b10f72138379: Download complete\n",
                "b10f72138379: Pull complete\n",
                "Digest: sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24\n",
                "Status: Downloaded newer image for 127.0.0.1:5066/capture/busybox:v1\n",
            )
        );
    }

    #[test]
    fn push_without_a_terminal() {
        let (out, r, aux) = render(PUSH, Output::Plain);
        assert!(r.is_ok());
        assert_eq!(
            out,
            concat!(
                "The push refers to repository [127.0.0.1:5066/capture/busybox]\n",
                "42ae84c9670b: Preparing\n",
                "42ae84c9670b: Pushed\n",
                "v1: digest: sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24 size: 527\n",
            )
        );
        assert_eq!(aux[0]["Size"], 527);
    }

    #[test]
    fn load_on_a_terminal_matches_the_capture() {
        // load-tty.md: script(1) gave the CLI a terminal that reported no width, so no bar.
        let (out, r, _) = render(LOAD, Output::Terminal(0));
        assert!(r.is_ok());
        assert_eq!(
            out,
            concat!(
                "\n\x1b[1A\x1b[2K\rce7cfe8d555d: Loading layer   2.56kB/2.56kB\r\x1b[1B",
                "\x1b[1A\x1b[2K\rce7cfe8d555d: Loading layer   2.56kB/2.56kB\r\x1b[1B",
                "Loaded image: capture/committed:v1\n",
            )
        );
        let (plain, _, _) = render(LOAD, Output::Plain);
        assert_eq!(plain, "Loaded image: capture/committed:v1\n");
    }

    #[test]
    fn pull_on_a_wide_terminal_redraws_each_layer_line() {
        let (out, r, _) = render(PULL, Output::Terminal(200));
        assert!(r.is_ok());
        let id = "b10f72138379";
        let redraw = |text: &str| format!("\x1b[1A\x1b[2K\r{id}: {text}\r\x1b[1B");
        let want = [
            "v1: Pulling from capture/busybox\n".to_string(),
            format!("\n{}", redraw("Pulling fs layer ")),
            redraw(&format!(
                "Downloading [=>{}]  32.77kB/1.069MB",
                " ".repeat(49)
            )),
            redraw("Download complete "),
            redraw(&format!(
                "Extracting [=>{}]  32.77kB/1.069MB",
                " ".repeat(49)
            )),
            redraw(&format!(
                "Extracting [===================>{}]    426kB/1.069MB",
                " ".repeat(31)
            )),
            redraw(&format!(
                "Extracting [{}>]  1.069MB/1.069MB",
                "=".repeat(50)
            )),
            redraw(&format!(
                "Extracting [{}>]  1.069MB/1.069MB",
                "=".repeat(50)
            )),
            redraw("Pull complete "),
            "Digest: sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24\n"
                .into(),
            "Status: Downloaded newer image for 127.0.0.1:5066/capture/busybox:v1\n".into(),
        ]
        .concat();
        assert_eq!(out, want);
    }

    #[test]
    fn several_layers_keep_their_lines() {
        let stream = concat!(
            "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n",
            "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaaaaaaaaaaa\"}\n",
            "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bbbbbbbbbbbb\"}\n",
            "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":500,\"total\":1000},\"id\":\"aaaaaaaaaaaa\"}\n",
            "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"bbbbbbbbbbbb\"}\n",
        );
        let (out, _, _) = render(stream, Output::Terminal(80));
        assert_eq!(
            out,
            concat!(
                "latest: Pulling from library/busybox\n",
                "\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Pulling fs layer \r\x1b[1B",
                "\n\x1b[1A\x1b[2K\rbbbbbbbbbbbb: Pulling fs layer \r\x1b[1B",
                "\x1b[2A\x1b[2K\raaaaaaaaaaaa: Downloading     500B/1kB\r\x1b[2B",
                "\x1b[1A\x1b[2K\rbbbbbbbbbbbb: Already exists \r\x1b[1B",
            )
        );
    }

    #[test]
    fn bars_and_time_left() {
        let d = |current, total, start| Detail {
            current,
            total,
            start,
        };
        assert_eq!(bar(d(0, 0, 0), 200, 0), "");
        assert_eq!(bar(d(2004480, 0, 0), 200, 0), " 2.004MB");
        // More than the total: the count alone (push.md's "2.13MB").
        assert_eq!(bar(d(2129920, 1984189, 0), 80, 0), "  2.13MB");
        assert_eq!(
            bar(d(2129920, 1984189, 0), 200, 0),
            format!("[{}>]   2.13MB", "=".repeat(50))
        );
        // A quarter done after 10 s: 30 s left, shown on terminals wider than 50.
        assert_eq!(bar(d(250, 1000, 100), 80, 110), "    250B/1kB 30s");
        assert_eq!(bar(d(250, 1000, 100), 40, 110), "    250B/1kB");
        assert_eq!(go_duration(65), "1m5s");
        assert_eq!(go_duration(3725), "1h2m5s");
    }

    #[test]
    fn an_error_in_the_stream_ends_it() {
        let (out, r, _) = render(BROKEN, Output::Plain);
        assert_eq!(
            r.unwrap_err().message,
            "filesystem layer verification failed for digest sha256:46ac56b46589ee56cd0683a4080039686854e22624bfc0e7e0bd39fc232f3020"
        );
        assert_eq!(
            out,
            concat!(
                "v1: Pulling from capture/broken\n",
                "b10f72138379: Already exists\n",
                "46ac56b46589: Pulling fs layer\n",
                "46ac56b46589: Verifying Checksum\n",
            )
        );
    }

    #[test]
    fn whole_streams_with_aux() {
        let mut aux = Vec::new();
        let mut out = Vec::new();
        show(PUSH.as_bytes(), &mut out, Output::Plain, &mut |a| {
            aux.push(a.clone())
        })
        .unwrap();
        assert_eq!(aux.len(), 1);
        assert!(String::from_utf8(out).unwrap().ends_with("size: 527\n"));
        // Go's decoder takes documents back to back, without newlines.
        let mut out = Vec::new();
        show(
            &b"{\"status\":\"a\"}{\"status\":\"b\"}"[..],
            &mut out,
            Output::Plain,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(out, b"a\nb\n");
        let e = show(
            &b"{\"status\":\"a\"}\nnot json"[..],
            Vec::new(),
            Output::Plain,
            &mut |_| {},
        );
        assert!(e
            .unwrap_err()
            .message
            .starts_with("decode the progress stream"));
        // import.md: the new image's ID as a status.
        let mut out = Vec::new();
        show(
            &b"{\"status\":\"sha256:909a\"}\n"[..],
            &mut out,
            Output::Plain,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(out, b"sha256:909a\n");
    }
}
