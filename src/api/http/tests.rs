//! Round trips through the real server on a temp unix socket: the berth client where it
//! applies, raw bytes where the test is about what a misbehaving client sends.

use super::*;
use crate::client::{Addr, Body as ClientBody, Client};
use crate::error::Kind;
use crate::testutil::TempDir;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

struct TestServer {
    _dir: TempDir,
    path: PathBuf,
    handle: ShutdownHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl TestServer {
    fn client(&self) -> Client {
        Client::new(Addr::Unix(self.path.clone()))
    }

    /// A raw connection that fails a test instead of hanging it.
    fn raw(&self) -> UnixStream {
        let s = UnixStream::connect(&self.path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }
}

fn quick() -> Limits {
    Limits {
        head_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        body_timeout: Duration::from_secs(5),
        ..Limits::default()
    }
}

fn start(
    name: &str,
    limits: Limits,
    handler: impl Fn(&mut Request, Responder) + Send + Sync + 'static,
) -> TestServer {
    let dir = TempDir::new(name);
    let path = dir.path().join("http.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = Server::new(vec![Listener::Unix(listener)], limits, Arc::new(handler));
    let handle = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    TestServer { _dir: dir, path, handle, thread: Some(thread) }
}

/// Everything the server sends until it closes the connection.
fn read_to_close(s: &mut UnixStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the last response (Linux reports unread data this way).
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e} after {:?}", String::from_utf8_lossy(&out)),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(r: crate::client::Response) -> String {
    String::from_utf8(r.bytes().unwrap()).unwrap()
}

/// Answers with "<method> <path> <body>" and a few fixed routes.
fn echo(req: &mut Request, res: Responder) {
    let body = req.read_body(1 << 20).unwrap();
    let out = format!("{} {} {}", req.method, req.path, String::from_utf8_lossy(&body));
    res.send(200, &[("Content-Type", "text/plain")], out.as_bytes()).unwrap();
}

#[test]
fn get_head_post_round_trips() {
    let server = start("http-basic", quick(), |req, res| match req.path.as_str() {
        "/v1.41/missing" => {
            res.send(
                404,
                &[("Content-Type", "application/json")],
                b"{\"message\":\"No such container: x\"}\n",
            )
            .unwrap();
        }
        "/v1.41/json" => {
            let pairs = req.query_pairs();
            let v: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            res.send(
                200,
                &[("Content-Type", "application/json")],
                serde_json::to_vec(&v).unwrap().as_slice(),
            )
            .unwrap();
        }
        _ => echo(req, res),
    });
    let mut c = server.client();
    let r = c.request("GET", "/hello", &[], ClientBody::Empty).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(text(r), "GET /v1.41/hello ");

    let r = c.request("HEAD", "/hello", &[], ClientBody::Empty).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("18"));
    assert_eq!(text(r), "");

    let r = c.request("POST", "/create", &[], ClientBody::Json(b"{\"a\":1}".to_vec())).and_then(|r| r.or_error()).unwrap();
    assert_eq!(text(r), "POST /v1.41/create {\"a\":1}");

    let e = c.request("DELETE", "/missing", &[], ClientBody::Empty).and_then(|r| r.or_error()).err().unwrap();
    assert_eq!(e.kind, Kind::NotFound);
    assert_eq!(e.message, "No such container: x");

    let q = format!("/json?name={}&flag&x=a+b", crate::client::encode_query("a b/c&d=é"));
    let v: Vec<String> = c.request("GET", &q, &[], ClientBody::Empty).and_then(|r| r.or_error()).and_then(|r| r.bytes()).map(|b| serde_json::from_slice(&b).unwrap()).unwrap();
    assert_eq!(v, ["name=a b/c&d=é", "flag=", "x=a b"]);
}

#[test]
fn chunked_upload_arrives_whole() {
    let server = start("http-upload", quick(), |req, res| {
        let te = req.header("transfer-encoding").unwrap_or("").to_string();
        let ct = req.header("content-type").unwrap_or("").to_string();
        let mut body = Vec::new();
        req.body().read_to_end(&mut body).unwrap();
        let ok = body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
        let out = format!("{te} {ct} {} {ok}", body.len());
        res.send(200, &[], out.as_bytes()).unwrap();
    });
    let data: Vec<u8> = (0..300_000).map(|i| (i % 251) as u8).collect();
    let mut reader = &data[..];
    let mut c = server.client();
    let r = c
        .request("POST", "/images/load", &[], ClientBody::Stream(&mut reader, "application/x-tar")).and_then(|r| r.or_error()).unwrap();
    assert_eq!(text(r), "chunked application/x-tar 300000 true");
}

#[test]
fn keep_alive_reuses_one_connection() {
    // One thread per connection, and thread ids are never reused: equal ids, one connection.
    let server = start("http-keepalive", quick(), |_req, res| {
        let id = format!("{:?}", std::thread::current().id());
        res.send(200, &[], id.as_bytes()).unwrap();
    });
    let mut c = server.client();
    let first = text(c.request("GET", "/a", &[], ClientBody::Empty).unwrap());
    for body in [ClientBody::Empty, ClientBody::Json(b"{}".to_vec())] {
        assert_eq!(text(c.request("POST", "/b", &[], body).unwrap()), first);
    }
    // A response not yet read holds its connection, so the next call opens another.
    let unread = c.request("GET", "/c", &[], ClientBody::Empty).unwrap();
    let other = text(c.request("GET", "/d", &[], ClientBody::Empty).unwrap());
    assert_ne!(other, first);
    drop(unread);
}

#[test]
fn stream_head_arrives_before_the_body_exists() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let server = start("http-stream", quick(), move |req, res| {
        let mut w = res.stream(200, &[("Content-Type", "application/json")]).unwrap();
        if req.path.ends_with("/wait") {
            // The test releases us only once it holds the response head.
            let got = go_rx.lock().unwrap().recv_timeout(Duration::from_secs(10)).is_ok();
            w.write_all(if got { b"{\"StatusCode\":0}\n" } else { b"late\n" }).unwrap();
        } else {
            for i in 0..3 {
                w.write_all(format!("line {i}\n").as_bytes()).unwrap();
            }
        }
        w.finish().unwrap();
    });
    let mut c = server.client();
    let r = c.request("POST", "/containers/x/wait", &[], ClientBody::Empty).unwrap();
    assert_eq!(r.status, 200);
    go_tx.send(()).unwrap();
    assert_eq!(text(r), "{\"StatusCode\":0}\n");
    // The connection is reusable after a finished stream.
    let r = c.request("GET", "/logs", &[], ClientBody::Empty).unwrap();
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(text(r), "line 0\nline 1\nline 2\n");
}

#[test]
fn dropped_stream_closes_the_connection() {
    let server = start("http-stream-drop", quick(), |_req, res| {
        let mut w = res.stream(200, &[]).unwrap();
        w.write_all(b"partial").unwrap();
    });
    let mut c = server.client();
    let r = c.request("GET", "/logs", &[], ClientBody::Empty).unwrap();
    assert!(r.bytes().is_err(), "an unfinished chunked body must not look complete");
}

#[test]
fn hijack_is_full_duplex_and_survives_a_half_close() {
    let server = start("http-hijack", quick(), |_req, res| {
        let mut conn =
            res.hijack(&[("Content-Type", "application/vnd.docker.raw-stream")]).unwrap();
        let mut out = conn.try_clone().unwrap();
        let mut buf = [0u8; 64];
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n].to_ascii_uppercase()).unwrap();
        }
        // stdin closed: output goes on.
        std::thread::sleep(Duration::from_millis(50));
        out.write_all(b"bye").unwrap();
    });
    let c = server.client();
    let mut h = c.hijack("POST", "/containers/x/attach?stream=1", ClientBody::Empty).unwrap();
    let mut reader = h.try_clone().unwrap();
    let mut buf = [0u8; 5];
    h.write_all(b"hello").unwrap();
    reader.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HELLO");
    h.write_all(b"x").unwrap();
    reader.read_exact(&mut buf[..1]).unwrap();
    assert_eq!(&buf[..1], b"X");
    h.shutdown_write().unwrap();
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "bye");
}

#[test]
fn hijack_delivers_bytes_sent_behind_the_request() {
    let server = start("http-hijack-early", quick(), |req, res| {
        let _ = req.read_body(1024).unwrap();
        let mut conn = res.hijack(&[]).unwrap();
        let early = conn.take_buffered();
        conn.write_all(b"early=").unwrap();
        conn.write_all(&early).unwrap();
        conn.shutdown_write().unwrap();
        let fd = conn.into_fd();
        drop(fd);
    });
    let mut s = server.raw();
    s.write_all(b"POST /exec/1/start HTTP/1.1\r\nContent-Length: 2\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n{}stdin!").unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with("HTTP/1.1 101 UPGRADED\r\n"), "{all}");
    assert!(all.contains("Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"), "{all}");
    assert!(all.ends_with("\r\n\r\nearly=stdin!"), "{all}");
}

#[test]
fn oversized_head_is_431() {
    let limits = Limits { max_head: 4096, ..quick() };
    let server = start("http-431", limits, echo);
    let mut s = server.raw();
    let mut head = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 10_000));
    let _ = s.write_all(&head);
    let all = read_to_close(&mut s);
    assert!(all.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{all}");
    let mut s = server.raw();
    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let _ = s.write_all(&many);
    assert!(read_to_close(&mut s).starts_with("HTTP/1.1 431 "));
}

#[test]
fn transfer_encoding_with_content_length_is_refused_and_closed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let server = start("http-smuggle", quick(), move |req, res| {
        seen.fetch_add(1, Ordering::SeqCst);
        echo(req, res)
    });
    let mut s = server.raw();
    s.write_all(
        b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
          GET /smuggled HTTP/1.1\r\n\r\n",
    )
    .unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{all}");
    assert!(all.contains("Connection: close\r\n"), "{all}");
    assert_eq!(all.matches("HTTP/1.1").count(), 1, "{all}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn other_refusals() {
    let server = start("http-refuse", quick(), echo);
    for (request, status) in [
        (&b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"[..], "501"),
        (b"GET / HTTP/2.0\r\n\r\n", "505"),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nA: x\r\n  folded\r\n\r\n", "400"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "400"),
    ] {
        let mut s = server.raw();
        s.write_all(request).unwrap();
        let all = read_to_close(&mut s);
        assert!(all.starts_with(&format!("HTTP/1.1 {status} ")), "{all}");
        assert!(all.contains("Content-Type: application/json"), "{all}");
        assert!(all.contains("{\"message\":"), "{all}");
    }
}

#[test]
fn slow_client_does_not_delay_others() {
    let limits = Limits { head_timeout: Duration::from_secs(60), ..quick() };
    let server = start("http-slowloris", limits, echo);
    let mut slow = server.raw();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost:").unwrap();
    let (tx, rx) = mpsc::channel();
    let mut c = server.client();
    std::thread::spawn(move || {
        let r = c.request("GET", "/fast", &[], ClientBody::Empty).map(text);
        let _ = tx.send(r);
    });
    let answer = rx.recv_timeout(Duration::from_secs(10)).expect("blocked behind the slow client");
    assert_eq!(answer.unwrap(), "GET /v1.41/fast ");
    drop(slow);
}

#[test]
fn unfinished_head_times_out_with_408() {
    let limits = Limits { head_timeout: Duration::from_millis(150), ..quick() };
    let server = start("http-408", limits, echo);
    let mut s = server.raw();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{all}");
}

#[test]
fn idle_connection_is_closed_and_the_client_retries() {
    let limits = Limits { idle_timeout: Duration::from_millis(100), ..quick() };
    let server = start("http-idle", limits, echo);
    let mut s = server.raw();
    s.write_all(b"GET /a HTTP/1.1\r\n\r\n").unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n") && all.ends_with("GET /a "), "{all}");

    let mut c = server.client();
    assert_eq!(text(c.request("GET", "/1", &[], ClientBody::Empty).unwrap()), "GET /v1.41/1 ");
    std::thread::sleep(Duration::from_millis(400));
    // The kept connection is gone by now; the client notices and reconnects once.
    let r = c.request("POST", "/2", &[], ClientBody::Json(b"{}".to_vec())).unwrap();
    assert_eq!(text(r), "POST /v1.41/2 {}");
}

#[test]
fn panicking_handler_gets_500_and_the_server_lives_on() {
    let server = start("http-panic", quick(), |req, res| {
        if req.path.ends_with("/panic") {
            panic!("deliberate test panic");
        }
        echo(req, res)
    });
    let mut c = server.client();
    let r = c.request("POST", "/panic", &[], ClientBody::Empty).unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(text(r), "{\"message\":\"internal error\"}\n");
    let e = c.request("POST", "/panic", &[], ClientBody::Empty).and_then(|r| r.or_error()).err().unwrap();
    assert_eq!((e.kind, e.message.as_str()), (Kind::System, "internal error"));
    assert_eq!(text(c.request("GET", "/ok", &[], ClientBody::Empty).unwrap()), "GET /v1.41/ok ");
}

#[test]
fn handler_that_does_not_answer_gets_500() {
    let server = start("http-silent", quick(), |req, res| {
        if req.path.ends_with("/silent") {
            drop(res);
            return;
        }
        echo(req, res)
    });
    let mut c = server.client();
    let e = c.request("GET", "/silent", &[], ClientBody::Empty).and_then(|r| r.or_error()).err().unwrap();
    assert_eq!(e.message, "internal error: handler did not answer");
    // Not a panic: the connection stays.
    assert_eq!(text(c.request("GET", "/ok", &[], ClientBody::Empty).unwrap()), "GET /v1.41/ok ");
}

#[test]
fn connections_over_the_limit_get_503() {
    let limits = Limits { max_connections: 1, ..quick() };
    let server = start("http-503", limits, echo);
    let mut first = server.raw();
    first.write_all(b"GET /1 HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = [0u8; 256];
    let n = first.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
    let mut second = server.raw();
    let all = read_to_close(&mut second);
    assert!(all.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{all}");
    drop(first);
    // Once the first connection has gone, a new one is served.
    let mut c = server.client();
    let mut served = false;
    for _ in 0..100 {
        if let Ok(r) = c.request("GET", "/again", &[], ClientBody::Empty) {
            if r.status == 200 {
                served = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(served);
}

#[test]
fn expect_100_continue() {
    let server = start("http-continue", quick(), echo);
    let mut s = server.raw();
    s.write_all(b"POST /up HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").unwrap();
    s.write_all(b"GET /end HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
    let all = read_to_close(&mut s);
    assert!(all.starts_with("HTTP/1.1 200 OK\r\n") && all.contains("POST /up hello"), "{all}");
    assert!(all.ends_with("GET /end "), "{all}");
}

#[test]
fn unread_body_behind_a_missing_100_continue_closes() {
    let server = start("http-continue-skip", quick(), |_req, res| {
        res.send(400, &[], b"no").unwrap();
    });
    let mut s = server.raw();
    s.write_all(b"POST /up HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let all = read_to_close(&mut s);
    assert!(!all.contains("100 Continue"), "{all}");
    assert!(all.starts_with("HTTP/1.1 400 ") && all.contains("Connection: close\r\n"), "{all}");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = start("http-pipeline", quick(), |req, res| {
        // An unread body is drained so the next request is found.
        if req.path == "/2" {
            return res.send(200, &[], b"two").unwrap();
        }
        echo(req, res)
    });
    let mut s = server.raw();
    s.write_all(
        b"GET /1 HTTP/1.1\r\n\r\n\
          POST /2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody\
          POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
          HEAD /4 HTTP/1.1\r\n\r\n\
          GET /5 HTTP/1.0\r\n\r\n\
          GET /never HTTP/1.1\r\n\r\n",
    )
    .unwrap();
    let all = read_to_close(&mut s);
    let bodies: Vec<&str> = all.split("HTTP/1.1 200 OK\r\n").skip(1).collect();
    assert_eq!(bodies.len(), 5, "{all}");
    assert!(bodies[0].ends_with("\r\n\r\nGET /1 "), "{all}");
    assert!(bodies[1].ends_with("\r\n\r\ntwo"), "{all}");
    assert!(bodies[2].ends_with("\r\n\r\nPOST /3 abc"), "{all}");
    assert!(
        bodies[3].contains("Content-Length: 8\r\n") && bodies[3].ends_with("\r\n\r\n"),
        "{all}"
    );
    // HTTP/1.0 closes after its answer.
    assert!(bodies[4].contains("Connection: close\r\n") && bodies[4].ends_with("GET /5 "), "{all}");
}

#[test]
fn body_over_the_limit_is_too_large() {
    let server = start("http-413", quick(), |req, res| match req.read_body(4) {
        Err(BodyError::TooLarge) => res.send(413, &[], b"").unwrap(),
        Ok(b) => res.send(200, &[], &b).unwrap(),
        Err(e) => res.send(500, &[], e.to_string().as_bytes()).unwrap(),
    });
    let mut c = server.client();
    let r = c.request("POST", "/x", &[], ClientBody::Json(b"0123456789".to_vec())).unwrap();
    assert_eq!(r.status, 413);
    drop(r);
    let mut long = &b"0123456789"[..];
    let r = c.request("POST", "/x", &[], ClientBody::Stream(&mut long, "text/plain")).unwrap();
    assert_eq!(r.status, 413);
    drop(r);
    let r = c.request("POST", "/x", &[], ClientBody::Json(b"1234".to_vec())).unwrap();
    assert_eq!(text(r), "1234");
}

#[test]
fn shutdown_stops_run_on_unix_and_tcp() {
    let dir = TempDir::new("http-shutdown");
    let unix = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let server =
        Server::new(vec![Listener::Unix(unix), Listener::Tcp(tcp)], quick(), Arc::new(echo));
    let handle = server.shutdown_handle();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        server.run();
        let _ = tx.send(());
    });
    let mut c = Client::new(Addr::Tcp(format!("127.0.0.1:{port}")));
    assert_eq!(text(c.request("GET", "/t", &[], ClientBody::Empty).unwrap()), "GET /v1.41/t ");
    handle.shutdown();
    handle.shutdown();
    rx.recv_timeout(Duration::from_secs(5)).expect("run did not return after shutdown");
}

#[test]
fn head_and_bodyless_statuses_on_streams() {
    let server = start("http-head-stream", quick(), |req, res| {
        if req.path.ends_with("/bad-header") {
            // Refused before anything is written: the request counts as unanswered.
            assert!(res.send(200, &[("X", "a\r\nInjected: 1")], b"").is_err());
            return;
        }
        let status = if req.path.ends_with("/start") { 204 } else { 200 };
        let mut w = res.stream(status, &[("Content-Type", "text/plain")]).unwrap();
        w.write_all(b"dropped for HEAD and 204").unwrap();
        w.finish().unwrap();
    });
    let mut s = server.raw();
    s.write_all(
        b"HEAD /logs HTTP/1.1\r\n\r\nPOST /start HTTP/1.1\r\nContent-Length: 0\r\n\r\n\
          GET /bad-header HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let all = read_to_close(&mut s);
    assert_eq!(
        all,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
         HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n\r\n\
         HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 53\r\n\
         Connection: close\r\n\r\n{\"message\":\"internal error: handler did not answer\"}\n"
    );
}
