//! `berth ps`: `GET /containers/json` with docker's query (all, limit, size, filters as a
//! JSON map of booleans) and docker's container formatter: the fields `--format` sees
//! (.ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels
//! .Label .Mounts .LocalVolumes .Networks) and the default table.

use super::api::{self, query};
use super::args::FlagSpec;
use super::format::{self, Row};
use super::json::Json;
use super::units::{ago, ellipsis, go_time_string, human_size, quote};
use super::{parse, Cli};
use argh::FromArgs;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// List containers.
pub struct PsArgs {
    /// show all containers (default shows just running)
    #[argh(switch, short = 'a')]
    all: bool,
    /// only display container IDs
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// don't truncate output
    #[argh(switch)]
    no_trunc: bool,
    /// show the N last created containers (includes all states)
    #[argh(option, short = 'n', default = "-1")]
    last: i64,
    /// show the latest created container (includes all states)
    #[argh(switch, short = 'l')]
    latest: bool,
    /// filter output based on conditions provided (KEY=VALUE): id, name, label, status,
    /// exited, ancestor, network, publish, expose
    #[argh(option, short = 'f')]
    filter: Vec<String>,
    /// display total file sizes
    #[argh(switch, short = 's')]
    size: bool,
    /// format output using a Go template, "table", "table TEMPLATE" or "json"
    #[argh(option)]
    format: Option<String>,
}

pub const PS_SPEC: FlagSpec = FlagSpec {
    switches: &[
        "-a",
        "--all",
        "-q",
        "--quiet",
        "--no-trunc",
        "-l",
        "--latest",
        "-s",
        "--size",
    ],
    options: &["-n", "--last", "-f", "--filter", "--format"],
    stop_at_positional: false,
    aliases: &[],
};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// `--filter k=v` flags as the JSON map of booleans docker sends (keys sorted).
pub fn filters_json(filters: &[String]) -> Result<Option<String>, String> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut m: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
        m.entry(k.trim().to_lowercase())
            .or_default()
            .insert(v.to_string(), true);
    }
    Ok(Some(serde_json::to_string(&m).unwrap_or_default()))
}

fn ps_query(a: &PsArgs, size: bool) -> Result<String, String> {
    let mut q = Vec::new();
    if a.all {
        q.push(("all", "1".to_string()));
    }
    let limit = if a.latest && a.last == -1 { 1 } else { a.last };
    if limit > 0 {
        q.push(("limit", limit.to_string()));
    }
    if size {
        q.push(("size", "1".into()));
    }
    if let Some(f) = filters_json(&a.filter)? {
        q.push(("filters", f));
    }
    Ok(query(&q))
}

pub fn ps(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: PsArgs = match parse(path, words, &PS_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut format = a.format.clone().unwrap_or_default();
    if a.quiet {
        if !format.is_empty() {
            eprintln!(
                "WARNING: Ignoring custom format, because both --format and --quiet are set."
            );
        }
        format = "{{.ID}}".into();
    }
    let size = a.size || format.contains(".Size");
    let default = if a.size {
        format!("{DEFAULT_TABLE}\t{{{{.Size}}}}")
    } else {
        DEFAULT_TABLE.to_string()
    };
    let q = match ps_query(&a, size) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    };
    let list = match api::get_json(&mut cli.client, &format!("/containers/json{q}")) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    };
    let now = crate::util::time::now_nanos() / 1_000_000_000;
    let rows: Vec<Row> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| container_row(c, !a.no_trunc, now))
        .collect();
    super::print_or_fail(format::render(&format, &default, &rows, &header()))
}

fn header() -> Json {
    let pairs = [
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Label", "LABEL"),
        ("Mounts", "MOUNTS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
        ("Networks", "NETWORKS"),
        ("Platform", "PLATFORM"),
    ];
    Json::Obj(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Json::Str(v.to_string())))
            .collect(),
    )
}

/// The familiar form of a reference: "docker.io/library/busybox:latest" → "busybox:latest".
pub fn familiar(r: &str) -> &str {
    r.strip_prefix("docker.io/library/")
        .or_else(|| r.strip_prefix("docker.io/"))
        .unwrap_or(r)
}

fn image_column(c: &Value, trunc: bool) -> String {
    let image = c["Image"].as_str().unwrap_or("");
    if image.is_empty() {
        return "<no image>".into();
    }
    if !trunc {
        return image.to_string();
    }
    let short = |s: &str| -> String {
        let s = s.strip_prefix("sha256:").unwrap_or(s);
        s.chars().take(12).collect()
    };
    let id = c["ImageID"].as_str().unwrap_or("");
    if !id.is_empty() && short(id) == short(image) {
        return short(image);
    }
    let name = image.split_once('@').map(|(n, _)| n).unwrap_or(image);
    familiar(name).to_string()
}

fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// docker's `DisplayablePorts`: sorted, consecutive ports grouped into ranges, published
/// ports with their host address.
pub fn display_ports(ports: &[Value]) -> String {
    struct P {
        ip: String,
        private: u64,
        public: u64,
        proto: String,
    }
    let mut ps: Vec<P> = ports
        .iter()
        .map(|p| P {
            ip: p["IP"].as_str().unwrap_or("").to_string(),
            private: p["PrivatePort"].as_u64().unwrap_or(0),
            public: p["PublicPort"].as_u64().unwrap_or(0),
            proto: p["Type"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    ps.sort_by(|a, b| {
        (a.private, &a.ip, a.public, &a.proto).cmp(&(b.private, &b.ip, b.public, &b.proto))
    });
    let mut groups: Vec<(String, u64, u64)> = Vec::new(); // (key, first, last), in first-seen order
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    let form = |key: &str, first: u64, last: u64| -> String {
        let (ip, proto) = key.rsplit_once('/').unwrap_or(("", key));
        let mut g = first.to_string();
        if first != last {
            g = format!("{g}-{last}");
        }
        if ip.is_empty() {
            format!("{g}/{proto}")
        } else {
            format!("{}->{g}/{proto}", join_host_port(ip, &g))
        }
    };
    for p in &ps {
        let mut key = p.proto.clone();
        if !p.ip.is_empty() {
            if p.public != p.private {
                mappings.push(format!(
                    "{}->{}/{}",
                    join_host_port(&p.ip, &p.public.to_string()),
                    p.private,
                    p.proto
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.proto);
        }
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            None => groups.push((key, p.private, p.private)),
            Some(g) if p.private == g.2 + 1 => g.2 = p.private,
            Some(g) => {
                result.push(form(&g.0, g.1, g.2));
                g.1 = p.private;
                g.2 = p.private;
            }
        }
    }
    for (k, f, l) in &groups {
        result.push(form(k, *f, *l));
    }
    result.extend(mappings);
    result.join(", ")
}

/// One container as docker's formatter shows it.
pub fn container_row(c: &Value, trunc: bool, now: i64) -> Row {
    let id = c["Id"].as_str().unwrap_or("");
    let id = if trunc {
        id.chars().take(12).collect()
    } else {
        id.to_string()
    };
    let mut command = c["Command"].as_str().unwrap_or("").to_string();
    if trunc {
        command = ellipsis(&command, 20);
    }
    let created = c["Created"].as_i64().unwrap_or(0);
    let mut names: Vec<String> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str())
        .map(|n| n.chars().skip(1).collect())
        .collect();
    if trunc {
        if let Some(n) = names.iter().find(|n| !n.contains('/')) {
            names = vec![n.clone()];
        }
    }
    let labels = sorted_labels(&c["Labels"]);
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = m["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .or(m["Source"].as_str())
                .unwrap_or("");
            if trunc {
                ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect();
    let local = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["Driver"] == "local")
        .count();
    let mut networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    networks.sort();
    let size_rw = c["SizeRw"].as_i64().unwrap_or(0);
    let size_root = c["SizeRootFs"].as_i64().unwrap_or(0);
    let size = if size_root > 0 {
        format!(
            "{} (virtual {})",
            human_size(size_rw),
            human_size(size_root)
        )
    } else {
        human_size(size_rw)
    };
    let s = |v: String| Json::Str(v);
    let data = Json::Obj(vec![
        ("Command".into(), s(quote(&command))),
        ("CreatedAt".into(), s(go_time_string(created))),
        ("ID".into(), s(id)),
        ("Image".into(), s(image_column(c, trunc))),
        (
            "Labels".into(),
            s(labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")),
        ),
        ("LocalVolumes".into(), s(local.to_string())),
        ("Mounts".into(), s(mounts.join(","))),
        ("Names".into(), s(names.join(","))),
        ("Networks".into(), s(networks.join(","))),
        ("Platform".into(), Json::Null),
        (
            "Ports".into(),
            s(display_ports(
                c["Ports"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            )),
        ),
        ("RunningFor".into(), s(ago(created, now))),
        ("Size".into(), s(size)),
        (
            "State".into(),
            s(c["State"].as_str().unwrap_or("").to_string()),
        ),
        (
            "Status".into(),
            s(c["Status"].as_str().unwrap_or("").to_string()),
        ),
    ]);
    let methods = Json::Obj(vec![(
        "Label".into(),
        Json::Obj(labels.into_iter().map(|(k, v)| (k, Json::Str(v))).collect()),
    )]);
    Row { data, methods }
}

/// An object's `Labels` as sorted (key, value) pairs (ps and network ls show them so).
pub fn sorted_labels(labels: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        labels.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table(list: Value, now: i64, format: &str) -> String {
        let rows: Vec<Row> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|c| container_row(c, true, now))
            .collect();
        format::render(format, DEFAULT_TABLE, &rows, &header()).unwrap()
    }

    #[test]
    fn ps_a_filter_like_docker() {
        // transcripts/ps-a-filter.md (the CLI ran 6 seconds after Created).
        let list = json!([{
            "Id": "8a6eacd3098a4dd36502aa546ed3ff8b809727086c1d76e4b54473700ca9e0d2",
            "Names": ["/cap-web"], "Image": "capture/busybox",
            "ImageID": "sha256:909a7e1fb2039e86c9e156bc61d73a794f083d924f05555a925b5c3e0afc2523",
            "Command": "sh -c 'trap \"echo got-term; exit 0\" TERM; trap \"echo got-usr1\" USR1; httpd -p 80'",
            "Created": 1795893099,
            "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 18080, "Type": "tcp"}],
            "Labels": {"cap.test": "1"}, "State": "running", "Status": "Up 2 seconds",
            "NetworkSettings": {"Networks": {"cap-net1": {}}},
            "Mounts": [{"Type": "volume", "Name": "cap-vol1", "Driver": "local"}]
        }]);
        assert_eq!(
            table(list.clone(), 1795893105, ""),
            concat!(
                "CONTAINER ID   IMAGE             COMMAND                   CREATED         STATUS         PORTS                     NAMES\n",
                "8a6eacd3098a   capture/busybox   \"sh -c 'trap \\\"echo g…\"   6 seconds ago   Up 2 seconds   127.0.0.1:18080->80/tcp   cap-web\n",
            )
        );
        assert_eq!(
            table(list.clone(), 1795893105, "{{.Names}} {{.Label \"cap.test\"}} {{.Labels}} {{.Networks}} {{.Mounts}} {{.LocalVolumes}} {{.State}}"),
            "cap-web 1 cap.test=1 cap-net1 cap-vol1 1 running\n"
        );
        assert_eq!(
            table(list, 1795893105, "table {{.ID}}\\t{{.CreatedAt}}"),
            "CONTAINER ID   CREATED AT\n8a6eacd3098a   2026-11-28 19:11:39 +0000 UTC\n"
        );
    }

    #[test]
    fn sparse_entries_like_docker() {
        // experiments.md "ps: entry with only Id" and "Id shorter than 12 characters".
        let now = 1_795_893_105;
        assert_eq!(
            table(json!([{"Id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]), now, ""),
            "CONTAINER ID   IMAGE        COMMAND   CREATED        STATUS    PORTS     NAMES\naaaaaaaaaaaa   <no image>   \"\"        56 years ago                       \n"
        );
        assert_eq!(
            table(json!([{"Id": "abc", "Names": ["/web"], "Image": "busybox"}]), now, ""),
            "CONTAINER ID   IMAGE     COMMAND   CREATED        STATUS    PORTS     NAMES\nabc            busybox   \"\"        56 years ago                       web\n"
        );
        let rows = [container_row(
            &json!({"Id": "x", "Names": ["/a/b", "/c"]}),
            true,
            now,
        )];
        assert_eq!(
            format::render("{{.Names}}", "", &rows, &header()).unwrap(),
            "c\n"
        );
    }

    #[test]
    fn ports_like_docker() {
        let p = |ip: &str, private: u64, public: u64, t: &str| json!({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": t});
        assert_eq!(
            display_ports(&[p("0.0.0.0", 8080, 80, "tcp")]),
            "0.0.0.0:80->8080/tcp"
        );
        assert_eq!(
            display_ports(&[
                p("", 80, 0, "tcp"),
                p("", 81, 0, "tcp"),
                p("", 82, 0, "tcp"),
                p("", 53, 0, "udp")
            ]),
            "53/udp, 80-82/tcp"
        );
        assert_eq!(
            display_ports(&[p("0.0.0.0", 80, 80, "tcp"), p("::", 80, 80, "tcp")]),
            "0.0.0.0:80->80/tcp, [::]:80->80/tcp"
        );
        assert_eq!(display_ports(&[]), "");
    }

    #[test]
    fn filters_as_docker_sends_them() {
        let f = |v: &[&str]| filters_json(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&[]).unwrap(), None);
        assert_eq!(
            f(&["status=exited", "name=cap-"]).unwrap().unwrap(),
            r#"{"name":{"cap-":true},"status":{"exited":true}}"#
        );
        assert_eq!(
            f(&["label=cap.test=1", "name=cap-"]).unwrap().unwrap(),
            r#"{"label":{"cap.test=1":true},"name":{"cap-":true}}"#
        );
        assert!(f(&["bogus"]).is_err());
    }
}
