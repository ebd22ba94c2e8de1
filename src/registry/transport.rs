//! HTTP to registries: one ureq agent (HTTPS with the system's CA roots, connect and
//! per-read stall timeouts, a connection pool shared by all threads), the plain-HTTP policy,
//! the authentication round (answer a 401 challenge with basic credentials or a bearer
//! token, then retry once), redirects followed by hand (so that `Authorization` never
//! leaves the registry's origin, https never falls back to http, and hops are capped),
//! short bounded retries of idempotent requests on 429/5xx and broken connections, and
//! turning a registry's JSON errors into Docker's wording. It knows no endpoint: callers
//! build the URLs and read the answers.

use super::auth::{self, Challenge, Credentials, TokenCache};
use super::Options;
use crate::error::{Error, Kind, Result};
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Redirects followed per request (Go's http client, which Docker uses, stops at 10).
const MAX_REDIRECTS: usize = 10;
/// Tries of an idempotent request that meets 429, 5xx or a broken connection.
const MAX_ATTEMPTS: u32 = 3;
/// The first wait before a retry; doubled each time.
const BACKOFF: Duration = Duration::from_millis(250);
/// The longest `Retry-After` honoured; a registry asking for more gets its error.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How much of an error body is read for its message.
const MAX_ERROR_BODY: u64 = 64 * 1024;

pub(super) enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// A body of known length, sent as it is read; it cannot be replayed, so a request
    /// carrying it is tried once (callers authenticate first with a small request).
    Stream(&'a mut dyn Read, u64),
}

pub(super) struct Request<'a> {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body<'a>,
    /// Token scopes the request needs ("repository:NAME:pull").
    pub scopes: Vec<String>,
}

impl<'a> Request<'a> {
    pub fn new(method: &'static str, url: String, scopes: Vec<String>) -> Request<'a> {
        Request { method, url, headers: Vec::new(), body: Body::Empty, scopes }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request<'a> {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Body<'a>) -> Request<'a> {
        self.body = body;
        self
    }

    fn idempotent(&self) -> bool {
        matches!(self.method, "GET" | "HEAD")
    }
}

/// What to send as `Authorization`, and where it came from.
struct Auth {
    header: Option<String>,
    /// The cache key of the bearer token used, to drop it if the registry refuses it.
    token_key: Option<String>,
    /// True when the token was fetched for this request (a refusal is then final).
    fresh: bool,
}

/// Why one try failed: the error, and whether trying again may help.
struct Failure {
    error: Error,
    transient: bool,
}

pub(super) struct Transport {
    agent: ureq::Agent,
    pub options: Options,
    tokens: TokenCache,
    /// The last challenge each registry origin answered with, so later requests carry
    /// credentials at once instead of each collecting a 401 first.
    challenges: Mutex<HashMap<String, Challenge>>,
}

impl Transport {
    pub fn new(options: Options) -> Transport {
        let agent = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout_connect(options.connect_timeout)
            .timeout_read(options.stall_timeout)
            .timeout_write(options.stall_timeout)
            .max_idle_connections_per_host(8)
            .user_agent(&format!("berth/{}", crate::version::VERSION))
            .build();
        Transport { agent, options, tokens: TokenCache::default(), challenges: Mutex::new(HashMap::new()) }
    }

    /// Whether `authority` ("host", "host:port", "[v6]:port") may be spoken to over plain
    /// HTTP: loopback addresses, "localhost", and what `Options::insecure` names (by host,
    /// host:port or CIDR).
    pub fn http_allowed(&self, authority: &str) -> bool {
        let host = host_of(authority);
        let ip = host.parse::<IpAddr>().ok();
        if host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback()) {
            return true;
        }
        self.options.insecure.iter().any(|entry| {
            let entry = entry.trim().trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/');
            entry.eq_ignore_ascii_case(authority) || entry.eq_ignore_ascii_case(host) || ip.is_some_and(|ip| cidr_contains(entry, ip))
        })
    }

    /// Sends `req` to the registry at `base` ("https://host") with the auth round,
    /// redirects and retries; returns the final answer whatever its status.
    pub fn send(&self, base: &str, creds: Option<&Credentials>, mut req: Request<'_>) -> Result<ureq::Response> {
        let registry = origin_of(base)?;
        let mut extra_scope: Option<String> = None;
        let mut reauthenticated = false;
        let mut attempt = 1;
        loop {
            let mut scopes = req.scopes.clone();
            scopes.extend(extra_scope.clone());
            let auth = self.authorization(&registry, creds, &scopes)?;
            let (resp, at_registry) = match self.follow(&registry, &mut req, auth.header.as_deref()) {
                Ok(r) => r,
                Err(f) if f.transient && req.idempotent() && attempt < MAX_ATTEMPTS => {
                    log_debug!("registry: {} {}: {}; retrying", req.method, strip_query(&req.url), f.error);
                    std::thread::sleep(BACKOFF * 2u32.pow(attempt - 1));
                    attempt += 1;
                    continue;
                }
                Err(f) => return Err(f.error),
            };
            let status = resp.status();
            if status == 401 && at_registry && !reauthenticated && !matches!(req.body, Body::Stream(..)) {
                let values = resp.all("WWW-Authenticate");
                if let Some(challenge) = auth::parse_challenges(&values) {
                    let can_answer = match &challenge {
                        Challenge::Basic => creds.and_then(Credentials::basic).is_some() && auth.header.is_none(),
                        // A fresh token refused is a final no, unless the challenge
                        // names a scope the token was not asked for.
                        Challenge::Bearer { scope, .. } => {
                            let wider = !scope.is_empty() && !scopes_cover(&scopes, scope);
                            if wider {
                                extra_scope = Some(scope.clone());
                            }
                            !auth.fresh || wider
                        }
                    };
                    if let Some(key) = &auth.token_key {
                        self.tokens.forget(key);
                    }
                    self.challenges.lock().unwrap_or_else(|e| e.into_inner()).insert(registry.clone(), challenge);
                    if can_answer {
                        reauthenticated = true;
                        continue;
                    }
                }
                return Ok(resp);
            }
            if req.idempotent() && (status == 429 || matches!(status, 500 | 502 | 503 | 504)) && attempt < MAX_ATTEMPTS {
                let wait = retry_after(&resp).unwrap_or(BACKOFF * 2u32.pow(attempt - 1));
                if wait <= MAX_RETRY_AFTER {
                    log_debug!("registry: {} {}: {status}; retrying in {wait:?}", req.method, strip_query(&req.url));
                    std::thread::sleep(wait);
                    attempt += 1;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    /// The `Authorization` for a request to `registry` needing `scopes`, from the
    /// challenge it last answered with: basic credentials, or a bearer token from the
    /// cache or the realm. None before any challenge (anonymous first).
    fn authorization(&self, registry: &str, creds: Option<&Credentials>, scopes: &[String]) -> Result<Auth> {
        let none = Auth { header: None, token_key: None, fresh: false };
        if let Some(token) = creds.map(|c| c.registry_token.as_str()).filter(|t| !t.is_empty()) {
            return Ok(Auth { header: Some(format!("Bearer {token}")), ..none });
        }
        let challenge = self.challenges.lock().unwrap_or_else(|e| e.into_inner()).get(registry).cloned();
        match challenge {
            None => Ok(none),
            Some(Challenge::Basic) => Ok(Auth { header: creds.and_then(Credentials::basic), ..none }),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let realm_url =
                    origin_of(&realm).map_err(|_| Error::system(format!("registry {registry} names an invalid token realm {realm:?}")))?;
                if let Some(authority) = realm_url.strip_prefix("http://") {
                    if !self.http_allowed(authority) {
                        return Err(Error::system(format!(
                            "registry {registry} names a token realm over plain http ({realm}): refusing to send credentials there"
                        )));
                    }
                }
                let key = TokenCache::key(&realm, &service, scopes, creds);
                if let Some(token) = self.tokens.get(&key) {
                    return Ok(Auth { header: Some(format!("Bearer {token}")), token_key: Some(key), fresh: false });
                }
                let (token, lifetime) = auth::fetch_token(&self.agent, &realm, &service, scopes, creds)?;
                self.tokens.put(key.clone(), token.clone(), lifetime);
                Ok(Auth { header: Some(format!("Bearer {token}")), token_key: Some(key), fresh: true })
            }
        }
    }

    /// One try: the request, then its redirects (GET and HEAD only). `Authorization` goes
    /// only to the registry's own origin. Returns the answer and whether it came from the
    /// registry itself (a 401 from a storage host is no challenge of the registry's).
    fn follow(&self, registry: &str, req: &mut Request<'_>, auth: Option<&str>) -> std::result::Result<(ureq::Response, bool), Failure> {
        let fail = |error: Error, transient: bool| Failure { error, transient };
        let mut url = req.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let here = origin_of(&url).map_err(|e| fail(e, false))?;
            let mut r = self.agent.request(req.method, &url);
            for (name, value) in &req.headers {
                r = r.set(name, value);
            }
            if let (true, Some(a)) = (here == registry, auth) {
                r = r.set("Authorization", a);
            }
            let answer = match &mut req.body {
                Body::Empty => r.call(),
                Body::Bytes(b) => r.send_bytes(b),
                Body::Stream(reader, len) => r.set("Content-Length", &len.to_string()).send(&mut **reader),
            };
            let resp = match answer {
                Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
                Err(ureq::Error::Transport(t)) => {
                    let transient =
                        matches!(t.kind(), ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io | ureq::ErrorKind::BadStatus);
                    return Err(fail(Error::system(format!("{} {}: {}", req.method, strip_query(&url), describe(&t))), transient));
                }
            };
            if !(req.idempotent() && matches!(resp.status(), 301 | 302 | 303 | 307 | 308)) {
                return Ok((resp, here == registry));
            }
            let location = resp.header("Location").unwrap_or("");
            let next =
                next_hop(&url, location).map_err(|e| fail(Error::system(format!("{} {}: {e}", req.method, strip_query(&url))), false))?;
            log_debug!("registry: {} {} redirected to {}", req.method, strip_query(&url), strip_query(&next));
            url = next;
        }
        Err(fail(Error::system(format!("{} {}: more than {MAX_REDIRECTS} redirects", req.method, strip_query(&req.url))), false))
    }
}

/// Where a redirect from `url` to `location` leads, unless it is invalid or leaves https
/// for plain http (which would expose the request, and the blob, to the network).
fn next_hop(url: &str, location: &str) -> std::result::Result<String, String> {
    let next = join_url(url, location).map_err(|_| format!("redirect to an invalid location {:?}", strip_query(location)))?;
    if url.starts_with("https:") && !next.starts_with("https:") {
        return Err(format!("refusing a redirect from https to {}", strip_query(&next)));
    }
    Ok(next)
}

/// A transport failure in words, without ureq's doubled URL.
pub(super) fn describe(t: &ureq::Transport) -> String {
    let mut s = t.kind().to_string().to_lowercase();
    if let Some(m) = t.message() {
        s = format!("{s}: {m}");
    }
    if let Some(src) = std::error::Error::source(t) {
        s = format!("{s}: {src}");
    }
    s
}

fn retry_after(resp: &ureq::Response) -> Option<Duration> {
    resp.header("Retry-After")?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether the scopes asked for already grant what a challenge's scope names
/// ("repository:a/b:pull" is covered by "repository:a/b:pull,push").
fn scopes_cover(have: &[String], wanted: &str) -> bool {
    let split = |s: &str| -> Option<(String, Vec<String>)> {
        let (resource, actions) = s.rsplit_once(':')?;
        Some((resource.to_string(), actions.split(',').map(str::to_string).collect()))
    };
    let Some((res, actions)) = split(wanted) else { return false };
    have.iter().filter_map(|h| split(h)).any(|(r, a)| r == res && actions.iter().all(|x| a.contains(x)))
}

/// The registry's JSON errors (`{"errors":[{"code","message","detail"}]}`) the way
/// Docker prints them: the code in lowercase words, then the message
/// ("manifest unknown: manifest unknown"); several are joined with "; ".
pub(super) fn errcode_message(body: &[u8]) -> Option<String> {
    errcodes(body).map(|(_, msg)| msg)
}

fn errcodes(body: &[u8]) -> Option<(Vec<String>, String)> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let e: Errors = serde_json::from_slice(body).ok()?;
    if e.errors.is_empty() {
        return None;
    }
    let codes = e.errors.iter().map(|x| x.code.clone()).collect();
    let words: Vec<String> = e
        .errors
        .iter()
        .map(|x| {
            let code = if x.code.is_empty() { "unknown".to_string() } else { x.code.to_lowercase().replace('_', " ") };
            if x.message.is_empty() {
                code
            } else {
                format!("{code}: {}", x.message)
            }
        })
        .collect();
    Some((codes, words.join("; ")))
}

/// A failed answer as (kind, message): the registry's own words when it sent JSON
/// errors, else Docker's "received unexpected HTTP status: 500 Internal Server Error".
/// 404 and the *_UNKNOWN codes are NotFound; 400, 401, 403 (the request or its
/// credentials) are InvalidArgument; the rest System.
pub(super) fn read_error(resp: ureq::Response) -> (Kind, String) {
    let status = resp.status();
    let text = resp.status_text().to_string();
    let mut body = Vec::new();
    let _ = resp.into_reader().take(MAX_ERROR_BODY).read_to_end(&mut body);
    let (codes, message) = errcodes(&body).unwrap_or_else(|| (Vec::new(), format!("received unexpected HTTP status: {status} {text}")));
    let unknown = codes.iter().any(|c| matches!(c.as_str(), "MANIFEST_UNKNOWN" | "BLOB_UNKNOWN" | "NAME_UNKNOWN" | "BLOB_UPLOAD_UNKNOWN"));
    let kind = match status {
        404 => Kind::NotFound,
        _ if unknown => Kind::NotFound,
        400 | 401 | 403 => Kind::InvalidArgument,
        _ => Kind::System,
    };
    (kind, message)
}

/// "scheme://host[:port]" of a URL, lowercased, default ports dropped.
pub(super) fn origin_of(url: &str) -> Result<String> {
    let bad = || Error::invalid(format!("invalid URL {url:?}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("").to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    Ok(format!("{scheme}://{authority}"))
}

/// Resolves a `Location` against the URL it answered: absolute, scheme-relative,
/// absolute-path, or relative to the current path's directory.
pub(super) fn join_url(base: &str, location: &str) -> Result<String> {
    let location = location.trim();
    if location.is_empty() {
        return Err(Error::invalid("empty location"));
    }
    let origin = origin_of(base)?;
    let joined = if location.contains("://") {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        let scheme = origin.split_once("://").map(|(s, _)| s).unwrap_or("https");
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        let path = strip_query(&base[base.find("://").map(|i| i + 3).unwrap_or(0)..]);
        let dir = match path.find('/') {
            Some(i) => &path[i..path.rfind('/').unwrap_or(i) + 1],
            None => "/",
        };
        format!("{origin}{dir}{location}")
    };
    origin_of(&joined)?;
    Ok(joined)
}

/// A URL without its query, for logs (storage redirects carry signatures there).
pub(super) fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The host of "host", "host:port", "[v6]" or "[v6]:port".
pub(super) fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// Whether "a.b.c.d/n" (or a v6 CIDR) contains `ip`.
fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else { return false };
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(insecure: &[&str]) -> Transport {
        Transport::new(Options { insecure: insecure.iter().map(|s| s.to_string()).collect(), ..Options::default() })
    }

    #[test]
    fn plain_http_only_for_loopback_and_insecure_names() {
        let t = transport(&["myreg:5000", "plainhost", "10.1.0.0/16"]);
        for ok in [
            "127.0.0.1:5000",
            "127.9.9.9",
            "localhost",
            "localhost:5000",
            "[::1]:5000",
            "::1",
            "myreg:5000",
            "plainhost:443",
            "plainhost",
            "10.1.2.3:5000",
        ] {
            assert!(t.http_allowed(ok), "{ok}");
        }
        for no in ["registry-1.docker.io", "myreg:5001", "myreg", "10.2.0.1:5000", "ghcr.io", "[::2]:5000", "localhost.example.com"] {
            assert!(!t.http_allowed(no), "{no}");
        }
    }

    #[test]
    fn origins_and_locations() {
        assert_eq!(origin_of("HTTPS://Reg.Example:443/v2/").unwrap(), "https://reg.example");
        assert_eq!(origin_of("http://127.0.0.1:5000/v2/x?y=1").unwrap(), "http://127.0.0.1:5000");
        assert_eq!(origin_of("http://[::1]:5000/").unwrap(), "http://[::1]:5000");
        assert!(origin_of("ftp://x/").is_err());
        assert!(origin_of("http://user:pw@x/").is_err());
        let base = "https://reg.example/v2/a/b/blobs/uploads/?x=1";
        assert_eq!(join_url(base, "https://s3.example/bucket?sig=1").unwrap(), "https://s3.example/bucket?sig=1");
        assert_eq!(join_url(base, "//cdn.example/p").unwrap(), "https://cdn.example/p");
        assert_eq!(
            join_url(base, "/v2/a/b/blobs/uploads/uuid?_state=s").unwrap(),
            "https://reg.example/v2/a/b/blobs/uploads/uuid?_state=s"
        );
        assert_eq!(join_url(base, "uuid").unwrap(), "https://reg.example/v2/a/b/blobs/uploads/uuid");
        assert!(join_url(base, "").is_err());
        assert!(join_url(base, "gopher://x/").is_err());
        assert_eq!(host_of("[::1]:5000"), "::1");
        assert_eq!(host_of("::1"), "::1");
        assert_eq!(host_of("reg:5000"), "reg");
    }

    #[test]
    fn redirects_never_downgrade_to_http() {
        assert_eq!(next_hop("https://reg/v2/x", "https://cdn/b?sig=1").unwrap(), "https://cdn/b?sig=1");
        assert_eq!(next_hop("http://127.0.0.1:5000/v2/x", "https://cdn/b").unwrap(), "https://cdn/b");
        assert_eq!(next_hop("http://127.0.0.1:5000/v2/x", "/v2/y").unwrap(), "http://127.0.0.1:5000/v2/y");
        assert_eq!(next_hop("https://reg/v2/x", "http://cdn/b?sig=secret").unwrap_err(), "refusing a redirect from https to http://cdn/b");
        assert!(next_hop("https://reg/v2/x", "").unwrap_err().contains("invalid location"));
    }

    #[test]
    fn registry_errors_read_like_docker() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]}"#;
        assert_eq!(errcode_message(body).unwrap(), "manifest unknown: manifest unknown");
        let body = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"},{"code":"DENIED","message":""}]}"#;
        assert_eq!(errcode_message(body).unwrap(), "unauthorized: authentication required; denied");
        assert_eq!(errcode_message(b"<html>"), None);
        assert_eq!(errcode_message(br#"{"errors":[]}"#), None);
    }

    #[test]
    fn challenge_scopes_covered_by_wider_ones() {
        let have = vec!["repository:a/b:pull,push".to_string()];
        assert!(scopes_cover(&have, "repository:a/b:pull"));
        assert!(scopes_cover(&have, "repository:a/b:push,pull"));
        assert!(!scopes_cover(&have, "repository:a/c:pull"));
        assert!(!scopes_cover(&have, "repository:a/b:delete"));
        assert!(!scopes_cover(&[], "registry:catalog:*"));
    }

    #[test]
    fn cidrs() {
        assert!(cidr_contains("10.0.0.0/8", "10.255.0.1".parse().unwrap()));
        assert!(!cidr_contains("10.0.0.0/8", "11.0.0.1".parse().unwrap()));
        assert!(cidr_contains("0.0.0.0/0", "1.2.3.4".parse().unwrap()));
        assert!(cidr_contains("fd00::/8", "fd12::1".parse().unwrap()));
        assert!(!cidr_contains("fd00::/8", "10.0.0.1".parse().unwrap()));
        assert!(!cidr_contains("10.0.0.0/33", "10.0.0.1".parse().unwrap()));
    }
}
