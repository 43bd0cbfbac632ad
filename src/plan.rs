//! `presign-bench plan`: the capacity model fed with a run's measured costs (or documented
//! defaults) and a workload, every input listed with its source.

use crate::capacity::{self, ModePlan, ServerSpec, UploadCost, Workload};
use crate::report::{ModeResult, Results};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One input of the model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Input {
    /// Name, e.g. `nic` or `proxied.cpu_per_byte`.
    pub name: String,
    /// Value in `unit`.
    pub value: f64,
    /// Unit, e.g. `bytes/s`.
    pub unit: String,
    /// `measured` (from a results.json), `default`, `flag` or `scenario`.
    pub source: String,
}

/// The model's answer with everything it used.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CapacityReport {
    /// Every input, with its source.
    pub inputs: Vec<Input>,
    /// Per architecture.
    pub modes: BTreeMap<String, ModePlan>,
    /// Servers needed as concurrent uploads grow (uploads in the window = concurrent uploads),
    /// other inputs unchanged: `[concurrent, servers]` pairs, for the capacity plot.
    pub curve: BTreeMap<String, Vec<[f64; 2]>>,
}

/// A value and where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Sourced {
    /// The value.
    pub value: f64,
    /// `flag`, `default`, `scenario` or `measured`.
    pub source: &'static str,
}

impl Sourced {
    /// `flag` when given, else the default.
    #[must_use]
    pub fn flag_or(flag: Option<f64>, default: f64) -> Self {
        flag.map_or(Self { value: default, source: "default" }, |value| Self { value, source: "flag" })
    }
}

/// The workload and server inputs.
#[derive(Clone, Copy, Debug)]
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

impl Setting {
    /// The documented defaults, each overridden by its flag when given.
    #[must_use]
    pub fn from_flags(flags: [Option<f64>; 8]) -> Self {
        let v = |i: usize| Sourced::flag_or(flags[i], DEFAULTS[i].1);
        Self {
            uploads: v(0),
            concurrent: v(1),
            object_size: v(2),
            window_secs: v(3),
            nic_bytes_per_sec: v(4),
            cores: v(5),
            memory_bytes: v(6),
            max_connections: v(7),
        }
    }

    /// `self` with each given flag replacing its value.
    #[must_use]
    pub fn with_flags(self, flags: [Option<f64>; 8]) -> Self {
        let pick =
            |flag: Option<f64>, current: Sourced| flag.map_or(current, |value| Sourced { value, source: "flag" });
        Self {
            uploads: pick(flags[0], self.uploads),
            concurrent: pick(flags[1], self.concurrent),
            object_size: pick(flags[2], self.object_size),
            window_secs: pick(flags[3], self.window_secs),
            nic_bytes_per_sec: pick(flags[4], self.nic_bytes_per_sec),
            cores: pick(flags[5], self.cores),
            memory_bytes: pick(flags[6], self.memory_bytes),
            max_connections: pick(flags[7], self.max_connections),
        }
    }

    /// The target of the scenario a results.json records (what `run` planned for).
    #[must_use]
    pub fn for_results(results: &Results) -> Self {
        let s = &results.scenario;
        let size = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
        let object = &s["object_size"];
        let mean = if object["fixed"].is_u64() {
            size(&object["fixed"])
        } else {
            u64::midpoint(size(&object["range"]["min"]), size(&object["range"]["max"]))
        };
        let last_swept = results.sweep.last().map(|p| p.object_size);
        Self::for_target(s["target_uploads"].as_u64().unwrap_or(50_000), last_swept.unwrap_or(mean))
    }

    /// A scenario's target: its target uploads, all in flight at once, of its mean object size;
    /// the server and window at their defaults.
    #[must_use]
    #[allow(clippy::cast_precision_loss)] // counts and sizes far below 2^53
    pub fn for_target(target_uploads: u64, object_size: u64) -> Self {
        let mut s = Self::from_flags([None; 8]);
        s.uploads = Sourced { value: target_uploads as f64, source: "scenario" };
        s.concurrent = Sourced { value: target_uploads as f64, source: "scenario" };
        s.object_size = Sourced { value: object_size as f64, source: "scenario" };
        s
    }
}

/// Documented defaults of the workload and server: the interview question, on a common server.
pub const DEFAULTS: [(&str, f64); 8] = [
    ("uploads", 50_000.0),
    ("concurrent", 50_000.0),
    ("object_size", 10e6),
    ("window", 60.0),
    ("nic", 10e9 / 8.0),
    ("cores", 8.0),
    ("memory", 16.0 * 1024.0 * 1024.0 * 1024.0),
    ("max_connections", 65_000.0),
];

/// Default per-upload costs when no results file is given: measured on a 2-core CI-class machine
/// with `cargo run --release -- run` (200 × 10 MiB per mode): proxied ≈ 0.7 CPU-s per GB and
/// ≈ 1.75 MB of RSS per upload in flight; presigned ≈ 1.7 kB in, 2.3 kB out and 1.3 ms of CPU per
/// upload (presign, completion check, SQLite).
#[must_use]
pub fn default_cost(mode: &str) -> UploadCost {
    if mode == "proxied" {
        UploadCost {
            fixed_bytes_in: 900.0,
            fixed_bytes_out: 1300.0,
            per_byte_in: 1.0,
            per_byte_out: 1.0,
            cpu_per_upload: 0.0,
            cpu_per_byte: 0.7e-9,
            memory_per_connection: 1.75e6,
            connection_share: 1.0,
        }
    } else {
        UploadCost {
            fixed_bytes_in: 1700.0,
            fixed_bytes_out: 2300.0,
            per_byte_in: 0.0,
            per_byte_out: 0.0,
            cpu_per_upload: 1.3e-3,
            cpu_per_byte: 0.0,
            memory_per_connection: 64.0 * 1024.0,
            connection_share: 0.05,
        }
    }
}

/// The per-upload cost a mode's measurements imply; `None` without successful uploads.
#[must_use]
#[allow(clippy::cast_precision_loss)] // byte counts per upload
pub fn measured_cost(m: &ModeResult) -> Option<UploadCost> {
    if m.uploads_ok == 0 || m.per_upload.object_bytes <= 0.0 {
        return None;
    }
    let ok = m.uploads_ok as f64;
    let size = m.per_upload.object_bytes;
    let a = &m.app_tier;
    let bytes_in = (a.client_bytes_in + a.storage_bytes_in) as f64 / ok;
    let bytes_out = (a.client_bytes_out + a.storage_bytes_out) as f64 / ok;
    // The object crosses a direction whole or not at all; the rest is per-upload overhead.
    let crossings = |per: f64| if per >= size / 2.0 { (per / size).round() } else { 0.0 };
    let (per_byte_in, per_byte_out) = (crossings(bytes_in), crossings(bytes_out));
    let streams = per_byte_in + per_byte_out > 0.0;
    let cpu = a.cpu_seconds / ok;
    // The share of an upload's life the app tier spends on it: busy request time per upload over
    // the upload's mean end-to-end time (keep-alive idling between requests is not counted).
    let whole_secs = m.latency_us.get("end_to_end").map_or(0.0, |l| l.mean / 1e6);
    let share =
        if whole_secs > 0.0 && a.request_seconds > 0.0 { (a.request_seconds / ok / whole_secs).min(1.0) } else { 1.0 };
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

fn input(name: impl Into<String>, value: f64, unit: &str, source: &str) -> Input {
    Input { name: name.into(), value, unit: unit.to_owned(), source: source.to_owned() }
}

fn cost_inputs(mode: &str, c: &UploadCost, source: &str) -> Vec<Input> {
    vec![
        input(format!("{mode}.fixed_bytes_in"), c.fixed_bytes_in, "bytes/upload", source),
        input(format!("{mode}.fixed_bytes_out"), c.fixed_bytes_out, "bytes/upload", source),
        input(format!("{mode}.object_crossings_in"), c.per_byte_in, "x object size", source),
        input(format!("{mode}.object_crossings_out"), c.per_byte_out, "x object size", source),
        input(format!("{mode}.cpu_per_upload"), c.cpu_per_upload, "CPU-s/upload", source),
        input(format!("{mode}.cpu_per_gb"), c.cpu_per_byte * 1e9, "CPU-s/GB", source),
        input(format!("{mode}.memory_per_connection"), c.memory_per_connection, "bytes per request in flight", source),
        input(format!("{mode}.connection_share"), c.connection_share, "busy request time / upload time", source),
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
    for mode in ["proxied", "presigned"] {
        let measured = results.and_then(|r| {
            let m = if mode == "proxied" { r.modes.proxied.as_ref() } else { r.modes.presigned.as_ref() };
            m.and_then(measured_cost)
        });
        let (cost, source) = measured.map_or_else(|| (default_cost(mode), "default"), |c| (c, "measured"));
        inputs.extend(cost_inputs(mode, &cost, source));
        modes.insert(mode.to_owned(), capacity::plan(&work, &server, &cost));
        #[allow(clippy::cast_precision_loss)] // server counts
        let points = CURVE
            .iter()
            .map(|&c| {
                [c, capacity::plan(&Workload { uploads: c, concurrent: c, ..work }, &server, &cost).servers as f64]
            })
            .collect();
        curve.insert(mode.to_owned(), points);
    }
    CapacityReport { inputs, modes, curve }
}

/// The report as a table, inputs first.
#[must_use]
pub fn table(report: &CapacityReport) -> String {
    use std::fmt::Write;
    let mut out = String::from("inputs:\n");
    for i in &report.inputs {
        let _ = writeln!(out, "  {:<34} {:>16} {:<24} ({})", i.name, fmt_value(i.value), i.unit, i.source);
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>8} {:>6} {:>6} {:>8} {:>12}  binding",
        "mode", "servers", "nic", "cpu", "memory", "connections"
    );
    for (mode, p) in &report.modes {
        let b = p.by_constraint;
        let _ = writeln!(
            out,
            "{mode:<10} {:>8} {:>6} {:>6} {:>8} {:>12}  {}",
            p.servers, b.nic, b.cpu, b.memory, b.connections, p.binding
        );
    }
    out
}

fn fmt_value(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e7 || v.abs() < 1e-3) {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The capacity plot of a report.
#[must_use]
pub fn plot(report: &CapacityReport) -> crate::report::plots::Capacity {
    use crate::report::plots::{Capacity, NamedCurve};
    let curves = report
        .curve
        .iter()
        .map(|(mode, points)| NamedCurve { name: mode.clone(), points: points.iter().map(|p| (p[0], p[1])).collect() })
        .collect();
    let get = |name: &str| report.inputs.iter().find(|i| i.name == name).map_or(0.0, |i| i.value);
    let subtitle = format!(
        "{} objects, {:.0} s window, {} Gbit/s NIC, {:.0} cores, {} per server (inputs in the table)",
        crate::report::table::si_bytes(get("object_size")),
        get("window"),
        get("nic") * 8.0 / 1e9,
        get("cores"),
        crate::report::table::si_bytes(get("memory"))
    );
    Capacity { curves, subtitle }
}
