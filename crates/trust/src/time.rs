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
pub fn parse_rfc3339(text: &str) -> Result<u64, TimeError> {
    let t = text.trim();
    let parsed = humantime::parse_rfc3339_weak(t)
        .or_else(|_| with_offset(t))
        .map_err(|_| TimeError::NotRfc3339(text.into()))?;
    parsed
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| TimeError::BeforeEpoch(text.into()))
}

/// Why a time given as text was refused ([`parse_rfc3339`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Not an RFC 3339 time (the text as given).
    #[error("not an RFC 3339 time: {0:?} (expected e.g. 2026-11-22T10:00:00Z)")]
    NotRfc3339(String),
    /// A time before the Unix epoch (the text as given).
    #[error("time before 1970: {0:?}")]
    BeforeEpoch(String),
}

/// humantime reads `Z` only; accept `+hh:mm` / `-hh:mm` offsets too. Works on bytes so
/// that no input (non-ASCII included) can split a character.
fn with_offset(t: &str) -> Result<SystemTime, ()> {
    let bytes = t.as_bytes();
    let i = bytes.len().checked_sub(6).ok_or(())?;
    let off = &bytes[i..];
    let digit = |b: u8| b.is_ascii_digit();
    if !(matches!(off[0], b'+' | b'-')
        && digit(off[1])
        && digit(off[2])
        && off[3] == b':'
        && digit(off[4])
        && digit(off[5]))
    {
        return Err(());
    }
    // The last six bytes are ASCII, so `i` is a character boundary.
    let base = t.get(..i).ok_or(())?;
    let num = |a: u8, b: u8| u64::from(a - b'0') * 10 + u64::from(b - b'0');
    let (h, m) = (num(off[1], off[2]), num(off[4], off[5]));
    if h > 23 || m > 59 {
        return Err(());
    }
    let local = humantime::parse_rfc3339_weak(base).map_err(|_| ())?;
    let d = Duration::from_secs(h * 3600 + m * 60);
    if off[0] == b'+' {
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

    #[test]
    fn non_ascii_and_odd_offsets_are_errors_not_panics() {
        for bad in [
            "Æ00000",
            "ÆÆÆ",
            "2010-06-01T00:00:00+0Æ:0",
            "2010-06-01T00:00:00+ÆÆ",
            "2010-06-01T00:00:00+24:00",
            "2010-06-01T00:00:00+02:60",
            "2010-06-01T00:00:00+2:000",
            "+00:00",
            "",
            "\u{0}",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?} accepted");
        }
        // Its positive twin: a valid time with a non-zero offset still parses.
        assert_eq!(
            parse_rfc3339("2010-06-01T05:30:00+05:30").unwrap(),
            1_275_350_400
        );
    }
}
