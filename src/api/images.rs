//! Image endpoints: list, inspect, tag, delete, and `POST /images/create` for imports
//! (`fromSrc=-`, the body is the tarball). Pulls (`fromImage`) belong to the registry work.

use super::http::Request;
use super::{Out, Query};
use crate::engine::images::{Image, ImageInspect, ImageList, ImageRemove, ImageTag, Removed};
use crate::engine::import::ImageImport;
use crate::engine::history::ImageHistory;
use crate::engine::load::{ImageLoad, Loaded};
use crate::engine::login::RegistryLogin;
use crate::engine::prune::ImagePrune;
use crate::engine::pull::ImagePull;
use crate::engine::push::ImagePush;
use crate::engine::save::ImageSave;
use crate::engine::Credentials;
use super::progress::StreamSink;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::engine::images::RunConfig;
use serde_json::{json, Value};
use std::io::Write;

pub fn list(e: &Engine, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let filters = q.filters()?;
    for key in filters.keys() {
        if !matches!(key.as_str(), "dangling" | "reference") {
            return Err(Error::invalid(format!("invalid filter '{key}'")));
        }
    }
    let dangling = match filters.get("dangling").and_then(|v| v.first()).map(String::as_str) {
        None => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(v) => return Err(Error::invalid(format!("invalid filter 'dangling={v}'"))),
    };
    let references = filters.get("reference").cloned().unwrap_or_default();
    let images = e.run(ImageList { dangling, references })?;
    let list: Vec<Value> = images.iter().map(summary).collect();
    out.json(200, &list)
}

fn summary(i: &Image) -> Value {
    let (tags, digests) = if i.repo_tags.is_empty() && i.repo_digests.is_empty() {
        (vec!["<none>:<none>".to_string()], vec!["<none>@<none>".to_string()])
    } else {
        (i.repo_tags.clone(), i.repo_digests.clone())
    };
    json!({
        "Containers": -1,
        "Created": i.created / 1_000_000_000,
        "Id": i.id,
        "Labels": i.config.config.labels,
        "ParentId": "",
        "RepoDigests": digests,
        "RepoTags": tags,
        "SharedSize": -1,
        "Size": i.size,
        "VirtualSize": i.size
    })
}

/// The image's `Config` in Docker's container-config shape, every field present.
fn run_config(c: &RunConfig) -> Value {
    json!({
        "Hostname": "",
        "Domainname": "",
        "User": c.user,
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": c.exposed_ports,
        "Tty": false,
        "OpenStdin": false,
        "StdinOnce": false,
        "Env": c.env,
        "Cmd": c.cmd,
        "Image": "",
        "Volumes": c.volumes,
        "WorkingDir": c.working_dir,
        "Entrypoint": c.entrypoint,
        "OnBuild": c.on_build,
        "Labels": c.labels,
        "StopSignal": if c.stop_signal.is_empty() { Value::Null } else { json!(c.stop_signal) }
    })
}

pub fn inspect(e: &Engine, name: &str, out: &mut Out) -> Result<()> {
    let i = e.run(ImageInspect { name: name.to_string() })?;
    let top = i.layer_ids.last().cloned().unwrap_or_default();
    let graph: Value = json!({ "Data": { "MergedDir": "", "UpperDir": top, "WorkDir": "" }, "Name": e.storage.name() });
    out.json(
        200,
        &json!({
            "Id": i.id,
            "RepoTags": i.repo_tags,
            "RepoDigests": i.repo_digests,
            "Parent": "",
            "Comment": i.config.comment,
            "Created": crate::util::time::rfc3339_nanos(i.created),
            "Container": "",
            "ContainerConfig": run_config(&RunConfig::default()),
            "DockerVersion": i.config.docker_version,
            "Author": i.config.author,
            "Config": run_config(&i.config.config),
            "Architecture": i.config.architecture,
            "Variant": if i.config.variant.is_empty() { Value::Null } else { json!(i.config.variant) },
            "Os": i.config.os,
            "Size": i.size,
            "VirtualSize": i.size,
            "GraphDriver": graph,
            "RootFS": { "Type": "layers", "Layers": i.layers },
            "Metadata": { "LastTagTime": crate::util::time::rfc3339_nanos(i.last_tag_time) }
        }),
    )
}

pub fn tag(e: &Engine, name: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let repo = q.get("repo").unwrap_or("").to_string();
    if repo.is_empty() {
        return Err(Error::invalid("repository name must have at least one component"));
    }
    e.run(ImageTag { source: name.to_string(), repo, tag: q.get("tag").unwrap_or("").to_string() })?;
    out.empty(201)
}

pub fn remove(e: &Engine, name: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let removed = e.run(ImageRemove { name: name.to_string(), force: q.flag("force", false) })?;
    let list: Vec<Value> = removed
        .into_iter()
        .map(|r| match r {
            Removed::Untagged(s) => json!({ "Untagged": s }),
            Removed::Deleted(s) => json!({ "Deleted": s }),
        })
        .collect();
    out.json(200, &list)
}

/// The credentials a registry call carries in `X-Registry-Auth` (None: anonymous).
pub fn registry_auth(req: &Request) -> Result<Option<Credentials>> {
    match req.header("X-Registry-Auth") {
        None => Ok(None),
        Some(v) => Credentials::from_header(v),
    }
}

/// `POST /images/create`: `fromSrc=-` imports the body; `fromImage` would pull.
pub fn create(e: &Engine, req: &mut Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    if let Some(image) = q.get("fromImage") {
        let creds = registry_auth(req)?;
        let sink = StreamSink::new(out);
        let job = ImagePull {
            image: image.to_string(),
            tag: q.get("tag").unwrap_or("").to_string(),
            platform: q.get("platform").unwrap_or("").to_string(),
            creds,
            progress: &sink,
        };
        let result = e.run(job);
        return sink.finish(result);
    }
    match q.get("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return Err(Error::invalid(format!(
                "importing from {other:?} is not supported: send the tarball in the request body (fromSrc=-)"
            )))
        }
        None => return Err(Error::invalid("one of fromImage or fromSrc is required")),
    }
    let job = ImageImport {
        source: Box::new(req.body()),
        repo: q.get("repo").map(str::to_string),
        tag: q.get("tag").map(str::to_string),
        message: q.get("message").unwrap_or("").to_string(),
        changes: q.all("changes"),
    };
    let id = e.run(job)?;
    let mut w = out.stream(200, Some("application/json"))?;
    let line = format!("{}\n", json!({ "status": id }));
    w.write_all(line.as_bytes()).map_err(|e| Error::system(format!("write response: {e}")))?;
    w.finish().map_err(|e| Error::system(format!("write response: {e}")))
}

pub fn history(e: &Engine, name: &str, out: &mut Out) -> Result<()> {
    let h = e.run(ImageHistory { name: name.to_string() })?;
    let list: Vec<Value> = h
        .iter()
        .map(|x| {
            json!({
                "Comment": x.comment,
                "Created": x.created / 1_000_000_000,
                "CreatedBy": x.created_by,
                "Id": x.id,
                "Size": x.size,
                "Tags": if x.tags.is_empty() { Value::Null } else { json!(x.tags) },
            })
        })
        .collect();
    out.json(200, &list)
}

/// `POST /images/{name}/push?tag=`: progress stream, ending with the pushed digest in `aux`.
pub fn push(e: &Engine, name: &str, req: &Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    let creds = registry_auth(req)?;
    let sink = StreamSink::new(out);
    let job = ImagePush { name: name.to_string(), tag: q.get("tag").unwrap_or("").to_string(), creds, progress: &sink };
    let result = e.run(job).map(|p| {
        sink.send(&json!({ "progressDetail": {}, "aux": { "Tag": p.tag, "Digest": p.digest, "Size": p.size } }));
    });
    sink.finish(result)
}

/// `GET /images/get?names=..`: a docker-archive tar. Unknown names are a 404 before any
/// byte of the archive is sent.
pub fn save(e: &Engine, names: Vec<String>, out: &mut Out) -> Result<()> {
    if names.is_empty() {
        return Err(Error::invalid("no image names given"));
    }
    let mut w = LazyTar { out, writer: None };
    e.run(ImageSave { names, out: &mut w })?;
    match w.writer {
        Some(cw) => cw.finish().map_err(|err| Error::system(format!("write response: {err}"))),
        None => Ok(()),
    }
}

/// Starts the tar response with the first byte written.
struct LazyTar<'a> {
    out: &'a mut Out,
    writer: Option<super::http::ChunkedWriter>,
}

impl Write for LazyTar<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.writer.is_none() {
            let w = self.out.stream(200, Some("application/x-tar")).map_err(|e| std::io::Error::other(e.message))?;
            self.writer = Some(w);
        }
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Ok(0),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `POST /images/load?quiet=`: the body is the archive; "Loaded image: X" lines (and
/// progress unless quiet) stream back.
pub fn load(e: &Engine, req: &mut Request, out: &mut Out) -> Result<()> {
    let quiet = Query::of(req).flag("quiet", false);
    let sink = StreamSink::new(out);
    let silent = crate::engine::progress::Silent;
    let progress: &dyn crate::engine::progress::Progress = if quiet { &silent } else { &sink };
    let result = e.run(ImageLoad { source: req.body(), progress }).map(|names| {
        for n in names {
            let line = match n {
                Loaded::Tagged(name) => format!("Loaded image: {name}\n"),
                Loaded::Untagged(id) => format!("Loaded image ID: {id}\n"),
            };
            sink.send(&json!({ "stream": line }));
        }
    });
    sink.finish(result)
}

pub fn prune(e: &Engine, req: &Request, out: &mut Out) -> Result<()> {
    let filters = Query::of(req).filters()?;
    let all = match filters.get("dangling").and_then(|v| v.first()).map(String::as_str) {
        None | Some("true") | Some("1") => false,
        Some("false") | Some("0") => true,
        Some(v) => return Err(Error::invalid(format!("invalid filter 'dangling={v}'"))),
    };
    let p = e.run(ImagePrune { all })?;
    let deleted: Vec<Value> = p
        .removed
        .into_iter()
        .map(|r| match r {
            Removed::Untagged(s) => json!({ "Untagged": s }),
            Removed::Deleted(s) => json!({ "Deleted": s }),
        })
        .collect();
    out.json(200, &json!({ "ImagesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) }, "SpaceReclaimed": p.reclaimed }))
}

/// `POST /auth`: checks credentials with the registry; nothing is stored.
pub fn auth(e: &Engine, req: &mut Request, out: &mut Out) -> Result<()> {
    let creds: Credentials = super::json_body(req)?;
    e.run(RegistryLogin { creds })?;
    out.json(200, &json!({ "Status": "Login Succeeded", "IdentityToken": "" }))
}
