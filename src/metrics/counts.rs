//! The values a scrape carries besides single counters: bytes in each direction, the TLS
//! handshakes of one side, and where the broker's presigns spend their time.

use std::sync::atomic::Ordering::Relaxed;

/// Bytes in each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InOut {
    /// Read from the socket.
    pub bytes_in: u64,
    /// Written to the socket.
    pub bytes_out: u64,
}

impl std::ops::AddAssign for InOut {
    fn add_assign(&mut self, other: Self) {
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
    }
}

/// The TLS handshakes of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Handshakes {
    /// Full handshakes.
    pub full: u64,
    /// Resumed handshakes.
    pub resumed: u64,
    /// Failed handshakes.
    pub failed: u64,
    /// Bytes of the completed ones.
    pub bytes: InOut,
}

impl Handshakes {
    pub(super) fn of(t: &super::TlsCounters) -> Self {
        Self {
            full: t.full.load(Relaxed),
            resumed: t.resumed.load(Relaxed),
            failed: t.failed.load(Relaxed),
            bytes: InOut { bytes_in: t.bytes_in.load(Relaxed), bytes_out: t.bytes_out.load(Relaxed) },
        }
    }

    /// Completed handshakes, full and resumed.
    #[must_use]
    pub fn completed(&self) -> u64 {
        self.full + self.resumed
    }
}

impl std::ops::Sub for Handshakes {
    type Output = Self;
    fn sub(self, before: Self) -> Self {
        Self {
            full: self.full.saturating_sub(before.full),
            resumed: self.resumed.saturating_sub(before.resumed),
            failed: self.failed.saturating_sub(before.failed),
            bytes: InOut {
                bytes_in: self.bytes.bytes_in.saturating_sub(before.bytes.bytes_in),
                bytes_out: self.bytes.bytes_out.saturating_sub(before.bytes.bytes_out),
            },
        }
    }
}

/// The sections of the broker's presign handler, in the order it runs them: the bearer token
/// checked; the request body read, parsed and checked against the policy; the upload id and the
/// SigV4 URL signed; the JSON answer written.
pub const PRESIGN_SECTIONS: [&str; 4] = ["auth", "request", "sign", "respond"];

/// The time the broker's presign handler spent in each of [`PRESIGN_SECTIONS`], summed over its
/// presigns: five clock reads per presign (about 0.1 µs; a presign takes tens).
#[derive(Debug, Default)]
pub struct PresignClock {
    presigns: std::sync::atomic::AtomicU64,
    nanos: [std::sync::atomic::AtomicU64; PRESIGN_SECTIONS.len()],
}

impl PresignClock {
    /// Adds one presign whose sections began at `marks[0..4]` and ended at `marks[1..5]`.
    pub fn record(&self, marks: [std::time::Instant; PRESIGN_SECTIONS.len() + 1]) {
        for (i, nanos) in self.nanos.iter().enumerate() {
            let took = marks[i + 1].saturating_duration_since(marks[i]);
            nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        }
        self.presigns.fetch_add(1, Relaxed);
    }

    /// The sums so far.
    #[must_use]
    pub fn read(&self) -> PresignSections {
        PresignSections {
            presigns: self.presigns.load(Relaxed),
            seconds: std::array::from_fn(|i| {
                std::time::Duration::from_nanos(self.nanos[i].load(Relaxed)).as_secs_f64()
            }),
        }
    }
}

/// Presigns answered, and the seconds their handler spent in each of [`PRESIGN_SECTIONS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PresignSections {
    /// Presigns timed.
    pub presigns: u64,
    /// Seconds per section, in [`PRESIGN_SECTIONS`] order.
    pub seconds: [f64; PRESIGN_SECTIONS.len()],
}

impl PresignSections {
    /// What happened between `before` and `self`.
    #[must_use]
    pub fn since(&self, before: &Self) -> Self {
        Self {
            presigns: self.presigns.saturating_sub(before.presigns),
            seconds: std::array::from_fn(|i| (self.seconds[i] - before.seconds[i]).max(0.0)),
        }
    }
}
