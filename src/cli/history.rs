//! `berth history`: `GET /images/{name}/history` and docker's history formatter: the
//! fields `--format` sees (.ID .CreatedSince .CreatedAt .CreatedBy .Size .Comment), the
//! table `IMAGE  CREATED  CREATED BY  SIZE  COMMENT` with `<missing>` for layers that are
//! no image of their own, CREATED BY cut to 45 characters unless `--no-trunc`, and raw
//! dates and sizes with `-H=false`.

use super::api;
use super::args::FlagSpec;
use super::format::{self, Row};
use super::json::Json;
use super::units::{ago, ellipsis, human_size};
use super::{flag_error, parse, Cli};
use argh::FromArgs;
use serde_json::Value;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Show the history of an image.
pub struct HistoryArgs {
    /// print sizes and dates in human readable format (the default)
    #[argh(switch, short = 'H')]
    human: bool,
    /// print raw sizes and RFC 3339 dates (-H=false)
    #[argh(switch)]
    no_human: bool,
    /// don't truncate output
    #[argh(switch)]
    no_trunc: bool,
    /// only show image IDs
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// format output using a Go template, "table", "table TEMPLATE" or "json"
    #[argh(option)]
    format: Option<String>,
    /// the image
    #[argh(positional)]
    image: String,
}

const HISTORY_SPEC: FlagSpec = FlagSpec {
    switches: &["-H", "--human", "--no-human", "--no-trunc", "-q", "--quiet"],
    options: &["--format"],
    stop_at_positional: false,
    aliases: &[],
};

const TABLE: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
const TABLE_RAW: &str = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// pflag's valued forms of the boolean `-H` (`-H=false`, `--human=0`) as switches argh
/// knows; a value pflag would refuse is docker's flag error.
fn human_words(words: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(words.len());
    let mut rest = words.iter();
    for w in rest.by_ref() {
        if *w == "--" {
            out.push(w.to_string());
            break;
        }
        let value = w.strip_prefix("-H=").or_else(|| w.strip_prefix("--human="));
        match value {
            None => out.push(w.to_string()),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => out.push("--human".into()),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => out.push("--no-human".into()),
            Some(v) => {
                return Err(format!(
                    "invalid argument {v:?} for \"-H, --human\" flag: strconv.ParseBool: parsing {v:?}: invalid syntax"
                ))
            }
        }
    }
    out.extend(rest.map(|w| w.to_string()));
    Ok(out)
}

fn header() -> Json {
    let pairs = [
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ];
    Json::Obj(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Json::Str(v.to_string())))
            .collect(),
    )
}

/// docker's `TruncateID`: the hex after the algorithm, 12 characters.
fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, hex)| hex);
    id.chars().take(12).collect()
}

/// One history entry as the formatter sees it.
pub fn history_row(h: &Value, trunc: bool, human: bool, now: i64) -> Row {
    let id = h["Id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("<missing>");
    let id = if trunc { short_id(id) } else { id.to_string() };
    let created = h["Created"].as_i64().unwrap_or(0);
    let created_at = crate::util::time::rfc3339_seconds(created);
    let by = h["CreatedBy"].as_str().unwrap_or("").replace('\t', " ");
    let by = if trunc { ellipsis(&by, 45) } else { by };
    let size = h["Size"].as_i64().unwrap_or(0);
    let s = |v: String| Json::Str(v);
    let data = Json::Obj(vec![
        (
            "Comment".into(),
            s(h["Comment"].as_str().unwrap_or("").to_string()),
        ),
        ("CreatedAt".into(), s(created_at.clone())),
        ("CreatedBy".into(), s(by)),
        (
            "CreatedSince".into(),
            s(if human { ago(created, now) } else { created_at }),
        ),
        ("ID".into(), s(id)),
        (
            "Size".into(),
            s(if human {
                human_size(size)
            } else {
                size.to_string()
            }),
        ),
    ]);
    Row {
        data,
        methods: Json::Null,
    }
}

/// The history as printed.
pub fn render(
    list: &Value,
    a: &HistoryArgs,
    human: bool,
    now: i64,
) -> crate::error::Result<String> {
    let rows: Vec<Row> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| history_row(h, !a.no_trunc, human, now))
        .collect();
    let format = match a.format.as_deref() {
        Some(f) if !f.is_empty() && f != "table" => f,
        _ if a.quiet => "{{.ID}}",
        _ => "",
    };
    let default = if human { TABLE } else { TABLE_RAW };
    format::render(format, default, &rows, &header())
}

pub fn history(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let words = match human_words(words) {
        Ok(w) => w,
        Err(e) => return flag_error(path, &e),
    };
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let a: HistoryArgs = match parse(path, &refs, &HISTORY_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let human = a.human || !a.no_human;
    let list = match api::get_json(&mut cli.client, &format!("/images/{}/history", a.image)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    };
    let now = crate::util::time::now_nanos() / 1_000_000_000;
    super::print_or_fail(render(&list, &a, human, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(words: &[&str]) -> (HistoryArgs, bool) {
        let words = human_words(words).unwrap();
        let norm = super::super::args::normalize(
            &words.iter().map(String::as_str).collect::<Vec<_>>(),
            &HISTORY_SPEC,
        );
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        let a = HistoryArgs::from_args(&["berth", "history"], &refs)
            .unwrap_or_else(|e| panic!("{}", e.output));
        let human = a.human || !a.no_human;
        (a, human)
    }

    fn sample() -> Value {
        json!([
            {"Id": "sha256:909a7e1fb2039e86c9e156bc61d73a794f083d924f05555a925b5c3e0afc2523",
             "Created": 1795893010, "CreatedBy": "/bin/sh -c #(nop)  CMD [\"sh\"]\tand a tab, long enough to be cut",
             "Size": 0, "Comment": "", "Tags": ["capture/busybox:latest"]},
            {"Id": "<missing>", "Created": 1795892800, "CreatedBy": "/bin/sh -c #(nop) ADD file:abc in / ",
             "Size": 1984189, "Comment": "imported", "Tags": null}
        ])
    }

    const NOW: i64 = 1795893010 + 3600;

    #[test]
    fn table_like_docker() {
        let (a, human) = args(&["img"]);
        assert_eq!(
            render(&sample(), &a, human, NOW).unwrap(),
            concat!(
                "IMAGE          CREATED             CREATED BY                                      SIZE      COMMENT\n",
                "909a7e1fb203   About an hour ago   /bin/sh -c #(nop)  CMD [\"sh\"] and a tab, lon…   0B        \n",
                "<missing>      About an hour ago   /bin/sh -c #(nop) ADD file:abc in /             1.98MB    imported\n",
            )
        );
    }

    #[test]
    fn raw_quiet_and_untruncated() {
        let (a, human) = args(&["-H=false", "img"]);
        assert!(!human);
        let out = render(&sample(), &a, human, NOW).unwrap();
        assert!(
            out.starts_with("IMAGE          CREATED AT             CREATED BY"),
            "{out}"
        );
        assert!(out.contains("   2026-11-28T19:10:10Z   "), "{out}");
        assert!(out.contains("   1984189   imported"), "{out}");
        let (a, human) = args(&["--human=true", "-q", "img"]);
        assert!(human);
        assert_eq!(
            render(&sample(), &a, human, NOW).unwrap(),
            "909a7e1fb203\n<missing>\n"
        );
        let (a, human) = args(&["--no-trunc", "-q", "img"]);
        assert!(render(&sample(), &a, human, NOW).unwrap().starts_with(
            "sha256:909a7e1fb2039e86c9e156bc61d73a794f083d924f05555a925b5c3e0afc2523\n"
        ));
        let (a, human) = args(&["--format", "{{.ID}}|{{.Size}}", "img"]);
        assert_eq!(
            render(&sample(), &a, human, NOW).unwrap(),
            "909a7e1fb203|0B\n<missing>|1.98MB\n"
        );
        assert_eq!(
            human_words(&["-H=maybe"]).unwrap_err(),
            "invalid argument \"maybe\" for \"-H, --human\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
    }
}
