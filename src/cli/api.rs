//! How the CLI calls the daemon through `client`: query strings encoded the way Go's
//! `url.Values.Encode` orders them, daemon errors turned into docker's
//! "Error response from daemon: <message>" (their kind following the HTTP status, so callers
//! can act on a 404), and JSON bodies read. It knows paths and error bodies, not commands.

use crate::client::{encode_query, Body, Client, Hijacked, Response};
use crate::error::{Error, Result};

/// What docker prefixes to every error the daemon reports.
pub const FROM_DAEMON: &str = "Error response from daemon: ";

/// `?k=v&...` sorted by key like Go's `url.Values.Encode` (stable for repeated keys), or
/// "" when there is nothing to send.
pub fn query(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<&(&str, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", encode_query(k), encode_query(v)))
        .collect();
    format!("?{}", parts.join("&"))
}

/// Sends a request; a status of 400 or more becomes a daemon error. Transport failures
/// ("Cannot connect to the berth daemon ...") keep the client's words.
pub fn call(
    c: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Body<'_>,
) -> Result<Response> {
    let resp = c.request(method, path, headers, body)?;
    if resp.status >= 400 {
        let e = resp.into_error();
        return Err(Error::new(e.kind, format!("{FROM_DAEMON}{}", e.message)));
    }
    Ok(resp)
}

/// A call whose body does not matter; reads it so the connection can be reused.
pub fn post(c: &mut Client, path: &str) -> Result<u16> {
    let resp = call(c, "POST", path, &[], Body::Empty)?;
    let status = resp.status;
    resp.bytes()?;
    Ok(status)
}

/// A call answered with JSON.
pub fn get_json(c: &mut Client, path: &str) -> Result<serde_json::Value> {
    let resp = call(c, "GET", path, &[], Body::Empty)?;
    let bytes = resp.bytes()?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("decode the daemon's answer to {path}: {e}")))
}

/// A hijacked attach or exec stream. The client reports a refused upgrade with the
/// daemon's message, which docker prints after "Error response from daemon: ".
pub fn hijack(c: &Client, path: &str) -> Result<Hijacked> {
    const LOCAL: [&str; 4] = [
        "Cannot connect",
        "permission denied while",
        "unable to upgrade",
        FROM_DAEMON,
    ];
    c.hijack("POST", path, Body::Empty).map_err(|e| {
        if LOCAL.iter().any(|p| e.message.starts_with(p)) {
            e
        } else {
            Error::new(e.kind, format!("{FROM_DAEMON}{}", e.message))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_sorted_and_encoded() {
        assert_eq!(query(&[]), "");
        let q = query(&[
            ("repo", "capture/busybox:latest".into()),
            ("message", "capture busybox".into()),
            ("fromSrc", "-".into()),
            ("changes", "CMD [\"sh\"]".into()),
            ("changes", "ENV A=1".into()),
        ]);
        assert_eq!(
            q,
            "?changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3D1&fromSrc=-&message=capture%20busybox&repo=capture%2Fbusybox%3Alatest"
        );
        assert_eq!(
            query(&[
                ("filters", r#"{"name":{"cap-":true}}"#.into()),
                ("all", "1".into())
            ]),
            "?all=1&filters=%7B%22name%22%3A%7B%22cap-%22%3Atrue%7D%7D"
        );
    }
}
