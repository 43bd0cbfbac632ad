//! How numbers read in every report format: durations, ratios, counts and bytes, each with its
//! unit. A leaf: the summary, Markdown and HTML renderers all take their figures from here.

pub use crate::units::si_bytes;

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

/// `in / out` bytes, for display.
#[must_use]
#[allow(clippy::cast_precision_loss)] // display only
pub fn in_out(bytes_in: u64, bytes_out: u64) -> String {
    format!("{} / {}", si_bytes(bytes_in as f64), si_bytes(bytes_out as f64))
}
