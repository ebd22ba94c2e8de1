//! Parsing for `template`: the source split into text and actions (trim markers and
//! comments applied), actions lexed into tokens, and the tree of text, pipelines and
//! `if`/`range`/`with` blocks built. Evaluation is `template`'s business.

use super::json::Json;
use crate::error::{Error, Result};

#[derive(Debug)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub decl: Vec<String>,
    pub cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
pub enum Arg {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Lit(Json),
    Sub(Box<Pipe>),
    /// A field chain on a parenthesised result: `(index .M "k").Field`.
    Chain(Box<Arg>, Vec<String>),
}

pub fn err(msg: impl Into<String>) -> Error {
    Error::invalid(format!("template: {}", msg.into()))
}

pub fn parse(src: &str) -> Result<Vec<Node>> {
    let mut stack: Vec<(Frame, Vec<Node>)> = vec![(Frame::Root, Vec::new())];
    for seg in segments(src)? {
        match seg {
            Seg::Text(t) => stack
                .last_mut()
                .map(|(_, n)| n.push(Node::Text(t)))
                .unwrap_or(()),
            Seg::Action(a) => {
                let toks = lex(&a)?;
                let kw = match toks.first() {
                    Some(Tok::Ident(k)) => k.as_str(),
                    _ => "",
                };
                match kw {
                    "if" | "range" | "with" => {
                        let pipe = parse_pipe(&toks[1..])?;
                        let frame = match kw {
                            "if" => Frame::If(pipe, None, false),
                            "range" => Frame::Range(pipe, None),
                            _ => Frame::With(pipe, None),
                        };
                        stack.push((frame, Vec::new()));
                    }
                    "else" => {
                        let (frame, nodes) = stack.pop().ok_or_else(|| err("unexpected else"))?;
                        let is_elif = matches!(toks.get(1), Some(Tok::Ident(k)) if k == "if");
                        match frame {
                            Frame::If(p, None, chained) if is_elif => {
                                // `else if` is an `if` nested in the else branch, closed by
                                // the same `end`.
                                stack.push((Frame::If(p, Some(nodes), chained), Vec::new()));
                                let inner = parse_pipe(&toks[2..])?;
                                stack.push((Frame::If(inner, None, true), Vec::new()));
                            }
                            Frame::If(p, None, c) => {
                                stack.push((Frame::If(p, Some(nodes), c), Vec::new()))
                            }
                            Frame::Range(p, None) => {
                                stack.push((Frame::Range(p, Some(nodes)), Vec::new()))
                            }
                            Frame::With(p, None) => {
                                stack.push((Frame::With(p, Some(nodes)), Vec::new()))
                            }
                            _ => return Err(err("unexpected else")),
                        }
                    }
                    "end" => loop {
                        let (frame, nodes) = stack.pop().ok_or_else(|| err("unexpected end"))?;
                        let (node, chained) = match frame {
                            Frame::Root => return Err(err("unexpected {{end}}")),
                            Frame::If(p, Some(then), c) => (Node::If(p, then, nodes), c),
                            Frame::If(p, None, c) => (Node::If(p, nodes, Vec::new()), c),
                            Frame::Range(p, Some(body)) => (Node::Range(p, body, nodes), false),
                            Frame::Range(p, None) => (Node::Range(p, nodes, Vec::new()), false),
                            Frame::With(p, Some(body)) => (Node::With(p, body, nodes), false),
                            Frame::With(p, None) => (Node::With(p, nodes, Vec::new()), false),
                        };
                        stack
                            .last_mut()
                            .ok_or_else(|| err("unexpected end"))?
                            .1
                            .push(node);
                        if !chained {
                            break;
                        }
                    },
                    "define" | "template" | "block" => {
                        return Err(err(format!("{{{{{kw}}}}} is not supported")))
                    }
                    _ => {
                        let pipe = parse_pipe(&toks)?;
                        stack
                            .last_mut()
                            .map(|(_, n)| n.push(Node::Action(pipe)))
                            .unwrap_or(());
                    }
                }
            }
        }
    }
    match stack.pop() {
        Some((Frame::Root, nodes)) if stack.is_empty() => Ok(nodes),
        _ => Err(err("unexpected EOF: missing {{end}}")),
    }
}

enum Frame {
    Root,
    /// The condition, the then-branch once `else` was seen, and whether this `if` came from
    /// `else if` (its `end` also closes the enclosing `if`).
    If(Pipe, Option<Vec<Node>>, bool),
    Range(Pipe, Option<Vec<Node>>),
    With(Pipe, Option<Vec<Node>>),
}

enum Seg {
    Text(String),
    Action(String),
}

/// Splits the source into text and actions, applying `{{-` / `-}}` trimming and dropping
/// comments.
fn segments(src: &str) -> Result<Vec<Seg>> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut inner_start = open + 2;
        let after = &rest[inner_start..];
        if after.starts_with('-') && after[1..].starts_with(|c: char| c.is_ascii_whitespace()) {
            text = text.trim_end();
            inner_start += 1;
        }
        if !text.is_empty() {
            out.push(Seg::Text(text.to_string()));
        }
        let close =
            find_close(&rest[inner_start..]).ok_or_else(|| err("unclosed action"))? + inner_start;
        let mut inner = &rest[inner_start..close];
        trim_next = false;
        // " -}}": a dash after white space trims the text that follows.
        if let Some(body) = inner.strip_suffix('-') {
            if body.ends_with(|c: char| c.is_ascii_whitespace()) {
                inner = body;
                trim_next = true;
            }
        }
        let t = inner.trim();
        if !(t.starts_with("/*") && t.ends_with("*/")) {
            out.push(Seg::Action(inner.to_string()));
        }
        rest = &rest[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        out.push(Seg::Text(text.to_string()));
    }
    Ok(out)
}

/// The offset of the `}}` closing an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot,
    Field(Vec<String>),
    Var(String, Vec<String>),
    /// `.A.B` right after a `)`.
    Chain(Vec<String>),
    Ident(String),
    Lit(Json),
    Open,
    Close,
    Pipe,
    Declare,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>> {
    let c: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let word = |i: &mut usize| -> String {
        let start = *i;
        while *i < c.len() && (c[*i].is_alphanumeric() || c[*i] == '_') {
            *i += 1;
        }
        c[start..*i].iter().collect()
    };
    let fields = |i: &mut usize| -> Vec<String> {
        let mut path = Vec::new();
        while *i < c.len()
            && c[*i] == '.'
            && c.get(*i + 1)
                .is_some_and(|n| n.is_alphanumeric() || *n == '_')
        {
            *i += 1;
            path.push(word(i));
        }
        path
    };
    while i < c.len() {
        let ch = c[i];
        match ch {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                toks.push(Tok::Open);
                i += 1
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1
            }
            '|' => {
                toks.push(Tok::Pipe);
                i += 1
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1
            }
            ':' if c.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2
            }
            '=' => {
                toks.push(Tok::Declare);
                i += 1
            }
            '.' => {
                let after_paren = i > 0 && c[i - 1] == ')';
                let path = fields(&mut i);
                if after_paren && !path.is_empty() {
                    toks.push(Tok::Chain(path));
                } else if path.is_empty() {
                    toks.push(Tok::Dot);
                    i += 1;
                } else {
                    toks.push(Tok::Field(path));
                }
            }
            '$' => {
                i += 1;
                let name = word(&mut i);
                let path = fields(&mut i);
                toks.push(Tok::Var(format!("${name}"), path));
            }
            '"' => {
                let start = i;
                i += 1;
                while i < c.len() && c[i] != '"' {
                    if c[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                let lit: String = c[start..i.min(c.len())].iter().collect();
                match Json::parse(&lit) {
                    Ok(Json::Str(s)) => toks.push(Tok::Lit(Json::Str(s))),
                    _ => return Err(err(format!("bad string literal {lit}"))),
                }
            }
            '`' => {
                let start = i + 1;
                i += 1;
                while i < c.len() && c[i] != '`' {
                    i += 1;
                }
                toks.push(Tok::Lit(Json::Str(
                    c[start..i.min(c.len())].iter().collect(),
                )));
                i += 1;
            }
            ch if ch.is_ascii_digit()
                || ((ch == '-' || ch == '+')
                    && c.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                    i += 1;
                }
                let text: String = c[start..i].iter().collect();
                let text = text.trim_start_matches('+').to_string();
                if text.parse::<f64>().is_err() {
                    return Err(err(format!("bad number syntax: {text:?}")));
                }
                toks.push(Tok::Lit(Json::Num(text)));
            }
            ch if ch.is_alphabetic() || ch == '_' => {
                let w = word(&mut i);
                toks.push(match w.as_str() {
                    "true" => Tok::Lit(Json::Bool(true)),
                    "false" => Tok::Lit(Json::Bool(false)),
                    "nil" => Tok::Lit(Json::Null),
                    _ => Tok::Ident(w),
                });
            }
            other => return Err(err(format!("unexpected {other:?} in action"))),
        }
    }
    Ok(toks)
}

fn parse_pipe(toks: &[Tok]) -> Result<Pipe> {
    let mut pos = 0;
    let pipe = parse_pipe_at(toks, &mut pos)?;
    if pos != toks.len() {
        return Err(err("unexpected ) in action"));
    }
    Ok(pipe)
}

fn parse_pipe_at(toks: &[Tok], pos: &mut usize) -> Result<Pipe> {
    let mut decl = Vec::new();
    // `$x :=` or `$i, $v :=`
    let mut look = *pos;
    let mut names = Vec::new();
    while let Some(Tok::Var(name, path)) = toks.get(look) {
        if !path.is_empty() {
            break;
        }
        names.push(name.clone());
        look += 1;
        match toks.get(look) {
            Some(Tok::Comma) => look += 1,
            Some(Tok::Declare) => {
                decl = std::mem::take(&mut names);
                *pos = look + 1;
                break;
            }
            _ => break,
        }
    }
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while *pos < toks.len() {
        let t = toks[*pos].clone();
        *pos += 1;
        match t {
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Pipe => {
                if cmd.is_empty() {
                    return Err(err("missing command before |"));
                }
                cmds.push(std::mem::take(&mut cmd));
            }
            Tok::Open => {
                let sub = parse_pipe_at(toks, pos)?;
                if toks.get(*pos) != Some(&Tok::Close) {
                    return Err(err("unclosed left paren"));
                }
                *pos += 1;
                cmd.push(Arg::Sub(Box::new(sub)));
            }
            Tok::Chain(p) => match cmd.pop() {
                Some(prev @ Arg::Sub(_)) => cmd.push(Arg::Chain(Box::new(prev), p)),
                _ => return Err(err("unexpected field chain")),
            },
            Tok::Dot => cmd.push(Arg::Dot),
            Tok::Field(p) => cmd.push(Arg::Field(p)),
            Tok::Var(n, p) => cmd.push(Arg::Var(n, p)),
            Tok::Ident(n) => cmd.push(Arg::Ident(n)),
            Tok::Lit(v) => cmd.push(Arg::Lit(v)),
            Tok::Comma | Tok::Declare => return Err(err("unexpected token in pipeline")),
        }
    }
    if !cmd.is_empty() {
        cmds.push(cmd);
    }
    if cmds.is_empty() {
        return Err(err("missing value for command"));
    }
    Ok(Pipe { decl, cmds })
}
