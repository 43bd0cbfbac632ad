//! What the workers report while they run: counters for a progress display, and the tap through
//! which a live view keeps its own copy of what they record.

use super::recorder::Sample;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Live counters for a progress display; workers add to them as uploads start and finish.
#[derive(Debug, Default)]
pub struct Progress {
    /// Uploads that succeeded.
    pub ok: AtomicU64,
    /// Uploads that failed.
    pub failed: AtomicU64,
    /// Payload bytes of successful uploads.
    pub bytes: AtomicU64,
    /// Uploads started and not finished.
    pub in_flight: AtomicU64,
    /// Where each worker also sends what it records, for a live view that keeps a copy of the
    /// merged recorder while the workers run (`run --live`). `None`: nothing is sent, and the hot
    /// path does no extra work.
    pub tap: Option<Tap>,
}

/// The sending end of [`Progress::tap`]: an unbounded channel, so a worker never waits on the
/// live view (tokio's channel takes a send without a lock).
pub type Tap = tokio::sync::mpsc::UnboundedSender<Tapped>;

/// What a worker recorded: the arguments of one [`Recorder::record`](super::Recorder::record) call, so a copy recorded
/// from them equals the workers' recorders merged.
#[derive(Clone, Debug)]
pub struct Tapped {
    /// The upload's sample.
    pub sample: Sample,
    /// How long after its intended start it began.
    pub waited: Duration,
    /// When it finished, after the load began.
    pub at: Duration,
}
