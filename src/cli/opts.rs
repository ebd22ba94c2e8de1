//! Parsers for the values of `run`/`create` flags, with docker's rules and error wording:
//! port specs (`-p 127.0.0.1:8080:80/udp`, ranges), `--expose`, `--restart`, env and label
//! files (`KEY=VAL` lines, `#` comments, bare keys taken from the CLI's environment),
//! `--add-host`, `--cpus`, `-a`. Pure functions: files come in as text.

use crate::error::{Error, Result};
use std::net::IpAddr;

/// One published port: ("80/tcp", host IP, host port).
#[derive(Debug, PartialEq, Eq)]
pub struct PortMapping {
    pub port: String,
    pub host_ip: String,
    pub host_port: String,
}

fn parse_port_range(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let start: u64 = a.parse().ok()?;
    let end: u64 = b.parse().ok()?;
    if start > 65535 || end > 65535 || end < start {
        return None;
    }
    Some((start, end))
}

/// `"80/udp"` → ("udp", "80"); the protocol defaults to tcp.
fn split_proto(s: &str) -> (String, String) {
    match s.split_once('/') {
        Some((port, proto)) if !proto.is_empty() => (proto.to_lowercase(), port.to_string()),
        Some((port, _)) => ("tcp".into(), port.to_string()),
        None => ("tcp".into(), s.to_string()),
    }
}

/// nat's `ParsePortSpec`: `[ip:][hostPort:]containerPort[/proto]`, ranges allowed.
pub fn parse_port_spec(raw: &str) -> Result<Vec<PortMapping>> {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    let container = parts[n - 1];
    let (mut ip, host) = match n {
        1 => (String::new(), ""),
        2 => (String::new(), parts[0]),
        3 => (parts[0].to_string(), parts[1]),
        _ => (parts[..n - 2].join(":"), parts[n - 2]),
    };
    let (proto, container) = split_proto(container);
    if let Some(inner) = ip.strip_prefix('[') {
        ip = inner
            .strip_suffix(']')
            .ok_or_else(|| Error::invalid(format!("invalid IP address {ip}")))?
            .to_string();
    }
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(Error::invalid(format!("invalid IP address: {ip}")));
    }
    if container.is_empty() {
        return Err(Error::invalid(format!("no port specified: {raw}<empty>")));
    }
    let (start, end) = parse_port_range(&container)
        .ok_or_else(|| Error::invalid(format!("invalid containerPort: {container}")))?;
    let (hstart, hend) = if host.is_empty() {
        (0, 0)
    } else {
        parse_port_range(host).ok_or_else(|| Error::invalid(format!("invalid hostPort: {host}")))?
    };
    if !host.is_empty() && end - start != hend - hstart && end != start {
        return Err(Error::invalid(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(format!("invalid proto: {proto}")));
    }
    let mut out = Vec::new();
    for i in 0..=(end - start) {
        let mut host_port = if host.is_empty() {
            String::new()
        } else {
            (hstart + i).to_string()
        };
        // One container port and a host range: the daemon picks a free port in the range.
        if start == end && hstart != hend {
            host_port = format!("{host_port}-{hend}");
        }
        out.push(PortMapping {
            port: format!("{}/{proto}", start + i),
            host_ip: ip.clone(),
            host_port,
        });
    }
    Ok(out)
}

/// `--expose 80`, `--expose 8000-8010/udp` → the "port/proto" keys.
pub fn parse_expose(raw: &str) -> Result<Vec<String>> {
    let (proto, port) = split_proto(raw);
    let (start, end) = parse_port_range(&port)
        .ok_or_else(|| Error::invalid(format!("invalid range format for --expose: {raw}")))?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `--restart NAME[:MAX]`. Like docker's CLI this only checks the format; the daemon
/// judges the name (no, always, unless-stopped, on-failure).
pub fn parse_restart(s: &str) -> Result<(String, i64)> {
    if s.is_empty() {
        return Ok(("no".into(), 0));
    }
    match s.split_once(':') {
        Some(("", _)) => Err(Error::invalid(
            "invalid restart policy format: no policy provided before colon",
        )),
        Some((name, count)) => {
            let max = count.parse::<i64>().map_err(|_| {
                Error::invalid(
                    "invalid restart policy format: maximum retry count must be an integer",
                )
            })?;
            Ok((name.to_string(), max))
        }
        None => Ok((s.to_string(), 0)),
    }
}

/// Looks up a variable in the CLI's environment.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An env or label file (`--env-file`, `--label-file`): `KEY=VAL` lines taken as they are,
/// blank and `#` lines skipped, a bare `KEY` taken from `lookup` (dropped when unset or
/// when there is no lookup, as for labels).
pub fn parse_kv_file(name: &str, text: &str, lookup: Option<Lookup<'_>>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let line = raw.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (var, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line, None),
        };
        let var = var.trim_start_matches([' ', '\t', '\n', '\r', '\u{b}', '\u{c}']);
        if var.contains(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "poorly formatted environment: variable '{var}' contains whitespaces"
            )));
        }
        if var.is_empty() {
            return Err(Error::invalid(format!(
                "poorly formatted environment: no variable name on line '{line}' in {name}"
            )));
        }
        match (value, lookup) {
            (Some(v), _) => out.push(format!("{var}={v}")),
            (None, Some(f)) => {
                if let Some(v) = f(var) {
                    out.push(format!("{var}={v}"));
                }
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

/// `-e KEY=VAL` as is; `-e KEY` takes the CLI's value of KEY, or is sent bare.
pub fn expand_env(v: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let (k, has_value) = match v.split_once('=') {
        Some((k, _)) => (k, true),
        None => (v, false),
    };
    if k.is_empty() {
        return Err(Error::invalid(format!("invalid environment variable: {v}")));
    }
    if has_value {
        return Ok(v.to_string());
    }
    Ok(match lookup(k) {
        Some(val) => format!("{k}={val}"),
        None => v.to_string(),
    })
}

/// `--add-host host:ip` or `host=ip` → "host:ip".
pub fn parse_extra_host(v: &str) -> Result<String> {
    let (host, ip) = v
        .split_once('=')
        .or_else(|| v.split_once(':'))
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| Error::invalid(format!("bad format for add-host: {v:?}")))?;
    let bare = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    if bare != "host-gateway" && bare.parse::<IpAddr>().is_err() {
        return Err(Error::invalid(format!(
            "invalid IP address in add-host: {ip:?}"
        )));
    }
    Ok(format!("{host}:{bare}"))
}

/// `--cpus 1.5` → NanoCpus.
pub fn parse_cpus(v: &str) -> Result<i64> {
    let bad = || Error::invalid(format!("failed to parse {v} as a rational number"));
    let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 9 {
        return Err(Error::invalid("value is too precise"));
    }
    let w: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(w * 1_000_000_000 + f)
}

/// `-a stdin|stdout|stderr` (any case) → which streams to attach; a bad value comes back
/// with docker's reason.
pub fn parse_attach(
    list: &[String],
) -> std::result::Result<(bool, bool, bool), (String, &'static str)> {
    let (mut i, mut o, mut e) = (false, false, false);
    for s in list {
        match s.to_lowercase().as_str() {
            "stdin" => i = true,
            "stdout" => o = true,
            "stderr" => e = true,
            _ => return Err((s.clone(), "valid streams are STDIN, STDOUT and STDERR")),
        }
    }
    Ok((i, o, e))
}

/// `-v src:dst[:mode]` is a bind (or named volume); `-v /dst` an anonymous volume.
pub fn is_bind(v: &str) -> bool {
    v.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(port: &str, ip: &str, hp: &str) -> PortMapping {
        PortMapping {
            port: port.into(),
            host_ip: ip.into(),
            host_port: hp.into(),
        }
    }

    #[test]
    fn port_specs_like_docker() {
        assert_eq!(
            parse_port_spec("127.0.0.1:18080:80").unwrap(),
            [pm("80/tcp", "127.0.0.1", "18080")]
        );
        assert_eq!(parse_port_spec("80").unwrap(), [pm("80/tcp", "", "")]);
        assert_eq!(
            parse_port_spec("8080:80/udp").unwrap(),
            [pm("80/udp", "", "8080")]
        );
        assert_eq!(
            parse_port_spec("127.0.0.1::80").unwrap(),
            [pm("80/tcp", "127.0.0.1", "")]
        );
        assert_eq!(
            parse_port_spec("[::1]:8080:80").unwrap(),
            [pm("80/tcp", "::1", "8080")]
        );
        assert_eq!(
            parse_port_spec("8000-8001:9000-9001").unwrap(),
            [pm("9000/tcp", "", "8000"), pm("9001/tcp", "", "8001")]
        );
        assert_eq!(
            parse_port_spec("8000-8010:80").unwrap(),
            [pm("80/tcp", "", "8000-8010")]
        );
        assert_eq!(
            parse_port_spec("x:80").unwrap_err().message,
            "invalid hostPort: x"
        );
        assert_eq!(
            parse_port_spec("80:x").unwrap_err().message,
            "invalid containerPort: x"
        );
        assert_eq!(
            parse_port_spec("1.2.3:80:80").unwrap_err().message,
            "invalid IP address: 1.2.3"
        );
        assert_eq!(
            parse_port_spec("80/foo").unwrap_err().message,
            "invalid proto: foo"
        );
        assert!(parse_port_spec("8000-8002:90-91").is_err());
        assert_eq!(
            parse_expose("8000-8001/udp").unwrap(),
            ["8000/udp", "8001/udp"]
        );
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            parse_restart("on-failure:2").unwrap(),
            ("on-failure".into(), 2)
        );
        assert_eq!(parse_restart("always").unwrap(), ("always".into(), 0));
        assert_eq!(parse_restart("").unwrap(), ("no".into(), 0));
        assert_eq!(parse_restart("bogus:3").unwrap(), ("bogus".into(), 3));
        assert_eq!(
            parse_restart("on-failure:x").unwrap_err().message,
            "invalid restart policy format: maximum retry count must be an integer"
        );
        assert!(parse_restart(":1").is_err());
    }

    #[test]
    fn env_files_like_docker() {
        let lookup = |k: &str| {
            if k == "HOME" {
                Some("/root".to_string())
            } else {
                None
            }
        };
        let text = "\u{feff}# comment\n\nA=1\n  B=two words \nHOME\nUNSET\nC=\r\nD==x\n";
        assert_eq!(
            parse_kv_file("env.list", text, Some(&lookup)).unwrap(),
            ["A=1", "B=two words ", "HOME=/root", "C=", "D==x"]
        );
        assert_eq!(parse_kv_file("l", "a=b\nbare\n", None).unwrap(), ["a=b"]);
        assert!(parse_kv_file("e", "BAD KEY=1\n", Some(&lookup))
            .unwrap_err()
            .message
            .contains("contains whitespaces"));
        assert!(parse_kv_file("e", "=1\n", Some(&lookup)).is_err());
        assert_eq!(expand_env("HOME", &lookup).unwrap(), "HOME=/root");
        assert_eq!(expand_env("NOPE", &lookup).unwrap(), "NOPE");
        assert_eq!(expand_env("X=1=2", &lookup).unwrap(), "X=1=2");
        assert!(expand_env("=x", &lookup).is_err());
    }

    #[test]
    fn small_values() {
        assert_eq!(parse_extra_host("db:10.0.0.2").unwrap(), "db:10.0.0.2");
        assert_eq!(parse_extra_host("db=::1").unwrap(), "db:::1");
        assert_eq!(
            parse_extra_host("gw:host-gateway").unwrap(),
            "gw:host-gateway"
        );
        assert!(parse_extra_host("db").is_err());
        assert!(parse_extra_host("db:nope").is_err());
        assert_eq!(parse_cpus("1.5").unwrap(), 1_500_000_000);
        assert_eq!(parse_cpus("2").unwrap(), 2_000_000_000);
        assert_eq!(parse_cpus(".25").unwrap(), 250_000_000);
        assert!(parse_cpus("x").is_err());
        assert!(parse_cpus("0.0000000001").is_err());
        assert_eq!(
            parse_attach(&["STDOUT".into(), "stderr".into()]).unwrap(),
            (false, true, true)
        );
        assert!(parse_attach(&["tty".into()]).is_err());
    }
}
