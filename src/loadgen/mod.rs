//! The load generator: one worker loop, with the load shape as data.
//!
//! [`Pacing`] says when uploads start (closed: a fixed number in flight; open: a constant arrival
//! rate with intended start times), [`Load`] bounds the run in count and time. Each worker owns
//! its [`Recorder`] and hands it back; the run merges them. [`run_on`] spreads the workers over
//! threads with a single-threaded runtime each, as wrk does. In the open model latency is recorded
//! twice: from the intended start (corrected for coordinated omission) and from the actual start.
//! While they run, the workers count into a shared [`Progress`] (and, for a live view, copy what
//! they record to its tap).

pub mod popularity;
mod progress;
mod recorder;

pub use crate::results::{Phase, StoppedBy};
pub use progress::{Progress, Tap, Tapped};
pub use recorder::{Done, Failure, Keep, Recorder, Sample, TIMELINE_INTERVAL, Timeline, key_digest};

use crate::scenario::Pacing;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Names of the threads of [`run_on`]: `load-0`, `load-1`, …
pub const THREAD_PREFIX: &str = "load-";

/// How a mode's load runs.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// When uploads start.
    pub pacing: Pacing,
    /// How many uploads to start, at most.
    pub count: u64,
    /// The number of the first upload: a shard of a run takes its own range of numbers, so its
    /// uploads (users, names, payloads) are those a single run would have made.
    pub first: u64,
    /// No upload starts after this much time.
    pub max_duration: Duration,
    /// Which completed uploads the recorders keep whole.
    pub keep: Keep,
}

/// One upload, as the load generator sees it.
pub trait Job: Send + Sync + 'static {
    /// Performs upload number `index`.
    fn run(&self, index: u64) -> Pin<Box<dyn Future<Output = Sample> + Send + '_>>;
}

/// Runs `load` with `job`, until done, the deadline, or `cancel`, counting into `progress`. The
/// workers are tasks of the calling runtime.
pub async fn run(
    load: Load,
    job: Arc<dyn Job>,
    cancel: CancellationToken,
    progress: Arc<Progress>,
) -> (Recorder, StoppedBy) {
    run_on(load, job, cancel, progress, 1).await
}

/// [`run`] with the workers spread over `threads` threads, each running its share on its own
/// single-threaded runtime, as wrk runs a thread per core with its own event loop: a worker's
/// request, its connection and its timers stay on one thread, with no work stealing and no
/// wake-ups across threads. `threads` ≤ 1 is [`run`].
pub async fn run_on(
    load: Load,
    job: Arc<dyn Job>,
    cancel: CancellationToken,
    progress: Arc<Progress>,
    threads: usize,
) -> (Recorder, StoppedBy) {
    let open = matches!(load.pacing, Pacing::Open { .. });
    let workers = match load.pacing {
        Pacing::Closed { concurrency } => concurrency,
        Pacing::Open { max_in_flight, .. } => max_in_flight,
    }
    .min(load.count)
    .max(1);
    let start = Instant::now();
    let shared = Arc::new(Shared { next: AtomicU64::new(0), start, progress });
    let stop_sampler = CancellationToken::new();
    let sampler = tokio::spawn(sample_in_flight(shared.clone(), stop_sampler.clone()));
    let threads = u64::try_from(threads).unwrap_or(1).clamp(1, workers);
    let ended: Vec<Result<(Recorder, StoppedBy), String>> = if threads == 1 {
        let tasks = spawn_workers(load, &shared, &job, &cancel, workers);
        futures_util::future::join_all(tasks).await.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
    } else {
        let mut handles = Vec::new();
        for t in 0..threads {
            let share = workers / threads + u64::from(t < workers % threads);
            let (shared, job, cancel) = (shared.clone(), job.clone(), cancel.clone());
            let (tx, rx) = tokio::sync::oneshot::channel();
            let spawned = std::thread::Builder::new().name(format!("{THREAD_PREFIX}{t}")).spawn(move || {
                let ended = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt.block_on(async {
                        let tasks = spawn_workers(load, &shared, &job, &cancel, share);
                        let ended = futures_util::future::join_all(tasks).await;
                        ended.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
                    }),
                    Err(e) => vec![Err(format!("no runtime for load thread {t}: {e}"))],
                };
                let _ = tx.send(ended);
            });
            match spawned {
                Ok(_) => handles.push(rx),
                Err(e) => tracing::error!("no load thread {t}: {e}"),
            }
        }
        let mut ended = Vec::new();
        for rx in handles {
            ended.extend(rx.await.unwrap_or_else(|_| vec![Err("a load thread ended without its results".into())]));
        }
        ended
    };
    let mut total = Recorder::keeping(open, load.keep);
    let mut stopped = StoppedBy::Count;
    for result in ended {
        match result {
            Ok((rec, why)) => {
                total.merge(rec);
                if why != StoppedBy::Count {
                    stopped = why;
                }
            }
            Err(e) => {
                // A worker that panicked lost its samples: say so instead of dropping them silently.
                tracing::error!("a load worker failed: {e}");
                *total.errors.entry("worker_failed".into()).or_default() += 1;
                total.failed += 1;
            }
        }
    }
    stop_sampler.cancel();
    if let Ok(in_flight) = sampler.await {
        total.timeline.in_flight_max = in_flight;
    }
    total.elapsed = start.elapsed();
    (total, stopped)
}

/// Spawns `n` workers on the current runtime.
fn spawn_workers(
    load: Load,
    shared: &Arc<Shared>,
    job: &Arc<dyn Job>,
    cancel: &CancellationToken,
    n: u64,
) -> Vec<tokio::task::JoinHandle<(Recorder, StoppedBy)>> {
    (0..n)
        .map(|_| {
            let (shared, job, cancel) = (shared.clone(), job.clone(), cancel.clone());
            tokio::spawn(async move { worker(load, &shared, job.as_ref(), &cancel).await })
        })
        .collect()
}

struct Shared {
    next: AtomicU64,
    start: Instant,
    progress: Arc<Progress>,
}

async fn worker(load: Load, shared: &Shared, job: &dyn Job, cancel: &CancellationToken) -> (Recorder, StoppedBy) {
    let open = matches!(load.pacing, Pacing::Open { .. });
    let mut rec = Recorder::keeping(open, load.keep);
    let deadline = shared.start + load.max_duration;
    // One wait for cancellation for the worker's life, not one per upload: registering and
    // dropping a waiter per request was a measurable share of the client's CPU.
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    loop {
        let n = shared.next.fetch_add(1, Relaxed);
        if n >= load.count {
            return (rec, StoppedBy::Count);
        }
        let index = load.first + n;
        let intended = intended_start(load.pacing, shared.start, n);
        if let Some(at) = intended {
            tokio::select! {
                () = tokio::time::sleep_until(at.min(deadline)) => {}
                () = &mut cancelled => return (rec, StoppedBy::Cancelled),
            }
        }
        let began = Instant::now();
        if began >= deadline {
            return (rec, StoppedBy::Deadline);
        }
        shared.progress.in_flight.fetch_add(1, Relaxed);
        let run = HANDSHAKES.scope(std::cell::Cell::new(Duration::ZERO), async {
            let mut sample = job.run(index).await;
            let handshakes = HANDSHAKES.with(std::cell::Cell::get);
            if !handshakes.is_zero() {
                sample.phase(Phase::TlsHandshake, handshakes);
            }
            sample
        });
        let sample = tokio::select! {
            biased;
            () = &mut cancelled => None,
            s = run => Some(s),
        };
        shared.progress.in_flight.fetch_sub(1, Relaxed);
        let Some(sample) = sample else { return (rec, StoppedBy::Cancelled) };
        match sample.succeeded() {
            Some(bytes) => {
                shared.progress.ok.fetch_add(1, Relaxed);
                shared.progress.bytes.fetch_add(bytes, Relaxed);
            }
            None => {
                shared.progress.failed.fetch_add(1, Relaxed);
            }
        }
        let waited = intended.map_or(Duration::ZERO, |at| began.saturating_duration_since(at));
        let at = Instant::now().duration_since(shared.start);
        if let Some(tap) = &shared.progress.tap {
            // A closed channel (the live view is gone) costs nothing more than the failed send.
            let _ = tap.send(Tapped { sample: sample.clone(), waited, at });
        }
        rec.record(sample, waited, at);
    }
}

tokio::task_local! {
    /// The time the job a worker runs now spent in TLS handshakes of connections it opened.
    static HANDSHAKES: std::cell::Cell<Duration>;
}

/// Adds `took` to the TLS handshake time of the job this task runs (the client calls it when it
/// opens a connection; outside a job it does nothing): the job's `tls_handshake` phase.
pub fn handshake(took: Duration) {
    let _ = HANDSHAKES.try_with(|h| h.set(h.get() + took));
}

/// When upload `index` should start in the open model.
fn intended_start(pacing: Pacing, start: Instant, index: u64) -> Option<Instant> {
    match pacing {
        Pacing::Closed { .. } => None,
        Pacing::Open { rate_per_sec, .. } => {
            #[allow(clippy::cast_precision_loss)] // upload indexes stay far below 2^53
            let offset = Duration::from_secs_f64(index as f64 / rate_per_sec);
            Some(start + offset)
        }
    }
}

/// Samples uploads in flight several times per timeline bucket; keeps each bucket's maximum.
async fn sample_in_flight(shared: Arc<Shared>, stop: CancellationToken) -> Vec<u64> {
    let mut buckets: Vec<u64> = Vec::new();
    let mut tick = tokio::time::interval(recorder::TIMELINE_INTERVAL / 4);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return buckets,
        }
        let b = recorder::bucket(shared.start.elapsed());
        if b >= recorder::MAX_TIMELINE_BUCKETS {
            return buckets;
        }
        if buckets.len() <= b {
            buckets.resize(b + 1, 0);
        }
        buckets[b] = buckets[b].max(shared.progress.in_flight.load(Relaxed));
    }
}

#[cfg(test)]
mod tests;
