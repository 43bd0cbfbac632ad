//! Sharded runs: `run --shard I/N` runs the I-th share of a scenario's uploads (its own range of
//! upload numbers, so the uploads are those one run of the whole would make) and writes a
//! [`ShardFile`]: each mode's raw measurements ([`Captured`]). [`merge`](merge::merge) adds shard
//! files up into the results of one run of the whole, exactly; [`io`] reads and writes them in a
//! directory or under `s3://BUCKET/PREFIX`.
//!
//! - this file: shard arithmetic (which uploads and what share of the load a shard runs) and the
//!   shard file's layout;
//! - [`merge`](mod@merge): the exact merge (pure: no I/O, no clock);
//! - [`io`]: shard files on disk and in a bucket.

pub mod io;
pub mod merge;

pub use merge::{MergeError, merge};

use crate::harness::capture::Captured;
use crate::results::Environment;
use crate::scenario::{Pacing, Scenario};
use serde::{Deserialize, Serialize};

/// Version of the shard file layout this build writes and reads (3: the file was a "part", with
/// `part_version`, up to 2).
pub const VERSION: u32 = 3;

/// Shard `index` of `count` (0-based, as a Kubernetes Indexed Job numbers its pods).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based.
    pub index: u64,
    /// Shards in the run.
    pub count: u64,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `I/N` with `0 <= I < N`.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }

    /// This shard's part of `total`, spread evenly (the first `total % count` shards take one
    /// more): `(first, n)`, its first item's number and how many.
    #[must_use]
    pub fn share(self, total: u64) -> (u64, u64) {
        let (base, extra) = (total / self.count, total % self.count);
        let first = self.index * base + self.index.min(extra);
        (first, base + u64::from(self.index < extra))
    }

    /// The scenario this shard runs: its share of the uploads and of the load (concurrency,
    /// arrival rate), no signing phase (a broker-saturation test, not a share of one); and the
    /// number of its first upload.
    #[must_use]
    pub fn split(self, scenario: &Scenario) -> (Scenario, u64) {
        let (first, uploads) = self.share(scenario.uploads);
        let at_least_one = |n: u64| self.share(n).1.max(1);
        #[allow(clippy::cast_precision_loss)] // shard counts are small
        let pacing = match scenario.pacing {
            Pacing::Closed { concurrency } => Pacing::Closed { concurrency: at_least_one(concurrency) },
            Pacing::Open { rate_per_sec, max_in_flight } => Pacing::Open {
                rate_per_sec: rate_per_sec / self.count as f64,
                max_in_flight: at_least_one(max_in_flight),
            },
        };
        (Scenario { uploads, pacing, signing: None, ..scenario.clone() }, first)
    }
}

/// What one shard wrote: its shard file, `shard-I-of-N.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    /// Layout version ([`VERSION`]).
    pub shard_file_version: u32,
    /// The run this shard file belongs to (the same on every shard).
    pub run_id: String,
    /// Which share.
    pub shard: Shard,
    /// The whole run's scenario (not the share).
    pub scenario: Scenario,
    /// The shard's machine.
    pub environment: Environment,
    /// When the shard started and ended, Unix milliseconds.
    pub started_unix_ms: u64,
    /// See `started_unix_ms`.
    pub ended_unix_ms: u64,
    /// Why the shard stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// What happened that did not stop it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<String>,
    /// Each mode that ran.
    pub modes: Vec<Captured>,
}

impl ShardFile {
    /// The shard file of shard `shard` of run `run_id`, whose whole scenario is `whole`, from
    /// what its share measured.
    #[must_use]
    pub fn of(shard: Shard, run_id: &str, whole: Scenario, outcome: &crate::harness::Outcome) -> Self {
        let r = &outcome.results;
        Self {
            shard_file_version: VERSION,
            run_id: run_id.to_owned(),
            shard,
            scenario: whole,
            environment: r.environment.clone(),
            started_unix_ms: crate::harness::unix_ms(outcome.started_at),
            ended_unix_ms: crate::harness::unix_ms(outcome.ended_at),
            incomplete_reason: r.incomplete_reason.clone(),
            incidents: r.incidents.clone(),
            modes: outcome.captured.clone().unwrap_or_default(),
        }
    }

    /// The file name of shard `shard`'s shard file.
    #[must_use]
    pub fn file_name(shard: Shard) -> String {
        format!("shard-{}-of-{}.json", shard.index, shard.count)
    }
}

#[cfg(test)]
mod tests;
