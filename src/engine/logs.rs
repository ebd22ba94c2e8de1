//! `ContainerLogs`: read a container's json-file log (written by its monitor) with Docker's
//! options: `tail` (found by scanning back from the end, so huge logs cost little),
//! `since`/`until`, stream selection and `follow` (inotify on the file until the container
//! stops and the file is drained).

use super::{Ctr, Engine, Job};
use crate::error::{Context, Result};
use crate::util::jsonlog::{self, Entry, Stream};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

pub struct ContainerLogs {
    pub id: String,
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    /// Last N lines only.
    pub tail: Option<usize>,
    /// Nanoseconds; 0 = no bound.
    pub since: i64,
    pub until: i64,
}

pub struct LogStream {
    ctr: Arc<Ctr>,
    reader: BufReader<File>,
    pub tty: bool,
    stdout: bool,
    stderr: bool,
    follow: bool,
    since: i64,
    until: i64,
    watch: Option<nix::sys::inotify::Inotify>,
    line: Vec<u8>,
}

impl Job for ContainerLogs {
    type Output = LogStream;
    const NAME: &'static str = "ContainerLogs";
    const READ_ONLY: bool = true;

    fn target(&self) -> String {
        self.id.clone()
    }

    fn run(self, e: &Engine) -> Result<LogStream> {
        let ctr = e.lookup(&self.id)?;
        let tty = ctr.lock().0.spec.tty;
        let path = e.log_path(&ctr.id);
        let mut file = File::open(&path).ctx(|| format!("open log {}", path.display()))?;
        if let Some(n) = self.tail {
            let start = tail_offset(&mut file, n).ctx(|| "read log")?;
            file.seek(SeekFrom::Start(start)).ctx(|| "seek log")?;
        }
        let watch = if self.follow {
            use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
            let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)?;
            ino.add_watch(&path, AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE)?;
            Some(ino)
        } else {
            None
        };
        Ok(LogStream {
            ctr,
            reader: BufReader::with_capacity(64 * 1024, file),
            tty,
            stdout: self.stdout,
            stderr: self.stderr,
            follow: self.follow,
            since: self.since,
            until: self.until,
            watch,
            line: Vec::new(),
        })
    }
}

impl LogStream {
    /// The next entry to send, or None at the end (for `follow`: once the container is not
    /// running and the file is drained, or when `gone()` says the client left).
    pub fn next_entry(&mut self, gone: &dyn Fn() -> bool) -> Option<Entry> {
        loop {
            // A line is complete only with its newline: a partial last line is the monitor
            // in mid-write, to be finished on the next read.
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {}
                Ok(_) if self.line.ends_with(b"\n") => {
                    let line = std::mem::take(&mut self.line);
                    let Some(entry) = jsonlog::decode(&line) else { continue };
                    if self.until != 0 && entry.time > self.until {
                        return None;
                    }
                    let wanted = match entry.stream {
                        Stream::Stdout => self.stdout,
                        Stream::Stderr => self.stderr,
                    };
                    if wanted && entry.time >= self.since {
                        return Some(entry);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
            // At the end of the file.
            if !self.follow || gone() {
                return None;
            }
            if !self.ctr.lock().0.running() {
                // The monitor writes its last lines before it reports the exit, so one more
                // read drains everything.
                self.follow = false;
                continue;
            }
            self.wait_for_growth();
        }
    }

    fn wait_for_growth(&mut self) {
        use std::os::fd::AsFd;
        let Some(ino) = &self.watch else { return };
        let mut fds = [nix::poll::PollFd::new(ino.as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(250u16));
        let _ = ino.read_events();
    }
}

/// The offset where the last `n` lines of the file begin.
fn tail_offset(file: &mut File, n: usize) -> std::io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut pos = len;
    let mut seen = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    // The file ends with '\n', which terminates the last line and does not start one.
    let mut skip_last = true;
    while pos > 0 {
        let step = (pos as usize).min(buf.len());
        pos -= step as u64;
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut buf[..step])?;
        for i in (0..step).rev() {
            if buf[i] == b'\n' {
                if skip_last && pos + i as u64 == len - 1 {
                    skip_last = false;
                    continue;
                }
                seen += 1;
                if seen == n {
                    return Ok(pos + i as u64 + 1);
                }
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn tail_finds_the_last_lines() {
        let t = TempDir::new("tail");
        let p = t.path().join("log");
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::write(&p, &text).unwrap();
        let mut f = File::open(&p).unwrap();
        let off = tail_offset(&mut f, 3).unwrap();
        assert_eq!(&text[off as usize..], "line 9997\nline 9998\nline 9999\n");
        assert_eq!(tail_offset(&mut f, 0).unwrap(), text.len() as u64);
        assert_eq!(tail_offset(&mut f, 20_000).unwrap(), 0);
        std::fs::write(&p, "").unwrap();
        let mut f = File::open(&p).unwrap();
        assert_eq!(tail_offset(&mut f, 5).unwrap(), 0);
    }
}
