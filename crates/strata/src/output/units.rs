//! Human-readable sizes and durations, ported from Docker's `go-units` so every
//! number looks exactly as the docker CLI prints it.
//!
//! - [`human_size_precision`] = `units.HumanSizeWithPrecision` (decimal, no space:
//!   `4.26MB`), [`human_size`] = `units.HumanSize` (4 digits: `4.262MB`),
//! - [`bytes_size`] = `units.BytesSize` (binary: `23.47GiB`),
//! - [`human_duration`] = `units.HumanDuration` (`About a minute`, `2 days`).
//!
//! The numbers go through [`go_format_g`], a port of Go's `%.*g` verb, including its
//! quirks (`999.9kB` with precision 3 is `1e+03kB`, exactly like Docker).

#[cfg(test)]
use std::time::Duration;

const DECIMAL_ABBRS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY_ABBRS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn size_and_unit(mut size: f64, base: f64, map: &[&'static str]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < map.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, map[i])
}

/// go-units `HumanSizeWithPrecision(size, precision)`: `0B`, `4.26MB`, `77.8MB`, `1.07GB`.
pub fn human_size_precision(size: f64, precision: usize) -> String {
    let (size, unit) = size_and_unit(size, 1000.0, &DECIMAL_ABBRS);
    format!("{}{unit}", go_format_g(size, precision))
}

/// go-units `HumanSize`: four significant digits (`docker system df`, prune totals).
pub fn human_size(size: f64) -> String {
    human_size_precision(size, 4)
}

/// go-units `BytesSize`: binary units with four digits (`Total Memory: 23.47GiB`).
pub fn bytes_size(size: f64) -> String {
    let (size, unit) = size_and_unit(size, 1024.0, &BINARY_ABBRS);
    format!("{}{unit}", go_format_g(size, 4))
}

/// Go's `fmt.Sprintf("%.*g", precision, v)` for finite, non-negative `v` (and
/// negative ones, prefixed with `-`): `precision` significant digits, trailing
/// zeros removed, exponent form when the exponent is < -4 or >= the precision.
pub fn go_format_g(v: f64, precision: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = precision.max(1);
    let neg = v.is_sign_negative() && v != 0.0;
    let v = v.abs();
    // Round to `prec` significant digits (ties to even on the exact binary value,
    // as Go does), then read back the digits and the decimal exponent.
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').expect("exponent form");
    let mut digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let exp: i32 = exp.parse().expect("exponent");
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let nd = digits.len() as i32;
    // Go's decimal point position: value = 0.d1d2d3... × 10^dp.
    let dp = if nd == 0 { 0 } else { exp + 1 };
    let mut eprec = prec as i32;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    let x = dp - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if x < -4 || x >= eprec {
        // %e with min(prec, nd) significant digits.
        let p = (prec as i32).min(nd.max(1));
        out.push(digits.first().copied().unwrap_or(b'0') as char);
        if p > 1 {
            out.push('.');
            for i in 1..p as usize {
                out.push(digits.get(i).copied().unwrap_or(b'0') as char);
            }
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", x.abs()));
        return out;
    }
    let mut p = prec as i32;
    if p > dp {
        p = nd;
    }
    let frac = (p - dp).max(0);
    // Integer part.
    if dp > 0 {
        for i in 0..dp {
            out.push(digits.get(i as usize).copied().unwrap_or(b'0') as char);
        }
    } else {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for i in 0..frac {
            let idx = dp + i;
            let d = if idx < 0 { b'0' } else { digits.get(idx as usize).copied().unwrap_or(b'0') };
            out.push(d as char);
        }
    }
    out
}

/// go-units `HumanDuration`: `Less than a second`, `About a minute`, `3 weeks`...
/// Negative durations (times in the future) count as less than a second.
#[cfg(test)]
pub fn human_duration(d: Duration) -> String {
    human_duration_secs(d.as_secs_f64())
}

/// [`human_duration`] for a signed number of seconds.
pub fn human_duration_secs(secs: f64) -> String {
    let seconds = secs.trunc() as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0).trunc() as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours_f = secs / 3600.0;
    let hours = (hours_f + 0.5).trunc() as i64;
    if hours == 1 {
        return "About an hour".into();
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
    format!("{} years", (hours_f.trunc() as i64) / 24 / 365)
}

/// Docker's CREATED column: `HumanDuration(now - created) + " ago"`.
pub fn since(created: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (now - created).num_milliseconds() as f64 / 1000.0;
    format!("{} ago", human_duration_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_size_precision_matches_docker() {
        // Values observed from `docker images` / go-units tests.
        let cases: &[(f64, &str)] = &[
            (0.0, "0B"),
            (1.0, "1B"),
            (999.0, "999B"),
            (1000.0, "1kB"),
            (1024.0, "1.02kB"),
            (4261550.0, "4.26MB"),
            (77_800_000.0, "77.8MB"),
            (1_073_741_824.0, "1.07GB"),
            (100_000.0, "100kB"),
            (10_500.0, "10.5kB"),
            (999_500.0, "1e+03kB"),
            (999_949.0, "1e+03kB"),
            (123_456_789.0, "123MB"),
            (5_600_000_000_000.0, "5.6TB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size_precision(*n, 3), *want, "size {n}");
        }
    }

    #[test]
    fn human_size_matches_go_units_tests() {
        // go-units size_test.go TestHumanSize.
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size(1024.0), "1.024kB");
        assert_eq!(human_size(1_000_000.0), "1MB");
        assert_eq!(human_size(1_048_576.0), "1.049MB");
        assert_eq!(human_size(2.0 * 1_000_000.0), "2MB");
        assert_eq!(human_size(3.42 * 1e9), "3.42GB");
        assert_eq!(human_size(5.372 * 1e12), "5.372TB");
        assert_eq!(human_size(2.22 * 1e15), "2.22PB");
        assert_eq!(human_size(1e21), "1ZB");
        assert_eq!(human_size(1e25), "10YB");
        assert_eq!(human_size(1e28), "1e+04YB");
        assert_eq!(human_size(4261550.0), "4.262MB");
    }

    #[test]
    fn bytes_size_matches_go_units_tests() {
        // go-units size_test.go TestBytesSize.
        assert_eq!(bytes_size(1024.0), "1KiB");
        assert_eq!(bytes_size(1024.0 * 1024.0), "1MiB");
        assert_eq!(bytes_size(1_048_576.0), "1MiB");
        assert_eq!(bytes_size(2.0 * 1_048_576.0), "2MiB");
        assert_eq!(bytes_size(3.42 * 1_073_741_824.0), "3.42GiB");
        assert_eq!(bytes_size(5.372 * 1_099_511_627_776.0), "5.372TiB");
        assert_eq!(bytes_size(2.22 * 1_125_899_906_842_624.0), "2.22PiB");
        assert_eq!(bytes_size(25_200_000_000.0), "23.47GiB");
        assert_eq!(bytes_size(1024f64.powi(5) * 1_125_899_906_842_624.0), "1.049e+06YiB");
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(go_format_g(4.0, 3), "4");
        assert_eq!(go_format_g(0.5, 3), "0.5");
        assert_eq!(go_format_g(0.0001234, 3), "0.000123");
        assert_eq!(go_format_g(0.00001234, 3), "1.23e-05");
        assert_eq!(go_format_g(1234.0, 3), "1.23e+03");
        assert_eq!(go_format_g(2.5, 1), "2");
        assert_eq!(go_format_g(-1.5, 3), "-1.5");
    }

    #[test]
    fn human_duration_matches_go_units_example() {
        // go-units duration_test.go ExampleHumanDuration, input and output verbatim.
        let (m, h) = (60.0, 3600.0);
        let (d, w, mo) = (24.0 * h, 7.0 * 24.0 * h, 30.0 * 24.0 * h);
        let cases: &[(f64, &str)] = &[
            (0.45, "Less than a second"),
            (47.0, "47 seconds"),
            (m, "About a minute"),
            (3.0 * m, "3 minutes"),
            (35.0 * m, "35 minutes"),
            (35.0 * m + 40.0, "35 minutes"),
            (h, "About an hour"),
            (h + 45.0 * m, "2 hours"),
            (3.0 * h, "3 hours"),
            (3.0 * h + 59.0 * m, "4 hours"),
            (3.0 * h + 60.0 * m, "4 hours"),
            (d, "24 hours"),
            (d + 12.0 * h, "36 hours"),
            (2.0 * d, "2 days"),
            (7.0 * d, "7 days"),
            (13.0 * d + 5.0 * h, "13 days"),
            (2.0 * w, "2 weeks"),
            (2.0 * w + 4.0 * d, "2 weeks"),
            (3.0 * w, "3 weeks"),
            (4.0 * w, "4 weeks"),
            (4.0 * w + 3.0 * d, "4 weeks"),
            (mo, "4 weeks"),
            (mo + 2.0 * w, "6 weeks"),
            (2.0 * mo, "2 months"),
            (3.0 * mo + w, "3 months"),
            (5.0 * mo + 2.0 * w, "5 months"),
            (13.0 * mo, "13 months"),
            (23.0 * mo, "23 months"),
            (24.0 * mo, "24 months"),
            (24.0 * mo + 2.0 * w, "2 years"),
            (3.0 * 365.0 * d + 2.0 * mo, "3 years"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration_secs(*secs), *want, "{secs}s");
        }
        assert_eq!(human_duration_secs(-5.0), "Less than a second");
        assert_eq!(human_duration_secs(1.0), "1 second");
        assert_eq!(human_duration(Duration::from_secs(120)), "2 minutes");
    }
}
