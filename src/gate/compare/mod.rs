//! Baseline against current: one row per gated metric, with its change and a verdict (improved,
//! unchanged, regressed, not comparable). A pure model over two [`Results`]; `compare` renders it.
//!
//! How much each kind of metric may move before it counts, from the most to the least
//! machine-independent:
//! - **counts** (lost, corrupt): any increase is a regression.
//! - **bytes per upload**: counted at the socket, nearly deterministic; beyond `bytes_tolerance`.
//! - **same-run ratios** (proxied/presigned bytes, presign rate / healthz rate on the same broker):
//!   both sides measured on the same machine at the same time; beyond `ratio_tolerance`.
//! - **throughput**: machine-dependent; beyond `throughput_tolerance`.
//! - **latency percentiles** per mode and phase: the recorded HDR distributions are resampled
//!   ([`bootstrap`]) for a confidence interval of the relative change; a regression is an
//!   interval entirely above `min_effect` (and a percentile needs enough samples beyond it).
//!
//! Runs of different scenarios or object sizes are not comparable at all; machine-dependent rows
//! (throughput, latency) are not comparable across machines unless asked.

pub mod bootstrap;

use super::thresholds::lookup;
use crate::results::{ModeResult, Phase, Results};
use crate::scenario::Mode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A row's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Better beyond the noise allowance.
    Improved,
    /// Within the noise allowance.
    Unchanged,
    /// Worse beyond the noise allowance.
    Regressed,
    /// The runs cannot be compared on this metric (see the row's detail).
    NotComparable,
}

impl Verdict {
    /// The verdict as printed.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Improved => "improved",
            Self::Unchanged => "unchanged",
            Self::Regressed => "regressed",
            Self::NotComparable => "not comparable",
        }
    }
}

/// How a metric is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Lost/corrupt counts: any increase regresses.
    Count,
    /// Bytes per upload.
    Bytes,
    /// A ratio of two figures measured in the same run.
    Ratio,
    /// Uploads or requests per second.
    Throughput,
    /// A latency percentile, judged on the distributions.
    Latency,
}

/// The noise allowances and the statistics' settings (flags of `compare`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    /// Confidence level of the latency intervals, e.g. 0.95.
    pub confidence: f64,
    /// Smallest relative latency change that counts, e.g. 0.5 for 50 % (two short runs on one
    /// 2-core machine differ by up to about 40 % in a phase's median).
    pub min_effect: f64,
    /// Relative change of bytes per upload that counts.
    pub bytes_tolerance: f64,
    /// Relative change of a same-run ratio that counts.
    pub ratio_tolerance: f64,
    /// Relative change of throughput that counts.
    pub throughput_tolerance: f64,
    /// Bootstrap resamples per latency row.
    pub resamples: usize,
    /// Judge machine-dependent rows (throughput, latency) of runs from different machines.
    pub across_machines: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            confidence: 0.95,
            min_effect: 0.50,
            bytes_tolerance: 0.05,
            ratio_tolerance: 0.30,
            throughput_tolerance: 0.30,
            resamples: 2000,
            across_machines: false,
        }
    }
}

/// One compared metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Row {
    /// Its path in results.json.
    pub metric: String,
    /// How it is judged.
    pub kind: Kind,
    /// Baseline value (absent: not in the baseline).
    pub baseline: Option<f64>,
    /// Current value.
    pub current: Option<f64>,
    /// Relative change, current / baseline − 1.
    pub change: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why: the allowance applied, or the confidence interval, or what makes it not comparable.
    pub detail: String,
}

/// The whole comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// The scenario of both runs (or `baseline / current` when they differ).
    pub scenario: String,
    /// What was applied.
    pub settings: Settings,
    /// Every compared metric.
    pub rows: Vec<Row>,
}

impl Report {
    /// Rows with a regressed verdict.
    #[must_use]
    pub fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict == Verdict::Regressed).count()
    }
}

/// Why two runs cannot be compared at all, if they cannot.
fn incomparable(b: &Results, c: &Results) -> Option<String> {
    if b.scenario.name != c.scenario.name {
        return Some(format!("different scenarios ({} / {})", b.scenario.name, c.scenario.name));
    }
    if b.scenario.object_size != c.scenario.object_size || b.scenario.sweep != c.scenario.sweep {
        return Some("different object sizes".into());
    }
    None
}

/// Why machine-dependent rows cannot be judged, if they cannot.
fn other_machine(b: &Results, c: &Results, settings: &Settings) -> Option<String> {
    let (be, ce) = (&b.environment, &c.environment);
    let same = be.cpu_model == ce.cpu_model && be.cores == ce.cores;
    (!same && !settings.across_machines).then(|| {
        format!("measured on another machine ({} × {} / {} × {})", be.cores, be.cpu_model, ce.cores, ce.cpu_model)
    })
}

/// Compares `current` with `baseline`.
#[must_use]
pub fn compare(baseline: &Results, current: &Results, settings: &Settings) -> Report {
    let scenario = if baseline.scenario.name == current.scenario.name {
        current.scenario.name.clone()
    } else {
        format!("{} / {}", baseline.scenario.name, current.scenario.name)
    };
    let (bv, cv) = (values(baseline), values(current));
    let machine = other_machine(baseline, current, settings);
    let scalar = |metric: &str, kind: Kind| {
        let (tolerance, higher_is_better) = match kind {
            Kind::Bytes => (settings.bytes_tolerance, false),
            Kind::Ratio => (settings.ratio_tolerance, true),
            Kind::Throughput => (settings.throughput_tolerance, true),
            Kind::Count | Kind::Latency => (0.0, false),
        };
        let (b, c) = (lookup(&bv, metric), lookup(&cv, metric));
        let mut row = if kind == Kind::Count {
            count(metric, b, c)
        } else {
            judge(metric, kind, b, c, higher_is_better, tolerance)
        };
        if kind == Kind::Throughput {
            set_machine(&mut row, machine.as_deref());
        }
        row
    };
    let mut rows = Vec::new();
    for mode in [Mode::Proxied, Mode::Presigned] {
        let (b, c) = (baseline.modes.get(mode), current.modes.get(mode));
        if b.is_none() && c.is_none() {
            continue;
        }
        for (rest, kind) in MODE_METRICS {
            rows.push(scalar(&format!("modes.{}.{rest}", mode.as_str()), kind));
        }
        latency_rows(mode, b, c, settings, machine.as_deref(), &mut rows);
    }
    for (metric, kind) in RUN_METRICS {
        let signing = metric.starts_with("signing.");
        if !signing || baseline.signing.is_some() || current.signing.is_some() {
            rows.push(scalar(metric, kind));
        }
    }
    if let Some(why) = incomparable(baseline, current) {
        for row in &mut rows {
            row.verdict = Verdict::NotComparable;
            row.detail.clone_from(&why);
        }
    }
    Report { scenario, settings: *settings, rows }
}

fn set_machine(row: &mut Row, machine: Option<&str>) {
    if let Some(why) = machine
        && row.verdict != Verdict::NotComparable
    {
        row.verdict = Verdict::NotComparable;
        why.clone_into(&mut row.detail);
    }
}

/// Each mode's scalar metrics (paths under `modes.<mode>.`) and how they are judged.
const MODE_METRICS: [(&str, Kind); 5] = [
    ("lost", Kind::Count),
    ("corrupt", Kind::Count),
    ("per_upload.client_bytes", Kind::Bytes),
    ("per_upload.app_tier_bytes", Kind::Bytes),
    ("throughput.uploads_per_sec", Kind::Throughput),
];

/// The run's scalar metrics outside the modes.
const RUN_METRICS: [(&str, Kind); 4] = [
    ("comparison.client_bytes_ratio", Kind::Ratio),
    ("comparison.app_tier_bytes_ratio", Kind::Ratio),
    ("signing.ratio_to_healthz", Kind::Ratio),
    ("signing.broker_requests_per_sec", Kind::Throughput),
];

/// `results` as JSON, where every metric has the path thresholds use.
fn values(results: &Results) -> serde_json::Value {
    serde_json::to_value(results).unwrap_or(serde_json::Value::Null)
}

/// A count (lost, corrupt): any increase regresses.
fn count(metric: &str, b: Option<f64>, c: Option<f64>) -> Row {
    let verdict = match (b, c) {
        (Some(x), Some(y)) if y > x => Verdict::Regressed,
        (Some(x), Some(y)) if y < x => Verdict::Improved,
        (Some(_), Some(_)) => Verdict::Unchanged,
        _ => Verdict::NotComparable,
    };
    let detail = if verdict == Verdict::NotComparable { missing(b, c) } else { "any increase regresses".into() };
    Row { metric: metric.to_owned(), kind: Kind::Count, baseline: b, current: c, change: change(b, c), verdict, detail }
}

/// p50, p90 and p99 of every phase either run recorded.
fn latency_rows(
    mode: Mode,
    b: Option<&ModeResult>,
    c: Option<&ModeResult>,
    settings: &Settings,
    machine: Option<&str>,
    rows: &mut Vec<Row>,
) {
    for phase in Phase::ALL {
        let (bl, cl) = (b.and_then(|r| r.latency_us.get(&phase)), c.and_then(|r| r.latency_us.get(&phase)));
        if bl.is_none() && cl.is_none() {
            continue;
        }
        for (q, name) in [(0.50, "p50"), (0.90, "p90"), (0.99, "p99")] {
            let metric = format!("modes.{}.latency_us.{}.{name}", mode.as_str(), phase.as_str());
            let mut row = bootstrap::latency_row(metric, bl, cl, q, settings);
            set_machine(&mut row, machine);
            rows.push(row);
        }
    }
}

fn change(b: Option<f64>, c: Option<f64>) -> Option<f64> {
    match (b, c) {
        (Some(b), Some(c)) if b != 0.0 => Some(c / b - 1.0),
        (Some(b), Some(c)) if (b - c).abs() < f64::EPSILON => Some(0.0),
        _ => None,
    }
}

fn missing(b: Option<f64>, c: Option<f64>) -> String {
    match (b, c) {
        (None, Some(_)) => "not in the baseline".into(),
        (Some(_), None) => "not in the current run".into(),
        _ => "in neither run".into(),
    }
}

/// A row judged by relative change against `tolerance`; `higher_is_better` sets the direction.
fn judge(metric: &str, kind: Kind, b: Option<f64>, c: Option<f64>, higher_is_better: bool, tolerance: f64) -> Row {
    let delta = change(b, c);
    let (verdict, detail) = match delta {
        None if b.is_some() && c.is_some() => (Verdict::NotComparable, "baseline is zero".to_owned()),
        None => (Verdict::NotComparable, missing(b, c)),
        Some(d) => {
            let worse = if higher_is_better { -d } else { d };
            let verdict = if worse > tolerance {
                Verdict::Regressed
            } else if worse < -tolerance {
                Verdict::Improved
            } else {
                Verdict::Unchanged
            };
            let direction = if higher_is_better { "higher is better" } else { "lower is better" };
            (verdict, format!("allowance ±{:.0}% ({direction})", tolerance * 100.0))
        }
    };
    Row { metric: metric.to_owned(), kind, baseline: b, current: c, change: delta, verdict, detail }
}

#[cfg(test)]
mod tests;
