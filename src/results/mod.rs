//! The results contract: plain serde data of `results.json` (schema version 3), typed end to end,
//! with units in field names. Depends only on [`crate::scenario`] (the resolved scenario is
//! embedded as itself); everything that measures, plans or renders builds on it.
//!
//! - [`latency`]: HdrHistogram summaries that merge exactly.
//! - [`capacity`]: the capacity model's answer as it is written into results.
//! - `comparison`: proxied over presigned, per successful upload.
//! - [`load`]: reading a results.json of any supported version (versions 1 and 2 are migrated).
//! - [`signing`]: the broker under presign-only load, and the flow over each HTTP version.
//! - [`reads`]: a mode's downloads, and its uploads made in parts.
//! - [`schema`]: the JSON Schema of this layout, generated from these types.

mod app_tier;
pub mod capacity;
mod comparison;
pub mod events;
pub mod latency;
pub mod load;
pub mod reads;
pub mod scan;
pub mod schema;
pub mod signing;
pub mod thresholds;

pub use app_tier::{AppTier, Handshakes, StoreUsage, TlsHandshakes};
pub use capacity::CapacityReport;
pub use comparison::Comparison;
pub use latency::LatencySummary;
pub use load::{LoadError, load};
pub use reads::{CacheReads, DownloadResult, MultipartUse};
pub use signing::{PresignTime, SigningResult, VersionSteps};

use crate::scenario::{Mode, Scenario};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the results.json layout this build writes.
pub const SCHEMA_VERSION: u32 = 3;

/// Everything a run measured.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Results {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The resolved scenario, as the run used it.
    pub scenario: Scenario,
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
    /// What happened during the run that did not stop it (a store node that exited).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<String>,
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
    pub capacity: Option<CapacityReport>,
    /// The scenario's thresholds, evaluated on these results (in file order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<thresholds::ThresholdOutcome>,
}

/// A timed step of an upload or a download; the keys of `latency_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    // No doc comments on the variants: schemars then keeps the map keys closed (see Phase::about).
    Presign = 0,
    Put = 1,
    Complete = 2,
    Upload = 3,
    EndToEnd = 4,
    Resolve = 5,
    Transfer = 6,
    TlsHandshake = 7,
    Checksum = 8,
}

impl Phase {
    /// Every phase, in report order.
    pub const ALL: [Self; 9] = [
        Self::Presign,
        Self::Put,
        Self::Complete,
        Self::Upload,
        Self::EndToEnd,
        Self::Resolve,
        Self::Transfer,
        Self::TlsHandshake,
        Self::Checksum,
    ];
    /// How many phases there are.
    pub const COUNT: usize = Self::ALL.len();

    /// Name in results.json.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Presign => "presign",
            Self::Put => "put",
            Self::Complete => "complete",
            Self::Upload => "upload",
            Self::EndToEnd => "end_to_end",
            Self::Resolve => "resolve",
            Self::Transfer => "transfer",
            Self::TlsHandshake => "tls_handshake",
            Self::Checksum => "checksum",
        }
    }

    /// What the phase times.
    #[must_use]
    pub fn about(self) -> &'static str {
        match self {
            Self::Presign => "presigned: ask the broker for a URL (in parts: start the upload)",
            Self::Put => "presigned: PUT to the store (in parts: every part's URL from the broker, and its PUT)",
            Self::Complete => "presigned: tell the broker it is done",
            Self::Upload => "proxied: the single PUT through the proxy",
            Self::EndToEnd => "both: the whole upload (downloads: the whole download)",
            Self::Resolve => "presigned download: ask the broker for the URL",
            Self::Transfer => "download: the GET that carries the bytes (proxied: through the proxy)",
            Self::TlsHandshake => {
                "with TLS: the handshakes of the connections an upload or download opened (summed per upload; \
                 only uploads that opened one are in it)"
            }
            Self::Checksum => {
                "presigned with `checksum = \"sha256\"`: the client hashing the file before asking for a URL"
            }
        }
    }
}

/// Latency per phase, microseconds.
pub type PhaseLatency = BTreeMap<Phase, LatencySummary>;

/// What stopped a load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoppedBy {
    /// Every planned upload ran.
    Count,
    /// `max_duration` passed first.
    Deadline,
    /// Cancelled (Ctrl-C, or a server died).
    Cancelled,
}

/// Per-mode results.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct Modes {
    /// client → proxy → store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxied: Option<ModeResult>,
    /// client → broker, client → store, client → broker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presigned: Option<ModeResult>,
}

impl Modes {
    /// The result of `mode`, if it ran.
    #[must_use]
    pub fn get(&self, mode: Mode) -> Option<&ModeResult> {
        match mode {
            Mode::Proxied => self.proxied.as_ref(),
            Mode::Presigned => self.presigned.as_ref(),
        }
    }

    /// Stores the result of `mode`.
    pub fn set(&mut self, mode: Mode, result: ModeResult) {
        match mode {
            Mode::Proxied => self.proxied = Some(result),
            Mode::Presigned => self.presigned = Some(result),
        }
    }

    /// The modes that ran, proxied first.
    #[must_use]
    pub fn present(&self) -> Vec<(Mode, &ModeResult)> {
        Mode::ALL.into_iter().filter_map(|m| self.get(m).map(|r| (m, r))).collect()
    }
}

/// Both modes at one size of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
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
    let p50 = |m: Option<&ModeResult>| m.and_then(|m| m.latency_us.get(&Phase::EndToEnd)).map(|l| l.p50);
    let mut answer = None;
    for p in points.iter().rev() {
        let win = p50(p.modes.get(Mode::Presigned)).zip(p50(p.modes.get(Mode::Proxied))).map(|(s, x)| s <= x);
        match win {
            Some(true) => answer = Some(p.object_size),
            _ => break,
        }
    }
    answer
}

/// The machine and build.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
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
    /// The object store's version when the harness started it (`minio --version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// One architecture's measurements.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct ModeResult {
    /// Uploads started.
    pub uploads_attempted: u64,
    /// Uploads the app reported complete.
    pub uploads_ok: u64,
    /// Uploads that failed.
    pub uploads_failed: u64,
    /// Failures by kind (`http_503`, `connect`, `timeout`, `io`, `verify`, `worker_failed`).
    pub errors: BTreeMap<String, u64>,
    /// Objects read back and compared.
    pub verified: u64,
    /// Reported complete but missing or short in the store.
    pub lost: u64,
    /// Reported complete but with different bytes.
    pub corrupt: u64,
    /// Objects under the mode's key prefixes that no completed upload accounts for, counted
    /// after the load (presigned: uploaded but never completed, or unrecorded copies; proxied:
    /// stored without a row). A run that completes every upload leaves zero. Not counted in a
    /// bucket the harness does not own (`endpoint` storage), where others' objects may live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans: Option<u64>,
    /// Wall time of the load phase (verification excluded).
    pub duration_ms: u64,
    /// What stopped the load.
    pub stopped_by: StoppedBy,
    /// What the app tier (proxy or broker) carried during this mode, from its /metrics.
    pub app_tier: AppTier,
    /// The object store's own processes during this mode, when the harness started the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreUsage>,
    /// CPU seconds the load generator itself (the harness process, every thread) used during the
    /// load, verification excluded; summed over shards in a merged run. A client that needs more
    /// CPU than the app tier it measures may be what limits the figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_seconds: Option<f64>,
    /// Latency per phase, microseconds (open model: from the intended start).
    pub latency_us: PhaseLatency,
    /// Open model only: latency from the actual start (not corrected for coordinated omission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us_uncorrected: Option<PhaseLatency>,
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
    /// The uploads made in parts (present when the scenario sets a multipart threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartUse>,
    /// Downloads of the stored objects through this architecture (present with `[downloads]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads: Option<DownloadResult>,
    /// The same objects read through the run's CDN (presigned mode, with `[downloads] cdn`), by
    /// architecture: `presigned-cdn`, `cdn-public`, `cdn-signed`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cdn_reads: BTreeMap<String, DownloadResult>,
    /// Validation by store events (presigned, with `[validation] trigger = "event"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<events::EventResult>,
    /// Malware scanning (with `[validation] scan = "clamav"`, or an infected share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<scan::ScanResult>,
}

impl ModeResult {
    /// End-to-end latency, when any upload finished.
    #[must_use]
    pub fn end_to_end(&self) -> Option<&LatencySummary> {
        self.latency_us.get(&Phase::EndToEnd)
    }
}

/// Rates over the load phase.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Throughput {
    /// Successful uploads per second.
    pub uploads_per_sec: f64,
    /// Payload bytes of successful uploads per second.
    pub bytes_per_sec: f64,
}

/// Measured cost of one successful upload.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct PerUpload {
    /// Payload bytes (the object).
    pub object_bytes: f64,
    /// Client-facing app-tier bytes.
    pub client_bytes: f64,
    /// All app-tier bytes.
    pub app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
}

/// Extrapolation to the scenario's target.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
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
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct PresignSteps {
    /// Presign request (client → broker), counted on the harness's sockets. In parts: the start
    /// and every part's URL request.
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
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TimelineData {
    /// Milliseconds per entry: 100, or a multiple of it for a load long enough to need more than
    /// [`TimelineData::MAX_ENTRIES`] entries.
    pub interval_ms: u64,
    /// Uploads finished in each interval.
    pub completed: Vec<u64>,
    /// Most uploads in flight in each interval.
    pub in_flight_max: Vec<u64>,
}

impl TimelineData {
    /// Most entries a series keeps: 5 minutes at 100 ms. A 28-minute load made a results.json of
    /// 557 kB, mostly its timelines, at a point per 100 ms.
    pub const MAX_ENTRIES: usize = 3_000;

    /// The series merged `k` intervals at a time, for the smallest `k` that leaves at most
    /// [`Self::MAX_ENTRIES`] entries: uploads finished are summed, the most in flight is the
    /// largest of the merged intervals.
    #[must_use]
    pub fn bounded(self) -> Self {
        let len = self.completed.len().max(self.in_flight_max.len());
        let k = len.div_ceil(Self::MAX_ENTRIES).max(1);
        if k == 1 {
            return self;
        }
        Self {
            interval_ms: self.interval_ms * k as u64,
            completed: self.completed.chunks(k).map(|c| c.iter().sum()).collect(),
            in_flight_max: self.in_flight_max.chunks(k).map(|c| c.iter().copied().max().unwrap_or(0)).collect(),
        }
    }
}

/// Writes `results` as pretty JSON to `dir/results.json`.
///
/// # Errors
/// When the directory or file cannot be written.
pub fn write(results: &Results, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("results.json");
    let text = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}

#[cfg(test)]
mod tests;
