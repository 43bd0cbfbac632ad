//! The read side of a report (`[downloads]`) and the uploads made in parts: one table of rows
//! that the text summary, Markdown and HTML all render, with the extrapolation's inputs spelled
//! out and the capacity model's answer for reads alone and for writes and reads together.

use crate::human::{grouped, in_out, ms, ratio, si_bytes};
use crate::results::{DownloadResult, Phase, Results};
use crate::scenario::Mode;
use std::fmt::Write;

/// The downloads table: the modes that read, then `(label, a cell per mode)` rows.
pub type Table = (Vec<Mode>, Vec<(String, Vec<String>)>);

/// A row of the downloads table: its label and how a mode's cell reads.
type Row = (String, Box<dyn Fn(&DownloadResult) -> String>);

/// The title of the downloads table.
pub const TITLE: &str = "Downloads: each stored object read back through its architecture";

/// The downloads table: a header of modes, then `(label, cells)` rows. `None` without downloads.
#[must_use]
#[allow(clippy::cast_precision_loss)] // display only
pub fn table(results: &Results) -> Option<Table> {
    let modes: Vec<(Mode, &DownloadResult)> =
        results.modes.present().into_iter().filter_map(|(mode, m)| m.downloads.as_ref().map(|d| (mode, d))).collect();
    if modes.is_empty() {
        return None;
    }
    let latency = |phase: Phase| {
        move |d: &DownloadResult| {
            d.latency_us.get(&phase).map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))
        }
    };
    let target = modes[0].1.extrapolated.downloads;
    let rows: Vec<Row> = vec![
        ("downloads ok / failed".into(), Box::new(|d| format!("{} / {}", d.downloads_ok, d.downloads_failed))),
        ("SHA-256 verified / corrupt".into(), Box::new(|d| format!("{} / {}", d.verified, d.corrupt))),
        (
            "throughput".into(),
            Box::new(|d| {
                format!("{:.1} downloads/s, {}/s", d.throughput.downloads_per_sec, si_bytes(d.throughput.bytes_per_sec))
            }),
        ),
        ("resolve p50 / p99".into(), Box::new(latency(Phase::Resolve))),
        ("transfer p50 / p99".into(), Box::new(latency(Phase::Transfer))),
        ("end-to-end p50 / p99".into(), Box::new(latency(Phase::EndToEnd))),
        (
            "app tier client in / out".into(),
            Box::new(|d| in_out(d.app_tier.client_bytes_in, d.app_tier.client_bytes_out)),
        ),
        (
            "app tier storage in / out".into(),
            Box::new(|d| in_out(d.app_tier.storage_bytes_in, d.app_tier.storage_bytes_out)),
        ),
        ("app tier CPU".into(), Box::new(|d| format!("{:.2} s", d.app_tier.cpu_seconds))),
        ("app-tier bytes per download".into(), Box::new(|d| si_bytes(d.per_download.app_tier_bytes))),
        (
            format!("app-tier bytes for {} downloads (extrapolated)", grouped(target)),
            Box::new(|d| si_bytes(d.extrapolated.app_tier_bytes)),
        ),
    ];
    let rows = rows.into_iter().map(|(label, f)| (label, modes.iter().map(|(_, d)| f(d)).collect())).collect();
    Some((modes.iter().map(|(m, _)| *m).collect(), rows))
}

/// The sentences under the table: the extrapolation's inputs, proxied ÷ presigned per download,
/// and the servers the capacity model gives for reads and for writes and reads together.
#[must_use]
pub fn notes(results: &Results) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(d) = results.scenario.downloads else { return notes };
    notes.push(format!(
        "Each object was downloaded {} times per mode; extrapolated = measured app-tier bytes per download x {} target downloads ({} target uploads x {}).",
        d.per_object,
        grouped(results.scenario.target_uploads.saturating_mul(d.per_object)),
        grouped(results.scenario.target_uploads),
        d.per_object
    ));
    if let Some(r) = results.comparison.as_ref().and_then(|c| c.download_app_tier_bytes_ratio) {
        notes.push(format!("Per download, proxied carries {} the app-tier bytes of presigned.", ratio(r)));
    }
    if let Some(c) = results.capacity.as_ref().filter(|c| !c.reads.is_empty()) {
        let servers = |plans: &std::collections::BTreeMap<Mode, crate::results::capacity::ModePlan>, m: Mode| {
            plans.get(&m).map_or_else(|| "-".to_owned(), |p| format!("{} ({}-bound)", p.servers, p.binding.as_str()))
        };
        notes.push(format!(
            "Capacity (modelled from the measured costs): reads alone need proxied {}, presigned {}; writes and reads together need proxied {}, presigned {}.",
            servers(&c.reads, Mode::Proxied),
            servers(&c.reads, Mode::Presigned),
            servers(&c.together, Mode::Proxied),
            servers(&c.together, Mode::Presigned)
        ));
    }
    notes
}

/// Uploads made in parts, per mode, in one sentence (`None` without a multipart threshold).
#[must_use]
pub fn multipart_line(results: &Results) -> Option<String> {
    let m = results.scenario.multipart?;
    let per_mode: Vec<String> = results
        .modes
        .present()
        .into_iter()
        .filter_map(|(mode, r)| {
            r.multipart.map(|u| {
                format!(
                    "{} {} uploads in {} parts ({} part retries)",
                    mode.as_str(),
                    u.uploads,
                    u.parts,
                    u.part_retries
                )
            })
        })
        .collect();
    Some(format!(
        "Objects above {} were uploaded in parts of {} ({} in flight per presigned upload; the proxy streams its parts one by one): {}.",
        crate::human::binary_bytes(m.threshold_bytes),
        crate::human::binary_bytes(m.part_size_bytes),
        m.parts_in_flight,
        per_mode.join("; ")
    ))
}

/// The downloads section as plain text (for the summary printed at the end of a run).
#[must_use]
pub fn text(results: &Results) -> Option<String> {
    let (modes, rows) = table(results)?;
    // Columns as wide as their widest cell.
    let label = rows.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0) + 2;
    let width = rows.iter().flat_map(|(_, c)| c.iter().map(|c| c.chars().count())).max().unwrap_or(0).max(9) + 2;
    let mut out = format!("\n{TITLE}\n{:<label$}", "");
    for m in &modes {
        let _ = write!(out, "{:>width$}", m.as_str());
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = write!(out, "{name:<label$}");
        for c in cells {
            let _ = write!(out, "{c:>width$}");
        }
        out.push('\n');
    }
    for note in notes(results) {
        let _ = writeln!(out, "  {note}");
    }
    Some(out)
}
