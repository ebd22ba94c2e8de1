//! Time in the formats Docker's API uses: RFC 3339 with nanoseconds in UTC (Go's
//! `RFC3339Nano`, trailing zeros removed), and Unix seconds. No time-zone database is needed:
//! everything is UTC, converted with the civil-from-days algorithm.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, as stored in the GraphDB.
pub fn now_nanos() -> i64 {
    to_nanos(SystemTime::now())
}

pub fn to_nanos(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}

/// The zero time Docker prints for times never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats nanoseconds since the epoch as Go's RFC3339Nano ("2026-11-28T19:11:35.18134794Z").
/// Zero means "never" and gives `0001-01-01T00:00:00Z`, as dockerd prints it.
pub fn rfc3339_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return ZERO_TIME.to_string();
    }
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let mut s = rfc3339_seconds(secs);
    if frac != 0 {
        s.pop(); // the 'Z'
        let digits = format!("{frac:09}");
        s.push('.');
        s.push_str(digits.trim_end_matches('0'));
        s.push('Z');
    }
    s
}

/// Formats nanoseconds with all nine fractional digits, as `docker logs -t` prints them.
pub fn rfc3339_nanos_fixed(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let mut s = rfc3339_seconds(secs);
    s.pop();
    s.push_str(&format!(".{frac:09}Z"));
    s
}

/// Formats whole seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ".
pub fn rfc3339_seconds(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// An HTTP date ("Sat, 28 Nov 2026 19:11:39 GMT") for the `Date` header.
pub fn http_date(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Parses RFC 3339 ("2026-11-28T19:12:14.151913362Z", offsets allowed) into nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &s[start..i];
        if digits.is_empty() {
            return None;
        }
        let mut padded = digits.chars().take(9).collect::<String>();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac = padded.parse().ok()?;
    }
    let offset = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            let oh: i64 = s.get(i + 1..i + 3)?.parse().ok()?;
            let om: i64 = s.get(i + 4..i + 6)?.parse().ok()?;
            let o = oh * 3600 + om * 60;
            if *sign == b'+' {
                o
            } else {
                -o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(secs * 1_000_000_000 + frac)
}

/// Go's `time.ParseDuration` in nanoseconds: "10m", "1h30m", "1.5s", "-2h", "300ms".
pub fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[u..];
        total += value * unit;
    }
    let n = total.round() as i128;
    Some(if neg { -n } else { n })
}

/// Parses a `since`/`until` query value: Unix seconds with an optional ".nanoseconds"
/// (what the docker CLI sends), or an RFC 3339 time.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if let Some(n) = parse_rfc3339(s) {
        return Some(n);
    }
    let (secs, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        if !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let mut padded: String = frac.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().ok()?;
    }
    Some(secs * 1_000_000_000 + nanos)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "2 seconds", "About a minute", "3 hours": Docker's `HumanDuration`, used by `ps` and
/// `images` ("Up 2 seconds", "5 minutes ago").
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs() as i64;
    if secs < 1 {
        return "Less than a second".to_string();
    }
    if secs == 1 {
        return "1 second".to_string();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let mins = secs / 60;
    if mins == 1 {
        return "About a minute".to_string();
    }
    if mins < 60 {
        return format!("{mins} minutes");
    }
    let hours = (secs as f64 / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339_nanos(0), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339_seconds(0), "1970-01-01T00:00:00Z");
        // 2026-11-28T19:11:35.18134794Z
        let n = parse_rfc3339("2026-11-28T19:11:35.18134794Z").unwrap();
        assert_eq!(rfc3339_nanos(n), "2026-11-28T19:11:35.18134794Z");
        assert_eq!(rfc3339_nanos_fixed(n), "2026-11-28T19:11:35.181347940Z");
        let whole = parse_rfc3339("2026-11-28T19:11:35Z").unwrap();
        assert_eq!(rfc3339_nanos(whole), "2026-11-28T19:11:35Z");
        assert_eq!(whole / 1_000_000_000, 1_795_893_095);
    }

    #[test]
    fn parses_offsets_and_cli_timestamps() {
        let a = parse_rfc3339("2026-11-28T20:11:35+01:00").unwrap();
        let b = parse_rfc3339("2026-11-28T19:11:35Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_timestamp("1798675200.000000000"), Some(1_798_675_200_000_000_000));
        assert_eq!(parse_timestamp("1798675200.5"), Some(1_798_675_200_500_000_000));
        assert_eq!(parse_timestamp("17x"), None);
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn http_dates() {
        let n = parse_rfc3339("2026-11-28T19:11:39Z").unwrap() / 1_000_000_000;
        assert_eq!(http_date(n), "Sat, 28 Nov 2026 19:11:39 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 59, 365, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_millis(300)), "Less than a second");
        assert_eq!(human_duration(Duration::from_secs(2)), "2 seconds");
        assert_eq!(human_duration(Duration::from_secs(61)), "About a minute");
        assert_eq!(human_duration(Duration::from_secs(300)), "5 minutes");
        assert_eq!(human_duration(Duration::from_secs(3600)), "About an hour");
        assert_eq!(human_duration(Duration::from_secs(3 * 86400)), "3 days");
    }
}
