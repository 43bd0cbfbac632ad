//! The exact merge of a sharded run's shard files into the results of one run of the whole:
//! histograms added exactly, counts summed, the app tier's counters from the earliest before- and
//! the latest after-scrape of each server (shards share the servers, so summing their deltas would
//! count the servers N times), and wall times from the first start to the last end. Pure: no
//! I/O, no clock.

use super::{Shard, ShardFile, VERSION};
use crate::harness::build::{self, Measured, StepBytes};
use crate::harness::capture::Captured;
use crate::harness::verify::ReadBack;
use crate::loadgen::{Recorder, StoppedBy, TIMELINE_INTERVAL};
use crate::results::latency::decode;
use crate::results::{Modes, MultipartUse, Phase, Results};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why shard files do not merge; each names the files (by where they were read from).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no shard files to merge")]
    Empty,
    /// A shard file of another layout.
    #[error("{file}: shard_file_version {version} is not supported (this build reads {VERSION})")]
    Version {
        /// The shard file.
        file: String,
        /// Its version.
        version: u32,
    },
    /// Two shard files disagree on something all shard files of a run share.
    #[error("{a} and {b} are from different {what}: {detail}")]
    Mixed {
        /// One shard file.
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
        /// One shard file.
        a: String,
        /// The other.
        b: String,
    },
    /// A histogram that does not decode.
    #[error("{file}: {message}")]
    Corrupt {
        /// The shard file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Shards without a shard file.
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

/// Merges `files` (each with where it was read from) into the results of the whole run. With
/// `allow_partial`, missing shards leave the run incomplete instead of failing the merge.
///
/// # Errors
/// [`MergeError`] naming the shard files that do not belong together.
pub fn merge(files: &[(String, ShardFile)], allow_partial: bool) -> Result<Results, MergeError> {
    let (first_source, first) = files.first().ok_or(MergeError::Empty)?;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    for (source, p) in files {
        if p.shard_file_version != VERSION {
            return Err(MergeError::Version { file: source.clone(), version: p.shard_file_version });
        }
        for m in &p.modes {
            for (phase, text) in m.histograms.iter().chain(m.uncorrected.iter().flatten()) {
                decode(text).map_err(|e| MergeError::Corrupt {
                    file: source.clone(),
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
        let of_mode: Vec<&Captured> =
            files.iter().flat_map(|(_, p)| p.modes.iter().filter(move |m| m.mode == mode)).collect();
        if !of_mode.is_empty() {
            modes.set(mode, build::mode_result(scenario, measured(&of_mode)));
        }
    }
    let started = files.iter().map(|(_, p)| p.started_unix_ms).min().unwrap_or(0);
    let ended = files.iter().map(|(_, p)| p.ended_unix_ms).max().unwrap_or(started);
    let mut reasons: Vec<String> = files
        .iter()
        .filter_map(|(_, p)| p.incomplete_reason.as_ref().map(|r| format!("shard {}: {r}", p.shard)))
        .collect();
    if !missing.is_empty() {
        reasons.insert(0, format!("merged without shards {missing:?} of {}", first.shard.count));
    }
    let incidents =
        files.iter().flat_map(|(_, p)| p.incidents.iter().map(move |i| format!("shard {}: {i}", p.shard))).collect();
    let stopped = (!reasons.is_empty()).then(|| reasons.join("; "));
    Ok(crate::harness::assemble(crate::harness::Assembly {
        scenario: scenario.clone(),
        environment: first.environment.clone(),
        started_at: std::time::UNIX_EPOCH + Duration::from_millis(started),
        duration_ms: ended.saturating_sub(started),
        stopped,
        incidents,
        modes,
        signing: None,
        sweep: Vec::new(),
        thresholds: crate::harness::Thresholds::Merged,
    }))
}

/// The shares of one mode as one measurement: recorders added, the app server's counters from
/// the earliest scrape before to the latest after, the load from the first start to the last end.
fn measured(shares: &[&Captured]) -> Measured {
    let start = shares.iter().map(|p| p.started_unix_ms).min().unwrap_or(0);
    let end_us = shares.iter().map(|p| (p.started_unix_ms - start) * 1000 + p.elapsed_us).max().unwrap_or(0);
    let open = shares.iter().any(|p| p.uncorrected.is_some());
    let mut rec = Recorder::new(open);
    let interval = u64::try_from(TIMELINE_INTERVAL.as_millis()).unwrap_or(100).max(1);
    let mut in_flight: Vec<u64> = Vec::new();
    let mut read_back = ReadBack::default();
    let mut steps: Option<StepBytes> = None;
    let mut stopped = StoppedBy::Count;
    for p in shares {
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
        read_back.verified += p.verified;
        read_back.lost += p.lost;
        read_back.corrupt += p.corrupt;
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
    let before = shares.iter().map(|p| p.before).min_by_key(|s| s.at_unix_ms).unwrap_or_default();
    let after = shares.iter().map(|p| p.after).max_by_key(|s| s.at_unix_ms).unwrap_or_default();
    // Every shard's load generator is a process of its own: their CPU adds up.
    let client_cpu_seconds = shares.iter().map(|p| p.client_cpu_seconds).sum::<Option<f64>>();
    let multipart = shares.iter().filter_map(|p| p.multipart).reduce(|a, b| MultipartUse {
        uploads: a.uploads + b.uploads,
        parts: a.parts + b.parts,
        part_retries: a.part_retries + b.part_retries,
    });
    Measured {
        recorder: rec,
        stopped,
        before: before.metrics,
        after: after.metrics,
        read_back,
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
