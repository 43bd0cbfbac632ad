//! Human units for flags and scenario files: byte sizes (`10MiB`, `100MB`) and durations (`10m`).

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

/// Formats bytes with binary units, for messages and tables.
#[must_use]
pub fn format_size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
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
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("soon").is_err());
    }
}
