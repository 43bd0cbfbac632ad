//! The signing phase's results: the broker under presign-only load against its own `/healthz`
//! ceiling, and whole presigned uploads over each HTTP version side by side.

use super::{LatencySummary, PresignSteps};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The broker under presign-only load, against its own `/healthz` ceiling.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
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
    /// Where a presign's time goes, from the broker's own timers (absent: a broker without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<PresignTime>,
    /// Whole presigned uploads over each HTTP version side by side: their app-tier bytes by step
    /// (empty when none ran).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_http_version: Vec<VersionSteps>,
}

/// Where a presign's time goes: the wall time the broker's handler spent in each of its
/// sections per presign, from the broker's own timers, beside the broker's CPU per presign (all
/// its work: HTTP parsing and writing, routing, layers and the handler). In microseconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct PresignTime {
    /// Presigns timed.
    pub presigns: u64,
    /// Checking the bearer token.
    pub auth_us: f64,
    /// Reading the request body, parsing it and checking it against the policy.
    pub request_us: f64,
    /// Signing the upload id and the SigV4 URL.
    pub sign_us: f64,
    /// Writing the JSON answer.
    pub respond_us: f64,
    /// The broker's CPU per presign over the same load.
    pub cpu_us: f64,
}

/// The presigned flow's app-tier bytes per upload over one HTTP version between the clients and
/// the broker, counted on the sockets (so HPACK's savings are measured, not assumed).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct VersionSteps {
    /// The HTTP version of presign and complete (`"1.1"` or `"2"`; PUTs to the store are HTTP/1.1).
    pub http: crate::scenario::HttpVersion,
    /// Uploads completed.
    pub uploads: u64,
    /// Uploads that failed.
    pub failed: u64,
    /// Size of each upload's object (the bytes by step do not depend on it beyond its digits).
    pub object_size: u64,
    /// Concurrent uploads (over HTTP/2, streams of one connection per load thread).
    pub concurrency: u64,
    /// Bytes per upload by step, averaged over the completed uploads.
    pub steps: PresignSteps,
    /// Presign and complete, both directions: what one upload costs the broker's client side,
    /// on the harness's sockets.
    pub client_bytes_per_upload: f64,
    /// The same, on the broker's client-side sockets (the other end of the same connections).
    pub broker_client_bytes_per_upload: f64,
}
