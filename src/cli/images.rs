//! `berth images`: `GET /images/json` and docker's image formatter: one row per repository
//! and tag, digests with --digests, `<none>` for dangling images.

use super::api::{self, query};
use super::args::FlagSpec;
use super::format::{self, Row};
use super::json::Json;
use super::ps::{familiar, filters_json};
use super::units::{ago, go_time_string, human_size, human_size_precision};
use super::{parse, Cli};
use argh::FromArgs;
use serde_json::Value;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// List images.
pub struct ImagesArgs {
    /// show all images (default hides intermediate images)
    #[argh(switch, short = 'a')]
    all: bool,
    /// only show image IDs
    #[argh(switch, short = 'q')]
    quiet: bool,
    /// show digests
    #[argh(switch)]
    digests: bool,
    /// don't truncate output
    #[argh(switch)]
    no_trunc: bool,
    /// filter output based on conditions provided (KEY=VALUE)
    #[argh(option, short = 'f')]
    filter: Vec<String>,
    /// format output using a Go template, "table", "table TEMPLATE" or "json"
    #[argh(option)]
    format: Option<String>,
    /// only images of this repository (REPOSITORY[:TAG])
    #[argh(positional)]
    reference: Option<String>,
}

const IMAGES_SPEC: FlagSpec = FlagSpec {
    switches: &["-a", "--all", "-q", "--quiet", "--digests", "--no-trunc"],
    options: &["-f", "--filter", "--format"],
    stop_at_positional: false,
    aliases: &[],
};

const TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const TABLE_DIGESTS: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

pub fn images(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: ImagesArgs = match parse(path, words, &IMAGES_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let mut q = Vec::new();
    if a.all {
        q.push(("all", "1".to_string()));
    }
    match filters_json(&filters) {
        Ok(Some(f)) => q.push(("filters", f)),
        Ok(None) => {}
        Err(e) => {
            eprintln!("{e}");
            return 125;
        }
    }
    let list = match api::get_json(&mut cli.client, &format!("/images/json{}", query(&q))) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    };
    let mut format = a.format.clone().unwrap_or_default();
    if a.quiet {
        format = "{{.ID}}".into();
    }
    let now = crate::util::time::now_nanos() / 1_000_000_000;
    let rows: Vec<Row> = list
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| image_rows(i, !a.no_trunc, a.digests, now))
        .collect();
    let default = if a.digests { TABLE_DIGESTS } else { TABLE };
    super::print_or_fail(format::render(&format, default, &rows, &header()))
}

fn header() -> Json {
    let pairs = [
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
        ("VirtualSize", "VIRTUAL SIZE"),
    ];
    Json::Obj(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Json::Str(v.to_string())))
            .collect(),
    )
}

/// Adds `value` under `key` in an insertion-ordered multimap.
fn push(groups: &mut Vec<(String, Vec<String>)>, key: &str, value: String) {
    match groups.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => v.push(value),
        None => groups.push((key.to_string(), vec![value])),
    }
}

/// docker's `imageFormat`: the rows one image shows.
pub fn image_rows(img: &Value, trunc: bool, digests: bool, now: i64) -> Vec<Row> {
    let strs = |k: &str| -> Vec<String> {
        img[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::to_string)
            .collect()
    };
    let (tags, dgs) = (strs("RepoTags"), strs("RepoDigests"));
    let dangling = (tags.is_empty() || tags == ["<none>:<none>"])
        && (dgs.is_empty() || dgs == ["<none>@<none>"]);
    let mut rows = Vec::new();
    if dangling {
        rows.push(image_row(img, trunc, "<none>", "<none>", "<none>", now));
        return rows;
    }
    let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
    for t in &tags {
        if t.contains('@') {
            continue;
        }
        if let Some((repo, tag)) = t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
            push(&mut repo_tags, familiar(repo), tag.to_string());
        }
    }
    let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
    for d in &dgs {
        if let Some((repo, digest)) = d.split_once('@') {
            push(&mut repo_digests, familiar(repo), digest.to_string());
        }
    }
    for (repo, tags) in &repo_tags {
        let ds = match repo_digests.iter().position(|(r, _)| r == repo) {
            Some(i) => repo_digests.remove(i).1,
            None => Vec::new(),
        };
        for tag in tags {
            if !digests || ds.is_empty() {
                rows.push(image_row(img, trunc, repo, tag, "<none>", now));
            } else {
                for d in &ds {
                    rows.push(image_row(img, trunc, repo, tag, d, now));
                }
            }
        }
    }
    for (repo, ds) in &repo_digests {
        if digests {
            for d in ds {
                rows.push(image_row(img, trunc, repo, "<none>", d, now));
            }
        } else {
            rows.push(image_row(img, trunc, repo, "<none>", "<none>", now));
        }
    }
    rows
}

fn image_row(img: &Value, trunc: bool, repo: &str, tag: &str, digest: &str, now: i64) -> Row {
    let id = img["Id"].as_str().unwrap_or("");
    let id = if trunc {
        id.strip_prefix("sha256:")
            .unwrap_or(id)
            .chars()
            .take(12)
            .collect()
    } else {
        id.to_string()
    };
    let created = img["Created"].as_i64().unwrap_or(0);
    let size = img["Size"].as_i64().unwrap_or(0);
    let shared = img["SharedSize"].as_i64().unwrap_or(-1);
    let containers = img["Containers"].as_i64().unwrap_or(-1);
    let na = |n: i64, f: &dyn Fn(i64) -> String| if n < 0 { "N/A".to_string() } else { f(n) };
    let s = |v: String| Json::Str(v);
    let data = Json::Obj(vec![
        ("Containers".into(), s(na(containers, &|n| n.to_string()))),
        ("CreatedAt".into(), s(go_time_string(created))),
        ("CreatedSince".into(), s(ago(created, now))),
        ("Digest".into(), s(digest.to_string())),
        ("ID".into(), s(id)),
        ("Repository".into(), s(repo.to_string())),
        (
            "SharedSize".into(),
            s(na(shared, &|sh| human_size_precision(sh, 4))),
        ),
        ("Size".into(), s(human_size(size))),
        ("Tag".into(), s(tag.to_string())),
        (
            "UniqueSize".into(),
            s(na(shared, &|sh| human_size_precision(size - sh, 4))),
        ),
        (
            "VirtualSize".into(),
            s(human_size_precision(
                img["VirtualSize"].as_i64().unwrap_or(size),
                4,
            )),
        ),
    ]);
    Row {
        data,
        methods: Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(list: Value, now: i64, digests: bool, format: &str) -> String {
        let rows: Vec<Row> = list
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|i| image_rows(i, true, digests, now))
            .collect();
        format::render(
            format,
            if digests { TABLE_DIGESTS } else { TABLE },
            &rows,
            &header(),
        )
        .unwrap()
    }

    fn transcript_images() -> Value {
        json!([
            {"Containers": -1, "Created": 1795893010, "Id": "sha256:909a7e1fb2039e86c9e156bc61d73a794f083d924f05555a925b5c3e0afc2523",
             "Labels": null, "ParentId": "",
             "RepoDigests": ["127.0.0.1:5066/capture/busybox@sha256:dc865601865397de9561e0c3a3e73246df4de2cf7882d7b13cb50e99699bde24"],
             "RepoTags": ["127.0.0.1:5066/capture/busybox:v1", "capture/busybox:latest"],
             "SharedSize": -1, "Size": 1984189, "VirtualSize": 1984189},
            {"Containers": -1, "Created": 1795892789, "Id": "sha256:92b9db348f1579d3c0ad4e4ea9f01788dd380c6d484a4cd7a76fbea12f130346",
             "Labels": null, "ParentId": "",
             "RepoDigests": ["localhost:5000/busybox@sha256:a95fd2363676aa93f2014e5e5d51bd42cd9f3a61512a8c09b034a2cd13c2a4fe"],
             "RepoTags": ["busybox:local", "localhost:5000/busybox:latest"],
             "SharedSize": -1, "Size": 1982426, "VirtualSize": 1982426}
        ])
    }

    #[test]
    fn images_like_docker() {
        // transcripts/images.md: the CLI ran 39 s after the first image was created.
        assert_eq!(
            render(transcript_images(), 1795893049, false, ""),
            concat!(
                "REPOSITORY                       TAG       IMAGE ID       CREATED          SIZE\n",
                "127.0.0.1:5066/capture/busybox   v1        909a7e1fb203   39 seconds ago   1.98MB\n",
                "capture/busybox                  latest    909a7e1fb203   39 seconds ago   1.98MB\n",
                "busybox                          local     92b9db348f15   4 minutes ago    1.98MB\n",
                "localhost:5000/busybox           latest    92b9db348f15   4 minutes ago    1.98MB\n",
            )
        );
        assert_eq!(
            render(transcript_images(), 1795893049, false, "{{.ID}}"),
            "909a7e1fb203\n909a7e1fb203\n92b9db348f15\n92b9db348f15\n"
        );
    }

    #[test]
    fn digests_and_dangling() {
        // transcripts/images-filter.md
        let one = json!([{"Created": 1795893010, "Id": "sha256:909a7e1fb2039e86c9e156bc61d73a794f083d924f05555a925b5c3e0afc2523",
            "RepoDigests": null, "RepoTags": ["capture/busybox:latest"], "Size": 1984189}]);
        assert_eq!(
            render(one, 1795893250, true, ""),
            "REPOSITORY        TAG       DIGEST    IMAGE ID       CREATED         SIZE\ncapture/busybox   latest    <none>    909a7e1fb203   4 minutes ago   1.98MB\n"
        );
        let with_digest = render(
            transcript_images(),
            1795893049,
            true,
            "{{.Repository}} {{.Tag}} {{.Digest}}",
        );
        assert!(
            with_digest.starts_with("127.0.0.1:5066/capture/busybox v1 sha256:dc86"),
            "{with_digest}"
        );
        assert!(
            with_digest.contains("\ncapture/busybox latest <none>\n"),
            "{with_digest}"
        );
        let dangling = json!([{"Id": "sha256:0123456789abcdef", "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"], "Size": 4270}]);
        assert_eq!(
            render(
                dangling,
                0,
                false,
                "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}"
            ),
            "<none> <none> 0123456789ab 4.27kB\n"
        );
        let digest_only = json!([{"Id": "sha256:ab", "RepoDigests": ["docker.io/library/busybox@sha256:ff"], "Size": 1}]);
        assert_eq!(
            render(digest_only, 0, false, "{{.Repository}} {{.Tag}}"),
            "busybox <none>\n"
        );
    }
}
