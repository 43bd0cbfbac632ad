//! The load generator: one worker loop, with the load shape as data.
//!
//! [`Pacing`] says when uploads start (closed: a fixed number in flight; open: a constant arrival
//! rate with intended start times), [`Load`] bounds the run in count and time. Each worker owns
//! its [`Recorder`] and hands it back; the run merges them. In the open model latency is recorded
//! twice: from the intended start (corrected for coordinated omission) and from the actual start.

mod recorder;

pub use crate::results::{Phase, StoppedBy};
pub use recorder::{Done, Failure, Recorder, Sample, TIMELINE_INTERVAL, Timeline};

use crate::scenario::Pacing;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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
}

/// Live counters for a progress display; workers add to them as uploads finish.
#[derive(Debug, Default)]
pub struct Progress {
    /// Uploads that succeeded.
    pub ok: AtomicU64,
    /// Uploads that failed.
    pub failed: AtomicU64,
    /// Payload bytes of successful uploads.
    pub bytes: AtomicU64,
}

/// One upload, as the load generator sees it.
pub trait Job: Send + Sync + 'static {
    /// Performs upload number `index`.
    fn run(&self, index: u64) -> Pin<Box<dyn Future<Output = Sample> + Send + '_>>;
}

/// Runs `load` with `job`, until done, the deadline, or `cancel`, counting into `progress`.
pub async fn run(
    load: Load,
    job: Arc<dyn Job>,
    cancel: CancellationToken,
    progress: Arc<Progress>,
) -> (Recorder, StoppedBy) {
    let open = matches!(load.pacing, Pacing::Open { .. });
    let workers = match load.pacing {
        Pacing::Closed { concurrency } => concurrency,
        Pacing::Open { max_in_flight, .. } => max_in_flight,
    }
    .min(load.count)
    .max(1);
    let start = Instant::now();
    let shared = Arc::new(Shared { next: AtomicU64::new(0), in_flight: AtomicU64::new(0), start, progress });
    let stop_sampler = CancellationToken::new();
    let sampler = tokio::spawn(sample_in_flight(shared.clone(), stop_sampler.clone()));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (shared, job, cancel) = (shared.clone(), job.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move { worker(load, &shared, job.as_ref(), &cancel).await }));
    }
    let mut total = Recorder::new(open);
    let mut stopped = StoppedBy::Count;
    for t in tasks {
        match t.await {
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

struct Shared {
    next: AtomicU64,
    in_flight: AtomicU64,
    start: Instant,
    progress: Arc<Progress>,
}

async fn worker(load: Load, shared: &Shared, job: &dyn Job, cancel: &CancellationToken) -> (Recorder, StoppedBy) {
    let open = matches!(load.pacing, Pacing::Open { .. });
    let mut rec = Recorder::new(open);
    let deadline = shared.start + load.max_duration;
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
                () = cancel.cancelled() => return (rec, StoppedBy::Cancelled),
            }
        }
        if cancel.is_cancelled() {
            return (rec, StoppedBy::Cancelled);
        }
        if Instant::now() >= deadline {
            return (rec, StoppedBy::Deadline);
        }
        let began = Instant::now();
        shared.in_flight.fetch_add(1, Relaxed);
        let sample = tokio::select! {
            s = job.run(index) => Some(s),
            () = cancel.cancelled() => None,
        };
        shared.in_flight.fetch_sub(1, Relaxed);
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
        rec.record(sample, waited, Instant::now().duration_since(shared.start));
    }
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
        buckets[b] = buckets[b].max(shared.in_flight.load(Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job that takes `work` of (paused) time and fails every fifth upload.
    struct Sleepy {
        work: Duration,
    }

    impl Job for Sleepy {
        fn run(&self, index: u64) -> Pin<Box<dyn Future<Output = Sample> + Send + '_>> {
            Box::pin(async move {
                tokio::time::sleep(self.work).await;
                let mut s = Sample::default();
                s.phase(Phase::EndToEnd, self.work);
                if index % 5 == 4 {
                    s.fail(Failure::Http(503));
                } else {
                    s.ok(Done { index, size: 10, key: format!("k{index}"), ..Done::default() });
                }
                s
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn closed_model_runs_every_upload_once() {
        let load = Load {
            pacing: Pacing::Closed { concurrency: 4 },
            count: 20,
            first: 0,
            max_duration: Duration::from_secs(60),
        };
        let (rec, stopped) =
            run(load, Arc::new(Sleepy { work: Duration::from_millis(100) }), CancellationToken::new(), Arc::default())
                .await;
        assert_eq!(stopped, StoppedBy::Count);
        assert_eq!((rec.ok, rec.failed), (16, 4));
        assert_eq!(rec.timeline.completed.iter().sum::<u64>(), 20);
        assert_eq!(rec.timeline.in_flight_max.iter().max(), Some(&4));
        assert_eq!(rec.errors.get("http_503"), Some(&4));
        let mut indexes: Vec<_> = rec.done.iter().map(|d| d.index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes.len(), 16);
        indexes.dedup();
        assert_eq!(indexes.len(), 16);
        // 20 uploads, 4 at a time, 100 ms each: 500 ms of paused time.
        assert_eq!(rec.elapsed.as_millis() / 100, 5);
        // Each upload's record carries its latency as the histogram recorded it.
        assert!(rec.done.iter().all(|d| d.latency_us[Phase::EndToEnd as usize] == 100_000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shard_runs_its_own_range_of_uploads() {
        let load = Load {
            pacing: Pacing::Closed { concurrency: 3 },
            count: 7,
            first: 100,
            max_duration: Duration::from_secs(60),
        };
        let (rec, _) =
            run(load, Arc::new(Sleepy { work: Duration::from_millis(10) }), CancellationToken::new(), Arc::default())
                .await;
        let mut indexes: Vec<_> = rec.done.iter().map(|d| d.index).collect();
        indexes.sort_unstable();
        // 104 fails (every fifth upload by number), so the numbers are the range's, not 0..7.
        assert_eq!(indexes, [100, 101, 102, 103, 105, 106]);
        assert_eq!(rec.failed, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn open_model_corrects_for_coordinated_omission() {
        // 100/s arrivals but at most 1 in flight, each taking 50 ms: uploads fall behind schedule,
        // so latency from the intended start grows while latency from the actual start stays 50 ms.
        let load = Load {
            pacing: Pacing::Open { rate_per_sec: 100.0, max_in_flight: 1 },
            count: 10,
            first: 0,
            max_duration: Duration::from_secs(60),
        };
        let (rec, _) =
            run(load, Arc::new(Sleepy { work: Duration::from_millis(50) }), CancellationToken::new(), Arc::default())
                .await;
        let corrected = rec.corrected[Phase::EndToEnd as usize].max();
        let uncorrected = rec.uncorrected.as_ref().unwrap()[Phase::EndToEnd as usize].max();
        assert!(uncorrected.abs_diff(50_000) < 1000, "{uncorrected}");
        // The 10th upload was due at 90 ms and finished at 500 ms.
        assert!(corrected.abs_diff(410_000) < 5000, "{corrected}");
    }

    #[tokio::test(start_paused = true)]
    async fn deadline_and_cancel_bound_the_run() {
        let load = Load {
            pacing: Pacing::Closed { concurrency: 2 },
            count: 1000,
            first: 0,
            max_duration: Duration::from_secs(1),
        };
        let (rec, stopped) =
            run(load, Arc::new(Sleepy { work: Duration::from_millis(100) }), CancellationToken::new(), Arc::default())
                .await;
        assert_eq!(stopped, StoppedBy::Deadline);
        assert_eq!(rec.ok + rec.failed, 20);

        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(250)).await;
            c.cancel();
        });
        let load = Load { max_duration: Duration::from_secs(60), ..load };
        let (rec, stopped) =
            run(load, Arc::new(Sleepy { work: Duration::from_millis(100) }), cancel, Arc::default()).await;
        assert_eq!(stopped, StoppedBy::Cancelled);
        assert_eq!(rec.ok + rec.failed, 4);
    }
}
