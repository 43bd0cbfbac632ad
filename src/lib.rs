//! presign-bench: proves, with real servers and real bytes, why large files should not be
//! proxied through application servers.
//!
//! Module map:
//! - [`cli`]: the command line (clap derive); help text comes from the doc comments.
//! - [`storage`]: the embedded S3-compatible store (s3s-fs) and the S3 client the app tier uses.
//! - [`app`]: what the broker and the proxy share: configuration, auth, validation, post-upload
//!   verification, the SQLite metadata store and the JSON error type.
//! - [`broker`]: the reference presign broker (presigned PUT/GET URLs, completion, downloads).
//! - [`proxy`]: the streaming upload proxy (the same rules, but every byte crosses the app tier).
//! - [`server`]: the shared accept loop: counting listener, graceful shutdown, readiness line.
//! - [`metrics`]: app-tier byte and connection counters, process CPU/RSS, Prometheus text.
//! - [`shaping`]: link emulation: client bandwidth and round trips, an app server's NIC.
//! - [`units`]: parsing of sizes (`10MiB`) and durations (`10m`) used by flags and scenarios.

pub mod app;
pub mod broker;
pub mod capacity;
pub mod cli;
pub mod harness;
pub mod loadgen;
pub mod metrics;
pub mod plan;
pub mod proxy;
pub mod report;
pub mod scenario;
pub mod server;
pub mod shaping;
pub mod signbench;
pub mod storage;
pub mod units;
