//! Latency histograms: HdrHistogram in microseconds with 3 significant digits, summarised for
//! reports and serialised in the standard V2+DEFLATE base64 form so runs merge exactly.

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Largest recordable latency: one hour, in microseconds. Larger values are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A fresh latency histogram (1 µs to 1 h, 3 significant digits).
///
/// # Panics
/// Never: the bounds are constants hdrhistogram accepts.
#[must_use]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant bounds are valid")
}

/// Records `us`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, us: u64) {
    h.saturating_record(us.clamp(1, MAX_LATENCY_US));
}

/// Percentiles of one phase, in microseconds, plus the histogram itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// The histogram, V2+DEFLATE, base64 (standard alphabet).
    pub hdr: String,
}

impl LatencySummary {
    /// Summarises `h`.
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
            hdr: encode(h),
        }
    }

    /// The histogram back from `hdr`.
    ///
    /// # Errors
    /// When `hdr` is not a V2(+DEFLATE) base64 histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>, String> {
        decode(&self.hdr)
    }
}

/// V2+DEFLATE, base64.
#[must_use]
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a valid histogram.
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes [`encode`]'s output.
///
/// # Errors
/// When the text is not base64 or not a serialised histogram.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("hdr is not base64: {e}"))?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| format!("hdr is not a histogram: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_histograms_merge_exactly() {
        let mut a = histogram();
        let mut b = histogram();
        let mut all = histogram();
        for v in 1..=5000u64 {
            let us = v * v % 1_000_003 + 17;
            let part = if v % 3 == 0 { &mut a } else { &mut b };
            record(part, us);
            record(&mut all, us);
        }
        let mut merged = decode(&encode(&a)).unwrap();
        merged.add(decode(&encode(&b)).unwrap()).unwrap();
        let (m, o) = (LatencySummary::of(&merged), LatencySummary::of(&all));
        assert_eq!(
            (m.count, m.min, m.p50, m.p90, m.p99, m.p999, m.max),
            (o.count, o.min, o.p50, o.p90, o.p99, o.p999, o.max)
        );
        assert_eq!(m.count, 5000);
        assert!((m.mean - o.mean).abs() < 1e-9);
    }
}
