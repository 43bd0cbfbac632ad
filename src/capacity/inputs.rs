//! The capacity model's inputs: a workload and a server (documented defaults, a scenario's
//! target, or flags) and per-upload costs (measured in a run, or documented defaults). [`build`]
//! plans both architectures (and, with measured downloads, their reads) and returns every input
//! with its unit and source.

use super::{ServerSpec, UploadCost, Workload, plan, plan_mix};
use crate::results::capacity::{CapacityReport, CdnReadPlan, Input, ModePlan, Source};
use crate::results::{AppTier, DownloadResult, ModeResult, Results};
use crate::scenario::{Mode, ObjectSize, Scenario};
use std::collections::BTreeMap;

/// Values given on the command line (`plan --uploads ...`); each replaces its input.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlanFlags {
    /// Uploads in the window.
    pub uploads: Option<f64>,
    /// Uploads in flight at once.
    pub concurrent: Option<f64>,
    /// Bytes per object.
    pub object_size: Option<f64>,
    /// Window, seconds.
    pub window_secs: Option<f64>,
    /// NIC bytes per second per direction.
    pub nic_bytes_per_sec: Option<f64>,
    /// Cores per server.
    pub cores: Option<f64>,
    /// Memory per server, bytes.
    pub memory_bytes: Option<f64>,
    /// Open connections per server.
    pub max_connections: Option<f64>,
}

/// A value and where it came from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sourced {
    /// The value.
    pub value: f64,
    /// Where it came from.
    pub source: Source,
}

impl Sourced {
    /// A documented default.
    #[must_use]
    pub fn default_value(value: f64) -> Self {
        Self { value, source: Source::Default }
    }

    /// `flag` when given, else `self`.
    #[must_use]
    pub fn or_flag(self, flag: Option<f64>) -> Self {
        flag.map_or(self, |value| Self { value, source: Source::Flag })
    }
}

/// The workload and server inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setting {
    /// Uploads in the window.
    pub uploads: Sourced,
    /// Uploads in flight at once.
    pub concurrent: Sourced,
    /// Bytes per object.
    pub object_size: Sourced,
    /// Window, seconds.
    pub window_secs: Sourced,
    /// NIC bytes per second per direction.
    pub nic_bytes_per_sec: Sourced,
    /// Cores per server.
    pub cores: Sourced,
    /// Memory per server, bytes.
    pub memory_bytes: Sourced,
    /// Connections per server.
    pub max_connections: Sourced,
}

impl Default for Setting {
    /// The documented defaults: the interview question (50,000 uploads of 10 MB, all in flight,
    /// in 60 s) on a common server (10 Gbit/s, 8 cores, 16 GiB, 65,000 connections).
    fn default() -> Self {
        let d = Sourced::default_value;
        Self {
            uploads: d(50_000.0),
            concurrent: d(50_000.0),
            object_size: d(10e6),
            window_secs: d(60.0),
            nic_bytes_per_sec: d(10e9 / 8.0),
            cores: d(8.0),
            memory_bytes: d(16.0 * 1024.0 * 1024.0 * 1024.0),
            max_connections: d(65_000.0),
        }
    }
}

impl Setting {
    /// `self` with each given flag replacing its value.
    #[must_use]
    pub fn with_flags(self, f: &PlanFlags) -> Self {
        Self {
            uploads: self.uploads.or_flag(f.uploads),
            concurrent: self.concurrent.or_flag(f.concurrent),
            object_size: self.object_size.or_flag(f.object_size),
            window_secs: self.window_secs.or_flag(f.window_secs),
            nic_bytes_per_sec: self.nic_bytes_per_sec.or_flag(f.nic_bytes_per_sec),
            cores: self.cores.or_flag(f.cores),
            memory_bytes: self.memory_bytes.or_flag(f.memory_bytes),
            max_connections: self.max_connections.or_flag(f.max_connections),
        }
    }

    /// The target a run planned for: its scenario's target uploads, of the last swept size or
    /// the scenario's mean object size.
    #[must_use]
    pub fn for_results(results: &Results) -> Self {
        let last_swept = results.sweep.last().map(|p| p.object_size);
        Self::for_target(&results.scenario, last_swept)
    }

    /// A scenario's target: its target uploads, all in flight at once, of `object_size` (default:
    /// the scenario's mean size); the server and window at their defaults.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // counts and sizes far below 2^53
    pub fn for_target(scenario: &Scenario, object_size: Option<u64>) -> Self {
        let size = object_size.unwrap_or_else(|| ObjectSize::mean(scenario.object_size));
        let s = |value: f64| Sourced { value, source: Source::Scenario };
        Self {
            uploads: s(scenario.target_uploads as f64),
            concurrent: s(scenario.target_uploads as f64),
            object_size: s(size as f64),
            ..Self::default()
        }
    }
}

/// Default per-upload costs when no results file is given: measured on a 2-core CI-class machine
/// with `cargo run --release -- run` (200 × 10 MiB per mode): proxied ≈ 0.7 CPU-s per GB and
/// ≈ 1.75 MB of RSS per upload in flight; presigned ≈ 1.7 kB in, 2.3 kB out and 1.3 ms of CPU per
/// upload (presign, completion check, SQLite).
#[must_use]
pub fn default_cost(mode: Mode) -> UploadCost {
    match mode {
        Mode::Proxied => UploadCost {
            fixed_bytes_in: 900.0,
            fixed_bytes_out: 1300.0,
            per_byte_in: 1.0,
            per_byte_out: 1.0,
            cpu_per_upload: 0.0,
            cpu_per_byte: 0.7e-9,
            memory_per_connection: 1.75e6,
            connection_share: 1.0,
        },
        Mode::Presigned => UploadCost {
            fixed_bytes_in: 1700.0,
            fixed_bytes_out: 2300.0,
            per_byte_in: 0.0,
            per_byte_out: 0.0,
            cpu_per_upload: 1.3e-3,
            cpu_per_byte: 0.0,
            memory_per_connection: 64.0 * 1024.0,
            connection_share: 0.05,
        },
    }
}

/// The per-upload cost a mode's measurements imply; `None` without successful uploads.
#[must_use]
#[allow(clippy::cast_precision_loss)] // byte counts per upload
pub fn measured_cost(m: &ModeResult) -> Option<UploadCost> {
    cost_of(&m.app_tier, m.uploads_ok, m.per_upload.object_bytes, m.end_to_end().map_or(0.0, |l| l.mean / 1e6))
}

/// The per-download cost a mode's downloads imply; `None` without successful downloads.
#[must_use]
pub fn measured_read_cost(d: &DownloadResult) -> Option<UploadCost> {
    let whole = d.latency_us.get(&crate::results::Phase::EndToEnd).map_or(0.0, |l| l.mean / 1e6);
    cost_of(&d.app_tier, d.downloads_ok, d.per_download.object_bytes, whole)
}

/// The cost of one of `ok` transfers of `size` bytes that made the app tier count `a`, each
/// taking `whole_secs` on average.
#[allow(clippy::cast_precision_loss)] // byte counts per transfer
fn cost_of(a: &AppTier, ok: u64, size: f64, whole_secs: f64) -> Option<UploadCost> {
    if ok == 0 || size <= 0.0 {
        return None;
    }
    let ok = ok as f64;
    let bytes_in = (a.client_bytes_in + a.storage_bytes_in) as f64 / ok;
    let bytes_out = (a.client_bytes_out + a.storage_bytes_out) as f64 / ok;
    // The object crosses a direction whole or not at all; the rest is per-transfer overhead.
    let crossings = |per: f64| if per >= size / 2.0 { (per / size).round() } else { 0.0 };
    let (per_byte_in, per_byte_out) = (crossings(bytes_in), crossings(bytes_out));
    let streams = per_byte_in + per_byte_out > 0.0;
    let cpu = a.cpu_seconds / ok;
    // The share of a transfer's life the app tier spends on it: busy request time per transfer
    // over its mean end-to-end time (keep-alive idling between requests is not counted).
    // A transfer that sent the app tier no request at all (a CDN view) holds none of its
    // connections.
    let share = match (a.requests, whole_secs > 0.0 && a.request_seconds > 0.0) {
        (0, _) => 0.0,
        (_, true) => (a.request_seconds / ok / whole_secs).min(1.0),
        (_, false) => 1.0,
    };
    Some(UploadCost {
        fixed_bytes_in: (bytes_in - per_byte_in * size).max(0.0),
        fixed_bytes_out: (bytes_out - per_byte_out * size).max(0.0),
        per_byte_in,
        per_byte_out,
        cpu_per_upload: if streams { 0.0 } else { cpu },
        cpu_per_byte: if streams { cpu / size } else { 0.0 },
        // Memory per request in flight: the growth of peak RSS over the idle baseline.
        memory_per_connection: a.peak_rss_bytes.saturating_sub(a.rss_before_bytes) as f64
            / a.peak_requests_in_flight.max(1) as f64,
        connection_share: share,
    })
}

fn input(name: impl Into<String>, value: f64, unit: &str, source: Source) -> Input {
    Input { name: name.into(), value, unit: unit.to_owned(), source }
}

fn cost_inputs(mode: Mode, c: &UploadCost, source: Source) -> Vec<Input> {
    cost_inputs_named(mode.as_str(), c, source)
}

fn cost_inputs_named(m: &str, c: &UploadCost, source: Source) -> Vec<Input> {
    vec![
        input(format!("{m}.fixed_bytes_in"), c.fixed_bytes_in, "bytes/upload", source),
        input(format!("{m}.fixed_bytes_out"), c.fixed_bytes_out, "bytes/upload", source),
        input(format!("{m}.object_crossings_in"), c.per_byte_in, "x object size", source),
        input(format!("{m}.object_crossings_out"), c.per_byte_out, "x object size", source),
        input(format!("{m}.cpu_per_upload"), c.cpu_per_upload, "CPU-s/upload", source),
        input(format!("{m}.cpu_per_gb"), c.cpu_per_byte * 1e9, "CPU-s/GB", source),
        input(format!("{m}.memory_per_connection"), c.memory_per_connection, "bytes per request in flight", source),
        input(format!("{m}.connection_share"), c.connection_share, "busy request time / upload time", source),
    ]
}

/// Concurrency levels of the capacity curve.
const CURVE: [f64; 11] = [1e2, 3e2, 1e3, 3e3, 1e4, 3e4, 1e5, 3e5, 1e6, 3e6, 1e7];

/// Plans both modes for `setting`, with costs measured in `results` where it has them.
#[must_use]
pub fn build(setting: &Setting, results: Option<&Results>) -> CapacityReport {
    let s = setting;
    let mut inputs = vec![
        input("uploads", s.uploads.value, "uploads", s.uploads.source),
        input("concurrent", s.concurrent.value, "uploads in flight", s.concurrent.source),
        input("object_size", s.object_size.value, "bytes", s.object_size.source),
        input("window", s.window_secs.value, "s", s.window_secs.source),
        input("nic", s.nic_bytes_per_sec.value, "bytes/s per direction", s.nic_bytes_per_sec.source),
        input("cores", s.cores.value, "cores", s.cores.source),
        input("memory", s.memory_bytes.value, "bytes", s.memory_bytes.source),
        input("max_connections", s.max_connections.value, "connections", s.max_connections.source),
    ];
    let work = Workload {
        uploads: s.uploads.value,
        concurrent: s.concurrent.value,
        object_size: s.object_size.value,
        window_secs: s.window_secs.value,
    };
    let server = ServerSpec {
        nic_bytes_per_sec: s.nic_bytes_per_sec.value,
        cores: s.cores.value,
        memory_bytes: s.memory_bytes.value,
        max_connections: s.max_connections.value,
    };
    let mut modes = BTreeMap::new();
    let mut curve = BTreeMap::new();
    for mode in Mode::ALL {
        let measured = results.and_then(|r| r.modes.get(mode)).and_then(measured_cost);
        let (cost, source) = measured.map_or_else(|| (default_cost(mode), Source::Default), |c| (c, Source::Measured));
        inputs.extend(cost_inputs(mode, &cost, source));
        modes.insert(mode, plan(&work, &server, &cost));
        #[allow(clippy::cast_precision_loss)] // server counts
        let points = CURVE
            .iter()
            .map(|&c| [c, plan(&Workload { uploads: c, concurrent: c, ..work }, &server, &cost).servers as f64])
            .collect();
        curve.insert(mode, points);
    }
    let (reads, together) = plan_reads(s, results, (&work, &server), &mut inputs);
    let cdn_reads = plan_cdn_reads(results, (&work, &server), &mut inputs);
    CapacityReport { inputs, modes, curve, reads, together, cdn_reads }
}

/// Reads planned from a run's measured downloads (none without `[downloads]`): each mode's
/// servers for its reads alone, and for its writes and reads together. Downloads in the window:
/// uploads × downloads per object, in flight: concurrent × downloads per object.
fn plan_reads(
    s: &Setting,
    results: Option<&Results>,
    (work, server): (&Workload, &ServerSpec),
    inputs: &mut Vec<Input>,
) -> (BTreeMap<Mode, ModePlan>, BTreeMap<Mode, ModePlan>) {
    let (mut reads, mut together) = (BTreeMap::new(), BTreeMap::new());
    let Some((results, d)) = results.and_then(|r| r.scenario.downloads.map(|d| (r, d))) else {
        return (reads, together);
    };
    let per_object = d.per_object(results.scenario.uploads);
    let read_work = Workload { uploads: work.uploads * per_object, concurrent: work.concurrent * per_object, ..*work };
    inputs.push(input("downloads_per_object", per_object, "downloads per upload", Source::Scenario));
    inputs.push(input("downloads", read_work.uploads, "downloads", s.uploads.source));
    for mode in Mode::ALL {
        let measured = results.modes.get(mode).and_then(|m| m.downloads.as_ref()).and_then(measured_read_cost);
        let Some(cost) = measured else { continue };
        inputs.extend(cost_inputs_named(&format!("{}.read", mode.as_str()), &cost, Source::Measured));
        reads.insert(mode, plan(&read_work, server, &cost));
        let write = results.modes.get(mode).and_then(measured_cost).unwrap_or_else(|| default_cost(mode));
        together.insert(mode, plan_mix(&[(*work, write), (read_work, cost)], server));
    }
    (reads, together)
}

/// Reads through the CDN planned from a run's measured CDN reads: app servers for each
/// architecture's reads alone, and the origin traffic at its measured rate per view.
fn plan_cdn_reads(
    results: Option<&Results>,
    (work, server): (&Workload, &ServerSpec),
    inputs: &mut Vec<Input>,
) -> BTreeMap<String, CdnReadPlan> {
    let mut plans = BTreeMap::new();
    let Some((results, d)) = results.and_then(|r| r.scenario.downloads.map(|d| (r, d))) else { return plans };
    let per_object = d.per_object(results.scenario.uploads);
    let read_work = Workload { uploads: work.uploads * per_object, concurrent: work.concurrent * per_object, ..*work };
    let Some(presigned) = results.modes.get(Mode::Presigned) else { return plans };
    for (name, reads) in &presigned.cdn_reads {
        let Some(cost) = measured_read_cost(reads) else { continue };
        inputs.extend(cost_inputs_named(name, &cost, Source::Measured));
        let origin_per_view =
            reads.cache.as_ref().map_or((0.0, 0.0), |c| (c.origin_requests_per_view, c.origin_bytes_per_view));
        inputs.push(input(format!("{name}.origin_bytes_per_view"), origin_per_view.1, "bytes/view", Source::Measured));
        plans.insert(
            name.clone(),
            CdnReadPlan {
                servers: (reads.app_tier.requests > 0).then(|| plan(&read_work, server, &cost)),
                views: read_work.uploads,
                origin_requests: origin_per_view.0 * read_work.uploads,
                origin_bytes: origin_per_view.1 * read_work.uploads,
            },
        );
    }
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_replace_defaults_and_say_so() {
        let flags = PlanFlags { uploads: Some(1000.0), cores: Some(2.0), ..PlanFlags::default() };
        let s = Setting::default().with_flags(&flags);
        assert_eq!(s.uploads, Sourced { value: 1000.0, source: Source::Flag });
        assert_eq!(s.cores, Sourced { value: 2.0, source: Source::Flag });
        assert_eq!(s.concurrent, Sourced { value: 50_000.0, source: Source::Default });
    }

    #[test]
    fn the_default_question_needs_seven_proxied_servers_and_one_presigned() {
        let report = build(&Setting::default(), None);
        assert_eq!(report.modes[&Mode::Proxied].servers, 7);
        assert_eq!(report.modes[&Mode::Presigned].servers, 1);
        assert!(report.inputs.iter().all(|i| i.source == Source::Default));
        assert!((report.input("nic") - 1.25e9).abs() < 1.0);
        assert_eq!(report.curve[&Mode::Proxied].len(), CURVE.len());
    }
}
