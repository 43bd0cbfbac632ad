//! The pure results builder: from what a load recorded and the app server's /metrics before and
//! after it, the figures results.json carries (app-tier deltas, per-upload costs, bytes per step,
//! the extrapolation to the target). No I/O, no clock: unit-tested on hand-computed numbers.

use super::verify::ReadBack;
pub use crate::client::job::StepBytes;
use crate::loadgen::{self, Recorder, StoppedBy};
use crate::metrics::{PresignSections, ProcessStats, Snapshot};
use crate::results::reads::{DownloadThroughput, ExtrapolatedDownloads, PerDownload};
use crate::results::{
    AppTier, DownloadResult, Extrapolated, LatencySummary, ModeResult, MultipartUse, PerUpload, Phase, PhaseLatency,
    PresignSteps, PresignTime, SigningResult, StoreUsage, Throughput, TimelineData, VersionSteps,
};
use crate::scenario::{Scenario, Signing};
use hdrhistogram::Histogram;
use std::time::Duration;

/// Whole milliseconds of `d`.
#[must_use]
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What one mode measured.
pub struct Measured {
    /// The merged recorder of the load.
    pub recorder: Recorder,
    /// What stopped the load.
    pub stopped: StoppedBy,
    /// The app server's /metrics before the load.
    pub before: Snapshot,
    /// And after it.
    pub after: Snapshot,
    /// What reading the objects back found.
    pub read_back: ReadBack,
    /// Presigned only: the harness-side bytes of each step.
    pub steps: Option<StepBytes>,
    /// The store's processes before and after the load, when the harness started the store.
    pub store: Option<(ProcessStats, ProcessStats)>,
    /// CPU seconds the load generator used during the load.
    pub client_cpu_seconds: Option<f64>,
    /// The uploads made in parts, when the scenario cuts objects.
    pub multipart: Option<MultipartUse>,
}

/// The app tier's counters over a mode: deltas of counters, peaks as reported after it.
#[must_use]
pub fn app_tier(before: &Snapshot, after: &Snapshot) -> AppTier {
    let count = |a: u64, b: u64| a.saturating_sub(b);
    let secs = |a: f64, b: f64| (a - b).max(0.0);
    AppTier {
        client_bytes_in: count(after.client.bytes_in, before.client.bytes_in),
        client_bytes_out: count(after.client.bytes_out, before.client.bytes_out),
        storage_bytes_in: count(after.storage.bytes_in, before.storage.bytes_in),
        storage_bytes_out: count(after.storage.bytes_out, before.storage.bytes_out),
        connections: count(after.connections, before.connections),
        peak_connections: after.connections_peak,
        connection_seconds: secs(after.connection_seconds, before.connection_seconds),
        cpu_seconds: secs(after.cpu_seconds, before.cpu_seconds),
        peak_rss_bytes: after.peak_rss_bytes,
        rss_before_bytes: before.peak_rss_bytes,
        requests: count(after.requests, before.requests),
        peak_requests_in_flight: after.requests_peak,
        request_seconds: secs(after.request_seconds, before.request_seconds),
        tls: tls_handshakes(before, after),
    }
}

/// The handshakes between two scrapes; `None` when the server has never made or refused one (it
/// speaks no TLS).
fn tls_handshakes(before: &Snapshot, after: &Snapshot) -> Option<crate::results::TlsHandshakes> {
    let side = |h: crate::metrics::Handshakes| crate::results::Handshakes {
        full: h.full,
        resumed: h.resumed,
        failed: h.failed,
        bytes_in: h.bytes.bytes_in,
        bytes_out: h.bytes.bytes_out,
    };
    let (client, storage) = (after.client_tls - before.client_tls, after.storage_tls - before.storage_tls);
    let any = |h: &crate::metrics::Handshakes| h.full + h.resumed + h.failed > 0;
    (any(&after.client_tls) || any(&after.storage_tls))
        .then(|| crate::results::TlsHandshakes { client: side(client), storage: side(storage) })
}

fn summaries(hists: &[Histogram<u64>]) -> PhaseLatency {
    Phase::ALL.iter().zip(hists).filter(|(_, h)| !h.is_empty()).map(|(p, h)| (*p, LatencySummary::of(h))).collect()
}

/// The result of one mode of `scenario`.
#[must_use]
#[allow(clippy::cast_precision_loss)] // byte counts per upload, far below 2^53
pub fn mode_result(scenario: &Scenario, m: Measured) -> ModeResult {
    let rec = m.recorder;
    let app_tier = app_tier(&m.before, &m.after);
    let ok = rec.ok as f64;
    let per = |v: f64| if rec.ok == 0 { 0.0 } else { v / ok };
    let per_upload = PerUpload {
        object_bytes: per(rec.bytes_ok as f64),
        client_bytes: per(app_tier.client_bytes() as f64),
        app_tier_bytes: per(app_tier.total_bytes() as f64),
        cpu_seconds: per(app_tier.cpu_seconds),
    };
    let target = scenario.target_uploads as f64;
    let extrapolated = Extrapolated {
        basis: format!(
            "all app-tier bytes and CPU of the mode / {} successful uploads ({} failed) x {} target uploads",
            rec.ok, rec.failed, scenario.target_uploads
        ),
        uploads: scenario.target_uploads,
        client_bytes: per_upload.client_bytes * target,
        app_tier_bytes: per_upload.app_tier_bytes * target,
        cpu_seconds: per_upload.cpu_seconds * target,
    };
    let steps_per_upload = m.steps.map(|s| PresignSteps {
        presign_request_bytes: per(s.presign.bytes_out as f64),
        presign_response_bytes: per(s.presign.bytes_in as f64),
        complete_request_bytes: per(s.complete.bytes_out as f64),
        complete_response_bytes: per(s.complete.bytes_in as f64),
        store_request_bytes: per(app_tier.storage_bytes_out as f64),
        store_response_bytes: per(app_tier.storage_bytes_in as f64),
    });
    let seconds = rec.elapsed.as_secs_f64().max(1e-9);
    let mut errors = rec.errors.clone();
    if m.read_back.lost + m.read_back.corrupt > 0 {
        errors.insert("verify".into(), m.read_back.lost + m.read_back.corrupt);
    }
    ModeResult {
        uploads_attempted: rec.ok + rec.failed,
        uploads_ok: rec.ok,
        uploads_failed: rec.failed,
        errors,
        verified: m.read_back.verified,
        lost: m.read_back.lost,
        corrupt: m.read_back.corrupt,
        orphans: m.read_back.orphans,
        duration_ms: millis(rec.elapsed),
        stopped_by: m.stopped,
        app_tier,
        store: m.store.map(|(before, after)| StoreUsage {
            cpu_seconds: (after.cpu_seconds - before.cpu_seconds).max(0.0),
            peak_rss_bytes: after.peak_rss_bytes,
        }),
        client_cpu_seconds: m.client_cpu_seconds,
        latency_us: summaries(&rec.corrected),
        latency_us_uncorrected: rec.uncorrected.as_deref().map(summaries),
        throughput: Throughput { uploads_per_sec: ok / seconds, bytes_per_sec: rec.bytes_ok as f64 / seconds },
        per_upload,
        extrapolated,
        steps_per_upload,
        timeline: TimelineData {
            interval_ms: millis(loadgen::TIMELINE_INTERVAL),
            completed: rec.timeline.completed,
            in_flight_max: rec.timeline.in_flight_max,
        }
        .bounded(),
        multipart: m.multipart,
        downloads: None,
        cdn_reads: std::collections::BTreeMap::new(),
        events: None,
        scan: None,
    }
}

/// The downloads of one mode of `scenario`: `rec` their recorder, `before` and `after` the app
/// server's /metrics around them, `per_object` the scenario's reads per stored object.
#[must_use]
#[allow(clippy::cast_precision_loss)] // byte counts per download, far below 2^53
pub fn download_result(
    scenario: &Scenario,
    rec: &Recorder,
    (before, after): (&Snapshot, &Snapshot),
    per_object: f64,
    client_cpu_seconds: Option<f64>,
) -> DownloadResult {
    let app_tier = app_tier(before, after);
    let per = |v: f64| if rec.ok == 0 { 0.0 } else { v / rec.ok as f64 };
    let per_download = PerDownload {
        object_bytes: per(rec.bytes_ok as f64),
        client_bytes: per(app_tier.client_bytes() as f64),
        storage_bytes: per(app_tier.storage_bytes() as f64),
        app_tier_bytes: per(app_tier.total_bytes() as f64),
        cpu_seconds: per(app_tier.cpu_seconds),
        app_tier_requests: per(app_tier.requests as f64),
        origin_bytes: 0.0,
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rounded, non-negative
    let downloads = (scenario.target_uploads as f64 * per_object).round() as u64;
    let target = downloads as f64;
    let extrapolated = ExtrapolatedDownloads {
        basis: format!(
            "all app-tier bytes and CPU of the downloads / {} successful downloads ({} failed) x {} target downloads ({} target uploads x {per_object} per object)",
            rec.ok, rec.failed, downloads, scenario.target_uploads
        ),
        downloads,
        client_bytes: per_download.client_bytes * target,
        app_tier_bytes: per_download.app_tier_bytes * target,
        cpu_seconds: per_download.cpu_seconds * target,
    };
    let seconds = rec.elapsed.as_secs_f64().max(1e-9);
    let corrupt = rec.errors.get("corrupt").copied().unwrap_or(0);
    DownloadResult {
        downloads_attempted: rec.ok + rec.failed,
        downloads_ok: rec.ok,
        downloads_failed: rec.failed,
        errors: rec.errors.clone(),
        // Every download that returned the object's length and status was hashed and compared.
        verified: rec.ok + corrupt,
        corrupt,
        duration_ms: millis(rec.elapsed),
        app_tier,
        client_cpu_seconds,
        latency_us: summaries(&rec.corrected),
        throughput: DownloadThroughput {
            downloads_per_sec: rec.ok as f64 / seconds,
            bytes_per_sec: rec.bytes_ok as f64 / seconds,
        },
        per_download,
        extrapolated,
        cache: None,
    }
}

/// The signing phase's figures: `presigns` and `healthz` are the two sub-phases' recorders,
/// `cpu_seconds` the broker's CPU during the presign sub-phase, `sections` its presign timers
/// over it.
#[must_use]
#[allow(clippy::cast_precision_loss)] // request counts
pub fn signing_result(
    phase: Signing,
    (presigns, healthz): (&Recorder, &Recorder),
    cpu_seconds: f64,
    sections: PresignSections,
) -> SigningResult {
    let per = |seconds: f64| seconds * 1e6 / sections.presigns as f64;
    let time = (sections.presigns > 0).then(|| PresignTime {
        presigns: sections.presigns,
        auth_us: per(sections.seconds[0]),
        request_us: per(sections.seconds[1]),
        sign_us: per(sections.seconds[2]),
        respond_us: per(sections.seconds[3]),
        cpu_us: per(cpu_seconds),
    });
    let rate = |r: &Recorder| r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let (presign_rate, healthz_rate) = (rate(presigns), rate(healthz));
    let e2e = Phase::EndToEnd as usize;
    SigningResult {
        duration_ms: phase.duration_ms,
        concurrency: phase.concurrency,
        broker_requests: presigns.ok,
        broker_errors: presigns.failed,
        broker_requests_per_sec: presign_rate,
        broker_cpu_seconds: cpu_seconds,
        requests_per_cpu_second: if cpu_seconds > 0.0 { presigns.ok as f64 / cpu_seconds } else { 0.0 },
        healthz_requests_per_sec: healthz_rate,
        ratio_to_healthz: if healthz_rate > 0.0 { presign_rate / healthz_rate } else { 0.0 },
        latency_us: LatencySummary::of(&presigns.corrected[e2e]),
        healthz_latency_us: LatencySummary::of(&healthz.corrected[e2e]),
        time,
        by_http_version: Vec::new(),
    }
}

/// The bytes per upload of whole presigned uploads over one HTTP version: `steps` from the
/// harness's sockets, `broker` the broker's counters over the same uploads.
#[must_use]
pub fn version_steps(
    http: crate::scenario::HttpVersion,
    (rec, concurrency, object_size): (&Recorder, u64, u64),
    steps: &StepBytes,
    broker: &AppTier,
) -> VersionSteps {
    #[allow(clippy::cast_precision_loss)] // byte counts
    let per = |v: u64| if rec.ok == 0 { 0.0 } else { v as f64 / rec.ok as f64 };
    let steps = PresignSteps {
        presign_request_bytes: per(steps.presign.bytes_out),
        presign_response_bytes: per(steps.presign.bytes_in),
        complete_request_bytes: per(steps.complete.bytes_out),
        complete_response_bytes: per(steps.complete.bytes_in),
        store_request_bytes: per(broker.storage_bytes_out),
        store_response_bytes: per(broker.storage_bytes_in),
    };
    VersionSteps {
        http,
        uploads: rec.ok,
        failed: rec.failed,
        object_size,
        concurrency,
        client_bytes_per_upload: steps.presign_request_bytes
            + steps.presign_response_bytes
            + steps.complete_request_bytes
            + steps.complete_response_bytes,
        broker_client_bytes_per_upload: per(broker.client_bytes_in + broker.client_bytes_out),
        steps,
    }
}

#[cfg(test)]
mod tests;
