//! Image endpoints: list, inspect, tag, delete, and `POST /images/create` for imports
//! (`fromSrc=-`, the body is the tarball). Pulls (`fromImage`) belong to the registry work.

use super::http::Request;
use super::{Out, Query};
use crate::engine::images::{Image, ImageInspect, ImageList, ImageRemove, ImageTag, Removed};
use crate::engine::import::ImageImport;
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

/// `POST /images/create`: `fromSrc=-` imports the body; `fromImage` would pull.
pub fn create(e: &Engine, req: &mut Request, out: &mut Out) -> Result<()> {
    let q = Query::of(req);
    if let Some(image) = q.get("fromImage") {
        return Err(Error::not_found(format!(
            "pull access denied for {image}: berth cannot pull from registries yet; use `berth import`"
        )));
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
