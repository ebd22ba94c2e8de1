//! Image commands: `images` (docker's image formatter: one row per repository and tag,
//! digests with --digests, `<none>` for dangling images), `import` (a tar from a file or
//! stdin streamed as the body of `POST /images/create?fromSrc=-`), `rmi` and `tag`.

use super::api::{self, query};
use super::args::FlagSpec;
use super::format::{self, Row};
use super::json::Json;
use super::ps::{familiar, filters_json};
use super::stream;
use super::units::{ago, go_time_string, human_size};
use super::{parse, Cli};
use crate::client::Body;
use crate::error::{Context, Error, Result};
use argh::FromArgs;
use serde_json::Value;
use std::io::{self, BufReader, Read};

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
const TABLE_DIGESTS: &str = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

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
    let rows: Vec<Row> =
        list.as_array().into_iter().flatten().flat_map(|i| image_rows(i, !a.no_trunc, a.digests, now)).collect();
    let default = if a.digests { TABLE_DIGESTS } else { TABLE };
    match format::render(&format, default, &rows, &header()) {
        Ok(out) => {
            print!("{out}");
            0
        }
        Err(e) => {
            eprintln!("{}", e.message);
            1
        }
    }
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
    Json::Obj(pairs.iter().map(|(k, v)| (k.to_string(), Json::Str(v.to_string()))).collect())
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
        img[k].as_array().into_iter().flatten().filter_map(|v| v.as_str()).map(str::to_string).collect()
    };
    let (tags, dgs) = (strs("RepoTags"), strs("RepoDigests"));
    let dangling = (tags.is_empty() || tags == ["<none>:<none>"]) && (dgs.is_empty() || dgs == ["<none>@<none>"]);
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
    let id = if trunc { id.strip_prefix("sha256:").unwrap_or(id).chars().take(12).collect() } else { id.to_string() };
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
        ("SharedSize".into(), s(na(shared, &human_size))),
        ("Size".into(), s(human_size(size))),
        ("Tag".into(), s(tag.to_string())),
        ("UniqueSize".into(), s(na(shared, &|sh| human_size(size - sh)))),
        ("VirtualSize".into(), s(human_size(img["VirtualSize"].as_i64().unwrap_or(size)))),
    ]);
    Row { data, methods: Json::Null }
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Import the contents from a tarball to create a filesystem image.
pub struct ImportArgs {
    /// apply a Dockerfile instruction to the created image
    #[argh(option, short = 'c')]
    change: Vec<String>,
    /// set a commit message for the imported image
    #[argh(option, short = 'm')]
    message: Option<String>,
    /// set the platform (accepted, sent to the daemon)
    #[argh(option)]
    platform: Option<String>,
    /// a tar file, or - for stdin
    #[argh(positional)]
    source: String,
    /// the image name (REPOSITORY[:TAG])
    #[argh(positional)]
    reference: Option<String>,
}

/// The import query docker sends.
pub fn import_query(a: &ImportArgs) -> String {
    let mut q = vec![("fromSrc", "-".to_string())];
    if let Some(r) = &a.reference {
        q.push(("repo", r.clone()));
    }
    if let Some(m) = a.message.as_ref().filter(|m| !m.is_empty()) {
        q.push(("message", m.clone()));
    }
    if let Some(p) = &a.platform {
        q.push(("platform", p.clone()));
    }
    for c in &a.change {
        q.push(("changes", c.clone()));
    }
    query(&q)
}

const IMPORT_SPEC: FlagSpec =
    FlagSpec { switches: &[], options: &["-c", "--change", "-m", "--message", "--platform"], stop_at_positional: false, aliases: &[] };

pub fn import(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let a: ImportArgs = match parse(path, words, &IMPORT_SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let r = (|| -> Result<()> {
        if a.source.starts_with("http://") || a.source.starts_with("https://") {
            return Err(Error::invalid("importing from a URL is not supported"));
        }
        let mut input: Box<dyn Read> = if a.source == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(std::fs::File::open(&a.source).ctx(|| format!("open {}", a.source))?)
        };
        let path = format!("/images/create{}", import_query(&a));
        let resp = api::call(&mut cli.client, "POST", &path, &[], Body::Stream(&mut input, "text/plain"))?;
        match stream::display_progress(BufReader::new(resp), &mut io::stdout())? {
            Some(msg) => Err(Error::system(msg)),
            None => Ok(()),
        }
    })();
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Remove one or more images.
pub struct RmiArgs {
    /// force removal of the image
    #[argh(switch, short = 'f')]
    force: bool,
    /// do not delete untagged parents
    #[argh(switch)]
    no_prune: bool,
    /// the images
    #[argh(positional)]
    images: Vec<String>,
}

pub fn rmi(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let spec = FlagSpec { switches: &["-f", "--force", "--no-prune"], options: &[], stop_at_positional: false, aliases: &[] };
    let a: RmiArgs = match parse(path, words, &spec) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let mut q = Vec::new();
    if a.force {
        q.push(("force", "1".to_string()));
    }
    if a.no_prune {
        q.push(("noprune", "1".to_string()));
    }
    let q = query(&q);
    let mut errors = Vec::new();
    for img in &a.images {
        let r = api::call(&mut cli.client, "DELETE", &format!("/images/{img}{q}"), &[], Body::Empty)
            .and_then(|resp| resp.bytes())
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| Error::invalid(format!("decode the rmi answer: {e}"))));
        match r {
            Ok(list) => {
                for item in list.as_array().into_iter().flatten() {
                    match (item["Deleted"].as_str().filter(|s| !s.is_empty()), item["Untagged"].as_str()) {
                        (Some(d), _) => println!("Deleted: {d}"),
                        (None, Some(u)) => println!("Untagged: {u}"),
                        _ => {}
                    }
                }
            }
            Err(e) => errors.push(e.message),
        }
    }
    for e in &errors {
        eprintln!("{e}");
    }
    i32::from(!errors.is_empty())
}

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
pub struct TagArgs {
    /// the source image (IMAGE[:TAG])
    #[argh(positional)]
    source: String,
    /// the new name (IMAGE[:TAG])
    #[argh(positional)]
    target: String,
}

/// The target of `tag` as docker sends it: (familiar repository, tag), after docker's
/// checks of the reference.
pub fn tag_target(target: &str) -> std::result::Result<(String, String), String> {
    let bad = |why: &str| format!("Error parsing reference: {target:?} is not a valid repository/tag: {why}");
    if target.contains('@') {
        return Err("refusing to create a tag with a digest reference".into());
    }
    let (repo, tag) = match target.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (target, "latest"),
    };
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let (domain, path) = match repo.split_once('/') {
        Some((d, p)) if d.contains('.') || d.contains(':') || d == "localhost" => (Some(d), p),
        _ => (None, repo),
    };
    let comp_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.chars().all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
    };
    if repo.is_empty() || !tag_ok || !path.split('/').all(comp_ok) || domain.is_some_and(|d| d.contains(char::is_whitespace)) {
        return Err(bad("invalid reference format"));
    }
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        let full = if domain.is_none() && !path.contains('/') { format!("library/{path}") } else { path.to_string() };
        return Err(bad(&format!("invalid reference format: repository name ({full}) must be lowercase")));
    }
    Ok((familiar(repo).to_string(), tag.to_string()))
}

pub fn tag(cli: &mut Cli, path: &[&str], words: &[&str]) -> i32 {
    let spec = FlagSpec { switches: &[], options: &[], stop_at_positional: false, aliases: &[] };
    let a: TagArgs = match parse(path, words, &spec) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let (repo, tag) = match tag_target(&a.target) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let q = query(&[("repo", repo), ("tag", tag)]);
    match api::post(&mut cli.client, &format!("/images/{}/tag{q}", a.source)) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("{}", e.message);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(list: Value, now: i64, digests: bool, format: &str) -> String {
        let rows: Vec<Row> =
            list.as_array().unwrap().iter().flat_map(|i| image_rows(i, true, digests, now)).collect();
        format::render(format, if digests { TABLE_DIGESTS } else { TABLE }, &rows, &header()).unwrap()
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
        assert_eq!(render(transcript_images(), 1795893049, false, "{{.ID}}"), "909a7e1fb203\n909a7e1fb203\n92b9db348f15\n92b9db348f15\n");
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
        let with_digest = render(transcript_images(), 1795893049, true, "{{.Repository}} {{.Tag}} {{.Digest}}");
        assert!(with_digest.starts_with("127.0.0.1:5066/capture/busybox v1 sha256:dc86"), "{with_digest}");
        assert!(with_digest.contains("\ncapture/busybox latest <none>\n"), "{with_digest}");
        let dangling = json!([{"Id": "sha256:0123456789abcdef", "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"], "Size": 4270}]);
        assert_eq!(render(dangling, 0, false, "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}"), "<none> <none> 0123456789ab 4.27kB\n");
        let digest_only = json!([{"Id": "sha256:ab", "RepoDigests": ["docker.io/library/busybox@sha256:ff"], "Size": 1}]);
        assert_eq!(render(digest_only, 0, false, "{{.Repository}} {{.Tag}}"), "busybox <none>\n");
    }

    fn import_args(words: &[&str]) -> ImportArgs {
        let norm = super::super::args::normalize(words, &IMPORT_SPEC);
        let refs: Vec<&str> = norm.iter().map(String::as_str).collect();
        ImportArgs::from_args(&["berth", "import"], &refs).unwrap_or_else(|e| panic!("{}", e.output))
    }

    #[test]
    fn import_query_like_docker() {
        // transcripts/import.md
        let a = import_args(&["-c", "CMD [\"sh\"]", "-c", "ENV PATH=/usr/local/bin:/usr/bin:/bin:/sbin", "-m", "capture busybox", "-", "capture/busybox:latest"]);
        assert_eq!(
            import_query(&a),
            "?changes=CMD%20%5B%22sh%22%5D&changes=ENV%20PATH%3D%2Fusr%2Flocal%2Fbin%3A%2Fusr%2Fbin%3A%2Fbin%3A%2Fsbin&fromSrc=-&message=capture%20busybox&repo=capture%2Fbusybox%3Alatest"
        );
        assert_eq!(import_query(&import_args(&["rootfs.tar"])), "?fromSrc=-");
    }

    #[test]
    fn tag_targets() {
        assert_eq!(tag_target("127.0.0.1:5066/capture/busybox:v1").unwrap(), ("127.0.0.1:5066/capture/busybox".into(), "v1".into()));
        assert_eq!(tag_target("dk/busybox").unwrap(), ("dk/busybox".into(), "latest".into()));
        assert_eq!(tag_target("docker.io/library/bb:2").unwrap(), ("bb".into(), "2".into()));
        assert!(tag_target("Upper/case").unwrap_err().ends_with("repository name (Upper/case) must be lowercase"));
        assert!(tag_target("Foo").unwrap_err().ends_with("repository name (library/Foo) must be lowercase"));
        assert!(tag_target("bad name").is_err());
        assert!(tag_target("x:-bad").is_err());
        assert_eq!(tag_target("x@sha256:00").unwrap_err(), "refusing to create a tag with a digest reference");
    }
}
