//! A mode's raw measurements, kept when a run is a share of a larger one: histograms, counts,
//! per-upload records, and the app server's `/metrics` before and after the load with when they
//! were read, raw enough for the merge of a sharded run to add shares up exactly.

use super::build::{Measured, StepBytes};
use crate::loadgen::{Done, StoppedBy};
use crate::metrics::Snapshot;
use crate::results::latency::encode;
use crate::results::{MultipartUse, Phase};
use crate::scenario::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One scrape of an app server's `/metrics`, and when it was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scrape {
    /// Unix time of the scrape, milliseconds.
    pub at_unix_ms: u64,
    /// What it read.
    pub metrics: Snapshot,
}

/// What one share of a run measured in one mode, raw enough to be added up exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    /// The architecture.
    pub mode: Mode,
    /// When the load started, Unix milliseconds.
    pub started_unix_ms: u64,
    /// How long it ran, microseconds.
    pub elapsed_us: u64,
    /// What stopped it.
    pub stopped_by: StoppedBy,
    /// Latency per phase (corrected in the open model), V2+DEFLATE base64 HdrHistograms.
    pub histograms: BTreeMap<Phase, String>,
    /// Open model only: latency from the actual start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrected: Option<BTreeMap<Phase, String>>,
    /// Uploads that succeeded.
    pub ok: u64,
    /// Uploads that failed.
    pub failed: u64,
    /// Payload bytes of the successful uploads.
    pub bytes_ok: u64,
    /// Load failures by kind (verification's are in `lost` and `corrupt`).
    pub errors: BTreeMap<String, u64>,
    /// Each successful upload: number, size, key, and its latency per phase.
    pub records: Vec<Done>,
    /// Uploads finished per timeline interval since `started_unix_ms`.
    pub timeline_completed: Vec<u64>,
    /// Most uploads in flight per interval.
    pub timeline_in_flight_max: Vec<u64>,
    /// The app server's `/metrics` before the load.
    pub before: Scrape,
    /// And after it.
    pub after: Scrape,
    /// Objects read back and compared.
    pub verified: u64,
    /// Reported complete but missing or short.
    pub lost: u64,
    /// Reported complete but different.
    pub corrupt: u64,
    /// Presigned only: the client-facing bytes of each step, on the shard's sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepBytes>,
    /// CPU seconds the shard's load generator used during the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_seconds: Option<f64>,
    /// The shard's uploads made in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartUse>,
}

fn encoded(hists: &[hdrhistogram::Histogram<u64>]) -> BTreeMap<Phase, String> {
    Phase::ALL.iter().zip(hists).filter(|(_, h)| !h.is_empty()).map(|(p, h)| (*p, encode(h))).collect()
}

impl Captured {
    /// The raw form of what `m` measured in `mode`, its load started at `started_unix_ms`, its
    /// scrapes read at `scraped` (before, after).
    #[must_use]
    pub fn of(mode: Mode, started_unix_ms: u64, m: &Measured, scraped: (u64, u64)) -> Self {
        let rec = &m.recorder;
        Self {
            mode,
            started_unix_ms,
            elapsed_us: u64::try_from(rec.elapsed.as_micros()).unwrap_or(u64::MAX),
            stopped_by: m.stopped,
            histograms: encoded(&rec.corrected),
            uncorrected: rec.uncorrected.as_deref().map(encoded),
            ok: rec.ok,
            failed: rec.failed,
            bytes_ok: rec.bytes_ok,
            errors: rec.errors.clone(),
            records: rec.done.clone(),
            timeline_completed: rec.timeline.completed.clone(),
            timeline_in_flight_max: rec.timeline.in_flight_max.clone(),
            before: Scrape { at_unix_ms: scraped.0, metrics: m.before },
            after: Scrape { at_unix_ms: scraped.1, metrics: m.after },
            verified: m.read_back.verified,
            lost: m.read_back.lost,
            corrupt: m.read_back.corrupt,
            steps: m.steps,
            client_cpu_seconds: m.client_cpu_seconds,
            multipart: m.multipart,
        }
    }
}
