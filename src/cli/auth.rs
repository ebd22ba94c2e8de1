//! Registry credentials the way the docker CLI keeps them: the config file
//! (`--config DIR`, else $DOCKER_CONFIG, else ~/.docker; `config.json` in it), whose
//! `auths` map holds `{"auth": base64("user:pass")}` per registry (Docker Hub's key is
//! "https://index.docker.io/v1/"), and the `X-Registry-Auth` header (base64url of the
//! AuthConfig JSON, `e30=` when there is none) sent with pulls and pushes. Other keys of
//! the file are kept untouched; it is replaced atomically, 0600 when new. Credential
//! helpers (`credsStore`, `credHelpers`) are not run.

use crate::error::{Context, Error, Result};
use crate::util::base64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Docker Hub's key in `auths`, and the server `login` talks to by default.
pub const INDEX_SERVER: &str = "https://index.docker.io/v1/";

/// docker's AuthConfig, field order and names as Go encodes them; empty fields left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(
        default,
        rename = "serveraddress",
        skip_serializing_if = "String::is_empty"
    )]
    pub server_address: String,
    #[serde(
        default,
        rename = "identitytoken",
        skip_serializing_if = "String::is_empty"
    )]
    pub identity_token: String,
    #[serde(
        default,
        rename = "registrytoken",
        skip_serializing_if = "String::is_empty"
    )]
    pub registry_token: String,
}

impl AuthConfig {
    /// The `X-Registry-Auth` value: base64url of the JSON ("e30=" for `{}`).
    pub fn header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec());
        base64::encode_url(&json)
    }
}

/// The key a registry's credentials live under: Docker Hub's index URL, or the host.
pub fn config_key(domain: &str) -> String {
    if domain == crate::util::reference::DEFAULT_DOMAIN {
        INDEX_SERVER.to_string()
    } else {
        domain.to_string()
    }
}

/// docker's `ConvertToHostname`: "https://h:5000/v2/" is "h:5000".
pub fn hostname(address: &str) -> &str {
    let rest = match address.split_once("://") {
        Some(("http" | "https", rest)) => rest,
        _ => address,
    };
    rest.split('/').next().unwrap_or(rest)
}

/// The config file with its contents.
#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    doc: Map<String, Value>,
}

/// The directory of the config file: `flag`, else $DOCKER_CONFIG, else $HOME/.docker.
pub fn config_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(d) = flag {
        return d.to_path_buf();
    }
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(d) = env("DOCKER_CONFIG") {
        return PathBuf::from(d);
    }
    let home = env("HOME").map(PathBuf::from).or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.dir)
    });
    home.unwrap_or_else(|| PathBuf::from("/")).join(".docker")
}

impl ConfigFile {
    /// Reads `config.json` in `dir`; a missing file is an empty one.
    pub fn load(dir: &Path) -> Result<ConfigFile> {
        let path = dir.join("config.json");
        let doc = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(Error::invalid(format!(
                        "loading config file: {}: not a JSON object",
                        path.display()
                    )))
                }
                Err(e) => {
                    return Err(Error::invalid(format!(
                        "loading config file: {}: {e}",
                        path.display()
                    )))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                return Err(
                    Error::from(e).context(format!("loading config file: {}", path.display()))
                )
            }
        };
        Ok(ConfigFile { path, doc })
    }

    /// Like `load`, but a broken file is reported as docker does and read as empty: a
    /// pull without credentials beats no pull.
    pub fn load_or_warn(dir: &Path) -> ConfigFile {
        ConfigFile::load(dir).unwrap_or_else(|e| {
            eprintln!("WARNING: Error {}", e.message);
            ConfigFile {
                path: dir.join("config.json"),
                doc: Map::new(),
            }
        })
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.doc.get("auths").and_then(Value::as_object)
    }

    /// The credentials stored for `server` (an `auths` key, or a key whose host is it),
    /// with `auth` decoded into username and password; empty when there are none.
    pub fn get(&self, server: &str) -> Result<AuthConfig> {
        let Some(auths) = self.auths() else {
            return Ok(AuthConfig::default());
        };
        let found = auths
            .get_key_value(server)
            .or_else(|| auths.iter().find(|(k, _)| hostname(k) == server));
        let Some((key, entry)) = found else {
            return Ok(AuthConfig::default());
        };
        let mut a: AuthConfig = serde_json::from_value(entry.clone()).unwrap_or_default();
        if !a.auth.is_empty() {
            let raw = base64::decode(&a.auth)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| Error::invalid("invalid auth configuration file"))?;
            let (user, pass) = raw
                .split_once(':')
                .ok_or_else(|| Error::invalid("invalid auth configuration file"))?;
            a.username = user.to_string();
            a.password = pass.trim_end_matches('\0').to_string();
            a.auth.clear();
        }
        a.server_address = key.clone();
        Ok(a)
    }

    /// Stores credentials under their server address the way docker writes them: user and
    /// password folded into `auth`, the address left out.
    pub fn store(&mut self, a: &AuthConfig) {
        let mut entry = a.clone();
        if !a.username.is_empty() || !a.password.is_empty() {
            entry.auth = base64::encode(format!("{}:{}", a.username, a.password).as_bytes());
        }
        entry.username.clear();
        entry.password.clear();
        entry.server_address.clear();
        let value = serde_json::to_value(&entry).unwrap_or_else(|_| Value::Object(Map::new()));
        let auths = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(m) = auths {
            m.insert(a.server_address.clone(), value);
        }
    }

    /// Removes `server`'s credentials; true if there were any.
    pub fn erase(&mut self, server: &str) -> bool {
        match self.doc.get_mut("auths") {
            Some(Value::Object(m)) => m.remove(server).is_some(),
            _ => false,
        }
    }

    /// The file's text as docker writes it (tab-indented).
    fn text(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        self.doc
            .serialize(&mut ser)
            .map_err(|e| Error::system(format!("encode {}: {e}", self.path.display())))?;
        Ok(out)
    }

    /// Replaces the file atomically (a temp file renamed over it), keeping the mode and
    /// owner of the file it replaces (through a symlink, as docker does); 0600 when new.
    pub fn save(&self) -> Result<()> {
        let text = self.text()?;
        let target = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let dir = target.parent().unwrap_or(Path::new("/")).to_path_buf();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .ctx(|| format!("create {}", dir.display()))?;
        crate::util::atomic::replace_file(&target, &mut &text[..], &|tmp, _| {
            if let Ok(old) = std::fs::metadata(&target) {
                std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(old.mode() & 0o7777))
                    .ctx(|| format!("chmod {}", tmp.display()))?;
                // Only root can give a file away; anyone else keeps their own.
                let _ = std::os::unix::fs::chown(tmp, Some(old.uid()), Some(old.gid()));
            }
            Ok(())
        })
    }
}

/// The `X-Registry-Auth` header for an image on `domain`, from the config file in `dir`.
pub fn registry_auth(dir: &Path, domain: &str) -> String {
    let config = ConfigFile::load_or_warn(dir);
    match config.get(&config_key(domain)) {
        Ok(a) => a.header(),
        Err(e) => {
            eprintln!("WARNING: {}", e.message);
            AuthConfig::default().header()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn anonymous_header_is_e30() {
        assert_eq!(AuthConfig::default().header(), "e30=");
        let a = AuthConfig {
            username: "u".into(),
            password: "p?>".into(),
            server_address: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        let json = base64::decode_url(&a.header()).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"username":"u","password":"p?>","serveraddress":"127.0.0.1:5000"}"#
        );
        // base64url: no '+' or '/'.
        assert!(!a.header().contains(['+', '/']));
    }

    #[test]
    fn keys_and_hostnames() {
        assert_eq!(config_key("docker.io"), INDEX_SERVER);
        assert_eq!(config_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(hostname("https://h.io:5000/v2/"), "h.io:5000");
        assert_eq!(hostname("http://h"), "h");
        assert_eq!(hostname("h:1"), "h:1");
        assert_eq!(hostname("ftp://h/x"), "ftp:");
    }

    #[test]
    fn store_get_erase_keeps_other_keys() {
        let dir = TempDir::new("cli-auth-config");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"psFormat":"table {{.ID}}","auths":{"https://old.example:443":{"auth":"YTpi"}}}"#,
        )
        .unwrap();
        let mut c = ConfigFile::load(dir.path()).unwrap();
        // A key written as a URL is found by host.
        let old = c.get("old.example:443").unwrap();
        assert_eq!((old.username.as_str(), old.password.as_str()), ("a", "b"));
        assert_eq!(c.get("nowhere").unwrap(), AuthConfig::default());
        c.store(&AuthConfig {
            username: "user".into(),
            password: "pass:word".into(),
            server_address: "127.0.0.1:5000".into(),
            ..Default::default()
        });
        c.save().unwrap();
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        assert!(text.contains("\t\"auths\": {\n\t\t\"127.0.0.1:5000\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNzOndvcmQ=\"\n\t\t}"), "{text}");
        assert!(text.contains("\"psFormat\": \"table {{.ID}}\""), "{text}");
        let c = ConfigFile::load(dir.path()).unwrap();
        let got = c.get("127.0.0.1:5000").unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("user", "pass:word")
        );
        assert_eq!(got.server_address, "127.0.0.1:5000");
        let mut c = c;
        assert!(c.erase("127.0.0.1:5000"));
        assert!(!c.erase("127.0.0.1:5000"));
        c.save().unwrap();
        let reread = ConfigFile::load(dir.path()).unwrap();
        assert_eq!(reread.get("127.0.0.1:5000").unwrap(), AuthConfig::default());
    }

    #[test]
    fn new_files_are_private_and_old_modes_kept() {
        let dir = TempDir::new("cli-auth-mode");
        let sub = dir.path().join("new");
        let mut c = ConfigFile::load(&sub).unwrap();
        c.store(&AuthConfig {
            username: "u".into(),
            password: "p".into(),
            server_address: INDEX_SERVER.into(),
            ..Default::default()
        });
        c.save().unwrap();
        let path = sub.join("config.json");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        ConfigFile::load(&sub).unwrap().save().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        assert_eq!(
            registry_auth(&sub, "docker.io"),
            AuthConfig {
                username: "u".into(),
                password: "p".into(),
                server_address: INDEX_SERVER.into(),
                ..Default::default()
            }
            .header()
        );
    }

    #[test]
    fn broken_files() {
        let dir = TempDir::new("cli-auth-broken");
        std::fs::write(dir.path().join("config.json"), "{nope").unwrap();
        assert!(ConfigFile::load(dir.path())
            .unwrap_err()
            .message
            .starts_with("loading config file: "));
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"h":{"auth":"!!"}}}"#,
        )
        .unwrap();
        assert_eq!(
            ConfigFile::load(dir.path())
                .unwrap()
                .get("h")
                .unwrap_err()
                .message,
            "invalid auth configuration file"
        );
    }
}
