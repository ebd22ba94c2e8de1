//! Parsers for the values of `run`/`create` flags, with docker's rules and error wording:
//! `--restart`, env and label files (`KEY=VAL` lines, `#` comments, bare keys taken from
//! the CLI's environment), `--add-host`, `--dns`, `--dns-search`, MAC addresses, `--link`,
//! `--cpus`, `-a`, and pflag's CSV lists (port specs are `portspec`'s). Pure functions:
//! files come in as text.

use crate::error::{Error, Result};
use std::net::IpAddr;

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

/// docker's `ValidateExtraHost`: `--add-host host:ip` or `host=ip` (the address may be in
/// brackets, or `host-gateway`) → "host:ip", the address as typed minus its brackets.
pub fn parse_extra_host(v: &str) -> Result<String> {
    let (host, ip) = v
        .split_once('=')
        .or_else(|| v.split_once(':'))
        .filter(|(h, _)| !h.is_empty() && !h.contains(':'))
        .ok_or_else(|| Error::invalid(format!("bad format for add-host: {v:?}")))?;
    let mut ip = ip;
    if ip != "host-gateway" {
        if ip.len() > 2 && ip.starts_with('[') && ip.ends_with(']') {
            ip = &ip[1..ip.len() - 1];
        }
        if canonical_ip(ip).is_none() {
            return Err(Error::invalid(format!(
                "invalid IP address in add-host: {ip:?}"
            )));
        }
    }
    Ok(format!("{host}:{ip}"))
}

/// docker's `ValidateIPAddress` (`--dns`): the address without surrounding white space, in
/// Go's `net.IP.String()` form (IPv4-mapped IPv6 addresses as IPv4), or None.
pub fn canonical_ip(v: &str) -> Option<String> {
    match v.trim().parse::<IpAddr>().ok()? {
        IpAddr::V6(a) => Some(match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a.to_string(),
        }),
        a => Some(a.to_string()),
    }
}

/// docker's `ValidateDNSSearch`: "." or a domain name (at least one letter; labels of
/// letters, digits and inner hyphens; docker's pattern also lets a ':' stand before a label
/// or a dot), returned without a trailing dot or white space.
pub fn validate_dns_search(v: &str) -> std::result::Result<String, String> {
    let v = v.trim_matches(' ');
    if v == "." {
        return Ok(v.to_string());
    }
    let bad = || format!("{v} is not a valid domain");
    if !v.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let body = v.trim_end_matches([' ', '\t', '\n', '\r', '\u{c}', '\u{b}']);
    let body = body.strip_suffix('.').unwrap_or(body);
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    let parts: Vec<&str> = body.split('.').collect();
    let last = parts.len() - 1;
    let ok = parts.iter().enumerate().all(|(i, p)| {
        let p = if i < last {
            p.strip_suffix(':').unwrap_or(p)
        } else {
            p
        };
        let p = p.strip_prefix(':').unwrap_or(p);
        let p = if i == 0 {
            p.strip_prefix(':').unwrap_or(p)
        } else {
            p
        };
        label(p)
    });
    if ok && body.len() < 255 {
        Ok(body.to_string())
    } else {
        Err(bad())
    }
}

/// Go's `net.ParseMAC`: 6, 8 or 20 bytes as hex pairs joined by ':' or '-', or as groups
/// of four hex digits joined by '.'.
pub fn is_mac(v: &str) -> bool {
    let hex = |g: &str, n: usize| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit());
    let (groups, width): (Vec<&str>, usize) = if v.contains('.') {
        (v.split('.').collect(), 4)
    } else if v.contains(':') {
        (v.split(':').collect(), 2)
    } else {
        (v.split('-').collect(), 2)
    };
    let bytes = groups.len() * width / 2;
    matches!(bytes, 6 | 8 | 20) && groups.iter().all(|g| hex(g, width))
}

/// docker's `ValidateLink`: `name` or `name:alias`.
pub fn validate_link(v: &str) -> std::result::Result<(), String> {
    if v.is_empty() {
        return Err("empty string specified for links".into());
    }
    if v.splitn(3, ':').count() > 2 {
        return Err(format!("bad format for links: {v}"));
    }
    Ok(())
}

/// pflag's string-slice flags: each value is a line of CSV (`--alias a,b` is two values,
/// `"a,b"` in double quotes one).
pub fn csv_values(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    if v.is_empty() {
        return out;
    }
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted || cur.is_empty() => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
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

    #[test]
    fn network_values_like_docker() {
        // Checked against docker 28.2.2's messages and request bodies.
        assert_eq!(parse_extra_host("v6:[::2]").unwrap(), "v6:::2");
        assert_eq!(parse_extra_host("h: 1.2.3.4").unwrap(), "h: 1.2.3.4");
        assert_eq!(
            parse_extra_host("a:b=1.2.3.4").unwrap_err().message,
            "bad format for add-host: \"a:b=1.2.3.4\""
        );
        assert_eq!(
            parse_extra_host(":1.2.3.4").unwrap_err().message,
            "bad format for add-host: \":1.2.3.4\""
        );
        assert_eq!(
            parse_extra_host("a:b:c").unwrap_err().message,
            "invalid IP address in add-host: \"b:c\""
        );
        assert_eq!(
            parse_extra_host("x:[host-gateway]").unwrap_err().message,
            "invalid IP address in add-host: \"host-gateway\""
        );
        assert_eq!(canonical_ip(" 1.1.1.1").as_deref(), Some("1.1.1.1"));
        assert_eq!(canonical_ip("::ffff:1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(canonical_ip("fd00:0::1").as_deref(), Some("fd00::1"));
        assert_eq!(canonical_ip("nope"), None);
        assert_eq!(validate_dns_search("example.com.").unwrap(), "example.com");
        assert_eq!(validate_dns_search(" a.b ").unwrap(), "a.b");
        assert_eq!(validate_dns_search(".").unwrap(), ".");
        assert_eq!(validate_dns_search("x-1.io").unwrap(), "x-1.io");
        for bad in ["bad..x", "-a.com", "a:b.com", "1.2.3", "a-.com", ""] {
            assert_eq!(
                validate_dns_search(bad).unwrap_err(),
                format!("{bad} is not a valid domain")
            );
        }
        assert!(is_mac("02:42:ac:11:00:02"));
        assert!(is_mac("02-42-AC-11-00-02"));
        assert!(is_mac("0242.ac11.0002"));
        assert!(!is_mac("zz"));
        assert!(!is_mac("02:42:ac:11:00"));
        assert!(!is_mac("02:42:ac:11:00:0g"));
        assert!(validate_link("web:w").is_ok());
        assert!(validate_link("db").is_ok());
        assert_eq!(
            validate_link("a:b:c").unwrap_err(),
            "bad format for links: a:b:c"
        );
        assert_eq!(csv_values("a,b"), ["a", "b"]);
        assert_eq!(csv_values("\"a,b\",c"), ["a,b", "c"]);
        assert!(csv_values("").is_empty());
    }
}
