//! `ImagePull`: an image from a registry into the graph. The manifest and config are
//! resolved first (their errors are plain API errors); then the missing layers are fetched
//! by a few worker threads, each streaming its blob from the network through the digest
//! check, into the blob store and, at the same time, through gunzip into the layer's
//! staging directory — so downloading, decompressing and extracting overlap, across layers
//! too when the storage driver builds layers independently (overlay). Layers are committed
//! in order, each with its own GraphDB row; the image, its tag and digest are committed
//! last in one transaction, so a pull killed at any point leaves no image (and start-up
//! removes the orphaned layers). A layer another pull is fetching is waited for, not
//! fetched twice.

use super::layers::Applied;
use super::progress::{short, Progress, Report, Throttle};
use super::{Engine, Job};
use crate::error::{Error, Result};
use crate::graph::blobs::Tee;
use crate::graph::db::BlobRow;
use crate::graph::digest::DigestReader;
use crate::graph::image::{chain_ids, ImageConfig};
use crate::util::reference::Reference;
use crate::registry::manifest::{Descriptor, Platform, OCI_LAYER_ZSTD};
use crate::registry::{Credentials, Repository, MAX_CONFIG};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub struct ImagePull<'a> {
    /// `fromImage` as the client sent it ("docker.io/library/busybox").
    pub image: String,
    /// `tag`: a tag, a digest, or empty for "latest".
    pub tag: String,
    /// "os/arch[/variant]", or empty for the host's.
    pub platform: String,
    pub creds: Option<Credentials>,
    pub progress: &'a dyn Progress,
}

/// A layer being fetched, shared by every pull that needs it.
pub struct Flight {
    result: Mutex<Option<std::result::Result<(), String>>>,
    done: Condvar,
    /// Pulls other than the owner waiting for it (the owner may not cancel while > 0).
    waiters: AtomicUsize,
}

impl Flight {
    fn finish(&self, r: std::result::Result<(), String>) {
        *self.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        self.done.notify_all();
    }

    /// Waits for the outcome; gives up (Err) once `cancelled()` says nobody listens.
    fn wait(&self, cancelled: &dyn Fn() -> bool) -> std::result::Result<(), String> {
        let mut g = self.result.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(r) = g.as_ref() {
                return r.clone();
            }
            if cancelled() {
                return Err("pull cancelled".into());
            }
            g = match self.done.wait_timeout(g, Duration::from_millis(200)) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// What this pull does for one layer.
enum Task {
    /// Present already.
    Have,
    /// Fetched by this pull.
    Own(Arc<Flight>),
    /// Fetched by another pull.
    Wait(Arc<Flight>),
}

impl Job for ImagePull<'_> {
    type Output = ();
    const NAME: &'static str = "ImagePull";

    fn target(&self) -> String {
        if self.tag.is_empty() {
            self.image.clone()
        } else {
            format!("{}:{}", self.image, self.tag)
        }
    }

    fn run(self, e: &Engine) -> Result<()> {
        let mut r = Reference::parse(&self.image)?;
        if self.tag.starts_with("sha256:") {
            r.digest = Some(self.tag.clone());
        } else if !self.tag.is_empty() {
            r.tag = Some(self.tag.clone());
        } else if r.tag.is_none() && r.digest.is_none() {
            // No tag at all (`pull -a`): every tag of the repository.
            let client = e.registry()?;
            let repo = client.repository(&r);
            let mut tags = client.tags(&repo, self.creds.as_ref())?;
            if tags.is_empty() {
                return Err(Error::not_found(format!("repository {} has no tags", r.familiar_repository())));
            }
            tags.sort();
            for t in tags {
                self.pull_one(e, Reference { tag: Some(t), ..r.clone() })?;
            }
            return Ok(());
        }
        self.pull_one(e, r.with_default_tag())
    }
}

impl ImagePull<'_> {
    /// Pulls one tag or digest.
    fn pull_one(&self, e: &Engine, r: Reference) -> Result<()> {
        let name = r.digest.clone().or(r.tag.clone()).unwrap_or_default();
        let platform = if self.platform.is_empty() { Platform::host() } else { Platform::parse(&self.platform)? };
        let client = e.registry()?;
        let repo = client.repository(&r);
        let creds = self.creds.as_ref();
        let resolved = client.resolve(&repo, creds, &name, &platform)?;
        let manifest = &resolved.manifest;
        let config_bytes = client.fetch_blob(&repo, creds, &manifest.config, MAX_CONFIG)?;
        let config = ImageConfig::parse(&config_bytes)?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(Error::invalid(format!(
                "image {}: the manifest lists {} layers but its config {}",
                r.familiar_string(),
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        if let Some(l) = manifest.layers.iter().find(|l| l.media_type == OCI_LAYER_ZSTD) {
            return Err(Error::invalid(format!("layer {}: zstd-compressed layers are not supported", l.digest)));
        }
        let image_id = manifest.config.digest.clone();
        let p = self.progress;
        p.report(Report::heading(&name, format!("Pulling from {}", r.path)));

        let chains = chain_ids(&config.rootfs.diff_ids);
        let complete = e.db.image(&image_id)?.is_some();
        // Up to date: the image was here and the name already pointed at it.
        let named = match (&r.digest, &r.tag) {
            (Some(d), _) => e.db.lookup_digest(&r.repository(), d)?,
            (None, Some(t)) => e.db.lookup_tag(&r.repository(), t)?,
            _ => None,
        };
        let up_to_date = complete && named.as_deref() == Some(image_id.as_str());
        if !complete {
            let fetch = Fetch { e, repo: &repo, creds, layers: &manifest.layers, config: &config, chains: &chains, progress: p };
            fetch.run()?;
        }
        let full_repo = r.repository();
        let tags = match &r.tag {
            Some(t) if r.digest.is_none() => vec![(full_repo.clone(), t.clone())],
            _ => Vec::new(),
        };
        e.store_image(config_bytes, &config, &chains, &tags, &[(full_repo.clone(), resolved.digest.clone())])?;
        for l in manifest.layers.iter().chain(std::iter::once(&manifest.config)) {
            e.db.add_blob_source(&l.digest, &full_repo)?;
        }
        p.report(Report::general(format!("Digest: {}", resolved.digest)));
        let reference = r.familiar_string();
        let status = if up_to_date { "Image is up to date for" } else { "Downloaded newer image for" };
        p.report(Report::general(format!("Status: {status} {reference}")));
        Ok(())
    }
}

/// The layer work of one pull.
struct Fetch<'a> {
    e: &'a Engine,
    repo: &'a Repository,
    creds: Option<&'a Credentials>,
    layers: &'a [Descriptor],
    config: &'a ImageConfig,
    chains: &'a [String],
    progress: &'a dyn Progress,
}

impl Fetch<'_> {
    fn run(&self) -> Result<()> {
        let tasks = self.claim()?;
        let queue: Mutex<VecDeque<usize>> =
            Mutex::new((0..tasks.len()).filter(|i| !matches!(tasks[*i], Task::Have)).collect());
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        let workers = self.e.config.max_concurrent_downloads.clamp(1, 16).min(tasks.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                    let Some(i) = next else { return };
                    if let Err(err) = self.task(i, &tasks[i]) {
                        failed.store(true, Ordering::Relaxed);
                        first_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(err);
                    }
                });
            }
        });
        // Flights this pull owns but never ran (it failed first) must not keep others
        // waiting.
        for (i, t) in tasks.iter().enumerate() {
            if let Task::Own(f) = t {
                if f.result.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
                    f.finish(Err("the pull that was fetching it failed".into()));
                }
                self.e.land(&self.chains[i], f);
            }
        }
        match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Decides, in order, what to do for every layer: all flights this pull owns exist
    /// before any worker starts, so a worker waiting for a parent always finds it.
    fn claim(&self) -> Result<Vec<Task>> {
        let mut tasks = Vec::with_capacity(self.chains.len());
        for (i, chain) in self.chains.iter().enumerate() {
            let id = short(&self.layers[i].digest);
            let mut flights = self.e.flights.lock().unwrap_or_else(|p| p.into_inner());
            let task = if let Some(f) = flights.get(chain) {
                f.waiters.fetch_add(1, Ordering::SeqCst);
                Task::Wait(f.clone())
            } else if self.e.db.layer(chain)?.is_some() {
                Task::Have
            } else {
                let f = Arc::new(Flight { result: Mutex::new(None), done: Condvar::new(), waiters: AtomicUsize::new(0) });
                flights.insert(chain.clone(), f.clone());
                Task::Own(f)
            };
            drop(flights);
            let status = match task {
                Task::Have => "Already exists",
                _ => "Pulling fs layer",
            };
            self.progress.report(Report::line(&id, status));
            tasks.push(task);
        }
        Ok(tasks)
    }

    fn task(&self, i: usize, task: &Task) -> Result<()> {
        let id = short(&self.layers[i].digest);
        match task {
            Task::Have => Ok(()),
            Task::Wait(f) => {
                self.progress.report(Report::line(&id, "Waiting"));
                let r = f.wait(&|| self.progress.cancelled());
                f.waiters.fetch_sub(1, Ordering::SeqCst);
                r.map_err(|m| Error::system(format!("layer {}: {m}", self.layers[i].digest)))?;
                self.progress.report(Report::line(&id, "Pull complete"));
                Ok(())
            }
            Task::Own(f) => {
                let r = self.fetch(i, f);
                f.finish(r.as_ref().map(|_| ()).map_err(|e| e.message.clone()));
                r
            }
        }
    }

    /// Waits until the parent of layer `i` is committed.
    fn parent_ready(&self, i: usize) -> Result<Option<&str>> {
        if i == 0 {
            return Ok(None);
        }
        let parent = &self.chains[i - 1];
        let flight = self.e.flights.lock().unwrap_or_else(|p| p.into_inner()).get(parent).cloned();
        if let Some(f) = flight {
            f.wait(&|| false).map_err(|m| Error::system(format!("layer {}: {m}", self.layers[i - 1].digest)))?;
        }
        if self.e.db.layer(parent)?.is_none() {
            return Err(Error::system(format!("layer {}: its parent layer is missing", self.layers[i].digest)));
        }
        Ok(Some(parent))
    }

    /// Downloads, verifies, extracts and commits layer `i`.
    fn fetch(&self, i: usize, flight: &Flight) -> Result<()> {
        let e = self.e;
        let desc = &self.layers[i];
        let id = short(&desc.digest);
        let blob = e.registry()?.open_blob(self.repo, self.creds, desc)?;
        let counted = Counted {
            inner: blob,
            done: 0,
            total: desc.size,
            id: &id,
            progress: self.progress,
            flight,
            throttle: Throttle::new(Duration::from_millis(100)),
        };
        let mut store = e.blobs.writer()?;
        let applied = if e.storage.independent_layers() {
            // Two threads over one stream: this one extracts (mostly kernel time creating
            // files) while a helper downloads, checks the digest, keeps the blob and
            // decompresses, so the two halves of the work overlap.
            let staging = e.storage.begin_layer(None)?;
            // 64 KiB chunks stay below musl's mmap threshold: bigger ones would cost an
            // mmap, page faults and an munmap each.
            let (mut pipe_in, mut pipe_out) = crate::util::pipe::pipe(32, 64 * 1024);
            let store_ref = &mut store;
            let (applied, decoded) = std::thread::scope(|s| {
                let decoder = s.spawn(move || -> Result<String> {
                    let decoded = (|| -> Result<String> {
                        let mut tee = Tee { inner: counted, copy: store_ref };
                        let plain = crate::graph::layer::decompress(&mut tee)?;
                        let mut hashed = DigestReader::new(plain);
                        std::io::copy(&mut hashed, &mut pipe_in).map_err(|err| read_error(desc, err))?;
                        let diff_id = hashed.digest();
                        // Whatever follows the compressed stream still counts for the blob's
                        // digest, which is checked at its end.
                        std::io::copy(&mut tee, &mut std::io::sink()).map_err(|err| read_error(desc, err))?;
                        Ok(diff_id)
                    })();
                    match &decoded {
                        Ok(_) => {
                            pipe_in.close().map_err(|err| read_error(desc, err))?;
                        }
                        Err(err) => pipe_in.fail(err.message.clone()),
                    }
                    decoded
                });
                let applied = crate::graph::layer::apply(&mut pipe_out, &staging.dir, e.storage.whiteout_mode());
                // Unblocks the helper if extraction stopped early.
                drop(pipe_out);
                let decoded = decoder.join().unwrap_or_else(|_| Err(Error::system("layer download thread panicked")));
                (applied, decoded)
            });
            let result = match (applied, decoded) {
                (Ok(stats), Ok(diff_id)) => Ok((diff_id, stats.bytes)),
                // The download's own failure is the cause; extraction only saw its echo...
                (Ok(_), Err(err)) => Err(err),
                (Err(_), Err(d)) if !d.message.contains("reading side is gone") => Err(d),
                // ...unless extraction stopped first (a bad tar).
                (Err(err), _) => Err(err),
            };
            match result {
                Ok((diff_id, diff_size)) => Applied { staging, diff_id, diff_size, blob: None },
                Err(err) => {
                    e.storage.abort(staging);
                    store.abort();
                    return Err(err);
                }
            }
        } else {
            // The layer starts as a copy of its parent: download first (in parallel with
            // other layers), apply once the parent is committed.
            let mut counted = counted;
            if let Err(err) = std::io::copy(&mut counted, &mut store) {
                store.abort();
                return Err(read_error(desc, err));
            }
            self.progress.report(Report::line(&id, "Verifying Checksum"));
            self.progress.report(Report::line(&id, "Download complete"));
            let parent = self.parent_ready(i)?;
            self.progress.report(Report::line(&id, "Extracting"));
            let staging = e.storage.begin_layer(parent)?;
            let applied = (|| -> Result<(String, u64)> {
                use std::io::Write;
                store.flush().map_err(|err| Error::from(err).context("write blob"))?;
                let file = std::fs::File::open(store.path()).map_err(|err| Error::from(err).context("reopen blob"))?;
                let plain = crate::graph::layer::decompress(std::io::BufReader::with_capacity(256 * 1024, file))?;
                let mut hashed = DigestReader::new(plain);
                let stats = crate::graph::layer::apply(&mut hashed, &staging.dir, e.storage.whiteout_mode())?;
                Ok((hashed.digest(), stats.bytes))
            })();
            match applied {
                Ok((diff_id, diff_size)) => Applied { staging, diff_id, diff_size, blob: None },
                Err(err) => {
                    e.storage.abort(staging);
                    store.abort();
                    return Err(err);
                }
            }
        };
        let want = &self.config.rootfs.diff_ids[i];
        if &applied.diff_id != want {
            e.storage.abort(applied.staging);
            store.abort();
            return Err(Error::invalid(format!(
                "layer {}: uncompressed content has digest {} but the image config says {want}",
                desc.digest, applied.diff_id
            )));
        }
        let stored = match store.commit(Some(&desc.digest)) {
            Ok(s) => s,
            Err(err) => {
                e.storage.abort(applied.staging);
                return Err(err);
            }
        };
        let independent = e.storage.independent_layers();
        if independent {
            self.progress.report(Report::line(&id, "Verifying Checksum"));
            self.progress.report(Report::line(&id, "Download complete"));
        }
        let parent = match self.parent_ready(i) {
            Ok(p) => p,
            Err(err) => {
                e.storage.abort(applied.staging);
                return Err(err);
            }
        };
        if independent {
            self.progress.report(Report::line(&id, "Extracting"));
        }
        let blob = BlobRow { digest: desc.digest.clone(), media_type: desc.media_type.clone(), size: stored.1 as i64 };
        e.commit_applied(Applied { blob: Some(blob), ..applied }, &self.chains[i], parent)?;
        self.progress.report(Report::line(&id, "Pull complete"));
        Ok(())
    }
}

impl Engine {
    /// Removes a finished flight from the table (its waiters hold their own reference).
    fn land(&self, chain: &str, f: &Arc<Flight>) {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        if flights.get(chain).is_some_and(|x| Arc::ptr_eq(x, f)) {
            flights.remove(chain);
        }
    }
}

/// A failed blob read; the registry client's own errors already name the blob.
fn read_error(desc: &Descriptor, err: std::io::Error) -> Error {
    let text = err.to_string();
    if text.contains(&desc.digest) {
        Error::system(text)
    } else {
        Error::system(format!("blob {}: {text}", desc.digest))
    }
}

/// Counts a blob's bytes for the progress bar and stops the download once nobody wants it
/// any more (this pull's client left and no other pull waits for the layer).
struct Counted<'a, R> {
    inner: R,
    done: u64,
    total: u64,
    id: &'a str,
    progress: &'a dyn Progress,
    flight: &'a Flight,
    throttle: Throttle,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.progress.cancelled() && self.flight.waiters.load(Ordering::SeqCst) == 0 {
            return Err(std::io::Error::other("pull cancelled: the client went away"));
        }
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.throttle.due() || self.done == self.total {
            self.progress.report(Report {
                id: Some(self.id.to_string()),
                status: "Downloading".into(),
                bytes: Some((self.done, Some(self.total))),
                layer: true,
            });
        }
        Ok(n)
    }
}
