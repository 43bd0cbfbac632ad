//! `presign-bench run`'s engine: stands up storage, broker and proxy as child processes, drives a
//! scenario's uploads through each architecture in turn, reads the objects back, and returns the
//! [`Results`] it wrote to `results.json`.
//!
//! - [`stack`]: starting and stopping the server processes ([`children`]: one child process).
//! - [`phases`]: running the phases (each mode at each sweep size, then the signing phase).
//! - [`build`]: the pure results builder (per-upload, per-step and extrapolated figures).
//! - [`job`], [`http`], [`payload`]: one upload as a client does it, over counted sockets
//!   ([`multipart`]: one presigned upload in parts).
//! - [`verify`]: reading objects back after a mode; `downloads`: a mode's reads (`[downloads]`).
//!
//! Cancellation is a token the caller passes in ([`Options::cancel`]); only the binary's entry
//! point installs signal handlers. Credentials come in through [`Options`], not the environment.

mod build;
pub mod children;
mod context;
mod downloads;
mod environment;
pub mod http;
mod job;
pub mod local;
pub mod multipart;
pub mod part;
pub mod payload;
mod phases;
mod progress;
pub mod stack;
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
    Minio(#[from] crate::storage::minio::MinioError),
    /// The container store did not start, or this build cannot start containers.
    #[error("{0}")]
    Container(String),
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
    /// This run is one shard of a larger one: it runs its share and keeps a [`part::Part`].
    pub shard: Option<ShardRun>,
}

/// Which shard of which run.
#[derive(Clone, Debug)]
pub struct ShardRun {
    /// The share.
    pub shard: part::Shard,
    /// The run's id, the same on every shard.
    pub run_id: String,
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The results, as written.
    pub results: Results,
    /// The report directory.
    pub dir: PathBuf,
    /// A shard's part.
    pub part: Option<part::Part>,
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
    results.thresholds = results::thresholds::evaluate(&results.scenario.thresholds, &results);
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
    let whole = scenario.clone();
    let (scenario, first) = match &options.shard {
        Some(s) => s.shard.split(&scenario),
        None => (scenario, 0),
    };
    let external = options.external.as_ref();
    let mut stack = stack::Stack::start(&scenario, &options.credentials, work.path(), &logs, external).await?;
    let ctx = context::Ctx::new(&scenario, &stack, &options);
    let ctx = if options.shard.is_some() { ctx.sharded(first) } else { ctx };
    let (points, mut stopped) = phases::run_sizes(&ctx, &mut stack).await;
    let modes = points.last().map(|p| p.modes.clone()).unwrap_or_default();
    let sweep = if scenario.sweep.is_empty() { Vec::new() } else { points };
    let mut signing = None;
    if let (None, Some(phase)) = (&stopped, scenario.signing) {
        match phases::run_signing(phase, &ctx, &mut stack).await {
            Ok(result) => signing = Some(result),
            Err(reason) => stopped = Some(reason),
        }
    }
    let incidents = std::mem::take(&mut stack.incidents);
    let store_version = stack.store_version.clone();
    stack.stop().await;
    let environment = environment::environment(store_version);
    let part = options.shard.as_ref().map(|s| part::Part {
        part_version: part::PART_VERSION,
        run_id: s.run_id.clone(),
        shard: s.shard,
        scenario: whole,
        environment: environment.clone(),
        started_unix_ms: unix_ms(started_at),
        ended_unix_ms: unix_ms(SystemTime::now()),
        incomplete_reason: stopped.as_ref().map(ToString::to_string),
        incidents: incidents.clone(),
        modes: ctx.captured(),
    });
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
    });
    results::write(&results, &dir).map_err(io_error(&dir))?;
    Ok(Outcome { results, dir, part })
}

/// What [`client_load`] measured.
#[derive(Clone, Copy, Debug)]
pub struct ClientLoad {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Wall time of the load.
    pub seconds: f64,
    /// CPU seconds this process used meanwhile (the client, as nothing else runs in it).
    pub cpu_seconds: f64,
}

/// The harness's own HTTP client sending `method uri` (with `body`) with `concurrency` requests
/// in flight for `duration`, as in a mode's load: for `calibrate`.
pub async fn client_load(
    method: ::http::Method,
    uri: ::http::Uri,
    body: bytes::Bytes,
    concurrency: u64,
    duration: std::time::Duration,
) -> ClientLoad {
    let job = std::sync::Arc::new(job::Fixed {
        method,
        uri,
        body,
        http: http::Http::new(std::time::Duration::from_secs(30)),
    });
    let load = crate::loadgen::Load {
        pacing: crate::scenario::Pacing::Closed { concurrency },
        count: u64::MAX,
        first: 0,
        max_duration: duration,
    };
    let cpu = crate::metrics::process_stats().cpu_seconds;
    let (rec, _) =
        crate::loadgen::run_on(load, job, CancellationToken::new(), std::sync::Arc::default(), load_threads()).await;
    ClientLoad {
        ok: rec.ok,
        failed: rec.failed,
        seconds: rec.elapsed.as_secs_f64(),
        cpu_seconds: (crate::metrics::process_stats().cpu_seconds - cpu).max(0.0),
    }
}

/// Threads of the harness's load: one per core (see [`crate::loadgen::run_on`]).
#[must_use]
pub fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `t` in Unix milliseconds.
fn unix_ms(t: SystemTime) -> u64 {
    let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}
