//! Parsing of durations (`500ms`, `30s`, `2m`, `1h`, through humantime) and
//! sizes (`512M`, `2G`).

use std::time::Duration;

/// Far beyond any useful limit, and far from overflowing an `Instant`.
const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// A duration as humantime reads it (`500ms`, `30s`, `2m`, `1h`, `1h 30m`),
/// positive and at most a year.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let duration = match humantime::parse_duration(s.trim()) {
        Ok(duration) => duration,
        // Said as the year limit below says it: the number is just larger.
        Err(humantime::DurationError::NumberOverflow) => return Err(format!("{s:?} is longer than a year")),
        Err(e) => return Err(format!("{s:?} is not a duration like 500ms, 30s, 2m or 1h: {e}")),
    };
    if duration.is_zero() {
        return Err(format!("{s:?} must be a positive duration"));
    }
    if duration > MAX {
        return Err(format!("{s:?} is longer than a year"));
    }
    Ok(duration)
}

pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{s:?} is not a size like 512M or 2G"))?;
    let scale: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        other => return Err(format!("unknown unit {other:?} in {s:?}: use K, M, G or T")),
    };
    let bytes = value * scale as f64;
    if !bytes.is_finite() || bytes < (1 << 20) as f64 {
        return Err(format!("{s:?} is too small for a worker's memory (at least 1M)"));
    }
    Ok(bytes as u64)
}

/// `bytes` as [`parse_size`] reads it back: in the largest unit that
/// divides it, so that 2 GiB is `2G`.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("0s").unwrap_err().contains("positive"));
        assert!(parse_duration("3 fortnights").unwrap_err().contains("unknown time unit"));
        assert!(parse_duration("fast").unwrap_err().contains("not a duration like 500ms"));
        assert!(parse_duration("30").unwrap_err().contains("time unit needed"));
        assert!(parse_duration("366d").unwrap_err().contains("longer than a year"));
        assert!(parse_duration("100000000000000000000s").unwrap_err().contains("longer than a year"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert!(parse_size("10").is_err());
        assert!(parse_size("5X").is_err());
        for bytes in [2 << 30, 3 << 29, (1 << 20) + 1, 5 << 40] {
            assert_eq!(parse_size(&format_size(bytes)).unwrap(), bytes, "{}", format_size(bytes));
        }
        assert_eq!(format_size(2 << 30), "2G");
    }
}
