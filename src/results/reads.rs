//! Reads and parts: a mode's downloads (`[downloads]`), measured as its uploads are, and how many
//! of its uploads went in parts.

use super::{AppTier, PhaseLatency};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The uploads of a mode that went in parts.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct MultipartUse {
    /// Uploads made in parts.
    pub uploads: u64,
    /// Their parts.
    pub parts: u64,
    /// Part attempts that failed and were sent again alone (presigned; the proxy cannot resend a
    /// part it has streamed, so a failure there fails the upload).
    pub part_retries: u64,
}

/// One architecture's downloads of the objects it stored: proxied, `GET` through the proxy;
/// presigned, the broker's presigned GET URL then a `GET` to the store.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct DownloadResult {
    /// Downloads started.
    pub downloads_attempted: u64,
    /// Downloads that returned the whole object.
    pub downloads_ok: u64,
    /// Downloads that failed.
    pub downloads_failed: u64,
    /// Failures by kind (`http_404`, `timeout`, `io`, `corrupt`, …).
    pub errors: BTreeMap<String, u64>,
    /// Downloads whose bytes were hashed and compared with what was uploaded (all of them).
    pub verified: u64,
    /// Downloads whose SHA-256 or length differed.
    pub corrupt: u64,
    /// Wall time of the downloads.
    pub duration_ms: u64,
    /// What the app tier (proxy or broker) carried during the downloads, from its /metrics.
    pub app_tier: AppTier,
    /// CPU seconds the load generator used during the downloads (it hashes every byte).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_seconds: Option<f64>,
    /// Latency per phase, microseconds: `resolve` (presigned), `transfer`, `end_to_end`.
    pub latency_us: PhaseLatency,
    /// Successful downloads and bytes per second.
    pub throughput: DownloadThroughput,
    /// Measured app-tier cost of one successful download (the inputs of `extrapolated`).
    pub per_download: PerDownload,
    /// `per_download` × the target's downloads. Extrapolated, not measured.
    pub extrapolated: ExtrapolatedDownloads,
    /// Through a CDN: what its cache did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheReads>,
}

/// What a CDN's cache did over one architecture's reads.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CacheReads {
    /// Views the cache answered from its copy (`X-Cache: HIT`).
    pub hits: u64,
    /// Views it answered any other way (a miss: it asked the store).
    pub misses: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
    /// Distinct URLs (path and query: the cache's key) the views asked the cache for. Only a
    /// URL's views after its first can hit, so hits ≤ views − distinct URLs. A presigned URL
    /// carries its signing second: views of one object get the same URL only within a second.
    #[serde(default)]
    pub distinct_urls: u64,
    /// The hit ratio in each twentieth of the views, in order (how the cache warms up).
    pub hit_ratio_course: Vec<f64>,
    /// Requests the cache sent to the store (its access log).
    pub origin_requests: u64,
    /// Bytes between the cache and the store: HTTP requests and responses as nginx counts them
    /// on its side of the origin connection (`$upstream_bytes_sent` + `_received`).
    pub origin_bytes: u64,
    /// Origin requests per successful view.
    pub origin_requests_per_view: f64,
    /// Origin bytes per successful view.
    pub origin_bytes_per_view: f64,
    /// Bytes the cache sent to viewers (nginx's `$bytes_sent`).
    pub cache_bytes_sent: u64,
    /// Viewer sessions the broker signed cookies for (`cdn-signed`).
    pub sessions: u64,
}

/// Rates over the downloads.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct DownloadThroughput {
    /// Successful downloads per second.
    pub downloads_per_sec: f64,
    /// Object bytes of successful downloads per second.
    pub bytes_per_sec: f64,
}

/// Measured app-tier cost of one successful download.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct PerDownload {
    /// Object bytes downloaded.
    pub object_bytes: f64,
    /// App-tier bytes on its client side (requests in, answers out).
    pub client_bytes: f64,
    /// App-tier bytes on its storage side.
    pub storage_bytes: f64,
    /// All app-tier bytes.
    pub app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
    /// Requests the app tier answered.
    #[serde(default)]
    pub app_tier_requests: f64,
    /// Bytes between a CDN and the store (CDN reads; 0 otherwise).
    #[serde(default)]
    pub origin_bytes: f64,
}

/// The downloads' extrapolation to the scenario's target.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ExtrapolatedDownloads {
    /// How the figures were derived.
    pub basis: String,
    /// Target downloads: target uploads × downloads per object.
    pub downloads: u64,
    /// Client-facing app-tier bytes.
    pub client_bytes: f64,
    /// All app-tier bytes.
    pub app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
}
