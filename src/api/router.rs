//! The route table: (method, path) → handler, on one screen. Paths may carry a `/vX.Y`
//! version prefix (checked against the versions berth speaks) or none. Names in paths are
//! not split on '/': image references contain slashes (`/images/127.0.0.1:5000/a/b/json`),
//! so a resource name is everything up to a known action suffix.

use super::{containers, images, networks, system, Out, Query};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::version::{API_VERSION, MIN_API_VERSION};
use super::http::{Request, Responder};

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    Ping,
    Version,
    Info,
    ContainerList,
    ContainerCreate,
    ContainerInspect(&'a str),
    ContainerStart(&'a str),
    ContainerStop(&'a str),
    ContainerRestart(&'a str),
    ContainerKill(&'a str),
    ContainerWait(&'a str),
    ContainerAttach(&'a str),
    ContainerResize(&'a str),
    ContainerRename(&'a str),
    ContainerLogs(&'a str),
    ContainerDelete(&'a str),
    ImageList,
    ImageCreate,
    ImageInspect(&'a str),
    ImageHistory(&'a str),
    ImageTag(&'a str),
    ImagePush(&'a str),
    ImageSave,
    ImageSaveOne(&'a str),
    ImageLoad,
    ImagePrune,
    ImageDelete(&'a str),
    NetworkList,
    NetworkCreate,
    NetworkInspect(&'a str),
    NetworkConnect(&'a str),
    NetworkDisconnect(&'a str),
    NetworkPrune,
    NetworkDelete(&'a str),
    Auth,
}

/// Splits "NAME/ACTION" on the last '/' when ACTION is one of `actions`.
fn with_action<'a>(rest: &'a str, action: &str) -> Option<&'a str> {
    rest.strip_suffix(action)?.strip_suffix('/').filter(|n| !n.is_empty())
}

pub fn route<'a>(method: &str, path: &'a str) -> Option<Route<'a>> {
    use Route::*;
    let method = if method == "HEAD" { "GET" } else { method };
    if path == "/_ping" {
        return matches!(method, "GET").then_some(Ping);
    }
    if let Some(rest) = path.strip_prefix("/containers/") {
        let c = |a: &str| with_action(rest, a);
        return match method {
            "GET" if rest == "json" => Some(ContainerList),
            "GET" => c("json").map(ContainerInspect).or_else(|| c("logs").map(ContainerLogs)),
            "POST" if rest == "create" => Some(ContainerCreate),
            "POST" => c("start").map(ContainerStart)
                .or_else(|| c("stop").map(ContainerStop))
                .or_else(|| c("restart").map(ContainerRestart))
                .or_else(|| c("kill").map(ContainerKill))
                .or_else(|| c("wait").map(ContainerWait))
                .or_else(|| c("attach").map(ContainerAttach))
                .or_else(|| c("resize").map(ContainerResize))
                .or_else(|| c("rename").map(ContainerRename)),
            "DELETE" if !rest.is_empty() => Some(ContainerDelete(rest)),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix("/images/") {
        return match method {
            "GET" if rest == "json" => Some(ImageList),
            "GET" if rest == "get" => Some(ImageSave),
            "GET" => with_action(rest, "json").map(ImageInspect)
                .or_else(|| with_action(rest, "history").map(ImageHistory))
                .or_else(|| with_action(rest, "get").map(ImageSaveOne)),
            "POST" if rest == "create" => Some(ImageCreate),
            "POST" if rest == "load" => Some(ImageLoad),
            "POST" if rest == "prune" => Some(ImagePrune),
            "POST" => with_action(rest, "tag").map(ImageTag).or_else(|| with_action(rest, "push").map(ImagePush)),
            "DELETE" if !rest.is_empty() => Some(ImageDelete(rest)),
            _ => None,
        };
    }
    if path == "/networks" {
        return matches!(method, "GET").then_some(NetworkList);
    }
    if let Some(rest) = path.strip_prefix("/networks/") {
        let no_slash = !rest.is_empty() && !rest.contains('/');
        return match method {
            "GET" if no_slash => Some(NetworkInspect(rest)),
            "POST" if rest == "create" => Some(NetworkCreate),
            "POST" if rest == "prune" => Some(NetworkPrune),
            "POST" => with_action(rest, "connect").map(NetworkConnect).or_else(|| with_action(rest, "disconnect").map(NetworkDisconnect)),
            "DELETE" if no_slash => Some(NetworkDelete(rest)),
            _ => None,
        };
    }
    match (method, path) {
        ("GET", "/version") => Some(Version),
        ("GET", "/info") => Some(Info),
        ("POST", "/auth") => Some(Auth),
        _ => None,
    }
}

/// Parses "1.41" into (1, 41).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Strips and checks a `/vX.Y` prefix. Too new is a JSON 400; too old is a text/plain 400,
/// exactly as dockerd answers both.
fn strip_version(path: &str) -> std::result::Result<&str, (Error, bool)> {
    let Some(rest) = path.strip_prefix("/v") else { return Ok(path) };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Ok(path),
    };
    let Some(v) = parse_version(ver) else { return Ok(path) };
    let max = parse_version(API_VERSION).unwrap_or((1, 41));
    let min = parse_version(MIN_API_VERSION).unwrap_or((1, 12));
    if v > max {
        let msg = format!("client version {ver} is too new. Maximum supported API version is {API_VERSION}");
        return Err((Error::invalid(msg), false));
    }
    if v < min {
        let msg = format!(
            "client version {ver} is too old. Minimum supported API version is {MIN_API_VERSION}, \
             please upgrade your client to a newer version"
        );
        return Err((Error::invalid(msg), true));
    }
    Ok(tail)
}

/// Answers one request: route it, run its handler, turn a handler's error into Docker's
/// error document if nothing was sent yet.
pub fn dispatch(e: &Engine, req: &mut Request, resp: Responder) {
    let mut out = Out::new(resp);
    let path = req.path.clone();
    let result = match strip_version(&path) {
        Err((err, plain)) => {
            if plain {
                out.text(400, &format!("{}\n", err.message))
            } else {
                Err(err)
            }
        }
        Ok(p) => match route(&req.method, p) {
            None => Err(Error::not_found("page not found")),
            Some(r) => handle(e, req, &mut out, r),
        },
    };
    if let Err(err) = result {
        if out.answered() {
            log_debug!("{} {}: failed after answering: {}", req.method, req.path, err.message);
        } else if let Err(send) = out.error(&err) {
            log_debug!("{} {}: cannot send error: {}", req.method, req.path, send.message);
        }
    }
}

fn handle(e: &Engine, req: &mut Request, out: &mut Out, r: Route<'_>) -> Result<()> {
    use Route::*;
    match r {
        Ping => system::ping(req, out),
        Version => system::version(out),
        Info => system::info(e, out),
        ContainerList => containers::list(e, req, out),
        ContainerCreate => containers::create(e, req, out),
        ContainerInspect(id) => containers::inspect(e, id, req, out),
        ContainerStart(id) => containers::start(e, id, out),
        ContainerStop(id) => containers::stop(e, id, req, out),
        ContainerRestart(id) => containers::restart(e, id, req, out),
        ContainerKill(id) => containers::kill(e, id, req, out),
        ContainerWait(id) => containers::wait(e, id, req, out),
        ContainerAttach(id) => containers::attach(e, id, req, out),
        ContainerResize(id) => containers::resize(e, id, req, out),
        ContainerRename(id) => containers::rename(e, id, req, out),
        ContainerLogs(id) => containers::logs(e, id, req, out),
        ContainerDelete(id) => containers::remove(e, id, req, out),
        ImageList => images::list(e, req, out),
        ImageCreate => images::create(e, req, out),
        ImageInspect(name) => images::inspect(e, name, out),
        ImageHistory(name) => images::history(e, name, out),
        ImageTag(name) => images::tag(e, name, req, out),
        ImagePush(name) => images::push(e, name, req, out),
        ImageSave => images::save(e, Query::of(req).all("names"), out),
        ImageSaveOne(name) => images::save(e, vec![name.to_string()], out),
        ImageLoad => images::load(e, req, out),
        ImagePrune => images::prune(e, req, out),
        Auth => images::auth(e, req, out),
        NetworkList => networks::list(e, req, out),
        NetworkCreate => networks::create(e, req, out),
        NetworkInspect(n) => networks::inspect(e, n, out),
        NetworkConnect(n) => networks::connect(e, n, req, out),
        NetworkDisconnect(n) => networks::disconnect(e, n, req, out),
        NetworkPrune => networks::prune(e, req, out),
        NetworkDelete(n) => networks::remove(e, n, out),
        ImageDelete(name) => images::remove(e, name, req, out),
    }
}

#[cfg(test)]
mod tests {
    use super::Route::*;
    use super::*;

    #[test]
    fn routes_docker_paths() {
        assert_eq!(route("HEAD", "/_ping"), Some(Ping));
        assert_eq!(route("GET", "/containers/json"), Some(ContainerList));
        assert_eq!(route("GET", "/containers/abc/json"), Some(ContainerInspect("abc")));
        assert_eq!(route("POST", "/containers/abc/wait"), Some(ContainerWait("abc")));
        assert_eq!(route("DELETE", "/containers/abc"), Some(ContainerDelete("abc")));
        assert_eq!(route("GET", "/networks"), Some(NetworkList));
        assert_eq!(route("GET", "/networks/app"), Some(NetworkInspect("app")));
        assert_eq!(route("POST", "/networks/create"), Some(NetworkCreate));
        assert_eq!(route("POST", "/networks/prune"), Some(NetworkPrune));
        assert_eq!(route("POST", "/networks/app/connect"), Some(NetworkConnect("app")));
        assert_eq!(route("POST", "/networks/app/disconnect"), Some(NetworkDisconnect("app")));
        assert_eq!(route("DELETE", "/networks/app"), Some(NetworkDelete("app")));
        assert_eq!(route("GET", "/networks/a/b"), None);
        assert_eq!(route("GET", "/images/127.0.0.1:5066/capture/busybox/json"),
                   Some(ImageInspect("127.0.0.1:5066/capture/busybox")));
        assert_eq!(route("POST", "/images/capture/busybox:latest/tag"), Some(ImageTag("capture/busybox:latest")));
        assert_eq!(route("DELETE", "/images/a/b:c"), Some(ImageDelete("a/b:c")));
        assert_eq!(route("POST", "/images/127.0.0.1:5066/capture/busybox/push"), Some(ImagePush("127.0.0.1:5066/capture/busybox")));
        assert_eq!(route("GET", "/images/get"), Some(ImageSave));
        assert_eq!(route("GET", "/images/a/b/get"), Some(ImageSaveOne("a/b")));
        assert_eq!(route("GET", "/images/a:1/history"), Some(ImageHistory("a:1")));
        assert_eq!(route("POST", "/images/load"), Some(ImageLoad));
        assert_eq!(route("POST", "/images/prune"), Some(ImagePrune));
        assert_eq!(route("POST", "/auth"), Some(Auth));
        assert_eq!(route("GET", "/containers/capture/busybox/json"), Some(ContainerInspect("capture/busybox")));
        assert_eq!(route("GET", "/containers//json"), None);
        assert_eq!(route("PUT", "/containers/json"), None);
        assert_eq!(route("GET", "/nope"), None);
    }

    #[test]
    fn version_prefixes() {
        assert_eq!(strip_version("/v1.41/containers/json").unwrap(), "/containers/json");
        assert_eq!(strip_version("/v1.24/info").unwrap(), "/info");
        assert_eq!(strip_version("/version").unwrap(), "/version");
        let (e, plain) = strip_version("/v1.99/info").unwrap_err();
        assert!(!plain && e.message == "client version 1.99 is too new. Maximum supported API version is 1.41");
        let (e, plain) = strip_version("/v1.11/info").unwrap_err();
        assert!(plain && e.message.starts_with("client version 1.11 is too old"));
    }
}
