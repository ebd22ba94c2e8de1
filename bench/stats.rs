//! Figures the benchmarks print, shared by bench/*.rs (included with `#[path]`).
#![allow(dead_code)] // each benchmark uses a part

use std::time::Duration;

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
