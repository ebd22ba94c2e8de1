//! The image configuration document (Docker image JSON v1.2 / OCI image config): what a
//! registry serves as the config blob and what `import` creates. An image's ID is the
//! sha256 of the document's exact bytes, so the GraphDB stores those bytes and this module
//! only parses them. Field names here are the image format's own (PascalCase inside
//! `config`), not the Engine API's.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The run defaults an image carries (`config` in the image JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// The image document. Unknown fields are ignored on reading; the stored bytes keep them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    #[serde(default)]
    pub config: RunConfig,
    #[serde(default)]
    pub rootfs: RootFs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("invalid image config: {e}")))
    }
}

/// "sha256:<hex>" of some bytes: image IDs, diff IDs, blob digests.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::util::id::hex(&Sha256::digest(bytes)))
}

/// Chain IDs of a layer stack (OCI image spec): the first layer's is its diff ID, each next
/// is sha256("<parent chain id> <diff id>"). Returned without the "sha256:" prefix, as the
/// storage drivers name layers.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let id = match out.last() {
            None => d.clone(),
            Some(parent) => digest_of(format!("sha256:{parent} {d}").as_bytes()),
        };
        out.push(id.trim_start_matches("sha256:").to_string());
    }
    out
}

/// The host platform in image terms (GOARCH names).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Applies Dockerfile-style `changes` (the `-c` of import/commit) to a run config: CMD,
/// ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD.
pub fn apply_changes(cfg: &mut RunConfig, changes: &[String]) -> Result<()> {
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (instr, arg) = change.split_once(char::is_whitespace).unwrap_or((change, ""));
        let arg = arg.trim();
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => cfg.cmd = Some(exec_or_shell(arg)?),
            "ENTRYPOINT" => cfg.entrypoint = Some(exec_or_shell(arg)?),
            "ENV" => {
                let env = cfg.env.get_or_insert_with(Vec::new);
                for (k, v) in key_values(arg, "ENV")? {
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in key_values(arg, "LABEL")? {
                    labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in arg.split_whitespace() {
                    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                    if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                        return Err(Error::invalid(format!("invalid containerPort: {p}")));
                    }
                    ports.insert(format!("{num}/{proto}"), serde_json::json!({}));
                }
            }
            "USER" => cfg.user = arg.to_string(),
            "WORKDIR" => cfg.working_dir = arg.to_string(),
            "STOPSIGNAL" => cfg.stop_signal = arg.to_string(),
            "VOLUME" => {
                let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
                let list = if arg.starts_with('[') {
                    serde_json::from_str::<Vec<String>>(arg)
                        .map_err(|_| Error::invalid(format!("invalid VOLUME: {arg}")))?
                } else {
                    arg.split_whitespace().map(str::to_string).collect()
                };
                for v in list {
                    vols.insert(v, serde_json::json!({}));
                }
            }
            "ONBUILD" => cfg.on_build.get_or_insert_with(Vec::new).push(arg.to_string()),
            other => {
                return Err(Error::invalid(format!(
                    "{other} is not a valid change command"
                )))
            }
        }
    }
    Ok(())
}

/// `["a","b"]` (exec form) or `a b` (shell form → /bin/sh -c "a b").
fn exec_or_shell(arg: &str) -> Result<Vec<String>> {
    if arg.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(arg) {
            return Ok(v);
        }
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), arg.to_string()])
}

/// `K=V K2="v 2"` or the legacy `K V` form.
fn key_values(arg: &str, instr: &str) -> Result<Vec<(String, String)>> {
    if !arg.contains('=') {
        return match arg.split_once(char::is_whitespace) {
            Some((k, v)) => Ok(vec![(k.to_string(), v.trim().to_string())]),
            None => Err(Error::invalid(format!("{instr} requires two arguments"))),
        };
    }
    let mut out = Vec::new();
    for word in shell_words(arg)? {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("{instr} names can not be blank: {word}")))?;
        if k.is_empty() {
            return Err(Error::invalid(format!("{instr} names can not be blank")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Splits on whitespace honouring double and single quotes and backslash escapes.
fn shell_words(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(Error::invalid(format!("unterminated quote in {s:?}")));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let a = format!("sha256:{}", "a".repeat(64));
        let b = format!("sha256:{}", "b".repeat(64));
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[0], "a".repeat(64));
        let expect = digest_of(format!("sha256:{} {}", "a".repeat(64), b).as_bytes());
        assert_eq!(format!("sha256:{}", ids[1]), expect);
    }

    #[test]
    fn changes_like_docker_import() {
        let mut c = RunConfig::default();
        apply_changes(
            &mut c,
            &[
                "CMD [\"sh\"]".into(),
                "ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin".into(),
                "ENV A=\"x y\" B=2".into(),
                "ENTRYPOINT echo hi".into(),
                "EXPOSE 80 53/udp".into(),
                "LABEL a=b".into(),
                "WORKDIR /srv".into(),
                "USER nobody".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(
            c.env,
            Some(vec![
                "PATH=/usr/local/bin:/usr/bin:/bin:/sbin".to_string(),
                "A=x y".to_string(),
                "B=2".to_string()
            ])
        );
        assert_eq!(c.entrypoint.unwrap()[2], "echo hi");
        assert_eq!(c.exposed_ports.unwrap().keys().cloned().collect::<Vec<_>>(), ["53/udp", "80/tcp"]);
        assert_eq!(c.working_dir, "/srv");
        assert!(apply_changes(&mut RunConfig::default(), &["FROM x".into()]).is_err());
        assert!(apply_changes(&mut RunConfig::default(), &["EXPOSE http".into()]).is_err());
    }

    #[test]
    fn parses_a_registry_config() {
        let doc = br#"{"architecture":"amd64","os":"linux","created":"2026-11-28T19:10:10.610051147Z",
          "config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Unknown":1},
          "rootfs":{"type":"layers","diff_ids":["sha256:42"]},"extra":true}"#;
        let c = ImageConfig::parse(doc).unwrap();
        assert_eq!(c.config.cmd, Some(vec!["sh".into()]));
        assert_eq!(c.rootfs.diff_ids, vec!["sha256:42".to_string()]);
        assert!(ImageConfig::parse(b"[1]").is_err());
    }
}
