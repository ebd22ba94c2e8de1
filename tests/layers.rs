//! Repository rule: calls go downward only (DESIGN.md). Each top-level module may name
//! only the modules below it in `crate::` paths; test code (files named tests.rs and the
//! `#[cfg(test)] mod tests` at the bottom of a file) is exempt. `daemon.rs` and `main.rs`
//! compose everything and are not checked.

use std::path::Path;

/// (module, the `crate::` prefixes it may use besides its own).
const ALLOWED: &[(&str, &[&str])] = &[
    ("util", &["error"]),
    ("error", &[]),
    ("version", &[]),
    ("sys", &["util", "error"]),
    ("monitor", &["sys", "util", "error"]),
    ("client", &["sys", "util", "error"]),
    ("graph", &["driver::storage", "sys", "util", "error"]),
    ("driver", &["monitor::proto", "monitor::channel", "sys", "util", "error"]),
    ("engine", &["graph", "registry", "driver", "sys", "util", "error", "version"]),
    ("registry", &["util", "error", "version"]),
    ("api", &["engine", "sys", "util", "error", "version"]),
    ("cli", &["client", "sys", "util", "error", "version"]),
];

/// The macros exported at the crate root (util's logging) are reached as `crate::log_*`.
const ROOT_MACROS: &[&str] = &["log_error", "log_warn", "log_info", "log_debug"];

fn production_code(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn check_file(module: &str, allowed: &[&str], path: &Path, problems: &mut Vec<String>) {
    if path.file_name().is_some_and(|n| n == "tests.rs" || n == "conformance.rs" || n == "testreg.rs") {
        return;
    }
    let text = std::fs::read_to_string(path).expect("read source");
    for (n, line) in production_code(&text).lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let used: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let top = used.split("::").next().unwrap_or("");
            if top == module || ROOT_MACROS.contains(&top) || top == "testutil" {
                continue;
            }
            if !allowed.iter().any(|a| used == *a || used.starts_with(&format!("{a}::")) || top == *a) {
                problems.push(format!("{}:{}: {module} uses crate::{used}", path.display(), n + 1));
            }
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn calls_go_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (module, allowed) in ALLOWED {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            walk(&dir, &mut files);
        }
        let file = src.join(format!("{module}.rs"));
        if file.exists() {
            files.push(file);
        }
        assert!(!files.is_empty(), "module {module} not found");
        for f in files {
            check_file(module, allowed, &f, &mut problems);
        }
    }
    assert!(problems.is_empty(), "upward or sideways calls:\n{}", problems.join("\n"));
}

#[test]
fn unsafe_lives_in_sys_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut problems = Vec::new();
    for f in files {
        if f.starts_with(src.join("sys")) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("unsafe {") || code.contains("unsafe fn") || code.contains("unsafe impl") {
                problems.push(format!("{}:{}", f.display(), n + 1));
            }
        }
    }
    assert!(problems.is_empty(), "unsafe outside src/sys:\n{}", problems.join("\n"));
}
