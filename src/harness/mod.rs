//! `presign-bench run`: stands up storage, broker and proxy as child processes, drives a
//! scenario's uploads through each architecture in turn, reads the objects back, and writes
//! `results.json` with what the app tier carried and how long uploads took.

mod children;
mod environment;
pub mod http;
mod job;
pub mod payload;
mod progress;
pub mod verify;

use crate::loadgen::{self, Job, Phase, Plan, Recorder, StoppedBy};
use crate::metrics::latency::LatencySummary;
use crate::report::{
    self, AppTier, Comparison, Extrapolated, ModeResult, Modes, PerUpload, PresignSteps, Results, Throughput,
};
use crate::scenario::{Mode, ObjectSize, Scenario, Storage};
use crate::storage::client::{self, S3Target};
use crate::storage::{Credentials, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
use children::Server;
use payload::Payload;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// Errors that stop a run before it measures anything.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A server did not start.
    #[error("{name} did not start: {message}")]
    ServerStart {
        /// `storage`, `broker` or `proxy`.
        name: &'static str,
        /// Its last error line.
        message: String,
    },
    /// The object store is unusable.
    #[error(transparent)]
    Storage(#[from] client::ClientError),
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

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The results, as written.
    pub results: Results,
    /// The report directory.
    pub dir: PathBuf,
}

/// `reports/<name>-<UTC timestamp>`.
#[must_use]
pub fn default_dir(name: &str, at: SystemTime) -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(at).to_string().replace(['-', ':'], "");
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

/// The servers of a run and how to reach the store.
struct Stack {
    servers: Vec<Server>,
    /// How to (re)start the broker and the proxy.
    apps: AppSpec,
    broker: String,
    proxy: String,
    target: S3Target,
    verifier: aws_sdk_s3::Client,
    secret: String,
}

/// How a run presents itself.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Report directory (default [`default_dir`]).
    pub out: Option<PathBuf>,
    /// Show a progress bar per mode.
    pub progress: bool,
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
    let interrupt = interrupt_token();
    let work =
        tempfile::Builder::new().prefix("presign-bench-run").tempdir().map_err(io_error(Path::new("$TMPDIR")))?;
    let mut stack = start_stack(&scenario, work.path(), &logs).await?;
    let payload = Arc::new(Payload::new(scenario.seed, &scenario.content_type, scenario.object_size));
    let tokens = mint_tokens(&scenario, &stack.secret);

    let base = ModeCtx {
        scenario: &scenario,
        payload: &payload,
        tokens: &tokens,
        interrupt: &interrupt,
        progress: options.progress,
    };
    let (points, mut incomplete) = run_sizes(&base, &mut stack).await;
    let modes = points.last().map(|p| p.modes.clone()).unwrap_or_default();
    let sweep = if scenario.sweep.is_empty() { Vec::new() } else { points };
    let ctx = base;
    let mut signing = None;
    if let (None, Some(phase)) = (&incomplete, scenario.signing) {
        let (result, reason) = run_signing(phase, &ctx, &mut stack).await;
        signing = result;
        incomplete = reason;
    }
    futures_util::future::join_all(stack.servers.into_iter().map(Server::stop)).await;
    let comparison = match (&modes.proxied, &modes.presigned) {
        (Some(p), Some(s)) => Comparison::of(p, s),
        _ => None,
    };
    let mut results = Results {
        schema_version: report::SCHEMA_VERSION,
        scenario: serde_json::to_value(&scenario).unwrap_or_default(),
        environment: environment::environment(),
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        duration_ms: millis(clock.elapsed()),
        complete: incomplete.is_none(),
        incomplete_reason: incomplete,
        modes,
        comparison,
        signing,
        sweep_crossover_bytes: report::crossover(&sweep),
        sweep,
        capacity: None,
    };
    let setting = crate::plan::Setting::for_results(&results);
    results.capacity = Some(crate::plan::build(&setting, Some(&results)));
    report::write_json(&results, &dir).map_err(io_error(&dir))?;
    Ok(Outcome { results, dir })
}

/// Runs every mode at each size of the sweep (or once at the scenario's sizes); stops at the
/// first interruption or dead server and says why.
async fn run_sizes(base: &ModeCtx<'_>, stack: &mut Stack) -> (Vec<report::SweepPoint>, Option<String>) {
    let scenario = base.scenario;
    let sizes: Vec<Option<u64>> =
        if scenario.sweep.is_empty() { vec![None] } else { scenario.sweep.iter().copied().map(Some).collect() };
    let mut points = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        if let (Some(bytes), true) = (size, i > 0)
            && let Err(e) = start_apps(stack, &format!("-{bytes}")).await
        {
            return (points, Some(format!("restarting the app servers for the {bytes} B sweep point: {e}")));
        }
        let (point, payload) = match size {
            None => (scenario.clone(), base.payload.clone()),
            Some(bytes) => {
                let at_size = Scenario { object_size: ObjectSize::Fixed(bytes), ..scenario.clone() };
                let payload = Arc::new(Payload::new(scenario.seed, &scenario.content_type, at_size.object_size));
                (at_size, payload)
            }
        };
        let ctx = ModeCtx { scenario: &point, payload: &payload, ..*base };
        let mut modes = Modes::default();
        for &mode in &scenario.modes {
            let of = size.map(|b| format!(" of {}", crate::units::format_size(b))).unwrap_or_default();
            tracing::info!("{} mode: {} uploads{of}", mode.as_str(), scenario.uploads);
            let (result, reason) = run_mode(mode, &ctx, stack).await;
            match mode {
                Mode::Proxied => modes.proxied = Some(result),
                Mode::Presigned => modes.presigned = Some(result),
            }
            if reason.is_some() {
                points.push(report::SweepPoint { object_size: size.unwrap_or(0), modes });
                return (points, reason);
            }
        }
        points.push(report::SweepPoint { object_size: size.unwrap_or(0), modes });
    }
    (points, None)
}

/// Cancelled on Ctrl-C or SIGTERM.
fn interrupt_token() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {}
        }
        tracing::warn!("interrupted: stopping the load and writing a partial report");
        t.cancel();
    });
    token
}

async fn start_stack(scenario: &Scenario, work: &Path, logs: &Path) -> Result<Stack, HarnessError> {
    let mut servers = Vec::new();
    let env_or = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let credentials = Credentials {
        access_key: env_or("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY),
        secret_key: env_or("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_KEY),
    };
    let creds_env = vec![
        ("AWS_ACCESS_KEY_ID", credentials.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_key.clone()),
    ];
    let target = match &scenario.storage {
        Storage::Embedded => {
            let data = work.join("store");
            let args = vec!["--listen".into(), "127.0.0.1:0".into(), "--data-dir".into(), data.display().to_string()];
            let store = Server::start("storage", &args, &creds_env, logs.join("storage.log")).await?;
            let endpoint = store.url.clone();
            servers.push(store);
            S3Target { endpoint, region: "us-east-1".into(), bucket: "presign-bench".into(), credentials }
        }
        Storage::Endpoint { url, bucket, region } => {
            S3Target { endpoint: url.clone(), region: region.clone(), bucket: bucket.clone(), credentials }
        }
    };
    let verifier = client::build(&target, crate::metrics::Meter::new())?;
    client::ensure_bucket(&verifier, &target).await?;
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let mut env: Vec<(&'static str, String)> = creds_env;
    env.push(("PRESIGN_BENCH_TOKEN_SECRET", secret.clone()));
    let args = |db: &str| -> Vec<String> {
        let mut args: Vec<String> = [
            "--listen",
            "127.0.0.1:0",
            "--s3-endpoint",
            &target.endpoint,
            "--bucket",
            &target.bucket,
            "--region",
            &target.region,
            "--allowed-types",
            &scenario.content_type,
            "--max-size",
            &scenario.max_size.to_string(),
            "--db",
            &work.join(db).display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        if let Some(nic) = scenario.app_tier_nic_bytes_per_sec {
            args.extend(["--nic".to_owned(), format!("{nic}B/s")]);
        }
        args
    };
    let apps =
        AppSpec { env, broker_args: args("broker.sqlite3"), proxy_args: args("proxy.sqlite3"), logs: logs.to_owned() };
    let mut stack = Stack { servers, apps, broker: String::new(), proxy: String::new(), target, verifier, secret };
    start_apps(&mut stack, "").await?;
    Ok(stack)
}

/// How the broker and the proxy are started.
struct AppSpec {
    env: Vec<(&'static str, String)>,
    broker_args: Vec<String>,
    proxy_args: Vec<String>,
    logs: PathBuf,
}

/// Starts (or, after stopping the running ones, restarts) the broker and the proxy; `label` names
/// their log files (`broker<label>.log`). Fresh processes give each sweep point its own peaks.
async fn start_apps(stack: &mut Stack, label: &str) -> Result<(), HarnessError> {
    let (apps, keep): (Vec<Server>, Vec<Server>) =
        std::mem::take(&mut stack.servers).into_iter().partition(|s| s.name != "storage");
    stack.servers = keep;
    futures_util::future::join_all(apps.into_iter().map(Server::stop)).await;
    let a = &stack.apps;
    let broker = Server::start("broker", &a.broker_args, &a.env, a.logs.join(format!("broker{label}.log"))).await?;
    let proxy = Server::start("proxy", &a.proxy_args, &a.env, a.logs.join(format!("proxy{label}.log"))).await?;
    stack.broker.clone_from(&broker.url);
    stack.proxy.clone_from(&proxy.url);
    stack.servers.push(broker);
    stack.servers.push(proxy);
    Ok(())
}

fn mint_tokens(scenario: &Scenario, secret: &str) -> Vec<String> {
    let tokens = crate::app::auth::Tokens::new(secret.as_bytes());
    // Long enough for every load of the run: each mode at each sweep size, and the signing phase.
    let loads = u32::try_from(scenario.modes.len() * scenario.sweep.len().max(1) + 2).unwrap_or(u32::MAX);
    let ttl = Duration::from_millis(scenario.max_duration_ms) * loads + Duration::from_secs(3600);
    (0..scenario.users).map(|u| tokens.mint(&format!("user-{u}"), ttl).expect("generated user ids are valid")).collect()
}

/// The clients of one mode: kept so their meters can be read after the load.
enum Clients {
    Proxied(Arc<job::Proxied>),
    Presigned(Arc<job::Presigned>),
}

fn clients(mode: Mode, scenario: &Scenario, stack: &Stack, payload: &Arc<Payload>, tokens: &[String]) -> Clients {
    let timeout = Duration::from_millis(scenario.request_timeout_ms);
    let client = || http::Http::new(timeout).shaped(scenario.client);
    let common =
        job::Common { payload: payload.clone(), tokens: tokens.to_vec(), content_type: scenario.content_type.clone() };
    match mode {
        Mode::Proxied => {
            Clients::Proxied(Arc::new(job::Proxied { common, proxy: stack.proxy.clone(), http: client() }))
        }
        Mode::Presigned => Clients::Presigned(Arc::new(job::Presigned {
            common,
            broker: stack.broker.clone(),
            presign: client(),
            put: client(),
            complete: client(),
        })),
    }
}

/// What every mode of a run shares.
struct ModeCtx<'a> {
    scenario: &'a Scenario,
    payload: &'a Arc<Payload>,
    tokens: &'a [String],
    interrupt: &'a CancellationToken,
    progress: bool,
}

async fn run_mode(mode: Mode, ctx: &ModeCtx<'_>, stack: &mut Stack) -> (ModeResult, Option<String>) {
    let ModeCtx { scenario, payload, tokens, interrupt, .. } = *ctx;
    let server = match mode {
        Mode::Proxied => stack.proxy.clone(),
        Mode::Presigned => stack.broker.clone(),
    };
    let (before, unreadable) = match http::scrape(&server).await {
        Ok(m) => (m, None),
        Err(e) => {
            (HashMap::new(), Some(format!("cannot read {server}/metrics before the {} mode: {e}", mode.as_str())))
        }
    };
    let clients = clients(mode, scenario, stack, payload, tokens);
    let job: Arc<dyn Job> = match &clients {
        Clients::Proxied(j) => j.clone(),
        Clients::Presigned(j) => j.clone(),
    };
    let plan = Plan {
        pacing: scenario.pacing,
        count: scenario.uploads,
        max_duration: Duration::from_millis(scenario.max_duration_ms),
    };
    let bar = (mode.as_str(), scenario.uploads);
    let what = format!("the {} mode", mode.as_str());
    let ((rec, stopped), reason) = guarded_load(plan, job, ctx, stack, bar, &what).await;
    let mut reason = unreadable.or(reason);
    let after = match http::scrape(&server).await {
        Ok(m) => m,
        Err(e) => {
            reason.get_or_insert(format!("cannot read {server}/metrics after the {} mode: {e}", mode.as_str()));
            HashMap::new()
        }
    };
    let verdict = if reason.is_none() {
        tokio::select! {
            v = verify::verify(&stack.verifier, &stack.target.bucket, &rec.done, payload, scenario.verify) => v,
            () = interrupt.cancelled() => {
                reason = Some(format!("interrupted while verifying the {} mode", mode.as_str()));
                verify::Verdict::default()
            }
        }
    } else {
        verify::Verdict::default()
    };
    if matches!(scenario.storage, Storage::Endpoint { .. }) {
        // An external bucket is someone's: leave no test objects behind (verified or not).
        verify::delete(&stack.verifier, &stack.target.bucket, &rec.done).await;
    }
    let result = mode_result(scenario, &clients, rec, stopped, &before, &after, verdict);
    (result, reason)
}

/// Runs a load with a progress bar, stopping it when the run is interrupted or a server dies;
/// returns what was measured and, if it was stopped, why.
async fn guarded_load(
    plan: Plan,
    job: Arc<dyn Job>,
    ctx: &ModeCtx<'_>,
    stack: &mut Stack,
    (label, total): (&str, u64),
    what: &str,
) -> ((Recorder, StoppedBy), Option<String>) {
    let cancel = ctx.interrupt.child_token();
    let counters = Arc::new(loadgen::Progress::default());
    let bar = progress::Bar::start(label, total, &counters, ctx.progress);
    let load = loadgen::run(plan, job, cancel.clone(), counters);
    tokio::pin!(load);
    let mut reason = None;
    let result = loop {
        tokio::select! {
            r = &mut load => break r,
            died = children::first_exit(&mut stack.servers), if reason.is_none() => {
                reason = Some(format!("{died} during {what}"));
                cancel.cancel();
            }
            () = ctx.interrupt.cancelled(), if reason.is_none() => {
                reason = Some(format!("interrupted during {what}"));
            }
        }
    };
    drop(bar);
    (result, reason)
}

/// The broker under presign-only load, then under `/healthz` load, each for the phase's duration.
async fn run_signing(
    phase: crate::scenario::Signing,
    ctx: &ModeCtx<'_>,
    stack: &mut Stack,
) -> (Option<report::SigningResult>, Option<String>) {
    tracing::info!(
        "signing phase: {} ms of presign requests, then of /healthz, {} in flight",
        phase.duration_ms,
        phase.concurrency
    );
    let timeout = Duration::from_millis(ctx.scenario.request_timeout_ms);
    let plan = Plan {
        pacing: crate::scenario::Pacing::Closed { concurrency: phase.concurrency },
        count: u64::MAX,
        max_duration: Duration::from_millis(phase.duration_ms),
    };
    let common = job::Common {
        payload: ctx.payload.clone(),
        tokens: ctx.tokens.to_vec(),
        content_type: ctx.scenario.content_type.clone(),
    };
    let presign = Arc::new(job::PresignOnly { common, broker: stack.broker.clone(), http: http::Http::new(timeout) });
    let before = http::scrape(&stack.broker).await;
    let ((rec, _), reason) = guarded_load(plan, presign, ctx, stack, ("presign", 0), "the signing phase").await;
    let after = http::scrape(&stack.broker).await;
    let (before, after) = match (before, after, reason) {
        (_, _, Some(reason)) => return (None, Some(reason)),
        (Ok(b), Ok(a), None) => (b, a),
        (Err(e), _, None) | (_, Err(e), None) => return (None, Some(format!("signing phase: {e}"))),
    };
    let healthz = Arc::new(job::Healthz { base: stack.broker.clone(), http: http::Http::new(timeout) });
    let ((health, _), reason) = guarded_load(plan, healthz, ctx, stack, ("healthz", 0), "the signing phase").await;
    if reason.is_some() {
        return (None, reason);
    }
    let cpu = app_tier(&before, &after).cpu_seconds;
    #[allow(clippy::cast_precision_loss)] // request counts
    let rate = |r: &Recorder| r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let (presign_rate, healthz_rate) = (rate(&rec), rate(&health));
    let e2e = Phase::EndToEnd as usize;
    #[allow(clippy::cast_precision_loss)] // request counts
    let result = report::SigningResult {
        duration_ms: phase.duration_ms,
        concurrency: phase.concurrency,
        broker_requests: rec.ok,
        broker_errors: rec.failed,
        broker_requests_per_sec: presign_rate,
        broker_cpu_seconds: cpu,
        requests_per_cpu_second: if cpu > 0.0 { rec.ok as f64 / cpu } else { 0.0 },
        healthz_requests_per_sec: healthz_rate,
        ratio_to_healthz: if healthz_rate > 0.0 { presign_rate / healthz_rate } else { 0.0 },
        latency_us: LatencySummary::of(&rec.corrected[e2e]),
        healthz_latency_us: LatencySummary::of(&health.corrected[e2e]),
    };
    (Some(result), None)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // counters are non-negative integers
fn app_tier(before: &HashMap<String, f64>, after: &HashMap<String, f64>) -> AppTier {
    let get = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    let delta = |k: &str| (get(after, k) - get(before, k)).max(0.0);
    let bytes = |side: &str, dir: &str| {
        delta(&format!("presign_bench_app_bytes_total{{side=\"{side}\",direction=\"{dir}\"}}")) as u64
    };
    AppTier {
        client_bytes_in: bytes("client", "in"),
        client_bytes_out: bytes("client", "out"),
        storage_bytes_in: bytes("storage", "in"),
        storage_bytes_out: bytes("storage", "out"),
        connections: delta("presign_bench_connections_total") as u64,
        peak_connections: get(after, "presign_bench_connections_peak") as u64,
        connection_seconds: delta("presign_bench_connection_seconds_total"),
        cpu_seconds: delta("process_cpu_seconds_total"),
        peak_rss_bytes: get(after, "process_resident_memory_max_bytes") as u64,
        rss_before_bytes: get(before, "process_resident_memory_max_bytes") as u64,
        requests: delta("presign_bench_requests_total") as u64,
        peak_requests_in_flight: get(after, "presign_bench_requests_in_flight_peak") as u64,
        request_seconds: delta("presign_bench_request_seconds_total"),
    }
}

fn summaries(hists: &[hdrhistogram::Histogram<u64>]) -> BTreeMap<String, LatencySummary> {
    Phase::ALL
        .iter()
        .zip(hists)
        .filter(|(_, h)| !h.is_empty())
        .map(|(p, h)| (p.as_str().to_owned(), LatencySummary::of(h)))
        .collect()
}

#[allow(clippy::cast_precision_loss)] // byte counts per upload, far below 2^53
fn mode_result(
    scenario: &Scenario,
    clients: &Clients,
    rec: Recorder,
    stopped: StoppedBy,
    before: &HashMap<String, f64>,
    after: &HashMap<String, f64>,
    verdict: verify::Verdict,
) -> ModeResult {
    let app_tier = app_tier(before, after);
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
    let steps_per_upload = match clients {
        Clients::Presigned(j) => Some(PresignSteps {
            presign_request_bytes: per(j.presign.meter.storage.bytes_out.load(Relaxed) as f64),
            presign_response_bytes: per(j.presign.meter.storage.bytes_in.load(Relaxed) as f64),
            complete_request_bytes: per(j.complete.meter.storage.bytes_out.load(Relaxed) as f64),
            complete_response_bytes: per(j.complete.meter.storage.bytes_in.load(Relaxed) as f64),
            store_request_bytes: per(app_tier.storage_bytes_out as f64),
            store_response_bytes: per(app_tier.storage_bytes_in as f64),
        }),
        Clients::Proxied(_) => None,
    };
    let seconds = rec.elapsed.as_secs_f64().max(1e-9);
    let mut errors = rec.errors.clone();
    if verdict.lost + verdict.corrupt > 0 {
        errors.insert("verify".into(), verdict.lost + verdict.corrupt);
    }
    ModeResult {
        uploads_attempted: rec.ok + rec.failed,
        uploads_ok: rec.ok,
        uploads_failed: rec.failed,
        errors,
        verified: verdict.verified,
        lost: verdict.lost,
        corrupt: verdict.corrupt,
        duration_ms: millis(rec.elapsed),
        stopped_by: stopped,
        app_tier,
        latency_us: summaries(&rec.corrected),
        latency_us_uncorrected: rec.uncorrected.as_deref().map(summaries),
        throughput: Throughput { uploads_per_sec: ok / seconds, bytes_per_sec: rec.bytes_ok as f64 / seconds },
        per_upload,
        extrapolated,
        steps_per_upload,
        timeline: report::TimelineData {
            interval_ms: millis(loadgen::TIMELINE_INTERVAL),
            completed: rec.timeline.completed,
            in_flight_max: rec.timeline.in_flight_max,
        },
    }
}
