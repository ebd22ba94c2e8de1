//! Reading one blob: a stream of at most the size the manifest declared, hashed as it
//! passes and checked against its digest at the end, resumed with `Range: bytes=N-` after
//! a broken or stalled connection when the registry serves ranges. Errors are io::Errors
//! whose text names the blob, so whoever copies the stream reports the right object. It
//! never buffers the blob: memory stays at one read buffer whatever the size.

use super::transport::{self, Request, Transport};
use super::Credentials;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::sync::Arc;

/// Resumes in a row that deliver no byte before the blob is given up.
const MAX_RESUMES_WITHOUT_PROGRESS: u32 = 3;
/// Resumes of one blob in all.
const MAX_RESUMES: u32 = 10;

type Body = Box<dyn Read + Send + Sync>;

/// A blob being read: at most `size` bytes, sha256-checked at the end (a mismatch, a short
/// or a long body is an error naming the blob), resumed with a Range request after a
/// broken or stalled connection when the registry supports ranges. Read it to EOF (or
/// call `finish`): only then has the digest been checked.
pub struct Blob {
    transport: Arc<Transport>,
    base: String,
    url: String,
    creds: Option<Credentials>,
    scopes: Vec<String>,
    digest: String,
    size: u64,
    body: Option<Body>,
    received: u64,
    hasher: Sha256,
    /// The registry said it serves byte ranges (Accept-Ranges: bytes, or a 206).
    ranges: bool,
    resumes: u32,
    resumes_without_progress: u32,
    received_at_last_resume: u64,
    done: bool,
    /// The error that ended the stream; later reads repeat it.
    failed: Option<String>,
}

impl Blob {
    /// Sends the first GET and checks the answer. `url` is the blob's registry URL; it is
    /// asked again (through auth and redirects) to resume.
    pub(super) fn open(
        transport: Arc<Transport>,
        base: &str,
        url: String,
        creds: Option<&Credentials>,
        scopes: Vec<String>,
        digest: &str,
        size: u64,
    ) -> Result<Blob> {
        let mut blob = Blob {
            transport,
            base: base.to_string(),
            url,
            creds: creds.cloned(),
            scopes,
            digest: digest.to_string(),
            size,
            body: None,
            received: 0,
            hasher: Sha256::new(),
            ranges: false,
            resumes: 0,
            resumes_without_progress: 0,
            received_at_last_resume: 0,
            done: false,
            failed: None,
        };
        let resp = blob.transport.send(&blob.base, blob.creds.as_ref(), Request::new("GET", blob.url.clone(), blob.scopes.clone()))?;
        match resp.status() {
            200 => {}
            404 => {
                let (_, msg) = transport::read_error(resp);
                return Err(Error::not_found(format!("blob {digest} not found: {msg}")));
            }
            _ => {
                let (kind, msg) = transport::read_error(resp);
                return Err(Error::new(kind, format!("blob {digest}: {msg}")));
            }
        }
        if let Some(len) = resp.header("Content-Length").and_then(|l| l.trim().parse::<u64>().ok()) {
            if len > size {
                return Err(Error::system(blob.too_long()));
            }
        }
        blob.ranges = resp.header("Accept-Ranges").is_some_and(|v| v.split(',').any(|u| u.trim().eq_ignore_ascii_case("bytes")));
        blob.body = Some(resp.into_reader());
        Ok(blob)
    }

    /// Reads what is left (discarding it) and checks the digest: for a consumer that
    /// stops before EOF, as a gzip decoder does at the end of its member.
    pub fn finish(mut self) -> Result<()> {
        io::copy(&mut self, &mut io::sink()).map_err(|e| Error::system(e.to_string()))?;
        Ok(())
    }

    fn too_long(&self) -> String {
        format!("blob {}: registry sent more than the {} bytes the manifest declared", self.digest, self.size)
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> std::result::Result<usize, String> {
        loop {
            if self.done {
                return Ok(0);
            }
            let body = match self.body.as_mut() {
                Some(b) => b,
                None => {
                    self.body = Some(self.resume()?);
                    continue;
                }
            };
            let cause = match body.read(buf) {
                Ok(0) if self.received == self.size => {
                    self.body = None;
                    self.done = true;
                    let got = format!("sha256:{}", crate::util::id::hex(&self.hasher.clone().finalize()));
                    if got != self.digest {
                        return Err(format!("blob {}: digest mismatch: the registry sent content with digest {got}", self.digest));
                    }
                    return Ok(0);
                }
                Ok(0) => "the connection closed early".to_string(),
                Ok(n) => {
                    if self.received + n as u64 > self.size {
                        return Err(self.too_long());
                    }
                    self.hasher.update(&buf[..n]);
                    self.received += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                    format!("stalled: no data for {:?}", self.transport.options.stall_timeout)
                }
                Err(e) => e.to_string(),
            };
            self.body = None;
            let at = format!("after {} of {} bytes", self.received, self.size);
            if !self.ranges {
                return Err(format!("blob {}: {cause} {at} (the registry does not offer ranges to resume)", self.digest));
            }
            if self.received > self.received_at_last_resume {
                self.resumes_without_progress = 0;
            }
            if self.resumes >= MAX_RESUMES || self.resumes_without_progress >= MAX_RESUMES_WITHOUT_PROGRESS {
                return Err(format!("blob {}: {cause} {at}; gave up after {} resumes", self.digest, self.resumes));
            }
            self.resumes += 1;
            self.resumes_without_progress += 1;
            self.received_at_last_resume = self.received;
            log_info!("registry: blob {}: {cause} {at}; resuming", self.digest);
        }
    }

    /// Asks again for the rest: `Range: bytes=N-` must come back 206 from byte N.
    fn resume(&mut self) -> std::result::Result<Body, String> {
        let from = self.received;
        let req = Request::new("GET", self.url.clone(), self.scopes.clone()).header("Range", format!("bytes={from}-"));
        let resp = self
            .transport
            .send(&self.base, self.creds.as_ref(), req)
            .map_err(|e| format!("blob {}: resume at byte {from}: {e}", self.digest))?;
        match resp.status() {
            206 => {}
            200 => {
                return Err(format!(
                    "blob {}: resume at byte {from} of {}: the registry ignored the Range request (answered 200)",
                    self.digest, self.size
                ))
            }
            _ => {
                let (_, msg) = transport::read_error(resp);
                return Err(format!("blob {}: resume at byte {from}: {msg}", self.digest));
            }
        }
        let start = resp
            .header("Content-Range")
            .and_then(|r| r.trim().strip_prefix("bytes "))
            .and_then(|r| r.split('-').next())
            .and_then(|s| s.trim().parse::<u64>().ok());
        if start != Some(from) {
            return Err(format!(
                "blob {}: resume at byte {from}: the registry answered with another range ({:?})",
                self.digest,
                resp.header("Content-Range").unwrap_or("")
            ));
        }
        Ok(resp.into_reader())
    }
}

impl Read for Blob {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::other(e.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        self.read_inner(buf).map_err(|e| {
            self.body = None;
            self.failed = Some(e.clone());
            io::Error::other(e)
        })
    }
}
