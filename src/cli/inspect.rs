//! `berth inspect` (and `container inspect`, `image inspect`): fetch each object's
//! document (generic inspect tries a container, then an image), print them as one JSON
//! array re-indented from the daemon's bytes like docker, or run `-f` over each document.
//! Objects not found are reported after the rest; the exit status is then 1.

use super::api;
use super::args::FlagSpec;
use super::json::{indent, Json};
use super::template::Template;
use super::{parse, Cli};
use crate::client::Body;
use crate::error::{Error, Kind, Result};
use argh::FromArgs;

#[derive(FromArgs)]
#[argh(help_triggers("--help"))]
/// Return low-level information on containers or images.
pub struct InspectArgs {
    /// format the output using a Go template
    #[argh(option, short = 'f')]
    format: Option<String>,
    /// only inspect objects of this type: container, image or network
    #[argh(option, long = "type")]
    kind: Option<String>,
    /// display total file sizes if the type is container
    #[argh(switch, short = 's')]
    size: bool,
    /// the objects
    #[argh(positional)]
    names: Vec<String>,
}

const SPEC: FlagSpec = FlagSpec {
    switches: &["-s", "--size"],
    options: &["-f", "--format", "--type"],
    stop_at_positional: false,
    aliases: &[],
};

fn fetch(cli: &mut Cli, path: &str) -> Result<String> {
    let resp = api::call(&mut cli.client, "GET", path, &[], Body::Empty)?;
    let bytes = resp.bytes()?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One object's raw document.
fn document(cli: &mut Cli, kind: Option<&str>, name: &str, size: bool) -> Result<String> {
    let container = format!(
        "/containers/{name}/json{}",
        if size { "?size=1" } else { "" }
    );
    let image = format!("/images/{name}/json");
    let network = format!("/networks/{name}");
    match kind {
        Some("container") => fetch(cli, &container),
        Some("image") => fetch(cli, &image),
        Some("network") => fetch(cli, &network),
        // docker tries containers, images, then networks (volumes and plugins berth has not).
        _ => {
            for path in [&container, &image, &network] {
                match fetch(cli, path) {
                    Err(e) if e.kind == Kind::NotFound => continue,
                    r => return r,
                }
            }
            Err(Error::not_found(format!("Error: No such object: {name}")))
        }
    }
}

/// docker's output for the documents: a JSON array indented by four spaces.
pub fn as_array(docs: &[String]) -> String {
    if docs.is_empty() {
        return "[]\n".into();
    }
    let joined: Vec<&str> = docs.iter().map(|d| d.trim()).collect();
    format!("{}\n", indent(&format!("[{}]", joined.join(",")), "    "))
}

/// The `-f` output for the documents, one line each.
pub fn formatted(format: &str, docs: &[String]) -> Result<String> {
    let tmpl = Template::parse(format)
        .map_err(|e| Error::invalid(format!("template parsing error: {}", e.message)))?;
    let mut out = String::new();
    for d in docs {
        let doc = Json::parse(d)?;
        out.push_str(
            &tmpl
                .execute(&doc)
                .map_err(|e| Error::invalid(format!("template parsing error: {}", e.message)))?,
        );
        out.push('\n');
    }
    Ok(out)
}

pub fn inspect(cli: &mut Cli, path: &[&str], words: &[&str], kind: Option<&str>) -> i32 {
    let a: InspectArgs = match parse(path, words, &SPEC) {
        Ok(a) => a,
        Err(c) => return c,
    };
    let kind = kind.or(a.kind.as_deref());
    if let Some(k) = kind.filter(|k| !matches!(*k, "container" | "image" | "network")) {
        eprintln!("{k:?} is not a valid value for --type");
        return 1;
    }
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        match document(cli, kind, n, a.size) {
            Ok(d) => docs.push(d),
            Err(e) => errors.push(e.message),
        }
    }
    let out = match &a.format {
        Some(f) => formatted(f, &docs),
        None => Ok(as_array(&docs)),
    };
    match out {
        Ok(o) => super::out(&o),
        Err(e) => {
            eprintln!("{}", e.message);
            return 1;
        }
    }
    for e in &errors {
        eprintln!("{e}");
    }
    i32::from(!errors.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_like_docker() {
        // experiments.md "plain docker inspect": the daemon's JSON kept as received.
        let doc =
            "{\"Id\":\"x\",\"Custom\":\"yes\",\"State\":{\"Status\":\"running\"}}\n".to_string();
        assert_eq!(
            as_array(&[doc]),
            "[\n    {\n        \"Id\": \"x\",\n        \"Custom\": \"yes\",\n        \"State\": {\n            \"Status\": \"running\"\n        }\n    }\n]\n"
        );
        assert_eq!(as_array(&[]), "[]\n");
        let two = as_array(&["{\"a\":1}".into(), "{\"b\":[]}".into()]);
        assert_eq!(
            two,
            "[\n    {\n        \"a\": 1\n    },\n    {\n        \"b\": []\n    }\n]\n"
        );
    }

    #[test]
    fn formats_each_document() {
        // transcripts/inspect-format.md, inspect-generic-image.md
        let c = r#"{"Id":"8a6e","Name":"/cap-web2","State":{"Status":"running","ExitCode":0},"Config":{"Image":"capture/busybox","Cmd":["sh"]}}"#;
        assert_eq!(
            formatted("{{.State.Status}} {{.Name}}", &[c.into()]).unwrap(),
            "running /cap-web2\n"
        );
        assert_eq!(
            formatted("{{.State.ExitCode}} {{.State.Status}}", &[c.into()]).unwrap(),
            "0 running\n"
        );
        assert_eq!(
            formatted(
                "{{json .Config.Cmd}} {{.Config.Image}}",
                &[c.into(), c.into()]
            )
            .unwrap(),
            "[\"sh\"] capture/busybox\n[\"sh\"] capture/busybox\n"
        );
        assert!(formatted("{{.State.Status", &[c.into()])
            .unwrap_err()
            .message
            .starts_with("template parsing error"));
    }
}
