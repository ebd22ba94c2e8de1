//! The functions `--format` templates may call: Go's builtins that scripts use (`index`,
//! `len`, `print`, `printf`, `println`, `eq`..`ge`, `and`, `or`, `not`) and docker's
//! (`json`, `join`, `split`, `upper`, `lower`, `title`, `pad`, `truncate`). Values are
//! `Option<Json>` (None is Go's "no value").

use super::json::Json;
use super::template::{num_text, print, truthy};
use crate::error::{Error, Result};

type Val = Option<Json>;

fn err(msg: impl Into<String>) -> Error {
    Error::invalid(format!("template: {}", msg.into()))
}

fn text(v: &Val) -> String {
    print(v, None)
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<()> {
    if args.len() != n {
        return Err(err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        )));
    }
    Ok(())
}

fn int_arg(name: &str, v: &Val) -> Result<i64> {
    match v {
        Some(Json::Num(n)) => n
            .parse::<f64>()
            .map(|f| f as i64)
            .map_err(|_| err(format!("{name}: bad number {n}"))),
        _ => Err(err(format!("{name}: expected a number, got {}", text(v)))),
    }
}

pub fn call(name: &str, args: Vec<Val>) -> Result<Val> {
    let s = |v: String| Ok(Some(Json::Str(v)));
    match name {
        "json" => {
            arity(name, &args, 1)?;
            s(args[0]
                .as_ref()
                .map(Json::to_compact)
                .unwrap_or_else(|| "null".into()))
        }
        "upper" => {
            arity(name, &args, 1)?;
            s(text(&args[0]).to_uppercase())
        }
        "lower" => {
            arity(name, &args, 1)?;
            s(text(&args[0]).to_lowercase())
        }
        "title" => {
            arity(name, &args, 1)?;
            let mut out = String::new();
            let mut start = true;
            for c in text(&args[0]).chars() {
                if start && c.is_alphabetic() {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric();
            }
            s(out)
        }
        "join" => {
            arity(name, &args, 2)?;
            let sep = text(&args[1]);
            match &args[0] {
                Some(Json::Arr(items)) => s(items
                    .iter()
                    .map(|e| text(&Some(e.clone())))
                    .collect::<Vec<_>>()
                    .join(&sep)),
                None | Some(Json::Null) => s(String::new()),
                other => s(text(other)),
            }
        }
        "split" => {
            arity(name, &args, 2)?;
            let (v, sep) = (text(&args[0]), text(&args[1]));
            let parts: Vec<Json> = if sep.is_empty() {
                v.chars().map(|c| Json::Str(c.to_string())).collect()
            } else {
                v.split(sep.as_str())
                    .map(|p| Json::Str(p.to_string()))
                    .collect()
            };
            Ok(Some(Json::Arr(parts)))
        }
        "pad" => {
            arity(name, &args, 3)?;
            let before = int_arg(name, &args[1])?.max(0) as usize;
            let after = int_arg(name, &args[2])?.max(0) as usize;
            s(format!(
                "{}{}{}",
                " ".repeat(before),
                text(&args[0]),
                " ".repeat(after)
            ))
        }
        "truncate" => {
            arity(name, &args, 2)?;
            let n = int_arg(name, &args[1])?.max(0) as usize;
            s(text(&args[0]).chars().take(n).collect())
        }
        "len" => {
            arity(name, &args, 1)?;
            let n = match &args[0] {
                Some(Json::Str(v)) => v.len(),
                Some(Json::Arr(a)) => a.len(),
                Some(Json::Obj(o)) => o.len(),
                None | Some(Json::Null) => 0,
                other => return Err(err(format!("len of {}", text(other)))),
            };
            Ok(Some(Json::Num(n.to_string())))
        }
        "index" => {
            let mut it = args.into_iter();
            let mut cur = it.next().ok_or_else(|| err("index of nothing"))?;
            for key in it {
                cur = match (cur, key) {
                    (Some(Json::Obj(fields)), Some(Json::Str(k))) => {
                        // A missing key gives the zero value; docker's maps are map[string]string.
                        Some(
                            fields
                                .into_iter()
                                .find(|(fk, _)| *fk == k)
                                .map(|(_, v)| v)
                                .unwrap_or(Json::Str(String::new())),
                        )
                    }
                    (Some(Json::Arr(items)), Some(Json::Num(n))) => {
                        let i: usize = n
                            .parse()
                            .map_err(|_| err(format!("index out of range: {n}")))?;
                        Some(
                            items
                                .into_iter()
                                .nth(i)
                                .ok_or_else(|| err(format!("index out of range: {i}")))?,
                        )
                    }
                    (None | Some(Json::Null), _) => None,
                    (c, k) => {
                        return Err(err(format!(
                            "can't index item of type {} with {}",
                            text(&c),
                            text(&k)
                        )))
                    }
                };
            }
            Ok(cur)
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = |v: &Val| matches!(v, Some(Json::Str(_)));
                if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
                    out.push(' ');
                }
                out.push_str(&text(a));
            }
            s(out)
        }
        "println" => s(format!(
            "{}\n",
            args.iter().map(text).collect::<Vec<_>>().join(" ")
        )),
        "printf" => {
            let (fmt, rest) = args
                .split_first()
                .ok_or_else(|| err("printf needs a format"))?;
            s(printf(&text(fmt), rest))
        }
        "not" => {
            arity(name, &args, 1)?;
            Ok(Some(Json::Bool(!truthy(&args[0]))))
        }
        "and" => Ok(args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .flatten()),
        "or" => Ok(args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .flatten()),
        "eq" => {
            let (first, rest) = args
                .split_first()
                .ok_or_else(|| err("missing argument for comparison"))?;
            Ok(Some(Json::Bool(rest.iter().any(|o| equal(first, o)))))
        }
        "ne" => {
            arity(name, &args, 2)?;
            Ok(Some(Json::Bool(!equal(&args[0], &args[1]))))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(name, &args, 2)?;
            let ord = match (&args[0], &args[1]) {
                (Some(Json::Num(a)), Some(Json::Num(b))) => {
                    let (a, b): (f64, f64) = (a.parse().unwrap_or(0.0), b.parse().unwrap_or(0.0));
                    a.partial_cmp(&b)
                }
                (Some(Json::Str(a)), Some(Json::Str(b))) => Some(a.cmp(b)),
                _ => return Err(err("incompatible types for comparison")),
            }
            .ok_or_else(|| err("incomparable values"))?;
            use std::cmp::Ordering::*;
            let r = match name {
                "lt" => ord == Less,
                "le" => ord != Greater,
                "gt" => ord == Greater,
                _ => ord != Less,
            };
            Ok(Some(Json::Bool(r)))
        }
        _ => Err(err(format!("function {name:?} not defined"))),
    }
}

fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Some(Json::Num(x)), Some(Json::Num(y))) => x.parse::<f64>().ok() == y.parse::<f64>().ok(),
        (None | Some(Json::Null), None | Some(Json::Null)) => true,
        (x, y) => x == y,
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: %s %v %d %q %t %f %x %%, with `-`,
/// width and precision.
fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut next = args.iter();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let body = match (verb, arg) {
            ('d', Some(Json::Num(n))) => num_text(n),
            ('f', Some(Json::Num(n))) => {
                format!("{:.*}", prec.unwrap_or(6), n.parse::<f64>().unwrap_or(0.0))
            }
            ('x', Some(Json::Num(n))) => format!("{:x}", n.parse::<i64>().unwrap_or(0)),
            ('x', v) => text(v).bytes().map(|b| format!("{b:02x}")).collect(),
            ('q', v) => super::units::quote(&text(v)),
            ('s' | 'v' | 't' | 'd', v) => {
                let t = text(v);
                match prec {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            (other, v) => format!("%!{other}({})", text(v)),
        };
        let w: usize = width.parse().unwrap_or(0);
        let n = body.chars().count();
        if n >= w {
            out.push_str(&body);
        } else if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(w - n));
        } else {
            out.push_str(&(if zero { "0" } else { " " }).repeat(w - n));
            out.push_str(&body);
        }
    }
    for extra in next {
        out.push_str(&format!("%!(EXTRA {})", text(extra)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(s: &str) -> Val {
        Some(Json::Str(s.into()))
    }
    fn num(n: i64) -> Val {
        Some(Json::Num(n.to_string()))
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(
            printf(
                "%-5s|%5s|%03d|%.2f|%%|%x",
                &[st("ab"), st("cd"), num(7), num(2), num(255)]
            ),
            "ab   |   cd|007|2.00|%|ff"
        );
        assert_eq!(printf("%s %s", &[st("a")]), "a %!s(MISSING)");
    }

    #[test]
    fn logic() {
        assert_eq!(call("and", vec![num(1), st("")]).unwrap(), st(""));
        assert_eq!(call("or", vec![st(""), st("x")]).unwrap(), st("x"));
        assert_eq!(
            call("eq", vec![num(1), num(2), num(1)]).unwrap(),
            Some(Json::Bool(true))
        );
        assert!(call("lt", vec![num(1), st("a")]).is_err());
        assert_eq!(
            call("print", vec![num(1), num(2), st("a"), num(3)]).unwrap(),
            st("1 2a3")
        );
    }
}
