//! Human units for flags and scenario files: byte sizes (`10MiB`, `100MB`), durations (`10m`),
//! rates and bandwidths, content types as policies compare them, and web origins (CORS).

use std::time::Duration;

/// Parses a byte size such as `10MiB`, `100MB`, `4KiB` or `1048576`.
///
/// # Errors
/// A message naming the value when it is not a size.
pub fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size {s:?}: {e} (examples: 4KiB, 10MiB, 100MB, 1GiB)"))
}

/// Parses a duration such as `10m`, `1h`, `90s`.
///
/// # Errors
/// A message naming the value when it is not a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration {s:?}: {e} (examples: 90s, 10m, 1h)"))
}

/// Parses a bandwidth such as `20Mbit/s`, `2.5MB/s`, `512KiB/s` into bytes per second.
///
/// # Errors
/// A message naming the value when it is not a bandwidth.
pub fn parse_bandwidth(s: &str) -> Result<f64, String> {
    let bad = || format!("invalid bandwidth {s:?} (examples: 20Mbit/s, 100Mbit/s, 2.5MB/s, 512KiB/s)");
    let t = s.trim();
    let unit_at = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
    let (number, unit) = t.split_at(unit_at);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim().strip_suffix("/s").or_else(|| unit.trim().strip_suffix("ps")).ok_or_else(bad)?;
    let bytes_per_unit = match unit {
        "bit" | "b" => 1.0 / 8.0,
        "kbit" | "Kbit" | "kb" => 1e3 / 8.0,
        "Mbit" | "Mb" => 1e6 / 8.0,
        "Gbit" | "Gb" => 1e9 / 8.0,
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let rate = number * bytes_per_unit;
    if rate.is_finite() && rate > 0.0 { Ok(rate) } else { Err(bad()) }
}

/// A content type as policies compare it: parameters dropped, trimmed, lowercase
/// (`Image/JPEG; q=1` → `image/jpeg`).
#[must_use]
pub fn normalise_content_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// Whether `origin` is a web origin a browser sends: `scheme://host[:port]`, no path, never `*`.
///
/// # Errors
/// What is wrong with it.
pub fn check_origin(origin: &str) -> Result<(), String> {
    let uri: http::Uri =
        origin.parse().map_err(|_| format!("{origin:?} is not an origin like https://app.example.com"))?;
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/") && !origin.ends_with('/');
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) if bare => Ok(()),
        _ => Err(format!("{origin:?} is not an origin like https://app.example.com (scheme and host, no path, not *)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_size("100MB").unwrap(), 100_000_000);
        assert_eq!(parse_size("4 KiB").unwrap(), 4096);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("ten").unwrap_err().contains("\"ten\""));
    }

    #[test]
    fn bandwidths() {
        assert!((parse_bandwidth("20Mbit/s").unwrap() - 2.5e6).abs() < 1e-6);
        assert!((parse_bandwidth("10Gbit/s").unwrap() - 1.25e9).abs() < 1e-3);
        assert!((parse_bandwidth("2.5MB/s").unwrap() - 2.5e6).abs() < 1e-6);
        assert!((parse_bandwidth("512KiB/s").unwrap() - 524_288.0).abs() < 1e-6);
        assert!((parse_bandwidth("100Mbps").unwrap() - 12.5e6).abs() < 1e-6);
        assert!(parse_bandwidth("fast").unwrap_err().contains("\"fast\""));
        assert!(parse_bandwidth("0Mbit/s").is_err());
        assert!(parse_bandwidth("20 furlongs/s").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("soon").is_err());
    }
}
