//! `presign-bench run`'s engine: stands up storage, broker and proxy as child processes, drives a
//! scenario's uploads through each architecture in turn, reads the objects back, and returns the
//! [`Results`] it wrote to `results.json`.
//!
//! - [`stack`]: starting and stopping the server processes ([`children`]: one child process).
//! - [`stages`]: running the stages of a run (each mode at each sweep size, then the signing phase).
//! - [`build`]: the pure results builder (per-upload, per-step and extrapolated figures).
//! - [`minio`]: MinIO as child processes (one node or a cluster); [`container`](mod@self) with
//!   the `containers` feature: MinIO in a container.
//! - [`verify`]: reading objects back after a mode; `downloads`: a mode's reads (`[downloads]`).
//! - [`live`]: the run so far, about once a second, for a live view (`run --live`).
//! - [`certs`]: a run's TLS material (its own CA, the servers' certificate, the clients' trust).
//!
//! Cancellation is a token the caller passes in ([`Options::cancel`]); only the binary's entry
//! point installs signal handlers. Credentials come in through [`Options`], not the environment.

pub mod build;
pub mod capture;
pub mod cdn;
pub mod cdn_log;
pub mod certs;
pub mod children;
pub mod clamd;
#[cfg(feature = "containers")]
pub mod container;
mod context;
mod downloads;
pub mod environment;
pub mod events;
pub mod live;
pub mod local;
pub mod minio;
mod progress;
pub mod stack;
mod stages;
mod store_container;
pub mod verify;

pub use children::Ready;

use crate::results::{self, Comparison, Results};
use crate::scenario::{Mode, Scenario};
use crate::storage::Credentials;
use crate::storage::client;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// Errors that stop a run before it measures anything.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A server did not start.
    #[error("{name} did not start: {message}")]
    ServerStart {
        /// `storage`, `broker`, `proxy` or `minio-N`.
        name: String,
        /// Its last error line.
        message: String,
    },
    /// The object store is unusable.
    #[error(transparent)]
    Storage(#[from] client::ClientError),
    /// MinIO is missing or did not start.
    #[error(transparent)]
    Minio(#[from] minio::MinioError),
    /// The container store did not start, or this build cannot start containers.
    #[error("{0}")]
    Container(String),
    /// A server's TLS certificate is not one the run trusts (one line naming the endpoint), or
    /// the run's own could not be made.
    #[error("{0}")]
    Tls(String),
    /// The report directory cannot be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HarnessError + '_ {
    move |source| HarnessError::Io { path: path.display().to_string(), source }
}

/// What a run was doing when it stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Uploading in a mode.
    Mode(Mode),
    /// Reading a mode's objects back.
    Verifying(Mode),
    /// Downloading a mode's objects through its architecture.
    Downloading(Mode),
    /// The broker under presign-only load.
    Signing,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mode(m) => write!(f, "the {} mode", m.as_str()),
            Self::Verifying(m) => write!(f, "verifying the {} mode", m.as_str()),
            Self::Downloading(m) => write!(f, "the {} mode's downloads", m.as_str()),
            Self::Signing => f.write_str("the signing phase"),
        }
    }
}

/// Why a run stopped before the end; written into results.json as `incomplete_reason`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM (the caller cancelled the token).
    #[error("interrupted during {0}")]
    Interrupted(Stage),
    /// A server process exited.
    #[error("{exit} during {stage}")]
    ServerExited {
        /// Which server, its status and log.
        exit: String,
        /// What the run was doing.
        stage: Stage,
    },
    /// A server's /metrics could not be read, so the mode's figures would be wrong.
    #[error("cannot read {url}/metrics around {stage}: {message}")]
    Metrics {
        /// The server.
        url: String,
        /// What the run was doing.
        stage: Stage,
        /// Why.
        message: String,
    },
    /// Fresh app servers for a sweep point did not start.
    #[error("restarting the app servers for the {object_size} B sweep point: {message}")]
    Restart {
        /// The sweep point.
        object_size: u64,
        /// Why.
        message: String,
    },
}

/// How a run is driven and presented.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Report directory (default [`default_dir`]).
    pub out: Option<PathBuf>,
    /// Show a progress bar per mode.
    pub progress: bool,
    /// Cancelled to stop the run (Ctrl-C); a partial report is still written.
    pub cancel: CancellationToken,
    /// S3 credentials for the store (the embedded store is started with them).
    pub credentials: Credentials,
    /// A broker and a proxy already running (`run --broker-url --proxy-url`).
    pub external: Option<stack::External>,
    /// This run is a share of a larger (sharded) one whose uploads are numbered from
    /// this one: each mode's raw measurements are kept ([`Outcome::captured`]) and the
    /// scenario's thresholds are left to the merge of the whole.
    pub first_upload: Option<u64>,
    /// Publish the run so far to this feed while it runs (`run --live`).
    pub live: Option<live::Feed>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The results, as written.
    pub results: Results,
    /// The report directory.
    pub dir: PathBuf,
    /// A share's raw measurements per mode (with [`Options::first_upload`]).
    pub captured: Option<Vec<capture::Captured>>,
    /// When the run started.
    pub started_at: SystemTime,
    /// When it ended.
    pub ended_at: SystemTime,
    /// The run's working directory (the embedded store's objects, the servers' databases),
    /// removed when the outcome is dropped: after the caller has rendered the report, because
    /// removing a million-upload run's files takes minutes.
    pub work: tempfile::TempDir,
}

/// What a run (or a merge of shards) measured, before the figures derived from it.
pub struct Assembly {
    /// The scenario as it ran.
    pub scenario: Scenario,
    /// Where.
    pub environment: results::Environment,
    /// When it started.
    pub started_at: SystemTime,
    /// Its wall time.
    pub duration_ms: u64,
    /// Why it stopped early, if it did.
    pub stopped: Option<String>,
    /// What happened that did not stop it.
    pub incidents: Vec<String>,
    /// Per architecture.
    pub modes: results::Modes,
    /// The signing phase.
    pub signing: Option<results::SigningResult>,
    /// The sweep points.
    pub sweep: Vec<results::SweepPoint>,
    /// How the scenario's thresholds are judged.
    pub thresholds: Thresholds,
}

/// How a run's thresholds are judged: thresholds belong to the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thresholds {
    /// A whole run on one machine: every threshold judged.
    Whole,
    /// The merge of a sharded run: judged, except metrics a sharded run never produces (the
    /// signing phase, sweeps), which are not applicable.
    Merged,
    /// One shard's share: not judged here (the merge judges the whole run).
    LeftToMerge,
}

/// The results of `a`, with the comparison, the capacity model's answer and the thresholds.
#[must_use]
pub fn assemble(a: Assembly) -> Results {
    let comparison = match (&a.modes.proxied, &a.modes.presigned) {
        (Some(p), Some(s)) => Comparison::of(p, s),
        _ => None,
    };
    let mut results = Results {
        schema_version: results::SCHEMA_VERSION,
        environment: a.environment,
        incidents: a.incidents,
        started_at: humantime::format_rfc3339_seconds(a.started_at).to_string(),
        duration_ms: a.duration_ms,
        complete: a.stopped.is_none(),
        incomplete_reason: a.stopped,
        modes: a.modes,
        comparison,
        signing: a.signing,
        sweep_crossover_bytes: results::crossover(&a.sweep),
        sweep: a.sweep,
        capacity: None,
        thresholds: Vec::new(),
        scenario: a.scenario,
    };
    let setting = crate::capacity::Setting::for_results(&results);
    results.capacity = Some(crate::capacity::build(&setting, Some(&results)));
    results.thresholds = match a.thresholds {
        Thresholds::LeftToMerge => Vec::new(),
        kind => crate::gate::thresholds::evaluate(&results.scenario.thresholds, &results, kind == Thresholds::Merged),
    };
    results
}

/// `reports/<name>-<UTC timestamp>`.
#[must_use]
pub fn default_dir(name: &str, at: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(at).to_string().replace(['-', ':'], "");
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

/// Runs `scenario` and writes `results.json`.
///
/// # Errors
/// [`HarnessError`] when the servers cannot start or the report cannot be written. A run that is
/// interrupted or loses a server still returns `Ok` with `complete: false`.
pub async fn run(scenario: Scenario, options: Options) -> Result<Outcome, HarnessError> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let dir = options.out.clone().unwrap_or_else(|| default_dir(&scenario.name, started_at));
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io_error(&logs))?;
    let work =
        tempfile::Builder::new().prefix("presign-bench-run").tempdir().map_err(io_error(Path::new("$TMPDIR")))?;
    let external = options.external.as_ref();
    let mut stack = stack::Stack::start(&scenario, &options.credentials, work.path(), &logs, external).await?;
    if let Some(feed) = &options.live {
        feed.begin(&scenario, environment::environment(stack.store_version.clone()));
    }
    let ctx = context::RunContext::new(&scenario, &stack, &options);
    let ctx = match options.first_upload {
        Some(first) => ctx.sharded(first),
        None => ctx,
    };
    let (points, mut stopped) = stages::run_sizes(&ctx, &mut stack).await;
    let modes = points.last().map(|p| p.modes.clone()).unwrap_or_default();
    let sweep = if scenario.sweep.is_empty() { Vec::new() } else { points };
    let mut signing = None;
    if let (None, Some(phase)) = (&stopped, scenario.signing) {
        match stages::run_signing(phase, &ctx, &mut stack).await {
            Ok(result) => signing = Some(result),
            Err(reason) => stopped = Some(reason),
        }
    }
    let incidents = std::mem::take(&mut stack.incidents);
    let store_version = stack.store_version.clone();
    stack.stop().await;
    let environment = environment::environment(store_version);
    let captured = options.first_upload.map(|_| ctx.captured());
    let results = assemble(Assembly {
        scenario,
        environment,
        started_at,
        duration_ms: build::millis(clock.elapsed()),
        stopped: stopped.map(|r| r.to_string()),
        incidents,
        modes,
        signing,
        sweep,
        thresholds: if options.first_upload.is_some() { Thresholds::LeftToMerge } else { Thresholds::Whole },
    });
    results::write(&results, &dir).map_err(io_error(&dir))?;
    Ok(Outcome { results, dir, captured, started_at, ended_at: SystemTime::now(), work })
}

/// `t` in Unix milliseconds.
#[must_use]
pub fn unix_ms(t: SystemTime) -> u64 {
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}
