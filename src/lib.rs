//! presign-bench: proves, with real servers and real bytes, why large files should not be
//! proxied through application servers.
//!
//! Module map, in layers: each may use the layers below it, never one above (`tests/layers.rs`
//! checks this and that no two modules import each other).
//!
//! **Data** (bottom):
//! - [`units`]: parsing sizes (`10MiB`), durations (`10m`), rates, bandwidths and content types.
//! - [`human`]: numbers for people (bytes, durations, counts, rates, ratios), never in e-notation.
//! - [`columns`]: plain-text tables, padded into columns (the one function every table uses).
//! - [`tls`]: certificates (PEM files, or a CA made for one run) and the rustls configurations of
//!   servers and clients.
//! - [`parts`]: S3's size bounds and how an object is cut into parts (multipart uploads).
//! - [`scenario`]: scenario TOML resolved into a validated [`scenario::Scenario`].
//! - [`results`]: the results.json contract (typed, versioned, with a JSON Schema).
//! - [`capacity`]: the capacity model (pure) and its inputs.
//! - [`sigv4`]: the SigV4 presigner (pure) and its `aws-sigv4` yardstick.
//! - [`gate`]: what CI decides: thresholds judged, baseline against current (`compare`), JUnit,
//!   GitHub step summary and annotations, and whether a run passed.
//!
//! **Servers and harness** (middle):
//! - [`metrics`]: socket byte and connection counters, process CPU/RSS, `/metrics` as typed data.
//! - [`shaping`]: link emulation: client bandwidth and round trips, an app server's NIC.
//! - [`server`]: the shared accept loop: counting listener, graceful shutdown, readiness line.
//! - [`storage`]: the embedded S3-compatible store (s3s-fs) and the app tier's S3 client.
//! - [`app`]: what broker and proxy share: configuration, auth, signed claims, policy,
//!   post-upload checks, the SQLite metadata store and the JSON error type.
//! - [`broker`]: the reference presign broker (presigned PUT/GET URLs, completion, downloads).
//! - [`proxy`]: the streaming upload proxy (the same rules, but every byte crosses the app tier).
//! - [`loadgen`]: one worker loop; pacing and stop conditions as data; per-worker recorders.
//! - [`client`]: the one HTTP client (pooled, one-shot) and the upload and download flows.
//! - [`harness`]: the engine of `run`: server processes (MinIO too), stages, the pure results
//!   builder.
//! - [`shard`]: sharded runs: shard arithmetic, the shard file, and the exact merge.
//!
//! **Rendering and commands** (top):
//! - [`report`]: plots, `summary.md`, `report.html`, tables and JSON summaries.
//! - [`live`]: the live view of a run (`run --live`): its page and the run so far, rendered.
//! - [`run`], [`plan`], [`signbench`], [`compare`], [`merge`]: the `run`, `plan`, `sign-bench`,
//!   `compare` and `merge` (a sharded run's shard files into one report) commands; [`audit`]: attacks the presigned flow rule by rule; [`demo`]: the flow in a
//!   browser, both ways, bytes side by side; [`calibrate`]: the harness's client against wrk and
//!   oha; [`exit`]: the exit codes.
//! - [`cli`]: clap structs and dispatch.

pub mod app;
pub mod audit;
pub mod broker;
pub mod calibrate;
pub mod capacity;
pub mod cli;
pub mod client;
pub mod columns;
pub mod compare;
pub mod demo;
pub mod exit;
pub mod gate;
pub mod harness;
pub mod human;
pub mod live;
pub mod loadgen;
pub mod merge;
pub mod metrics;
pub mod parts;
pub mod plan;
pub mod proxy;
pub mod report;
pub mod results;
pub mod run;
pub mod scenario;
pub mod server;
pub mod shaping;
pub mod shard;
pub mod signbench;
pub mod sigv4;
pub mod storage;
pub mod tls;
pub mod units;
