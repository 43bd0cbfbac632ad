//! Rendering: what a person reads. From a [`Results`] it builds one [`Document`] (headline,
//! tables, sentences, plots) and renders it three ways: the summary printed when a run ends,
//! `summary.md` and `report.html`; it also renders the capacity and signing reports of `plan` and
//! `sign-bench`.
//!
//! - [`document`]: the report as data; [`build`](mod@build): results → document.
//! - [`text`], [`markdown`], [`html`]: the three renderers.
//! - [`render`](mod@render): results → the report folder.
//! - [`plots`]: plot types that take data and return their SVG and PNG.
//! - [`capacity`]: the capacity report as tables and a plot.
//! - [`describe`]: the headline, the capacity answer and the scenario in words.
//! - [`live`]: the run so far as the same document, for the live view (`run --live`).

mod build;
pub mod capacity;
pub mod describe;
pub mod document;
mod html;
pub mod live;
mod markdown;
pub mod plots;
mod render;
pub mod text;

pub use build::{build, build_tables};
pub use describe::headline;
pub use document::Document;
pub use render::{RenderError, render, write};

use crate::results::{Comparison, Results};
use crate::scenario::Mode;
use anyhow::Context;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How a command prints its answer on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// One JSON object.
    Json,
}

/// Prints `table` or `data` as JSON, and with `out` also writes `data` as `json_name` and `plot`.
///
/// # Errors
/// A file that cannot be written, named.
pub fn emit(
    format: Format,
    table: &str,
    data: &impl Serialize,
    out: Option<&Path>,
    json_name: &str,
    plot: &impl plots::Plot,
) -> anyhow::Result<()> {
    match format {
        Format::Table => print!("{table}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(data)?),
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let json = dir.join(json_name);
        std::fs::write(&json, serde_json::to_string_pretty(data)? + "\n")
            .with_context(|| json.display().to_string())?;
        plots::write(plot, dir)?;
    }
    Ok(())
}

/// `presign-bench report`: loads a results.json of any readable version, renders the report
/// into `out` (default: beside the file), and copies the results there if they are not; returns
/// the files written.
///
/// # Errors
/// An unreadable results file (naming it and the key or version), or a file that cannot be
/// written.
pub fn rerender(path: &Path, out: Option<&Path>) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let results = crate::results::load(path)?;
    let dir = out.map_or_else(|| path.parent().unwrap_or(Path::new(".")).to_path_buf(), Path::to_path_buf);
    let (_, mut files) = render(&results, &dir)?;
    let copy = dir.join("results.json");
    if !copy.exists() {
        crate::results::write(&results, &dir).with_context(|| copy.display().to_string())?;
        files.push(copy);
    }
    Ok(files)
}

/// The final summary printed by `run --format json`.
#[derive(Clone, Debug, Serialize)]
pub struct JsonSummary {
    /// False when interrupted or a server died.
    pub complete: bool,
    /// Why the run is incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete_reason: Option<String>,
    /// The report directory.
    pub report_dir: String,
    /// The one-line claim, with its extrapolation labelled.
    pub headline: String,
    /// Per mode.
    pub modes: BTreeMap<Mode, ModeSummary>,
    /// Proxied over presigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// The scenario's thresholds and whether each passed (absent: the scenario has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::results::thresholds::ThresholdOutcome>,
}

/// One mode in the JSON summary.
#[derive(Clone, Debug, Serialize)]
pub struct ModeSummary {
    /// Uploads the app reported complete.
    pub uploads_ok: u64,
    /// Uploads that failed.
    pub uploads_failed: u64,
    /// Objects read back.
    pub verified: u64,
    /// Missing or short.
    pub lost: u64,
    /// Different bytes.
    pub corrupt: u64,
    /// Objects no completed upload accounts for (absent: not counted).
    pub orphans: Option<u64>,
    /// Successful uploads per second.
    pub uploads_per_sec: f64,
    /// End-to-end median, µs.
    pub end_to_end_p50_us: u64,
    /// End-to-end 99th percentile, µs.
    pub end_to_end_p99_us: u64,
    /// Measured app-tier bytes per upload.
    pub app_tier_bytes_per_upload: f64,
    /// Extrapolated app-tier bytes at the target.
    pub extrapolated_app_tier_bytes: f64,
    /// App-tier CPU seconds.
    pub cpu_seconds: f64,
    /// App-tier peak RSS.
    pub peak_rss_bytes: u64,
}

/// The summary printed when a run ends: `doc` as text, then where the report and results are.
#[must_use]
pub fn summary(doc: &Document, report_dir: &Path) -> String {
    format!(
        "{}\nreport:  {}\nresults: {}\n",
        text::render(doc),
        report_dir.join("report.html").display(),
        report_dir.join("results.json").display()
    )
}

/// The JSON summary of `results`, whose report is in `dir`.
#[must_use]
pub fn json_summary(results: &Results, dir: &Path) -> JsonSummary {
    let modes = results
        .modes
        .present()
        .into_iter()
        .map(|(mode, m)| {
            let e2e = m.end_to_end();
            let summary = ModeSummary {
                uploads_ok: m.uploads_ok,
                uploads_failed: m.uploads_failed,
                verified: m.verified,
                lost: m.lost,
                corrupt: m.corrupt,
                orphans: m.orphans,
                uploads_per_sec: m.throughput.uploads_per_sec,
                end_to_end_p50_us: e2e.map_or(0, |l| l.p50),
                end_to_end_p99_us: e2e.map_or(0, |l| l.p99),
                app_tier_bytes_per_upload: m.per_upload.app_tier_bytes,
                extrapolated_app_tier_bytes: m.extrapolated.app_tier_bytes,
                cpu_seconds: m.app_tier.cpu_seconds,
                peak_rss_bytes: m.app_tier.peak_rss_bytes,
            };
            (mode, summary)
        })
        .collect();
    JsonSummary {
        complete: results.complete,
        incomplete_reason: results.incomplete_reason.clone(),
        report_dir: dir.display().to_string(),
        headline: headline(results),
        modes,
        comparison: results.comparison.clone(),
        thresholds: results.thresholds.clone(),
    }
}
