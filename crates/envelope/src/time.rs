//! Times as waxseal handles them: whole seconds since the Unix epoch (UTC).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Formats seconds since the epoch as RFC 3339 (`2026-11-22T10:00:00Z`).
pub fn format(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Parses an RFC 3339 time (`2026-11-22T10:00:00Z`; a space may replace `T`, and a
/// numeric UTC offset is accepted) into seconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = humantime::parse_rfc3339_weak(t)
        .or_else(|_| with_offset(t))
        .map_err(|_| {
            format!("not an RFC 3339 time: {text:?} (expected e.g. 2026-11-22T10:00:00Z)")
        })?;
    parsed
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| format!("time before 1970: {text:?}"))
}

/// humantime reads `Z` only; accept `+hh:mm` / `-hh:mm` offsets too.
fn with_offset(t: &str) -> Result<SystemTime, ()> {
    let (base, sign, off) = match t.len().checked_sub(6).map(|i| t.split_at(i)) {
        Some((b, o)) if o.starts_with('+') || o.starts_with('-') => (b, &o[..1], &o[1..]),
        _ => return Err(()),
    };
    let (h, m) = off.split_once(':').ok_or(())?;
    let secs = h.parse::<u64>().map_err(|_| ())? * 3600 + m.parse::<u64>().map_err(|_| ())? * 60;
    let local = humantime::parse_rfc3339_weak(base).map_err(|_| ())?;
    let d = Duration::from_secs(secs);
    if sign == "+" {
        local.checked_sub(d)
    } else {
        local.checked_add(d)
    }
    .ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let t = parse_rfc3339("2010-06-01T00:00:00Z").unwrap();
        assert_eq!(t, 1_275_350_400);
        assert_eq!(format(t), "2010-06-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2010-06-01T02:00:00+02:00").unwrap(), t);
        assert_eq!(parse_rfc3339("2010-05-31T23:00:00-01:00").unwrap(), t);
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
