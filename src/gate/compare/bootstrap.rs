//! Latency verdicts from the recorded distributions: a percentile bootstrap of the relative change
//! of one percentile between two HDR histograms.
//!
//! Each side's histogram is expanded into its samples (HDR values at their recorded counts; at most
//! [`MAX_SAMPLES`] per side, drawn evenly when there are more). Each resample draws, with
//! replacement, as many samples as each side has, takes the percentile of each, and records
//! `current / baseline − 1`. The interval is the middle `confidence` of those. A regression is an
//! interval entirely above the minimum effect. The generator is seeded, so a comparison of the
//! same two files always gives the same verdict.

use super::{Kind, Row, Settings, Verdict};
use crate::results::latency::LatencySummary;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Most samples used per side.
pub const MAX_SAMPLES: usize = 20_000;
/// Fewest samples per side for a verdict.
pub const MIN_SAMPLES: usize = 10;
/// Fewest samples per side beyond the percentile (`n × (1 − q)`): the 99th percentile of 20
/// samples is their maximum, which one hiccup moves, so it needs at least 500.
pub const MIN_TAIL_SAMPLES: f64 = 5.0;
/// Seed of the resampling.
const SEED: u64 = 0x5EED_2026;

/// The samples recorded in `summary`'s histogram, ascending.
fn samples(summary: &LatencySummary) -> Result<Vec<u64>, String> {
    let h = summary.histogram()?;
    let total = usize::try_from(h.len()).unwrap_or(usize::MAX);
    let stride = total.div_ceil(MAX_SAMPLES).max(1);
    let mut out = Vec::with_capacity(total.min(MAX_SAMPLES));
    let mut seen = 0usize;
    for v in h.iter_recorded() {
        let count = usize::try_from(v.count_at_value()).unwrap_or(usize::MAX);
        // Every `stride`-th sample of the sorted expansion.
        let first = (stride - seen % stride) % stride;
        let mut i = first;
        while i < count {
            out.push(h.highest_equivalent(v.value_iterated_to()));
            i += stride;
        }
        seen += count;
    }
    Ok(out)
}

/// The `q` percentile of `sorted` (nearest rank).
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn percentile(sorted: &[u64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// The relative change of the `q` percentile and its bootstrap interval.
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
#[must_use]
pub fn interval(baseline: &[u64], current: &[u64], q: f64, confidence: f64, resamples: usize) -> (f64, f64, f64) {
    let point = percentile(current, q) / percentile(baseline, q).max(1.0) - 1.0;
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut changes = Vec::with_capacity(resamples);
    let (mut b, mut c) = (vec![0u64; baseline.len()], vec![0u64; current.len()]);
    for _ in 0..resamples.max(1) {
        for slot in &mut b {
            *slot = baseline[rng.random_range(0..baseline.len())];
        }
        for slot in &mut c {
            *slot = current[rng.random_range(0..current.len())];
        }
        b.sort_unstable();
        c.sort_unstable();
        changes.push(percentile(&c, q) / percentile(&b, q).max(1.0) - 1.0);
    }
    changes.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |p: f64| changes[((p * changes.len() as f64) as usize).min(changes.len() - 1)];
    (point, at(tail), at(1.0 - tail))
}

/// The row of one latency percentile.
#[must_use]
pub fn latency_row(
    metric: String,
    baseline: Option<&LatencySummary>,
    current: Option<&LatencySummary>,
    q: f64,
    settings: &Settings,
) -> Row {
    let value = |s: Option<&LatencySummary>| {
        s.map(|s| {
            #[allow(clippy::cast_precision_loss)] // microseconds far below 2^53
            let v = if q >= 0.99 {
                s.p99
            } else if q >= 0.90 {
                s.p90
            } else {
                s.p50
            } as f64;
            v
        })
    };
    let mut row = Row {
        metric,
        kind: Kind::Latency,
        baseline: value(baseline),
        current: value(current),
        change: None,
        verdict: Verdict::NotComparable,
        detail: String::new(),
    };
    let (Some(b), Some(c)) = (baseline, current) else {
        row.detail = super::missing(row.baseline, row.current);
        return row;
    };
    let (b, c) = match (samples(b), samples(c)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            row.detail = format!("unreadable histogram: {e}");
            return row;
        }
    };
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let needed = MIN_SAMPLES.max((MIN_TAIL_SAMPLES / (1.0 - q)).ceil() as usize);
    if b.len() < needed || c.len() < needed {
        row.detail = format!("too few samples for this percentile ({} / {}; at least {needed} each)", b.len(), c.len());
        return row;
    }
    let (point, low, high) = interval(&b, &c, q, settings.confidence, settings.resamples);
    row.change = Some(point);
    // Only a change the interval puts beyond the minimum effect counts: with `confidence`, the
    // percentile moved by at least `min_effect`. Sampling noise alone is what the interval
    // covers; the minimum effect covers what differs between two runs on one machine.
    // Symmetric in ratio: 1.5× slower is a regression, so 1.5× faster (−33 %) is an improvement.
    let faster = 1.0 / (1.0 + settings.min_effect) - 1.0;
    row.verdict = if low > settings.min_effect {
        Verdict::Regressed
    } else if high < faster {
        Verdict::Improved
    } else {
        Verdict::Unchanged
    };
    row.detail = format!(
        "{:.0}% CI [{:+.1}%, {:+.1}%], min effect {:.0}%, n = {} / {}",
        settings.confidence * 100.0,
        low * 100.0,
        high * 100.0,
        settings.min_effect * 100.0,
        b.len(),
        c.len()
    );
    row
}
