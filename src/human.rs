//! Numbers for people: bytes, durations, counts, rates and ratios, each with its unit and never in
//! e-notation. A leaf (it uses nothing of the crate): every report format, the gate's tables and
//! the progress bars take their figures from here, so the same figure reads the same everywhere.

/// Formats bytes with binary units, for messages and tables.
#[must_use]
pub fn binary_bytes(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().iec().to_string()
}

/// SI bytes (`524.3 GB`), the unit the "500 GB vs 50 MB" argument is made in.
#[must_use]
pub fn si_bytes(bytes: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display only
    let b = bytes.max(0.0).round() as u64;
    bytesize::ByteSize(b).display().si().to_string()
}

/// Milliseconds from microseconds, for display (`1.50 ms`, `711 ms`).
#[must_use]
pub fn ms(us: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // display only
    let ms = us as f64 / 1000.0;
    if ms < 10.0 { format!("{ms:.2} ms") } else { format!("{ms:.0} ms") }
}

/// A ratio as people say it: `4,451×`.
#[must_use]
pub fn ratio(r: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display only
    let n = r.max(0.0).round() as u64;
    format!("{}×", grouped(n))
}

/// `12,345` style grouping, for counts people read aloud. Hand-written (ten lines): the crates
/// that do it bring locale tables for the one separator these reports use.
#[must_use]
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds with two decimals: `0.52 s`, for CPU time and short durations.
#[must_use]
pub fn seconds(s: f64) -> String {
    format!("{s:.2} s")
}

/// A rate with one decimal and its unit: `85.3 uploads/s`.
#[must_use]
pub fn per_second(rate: f64, what: &str) -> String {
    format!("{rate:.1} {what}/s")
}

/// `in / out` bytes, for display.
#[must_use]
#[allow(clippy::cast_precision_loss)] // display only
pub fn in_out(bytes_in: u64, bytes_out: u64) -> String {
    format!("{} / {}", si_bytes(bytes_in as f64), si_bytes(bytes_out as f64))
}

/// `v` with at most `digits` significant digits (at least the integer part), thousands grouped,
/// never in e-notation: `50,000`, `0.558`, `0.000633`, `1.5`.
#[must_use]
pub fn number(v: f64, digits: i32) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".into();
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    #[allow(clippy::cast_possible_truncation)] // a magnitude of a finite f64 fits in i32
    let magnitude = a.log10().floor() as i32;
    let decimals = usize::try_from((digits - 1 - magnitude).max(0)).unwrap_or(0);
    let text = format!("{a:.decimals$}");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    let whole = whole.parse::<u64>().map_or_else(|_| whole.to_owned(), grouped);
    if fraction.is_empty() { format!("{sign}{whole}") } else { format!("{sign}{whole}.{fraction}") }
}

/// A bandwidth given in bytes per second, in bits as links are sold: `10 Gbit/s`, `250 Mbit/s`.
#[must_use]
pub fn bandwidth(bytes_per_sec: f64) -> String {
    let bits = bytes_per_sec * 8.0;
    let (value, unit) = match bits.abs() {
        b if b >= 1e9 => (bits / 1e9, "Gbit/s"),
        b if b >= 1e6 => (bits / 1e6, "Mbit/s"),
        b if b >= 1e3 => (bits / 1e3, "kbit/s"),
        _ => (bits, "bit/s"),
    };
    format!("{} {unit}", number(value, 3))
}

/// A value in the unit a capacity input names, as a person reads it: bytes in SI units, byte
/// rates as a link's bandwidth, seconds, counts grouped, the rest with three significant digits
/// and its unit (`10.5 MB`, `10 Gbit/s per direction`, `60 s`, `50,000 uploads`, `0.558 CPU-s/GB`).
#[must_use]
pub fn quantity(value: f64, unit: &str) -> String {
    if let Some(rest) = unit.strip_prefix("bytes/s") {
        return format!("{}{rest}", bandwidth(value));
    }
    if let Some(rest) = unit.strip_prefix("bytes") {
        return format!("{}{rest}", si_bytes(value));
    }
    match unit {
        "s" => format!("{} s", number(value, 3)),
        "" => number(value, 3),
        _ => format!("{} {unit}", number(value, 3)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_without_e_notation() {
        assert_eq!(number(50_000.0, 3), "50,000");
        assert_eq!(number(0.558_272_9, 3), "0.558");
        assert_eq!(number(0.000_633_133, 3), "0.000633");
        assert_eq!(number(60.0, 3), "60");
        assert_eq!(number(1.5, 3), "1.5");
        assert_eq!(number(0.0, 3), "0");
        assert_eq!(number(-2.25, 3), "-2.25");
        assert_eq!(number(1e15, 3), "1,000,000,000,000,000");
    }

    #[test]
    fn capacity_inputs_read_in_their_units() {
        assert_eq!(quantity(1.25e9, "bytes/s per direction"), "10 Gbit/s per direction");
        assert_eq!(quantity(10_485_760.0, "bytes"), "10.5 MB");
        assert_eq!(quantity(423.67, "bytes/upload"), "424 B/upload");
        assert_eq!(quantity(2_647_040.0, "bytes per request in flight"), "2.6 MB per request in flight");
        assert_eq!(quantity(60.0, "s"), "60 s");
        assert_eq!(quantity(50_000.0, "uploads"), "50,000 uploads");
        assert_eq!(quantity(0.558_27, "CPU-s/GB"), "0.558 CPU-s/GB");
        assert_eq!(bandwidth(125_000.0), "1 Mbit/s");
        for (v, unit) in [(1.0486e7, "bytes"), (1.25e9, "bytes/s per direction"), (4.2e-7, "CPU-s/upload")] {
            let text = quantity(v, unit);
            assert!(
                !text.contains("e+") && !text.contains("e-") && !text.contains("e7") && !text.contains("e9"),
                "{text}"
            );
        }
    }
}
