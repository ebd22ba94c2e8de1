//! docker's port specs for `run`/`create`, with go-connections/nat's rules and error
//! wording: `-p [IP:][HOSTPORT:]PORT[/PROTO]` (ranges, bracketed IPv6 hosts, the long
//! `published=,target=` form) and `--expose PORT[-END][/PROTO]`. Pure functions.

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

/// `"80/udp"` → ("udp", "80"), as `nat.SplitProtoPort` (only the first two '/' parts
/// count) and `ParsePortSpec` (lower case) read it; the protocol defaults to tcp.
fn split_proto(s: &str) -> (String, String) {
    let mut parts = s.split('/');
    let port = parts.next().unwrap_or("");
    match parts.next() {
        Some(proto) if !proto.is_empty() => (proto.to_lowercase(), port.to_string()),
        _ => ("tcp".into(), port.to_string()),
    }
}

/// The host of Go's `net.SplitHostPort(ip + ":")` for a bracketed address, with Go's error.
fn strip_brackets(ip: &str) -> std::result::Result<String, String> {
    let hostport = format!("{ip}:");
    let fail = |why: &str| Err(format!("address {hostport}: {why}"));
    let Some(end) = hostport.find(']') else {
        return fail("missing ']' in address");
    };
    if end + 1 != hostport.len() - 1 {
        return if hostport.as_bytes()[end + 1] == b':' {
            fail("too many colons in address")
        } else {
            fail("missing port in address")
        };
    }
    let host = &hostport[1..end];
    if host.contains('[') {
        return fail("unexpected '[' in address");
    }
    Ok(host.to_string())
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
    if ip.starts_with('[') {
        ip = strip_brackets(&ip)
            .map_err(|why| Error::invalid(format!("invalid IP address {ip}: {why}")))?;
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

/// docker's `convertToStandardNotation`: `-p published=8080,target=80[,protocol=udp]`
/// becomes `8080:80/udp`; other specs are kept.
pub fn standard_port_notation(raw: &str) -> Result<String> {
    if !raw.contains('=') {
        return Ok(raw.to_string());
    }
    let (mut published, mut target, mut protocol) = ("", "", "tcp");
    for param in raw.split(',') {
        match param.split_once('=') {
            Some(("published", v)) => published = v,
            Some(("target", v)) => target = v,
            Some(("protocol", v)) => protocol = v,
            Some((k, _)) if !k.is_empty() => {}
            _ => {
                return Err(Error::invalid(format!(
                    "invalid publish opts format (should be name=value but got '{param}')"
                )))
            }
        }
    }
    Ok(format!("{published}:{target}/{protocol}"))
}

/// Go's `strconv.ParseUint(s, 10, 16)`, with its error text.
pub fn parse_u16_go(s: &str) -> std::result::Result<u64, String> {
    let syntax = || format!("strconv.ParseUint: parsing {s:?}: invalid syntax");
    if s.is_empty() {
        return Err(syntax());
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(syntax());
        }
        n = n * 10 + u64::from(b - b'0');
        if n > 65535 {
            return Err(format!(
                "strconv.ParseUint: parsing {s:?}: value out of range"
            ));
        }
    }
    Ok(n)
}

/// `--expose 80`, `--expose 8000-8010/udp` → the "port/proto" keys, as docker's
/// `nat.SplitProtoPort` and `nat.ParsePortRange` read them (the protocol kept as typed).
pub fn parse_expose(raw: &str) -> Result<Vec<String>> {
    if raw.contains(':') {
        return Err(Error::invalid(format!(
            "invalid port format for --expose: {raw}"
        )));
    }
    let parts: Vec<&str> = raw.split('/').collect();
    let (proto, port) = match parts.as_slice() {
        [""] | ["", ..] => ("", ""),
        [p] => ("tcp", *p),
        [p, "", ..] => ("tcp", *p),
        [p, proto, ..] => (*proto, *p),
        [] => ("", ""),
    };
    let range = || -> std::result::Result<(u64, u64), String> {
        if port.is_empty() {
            return Err("empty string specified for ports".into());
        }
        let Some((a, b)) = port.split_once('-') else {
            let p = parse_u16_go(port)?;
            return Ok((p, p));
        };
        let b = b.split('-').next().unwrap_or(b);
        let (start, end) = (parse_u16_go(a)?, parse_u16_go(b)?);
        if end < start {
            return Err(format!("invalid range specified for port: {port}"));
        }
        Ok((start, end))
    };
    let (start, end) = range().map_err(|why| {
        Error::invalid(format!(
            "invalid range format for --expose: {raw}, error: {why}"
        ))
    })?;
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
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
            standard_port_notation("published=8080,target=80").unwrap(),
            "8080:80/tcp"
        );
        assert_eq!(
            standard_port_notation("target=53,published=53,protocol=udp").unwrap(),
            "53:53/udp"
        );
        assert_eq!(standard_port_notation("80").unwrap(), "80");
        assert!(standard_port_notation("published=1500,target:444").is_err());
        assert_eq!(
            parse_expose("8000-8001/udp").unwrap(),
            ["8000/udp", "8001/udp"]
        );
        // docker 28's words for each.
        assert_eq!(parse_expose("8000/UDP").unwrap(), ["8000/UDP"]);
        assert_eq!(parse_expose("80/foo").unwrap(), ["80/foo"]);
        for (raw, why) in [
            ("80-x", "strconv.ParseUint: parsing \"x\": invalid syntax"),
            ("90-80", "invalid range specified for port: 90-80"),
            (
                "70000",
                "strconv.ParseUint: parsing \"70000\": value out of range",
            ),
            ("", "empty string specified for ports"),
            ("-1", "strconv.ParseUint: parsing \"\": invalid syntax"),
        ] {
            assert_eq!(
                parse_expose(raw).unwrap_err().message,
                format!("invalid range format for --expose: {raw}, error: {why}")
            );
        }
    }
}
