//! The values a scrape carries besides single counters: bytes in each direction, and the TLS
//! handshakes of one side.

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
