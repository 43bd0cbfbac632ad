//! Scenarios: TOML files in `scenarios/` that say what a run executes and which real-world load
//! it stands for. [`Scenario::load`] turns the file plus command-line overrides into a validated
//! [`Scenario`], and every error names the file, line and key (or the flag) before anything starts.

mod downloads;
mod origin;
mod raw;
mod reads;
mod resolve;
mod sections;
#[cfg(test)]
mod tests;
pub mod thresholds;
mod validation;

pub use downloads::{CdnReads, Downloads, Views, default_cache_bytes, default_cookie_ttl};
pub use validation::{Scan, Trigger, Validation};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The scenario used when none is given.
pub const DEFAULT_PATH: &str = "scenarios/default.toml";
/// The broker's and proxy's maximum upload size when the scenario sets none.
pub const DEFAULT_MAX_SIZE: u64 = 100 * 1024 * 1024;
/// Smallest object: room for the content type's magic bytes and a unique per-upload prefix.
pub const MIN_OBJECT_SIZE: u64 = 64;
/// Per-request timeout when the scenario sets none: two minutes.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 120_000;
/// Time bound of each mode's load when the scenario sets none: thirty minutes.
pub const DEFAULT_MAX_DURATION_MS: u64 = 1_800_000;

/// The HTTP version the harness's clients speak to the broker and the proxy (`[app_tier] http`):
/// `"1.1"`, or `"2"` (cleartext, prior knowledge, as on loopback; browsers speak it over TLS).
/// Requests to the store stay HTTP/1.1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HttpVersion {
    /// HTTP/1.1 with kept-alive connections.
    #[default]
    #[serde(rename = "1.1")]
    Http1,
    /// HTTP/2: one multiplexed connection per server, headers compressed by HPACK.
    #[serde(rename = "2")]
    Http2,
}

impl HttpVersion {
    /// Both, HTTP/1.1 first.
    pub const ALL: [Self; 2] = [Self::Http1, Self::Http2];

    /// HTTP/1.1, the default (left out of results.json).
    #[must_use]
    pub fn is_http1(&self) -> bool {
        *self == Self::Http1
    }

    /// How reports name it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http1 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
        }
    }
}

/// An upload architecture.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// client → proxy → store.
    Proxied,
    /// client → broker (URL) → store → broker (complete).
    Presigned,
}

impl Mode {
    /// Both architectures, proxied first (the order of tables and plots).
    pub const ALL: [Self; 2] = [Self::Proxied, Self::Presigned];

    /// The lowercase name used in files and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proxied => "proxied",
            Self::Presigned => "presigned",
        }
    }
}

/// How uploads are started.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Pacing {
    /// A fixed number of uploads in flight; a new one starts when one ends.
    Closed {
        /// Uploads in flight.
        concurrency: u64,
    },
    /// A constant arrival rate; uploads start at their intended times while at most
    /// `max_in_flight` are running, and latency is also reported from the intended start.
    Open {
        /// Uploads started per second.
        rate_per_sec: f64,
        /// Cap on uploads in flight (the scenario's `concurrency`).
        max_in_flight: u64,
    },
}

/// Object sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectSize {
    /// Every object has this size, in bytes.
    Fixed(u64),
    /// Uniformly distributed sizes, in bytes, inclusive, drawn deterministically from the seed.
    Range {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
}

impl ObjectSize {
    /// The largest object this distribution yields.
    #[must_use]
    pub fn max(self) -> u64 {
        match self {
            Self::Fixed(s) => s,
            Self::Range { max, .. } => max,
        }
    }

    /// The mean object size.
    #[must_use]
    pub fn mean(self) -> u64 {
        match self {
            Self::Fixed(s) => s,
            Self::Range { min, max } => min + (max - min) / 2,
        }
    }
}

/// Which objects are read back after each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Every completed upload.
    All,
    /// An evenly spread sample of this many completed uploads.
    Sample(u64),
    /// None.
    None,
}

/// Where objects are stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Storage {
    /// The embedded store, started as a child process.
    Embedded,
    /// MinIO, started by the harness as child processes on 127.0.0.1 (one node, or a distributed,
    /// erasure-coded cluster), with credentials the harness generates.
    Minio {
        /// MinIO server processes.
        nodes: u64,
        /// Drives (directories) per node; a cluster erasure-codes across all of them.
        drives_per_node: u64,
        /// Where the drives live [default: a temporary directory removed after the run].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_dir: Option<PathBuf>,
    },
    /// MinIO in a container that testcontainers starts (build with `--features containers`;
    /// needs a Docker API: Docker, or Podman's service), from an image the user names.
    Container {
        /// The image, `name:tag` (tools/build-images.sh builds one from the installed
        /// binary).
        image: String,
    },
    /// An external S3-compatible endpoint; credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    Endpoint {
        /// Endpoint URL.
        url: String,
        /// Bucket (created if missing).
        bucket: String,
        /// Region used in signatures.
        region: String,
    },
}

/// A store the harness starts itself (`run --storage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageKind {
    /// The embedded s3s-fs store.
    Embedded,
    /// MinIO (installed with docker/install-minio.sh), as the scenario's `[storage]` says or one node.
    Minio,
}

/// The broker-under-presign-load phase: only `POST /v1/uploads`, then only `GET /healthz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Signing {
    /// How long each of the two sub-phases runs, in milliseconds.
    pub duration_ms: u64,
    /// Requests in flight.
    pub concurrency: u64,
}

/// Objects above a size travel in parts (`[run] multipart_threshold`, `part_size`,
/// `parts_in_flight`): presigned, a URL per part and the parts straight to the store; proxied,
/// the proxy streams the body to the store part by part (it gets the same threshold and size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Multipart {
    /// Objects larger than this, in bytes, are uploaded in parts.
    pub threshold_bytes: u64,
    /// Every part but the last, in bytes.
    pub part_size_bytes: u64,
    /// Parts of one upload in flight at once (presigned; the proxy sends its parts one by one).
    pub parts_in_flight: u64,
}

/// Where a run speaks TLS: between the clients and the app tier (`[app_tier] tls`), and to the
/// store the harness starts, from the app tier and from the clients' presigned requests
/// (`[storage] tls`). Each server's certificate is signed by a CA made for the run, and every
/// client of the run trusts that CA and nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tls {
    /// Broker and proxy serve HTTPS.
    pub app_tier: bool,
    /// The store serves HTTPS.
    pub storage: bool,
}

impl Tls {
    /// Neither side speaks TLS.
    #[must_use]
    pub fn is_plain(&self) -> bool {
        !self.app_tier && !self.storage
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// How a simulated client's link behaves (both modes alike).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClientLink {
    /// Upload bandwidth of one upload, bytes per second.
    pub bandwidth_bytes_per_sec: Option<f64>,
    /// Round trip added once per request, milliseconds.
    pub rtt_ms: Option<u64>,
}

impl ClientLink {
    /// The round trip as a duration.
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt_ms.map(Duration::from_millis)
    }
}

/// A validated scenario.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Scenario {
    /// Where it was read from.
    pub source: PathBuf,
    /// Short name, used in report directory names.
    pub name: String,
    /// What it stands for.
    pub description: String,
    /// Architectures to run, in order.
    pub modes: Vec<Mode>,
    /// The real-world number of uploads this run stands for (extrapolation target).
    pub target_uploads: u64,
    /// Uploads executed per mode.
    pub uploads: u64,
    /// Closed or open model.
    pub pacing: Pacing,
    /// Object sizes (with a sweep: the first size of it).
    pub object_size: ObjectSize,
    /// Sizes to run both modes at, ascending; empty without a sweep.
    pub sweep: Vec<u64>,
    /// Content type of every upload.
    pub content_type: String,
    /// Simulated users the uploads are spread over.
    pub users: u64,
    /// Seed of payloads and size draws.
    pub seed: u64,
    /// What is read back.
    pub verify: Verify,
    /// Where objects go.
    pub storage: Storage,
    /// The broker's and proxy's `--max-size`.
    pub max_size: u64,
    /// Per-request timeout, in milliseconds.
    pub request_timeout_ms: u64,
    /// Time bound of each mode's load phase, in milliseconds.
    pub max_duration_ms: u64,
    /// The signing phase, unless disabled.
    pub signing: Option<Signing>,
    /// Simulated client links (bandwidth per upload, round trip per request), in both modes.
    pub client: ClientLink,
    /// Emulated NIC of each app server (broker and proxy alike), bytes per second per direction.
    pub app_tier_nic_bytes_per_sec: Option<f64>,
    /// Web origins whose pages may use the flow from a browser (`[app_tier] cors_origins`): given
    /// to the broker and the proxy as `--cors-origin`, and to the store the harness starts (the
    /// embedded store's `--cors-origin`, MinIO's `MINIO_API_CORS_ALLOW_ORIGIN`). None by default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// The HTTP version of the harness's clients to the app tier (`[app_tier] http`).
    #[serde(default, skip_serializing_if = "HttpVersion::is_http1")]
    pub app_http: HttpVersion,
    /// Where the run speaks TLS (absent: nowhere).
    #[serde(default, skip_serializing_if = "Tls::is_plain")]
    pub tls: Tls,
    /// Uploads above a size in parts, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<Multipart>,
    /// Presigned clients declare each file's SHA-256 (`[run] checksum = "sha256"`): the broker
    /// signs it into the PUT, and the store refuses other bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checksum_sha256: bool,
    /// The share of uploads whose body carries the EICAR test string (`[run] infected_share`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub infected_share: f64,
    /// How uploads are validated after they land (absent: at completion).
    #[serde(default, skip_serializing_if = "Validation::is_default")]
    pub validation: Validation,
    /// Downloads after each mode's uploads, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads: Option<Downloads>,
    /// Pass/fail conditions on the results, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<thresholds::Threshold>,
}

/// Command-line values that replace the file's.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--uploads`
    pub uploads: Option<u64>,
    /// `--concurrency`
    pub concurrency: Option<u64>,
    /// `--rate`
    pub rate: Option<String>,
    /// `--object-size`
    pub object_size: Option<String>,
    /// `--modes`
    pub modes: Option<Vec<Mode>>,
    /// `--storage-endpoint`
    pub storage_endpoint: Option<String>,
    /// `--bucket` (with `--storage-endpoint`).
    pub bucket: Option<String>,
    /// `--storage`
    pub storage: Option<StorageKind>,
    /// `--seed`
    pub seed: Option<u64>,
}

/// A scenario error, naming where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Read {
        /// The path.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A value in the file is wrong.
    #[error("{file}:{line}:{column}: `{key}`: {message}")]
    Value {
        /// The path.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted key, e.g. `run.object_size`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A command-line override is wrong.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl Scenario {
    /// Reads and validates `path`, applying `overrides`.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and key, or the flag.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
        Self::parse(&file, &text, overrides)
    }

    /// Validates scenario `text` read from `file`.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and key, or the flag.
    pub fn parse(file: &str, text: &str, overrides: &Overrides) -> Result<Self, ScenarioError> {
        resolve::parse(file, text, overrides)
    }
}
