//! Running the stages of a run: every mode at each size of the sweep (or once), each bounded by
//! the scenario and stopped early by cancellation or a dead server; then the signing phase (the
//! broker under presign-only load, then under `/healthz` load).

use super::build::{self, Measured, StepBytes};
use super::capture::Captured;
use super::context::{RunContext, guarded_load, snapshot, unix_ms};
use super::stack::Stack;
use super::{Stage, StopReason, verify};
use crate::app::policy;
use crate::client::http::Http;
use crate::client::job::{Common, PresignedUpload, ProxiedUpload, Tally};
use crate::client::payload::Payload;
use crate::client::probe::{Healthz, PresignOnly};
use crate::loadgen::{Job, Keep, Load};
use crate::metrics::InOut;
use crate::results::{ModeResult, Modes, SigningResult, SweepPoint, VersionSteps};
use crate::scenario::{HttpVersion, Mode, ObjectSize, Pacing, Scenario, Signing, Storage, Verify};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// Runs every mode at each size of the sweep (or once at the scenario's sizes); stops at the
/// first interruption or dead server and says why.
pub async fn run_sizes(base: &RunContext<'_>, stack: &mut Stack) -> (Vec<SweepPoint>, Option<StopReason>) {
    let scenario = base.scenario;
    let sizes: Vec<Option<u64>> =
        if scenario.sweep.is_empty() { vec![None] } else { scenario.sweep.iter().copied().map(Some).collect() };
    let mut points = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        if let (Some(bytes), true) = (size, i > 0)
            && let Err(e) = stack.start_apps(&format!("-{bytes}")).await
        {
            return (points, Some(StopReason::Restart { object_size: bytes, message: e.to_string() }));
        }
        // One size (no sweep): the base context itself, which a shard's captures go to.
        let (scenario_at_size, ctx_at_size);
        let ctx = match size {
            None => base,
            Some(bytes) => {
                scenario_at_size = Scenario { object_size: ObjectSize::Fixed(bytes), ..scenario.clone() };
                ctx_at_size = RunContext {
                    scenario: &scenario_at_size,
                    payload: Arc::new(
                        Payload::new(scenario.seed, &scenario.content_type, ObjectSize::Fixed(bytes))
                            .infected(scenario.infected_share),
                    ),
                    tokens: base.tokens.clone(),
                    cancel: base.cancel,
                    progress: base.progress,
                    first: base.first,
                    captured: None,
                    trust: base.trust.clone(),
                    live: base.live,
                };
                &ctx_at_size
            }
        };
        let mut modes = Modes::default();
        let mut stopped = None;
        for &mode in &scenario.modes {
            let of = size.map(|b| format!(" of {}", crate::human::binary_bytes(b))).unwrap_or_default();
            tracing::info!("{} mode: {} uploads{of}", mode.as_str(), scenario.uploads);
            let (result, reason) = run_mode(mode, ctx, stack).await;
            if let Some(feed) = ctx.live {
                feed.mode_done(mode, &result);
            }
            modes.set(mode, result);
            if reason.is_some() {
                stopped = reason;
                break;
            }
        }
        points.push(SweepPoint { object_size: size.unwrap_or(0), modes });
        if stopped.is_some() {
            return (points, stopped);
        }
    }
    (points, None)
}

/// The clients of one mode: kept so their meters can be read after the load.
enum Clients {
    Proxied(Arc<ProxiedUpload>),
    Presigned(Arc<PresignedUpload>),
}

impl Clients {
    fn new(mode: Mode, ctx: &RunContext<'_>, stack: &Stack) -> Self {
        let client = || {
            Http::new(ctx.timeout()).tls(ctx.trust.clone()).shaped(ctx.scenario.client).version(ctx.scenario.app_http)
        };
        match mode {
            Mode::Proxied => Self::Proxied(Arc::new(ProxiedUpload {
                common: ctx.common(),
                proxy: stack.proxy.clone(),
                http: client(),
            })),
            Mode::Presigned => Self::Presigned(Arc::new(PresignedUpload {
                common: ctx.common(),
                broker: stack.broker.clone(),
                presign: client(),
                put: Http::new(ctx.timeout()).tls(ctx.trust.clone()).shaped(ctx.scenario.client),
                complete: client(),
                tally: None,
            })),
        }
    }

    fn common(&self) -> &Common {
        match self {
            Self::Proxied(j) => &j.common,
            Self::Presigned(j) => &j.common,
        }
    }

    fn job(&self) -> Arc<dyn Job> {
        match self {
            Self::Proxied(j) => j.clone(),
            Self::Presigned(j) => j.clone(),
        }
    }

    /// The presigned flow's client-facing bytes by step, as the harness's sockets counted them.
    fn steps(&self) -> Option<StepBytes> {
        let Self::Presigned(j) = self else { return None };
        let sent = |h: &Http| InOut {
            bytes_in: h.meter.storage.bytes_in.load(Relaxed),
            bytes_out: h.meter.storage.bytes_out.load(Relaxed),
        };
        Some(StepBytes { presign: sent(&j.presign), complete: sent(&j.complete) })
    }
}

async fn run_mode(mode: Mode, ctx: &RunContext<'_>, stack: &mut Stack) -> (ModeResult, Option<StopReason>) {
    let scenario = ctx.scenario;
    let server = match mode {
        Mode::Proxied => stack.proxy.clone(),
        Mode::Presigned => stack.broker.clone(),
    };
    let stage = Stage::Mode(mode);
    let mut reason = None;
    let before_at = unix_ms();
    let before = snapshot(&server, ctx.trust.as_ref(), stage, &mut reason).await;
    // Store events reach the broker: their counts before, to tell this mode's apart.
    let events = stack.events.as_ref().filter(|_| mode == Mode::Presigned);
    let watch = super::events::Watch::start(events, &server, ctx.trust.as_ref()).await;
    let store_before = stack.store_usage();
    let scanner_before = stack.scanner_usage();
    let clients = Clients::new(mode, ctx, stack);
    let load = Load {
        pacing: scenario.pacing,
        count: scenario.uploads,
        first: ctx.first,
        max_duration: Duration::from_millis(scenario.max_duration_ms),
        keep: keep(scenario, ctx),
    };
    let started_at = unix_ms();
    let cpu_before = crate::metrics::process_stats().cpu_seconds;
    let under_way = super::live::ModeUnderWay { mode, server: &server, before: &before };
    let ((mut recorder, stopped), interrupted) =
        guarded_load(load, clients.job(), ctx, stack, (mode.as_str(), scenario.uploads), (stage, Some(under_way)))
            .await;
    let client_cpu_seconds = Some((crate::metrics::process_stats().cpu_seconds - cpu_before).max(0.0));
    reason = reason.or(interrupted);
    // The events of the last uploads may still be on their way: they are this mode's.
    let events = match watch {
        Some(w) => w.finish(&server, ctx.trust.as_ref(), ctx.cancel).await,
        None => None,
    };
    let after = snapshot(&server, ctx.trust.as_ref(), stage, &mut reason).await;
    let after_at = unix_ms();
    let store = store_before.zip(stack.store_usage());
    let scanner = scanner_before.zip(stack.scanner_usage());
    let mut read_back = if reason.is_none() {
        let bucket = &stack.target.bucket;
        tokio::select! {
            v = verify::verify(&stack.verifier, bucket, &recorder.done, &ctx.payload, scenario.verify) => v,
            () = ctx.cancel.cancelled() => {
                reason = Some(StopReason::Interrupted(Stage::Verifying(mode)));
                verify::ReadBack::default()
            }
        }
    } else {
        verify::ReadBack::default()
    };
    // Reads come before the cleanup below deletes the objects. A shard does not read: its part
    // carries no downloads to merge.
    let mut reads = super::downloads::ModeReads { own: None, cdn: std::collections::BTreeMap::new() };
    if let (Some(d), None, None) = (scenario.downloads, &reason, &ctx.captured)
        && !recorder.done.is_empty()
    {
        let broker = stack.broker.clone();
        (reads, reason) = super::downloads::run(mode, d, ctx, stack, (&server, &broker), &recorder.done).await;
    }
    // What is left, and the cleanup: like the load and verification, stopped by Ctrl-C (the
    // incomplete report is still written).
    // Sorted once, for the orphan count's lookups (8 MB a million: not copied).
    recorder.keys.sort_unstable();
    read_back.orphans = tokio::select! {
        orphans = clean_up(mode, scenario, stack, &recorder) => orphans,
        () = ctx.cancel.cancelled() => {
            reason.get_or_insert(StopReason::Interrupted(Stage::Verifying(mode)));
            None
        }
    };
    let multipart = scenario.multipart.map(|_| clients.common().parts.read());
    let measured = Measured {
        recorder,
        stopped,
        before,
        after,
        read_back,
        steps: clients.steps(),
        store,
        client_cpu_seconds,
        multipart,
    };
    if let Some(captured) = &ctx.captured {
        let raw = Captured::of(mode, started_at, &measured, (before_at, after_at));
        captured.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(raw);
    }
    let scan = scan_result(scenario, (&measured.before, &measured.after), &clients.common().infected, scanner);
    let events = events.map(|(b, a)| super::events::result((&b, &a), (&measured.before, &measured.after)));
    let mut result = build::mode_result(scenario, measured);
    (result.downloads, result.cdn_reads, result.events, result.scan) = (reads.own, reads.cdn, events, scan);
    (result, reason)
}

/// What a mode's recorders keep of each upload ([`Keep`]): every one where something after the
/// load reads them all (a shard's part file, downloads, verifying all, deleting this run's
/// objects from someone's bucket); otherwise the sample verification reads, so the harness's
/// memory does not grow with the run's length by more than a key digest per upload.
fn keep(scenario: &Scenario, ctx: &RunContext<'_>) -> Keep {
    let reads_all =
        ctx.captured.is_some() || scenario.downloads.is_some() || matches!(scenario.storage, Storage::Endpoint { .. });
    match scenario.verify {
        _ if reads_all => Keep::All,
        Verify::All => Keep::All,
        Verify::Sample(n) => Keep::Spread(n),
        Verify::None => Keep::Spread(0),
    }
}

/// After a mode: counts the objects under the mode's prefixes that no completed upload accounts
/// for (`None`: not counted; `rec.keys` sorted) and removes the run's objects where the store is not the harness's
/// own temporary one.
async fn clean_up(mode: Mode, scenario: &Scenario, stack: &Stack, rec: &crate::loadgen::Recorder) -> Option<u64> {
    let prefixes: &[&str] = match mode {
        Mode::Presigned => &[policy::UPLOAD_PREFIX, policy::FILE_PREFIX],
        Mode::Proxied => &[policy::PROXIED_PREFIX],
    };
    let (s3, bucket, known) = (&stack.verifier, &stack.target.bucket, &rec.keys);
    match scenario.storage {
        // The harness's own temporary store: count what is left, keep it for inspection.
        Storage::Embedded => Some(verify::orphans(s3, bucket, prefixes, known, false).await),
        // A store the harness started, possibly on the user's data directory: count what is left,
        // and leave no test objects behind (verified or not, orphans included).
        Storage::Minio { .. } | Storage::Container { .. } => {
            Some(verify::orphans(s3, bucket, prefixes, known, true).await)
        }
        // Someone's bucket: other deployments' objects may share the prefixes. Delete what this
        // run stored, count and delete nothing else.
        Storage::Endpoint { .. } => {
            verify::delete(s3, bucket, &rec.done).await;
            None
        }
    }
}

/// What scanning did over a mode, when the run scanned or sent infected uploads: the server's
/// scan counters between `before` and `after`, the load's EICAR uploads, clamd's usage.
fn scan_result(
    scenario: &Scenario,
    (before, after): (&crate::metrics::Snapshot, &crate::metrics::Snapshot),
    infected: &crate::client::job::InfectedCounts,
    scanner: Option<(crate::metrics::ProcessStats, crate::metrics::ProcessStats)>,
) -> Option<crate::results::scan::ScanResult> {
    if scenario.validation.scan == crate::scenario::Scan::None && scenario.infected_share == 0.0 {
        return None;
    }
    let (a, b) = (after.scans, before.scans);
    let (infected_sent, caught, missed) = infected.read();
    Some(crate::results::scan::ScanResult {
        clean: a.clean.saturating_sub(b.clean),
        infected: a.infected.saturating_sub(b.infected),
        failed: a.failed.saturating_sub(b.failed),
        bytes: a.bytes.saturating_sub(b.bytes),
        seconds: (a.seconds - b.seconds).max(0.0),
        infected_sent,
        caught,
        missed,
        scanner: scanner.map(|(s0, s1)| crate::results::StoreUsage {
            cpu_seconds: (s1.cpu_seconds - s0.cpu_seconds).max(0.0),
            peak_rss_bytes: s1.peak_rss_bytes,
        }),
    })
}

/// The broker under presign-only load, then under `/healthz` load, each for the phase's duration.
pub async fn run_signing(phase: Signing, ctx: &RunContext<'_>, stack: &mut Stack) -> Result<SigningResult, StopReason> {
    tracing::info!(
        "signing phase: {} ms of presign requests, then of /healthz, {} in flight",
        phase.duration_ms,
        phase.concurrency
    );
    let load = Load {
        pacing: Pacing::Closed { concurrency: phase.concurrency },
        count: u64::MAX,
        first: 0,
        max_duration: Duration::from_millis(phase.duration_ms),
        keep: Keep::All,
    };
    let presign = Arc::new(PresignOnly {
        common: ctx.common(),
        broker: stack.broker.clone(),
        http: Http::new(ctx.timeout()).tls(ctx.trust.clone()),
    });
    let broker = stack.broker.clone();
    let mut reason = None;
    let before = snapshot(&broker, ctx.trust.as_ref(), Stage::Signing, &mut reason).await;
    let ((presigns, _), stopped) =
        guarded_load(load, presign, ctx, stack, ("presign", 0), (Stage::Signing, None)).await;
    let after = snapshot(&broker, ctx.trust.as_ref(), Stage::Signing, &mut reason).await;
    if let Some(reason) = stopped.or(reason) {
        return Err(reason);
    }
    let healthz = Arc::new(Healthz { base: broker, http: Http::new(ctx.timeout()).tls(ctx.trust.clone()) });
    let ((health, _), stopped) = guarded_load(load, healthz, ctx, stack, ("healthz", 0), (Stage::Signing, None)).await;
    if let Some(reason) = stopped {
        return Err(reason);
    }
    let cpu = build::app_tier(&before, &after).cpu_seconds;
    let sections = after.presign.since(&before.presign);
    let mut result = build::signing_result(phase, (&presigns, &health), cpu, sections);
    if ctx.scenario.modes.contains(&Mode::Presigned) {
        for version in crate::scenario::HttpVersion::ALL {
            result.by_http_version.push(run_version(version, phase, ctx, stack).await?);
        }
    }
    Ok(result)
}

/// Uploads made per HTTP version by [`run_version`], and their size.
const VERSION_UPLOADS: u64 = 50;
const VERSION_OBJECT_SIZE: u64 = 64 * 1024;

/// Whole presigned uploads of small objects, one at a time as a browser tab makes them, with
/// presign and complete on one kept-alive connection of `version`: the app-tier bytes of each
/// step (read from the client's meter around the step), on the harness's sockets and the broker's.
async fn run_version(
    version: HttpVersion,
    phase: Signing,
    ctx: &RunContext<'_>,
    stack: &mut Stack,
) -> Result<VersionSteps, StopReason> {
    let sizes = ObjectSize::Fixed(VERSION_OBJECT_SIZE);
    let payload = Arc::new(Payload::new(ctx.scenario.seed, &ctx.scenario.content_type, sizes));
    let app = Http::new(ctx.timeout()).tls(ctx.trust.clone()).version(version);
    let tally = Arc::new(Tally::default());
    let job = Arc::new(PresignedUpload {
        common: Common { payload, ..ctx.common() },
        broker: stack.broker.clone(),
        presign: app.clone(),
        put: Http::new(ctx.timeout()).tls(ctx.trust.clone()),
        complete: app,
        tally: Some(tally.clone()),
    });
    let load = Load {
        pacing: Pacing::Closed { concurrency: 1 },
        count: VERSION_UPLOADS,
        first: 0,
        max_duration: Duration::from_millis(phase.duration_ms.max(10_000)),
        keep: Keep::All,
    };
    let broker = stack.broker.clone();
    let mut reason = None;
    let before = snapshot(&broker, ctx.trust.as_ref(), Stage::Signing, &mut reason).await;
    let label = format!("presigned over {}", version.as_str());
    let ((rec, _), stopped) =
        guarded_load(load, job, ctx, stack, (&label, VERSION_UPLOADS), (Stage::Signing, None)).await;
    let after = snapshot(&broker, ctx.trust.as_ref(), Stage::Signing, &mut reason).await;
    if let Some(reason) = stopped.or(reason) {
        return Err(reason);
    }
    if !matches!(ctx.scenario.storage, Storage::Embedded) {
        verify::delete(&stack.verifier, &stack.target.bucket, &rec.done).await;
    }
    let broker = build::app_tier(&before, &after);
    Ok(build::version_steps(version, (&rec, 1, VERSION_OBJECT_SIZE), &tally.steps(), &broker))
}
