//! Docker's `filters.Args`: `--filter name=value` pairs, validated against the
//! names a command accepts, and the matching rules the daemon applies.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// Filter values by name; repeated values are kept once, as in Docker.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Filters {
    pub fn new(pairs: &[(String, String)]) -> Filters {
        let mut f = Filters::default();
        for (k, v) in pairs {
            f.add(k, v);
        }
        f
    }

    pub fn add(&mut self, key: &str, value: &str) {
        self.fields.entry(key.to_string()).or_default().insert(value.to_string());
    }

    /// Every name must be one of `accepted`: `invalid filter 'name'` otherwise.
    pub fn validate(&self, accepted: &[&str]) -> anyhow::Result<()> {
        for k in self.fields.keys() {
            if !accepted.contains(&k.as_str()) {
                anyhow::bail!("invalid filter '{k}'");
            }
        }
        Ok(())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Vec<&str> {
        self.fields.get(key).map(|s| s.iter().map(String::as_str).collect()).unwrap_or_default()
    }

    /// `ExactMatch`: true when the filter is absent or one of its values is `value`.
    pub fn exact_match(&self, key: &str, value: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(vals) if vals.is_empty() => true,
            Some(vals) => vals.contains(value),
        }
    }

    /// `MatchKVList`: every `k` or `k=v` value must be present in `labels`.
    pub fn match_kv_list(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        let Some(vals) = self.fields.get(key).filter(|v| !v.is_empty()) else { return true };
        if labels.is_empty() {
            return false;
        }
        vals.iter().all(|v| match v.split_once('=') {
            Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
            None => labels.contains_key(v.as_str()),
        })
    }

    /// The boolean value of `key` (`true`/`false`, `1`/`0`), or `default` when absent.
    /// More than one value, or another word, is `invalid filter 'key=[...]'`.
    pub fn bool_or(&self, key: &str, default: bool) -> anyhow::Result<bool> {
        let Some(vals) = self.fields.get(key) else { return Ok(default) };
        if vals.len() != 1 {
            anyhow::bail!("invalid filter '{key}={}'", go_list(vals));
        }
        let v = vals.iter().next().expect("one value");
        match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => anyhow::bail!("invalid filter '{key}={}'", go_list(vals)),
        }
    }
}

fn go_list(vals: &BTreeSet<String>) -> String {
    format!("[{}]", vals.iter().cloned().collect::<Vec<_>>().join(" "))
}

/// `label=k`, `label=k=v`, `label!=k`, `label!=k=v` (the prune filters).
pub fn match_labels(filters: &Filters, labels: &BTreeMap<String, String>) -> bool {
    if !filters.match_kv_list("label", labels) {
        return false;
    }
    // label!=: the image must NOT match any of these.
    let negated = filters.get("label!");
    if negated.is_empty() {
        return true;
    }
    !negated.iter().any(|v| match v.split_once('=') {
        Some((k, want)) => labels.get(k).is_some_and(|have| have == want),
        None => labels.contains_key(*v),
    })
}

/// Docker's `timetypes.GetTimestamp` for `until=`/`since=` values: a Go
/// duration (`10m`, `1h30m`, relative to `now`), Unix seconds (`1700000000`,
/// `1700000000.5`), RFC 3339, or `2006-01-02T15:04:05` / `2006-01-02` (UTC).
pub fn parse_timestamp(value: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Some(d) = parse_go_duration(value) {
        return Ok(now - d);
    }
    if let Ok(secs) = value.parse::<f64>()
        && value.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9).round() as u32;
        if let Some(t) = Utc.timestamp_opt(whole, nanos).single() {
            return Ok(t);
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")));
    }
    anyhow::bail!("failed to parse value as time or duration: {value:?}")
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`.
pub fn parse_go_duration(s: &str) -> Option<chrono::Duration> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    if rest.is_empty() {
        return None;
    }
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total_ns += n * unit;
    }
    let d = chrono::Duration::nanoseconds(total_ns as i64);
    Some(if neg { -d } else { d })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn kv_list_and_labels() {
        let f = Filters::new(&[("label".into(), "a".into()), ("label".into(), "b=2".into())]);
        assert!(f.match_kv_list("label", &labels(&[("a", "x"), ("b", "2")])));
        assert!(!f.match_kv_list("label", &labels(&[("a", "x"), ("b", "3")])));
        assert!(!f.match_kv_list("label", &labels(&[])));
        let f = Filters::new(&[("label!".into(), "a".into())]);
        assert!(!match_labels(&f, &labels(&[("a", "x")])));
        assert!(match_labels(&f, &labels(&[("b", "x")])));
    }

    #[test]
    fn validation_and_bools() {
        let f = Filters::new(&[("dangling".into(), "yes".into())]);
        assert!(f.validate(&["dangling"]).is_ok());
        assert_eq!(f.validate(&["label"]).unwrap_err().to_string(), "invalid filter 'dangling'");
        assert_eq!(f.bool_or("dangling", false).unwrap_err().to_string(), "invalid filter 'dangling=[yes]'");
        assert!(Filters::new(&[("dangling".into(), "true".into())]).bool_or("dangling", false).unwrap());
    }

    #[test]
    fn timestamps() {
        let now = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(parse_timestamp("1h30m", now).unwrap(), Utc.with_ymd_and_hms(2024, 1, 1, 22, 30, 0).unwrap());
        assert_eq!(parse_timestamp("1704067200", now).unwrap(), Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(parse_timestamp("2024-01-01", now).unwrap(), Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(
            parse_timestamp("2024-01-01T01:00:00+01:00", now).unwrap(),
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
        );
        assert!(parse_timestamp("yesterday", now).is_err());
    }
}
