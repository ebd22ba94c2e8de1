//! `berth network ls`: `GET /networks` (with `filters` as docker encodes them) and docker's
//! network formatter: names in natural order, the NETWORK ID / NAME / DRIVER / SCOPE
//! table, `-q`, `--no-trunc`, and `--format` (table, `json`, `raw` or a Go template over
//! .ID .Name .Driver .Scope .IPv4 .IPv6 .Internal .Labels .Label .CreatedAt).

use super::api::{self, query};
use super::args::FlagSpec;
use super::format::{self, Row};
use super::json::Json;
use super::ps::{filters_json, sorted_labels};
use super::units::{go_time_string_rfc3339, natural_sort_by};
use super::{flag_error, parse, Cli};
use argh::FromArgs;
use serde_json::Value;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// List networks.
pub struct LsArgs {
    /// only display network IDs
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// do not truncate the output
    #[argh(switch)]
    no_trunc: bool,
    /// provide filter values (e.g. "driver=bridge", "name=", "label=", "type=custom")
    #[argh(option, short = 'f')]
    filter: Vec<String>,
    /// format output using a Go template, "table", "table TEMPLATE", "json" or "raw"
    #[argh(option)]
    format: Option<String>,
}

pub const LS_SPEC: FlagSpec = FlagSpec {
    switches: &["-q", "--quiet", "--no-trunc"],
    options: &["-f", "--filter", "--format"],
    stop_at_positional: false,
    aliases: &[],
};

const TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
const RAW: &str =
    "network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n";

/// The `GET /networks` path for the filters, or docker's complaint about one.
pub fn ls_path(filters: &[String]) -> Result<String, String> {
    if let Some(f) = filters.iter().find(|f| !f.contains('=')) {
        return Err(format!(
            "invalid argument {f:?} for \"-f, --filter\" flag: bad format of filter (expected name=value)"
        ));
    }
    let f = filters_json(filters)?;
    Ok(format!(
        "/networks{}",
        query(&f.map(|f| vec![("filters", f)]).unwrap_or_default())
    ))
}

/// The template `--format` and `-q` stand for (docker's `NewFormat`).
fn template(format: Option<&str>, quiet: bool) -> String {
    match (format.unwrap_or("table"), quiet) {
        ("table", true) => "{{.ID}}".into(),
        ("raw", true) => "network_id: {{.ID}}".into(),
        ("raw", false) => RAW.into(),
        (f, _) => f.to_string(),
    }
}

fn header() -> Json {
    let pairs = [
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("IPv4", "IPV4"),
        ("IPv6", "IPV6"),
        ("Internal", "INTERNAL"),
        ("Labels", "LABELS"),
        ("CreatedAt", "CREATED AT"),
    ];
    Json::Obj(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Json::Str(v.to_string())))
            .collect(),
    )
}

/// One network as docker's formatter shows it; the fields in the order Go's JSON encoding
/// of the context sorts them (`--format json`).
pub fn network_row(n: &Value, trunc: bool) -> Row {
    let s = |k: &str| n[k].as_str().unwrap_or("").to_string();
    let b = |k: &str| Json::Str(n[k].as_bool().unwrap_or(false).to_string());
    let mut id = s("Id");
    if trunc {
        id = id.chars().take(12).collect();
    }
    let labels = sorted_labels(&n["Labels"]);
    let joined: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let data = Json::Obj(vec![
        (
            "CreatedAt".into(),
            Json::Str(go_time_string_rfc3339(&s("Created"))),
        ),
        ("Driver".into(), Json::Str(s("Driver"))),
        ("ID".into(), Json::Str(id)),
        ("IPv4".into(), b("EnableIPv4")),
        ("IPv6".into(), b("EnableIPv6")),
        ("Internal".into(), b("Internal")),
        ("Labels".into(), Json::Str(joined.join(","))),
        ("Name".into(), Json::Str(s("Name"))),
        ("Scope".into(), Json::Str(s("Scope"))),
    ]);
    let methods = Json::Obj(vec![(
        "Label".into(),
        Json::Obj(labels.into_iter().map(|(k, v)| (k, Json::Str(v))).collect()),
    )]);
    Row { data, methods }
}

/// The output for a `GET /networks` answer.
pub fn render(
    list: &Value,
    format: Option<&str>,
    quiet: bool,
    trunc: bool,
) -> crate::error::Result<String> {
    let mut nets: Vec<&Value> = list.as_array().into_iter().flatten().collect();
    natural_sort_by(&mut nets, |n| n["Name"].as_str().unwrap_or(""));
    let rows: Vec<Row> = nets.iter().map(|n| network_row(n, trunc)).collect();
    format::render(&template(format, quiet), TABLE, &rows, &header())
}

pub fn ls(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: LsArgs = match parse(path, words, &LS_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let target = match ls_path(&a.filter) {
        Ok(p) => p,
        Err(e) => return flag_error(path, &e),
    };
    let r = api::get_json(&mut cli.client, &target)
        .and_then(|list| render(&list, a.format.as_deref(), a.quiet, !a.no_trunc));
    super::print_or_fail(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `GET /networks` answer of transcripts/network-ls.md.
    fn transcript_list() -> Value {
        let text = include_str!("testdata/networks.json");
        serde_json::from_str(text).expect("networks.json")
    }

    #[test]
    fn table_like_docker_network_ls() {
        // transcripts/network-ls.md: the daemon's order is none, host, bridge, cap-net1.
        assert_eq!(
            render(&transcript_list(), None, false, true).unwrap(),
            concat!(
                "NETWORK ID     NAME       DRIVER    SCOPE\n",
                "9be2309812e7   bridge     bridge    local\n",
                "73477c35a818   cap-net1   bridge    local\n",
                "bebf212c5fde   host       host      local\n",
                "0e97d8f848c0   none       null      local\n",
            )
        );
        assert_eq!(
            render(&transcript_list(), None, true, true).unwrap(),
            "9be2309812e7\n73477c35a818\nbebf212c5fde\n0e97d8f848c0\n"
        );
        // -q with a custom format: the format wins.
        assert_eq!(
            render(&transcript_list(), Some("{{.Name}}"), true, true).unwrap(),
            "bridge\ncap-net1\nhost\nnone\n"
        );
        let wide = render(&transcript_list(), None, false, false).unwrap();
        assert!(wide.starts_with("NETWORK ID                                                         NAME       DRIVER    SCOPE\n9be2309812e7daa7de0dbe4d293e479516e9fb7aa161311fdc285966c1af1c9a   bridge"), "{wide}");
        assert_eq!(
            render(&serde_json::json!([]), None, false, true).unwrap(),
            "NETWORK ID   NAME      DRIVER    SCOPE\n"
        );
    }

    #[test]
    fn formats_like_docker_network_ls() {
        // What docker 28.2.2 printed for the transcript's networks.
        let json = render(&transcript_list(), Some("json"), false, true).unwrap();
        assert_eq!(
            json.lines().nth(1).unwrap(),
            r#"{"CreatedAt":"2026-11-28 19:11:35.18134794 +0000 UTC","Driver":"bridge","ID":"73477c35a818","IPv4":"false","IPv6":"false","Internal":"false","Labels":"cap.test=1","Name":"cap-net1","Scope":"local"}"#
        );
        assert_eq!(
            render(
                &transcript_list(),
                Some("table {{.Name}}\\t{{.Labels}}\\t{{.CreatedAt}}\\t{{.IPv4}}\\t{{.IPv6}}\\t{{.Internal}}\\t{{.Label \"cap.test\"}}"),
                false,
                true
            )
            .unwrap(),
            concat!(
                "NAME       LABELS       CREATED AT                                IPV4      IPV6      INTERNAL   test\n",
                "bridge                  2026-11-28 19:06:21.238646403 +0000 UTC   false     false     false      \n",
                "cap-net1   cap.test=1   2026-11-28 19:11:35.18134794 +0000 UTC    false     false     false      1\n",
                "host                    2026-11-28 19:06:21.216594764 +0000 UTC   false     false     false      \n",
                "none                    2026-11-28 19:06:21.205791658 +0000 UTC   false     false     false      \n",
            )
        );
        let raw = render(&transcript_list(), Some("raw"), false, true).unwrap();
        assert!(raw.starts_with(
            "network_id: 9be2309812e7\nname: bridge\ndriver: bridge\nscope: local\n\nnetwork_id: 73477c35a818\n"
        ), "{raw}");
    }

    #[test]
    fn filters_like_docker() {
        assert_eq!(ls_path(&[]).unwrap(), "/networks");
        assert_eq!(
            ls_path(&["driver=bridge".into(), "label=a=b".into()]).unwrap(),
            "/networks?filters=%7B%22driver%22%3A%7B%22bridge%22%3Atrue%7D%2C%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D"
        );
        assert_eq!(
            ls_path(&["bogus".into()]).unwrap_err(),
            "invalid argument \"bogus\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
        );
    }
}
