//! docker's `--format` handling for list commands (`ps`, `images`): the default and
//! `table ...` formats rendered through the tabwriter with a header made from the same
//! template, `json`, and plain templates printed one row per line. Rows are JSON
//! contexts built by the command; nothing here knows containers or images.

use super::json::Json;
use super::table::TabWriter;
use super::template::Template;
use crate::error::Result;

/// A row: the fields templates see, and the maps reachable as `.Name "key"`.
pub struct Row {
    pub data: Json,
    pub methods: Json,
}

/// docker's preFormat: the `table` prefix, `json`, and `\t`/`\n` typed as two characters.
/// Returns whether it is a table, and the template text.
pub fn resolve(format: &str, default_table: &str) -> (bool, String) {
    let format = match format {
        "" | "table" => default_table,
        "json" => "{{json .}}",
        f => f,
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    (
        table,
        body.trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n"),
    )
}

/// Renders the rows; `header` maps field names to column titles.
pub fn render(format: &str, default_table: &str, rows: &[Row], header: &Json) -> Result<String> {
    let (table, text) = resolve(format, default_table);
    let tmpl = Template::parse(&text)?;
    let mut body = String::new();
    for r in rows {
        if text == "{{json .}}" {
            // The context marshals itself with Go's json.Marshal: HTML characters escaped.
            body.push_str(&r.data.to_compact_html());
        } else {
            body.push_str(&tmpl.execute_with(&r.data, &r.methods, false)?);
        }
        body.push('\n');
    }
    if !table {
        return Ok(body);
    }
    let mut tw = TabWriter::docker_table();
    tw.write(&tmpl.execute_with(header, &Json::Null, true)?);
    tw.write("\n");
    tw.write(&body);
    Ok(tw.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_resolve_like_docker() {
        assert_eq!(
            resolve("", "table {{.ID}}\t{{.Names}}"),
            (true, "{{.ID}}\t{{.Names}}".to_string())
        );
        assert_eq!(
            resolve("table", "table {{.ID}}"),
            (true, "{{.ID}}".to_string())
        );
        assert_eq!(resolve("json", "x"), (false, "{{json .}}".to_string()));
        assert_eq!(
            resolve("table {{.ID}}\\t{{.Names}}", "x"),
            (true, "{{.ID}}\t{{.Names}}".to_string())
        );
        assert_eq!(
            resolve("{{.ID}}: {{.Names}}\\n", "x"),
            (false, "{{.ID}}: {{.Names}}\n".to_string())
        );
    }

    #[test]
    fn tables_get_a_header_even_when_empty() {
        let header = Json::parse(r#"{"ID":"CONTAINER ID","Names":"NAMES"}"#).unwrap();
        assert_eq!(
            render("", "table {{.ID}}\t{{.Names}}", &[], &header).unwrap(),
            "CONTAINER ID   NAMES\n"
        );
        let rows = [Row {
            data: Json::parse(r#"{"ID":"abc","Names":"web"}"#).unwrap(),
            methods: Json::Null,
        }];
        assert_eq!(
            render("", "table {{.ID}}\t{{.Names}}", &rows, &header).unwrap(),
            "CONTAINER ID   NAMES\nabc            web\n"
        );
        assert_eq!(render("{{.Names}}", "", &rows, &header).unwrap(), "web\n");
        let rows = [Row {
            data: Json::parse(r#"{"ID":"<none>"}"#).unwrap(),
            methods: Json::Null,
        }];
        assert_eq!(
            render("json", "", &rows, &header).unwrap(),
            "{\"ID\":\"\\u003cnone\\u003e\"}\n"
        );
        assert_eq!(
            render("{{json .ID}}", "", &rows, &header).unwrap(),
            "\"<none>\"\n"
        );
    }
}
