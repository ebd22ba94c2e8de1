//! Request-head parsing (RFC 9112 §2-§6) over bytes already read: the request line, header
//! fields, and what they say about framing and the connection. Strict where leniency lets
//! two parsers disagree (request smuggling): obs-fold, spaces before the colon, bare CR,
//! Transfer-Encoding beside Content-Length and differing Content-Lengths are refused.
//! It does no I/O and holds no limits beyond what one head can say.

/// A refusal: the status to answer and a short reason for the `message` body. Every
/// refusal closes the connection: after a malformed head the byte stream can't be trusted.
pub(super) type Reject = (u16, &'static str);

/// A parsed request head.
#[derive(Debug)]
pub(super) struct Head {
    pub method: String,
    pub path: String,
    pub query: String,
    pub http10: bool,
    pub headers: Vec<(String, String)>,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyKind {
    Length(u64),
    Chunked,
}

/// What the headers say beyond their values.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Meta {
    pub body: Option<BodyKind>,
    /// `Connection: close`, or HTTP/1.0 without `Connection: keep-alive`.
    pub close: bool,
    pub expect_continue: bool,
}

/// Parses a whole head: `bytes` runs from the request line to the end of the last header
/// line (the blank line may be included). Lines end in LF, optionally preceded by CR.
pub(super) fn parse_head(bytes: &[u8]) -> Result<Head, Reject> {
    let mut lines = bytes.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().ok_or((400, "empty request"))?;
    let (method, target, version) = request_line(first)?;
    let http10 = match version {
        b"HTTP/1.1" => false,
        b"HTTP/1.0" => true,
        v if v.len() == 8
            && v.starts_with(b"HTTP/")
            && v[5].is_ascii_digit()
            && v[6] == b'.'
            && v[7].is_ascii_digit() =>
        {
            return Err((505, "http version not supported"))
        }
        _ => return Err((400, "malformed request line")),
    };
    let (path, query) = split_target(target)?;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        headers.push(header_line(line)?);
    }
    Ok(Head {
        // request_line checked both are ASCII.
        method: String::from_utf8_lossy(method).into_owned(),
        path: percent_decode(path, false),
        query: String::from_utf8_lossy(query).into_owned(),
        http10,
        headers,
    })
}

/// Method, target and version of a request line.
type RequestLine<'a> = (&'a [u8], &'a [u8], &'a [u8]);

fn request_line(line: &[u8]) -> Result<RequestLine<'_>, Reject> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err((400, "malformed request line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err((400, "malformed request method"));
    }
    // Visible ASCII only: raw bytes >= 0x80 and controls must arrive percent-encoded.
    if target.is_empty() || !target.iter().all(|&b| (0x21..0x7f).contains(&b)) {
        return Err((400, "malformed request target"));
    }
    Ok((method, target, version))
}

/// Splits origin-form `/p?q`, absolute-form `http://host/p?q` and `*` into path and query.
fn split_target(target: &[u8]) -> Result<(&[u8], &[u8]), Reject> {
    let target = if target.starts_with(b"/") || target == b"*" {
        target
    } else if let Some(rest) = strip_scheme(target) {
        match rest.iter().position(|&b| b == b'/' || b == b'?') {
            Some(i) if rest[i] == b'/' => &rest[i..],
            _ => return Err((400, "malformed request target")),
        }
    } else {
        return Err((400, "malformed request target"));
    };
    let target = match target.iter().position(|&b| b == b'#') {
        Some(i) => &target[..i],
        None => target,
    };
    Ok(match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &[][..]),
    })
}

fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    for scheme in [&b"http://"[..], b"https://"] {
        if target.len() > scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(&target[scheme.len()..]);
        }
    }
    None
}

fn header_line(line: &[u8]) -> Result<(String, String), Reject> {
    if line[0] == b' ' || line[0] == b'\t' {
        return Err((400, "obsolete header line folding"));
    }
    let colon = line.iter().position(|&b| b == b':').ok_or((400, "malformed header line"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err((400, "malformed header name"));
    }
    let value = trim_ows(value);
    // Field values are visible characters, spaces, tabs and obs-text; a CR or NUL here
    // is how header injection and smuggling attempts look.
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err((400, "invalid character in header value"));
    }
    let name = String::from_utf8_lossy(name).into_owned();
    let value = match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(value).into_owned(),
    };
    Ok((name, value))
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads framing and connection handling from the headers, refusing ambiguous framing.
pub(super) fn meta(headers: &[(String, String)], http10: bool) -> Result<Meta, Reject> {
    let mut length: Option<u64> = None;
    let mut te: Option<String> = None;
    let mut close = false;
    let mut keep_alive = false;
    let mut expect_continue = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            for v in value.split(',') {
                let n = parse_length(v.trim()).ok_or((400, "invalid content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err((400, "conflicting content-length values"));
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let all = te.get_or_insert_with(String::new);
            if !all.is_empty() {
                all.push(',');
            }
            all.push_str(value);
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue |= value.eq_ignore_ascii_case("100-continue");
        }
    }
    let body = match (te, length) {
        (Some(_), Some(_)) => {
            return Err((400, "both transfer-encoding and content-length are set"))
        }
        (Some(te), None) => {
            let codings: Vec<&str> =
                te.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
            if codings.len() != 1 || !codings[0].eq_ignore_ascii_case("chunked") {
                return Err((501, "transfer-encoding not implemented"));
            }
            Some(BodyKind::Chunked)
        }
        (None, Some(0)) | (None, None) => None,
        (None, Some(n)) => Some(BodyKind::Length(n)),
    };
    Ok(Meta { body, close: close || (http10 && !keep_alive), expect_continue })
}

/// Digits only (no sign, no spaces), without overflow.
fn parse_length(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Decodes %XX escapes (and '+' as space when `plus` is set); an invalid escape is kept
/// as written. Invalid UTF-8 in the result is replaced, not refused.
pub(super) fn percent_decode(s: &[u8], plus: bool) -> String {
    if !s.iter().any(|&b| b == b'%' || (plus && b == b'+')) {
        return String::from_utf8_lossy(s).into_owned();
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits a raw query string into decoded pairs, in order, repeats kept.
pub(super) fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k.as_bytes(), true), percent_decode(v.as_bytes(), true))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Result<Head, Reject> {
        parse_head(s.as_bytes())
    }

    fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_request_line_and_headers() {
        let h = head("GET /v1.41/containers/json?all=1&x=%20 HTTP/1.1\r\nHost: berth\r\nX-A:  b c \t\r\n\r\n")
            .unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.path, "/v1.41/containers/json");
        assert_eq!(h.query, "all=1&x=%20");
        assert!(!h.http10);
        assert_eq!(h.headers, hdrs(&[("Host", "berth"), ("X-A", "b c")]));
        let h = head("POST /a%2Fb%zz HTTP/1.0\nContent-Length: 0\n\n").unwrap();
        assert_eq!(h.path, "/a/b%zz");
        assert!(h.http10);
        let h = head("GET http://berth/_ping?x HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!((h.path.as_str(), h.query.as_str()), ("/_ping", "x"));
        assert_eq!(head("OPTIONS * HTTP/1.1\r\n\r\n").unwrap().path, "*");
        assert_eq!(head("GET /%ff HTTP/1.1\r\n\r\n").unwrap().path, "/\u{fffd}");
    }

    #[test]
    fn refuses_malformed_heads() {
        for (text, status) in [
            ("GET /  HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1 x\r\n\r\n", 400),
            ("GET /\r\n\r\n", 400),
            ("G(T / HTTP/1.1\r\n\r\n", 400),
            ("GET nopath HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\n\r\n", 505),
            ("GET / HTTP/0.9\r\n\r\n", 505),
            ("GET / HTTX/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n: empty\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 400),
            ("GET /\u{e9} HTTP/1.1\r\n\r\n", 400),
        ] {
            assert_eq!(head(text).unwrap_err().0, status, "{text:?}");
        }
    }

    #[test]
    fn framing_and_connection() {
        let m = meta(&hdrs(&[("Content-Length", "12")]), false).unwrap();
        assert_eq!(
            m,
            Meta { body: Some(BodyKind::Length(12)), close: false, expect_continue: false }
        );
        let m = meta(&hdrs(&[("content-length", "5, 5"), ("Content-Length", "5")]), false).unwrap();
        assert_eq!(m.body, Some(BodyKind::Length(5)));
        assert_eq!(meta(&hdrs(&[("Content-Length", "0")]), false).unwrap().body, None);
        let m = meta(&hdrs(&[("Transfer-Encoding", "Chunked"), ("Expect", "100-Continue")]), false)
            .unwrap();
        assert_eq!(m.body, Some(BodyKind::Chunked));
        assert!(m.expect_continue);
        assert!(meta(&hdrs(&[("Connection", "keep-alive, Close")]), false).unwrap().close);
        assert!(meta(&[], true).unwrap().close);
        assert!(!meta(&hdrs(&[("Connection", "keep-alive")]), true).unwrap().close);
        for (pairs, status) in [
            (&[("Content-Length", "1"), ("Transfer-Encoding", "chunked")][..], 400),
            (&[("Content-Length", "1"), ("Content-Length", "2")][..], 400),
            (&[("Content-Length", "+1")][..], 400),
            (&[("Content-Length", "1 2")][..], 400),
            (&[("Content-Length", "")][..], 400),
            (&[("Content-Length", "99999999999999999999999")][..], 400),
            (&[("Transfer-Encoding", "gzip, chunked")][..], 501),
            (&[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")][..], 501),
            (&[("Transfer-Encoding", "identity")][..], 501),
        ] {
            assert_eq!(meta(&hdrs(pairs), false).unwrap_err().0, status, "{pairs:?}");
        }
    }

    #[test]
    fn query_decoding() {
        assert_eq!(
            query_pairs("a=1&b=x+y&c=%41%2b&&d&e=%zz%4&f=%e2%82%ac&a=2"),
            [
                ("a", "1"),
                ("b", "x y"),
                ("c", "A+"),
                ("d", ""),
                ("e", "%zz%4"),
                ("f", "€"),
                ("a", "2")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(query_pairs(""), vec![]);
        assert_eq!(query_pairs("k%3D=v=w"), vec![("k=".to_string(), "v=w".to_string())]);
        assert_eq!(percent_decode(b"a+b%", false), "a+b%");
    }
}
