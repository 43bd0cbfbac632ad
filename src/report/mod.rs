//! Results: plain serde data with units in field names, written as `results.json`, and the
//! summary table printed at the end of a run.

mod html;
mod markdown;
pub mod plots;
mod render;
pub mod table;

pub use render::{RenderError, load, render};
pub use table::summary;

use crate::metrics::latency::LatencySummary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the results.json layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    /// Layout version.
    pub schema_version: u32,
    /// The resolved scenario.
    pub scenario: serde_json::Value,
    /// Where it ran.
    pub environment: Environment,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// False when interrupted or a server died: the figures cover only what ran.
    pub complete: bool,
    /// Why the run is incomplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// Per architecture.
    pub modes: Modes,
    /// Proxied over presigned, per upload (present when both modes ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// The broker under presign-only load (present when the scenario's signing phase ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningResult>,
    /// A size sweep: both modes at each size, ascending (`modes` repeats the last point).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<SweepPoint>,
    /// The smallest swept size from which the presigned flow's median end-to-end latency is no
    /// worse than proxying's, at that size and every larger one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_crossover_bytes: Option<u64>,
    /// Servers needed for the scenario's target, from this run's measured costs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::plan::CapacityReport>,
}

/// The broker under presign-only load, against its own `/healthz` ceiling.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SigningResult {
    /// Length of each sub-phase.
    pub duration_ms: u64,
    /// Requests in flight.
    pub concurrency: u64,
    /// Presign requests answered 201.
    pub broker_requests: u64,
    /// Presign requests that failed.
    pub broker_errors: u64,
    /// Presign requests per second.
    pub broker_requests_per_sec: f64,
    /// Broker CPU seconds during the presign sub-phase (from its /metrics).
    pub broker_cpu_seconds: f64,
    /// Presign requests per broker CPU-second.
    pub requests_per_cpu_second: f64,
    /// `GET /healthz` requests per second on the same broker, same concurrency.
    pub healthz_requests_per_sec: f64,
    /// `broker_requests_per_sec / healthz_requests_per_sec`.
    pub ratio_to_healthz: f64,
    /// Presign request latency.
    pub latency_us: LatencySummary,
    /// `/healthz` latency.
    pub healthz_latency_us: LatencySummary,
}

/// Per-mode results.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Modes {
    /// client → proxy → store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxied: Option<ModeResult>,
    /// client → broker, client → store, client → broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presigned: Option<ModeResult>,
}

impl Modes {
    /// The modes that ran, with their names, proxied first.
    #[must_use]
    pub fn present(&self) -> Vec<(&'static str, &ModeResult)> {
        [("proxied", &self.proxied), ("presigned", &self.presigned)]
            .into_iter()
            .filter_map(|(n, m)| m.as_ref().map(|m| (n, m)))
            .collect()
    }
}

/// Both modes at one size of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SweepPoint {
    /// Object size, bytes.
    pub object_size: u64,
    /// The modes at that size.
    pub modes: Modes,
}

/// The sweep's crossover: the smallest size from which presigned's median end-to-end latency is
/// at most proxied's, for it and every larger size.
#[must_use]
pub fn crossover(points: &[SweepPoint]) -> Option<u64> {
    let p50 = |m: &Option<ModeResult>| m.as_ref().and_then(|m| m.latency_us.get("end_to_end")).map(|l| l.p50);
    let wins: Vec<(u64, Option<bool>)> = points
        .iter()
        .map(|p| (p.object_size, p50(&p.modes.presigned).zip(p50(&p.modes.proxied)).map(|(s, x)| s <= x)))
        .collect();
    let mut answer = None;
    for (size, win) in wins.iter().rev() {
        match win {
            Some(true) => answer = Some(*size),
            _ => break,
        }
    }
    answer
}

/// The machine and build.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    /// CPU model name.
    pub cpu_model: String,
    /// Logical cores available.
    pub cores: usize,
    /// Physical memory, bytes.
    pub memory_bytes: u64,
    /// Operating system and kernel.
    pub os: String,
    /// presign-bench version.
    pub version: String,
    /// Git commit of the working tree, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
}

/// One architecture's measurements.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModeResult {
    /// Uploads started.
    pub uploads_attempted: u64,
    /// Uploads the app reported complete.
    pub uploads_ok: u64,
    /// Uploads that failed.
    pub uploads_failed: u64,
    /// Failures by kind (`http_503`, `connect`, `timeout`, `io`, `verify`).
    pub errors: BTreeMap<String, u64>,
    /// Objects read back and compared.
    pub verified: u64,
    /// Reported complete but missing or short in the store.
    pub lost: u64,
    /// Reported complete but with different bytes.
    pub corrupt: u64,
    /// Wall time of the load phase (verification excluded).
    pub duration_ms: u64,
    /// What stopped the load: `count`, `deadline` or `cancelled`.
    pub stopped_by: crate::loadgen::StoppedBy,
    /// What the app tier (proxy or broker) carried during this mode, from its /metrics.
    pub app_tier: AppTier,
    /// Latency per phase, microseconds (open model: from the intended start).
    pub latency_us: BTreeMap<String, LatencySummary>,
    /// Open model only: latency from the actual start (not corrected for coordinated omission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us_uncorrected: Option<BTreeMap<String, LatencySummary>>,
    /// Successful uploads and bytes per second of load.
    pub throughput: Throughput,
    /// Measured app-tier cost of one successful upload (the inputs of `extrapolated`).
    pub per_upload: PerUpload,
    /// `per_upload` × the scenario's target uploads. Extrapolated, not measured.
    pub extrapolated: Extrapolated,
    /// Presigned only: the app-tier bytes of one upload, step by step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_per_upload: Option<PresignSteps>,
    /// Completions and uploads in flight over time.
    pub timeline: TimelineData,
}

/// App-tier counters over one mode (deltas of the server's /metrics, peaks as reported).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AppTier {
    /// Bytes read from clients, headers included.
    pub client_bytes_in: u64,
    /// Bytes written to clients.
    pub client_bytes_out: u64,
    /// Bytes read from the store.
    pub storage_bytes_in: u64,
    /// Bytes written to the store.
    pub storage_bytes_out: u64,
    /// Client connections accepted.
    pub connections: u64,
    /// Most client connections open at once.
    pub peak_connections: u64,
    /// Sum of client connection lifetimes.
    pub connection_seconds: f64,
    /// CPU time of the server process.
    pub cpu_seconds: f64,
    /// Peak resident memory of the server process.
    pub peak_rss_bytes: u64,
    /// Its peak resident memory before the mode started (the idle baseline).
    #[serde(default)]
    pub rss_before_bytes: u64,
    /// App requests answered.
    #[serde(default)]
    pub requests: u64,
    /// Most app requests handled at once.
    #[serde(default)]
    pub peak_requests_in_flight: u64,
    /// Time app requests spent being handled: the busy part of `connection_seconds`
    /// (the rest is keep-alive connections waiting between requests).
    #[serde(default)]
    pub request_seconds: f64,
}

impl AppTier {
    /// Client-facing bytes, both directions.
    #[must_use]
    pub fn client_bytes(&self) -> u64 {
        self.client_bytes_in + self.client_bytes_out
    }

    /// Every app-tier byte, both sides, both directions.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.client_bytes() + self.storage_bytes_in + self.storage_bytes_out
    }
}

/// Rates over the load phase.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Successful uploads per second.
    pub uploads_per_sec: f64,
    /// Payload bytes of successful uploads per second.
    pub bytes_per_sec: f64,
}

/// Measured cost of one successful upload.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PerUpload {
    /// Payload bytes (the object).
    #[serde(default)]
    pub object_bytes: f64,
    /// Client-facing app-tier bytes.
    pub client_bytes: f64,
    /// All app-tier bytes.
    pub app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
}

/// Extrapolation to the scenario's target.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Extrapolated {
    /// How the figures were derived.
    pub basis: String,
    /// The target uploads.
    pub uploads: u64,
    /// Client-facing app-tier bytes.
    pub client_bytes: f64,
    /// All app-tier bytes.
    pub app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
}

/// The presigned flow's app-tier bytes for one upload, by step (averages over successful uploads).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PresignSteps {
    /// Presign request (client → broker), counted on the harness's sockets.
    pub presign_request_bytes: f64,
    /// Presign response (broker → client).
    pub presign_response_bytes: f64,
    /// Complete request.
    pub complete_request_bytes: f64,
    /// Complete response.
    pub complete_response_bytes: f64,
    /// Broker → store (the verification request), counted on the broker's sockets.
    pub store_request_bytes: f64,
    /// Store → broker (headers and the sniffed first bytes).
    pub store_response_bytes: f64,
}

/// Series over the load, one entry per interval.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TimelineData {
    /// Milliseconds per entry.
    pub interval_ms: u64,
    /// Uploads finished in each interval.
    pub completed: Vec<u64>,
    /// Most uploads in flight in each interval.
    pub in_flight_max: Vec<u64>,
}

/// Proxied over presigned, per successful upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    /// Client-facing app-tier bytes per upload, proxied ÷ presigned.
    pub client_bytes_ratio: f64,
    /// All app-tier bytes per upload, proxied ÷ presigned.
    pub app_tier_bytes_ratio: f64,
    /// App-tier CPU seconds per upload, proxied ÷ presigned.
    pub cpu_seconds_ratio: f64,
    /// The inputs.
    pub basis: String,
}

impl Comparison {
    /// Compares two modes' per-upload figures; `None` when either has no successful upload.
    #[must_use]
    pub fn of(proxied: &ModeResult, presigned: &ModeResult) -> Option<Self> {
        let (p, s) = (&proxied.per_upload, &presigned.per_upload);
        if proxied.uploads_ok == 0 || presigned.uploads_ok == 0 || s.client_bytes <= 0.0 || s.app_tier_bytes <= 0.0 {
            return None;
        }
        Some(Self {
            client_bytes_ratio: p.client_bytes / s.client_bytes,
            app_tier_bytes_ratio: p.app_tier_bytes / s.app_tier_bytes,
            cpu_seconds_ratio: if s.cpu_seconds > 0.0 { p.cpu_seconds / s.cpu_seconds } else { 0.0 },
            basis: format!(
                "per successful upload: proxied {:.0} client B / {:.0} app-tier B vs presigned {:.0} client B / {:.0} app-tier B",
                p.client_bytes, p.app_tier_bytes, s.client_bytes, s.app_tier_bytes
            ),
        })
    }
}

/// Writes `results` as pretty JSON to `dir/results.json`.
///
/// # Errors
/// When the directory or file cannot be written.
pub fn write_json(results: &Results, dir: &Path) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("results.json");
    let text = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}

/// The final summary printed by `run --format json`.
#[derive(Clone, Debug, Serialize)]
pub struct JsonSummary {
    /// False when interrupted or a server died.
    pub complete: bool,
    /// Why the run is incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// The report directory.
    pub report_dir: String,
    /// The one-line claim, with its extrapolation labelled.
    pub headline: String,
    /// Per mode.
    pub modes: BTreeMap<String, ModeSummary>,
    /// Proxied over presigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// One mode in the JSON summary.
#[derive(Clone, Debug, Serialize)]
pub struct ModeSummary {
    /// Uploads the app reported complete.
    pub uploads_ok: u64,
    /// Uploads that failed.
    pub uploads_failed: u64,
    /// Objects read back.
    pub verified: u64,
    /// Missing or short.
    pub lost: u64,
    /// Different bytes.
    pub corrupt: u64,
    /// Successful uploads per second.
    pub uploads_per_sec: f64,
    /// End-to-end median, µs.
    pub end_to_end_p50_us: u64,
    /// End-to-end 99th percentile, µs.
    pub end_to_end_p99_us: u64,
    /// Measured app-tier bytes per upload.
    pub app_tier_bytes_per_upload: f64,
    /// Extrapolated app-tier bytes at the target.
    pub extrapolated_app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
    /// App-tier peak RSS.
    pub peak_rss_bytes: u64,
}

/// The JSON summary of `results`, whose report is in `dir`.
#[must_use]
pub fn json_summary(results: &Results, dir: &Path) -> JsonSummary {
    let modes = results
        .modes
        .present()
        .into_iter()
        .map(|(name, m)| {
            let e2e = m.latency_us.get("end_to_end");
            let summary = ModeSummary {
                uploads_ok: m.uploads_ok,
                uploads_failed: m.uploads_failed,
                verified: m.verified,
                lost: m.lost,
                corrupt: m.corrupt,
                uploads_per_sec: m.throughput.uploads_per_sec,
                end_to_end_p50_us: e2e.map_or(0, |l| l.p50),
                end_to_end_p99_us: e2e.map_or(0, |l| l.p99),
                app_tier_bytes_per_upload: m.per_upload.app_tier_bytes,
                extrapolated_app_tier_bytes: m.extrapolated.app_tier_bytes,
                cpu_seconds: m.app_tier.cpu_seconds,
                peak_rss_bytes: m.app_tier.peak_rss_bytes,
            };
            (name.to_owned(), summary)
        })
        .collect();
    JsonSummary {
        complete: results.complete,
        incomplete_reason: results.incomplete_reason.clone(),
        report_dir: dir.display().to_string(),
        headline: render::headline(results),
        modes,
        comparison: results.comparison.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p50: u64) -> ModeResult {
        let mut h = crate::metrics::latency::histogram();
        crate::metrics::latency::record(&mut h, p50);
        ModeResult {
            uploads_attempted: 1,
            uploads_ok: 1,
            uploads_failed: 0,
            errors: BTreeMap::new(),
            verified: 0,
            lost: 0,
            corrupt: 0,
            duration_ms: 1,
            stopped_by: crate::loadgen::StoppedBy::Count,
            app_tier: AppTier::default(),
            latency_us: BTreeMap::from([("end_to_end".to_owned(), LatencySummary::of(&h))]),
            latency_us_uncorrected: None,
            throughput: Throughput::default(),
            per_upload: PerUpload::default(),
            extrapolated: Extrapolated::default(),
            steps_per_upload: None,
            timeline: TimelineData::default(),
        }
    }

    fn point(size: u64, proxied: u64, presigned: u64) -> SweepPoint {
        SweepPoint {
            object_size: size,
            modes: Modes { proxied: Some(mode(proxied)), presigned: Some(mode(presigned)) },
        }
    }

    #[test]
    fn crossover_is_where_presigned_stays_no_worse() {
        let pts = [point(1, 10, 30), point(2, 20, 30), point(3, 40, 35), point(4, 80, 50)];
        assert_eq!(crossover(&pts), Some(3));
        // A win that does not last is no crossover.
        let pts = [point(1, 10, 5), point(2, 20, 30), point(3, 40, 35)];
        assert_eq!(crossover(&pts), Some(3));
        let pts = [point(1, 10, 30), point(2, 20, 30)];
        assert_eq!(crossover(&pts), None);
        assert_eq!(crossover(&[]), None);
    }
}
