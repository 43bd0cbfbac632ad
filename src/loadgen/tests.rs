//! Tests of the load generator ([`super`]).

use super::*;

/// `count` uploads paced by `pacing`, numbered from 0, within a minute, every one kept.
fn load(pacing: Pacing, count: u64) -> Load {
    Load { pacing, count, first: 0, max_duration: Duration::from_secs(60), keep: Keep::All }
}

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
    let load = load(Pacing::Closed { concurrency: 4 }, 20);
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

/// A long load verifying a sample keeps a spread sample, bounded whatever the load's length,
/// and a key digest for every completed upload: with workers on two threads, each seeing
/// its own pattern of upload numbers (a worker may see only odd ones, another only multiples
/// of 32), and recorders merged with different strides.
#[tokio::test(start_paused = true)]
async fn a_sample_is_kept_spread_and_bounded_with_every_key_digest() {
    let load = Load {
        max_duration: Duration::from_secs(600),
        keep: Keep::Spread(100),
        ..load(Pacing::Closed { concurrency: 32 }, 20_000)
    };
    let job = Arc::new(Sleepy { work: Duration::from_millis(1) });
    let (rec, _) = run_on(load, job, CancellationToken::new(), Arc::default(), 2).await;
    assert_eq!(rec.ok, 16_000);
    assert!((100..=200).contains(&rec.done.len()), "{} kept", rec.done.len());
    let mut indexes: Vec<_> = rec.done.iter().map(|d| d.index).collect();
    indexes.sort_unstable();
    // One stride (a power of two) for all workers: every multiple of it that succeeded.
    let stride = indexes[1] - indexes[0];
    assert!(stride.is_power_of_two());
    let expected: Vec<u64> = (0..20_000).step_by(usize::try_from(stride).unwrap()).filter(|i| i % 5 != 4).collect();
    assert_eq!(indexes, expected);
    let mut keys = rec.keys.clone();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 16_000, "a distinct digest per completed upload");
    assert!(keys.binary_search(&key_digest("k19998")).is_ok() && keys.binary_search(&key_digest("k19999")).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_shard_runs_its_own_range_of_uploads() {
    let load = Load { first: 100, ..load(Pacing::Closed { concurrency: 3 }, 7) };
    let (rec, _) =
        run(load, Arc::new(Sleepy { work: Duration::from_millis(10) }), CancellationToken::new(), Arc::default()).await;
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
    let load = load(Pacing::Open { rate_per_sec: 100.0, max_in_flight: 1 }, 10);
    let (rec, _) =
        run(load, Arc::new(Sleepy { work: Duration::from_millis(50) }), CancellationToken::new(), Arc::default()).await;
    let corrected = rec.corrected[Phase::EndToEnd as usize].max();
    let uncorrected = rec.uncorrected.as_ref().unwrap()[Phase::EndToEnd as usize].max();
    assert!(uncorrected.abs_diff(50_000) < 1000, "{uncorrected}");
    // The 10th upload was due at 90 ms and finished at 500 ms.
    assert!(corrected.abs_diff(410_000) < 5000, "{corrected}");
}

/// What the workers send to the tap, recorded into one copy, is what their own recorders hold
/// merged: the live view's figures are the run's, not an estimate.
#[tokio::test(start_paused = true)]
async fn the_tap_carries_every_record_so_a_copy_equals_the_merged_recorder() {
    let load = load(Pacing::Open { rate_per_sec: 200.0, max_in_flight: 3 }, 30);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = Arc::new(Progress { tap: Some(tx), ..Progress::default() });
    let job = Arc::new(Sleepy { work: Duration::from_millis(20) });
    let (rec, _) = run(load, job, CancellationToken::new(), progress.clone()).await;
    let mut copy = Recorder::new(true);
    while let Ok(t) = rx.try_recv() {
        copy.record(t.sample, t.waited, t.at);
    }
    assert_eq!((copy.ok, copy.failed, copy.bytes_ok), (rec.ok, rec.failed, rec.bytes_ok));
    assert_eq!((copy.ok, copy.failed), (24, 6));
    assert_eq!(copy.corrected, rec.corrected);
    assert_eq!(copy.uncorrected, rec.uncorrected);
    assert_eq!(copy.errors, rec.errors);
    assert_eq!(copy.timeline.completed, rec.timeline.completed);
    assert_eq!(progress.in_flight.load(Relaxed), 0, "every upload that started finished");
}

/// The same load on two threads of their own: every upload once, cancellation reaches them.
#[tokio::test]
async fn workers_on_threads_run_every_upload_once() {
    let load = load(Pacing::Closed { concurrency: 5 }, 40);
    let job = Arc::new(Sleepy { work: Duration::from_millis(2) });
    let progress = Arc::new(Progress::default());
    let (rec, stopped) = run_on(load, job.clone(), CancellationToken::new(), progress.clone(), 2).await;
    assert_eq!(stopped, StoppedBy::Count);
    assert_eq!((rec.ok, rec.failed), (32, 8));
    assert_eq!(progress.ok.load(Relaxed), 32);
    let mut indexes: Vec<_> = rec.done.iter().map(|d| d.index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 32);

    let cancel = CancellationToken::new();
    cancel.cancel();
    let load = Load { count: 1_000_000, ..load };
    let (rec, stopped) = run_on(load, job, cancel, Arc::default(), 2).await;
    assert_eq!((stopped, rec.ok + rec.failed), (StoppedBy::Cancelled, 0));
}

#[tokio::test(start_paused = true)]
async fn deadline_and_cancel_bound_the_run() {
    let load = Load { max_duration: Duration::from_secs(1), ..load(Pacing::Closed { concurrency: 2 }, 1000) };
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
    let (rec, stopped) = run(load, Arc::new(Sleepy { work: Duration::from_millis(100) }), cancel, Arc::default()).await;
    assert_eq!(stopped, StoppedBy::Cancelled);
    assert_eq!(rec.ok + rec.failed, 4);
}
