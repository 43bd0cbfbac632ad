//! Shards and parts: `run --shard I/N` runs the I-th share of a scenario's uploads (its own range
//! of upload numbers, so the uploads are those one run of the whole would make) and writes a
//! [`Part`]: each mode's raw measurements (histograms, counts, per-upload records, and the app
//! server's `/metrics` before and after the load, with when they were read). [`merge`] adds parts
//! up into the results of one run of the whole: histograms added exactly, counts summed, the app
//! tier's counters from the earliest before- and the latest after-scrape of each server (shards
//! share the servers, so summing their deltas would count the servers N times), and wall times
//! from the first start to the last end. Pure: no I/O, no clock.

use super::build::{self, Measured, StepBytes};
use super::verify::Verdict;
use crate::loadgen::{Done, Recorder, StoppedBy, TIMELINE_INTERVAL};
use crate::metrics::Snapshot;
use crate::results::latency::{decode, encode};
use crate::results::{Environment, Modes, MultipartUse, Phase, Results};
use crate::scenario::{Mode, Pacing, Scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Version of the part layout this build writes and reads.
pub const PART_VERSION: u32 = 2;

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

/// One scrape of an app server's `/metrics`, and when it was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scrape {
    /// Unix time of the scrape, milliseconds.
    pub at_unix_ms: u64,
    /// What it read.
    pub metrics: Snapshot,
}

/// What one shard measured in one mode, raw enough to be added up exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartMode {
    /// The architecture.
    pub mode: Mode,
    /// When the load started, Unix milliseconds.
    pub started_unix_ms: u64,
    /// How long it ran, microseconds.
    pub elapsed_us: u64,
    /// What stopped it.
    pub stopped_by: StoppedBy,
    /// Latency per phase (corrected in the open model), V2+DEFLATE base64 HdrHistograms.
    pub histograms: BTreeMap<Phase, String>,
    /// Open model only: latency from the actual start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncorrected: Option<BTreeMap<Phase, String>>,
    /// Uploads that succeeded.
    pub ok: u64,
    /// Uploads that failed.
    pub failed: u64,
    /// Payload bytes of the successful uploads.
    pub bytes_ok: u64,
    /// Load failures by kind (verification's are in `lost` and `corrupt`).
    pub errors: BTreeMap<String, u64>,
    /// Each successful upload: number, size, key, and its latency per phase.
    pub records: Vec<Done>,
    /// Uploads finished per timeline interval since `started_unix_ms`.
    pub timeline_completed: Vec<u64>,
    /// Most uploads in flight per interval.
    pub timeline_in_flight_max: Vec<u64>,
    /// The app server's `/metrics` before the load.
    pub before: Scrape,
    /// And after it.
    pub after: Scrape,
    /// Objects read back and compared.
    pub verified: u64,
    /// Reported complete but missing or short.
    pub lost: u64,
    /// Reported complete but different.
    pub corrupt: u64,
    /// Presigned only: the client-facing bytes of each step, on the shard's sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<StepBytes>,
    /// CPU seconds the shard's load generator used during the load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_seconds: Option<f64>,
    /// The shard's uploads made in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartUse>,
}

fn encoded(hists: &[hdrhistogram::Histogram<u64>]) -> BTreeMap<Phase, String> {
    Phase::ALL.iter().zip(hists).filter(|(_, h)| !h.is_empty()).map(|(p, h)| (*p, encode(h))).collect()
}

impl PartMode {
    /// The raw form of what `m` measured in `mode`, its load started at `started_unix_ms`, its
    /// scrapes read at `scraped` (before, after).
    #[must_use]
    pub fn capture(mode: Mode, started_unix_ms: u64, m: &Measured, scraped: (u64, u64)) -> Self {
        let rec = &m.recorder;
        Self {
            mode,
            started_unix_ms,
            elapsed_us: u64::try_from(rec.elapsed.as_micros()).unwrap_or(u64::MAX),
            stopped_by: m.stopped,
            histograms: encoded(&rec.corrected),
            uncorrected: rec.uncorrected.as_deref().map(encoded),
            ok: rec.ok,
            failed: rec.failed,
            bytes_ok: rec.bytes_ok,
            errors: rec.errors.clone(),
            records: rec.done.clone(),
            timeline_completed: rec.timeline.completed.clone(),
            timeline_in_flight_max: rec.timeline.in_flight_max.clone(),
            before: Scrape { at_unix_ms: scraped.0, metrics: m.before },
            after: Scrape { at_unix_ms: scraped.1, metrics: m.after },
            verified: m.verdict.verified,
            lost: m.verdict.lost,
            corrupt: m.verdict.corrupt,
            steps: m.steps,
            client_cpu_seconds: m.client_cpu_seconds,
            multipart: m.multipart,
        }
    }
}

/// What one shard wrote: `part-I-of-N.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Part {
    /// Layout version ([`PART_VERSION`]).
    pub part_version: u32,
    /// The run this part belongs to (the same on every shard).
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
    pub modes: Vec<PartMode>,
}

impl Part {
    /// The file name of shard `shard`'s part.
    #[must_use]
    pub fn file_name(shard: Shard) -> String {
        format!("part-{}-of-{}.json", shard.index, shard.count)
    }
}

/// Why parts do not merge; each names the parts (by where they were read from).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no parts to merge")]
    Empty,
    /// A part of another layout.
    #[error("{part}: part_version {version} is not supported (this build reads {PART_VERSION})")]
    Version {
        /// The part.
        part: String,
        /// Its version.
        version: u32,
    },
    /// Two parts disagree on something all parts of a run share.
    #[error("{a} and {b} are from different {what}: {detail}")]
    Mixed {
        /// One part.
        a: String,
        /// The other.
        b: String,
        /// `runs`, `scenarios` or `shard counts`.
        what: &'static str,
        /// The two values.
        detail: String,
    },
    /// The same shard twice.
    #[error("shard {shard} appears twice: {a} and {b}")]
    Duplicate {
        /// The shard.
        shard: Shard,
        /// One part.
        a: String,
        /// The other.
        b: String,
    },
    /// A histogram that does not decode.
    #[error("{part}: {message}")]
    Corrupt {
        /// The part.
        part: String,
        /// What is wrong.
        message: String,
    },
    /// Shards without a part.
    #[error("missing shards {missing:?} of {count} (run {run_id}); merge them too, or pass --allow-partial")]
    Missing {
        /// Their indexes.
        missing: Vec<u64>,
        /// Shards in the run.
        count: u64,
        /// The run.
        run_id: String,
    },
}

/// Merges `parts` (each with where it was read from) into the results of the whole run. With
/// `allow_partial`, missing shards leave the run incomplete instead of failing the merge.
///
/// # Errors
/// [`MergeError`] naming the parts that do not belong together.
pub fn merge(parts: &[(String, Part)], allow_partial: bool) -> Result<Results, MergeError> {
    let (first_source, first) = parts.first().ok_or(MergeError::Empty)?;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for (source, p) in parts {
        if p.part_version != PART_VERSION {
            return Err(MergeError::Version { part: source.clone(), version: p.part_version });
        }
        for m in &p.modes {
            for (phase, text) in m.histograms.iter().chain(m.uncorrected.iter().flatten()) {
                decode(text).map_err(|e| MergeError::Corrupt {
                    part: source.clone(),
                    message: format!("{} {}: {e}", m.mode.as_str(), phase.as_str()),
                })?;
            }
        }
        let mixed =
            |what, detail: String| MergeError::Mixed { a: first_source.clone(), b: source.clone(), what, detail };
        if p.run_id != first.run_id {
            return Err(mixed("runs", format!("{} and {}", first.run_id, p.run_id)));
        }
        if p.shard.count != first.shard.count {
            return Err(mixed("shard counts", format!("{} and {}", first.shard.count, p.shard.count)));
        }
        if serde_json::to_value(&p.scenario).ok() != serde_json::to_value(&first.scenario).ok() {
            return Err(mixed(
                "scenarios",
                format!(
                    "{:?} from {} and {:?} from {}",
                    first.scenario.name,
                    first.scenario.source.display(),
                    p.scenario.name,
                    p.scenario.source.display()
                ),
            ));
        }
        if let Some(a) = seen.insert(p.shard.index, source) {
            return Err(MergeError::Duplicate { shard: p.shard, a: a.to_owned(), b: source.clone() });
        }
    }
    let missing: Vec<u64> = (0..first.shard.count).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() && !allow_partial {
        return Err(MergeError::Missing { missing, count: first.shard.count, run_id: first.run_id.clone() });
    }
    let scenario = &first.scenario;
    let mut modes = Modes::default();
    for &mode in &scenario.modes {
        let of_mode: Vec<&PartMode> =
            parts.iter().flat_map(|(_, p)| p.modes.iter().filter(move |m| m.mode == mode)).collect();
        if !of_mode.is_empty() {
            modes.set(mode, build::mode_result(scenario, measured(&of_mode)));
        }
    }
    let started = parts.iter().map(|(_, p)| p.started_unix_ms).min().unwrap_or(0);
    let ended = parts.iter().map(|(_, p)| p.ended_unix_ms).max().unwrap_or(started);
    let mut reasons: Vec<String> = parts
        .iter()
        .filter_map(|(_, p)| p.incomplete_reason.as_ref().map(|r| format!("shard {}: {r}", p.shard)))
        .collect();
    if !missing.is_empty() {
        reasons.insert(0, format!("merged without shards {missing:?} of {}", first.shard.count));
    }
    let incidents =
        parts.iter().flat_map(|(_, p)| p.incidents.iter().map(move |i| format!("shard {}: {i}", p.shard))).collect();
    let stopped = (!reasons.is_empty()).then(|| reasons.join("; "));
    Ok(super::assemble(super::Assembly {
        scenario: scenario.clone(),
        environment: first.environment.clone(),
        started_at: std::time::UNIX_EPOCH + Duration::from_millis(started),
        duration_ms: ended.saturating_sub(started),
        stopped,
        incidents,
        modes,
        signing: None,
        sweep: Vec::new(),
    }))
}

/// The parts of one mode as one measurement: recorders added, the app server's counters from
/// the earliest scrape before to the latest after, the load from the first start to the last end.
fn measured(parts: &[&PartMode]) -> Measured {
    let start = parts.iter().map(|p| p.started_unix_ms).min().unwrap_or(0);
    let end_us = parts.iter().map(|p| (p.started_unix_ms - start) * 1000 + p.elapsed_us).max().unwrap_or(0);
    let open = parts.iter().any(|p| p.uncorrected.is_some());
    let mut rec = Recorder::new(open);
    let interval = u64::try_from(TIMELINE_INTERVAL.as_millis()).unwrap_or(100).max(1);
    let mut in_flight: Vec<u64> = Vec::new();
    let mut verdict = Verdict::default();
    let mut steps: Option<StepBytes> = None;
    let mut stopped = StoppedBy::Count;
    for p in parts {
        let mut one = Recorder::new(open);
        add(&mut one.corrected, &p.histograms);
        if let (Some(u), Some(h)) = (one.uncorrected.as_mut(), &p.uncorrected) {
            add(u, h);
        }
        (one.ok, one.failed, one.bytes_ok) = (p.ok, p.failed, p.bytes_ok);
        one.errors.clone_from(&p.errors);
        one.done.clone_from(&p.records);
        // Timelines are aligned on the first shard's start, to the interval.
        let shift = usize::try_from((p.started_unix_ms - start) / interval).unwrap_or(0);
        one.timeline.completed = [vec![0; shift], p.timeline_completed.clone()].concat();
        rec.merge(one);
        // In flight across shards: the sum of each shard's maximum in the interval (an upper
        // bound of the true maximum, which no shard saw).
        let shifted = [vec![0; shift], p.timeline_in_flight_max.clone()].concat();
        if in_flight.len() < shifted.len() {
            in_flight.resize(shifted.len(), 0);
        }
        for (a, b) in in_flight.iter_mut().zip(shifted) {
            *a += b;
        }
        verdict.verified += p.verified;
        verdict.lost += p.lost;
        verdict.corrupt += p.corrupt;
        if let Some(s) = p.steps {
            let t = steps.get_or_insert_default();
            t.presign += s.presign;
            t.complete += s.complete;
        }
        stopped = match (stopped, p.stopped_by) {
            (StoppedBy::Cancelled, _) | (_, StoppedBy::Cancelled) => StoppedBy::Cancelled,
            (StoppedBy::Deadline, _) | (_, StoppedBy::Deadline) => StoppedBy::Deadline,
            _ => StoppedBy::Count,
        };
    }
    rec.timeline.in_flight_max = in_flight;
    rec.elapsed = Duration::from_micros(end_us);
    let before = parts.iter().map(|p| p.before).min_by_key(|s| s.at_unix_ms).unwrap_or_default();
    let after = parts.iter().map(|p| p.after).max_by_key(|s| s.at_unix_ms).unwrap_or_default();
    // Every shard's load generator is a process of its own: their CPU adds up.
    let client_cpu_seconds = parts.iter().map(|p| p.client_cpu_seconds).sum::<Option<f64>>();
    let multipart = parts.iter().filter_map(|p| p.multipart).reduce(|a, b| MultipartUse {
        uploads: a.uploads + b.uploads,
        parts: a.parts + b.parts,
        part_retries: a.part_retries + b.part_retries,
    });
    Measured {
        recorder: rec,
        stopped,
        before: before.metrics,
        after: after.metrics,
        verdict,
        steps,
        store: None,
        client_cpu_seconds,
        multipart,
    }
}

/// Adds each encoded histogram into its phase's ([`merge`] checked that each decodes).
fn add(into: &mut [hdrhistogram::Histogram<u64>], encoded: &BTreeMap<Phase, String>) {
    for (phase, text) in encoded {
        if let Ok(h) = decode(text) {
            let _ = into[*phase as usize].add(h);
        }
    }
}

#[cfg(test)]
mod tests;
