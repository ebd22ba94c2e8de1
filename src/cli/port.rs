//! `berth port` (and `container port`): reads `NetworkSettings.Ports` from
//! `GET /containers/{name}/json` (transcripts/port.md) and prints docker 28's lines: every
//! mapping as `80/tcp -> 0.0.0.0:8080`, or for one private port just its host addresses,
//! IPv6 hosts in brackets, all in natural order (so IPv4 before IPv6).

use super::api;
use super::portspec::parse_u16_go;
use super::units::natural_sort_by;
use super::{parse, Cli};
use crate::error::{Error, Result};
use argh::FromArgs;
use serde_json::Value;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// List port mappings or a specific mapping for the container.
pub struct PortArgs {
    /// the container
    #[argh(positional)]
    container: String,
    /// the private port, PORT[/PROTO] (tcp when no protocol is given)
    #[argh(positional)]
    port: Option<String>,
}

const SPEC: super::args::FlagSpec = super::args::FlagSpec {
    switches: &[],
    options: &[],
    stop_at_positional: false,
    aliases: &[],
};

/// Go's `net.JoinHostPort`.
fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn frontends(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|b| {
            join_host_port(
                b["HostIp"].as_str().unwrap_or(""),
                b["HostPort"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

/// docker's `runPort` over an inspect document: the output, or docker's error.
pub fn port_lines(doc: &Value, container: &str, port: Option<&str>) -> Result<String> {
    let ports = &doc["NetworkSettings"]["Ports"];
    let mut out = match port {
        Some(p) => {
            let (num, proto) = p.split_once('/').unwrap_or((p, ""));
            let proto = if proto.is_empty() { "tcp" } else { proto };
            parse_u16_go(num)
                .map_err(|why| Error::invalid(format!("Error: invalid port ({num}): {why}")))?;
            let found = frontends(&ports[format!("{num}/{proto}")]);
            if found.is_empty() {
                return Err(Error::not_found(format!(
                    "Error: No public port '{p}' published for {container}"
                )));
            }
            found
        }
        None => ports
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(from, list)| {
                frontends(list)
                    .into_iter()
                    .map(move |f| format!("{from} -> {f}"))
            })
            .collect(),
    };
    natural_sort_by(&mut out, |s| s);
    Ok(out.iter().map(|l| format!("{l}\n")).collect())
}

pub fn port(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: PortArgs = match parse(path, words, &SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = api::get_json(
        &mut cli.client,
        &format!("/containers/{}/json", a.container),
    )
    .and_then(|doc| port_lines(&doc, &a.container, a.port.as_deref()));
    super::print_or_fail(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(ports: Value) -> Value {
        json!({"Id": "8a6e", "NetworkSettings": {"Ports": ports}})
    }

    #[test]
    fn lines_like_docker_port() {
        // transcripts/port.md
        let d = doc(json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}));
        assert_eq!(
            port_lines(&d, "cap-web", None).unwrap(),
            "80/tcp -> 127.0.0.1:18080\n"
        );
        assert_eq!(
            port_lines(&d, "cap-web", Some("80")).unwrap(),
            "127.0.0.1:18080\n"
        );
        assert_eq!(
            port_lines(&d, "cap-web", Some("80/tcp")).unwrap(),
            "127.0.0.1:18080\n"
        );
        // What docker 28.2.2 printed for these mappings.
        let d = doc(json!({
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "3456"}, {"HostIp": "::", "HostPort": "3456"}],
            "443/tcp": [{"HostIp": "::", "HostPort": "4567"}, {"HostIp": "0.0.0.0", "HostPort": "4567"}],
            "443/udp": [{"HostIp": "0.0.0.0", "HostPort": "5678"}],
            "9/tcp": [{"HostIp": "", "HostPort": "10000"}],
            "90/tcp": null,
            "91/tcp": []
        }));
        assert_eq!(
            port_lines(&d, "c", None).unwrap(),
            concat!(
                "9/tcp -> :10000\n",
                "80/tcp -> 0.0.0.0:3456\n",
                "80/tcp -> [::]:3456\n",
                "443/tcp -> 0.0.0.0:4567\n",
                "443/tcp -> [::]:4567\n",
                "443/udp -> 0.0.0.0:5678\n",
            )
        );
        assert_eq!(
            port_lines(&d, "c", Some("443")).unwrap(),
            "0.0.0.0:4567\n[::]:4567\n"
        );
        assert_eq!(
            port_lines(&d, "c", Some("80/")).unwrap(),
            "0.0.0.0:3456\n[::]:3456\n"
        );
        assert_eq!(port_lines(&doc(json!({})), "c", None).unwrap(), "");
    }

    #[test]
    fn errors_like_docker_port() {
        let d = doc(json!({"90/tcp": null, "91/tcp": []}));
        let err = |p: &str| port_lines(&d, "c", Some(p)).unwrap_err().message;
        assert_eq!(err("81"), "Error: No public port '81' published for c");
        assert_eq!(err("90"), "Error: No public port '90' published for c");
        assert_eq!(err("91"), "Error: No public port '91' published for c");
        assert_eq!(
            err("80/udp"),
            "Error: No public port '80/udp' published for c"
        );
        assert_eq!(
            err("abc"),
            "Error: invalid port (abc): strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            err("99999"),
            "Error: invalid port (99999): strconv.ParseUint: parsing \"99999\": value out of range"
        );
        assert_eq!(
            err("/tcp"),
            "Error: invalid port (): strconv.ParseUint: parsing \"\": invalid syntax"
        );
    }
}
