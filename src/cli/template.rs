//! The subset of Go's `text/template` that docker's `--format` users write: text, actions
//! with field chains (`{{.State.Status}}`), variables, pipelines, parenthesised calls,
//! `if`/`else if`/`else`, `range` (with `$i, $v :=`), `with`, trim markers, comments, and
//! the functions of Go and docker (`json`, `index`, `join`, `split`, `upper`, `lower`,
//! `title`, `len`, `print(f|ln)`, `eq`..`ge`, `and`, `or`, `not`, `pad`, `truncate`).
//! Values print like Go's fmt (`map[k:v]`, `[a b]`, `<no value>`). The data is a `Json`
//! document; what a field means is the caller's business (`ps`, `images`, `inspect`).

use super::json::Json;
use super::template_parse::{self, err, Arg, Node, Pipe};
use super::units::format_float;
use crate::error::Result;

/// A parsed template.
#[derive(Debug)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template> {
        Ok(Template {
            nodes: template_parse::parse(src)?,
        })
    }

    /// Runs the template over `data`.
    pub fn execute(&self, data: &Json) -> Result<String> {
        self.execute_with(data, &Json::Null, false)
    }

    /// Runs the template; `methods` holds maps reachable as `.Name "key"` (docker's
    /// `{{.Label "com.example"}}`). In `header` mode docker's header functions return their
    /// argument unchanged, so a table header comes out of the same template.
    pub fn execute_with(&self, data: &Json, methods: &Json, header: bool) -> Result<String> {
        let mut ex = Exec {
            methods,
            header,
            vars: vec![("$".to_string(), Some(data.clone()))],
            out: String::new(),
        };
        ex.nodes(&self.nodes, &Some(data.clone()))?;
        Ok(ex.out)
    }
}

type Val = Option<Json>;

struct Exec<'a> {
    methods: &'a Json,
    header: bool,
    vars: Vec<(String, Val)>,
    out: String,
}

impl Exec<'_> {
    fn nodes(&mut self, nodes: &[Node], dot: &Val) -> Result<()> {
        for n in nodes {
            self.node(n, dot)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Node, dot: &Val) -> Result<()> {
        let mark = self.vars.len();
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipe(p, dot)?;
                if p.decl.is_empty() {
                    self.out.push_str(&print(&v, field_hint(p)));
                }
                // A declaration lives until the end of the enclosing block.
                return Ok(());
            }
            Node::If(p, then, els) => {
                let v = self.pipe(p, dot)?;
                let branch = if truthy(&v) { then } else { els };
                self.nodes(branch, dot)?;
            }
            Node::With(p, body, els) => {
                let v = self.pipe(p, dot)?;
                if truthy(&v) {
                    self.nodes(body, &v)?;
                } else {
                    self.nodes(els, dot)?;
                }
            }
            Node::Range(p, body, els) => {
                let decl = p.decl.clone();
                let p = Pipe {
                    decl: Vec::new(),
                    cmds: p.cmds.clone(),
                };
                let v = self.pipe(&p, dot)?;
                let items: Vec<(Json, Json)> = match v {
                    Some(Json::Arr(a)) => a
                        .into_iter()
                        .enumerate()
                        .map(|(i, e)| (Json::Num(i.to_string()), e))
                        .collect(),
                    Some(Json::Obj(mut o)) => {
                        o.sort_by(|a, b| a.0.cmp(&b.0));
                        o.into_iter().map(|(k, e)| (Json::Str(k), e)).collect()
                    }
                    Some(Json::Num(n)) => {
                        let n: usize = n
                            .parse()
                            .map_err(|_| err(format!("range can't iterate over {n}")))?;
                        (0..n)
                            .map(|i| (Json::Num(i.to_string()), Json::Num(i.to_string())))
                            .collect()
                    }
                    None | Some(Json::Null) => Vec::new(),
                    Some(other) => {
                        return Err(err(format!(
                            "range can't iterate over {}",
                            print(&Some(other), None)
                        )))
                    }
                };
                if items.is_empty() {
                    self.nodes(els, dot)?;
                }
                for (k, e) in items {
                    let inner = self.vars.len();
                    match decl.as_slice() {
                        [v] => self.vars.push((v.clone(), Some(e.clone()))),
                        [kv, v] => {
                            self.vars.push((kv.clone(), Some(k)));
                            self.vars.push((v.clone(), Some(e.clone())));
                        }
                        _ => {}
                    }
                    self.nodes(body, &Some(e))?;
                    self.vars.truncate(inner);
                }
            }
        }
        self.vars.truncate(mark);
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Val) -> Result<Val> {
        let mut piped: Option<Val> = None;
        for cmd in &p.cmds {
            piped = Some(self.cmd(cmd, dot, piped)?);
        }
        let v = piped.unwrap_or(None);
        for name in &p.decl {
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    fn cmd(&mut self, cmd: &[Arg], dot: &Val, piped: Option<Val>) -> Result<Val> {
        let (first, rest) = cmd.split_first().ok_or_else(|| err("empty command"))?;
        match first {
            Arg::Ident(name) => {
                let mut args = Vec::with_capacity(rest.len() + 1);
                for a in rest {
                    args.push(self.operand(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                self.call(name, args)
            }
            Arg::Field(path) if !rest.is_empty() || piped.is_some() => {
                // docker's methods with an argument: `.Label "key"`.
                let mut args = Vec::new();
                for a in rest {
                    args.push(self.operand(a, dot)?);
                }
                if let Some(p) = piped {
                    args.push(p);
                }
                let name = path.join(".");
                if self.header {
                    // docker's `SubHeaderContext.Label`: the key's last dotted part.
                    if let (true, [Some(Json::Str(key))]) = (name == "Label", args.as_slice()) {
                        let last = key.rsplit('.').next().unwrap_or("");
                        return Ok(Some(Json::Str(last.replace(['-', '_'], " "))));
                    }
                    return Ok(lookup(dot, path));
                }
                match (self.methods.get(&name), args.as_slice()) {
                    (Some(map), [Some(Json::Str(key))]) => Ok(Some(
                        map.get(key).cloned().unwrap_or(Json::Str(String::new())),
                    )),
                    _ => Err(err(format!("{name} is not a method but has arguments"))),
                }
            }
            _ => {
                if !rest.is_empty() || piped.is_some() {
                    return Err(err("can't give argument to non-function"));
                }
                self.operand(first, dot)
            }
        }
    }

    fn operand(&mut self, a: &Arg, dot: &Val) -> Result<Val> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Field(path) => lookup(dot, path),
            Arg::Var(name, path) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| err(format!("undefined variable: {name}")))?;
                lookup(&v, path)
            }
            Arg::Lit(v) => Some(v.clone()),
            Arg::Sub(p) => self.pipe(p, dot)?,
            Arg::Chain(base, path) => {
                let v = self.operand(base, dot)?;
                lookup(&v, path)
            }
            Arg::Ident(name) => self.call(name, Vec::new())?,
        })
    }

    fn call(&mut self, name: &str, args: Vec<Val>) -> Result<Val> {
        if self.header
            && matches!(
                name,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "pad" | "truncate"
            )
        {
            return Ok(args.into_iter().next().flatten());
        }
        super::template_funcs::call(name, args)
    }
}

/// Field access: exact key first, then a case-insensitive match (Go's typed structs have
/// fields such as `APIVersion` whose JSON name is `ApiVersion`).
fn lookup(v: &Val, path: &[String]) -> Val {
    let mut cur = v.clone();
    for key in path {
        cur = match cur {
            Some(Json::Obj(fields)) => {
                let found = fields
                    .iter()
                    .position(|(k, _)| k == key)
                    .or_else(|| fields.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)));
                found.map(|i| fields[i].1.clone())
            }
            _ => None,
        };
    }
    cur
}

/// The field an action prints, when it is a plain field chain: a null there prints like
/// Go prints that field's type.
fn field_hint(p: &Pipe) -> Option<&str> {
    match p.cmds.as_slice() {
        [cmd] => match cmd.as_slice() {
            [Arg::Field(path)] | [Arg::Var(_, path)] | [Arg::Chain(_, path)] => {
                path.last().map(String::as_str)
            }
            _ => None,
        },
        _ => None,
    }
}

/// How Go prints a nil of the field's type: nil slices `[]`, nil maps `map[]`, nil
/// pointers `<nil>`. docker's documents decode into typed structs, so `{{.Config.Cmd}}` of
/// a null shows `[]`.
fn null_text(field: Option<&str>) -> &'static str {
    const MAPS: &[&str] = &[
        "Volumes",
        "Labels",
        "DriverOpts",
        "ExposedPorts",
        "PortBindings",
        "Ports",
        "Networks",
        "Config",
        "Options",
        "Data",
        "Tmpfs",
        "StorageOpt",
        "Sysctls",
        "Annotations",
        "Details",
        "Attributes",
    ];
    const POINTERS: &[&str] = &[
        "IPAMConfig",
        "Health",
        "MemorySwappiness",
        "PidsLimit",
        "OomKillDisable",
        "Init",
        "Error",
        "Healthcheck",
        "StopTimeout",
        "Metadata",
        "RestartPolicy",
        "State",
        "Platform",
    ];
    match field {
        Some(f) if MAPS.contains(&f) => "map[]",
        Some(f) if POINTERS.contains(&f) => "<nil>",
        Some(_) => "[]",
        None => "<nil>",
    }
}

pub fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Json::Null) => false,
        Some(Json::Bool(b)) => *b,
        Some(Json::Num(n)) => n.parse::<f64>().map(|f| f != 0.0).unwrap_or(true),
        Some(Json::Str(s)) => !s.is_empty(),
        Some(Json::Arr(a)) => !a.is_empty(),
        Some(Json::Obj(o)) => !o.is_empty(),
    }
}

/// Go's `fmt.Print` of a value from the document.
pub fn print(v: &Val, field: Option<&str>) -> String {
    match v {
        None => "<no value>".to_string(),
        Some(Json::Null) => null_text(field).to_string(),
        Some(Json::Bool(b)) => b.to_string(),
        Some(Json::Num(n)) => num_text(n),
        Some(Json::Str(s)) => s.clone(),
        Some(Json::Arr(a)) => {
            let items: Vec<String> = a.iter().map(|e| print(&Some(e.clone()), None)).collect();
            format!("[{}]", items.join(" "))
        }
        Some(Json::Obj(o)) => {
            let mut o = o.clone();
            o.sort_by(|a, b| a.0.cmp(&b.0));
            let items: Vec<String> = o
                .iter()
                .map(|(k, e)| format!("{k}:{}", print(&Some(e.clone()), Some(k))))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// Integers print as typed; other numbers as Go prints a float64.
pub fn num_text(n: &str) -> String {
    let digits = n.strip_prefix('-').unwrap_or(n);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return n.to_string();
    }
    n.parse::<f64>()
        .map(format_float)
        .unwrap_or_else(|_| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tmpl: &str, data: &str) -> String {
        Template::parse(tmpl)
            .unwrap()
            .execute(&Json::parse(data).unwrap())
            .unwrap()
    }

    const DOC: &str = r#"{"Id":"abc","Name":"/web","State":{"Status":"running","ExitCode":0,"Running":true,"Pid":23328},
        "Config":{"Cmd":["sh","-c","x"],"Entrypoint":null,"Labels":{"b":"2","a":"1"},"Env":[]},
        "NetworkSettings":{"Networks":{"n1":{"IPAddress":"10.0.0.2"}}},"Size":1.5,"Big":1795893099}"#;

    #[test]
    fn fields_and_printing_like_go() {
        assert_eq!(
            run("{{.State.Status}} {{.Name}} {{.State.Pid}}", DOC),
            "running /web 23328"
        );
        assert_eq!(run("{{.Config.Cmd}}", DOC), "[sh -c x]");
        assert_eq!(run("{{.Config.Labels}}", DOC), "map[a:1 b:2]");
        assert_eq!(run("{{.Config.Entrypoint}}", DOC), "[]");
        assert_eq!(
            run("{{.Nope}}|{{.State.Nope}}", DOC),
            "<no value>|<no value>"
        );
        assert_eq!(run("{{.State.Running}} {{.Size}}", DOC), "true 1.5");
        assert_eq!(
            run("{{.NetworkSettings.Networks}}", DOC),
            "map[n1:map[IPAddress:10.0.0.2]]"
        );
        assert_eq!(run("{{.state.status}}", DOC), "running");
        assert_eq!(run("{{.}}", r#""plain""#), "plain");
    }

    #[test]
    fn functions() {
        assert_eq!(run("{{json .Config.Cmd}}", DOC), r#"["sh","-c","x"]"#);
        assert_eq!(run("{{json .Config.Labels}}", DOC), r#"{"b":"2","a":"1"}"#);
        assert_eq!(run("{{json .Config.Entrypoint}}", DOC), "null");
        assert_eq!(
            run(
                r#"{{index .Config.Labels "a"}}{{index .Config.Labels "zz"}}"#,
                DOC
            ),
            "1"
        );
        assert_eq!(run(r#"{{index .Config.Cmd 1}}"#, DOC), "-c");
        assert_eq!(
            run(
                r#"{{upper .State.Status}} {{lower "AbC"}} {{title "hello world"}}"#,
                DOC
            ),
            "RUNNING abc Hello World"
        );
        assert_eq!(run(r#"{{join .Config.Cmd ","}}"#, DOC), "sh,-c,x");
        assert_eq!(run(r#"{{len .Config.Cmd}} {{len .Name}}"#, DOC), "3 4");
        assert_eq!(run("{{println .Name}}x", DOC), "/web\nx");
        assert_eq!(
            run(r#"{{printf "%s=%d %v %q" "a" 3 .State.Running "q"}}"#, DOC),
            "a=3 true \"q\""
        );
        assert_eq!(run(r#"{{.Name | printf "%s!"}}"#, DOC), "/web!");
        assert_eq!(
            run(
                r#"{{(index .NetworkSettings.Networks "n1").IPAddress}}"#,
                DOC
            ),
            "10.0.0.2"
        );
        assert_eq!(run(r#"{{split "a:b" ":"}}"#, DOC), "[a b]");
        assert_eq!(
            run(
                r#"{{eq .State.Status "running"}} {{ne .State.ExitCode 0}} {{lt 1 2}}"#,
                DOC
            ),
            "true false true"
        );
        assert_eq!(
            run(r#"{{pad "x" 1 2}}|{{truncate "abcdef" 3}}"#, DOC),
            " x  |abc"
        );
    }

    #[test]
    fn control_flow() {
        assert_eq!(run("{{if .State.Running}}up{{else}}down{{end}}", DOC), "up");
        assert_eq!(
            run(
                "{{if .Config.Env}}env{{else if .Name}}name{{else}}none{{end}}",
                DOC
            ),
            "name"
        );
        assert_eq!(
            run(
                "{{if not .State.Running}}a{{else if .Nope}}b{{else}}c{{end}}",
                DOC
            ),
            "c"
        );
        assert_eq!(
            run("{{range .Config.Cmd}}[{{.}}]{{end}}", DOC),
            "[sh][-c][x]"
        );
        assert_eq!(
            run("{{range $i, $c := .Config.Cmd}}{{$i}}={{$c}} {{end}}", DOC),
            "0=sh 1=-c 2=x "
        );
        assert_eq!(
            run(
                "{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}",
                DOC
            ),
            "a:1;b:2;"
        );
        assert_eq!(
            run("{{range .Config.Env}}x{{else}}empty{{end}}", DOC),
            "empty"
        );
        assert_eq!(
            run(
                "{{range $n, $c := .NetworkSettings.Networks}}{{$n}} {{$c.IPAddress}}{{end}}",
                DOC
            ),
            "n1 10.0.0.2"
        );
        assert_eq!(run("{{with .State}}{{.Status}}{{end}}", DOC), "running");
        assert_eq!(
            run("{{$n := .Name}}{{range .Config.Cmd}}{{$n}}{{end}}", DOC),
            "/web/web/web"
        );
        assert_eq!(
            run("{{range .Config.Cmd}}{{$.Name}}{{end}}", DOC),
            "/web/web/web"
        );
        assert_eq!(run("a  {{- .Name -}}  b{{/* note */}}", DOC), "a/webb");
        assert_eq!(run(r#"{{"}}"}}"#, DOC), "}}");
    }

    #[test]
    fn parse_errors() {
        assert!(Template::parse("{{.Name").is_err());
        assert!(Template::parse("{{if .X}}").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert!(Template::parse("{{template \"x\"}}").is_err());
        let t = Template::parse("{{nosuchfunc .X}}").unwrap();
        assert!(t.execute(&Json::Null).is_err());
    }

    #[test]
    fn methods_and_header_mode() {
        let t = Template::parse(r#"{{.ID}}\t{{.Label "a"}}|{{upper .Names}}"#).unwrap();
        let data = Json::parse(r#"{"ID":"x","Names":"web"}"#).unwrap();
        let methods = Json::parse(r#"{"Label":{"a":"1"}}"#).unwrap();
        assert_eq!(t.execute_with(&data, &methods, false).unwrap(), "x\\t1|WEB");
        let header =
            Json::parse(r#"{"ID":"CONTAINER ID","Names":"NAMES","Label":"LABEL"}"#).unwrap();
        assert_eq!(
            t.execute_with(&header, &Json::Null, true).unwrap(),
            "CONTAINER ID\\ta|NAMES"
        );
        let t = Template::parse(r#"{{.Label "com.example.some_thing-x"}}"#).unwrap();
        assert_eq!(
            t.execute_with(&header, &Json::Null, true).unwrap(),
            "some thing x"
        );
    }
}
