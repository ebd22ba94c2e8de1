//! A real registry for tests: Debian's `docker-registry` (distribution 2.8) on a free port
//! of 127.0.0.1 with its own temp root, without auth, with htpasswd basic auth, or with
//! token auth served by a small token server thread that signs RS256 JWTs (an `x5c` header
//! carrying a certificate the registry trusts through `rootcertbundle`). Everything is
//! stopped and removed on Drop. The file is compiled twice, as the unit-test helper
//! `crate::registry::testreg` and, through `#[path]`, into the integration harness
//! (tests/common/registry.rs), so it uses only std, serde_json and external programs
//! (docker-registry, openssl, htpasswd from apache2-utils), never `crate::`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// True when the registry binary and the tools the harness needs are installed; else
/// prints why `test` is skipped.
pub fn available(test: &str) -> bool {
    let missing: Vec<&str> = [(REGISTRY_BIN, "docker-registry"), ("/usr/bin/openssl", "openssl"), ("/usr/bin/htpasswd", "apache2-utils")]
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!("skipped {test}: needs the Debian packages {}", missing.join(", "));
    false
}

/// Who the token server accepts: `user`/`pass` over basic auth, or `identity_token` as an
/// OAuth2 refresh token. With neither, everyone gets every scope they ask for; without
/// valid credentials (when some are configured) a client gets a token granting nothing,
/// as Docker Hub answers anonymous requests for private repositories.
#[derive(Clone, Default)]
pub struct TokenUsers {
    pub user: String,
    pub pass: String,
    pub identity_token: String,
}

pub struct Registry {
    /// "127.0.0.1:PORT".
    pub addr: String,
    pub dir: PathBuf,
    /// The token server, for registries started with `start_token`.
    pub token: Option<TokenServer>,
    child: Option<Child>,
}

fn unique_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos:x}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create registry test dir");
    dir
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

impl Registry {
    /// A registry without authentication.
    pub fn start() -> Registry {
        Registry::launch("", None)
    }

    /// A registry with htpasswd (bcrypt) basic auth for one user.
    pub fn start_basic(user: &str, pass: &str) -> Registry {
        let dir = unique_dir("berth-registry");
        let out = Command::new("htpasswd").args(["-Bbn", user, pass]).output().expect("run htpasswd (install apache2-utils)");
        assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
        let file = dir.join("htpasswd");
        std::fs::write(&file, &out.stdout).expect("write htpasswd");
        let auth = format!("auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n", file.display());
        Registry::launch_in(dir, &auth, None)
    }

    /// A registry with token auth for `service`, its token server accepting `users`.
    pub fn start_token(service: &str, users: TokenUsers) -> Registry {
        let dir = unique_dir("berth-registry");
        let server = TokenServer::start(&dir, service, users);
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {service}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            server.realm,
            server.cert.display()
        );
        Registry::launch_in(dir, &auth, Some(server))
    }

    fn launch(auth: &str, token: Option<TokenServer>) -> Registry {
        Registry::launch_in(unique_dir("berth-registry"), auth, token)
    }

    fn launch_in(dir: PathBuf, auth: &str, token: Option<TokenServer>) -> Registry {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: {addr}\n  secret: berth-test-secret\n{auth}",
            dir.join("data").display()
        );
        std::fs::write(dir.join("config.yml"), config).expect("write registry config");
        let log = std::fs::File::create(dir.join("registry.log")).expect("registry log");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut r = Registry { addr, dir, token, child: Some(child) };
        r.wait_ready();
        r
    }

    /// Waits until GET /v2/ answers (200, or 401 when auth is on).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            if let Ok(mut s) = TcpStream::connect(&self.addr) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry on {} did not answer:\n{}", self.addr, self.log());
    }

    /// "http://127.0.0.1:PORT".
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }

    /// Token requests served so far (0 without a token server).
    pub fn token_requests(&self) -> usize {
        self.token.as_ref().map(|t| t.requests.load(Ordering::SeqCst)).unwrap_or(0)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Stops the token server before its files go.
        self.token.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const ISSUER: &str = "berth-test-issuer";

/// A token endpoint on 127.0.0.1 in a thread of the test process.
pub struct TokenServer {
    /// "http://127.0.0.1:PORT/token".
    pub realm: String,
    cert: PathBuf,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: String,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Signer {
    key: PathBuf,
    /// The certificate, DER in standard base64, for the JWT's `x5c` header.
    x5c: String,
    service: String,
    users: TokenUsers,
}

impl TokenServer {
    fn start(dir: &Path, service: &str, users: TokenUsers) -> TokenServer {
        let key = dir.join("token.key");
        let cert = dir.join("token.crt");
        let status = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=berth-test-token", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run openssl req");
        assert!(status.success(), "openssl req failed");
        let der = Command::new("openssl").args(["x509", "-outform", "DER", "-in"]).arg(&cert).output().expect("run openssl x509");
        assert!(der.status.success(), "openssl x509 failed");
        let signer = Arc::new(Signer { key, x5c: b64(&der.stdout, false), service: service.to_string(), users });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let addr = listener.local_addr().expect("token server addr").to_string();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let signer = signer.clone();
                    let r = r.clone();
                    std::thread::spawn(move || serve_token(conn, &signer, &r));
                }
            }
        });
        TokenServer { realm: format!("http://{addr}/token"), cert, requests, stop, addr, thread: Some(thread) }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP exchange: GET /token?service=&scope=... (basic auth) or POST /token with an
/// OAuth2 refresh-token form. Answers with Connection: close.
fn serve_token(conn: TcpStream, signer: &Signer, requests: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut authorization = String::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" => authorization = v.trim().to_string(),
                "content-length" => length = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length.min(64 * 1024)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, answer) = if path != "/token" {
        (404, r#"{"details":"not found"}"#.to_string())
    } else if method == "POST" {
        let form = parse_form(&String::from_utf8_lossy(&body));
        let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
        let scopes: Vec<String> = get("scope").split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
        if get("grant_type") == "refresh_token"
            && !signer.users.identity_token.is_empty()
            && get("refresh_token") == signer.users.identity_token
        {
            (200, format!(r#"{{"access_token":"{}","expires_in":300}}"#, signer.jwt(&scopes)))
        } else {
            (401, r#"{"error":"invalid_grant","error_description":"refresh token refused"}"#.to_string())
        }
    } else {
        let params = parse_form(query);
        let scopes: Vec<String> = params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect();
        let expected = format!("Basic {}", b64(format!("{}:{}", signer.users.user, signer.users.pass).as_bytes(), false));
        let open = signer.users.user.is_empty() && signer.users.identity_token.is_empty();
        if open || (!signer.users.user.is_empty() && authorization == expected) {
            (200, format!(r#"{{"token":"{}","expires_in":300}}"#, signer.jwt(&scopes)))
        } else if authorization.is_empty() {
            (200, format!(r#"{{"token":"{}","expires_in":300}}"#, signer.jwt(&[])))
        } else {
            (401, r#"{"details":"incorrect username or password"}"#.to_string())
        }
    };
    let text = if status == 200 {
        "OK"
    } else if status == 401 {
        "Unauthorized"
    } else {
        "Not Found"
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} {text}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

impl Signer {
    /// A JWT granting every action of every scope asked for.
    fn jwt(&self, scopes: &[String]) -> String {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let (kind, rest) = s.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5c": [self.x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": self.users.user, "aud": self.service,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", scopes.len()),
            "access": access,
        });
        let input = format!("{}.{}", b64(header.to_string().as_bytes(), true), b64(claims.to_string().as_bytes(), true));
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl dgst");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write to openssl");
        let out = child.wait_with_output().expect("openssl dgst");
        assert!(out.status.success(), "openssl dgst failed");
        format!("{input}.{}", b64(&out.stdout, true))
    }
}

/// application/x-www-form-urlencoded pairs, decoded.
fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Base64, standard and padded, or URL-safe and unpadded (JWT).
fn b64(data: &[u8], url: bool) -> String {
    let alphabet: &[u8] = if url {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
        if !url {
            out.push_str(&"=="[..3 - chunk.len()]);
        }
    }
    out
}
