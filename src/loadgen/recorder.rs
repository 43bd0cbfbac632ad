//! Per-worker recording: histograms per phase, errors by kind, completions over time, and the
//! completed uploads kept for what follows the load ([`Keep`]).

use crate::results::Phase;
use crate::results::latency::{histogram, record};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// Width of a timeline bucket.
pub const TIMELINE_INTERVAL: Duration = Duration::from_millis(100);
/// Timelines stop after this many buckets (24 hours: bounded memory for any run length).
pub const MAX_TIMELINE_BUCKETS: usize = 24 * 36_000;

/// The timeline bucket of a moment `at` after the load began.
#[must_use]
pub fn bucket(at: Duration) -> usize {
    usize::try_from(at.as_millis() / TIMELINE_INTERVAL.as_millis()).unwrap_or(usize::MAX)
}

/// Why an upload failed, counted by kind.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// An unexpected HTTP status.
    #[error("HTTP {0}")]
    Http(u16),
    /// The TCP connection could not be made.
    #[error("the connection could not be made")]
    Connect,
    /// The request timed out.
    #[error("timed out")]
    Timeout,
    /// The connection failed mid-request, or the response was unusable.
    #[error("the connection failed mid-request")]
    Io,
    /// A download whose bytes are not the object's (length or SHA-256).
    #[error("the bytes are not the object's")]
    Corrupt,
}

impl Failure {
    /// The key in `errors`.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Http(status) => format!("http_{status}"),
            Self::Connect => "connect".into(),
            Self::Timeout => "timeout".into(),
            Self::Io => "io".into(),
            Self::Corrupt => "corrupt".into(),
        }
    }
}

/// A completed upload, kept for verification and as the per-upload record of a shard.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Done {
    /// Upload number (payload and size derive from it).
    pub index: u64,
    /// Bytes sent.
    pub size: u64,
    /// Object key the app reported.
    pub key: String,
    /// The file's id the app answered (what downloads ask for).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_id: String,
    /// Latency per phase (indexed by `Phase as usize`), microseconds, exactly as recorded in the
    /// corrected histograms (0: the phase was not timed). Filled in by [`Recorder::record`].
    /// Files written before a phase was added hold fewer: the rest read as 0.
    #[serde(default, deserialize_with = "phases_or_fewer")]
    pub latency_us: [u64; Phase::COUNT],
}

/// [`Done::latency_us`] from a list of at most [`Phase::COUNT`] values.
fn phases_or_fewer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u64; Phase::COUNT], D::Error> {
    use serde::Deserialize;
    let values = Vec::<u64>::deserialize(d)?;
    let mut all = [0; Phase::COUNT];
    if values.len() > all.len() {
        let message = format!("{} phases; this version knows {}", values.len(), all.len());
        return Err(serde::de::Error::custom(message));
    }
    all[..values.len()].copy_from_slice(&values);
    Ok(all)
}

/// Which completed uploads a recorder keeps whole ([`Done`]: key, id, latencies, about 220 bytes
/// each). Every completed upload's key is kept either way, as a 64-bit digest ([`key_digest`]),
/// for counting what the store holds that no upload accounts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every one: a shard's part file, downloads, verifying all, deleting from someone's bucket.
    All,
    /// An evenly spread sample of at least this many (when that many completed) and at most
    /// twice as many, whatever the load's length: the uploads whose number is a multiple of a
    /// power of two, the smallest that keeps at most twice this many. A run of 1,000,000 uploads
    /// verifying a sample keeps 8 MB of key digests, not 220 MB of records.
    Spread(u64),
}

/// The 64-bit digest of an object key kept for every completed upload (SipHash with fixed keys:
/// the same in every recorder of a process; never written anywhere). Two keys of a run share one
/// with a probability of about n²/2⁶⁵ (3·10⁻⁸ for a million).
#[must_use]
pub fn key_digest(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// What one upload produced.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    phases: [Option<Duration>; Phase::COUNT],
    /// `Ok(None)`: succeeded, nothing to verify later (e.g. a presign-only request).
    outcome: Option<Result<Option<Done>, Failure>>,
    first: Option<Phase>,
}

impl Sample {
    /// Records how long `phase` took.
    pub fn phase(&mut self, phase: Phase, took: Duration) {
        self.first.get_or_insert(phase);
        self.phases[phase as usize] = Some(took);
    }

    /// The upload succeeded; it is kept for verification.
    pub fn ok(&mut self, done: Done) {
        self.outcome = Some(Ok(Some(done)));
    }

    /// The request succeeded and leaves nothing to verify.
    pub fn ok_untracked(&mut self) {
        self.outcome = Some(Ok(None));
    }

    /// The upload failed.
    pub fn fail(&mut self, why: Failure) {
        self.outcome = Some(Err(why));
    }

    /// The bytes sent, if the upload succeeded.
    #[must_use]
    pub fn succeeded(&self) -> Option<u64> {
        match &self.outcome {
            Some(Ok(done)) => Some(done.as_ref().map_or(0, |d| d.size)),
            _ => None,
        }
    }
}

/// Uploads completed and uploads in flight over a mode, in [`TIMELINE_INTERVAL`] buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Uploads finished (ok or failed) in each bucket since the mode started.
    pub completed: Vec<u64>,
    /// Uploads in flight, sampled once per bucket.
    pub in_flight_max: Vec<u64>,
}

/// One worker's (or, merged, one mode's) measurements.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// Latency per phase; in the open model measured from the intended start.
    pub corrected: Vec<Histogram<u64>>,
    /// Open model only: latency per phase from the actual start.
    pub uncorrected: Option<Vec<Histogram<u64>>>,
    /// Uploads that succeeded.
    pub ok: u64,
    /// Uploads that failed.
    pub failed: u64,
    /// Bytes of successful uploads.
    pub bytes_ok: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Successful uploads, for verification: all or a sample ([`Keep`]).
    pub done: Vec<Done>,
    /// Which successful uploads `done` keeps.
    pub keep: Keep,
    /// `done` holds the uploads whose number is a multiple of this ([`Keep::Spread`]; 1: all).
    stride: u64,
    /// The key digest of every successful upload ([`key_digest`]).
    pub keys: Vec<u64>,
    /// Completions over time.
    pub timeline: Timeline,
    /// Wall time of the load (set by the run).
    pub elapsed: Duration,
}

fn histograms() -> Vec<Histogram<u64>> {
    Phase::ALL.iter().map(|_| histogram()).collect()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Recorder {
    /// An empty recorder keeping every upload; `open` keeps uncorrected histograms as well.
    #[must_use]
    pub fn new(open: bool) -> Self {
        Self::keeping(open, Keep::All)
    }

    /// An empty recorder keeping what `keep` says.
    #[must_use]
    pub fn keeping(open: bool, keep: Keep) -> Self {
        Self {
            corrected: histograms(),
            uncorrected: open.then(histograms),
            ok: 0,
            failed: 0,
            bytes_ok: 0,
            errors: BTreeMap::new(),
            done: Vec::new(),
            keep,
            stride: 1,
            keys: Vec::new(),
            timeline: Timeline::default(),
            elapsed: Duration::ZERO,
        }
    }

    /// Records `sample`, which started `waited` after its intended time and finished `at`
    /// after the load began.
    pub fn record(&mut self, sample: Sample, waited: Duration, at: Duration) {
        let mut latency_us = [0; Phase::COUNT];
        for phase in Phase::ALL {
            let Some(took) = sample.phases[phase as usize] else { continue };
            // The wait before the first step belongs to the first step and to the whole upload.
            let shifted = if Some(phase) == sample.first || phase == Phase::EndToEnd { took + waited } else { took };
            latency_us[phase as usize] = micros(shifted).clamp(1, crate::results::latency::MAX_LATENCY_US);
            record(&mut self.corrected[phase as usize], micros(shifted));
            if let Some(u) = &mut self.uncorrected {
                record(&mut u[phase as usize], micros(took));
            }
        }
        match sample.outcome {
            Some(Ok(Some(done))) => {
                self.ok += 1;
                self.bytes_ok += done.size;
                self.keys.push(key_digest(&done.key));
                if done.index.is_multiple_of(self.stride) {
                    self.done.push(Done { latency_us, ..done });
                    if let Keep::Spread(n) = self.keep
                        && self.done.len() as u64 > n.saturating_mul(2)
                    {
                        self.thin(self.stride.saturating_mul(2));
                    }
                }
            }
            Some(Ok(None)) => self.ok += 1,
            Some(Err(why)) => {
                self.failed += 1;
                *self.errors.entry(why.key()).or_default() += 1;
            }
            None => {
                self.failed += 1;
                *self.errors.entry("unknown".into()).or_default() += 1;
            }
        }
        let b = bucket(at);
        if b < MAX_TIMELINE_BUCKETS {
            if self.timeline.completed.len() <= b {
                self.timeline.completed.resize(b + 1, 0);
            }
            self.timeline.completed[b] += 1;
        }
    }

    /// Keeps the uploads whose number is a multiple of `stride` (at least the present one),
    /// doubled until at most twice the sample is left ([`Keep::Spread`]).
    fn thin(&mut self, stride: u64) {
        let Keep::Spread(n) = self.keep else { return };
        let most = usize::try_from(n.saturating_mul(2)).unwrap_or(usize::MAX);
        let mut stride = self.stride.max(stride);
        loop {
            self.done.retain(|d| n > 0 && d.index.is_multiple_of(stride));
            self.stride = stride;
            if self.done.len() <= most || stride == u64::MAX {
                return;
            }
            stride = stride.saturating_mul(2);
        }
    }

    /// Forgets the uploads kept so far (a copy that only counts).
    pub fn forget_uploads(&mut self) {
        self.done.clear();
        self.keys.clear();
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Recorder) {
        for (a, b) in self.corrected.iter_mut().zip(&other.corrected) {
            // Same bounds on both sides: adding cannot fail.
            let _ = a.add(b);
        }
        if let (Some(a), Some(b)) = (&mut self.uncorrected, &other.uncorrected) {
            for (a, b) in a.iter_mut().zip(b) {
                let _ = a.add(b);
            }
        }
        self.ok += other.ok;
        self.failed += other.failed;
        self.bytes_ok += other.bytes_ok;
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.keys.extend(other.keys);
        self.done.extend(other.done);
        self.thin(self.stride.max(other.stride));
        let t = &mut self.timeline.completed;
        if t.len() < other.timeline.completed.len() {
            t.resize(other.timeline.completed.len(), 0);
        }
        for (a, b) in t.iter_mut().zip(other.timeline.completed) {
            *a += b;
        }
    }
}
