#![allow(dead_code)] // used by the engine's pull/push (issue 3), wired by the integrator
//! Docker Registry HTTP API v2 / OCI distribution client: endpoints and transport (HTTPS with
//! the system's CA roots; plain HTTP only for loopback and `--insecure-registry` names),
//! authentication (anonymous and credentialed bearer tokens from `WWW-Authenticate`
//! challenges, cached per scope until they expire; HTTP basic), manifests (Docker schema2,
//! OCI manifest, manifest list, OCI index, with platform selection), blobs (size-bounded,
//! digest-verified, resumable with Range), and pushes (existence checks, cross-repository
//! mounts, uploads, manifest PUT). It knows nothing of the graph or the engine: callers get
//! bytes and streams, and decide what to keep.

pub mod auth;
mod blob;
pub mod manifest;
#[cfg(test)]
mod testreg;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
mod transport;

use crate::error::{Error, Kind, Result};
use crate::util::reference::{self, Reference};
pub use auth::Credentials;
pub use blob::Blob;
use manifest::Document;
pub use manifest::{Descriptor, Manifest, Platform};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use transport::{Body, Request, Transport};

/// Largest manifest or index accepted (Docker's own limit is 4 MiB).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;
/// Largest image config accepted.
pub const MAX_CONFIG: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Options {
    /// Registries reachable over plain HTTP besides loopback ones ("host:port", "host",
    /// or a CIDR such as "10.0.0.0/8", as dockerd's `--insecure-registry` takes them).
    pub insecure: Vec<String>,
    /// A blob read that delivers no byte for this long fails (and is resumed if it can).
    pub stall_timeout: Duration,
    /// Connection set-up timeout.
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options { insecure: Vec::new(), stall_timeout: Duration::from_secs(30), connect_timeout: Duration::from_secs(15) }
    }
}

/// One repository on one registry, as the client addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// "https://registry-1.docker.io", "http://127.0.0.1:5000".
    pub base: String,
    /// The name in the registry: "library/busybox".
    pub name: String,
    /// The registry as users name it ("docker.io", "127.0.0.1:5000"): the key for
    /// credentials in config.json and X-Registry-Auth.
    pub registry: String,
}

impl Repository {
    /// The name users see: "busybox", "127.0.0.1:5000/app".
    fn familiar(&self) -> String {
        reference::familiar(&format!("{}/{}", self.registry, self.name))
    }

    /// "busybox:latest" or "busybox@sha256:...", for messages.
    fn familiar_ref(&self, r: &str) -> String {
        let sep = if r.contains(':') { '@' } else { ':' };
        format!("{}{sep}{r}", self.familiar())
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.name)
    }

    fn pull_scope(&self) -> Vec<String> {
        vec![format!("repository:{}:pull", self.name)]
    }

    fn push_scope(&self) -> Vec<String> {
        vec![format!("repository:{}:pull,push", self.name)]
    }
}

/// An image manifest resolved from a tag or digest (an index already narrowed to one
/// platform).
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Digest of what the reference named (the index, when it was one): the
    /// `RepoDigests` entry.
    pub digest: String,
    /// The platform's image manifest.
    pub manifest: Manifest,
    /// Its digest (equal to `digest` when there was no index).
    pub manifest_digest: String,
}

/// The registry client. Cheap to share: one per daemon, used from every thread (the token
/// cache and connection pool are inside, behind their own locks).
pub struct Client {
    transport: Arc<Transport>,
}

/// Docker Hub's names for itself; all are served by registry-1.docker.io.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", crate::util::id::hex(&Sha256::digest(data)))
}

/// A tag or a digest: what may follow `/manifests/` in a URL.
fn check_reference(r: &str) -> Result<()> {
    if reference::valid_tag(r) || reference::valid_digest(r) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid tag or digest {r:?}")))
    }
}

fn check_digest(d: &str) -> Result<()> {
    if reference::valid_digest(d) {
        Ok(())
    } else {
        Err(Error::invalid(format!("invalid digest {d:?}")))
    }
}

impl Client {
    pub fn new(options: Options) -> Result<Client> {
        if let Some(bad) = options.insecure.iter().find(|s| s.trim().is_empty() || s.contains(char::is_whitespace)) {
            return Err(Error::invalid(format!("invalid insecure registry {bad:?}")));
        }
        Ok(Client { transport: Arc::new(Transport::new(options)) })
    }

    /// Where `r` lives: docker.io → registry-1.docker.io over HTTPS; loopback addresses,
    /// "localhost" and insecure registries over HTTP.
    pub fn repository(&self, r: &Reference) -> Repository {
        let (registry, host) = self.registry_host(&r.domain);
        let scheme = if self.transport.http_allowed(&host) { "http" } else { "https" };
        Repository { base: format!("{scheme}://{host}"), name: r.path.clone(), registry }
    }

    /// (name for credentials, host to connect to) of a registry as users write it.
    fn registry_host(&self, domain: &str) -> (String, String) {
        let d = domain.to_ascii_lowercase();
        if DOCKER_HUB.contains(&d.as_str()) {
            ("docker.io".to_string(), "registry-1.docker.io".to_string())
        } else {
            (d.clone(), d)
        }
    }

    /// Resolves a tag or digest to an image manifest for `platform` (an index or manifest
    /// list is narrowed to it; no match is an error listing what exists). A missing
    /// manifest is NotFound ("manifest for X not found: manifest unknown").
    pub fn resolve(&self, repo: &Repository, creds: Option<&Credentials>, reference: &str, platform: &Platform) -> Result<Resolved> {
        let (doc, digest) = self.get_manifest(repo, creds, reference, None)?;
        match doc {
            Document::Image(manifest) => Ok(Resolved { digest: digest.clone(), manifest, manifest_digest: digest }),
            Document::Index(index) => {
                let entry = index.choose(platform).map_err(|e| e.context(format!("manifest for {}", repo.familiar_ref(reference))))?;
                let (doc, manifest_digest) = self.get_manifest(repo, creds, &entry.digest, Some(entry.size))?;
                match doc {
                    Document::Image(manifest) => Ok(Resolved { digest, manifest, manifest_digest }),
                    Document::Index(_) => Err(Error::system(format!(
                        "manifest for {}: the index entry for {platform} is another index, which berth does not follow",
                        repo.familiar_ref(reference)
                    ))),
                }
            }
        }
    }

    /// GETs one manifest and checks it: the size bound, the digest asked for or the one
    /// the registry announces (Docker-Content-Digest), and `size` when an index gave one.
    fn get_manifest(
        &self,
        repo: &Repository,
        creds: Option<&Credentials>,
        reference: &str,
        size: Option<u64>,
    ) -> Result<(Document, String)> {
        check_reference(reference)?;
        let what = format!("manifest for {}", repo.familiar_ref(reference));
        let req = Request::new("GET", repo.url(&format!("manifests/{reference}")), repo.pull_scope()).header("Accept", manifest::ACCEPT);
        let resp = self.transport.send(&repo.base, creds, req)?;
        if resp.status() != 200 {
            let status = resp.status();
            let (kind, msg) = transport::read_error(resp);
            return Err(match (status, kind) {
                (401 | 403, _) => Error::not_found(format!(
                    "pull access denied for {}, repository does not exist or may require 'docker login': {msg}",
                    repo.familiar()
                )),
                (_, Kind::NotFound) => Error::not_found(format!("{what} not found: {msg}")),
                (_, kind) => Error::new(kind, format!("{what}: {msg}")),
            });
        }
        let content_type = resp.header("Content-Type").unwrap_or("").to_string();
        let announced = resp.header("Docker-Content-Digest").map(str::to_string);
        let mut body = Vec::new();
        resp.into_reader().take(MAX_MANIFEST + 1).read_to_end(&mut body).map_err(|e| Error::system(format!("{what}: read: {e}")))?;
        if body.len() as u64 > MAX_MANIFEST {
            return Err(Error::system(format!("{what}: larger than the {MAX_MANIFEST} bytes berth accepts")));
        }
        let digest = sha256_digest(&body);
        let expected =
            if reference::valid_digest(reference) { Some(reference.to_string()) } else { announced.filter(|d| d.starts_with("sha256:")) };
        if let Some(expected) = expected {
            if expected != digest {
                return Err(Error::system(format!(
                    "{what}: digest mismatch: the registry sent content with digest {digest}, not {expected}"
                )));
            }
        }
        if let Some(size) = size {
            if size != body.len() as u64 {
                return Err(Error::system(format!("{what}: the index says {size} bytes, the registry sent {}", body.len())));
            }
        }
        Ok((manifest::parse(&body, &content_type, &what)?, digest))
    }

    /// Reads a small blob (an image config) whole, within `limit` bytes, verified.
    pub fn fetch_blob(&self, repo: &Repository, creds: Option<&Credentials>, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        if desc.size > limit {
            return Err(Error::system(format!("blob {}: {} bytes is more than the {limit} berth accepts here", desc.digest, desc.size)));
        }
        let mut blob = self.open_blob(repo, creds, desc)?;
        let mut data = Vec::with_capacity(desc.size as usize);
        blob.read_to_end(&mut data).map_err(|e| Error::system(e.to_string()))?;
        Ok(data)
    }

    /// Opens a blob for streaming.
    pub fn open_blob(&self, repo: &Repository, creds: Option<&Credentials>, desc: &Descriptor) -> Result<Blob> {
        check_digest(&desc.digest)?;
        let url = repo.url(&format!("blobs/{}", desc.digest));
        Blob::open(self.transport.clone(), &repo.base, url, creds, repo.pull_scope(), &desc.digest, desc.size)
    }

    /// The size of a blob if the repository has it (HEAD).
    /// Every tag of the repository (`pull -a`), following the registry's pagination.
    pub fn tags(&self, repo: &Repository, creds: Option<&Credentials>) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut path = "tags/list?n=1000".to_string();
        for _ in 0..100 {
            let req = Request::new("GET", repo.url(&path), repo.pull_scope());
            let resp = self.transport.send(&repo.base, creds, req)?;
            if resp.status() != 200 {
                let (kind, msg) = transport::read_error(resp);
                return Err(Error::new(kind, format!("list tags of {}: {msg}", repo.familiar())));
            }
            // RFC 5988 pagination: Link: </v2/NAME/tags/list?n=1000&last=x>; rel="next"
            let next = resp
                .header("Link")
                .and_then(|l| l.split(';').next())
                .map(|u| u.trim().trim_start_matches('<').trim_end_matches('>').to_string())
                .and_then(|u| u.split_once("/tags/").map(|(_, rest)| format!("tags/{rest}")));
            let mut body = Vec::new();
            resp.into_reader()
                .take(MAX_MANIFEST)
                .read_to_end(&mut body)
                .map_err(|e| Error::system(format!("list tags of {}: {e}", repo.familiar())))?;
            let list: List = serde_json::from_slice(&body)
                .map_err(|e| Error::system(format!("list tags of {}: invalid answer: {e}", repo.familiar())))?;
            out.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) => path = n,
                None => return Ok(out),
            }
        }
        Ok(out)
    }

    pub fn blob_exists(&self, repo: &Repository, creds: Option<&Credentials>, digest: &str) -> Result<Option<u64>> {
        check_digest(digest)?;
        let req = Request::new("HEAD", repo.url(&format!("blobs/{digest}")), repo.push_scope());
        let resp = self.transport.send(&repo.base, creds, req)?;
        match resp.status() {
            200 => Ok(Some(resp.header("Content-Length").and_then(|l| l.trim().parse().ok()).unwrap_or(0))),
            404 => Ok(None),
            _ => {
                let (kind, msg) = transport::read_error(resp);
                Err(Error::new(kind, format!("check blob {digest} in {}: {msg}", repo.familiar())))
            }
        }
    }

    /// Cross-repository mount: true if the registry linked the blob from `from` (a repo
    /// name in the same registry); false if it wants an upload instead. The upload a
    /// registry opens when it declines (202) is cancelled here: `upload_blob` starts its own.
    pub fn mount_blob(&self, repo: &Repository, creds: Option<&Credentials>, digest: &str, from: &str) -> Result<bool> {
        check_digest(digest)?;
        if from.is_empty()
            || !from
                .split('/')
                .all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)))
        {
            return Err(Error::invalid(format!("invalid repository name {from:?}")));
        }
        let mut scopes = repo.push_scope();
        scopes.push(format!("repository:{from}:pull"));
        let url = repo.url(&format!("blobs/uploads/?mount={}&from={from}", digest.replace(':', "%3A")));
        let resp = self.transport.send(&repo.base, creds, Request::new("POST", url, scopes).body(Body::Bytes(&[])))?;
        match resp.status() {
            201 => Ok(true),
            202 => {
                if let Some(location) = resp.header("Location").and_then(|l| transport::join_url(resp.get_url(), l).ok()) {
                    let cancel = Request::new("DELETE", location, repo.push_scope());
                    if let Err(e) = self.transport.send(&repo.base, creds, cancel) {
                        log_debug!("registry: cancel the upload opened by a declined mount of {digest}: {e}");
                    }
                }
                Ok(false)
            }
            _ => {
                let (kind, msg) = transport::read_error(resp);
                Err(Error::new(kind, format!("mount blob {digest} from {from} into {}: {msg}", repo.familiar())))
            }
        }
    }

    /// Uploads a blob of known digest and size from `data`, calling `progress` with the
    /// bytes sent so far. One monolithic PUT with Content-Length after the POST that opens
    /// the upload; `data` is read once, so a failed upload is retried by the caller.
    pub fn upload_blob(
        &self,
        repo: &Repository,
        creds: Option<&Credentials>,
        digest: &str,
        size: u64,
        data: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        check_digest(digest)?;
        let what = format!("upload blob {digest} to {}", repo.familiar());
        let start = Request::new("POST", repo.url("blobs/uploads/"), repo.push_scope()).body(Body::Bytes(&[]));
        let resp = self.transport.send(&repo.base, creds, start)?;
        if resp.status() != 202 {
            let (kind, msg) = transport::read_error(resp);
            return Err(Error::new(kind, format!("{what}: {msg}")));
        }
        let location = resp.header("Location").unwrap_or("").to_string();
        let location = transport::join_url(resp.get_url(), &location)
            .map_err(|_| Error::system(format!("{what}: the registry gave no valid upload location ({location:?})")))?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={}", digest.replace(':', "%3A"));
        let mut source = Upload { inner: data, left: size, sent: 0, progress };
        let put = Request::new("PUT", url, repo.push_scope())
            .header("Content-Type", "application/octet-stream")
            .body(Body::Stream(&mut source, size));
        let resp = self.transport.send(&repo.base, creds, put).map_err(|e| e.context(&what))?;
        match resp.status() {
            201 | 204 => Ok(()),
            _ => {
                let (kind, msg) = transport::read_error(resp);
                Err(Error::new(kind, format!("{what}: {msg}")))
            }
        }
    }

    /// PUTs a manifest under `reference` (a tag or its digest); returns its digest.
    pub fn put_manifest(
        &self,
        repo: &Repository,
        creds: Option<&Credentials>,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Result<String> {
        check_reference(reference)?;
        let what = format!("push manifest {}", repo.familiar_ref(reference));
        if body.len() as u64 > MAX_MANIFEST {
            return Err(Error::invalid(format!("{what}: larger than {MAX_MANIFEST} bytes")));
        }
        let digest = sha256_digest(body);
        if reference::valid_digest(reference) && reference != digest {
            return Err(Error::invalid(format!("{what}: the manifest's digest is {digest}")));
        }
        let req = Request::new("PUT", repo.url(&format!("manifests/{reference}")), repo.push_scope())
            .header("Content-Type", media_type)
            .body(Body::Bytes(body));
        let resp = self.transport.send(&repo.base, creds, req)?;
        match resp.status() {
            200..=202 => Ok(digest),
            _ => {
                let (kind, msg) = transport::read_error(resp);
                Err(Error::new(kind, format!("{what}: {msg}")))
            }
        }
    }

    /// Checks credentials against a registry (`/v2/` with the auth flow): Ok when they are
    /// accepted, an error with the registry's words otherwise. `registry` is what users
    /// type: "docker.io", "host:port", or a URL such as "https://index.docker.io/v1/".
    pub fn login(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let name = registry.trim();
        let name = name.strip_prefix("https://").or_else(|| name.strip_prefix("http://")).unwrap_or(name);
        let name = name.split('/').next().unwrap_or("");
        if name.is_empty() {
            return Err(Error::invalid(format!("invalid registry {registry:?}")));
        }
        let (_, host) = self.registry_host(name);
        let scheme = if self.transport.http_allowed(&host) { "http" } else { "https" };
        let base = format!("{scheme}://{host}");
        let url = format!("{base}/v2/");
        let resp = self.transport.send(&base, Some(creds), Request::new("GET", url.clone(), Vec::new()))?;
        match resp.status() {
            200 => Ok(()),
            status @ (401 | 403) => {
                let text = resp.status_text().to_string();
                let mut body = Vec::new();
                let _ = resp.into_reader().take(64 * 1024).read_to_end(&mut body);
                let msg = transport::errcode_message(&body)
                    .unwrap_or_else(|| format!("login attempt to {url} failed with status: {status} {text}"));
                Err(Error::invalid(msg))
            }
            _ => {
                let (kind, msg) = transport::read_error(resp);
                Err(Error::new(kind, format!("login to {name}: {msg}")))
            }
        }
    }
}

/// The body of an upload: exactly `left` bytes of the caller's reader (a source that ends
/// early fails the request rather than leaving the registry waiting), with progress.
struct Upload<'a> {
    inner: &'a mut dyn Read,
    left: u64,
    sent: u64,
    progress: &'a mut dyn FnMut(u64),
}

impl Read for Upload<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the blob's source ended {} bytes short", self.left),
            ));
        }
        self.left -= n as u64;
        self.sent += n as u64;
        (self.progress)(self.sent);
        Ok(n)
    }
}
