//! Timestamps the way Go's `time` package prints them in the docker CLI.

use chrono::{DateTime, FixedOffset, Local, SecondsFormat, TimeZone, Utc};

/// Parse an RFC 3339 timestamp (image configs, history entries, store records).
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Seconds since the epoch, as the Docker API reports `Created`.
pub fn unix(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn local(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = Local.offset_from_utc_datetime(&t.naive_utc());
    t.with_timezone(&offset)
}

/// Go's `time.Unix(sec, 0).String()` in the local zone: `2024-01-01 00:00:00 +0000 UTC`.
/// (Go prints the zone's abbreviation; without a zone database we print `UTC`
/// for offset zero and the numeric offset otherwise.)
pub fn go_string(t: DateTime<Utc>) -> String {
    let l = local(t);
    let secs = l.timestamp();
    let l = l.timezone().timestamp_opt(secs, 0).single().unwrap_or(l);
    let zone = if l.offset().local_minus_utc() == 0 { "UTC".to_string() } else { l.format("%z").to_string() };
    format!("{} {}", l.format("%Y-%m-%d %H:%M:%S %z"), zone)
}

/// Go's `time.Unix(sec, 0).Format(time.RFC3339)` in the local zone: `2017-01-01T12:00:03Z`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    local(t).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Go's `RFC3339Nano` (JSON encoding of `time.Time`): fractional seconds
/// without trailing zeros, `Z` for UTC.
pub fn rfc3339_nano(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true).replace_trailing_zeros()
}

trait TrimNanos {
    fn replace_trailing_zeros(self) -> String;
}

impl TrimNanos for String {
    /// chrono's AutoSi prints 3, 6 or 9 digits; Go trims every trailing zero.
    fn replace_trailing_zeros(self) -> String {
        let Some(dot) = self.find('.') else { return self };
        let end = self[dot..].find(|c: char| !c.is_ascii_digit() && c != '.').map(|i| dot + i).unwrap_or(self.len());
        let frac = self[dot + 1..end].trim_end_matches('0');
        if frac.is_empty() {
            format!("{}{}", &self[..dot], &self[end..])
        } else {
            format!("{}.{}{}", &self[..dot], frac, &self[end..])
        }
    }
}

/// Go's zero time in JSON, for never-set timestamps (`Metadata.LastTagTime`).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_trims_like_go() {
        let t = parse("2024-01-02T03:04:05.120000000Z").unwrap();
        assert_eq!(rfc3339_nano(t), "2024-01-02T03:04:05.12Z");
        let t = parse("2024-01-02T03:04:05Z").unwrap();
        assert_eq!(rfc3339_nano(t), "2024-01-02T03:04:05Z");
        let t = parse("2024-01-02T04:04:05.000000001+01:00").unwrap();
        assert_eq!(rfc3339_nano(t), "2024-01-02T03:04:05.000000001Z");
    }
}
