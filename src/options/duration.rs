//! Durations as URLs write them: `250ms`, `5s`, `2m`, `1h`, or a bare
//! number of seconds; `off` where a bound may be disabled.

use std::time::Duration;

pub(super) fn parse_optional_duration(s: &str) -> std::result::Result<Option<Duration>, String> {
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        parse_duration(s).map(Some)
    }
}

/// `250ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let err = || format!("`{s}` is not a duration (try 250ms, 5s, 2m)");
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("s").is_err());
    }
}
