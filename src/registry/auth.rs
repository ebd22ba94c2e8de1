//! Registry credentials and the token dance: what `X-Registry-Auth` carries (base64url JSON
//! of docker's AuthConfig), HTTP basic, and bearer tokens obtained from the realm a
//! `WWW-Authenticate: Bearer realm=...,service=...,scope=...` challenge names (GET with
//! basic credentials, or the OAuth2 refresh-token POST for an identity token), cached per
//! (realm, service, scopes, credentials) until they expire. Secrets never appear in an
//! error, a log line or a `Debug` print. Which URL may receive them is the transport's call.

use crate::error::{Error, Result};
use crate::util::base64;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Docker's AuthConfig, as the CLI sends it.
#[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// A refresh token from an earlier login (`identitytoken`).
    #[serde(default, rename = "identitytoken", skip_serializing_if = "String::is_empty")]
    pub identity_token: String,
    /// A bearer token to use as is (`registrytoken`).
    #[serde(default, rename = "registrytoken", skip_serializing_if = "String::is_empty")]
    pub registry_token: String,
    #[serde(default, rename = "serveraddress", skip_serializing_if = "String::is_empty")]
    pub server_address: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .field("server_address", &self.server_address)
            .finish()
    }
}

impl Credentials {
    /// Decodes an `X-Registry-Auth` header (base64url or base64, padded or not). `e30=`
    /// (`{}`) and empty mean anonymous: None.
    pub fn from_header(value: &str) -> Result<Option<Credentials>> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let json = base64::decode_url(value)
            .or_else(|| base64::decode(value))
            .ok_or_else(|| Error::invalid("invalid X-Registry-Auth header: not base64"))?;
        /// AuthConfig may carry config.json's `auth` ("user:pass" in base64) instead of
        /// the username and password.
        #[derive(serde::Deserialize)]
        struct Wire {
            #[serde(flatten)]
            creds: Credentials,
            #[serde(default)]
            auth: String,
        }
        // The serde error could quote the JSON, and with it a password: keep it out.
        let not_config = || Error::invalid("invalid X-Registry-Auth header: not an auth config");
        let wire: Wire = serde_json::from_slice(&json).map_err(|_| not_config())?;
        let mut creds = wire.creds;
        if creds.username.is_empty() && !wire.auth.is_empty() {
            let pair = base64::decode(&wire.auth).and_then(|b| String::from_utf8(b).ok()).ok_or_else(not_config)?;
            let (user, pass) = pair.split_once(':').ok_or_else(not_config)?;
            creds.username = user.to_string();
            creds.password = pass.to_string();
        }
        if creds.username.is_empty() && creds.password.is_empty() && creds.identity_token.is_empty() && creds.registry_token.is_empty() {
            return Ok(None);
        }
        Ok(Some(creds))
    }

    /// Encodes for `X-Registry-Auth`.
    pub fn to_header(&self) -> String {
        base64::encode_url(serde_json::to_string(self).expect("string fields always serialize").as_bytes())
    }

    /// `Authorization: Basic ...` for these credentials, when they have a username.
    pub(super) fn basic(&self) -> Option<String> {
        if self.username.is_empty() {
            return None;
        }
        Some(format!("Basic {}", base64::encode(format!("{}:{}", self.username, self.password).as_bytes())))
    }

    /// A stable, secret-free key for these credentials in the token cache, so that one
    /// user's token never serves another user's request.
    fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.username, &self.password, &self.identity_token, &self.registry_token] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        crate::util::id::hex(&h.finalize()[..16])
    }
}

/// What a 401's `WWW-Authenticate` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    Basic,
    Bearer { realm: String, service: String, scope: String },
}

/// The challenge among the `WWW-Authenticate` values of a response: Bearer when offered
/// (it is the stronger scheme), else Basic; None when neither is there.
pub(super) fn parse_challenges(values: &[&str]) -> Option<Challenge> {
    let mut basic = false;
    for v in values {
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            let params = parse_params(rest);
            let get = |k: &str| params.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone()).unwrap_or_default();
            let realm = get("realm");
            if !realm.is_empty() {
                return Some(Challenge::Bearer { realm, service: get("service"), scope: get("scope") });
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            basic = true;
        }
    }
    basic.then_some(Challenge::Basic)
}

/// `key=value, key="quoted \"value\""` pairs (RFC 7235 auth-params).
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() && chars.peek().is_none() {
            return out;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_string();
            }
        }
        out.push((key.trim().to_string(), value));
    }
}

/// Bearer tokens by (realm, service, scopes, credentials), each until it expires.
/// One mutex, held only to look up or store: fetching happens outside it, so two threads
/// missing at once may both fetch (harmless; the later one is kept).
#[derive(Default)]
pub(super) struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

/// Tokens are dropped this long before they expire, so one is never sent stale.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);
/// Docker's floor for `expires_in` (and its default when absent).
const MIN_TOKEN_LIFETIME: u64 = 60;

impl TokenCache {
    pub(super) fn key(realm: &str, service: &str, scopes: &[String], creds: Option<&Credentials>) -> String {
        let who = creds.map(Credentials::fingerprint).unwrap_or_else(|| "anonymous".to_string());
        format!("{realm}\n{service}\n{}\n{who}", scopes.join(" "))
    }

    pub(super) fn get(&self, key: &str) -> Option<String> {
        let mut map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub(super) fn put(&self, key: String, token: String, lifetime: Duration) {
        let until = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        let mut map = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, u)| Instant::now() < *u);
        map.insert(key, (token, until));
    }

    pub(super) fn forget(&self, key: &str) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    expires_in: u64,
}

/// Largest token-server answer read.
const MAX_TOKEN_RESPONSE: u64 = 1024 * 1024;

/// Asks the realm for a token covering `scopes`: the OAuth2 refresh-token POST when the
/// credentials carry an identity token, else a GET (with basic credentials when given).
/// Returns the token and how long it lives.
pub(super) fn fetch_token(
    agent: &ureq::Agent,
    realm: &str,
    service: &str,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> Result<(String, Duration)> {
    let identity = creds.map(|c| c.identity_token.as_str()).filter(|t| !t.is_empty());
    let answer = if let Some(refresh) = identity {
        let scope = scopes.join(" ");
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("service", service),
            ("scope", scope.as_str()),
            ("client_id", "berth"),
            ("access_type", "offline"),
        ];
        agent.post(realm).send_form(&form)
    } else {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if !service.is_empty() {
            query.push(("service", service));
        }
        for s in scopes {
            query.push(("scope", s));
        }
        if let Some(user) = creds.map(|c| c.username.as_str()).filter(|u| !u.is_empty()) {
            query.push(("account", user));
        }
        let mut req = agent.get(realm).query_pairs(query);
        if let Some(basic) = creds.and_then(Credentials::basic) {
            req = req.set("Authorization", &basic);
        }
        req.call()
    };
    let resp = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return Err(Error::system(format!("get a token from {realm}: {}", super::transport::describe(&t))))
        }
    };
    let status = resp.status();
    let status_text = resp.status_text().to_string();
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_TOKEN_RESPONSE)
        .read_to_end(&mut body)
        .map_err(|e| Error::system(format!("get a token from {realm}: {e}")))?;
    if status != 200 {
        return Err(token_error(status, &status_text, &body, realm));
    }
    let t: TokenResponse =
        serde_json::from_slice(&body).map_err(|_| Error::system(format!("get a token from {realm}: the answer is not a token")))?;
    let token = if t.token.is_empty() { t.access_token } else { t.token };
    if token.is_empty() {
        return Err(Error::system(format!("get a token from {realm}: the answer holds no token")));
    }
    Ok((token, Duration::from_secs(t.expires_in.max(MIN_TOKEN_LIFETIME))))
}

/// A token server's refusal in its own words: registry errcodes, Docker Hub's `details`,
/// or OAuth2's `error_description`. 401/403 are the caller's credentials: InvalidArgument.
fn token_error(status: u16, status_text: &str, body: &[u8], realm: &str) -> Error {
    #[derive(serde::Deserialize, Default)]
    struct Words {
        #[serde(default)]
        details: String,
        #[serde(default)]
        detail: String,
        #[serde(default)]
        error_description: String,
        #[serde(default)]
        message: String,
    }
    let from_errcodes = super::transport::errcode_message(body);
    let w: Words = serde_json::from_slice(body).unwrap_or_default();
    let said = [w.details, w.detail, w.error_description, w.message].into_iter().find(|s| !s.is_empty());
    match status {
        401 | 403 => {
            let msg =
                from_errcodes.unwrap_or_else(|| format!("unauthorized: {}", said.unwrap_or_else(|| "authentication required".to_string())));
            Error::invalid(msg)
        }
        _ => {
            let msg = from_errcodes.or(said).unwrap_or_else(|| format!("{status} {status_text}"));
            Error::system(format!("get a token from {realm}: {msg}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_anonymous_forms() {
        assert_eq!(Credentials::from_header("").unwrap(), None);
        assert_eq!(Credentials::from_header("e30=").unwrap(), None);
        assert_eq!(Credentials::from_header("e30").unwrap(), None);
        let c = Credentials { username: "u".into(), password: "p?>".into(), server_address: "127.0.0.1:5000".into(), ..Default::default() };
        let h = c.to_header();
        assert!(!h.contains('+') && !h.contains('/'), "url-safe: {h}");
        assert_eq!(Credentials::from_header(&h).unwrap(), Some(c.clone()));
        // The standard alphabet is accepted too (some clients send it).
        let std = base64::encode(serde_json::to_string(&c).unwrap().as_bytes());
        assert_eq!(Credentials::from_header(&std).unwrap(), Some(c));
        // What docker sends for `docker pull` after `docker login`.
        let docker = base64::encode_url(br#"{"username":"bob","password":"s3cret","serveraddress":"https://index.docker.io/v1/"}"#);
        let c = Credentials::from_header(&docker).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bob", "s3cret"));
        let c = Credentials::from_header(&base64::encode_url(br#"{"auth":"dXNlcjpwYTpzcw==","serveraddress":"r"}"#)).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str(), c.server_address.as_str()), ("user", "pa:ss", "r"));
        let c = Credentials::from_header(&base64::encode_url(br#"{"identitytoken":"tok"}"#)).unwrap().unwrap();
        assert_eq!(c.identity_token, "tok");
    }

    #[test]
    fn bad_headers_are_invalid_and_quiet() {
        let e = Credentials::from_header("!!!").unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::InvalidArgument);
        let e = Credentials::from_header(&base64::encode_url(br#"{"password":"hunter2""#)).unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials { username: "u".into(), password: "hunter2".into(), identity_token: "idtok".into(), ..Default::default() };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2") && !d.contains("idtok") && d.contains("\"u\""), "{d}");
    }

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        assert_eq!(
            parse_challenges(&[h]),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: "registry.docker.io".into(),
                scope: "repository:library/busybox:pull".into()
            })
        );
        let h = r#"bearer realm="http://127.0.0.1:1/t?x=1", error="insufficient_scope", scope="repository:a/b:pull,push""#;
        match parse_challenges(&[h]) {
            Some(Challenge::Bearer { realm, service, scope }) => {
                assert_eq!(
                    (realm.as_str(), service.as_str(), scope.as_str()),
                    ("http://127.0.0.1:1/t?x=1", "", "repository:a/b:pull,push")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_challenges(&[r#"Basic realm="Registry Realm""#]), Some(Challenge::Basic));
        assert_eq!(parse_challenges(&["Basic realm=x", r#"Bearer realm="r""#]).map(|c| matches!(c, Challenge::Bearer { .. })), Some(true));
        assert_eq!(parse_challenges(&["Negotiate"]), None);
        assert_eq!(parse_challenges(&["Bearer service=x"]), None, "a bearer challenge needs a realm");
        assert_eq!(
            parse_params(r#"a="x\"y", b=plain , c="""#),
            vec![("a".into(), "x\"y".into()), ("b".into(), "plain".into()), ("c".into(), String::new())]
        );
    }

    #[test]
    fn cache_keys_separate_users_and_expire() {
        let alice = Credentials { username: "alice".into(), password: "a".into(), ..Default::default() };
        let bob = Credentials { username: "bob".into(), password: "b".into(), ..Default::default() };
        let scopes = vec!["repository:x:pull".to_string()];
        let ka = TokenCache::key("r", "s", &scopes, Some(&alice));
        let kb = TokenCache::key("r", "s", &scopes, Some(&bob));
        let kn = TokenCache::key("r", "s", &scopes, None);
        assert!(ka != kb && ka != kn && kb != kn);
        assert!(!ka.contains("alice"), "the key holds a fingerprint, not the credentials");
        let cache = TokenCache::default();
        cache.put(ka.clone(), "t1".into(), Duration::from_secs(60));
        assert_eq!(cache.get(&ka).as_deref(), Some("t1"));
        assert_eq!(cache.get(&kb), None);
        cache.put(kb.clone(), "t2".into(), Duration::from_secs(1));
        assert_eq!(cache.get(&kb), None, "lifetime shorter than the margin: already stale");
        cache.forget(&ka);
        assert_eq!(cache.get(&ka), None);
    }

    #[test]
    fn token_errors_use_the_servers_words() {
        let e = token_error(401, "Unauthorized", br#"{"details":"incorrect username or password"}"#, "r");
        assert_eq!((e.kind, e.message.as_str()), (crate::error::Kind::InvalidArgument, "unauthorized: incorrect username or password"));
        let e = token_error(401, "Unauthorized", br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad creds"}]}"#, "r");
        assert_eq!(e.message, "unauthorized: bad creds");
        let e = token_error(500, "Internal Server Error", b"", "http://t/token");
        assert_eq!(
            (e.kind, e.message.as_str()),
            (crate::error::Kind::System, "get a token from http://t/token: 500 Internal Server Error")
        );
    }
}
