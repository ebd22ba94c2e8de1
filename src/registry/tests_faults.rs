//! Faults a real registry will not produce on demand, against a scripted HTTP server thread:
//! a connection that breaks or stalls mid-blob (and the Range resume), a server that
//! ignores Range, bodies longer or shorter than declared, wrong digests, 5xx retries,
//! redirects (credentials stay home, loops end), relative upload locations, and oversized
//! or mislabelled manifests.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// One request as the fake server read it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body_len: usize,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(usize, &Seen, &mut TcpStream) + Send + Sync;

/// A server on 127.0.0.1 that hands the n-th request to the script and then closes the
/// connection; every request is recorded.
struct Fake {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(script: impl Fn(usize, &Seen, &mut TcpStream) + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Handler> = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let (script, seen, count) = (script.clone(), seen2.clone(), count.clone());
                std::thread::spawn(move || {
                    let Some(req) = read_request(&mut conn) else { return };
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    seen.lock().unwrap().push(req.clone());
                    script(n, &req, &mut conn);
                    let _ = conn.flush();
                    let _ = conn.shutdown(Shutdown::Both);
                });
            }
        });
        Fake { addr, seen, stop }
    }

    fn repo(&self) -> Repository {
        Repository { base: format!("http://{}", self.addr), name: "test/blob".into(), registry: self.addr.clone() }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Seen> {
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len: usize = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen { method, target, headers, body_len: len })
}

fn respond(conn: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

fn data() -> Arc<Vec<u8>> {
    Arc::new((0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect())
}

fn desc_of(data: &[u8]) -> Descriptor {
    Descriptor {
        media_type: manifest::OCI_LAYER_TAR.into(),
        digest: sha256_digest(data),
        size: data.len() as u64,
        platform: None,
        urls: vec![],
    }
}

fn client_with_stall(stall: Duration) -> Client {
    Client::new(Options { stall_timeout: stall, connect_timeout: Duration::from_secs(5), ..Options::default() }).unwrap()
}

/// Serves the n-th answer of a blob that breaks: the first response (with Accept-Ranges
/// when `ranges`) sends `cut` bytes of a full-length promise, then `after_cut` runs;
/// later requests get the rest as 206 for their Range (or 200 with everything when
/// `honour_range` is false).
fn breaking_blob(data: Arc<Vec<u8>>, cut: usize, ranges: bool, honour_range: bool, after_cut: fn()) -> Fake {
    Fake::start(move |n, req, conn| {
        let total = data.len();
        let mut headers = vec![("Content-Type", "application/octet-stream".to_string())];
        if ranges {
            headers.push(("Accept-Ranges", "bytes".to_string()));
        }
        if n == 0 {
            headers.push(("Content-Length", total.to_string()));
            respond(conn, "200 OK", &headers, &data[..cut]);
            let _ = conn.flush();
            after_cut();
            return;
        }
        let from: usize =
            req.header("Range").and_then(|r| r.strip_prefix("bytes=")).and_then(|r| r.trim_end_matches('-').parse().ok()).unwrap_or(0);
        if from > 0 && honour_range {
            headers.push(("Content-Length", (total - from).to_string()));
            headers.push(("Content-Range", format!("bytes {from}-{}/{total}", total - 1)));
            respond(conn, "206 Partial Content", &headers, &data[from..]);
        } else {
            headers.push(("Content-Length", total.to_string()));
            respond(conn, "200 OK", &headers, &data);
        }
    })
}

fn read_all(c: &Client, fake: &Fake, desc: &Descriptor) -> std::io::Result<Vec<u8>> {
    let mut blob = c.open_blob(&fake.repo(), None, desc).map_err(|e| std::io::Error::other(e.message))?;
    let mut out = Vec::new();
    blob.read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn resumes_after_a_disconnect() {
    let data = data();
    let fake = breaking_blob(data.clone(), 70_000, true, true, || {});
    let got = read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc_of(&data)).unwrap();
    assert!(got == *data, "resumed blob differs");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].header("Range"), Some("bytes=70000-"));
}

#[test]
fn resumes_after_a_stall() {
    let data = data();
    let fake = breaking_blob(data.clone(), 50_000, true, true, || std::thread::sleep(Duration::from_secs(3)));
    let start = Instant::now();
    let got = read_all(&client_with_stall(Duration::from_millis(300)), &fake, &desc_of(&data)).unwrap();
    assert!(got == *data);
    assert!(start.elapsed() < Duration::from_secs(2), "the stall timeout, not the server, ended the first read: {:?}", start.elapsed());
    assert_eq!(fake.seen()[1].header("Range"), Some("bytes=50000-"));
}

#[test]
fn a_stall_without_ranges_fails_in_time() {
    let data = data();
    let fake = breaking_blob(data.clone(), 50_000, false, false, || std::thread::sleep(Duration::from_secs(3)));
    let start = Instant::now();
    let e = read_all(&client_with_stall(Duration::from_millis(300)), &fake, &desc_of(&data)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("blob {}: stalled", desc_of(&data).digest)), "{msg}");
    assert!(msg.contains("after 50000 of 200000 bytes") && msg.contains("does not offer ranges"), "{msg}");
}

#[test]
fn a_server_that_ignores_range_fails_clearly() {
    let data = data();
    let fake = breaking_blob(data.clone(), 70_000, true, false, || {});
    let e = read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc_of(&data)).unwrap_err();
    assert!(e.to_string().contains("ignored the Range request"), "{e}");
}

#[test]
fn a_short_body_without_ranges_fails() {
    let data = data();
    let fake = breaking_blob(data.clone(), 70_000, false, false, || {});
    let e = read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc_of(&data)).unwrap_err();
    assert!(e.to_string().contains("after 70000 of 200000 bytes"), "{e}");
}

#[test]
fn a_body_longer_than_declared_is_refused() {
    let data = data();
    // No Content-Length: the body runs until the server closes, past the declared size.
    let d = data.clone();
    let fake = Fake::start(move |_, _, conn| respond(conn, "200 OK", &[], &d));
    let mut desc = desc_of(&data[..150_000]);
    desc.size = 150_000;
    let e = read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc).unwrap_err();
    assert_eq!(e.to_string(), format!("blob {}: registry sent more than the 150000 bytes the manifest declared", desc.digest));
    // A Content-Length above the declared size is refused before reading.
    let d = data.clone();
    let fake = Fake::start(move |_, _, conn| respond(conn, "200 OK", &[("Content-Length", d.len().to_string())], &d));
    let e = read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc).unwrap_err();
    assert!(e.to_string().contains("more than the 150000 bytes"), "{e}");
}

#[test]
fn a_wrong_digest_is_caught_and_sticks() {
    let data = data();
    let d = data.clone();
    let fake = Fake::start(move |_, _, conn| respond(conn, "200 OK", &[("Content-Length", d.len().to_string())], &d));
    let mut desc = desc_of(&data);
    let claimed = sha256_digest(b"something else");
    desc.digest = claimed.clone();
    let c = client_with_stall(Duration::from_secs(5));
    let mut blob = c.open_blob(&fake.repo(), None, &desc).unwrap();
    let e = blob.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.to_string(), format!("blob {claimed}: digest mismatch: the registry sent content with digest {}", sha256_digest(&data)));
    assert!(blob.read(&mut [0u8; 16]).is_err(), "a failed blob stays failed");
    let e = c.fetch_blob(&fake.repo(), None, &desc, MAX_CONFIG).unwrap_err();
    assert!(e.message.contains("digest mismatch"), "{}", e.message);
}

#[test]
fn server_errors_are_retried_a_few_times() {
    let data = data();
    let d = data.clone();
    let fake = Fake::start(move |n, _, conn| match n {
        0 => respond(conn, "503 Service Unavailable", &[("Content-Length", "0".into())], b""),
        1 => respond(conn, "429 Too Many Requests", &[("Retry-After", "0".into()), ("Content-Length", "0".into())], b""),
        _ => respond(conn, "200 OK", &[("Content-Length", d.len().to_string())], &d),
    });
    assert!(read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc_of(&data)).unwrap() == *data);
    assert_eq!(fake.seen().len(), 3);

    let always = Fake::start(|_, _, conn| {
        let body = br#"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#;
        respond(conn, "503 Service Unavailable", &[("Content-Length", body.len().to_string())], body)
    });
    let e = read_all(&client_with_stall(Duration::from_secs(5)), &always, &desc_of(&data)).unwrap_err();
    assert!(e.to_string().ends_with("unavailable: try later"), "{e}");
    assert_eq!(always.seen().len(), 3, "bounded");
}

#[test]
fn redirects_keep_credentials_at_home() {
    let data = data();
    let d = data.clone();
    let storage = Fake::start(move |_, _, conn| respond(conn, "200 OK", &[("Content-Length", d.len().to_string())], &d));
    let target = format!("http://{}/bucket/blob?signature=abc", storage.addr);
    let registry = Fake::start(move |_, req, conn| {
        if req.header("Authorization").is_none() {
            respond(conn, "401 Unauthorized", &[("WWW-Authenticate", r#"Basic realm="test""#.into()), ("Content-Length", "0".into())], b"");
        } else {
            respond(conn, "307 Temporary Redirect", &[("Location", target.clone()), ("Content-Length", "0".into())], b"");
        }
    });
    let c = client_with_stall(Duration::from_secs(5));
    let creds = Credentials { username: "u".into(), password: "p".into(), ..Default::default() };
    let mut blob = c.open_blob(&registry.repo(), Some(&creds), &desc_of(&data)).unwrap();
    let mut got = Vec::new();
    blob.read_to_end(&mut got).unwrap();
    assert!(got == *data);
    let at_registry = registry.seen();
    assert_eq!(at_registry.len(), 2);
    assert!(at_registry[1].header("Authorization").is_some_and(|a| a.starts_with("Basic ")));
    let at_storage = storage.seen();
    assert_eq!(at_storage.len(), 1);
    assert_eq!(at_storage[0].target, "/bucket/blob?signature=abc");
    assert_eq!(at_storage[0].header("Authorization"), None, "credentials must not follow a redirect to another host");
}

#[test]
fn redirect_loops_end() {
    let fake =
        Fake::start(|n, _, conn| respond(conn, "302 Found", &[("Location", format!("/loop/{n}")), ("Content-Length", "0".into())], b""));
    let e = read_all(&client_with_stall(Duration::from_secs(5)), &fake, &desc_of(b"x")).unwrap_err();
    assert!(e.to_string().contains("more than 10 redirects"), "{e}");
    assert_eq!(fake.seen().len(), 11);
}

#[test]
fn uploads_follow_a_relative_location_and_stream_the_body() {
    let fake = Fake::start(|_, req, conn| match req.method.as_str() {
        "POST" => respond(
            conn,
            "202 Accepted",
            &[("Location", "/v2/test/blob/blobs/uploads/abc?_state=xyz".into()), ("Content-Length", "0".into())],
            b"",
        ),
        _ => respond(conn, "201 Created", &[("Content-Length", "0".into())], b""),
    });
    let data = data();
    let desc = desc_of(&data);
    let mut calls = 0;
    let mut last = 0;
    client_with_stall(Duration::from_secs(5))
        .upload_blob(&fake.repo(), None, &desc.digest, desc.size, &mut &data[..], &mut |n| {
            calls += 1;
            last = n;
        })
        .unwrap();
    assert!(calls > 1 && last == desc.size, "{calls} progress calls, last {last}");
    let seen = fake.seen();
    assert_eq!(seen[0].target, "/v2/test/blob/blobs/uploads/");
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].target, format!("/v2/test/blob/blobs/uploads/abc?_state=xyz&digest={}", desc.digest.replace(':', "%3A")));
    assert_eq!(seen[1].body_len, data.len());
    assert_eq!(seen[1].header("Content-Length"), Some("200000"));
}

#[test]
fn manifests_are_bounded_and_verified() {
    let big = Fake::start(|_, _, conn| {
        let body = vec![b' '; MAX_MANIFEST as usize + 10];
        respond(conn, "200 OK", &[("Content-Type", manifest::OCI_MANIFEST.into()), ("Content-Length", body.len().to_string())], &body);
    });
    let c = client_with_stall(Duration::from_secs(5));
    let e = c.resolve(&big.repo(), None, "latest", &Platform::host()).unwrap_err();
    assert!(e.message.contains("larger than the 4194304 bytes"), "{}", e.message);

    let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1},"layers":[]}"#;
    let liar = Fake::start(move |_, _, conn| {
        let wrong = sha256_digest(b"other");
        respond(conn, "200 OK", &[("Docker-Content-Digest", wrong), ("Content-Length", body.len().to_string())], body);
    });
    let e = c.resolve(&liar.repo(), None, "latest", &Platform::host()).unwrap_err();
    assert!(e.message.starts_with(&format!("manifest for {}/test/blob:latest: digest mismatch", liar.addr)), "{}", e.message);
    let asked = sha256_digest(b"asked for");
    let e = c.resolve(&liar.repo(), None, &asked, &Platform::host()).unwrap_err();
    assert!(e.message.contains("digest mismatch"), "{}", e.message);
}
