//! The small text conversions the docker CLI does with Go's libraries, done the same way:
//! sizes ("1.98MB", "23.54GiB" from go-units, through Go's `%g`), sizes typed by users
//! ("64m"), `strconv.Quote`, docker's `Ellipsis`, "5 minutes ago", Go's `time.ParseDuration`
//! and docker's `GetTimestamp` for `--since`/`--until`. Pure functions only.

use crate::util::time::{human_duration, parse_rfc3339};
use std::time::Duration;

/// Go's `%.{prec}g` for a finite non-negative or negative float.
pub fn format_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    let prec = prec.max(1);
    // Round to `prec` significant digits first: the exponent comes from the rounded value.
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..prec as i32).contains(&exp) {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Go's `%v` for a float64: the shortest representation, in exponent form when the
/// exponent is below -4 or at least 6 (strconv's rule for the shortest `%g`).
pub fn format_float(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{v:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

fn scaled(size: f64, base: f64, units: &'static [&'static str; 9]) -> (f64, &'static str) {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units `HumanSizeWithPrecision(size, 3)`: what `ps`/`images` print ("1.98MB").
pub fn human_size(bytes: i64) -> String {
    human_size_precision(bytes, 3)
}

/// go-units `HumanSizeWithPrecision`; `HumanSize` is precision 4 ("1.982MB").
pub fn human_size_precision(bytes: i64, precision: usize) -> String {
    let (v, unit) = scaled(bytes as f64, 1000.0, &DECIMAL);
    format!("{}{unit}", format_g(v, precision))
}

/// go-units `BytesSize`: binary units with four significant digits ("23.54GiB").
pub fn bytes_size(bytes: i64) -> String {
    let (v, unit) = scaled(bytes as f64, 1024.0, &BINARY);
    format!("{}{unit}", format_g(v, 4))
}

/// go-units `RAMInBytes`: "64m", "1g", "512k", "100" (bytes), "1.5GB"; binary multiples.
/// Errors read like go-units' ("invalid size: 'x'", "invalid suffix: 'x'").
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, rest) = t.split_at(num_end);
    let value: f64 = num.parse().map_err(|_| format!("invalid size: '{s}'"))?;
    let suffix = rest.strip_prefix(' ').unwrap_or(rest);
    let lower = suffix.to_ascii_lowercase();
    let mut chars = lower.chars();
    let bad = || format!("invalid suffix: '{suffix}'");
    let mult: f64 = match chars.next() {
        None => return Ok(value as i64),
        Some('b') if chars.as_str().is_empty() => return Ok(value as i64),
        Some('k') => 1024f64,
        Some('m') => 1024f64.powi(2),
        Some('g') => 1024f64.powi(3),
        Some('t') => 1024f64.powi(4),
        Some('p') => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    if !matches!(chars.as_str(), "" | "b" | "ib" | "i") {
        return Err(bad());
    }
    Ok((value * mult) as i64)
}

/// "5 minutes ago" for a Unix time in seconds, measured from `now`.
pub fn ago(created: i64, now: i64) -> String {
    let secs = (now - created).max(0) as u64;
    format!("{} ago", human_duration(Duration::from_secs(secs)))
}

/// Go's `time.Unix(s, 0).String()` in UTC: "2026-11-28 19:11:39 +0000 UTC".
pub fn go_time_string(secs: i64) -> String {
    let rfc = crate::util::time::rfc3339_seconds(secs);
    format!("{} {} +0000 UTC", &rfc[..10], &rfc[11..19])
}

/// Go's `time.ANSIC` ("Thu May  7 21:09:36 2026") for an RFC 3339 time, as `docker version`
/// shows build times; anything unparsable is returned as it is.
pub fn ansic(rfc3339: &str) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Some(nanos) = parse_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let secs = nanos.div_euclid(1_000_000_000);
    let s = crate::util::time::rfc3339_seconds(secs);
    let month: usize = s[5..7].parse().unwrap_or(1);
    let day: u32 = s[8..10].parse().unwrap_or(1);
    format!(
        "{} {} {:>2} {} {}",
        DAYS[secs.div_euclid(86_400).rem_euclid(7) as usize],
        MONTHS[month.clamp(1, 12) - 1],
        day,
        &s[11..19],
        &s[0..4]
    )
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                let n = c as u32;
                if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `time.Time.String()` for an RFC 3339 time in UTC, as docker's formatters print
/// a network's `CreatedAt`: "2026-11-28 19:11:35.18134794 +0000 UTC". Unparsable text is
/// Go's zero time.
pub fn go_time_string_rfc3339(rfc3339: &str) -> String {
    // Nanoseconds in an i64 reach back to 1677; earlier times (Go's zero time) print as it.
    let recent = rfc3339.get(..4).and_then(|y| y.parse::<u32>().ok()) >= Some(1900);
    let parsed = recent
        .then(|| crate::util::time::parse_rfc3339(rfc3339))
        .flatten();
    let rfc = match parsed {
        Some(nanos) => crate::util::time::rfc3339_nanos(nanos),
        None => crate::util::time::ZERO_TIME.to_string(),
    };
    let body = rfc.trim_end_matches('Z');
    format!("{} {} +0000 UTC", &body[..10], &body[11..])
}

/// `sortorder.NaturalLess`, the order docker sorts network names and port lines in: runs
/// of digits compare as numbers and sort before other bytes, the rest bytewise.
pub fn natural_less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (da, db) = (a[i].is_ascii_digit(), b[j].is_ascii_digit());
        if da != db {
            return da;
        }
        if !da {
            if a[i] != b[j] {
                return a[i] < b[j];
            }
            i += 1;
            j += 1;
            continue;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let (nz_a, nz_b) = (i, j);
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (na, nb) = (&a[nz_a..i], &b[nz_b..j]);
        if na.len() != nb.len() {
            return na.len() < nb.len();
        }
        if na != nb {
            return na < nb;
        }
        if nz_a != nz_b {
            return nz_a < nz_b;
        }
    }
    a.len() < b.len()
}

/// Sorts with `natural_less`, stably, as Go's `sort.Slice` does for distinct keys.
pub fn natural_sort_by<T>(items: &mut [T], key: impl Fn(&T) -> &str) {
    items.sort_by(|x, y| {
        let (kx, ky) = (key(x), key(y));
        if natural_less(kx, ky) {
            std::cmp::Ordering::Less
        } else if natural_less(ky, kx) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
}

/// docker's `Ellipsis`: at most `max` characters, the last one "…" when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub use crate::util::time::parse_duration;

/// docker's `GetTimestamp(value, now)`: what `logs --since/--until` send. A duration is
/// "that long before now" in whole Unix seconds; a date or RFC 3339 time becomes
/// "seconds.nanoseconds" (times without a zone are taken as UTC); a Unix timestamp is sent
/// as typed.
pub fn api_timestamp(value: &str, now_nanos: i64) -> Result<String, String> {
    if value != "0" {
        if let Some(d) = parse_duration(value) {
            let t = now_nanos as i128 - d;
            return Ok(t.div_euclid(1_000_000_000).to_string());
        }
    }
    let parsed = if value.contains('T') || value.matches('-').count() >= 2 {
        parse_time_like(value)
    } else {
        None
    };
    if let Some(n) = parsed {
        return Ok(format!(
            "{}.{:09}",
            n.div_euclid(1_000_000_000),
            n.rem_euclid(1_000_000_000)
        ));
    }
    if value.contains('-') {
        return Err(format!("parsing time {value:?}: cannot parse as a time"));
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, "0"));
    if secs.parse::<i64>().is_ok() && frac.bytes().all(|b| b.is_ascii_digit()) && !frac.is_empty() {
        return Ok(value.to_string());
    }
    Err(format!(
        "failed to parse value as time or duration: {value:?}"
    ))
}

/// RFC 3339 and its shortenings docker accepts: "2006-01-02", "2006-01-02T15",
/// "2006-01-02T15:04", "2006-01-02T15:04:05[.nnn]", each with an optional zone.
fn parse_time_like(v: &str) -> Option<i64> {
    if let Some(n) = parse_rfc3339(v) {
        return Some(n);
    }
    // Split off a zone suffix: Z or ±hh:mm after the date part.
    let (body, zone) = if let Some(b) = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')) {
        (b, "Z".to_string())
    } else if v.len() > 16
        && matches!(v.as_bytes()[v.len() - 6], b'+' | b'-')
        && v.as_bytes()[v.len() - 3] == b':'
    {
        (&v[..v.len() - 6], v[v.len() - 6..].to_string())
    } else {
        (v, "Z".to_string())
    };
    let full = match body.len() {
        10 => format!("{body}T00:00:00{zone}"),
        13 => format!("{body}:00:00{zone}"),
        16 => format!("{body}:00{zone}"),
        _ => format!("{body}{zone}"),
    };
    parse_rfc3339(&full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(1_984_189), "1.98MB");
        assert_eq!(human_size(4270), "4.27kB");
        assert_eq!(human_size(426_000), "426kB");
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(999_600), "1e+03kB");
        assert_eq!(human_size_precision(1_982_334, 4), "1.982MB");
        assert_eq!(bytes_size(25_276_502_016), "23.54GiB");
        assert_eq!(bytes_size(1024), "1KiB");
        assert_eq!(format_g(0.0001234, 3), "0.000123");
        assert_eq!(format_g(0.00001234, 3), "1.23e-05");
        assert_eq!(format_float(1_795_893_099.0), "1.795893099e+09");
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(1e21), "1e+21");
    }

    #[test]
    fn ram_sizes() {
        assert_eq!(ram_in_bytes("64m"), Ok(64 << 20));
        assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("1GB"), Ok(1 << 30));
        assert_eq!(ram_in_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(ram_in_bytes("100"), Ok(100));
        assert_eq!(ram_in_bytes("1.5k"), Ok(1536));
        assert_eq!(ram_in_bytes("1x"), Err("invalid suffix: 'x'".into()));
        assert_eq!(ram_in_bytes("lots"), Err("invalid size: 'lots'".into()));
    }

    #[test]
    fn quoting_and_ellipsis_like_ps() {
        let cmd = "sh -c 'trap \"echo got-term; exit 0\" TERM'";
        assert_eq!(quote(&ellipsis(cmd, 20)), "\"sh -c 'trap \\\"echo g…\"");
        assert_eq!(quote("sh"), "\"sh\"");
        assert_eq!(quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
        assert_eq!(ellipsis("12345", 5), "12345");
        assert_eq!(ellipsis("123456", 5), "1234…");
    }

    #[test]
    fn times() {
        assert_eq!(ago(100, 400), "5 minutes ago");
        assert_eq!(ago(0, 1_795_893_099), "56 years ago");
        assert_eq!(
            go_time_string(1_795_893_099),
            "2026-11-28 19:11:39 +0000 UTC"
        );
        assert_eq!(
            ansic("2026-05-07T21:09:36.000000000+00:00"),
            "Thu May  7 21:09:36 2026"
        );
        assert_eq!(ansic("garbage"), "garbage");
    }

    #[test]
    fn durations_and_timestamps_like_docker() {
        assert_eq!(parse_duration("10m"), Some(600_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
        let now = 1_795_893_137 * 1_000_000_000 + 5;
        // transcripts/logs-since-until.md: --since 10m, --until 2026-12-31T00:00:00Z
        assert_eq!(api_timestamp("10m", now).unwrap(), "1795892537");
        assert_eq!(
            api_timestamp("2026-12-31T00:00:00Z", now).unwrap(),
            "1798675200.000000000"
        );
        assert_eq!(
            api_timestamp("2026-12-31", now).unwrap(),
            "1798675200.000000000"
        );
        assert_eq!(
            api_timestamp("2026-12-31T01:00:00+01:00", now).unwrap(),
            "1798675200.000000000"
        );
        assert_eq!(
            api_timestamp("2026-12-31T00:00", now).unwrap(),
            "1798675200.000000000"
        );
        assert_eq!(api_timestamp("1798675200", now).unwrap(), "1798675200");
        assert_eq!(api_timestamp("1798675200.5", now).unwrap(), "1798675200.5");
        assert!(api_timestamp("yesterday", now).is_err());
        assert!(api_timestamp("2026-13-01", now).is_err());
    }

    #[test]
    fn natural_order_like_sortorder() {
        let mut names = vec![
            "none", "net10", "host", "net9", "bridge", "cap-net1", "net09",
        ];
        natural_sort_by(&mut names, |s| s);
        assert_eq!(
            names,
            ["bridge", "cap-net1", "host", "net9", "net09", "net10", "none"]
        );
        // Digits before other bytes: IPv4 before "[::]" (port_test.go's golden files).
        assert!(natural_less("0.0.0.0:5678", "[::]:5678"));
        assert!(natural_less("9/tcp -> :1", "80/tcp -> 0.0.0.0:1"));
        assert!(!natural_less("a", "a"));
        assert!(natural_less("a", "ab"));
    }

    #[test]
    fn go_time_strings_of_rfc3339() {
        assert_eq!(
            go_time_string_rfc3339("2026-11-28T19:11:35.18134794Z"),
            "2026-11-28 19:11:35.18134794 +0000 UTC"
        );
        assert_eq!(
            go_time_string_rfc3339("2026-11-28T19:06:21Z"),
            "2026-11-28 19:06:21 +0000 UTC"
        );
        assert_eq!(go_time_string_rfc3339(""), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            go_time_string_rfc3339("0001-01-01T00:00:00Z"),
            "0001-01-01 00:00:00 +0000 UTC"
        );
    }
}
