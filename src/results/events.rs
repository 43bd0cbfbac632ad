//! What validation by store events did over one mode (`[validation] trigger = "event"`): the
//! broker's events by outcome, the uploads that had no event by the end, the latency from the
//! store accepting an object to the broker's verdict, and the app-tier bytes the deliveries
//! cost.

use super::latency::LatencySummary;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The broker's store events by outcome.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct EventCounts {
    /// Events that reached a file (the upload verified).
    pub verified: u64,
    /// Events that reached a rejection (the object deleted).
    pub rejected: u64,
    /// Events of uploads whose verdict a completion reached before their first event came.
    pub late: u64,
    /// Events of uploads that had an event before (stores deliver at least once).
    pub duplicate: u64,
    /// Events of other keys, buckets or kinds, and of objects the broker never signed.
    pub ignored: u64,
    /// Deliveries refused for a missing or wrong token.
    pub refused: u64,
}

impl EventCounts {
    /// These counts less `earlier` ones (of the same broker).
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            verified: self.verified.saturating_sub(earlier.verified),
            rejected: self.rejected.saturating_sub(earlier.rejected),
            late: self.late.saturating_sub(earlier.late),
            duplicate: self.duplicate.saturating_sub(earlier.duplicate),
            ignored: self.ignored.saturating_sub(earlier.ignored),
            refused: self.refused.saturating_sub(earlier.refused),
        }
    }
}

/// Store events over one presigned mode (deltas of the broker's `/v1/events/stats`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct EventResult {
    /// The events by outcome.
    #[serde(flatten)]
    pub counts: EventCounts,
    /// Uploads of this mode with a verdict but no event by the end of the mode (after waiting
    /// for the store's queue to drain).
    pub lost: u64,
    /// From the store's `eventTime` (the object accepted) to the broker having the upload's
    /// verdict (reached then, or found: a completion came first), of each upload's first event.
    pub latency_us: LatencySummary,
    /// Bytes the store's deliveries carried into the broker (headers included), counted on the
    /// broker's sockets; also in the app tier's client bytes.
    pub bytes_in: u64,
    /// Bytes of the broker's answers to them.
    pub bytes_out: u64,
}
