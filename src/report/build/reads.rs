//! The read side (`[downloads]`): one table of both modes' downloads, with the extrapolation's
//! inputs spelled out and the capacity model's answer for reads alone and for writes and reads
//! together.

use crate::human::{grouped, in_out, ms, per_second, ratio, seconds, si_bytes};
use crate::report::document::{Block, ModeCell, Section, Table};
use crate::results::capacity::ModePlan;
use crate::results::{DownloadResult, Phase, Results};
use crate::scenario::Mode;
use std::collections::BTreeMap;

/// The section's heading.
pub const TITLE: &str = "Downloads: each stored object read back through its architecture";

/// A row of the downloads table: its label and how a mode's cell reads.
type Cell = ModeCell<DownloadResult>;

fn latency(d: &DownloadResult, phase: Phase) -> String {
    d.latency_us.get(&phase).map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))
}

const ROWS: [Cell; 10] = [
    ("downloads ok / failed", |d| format!("{} / {}", d.downloads_ok, d.downloads_failed)),
    ("SHA-256 verified / corrupt", |d| format!("{} / {}", d.verified, d.corrupt)),
    ("throughput", |d| {
        format!(
            "{}, {}/s",
            per_second(d.throughput.downloads_per_sec, "downloads"),
            si_bytes(d.throughput.bytes_per_sec)
        )
    }),
    ("resolve p50 / p99", |d| latency(d, Phase::Resolve)),
    ("transfer p50 / p99", |d| latency(d, Phase::Transfer)),
    ("end-to-end p50 / p99", |d| latency(d, Phase::EndToEnd)),
    ("app tier client in / out", |d| in_out(d.app_tier.client_bytes_in, d.app_tier.client_bytes_out)),
    ("app tier storage in / out", |d| in_out(d.app_tier.storage_bytes_in, d.app_tier.storage_bytes_out)),
    ("app tier CPU", |d| seconds(d.app_tier.cpu_seconds)),
    ("app-tier bytes per download", |d| si_bytes(d.per_download.app_tier_bytes)),
];

/// The downloads section, or `None` without downloads.
#[must_use]
pub fn section(results: &Results) -> Option<Section> {
    let modes: Vec<(Mode, &DownloadResult)> =
        results.modes.present().into_iter().filter_map(|(mode, m)| m.downloads.as_ref().map(|d| (mode, d))).collect();
    let target = modes.first()?.1.extrapolated.downloads;
    let estimate = format!("app-tier bytes for {} downloads (extrapolated)", grouped(target));
    let table =
        Table::by_mode("downloads", &modes, &ROWS, Some((estimate, |d| si_bytes(d.extrapolated.app_tier_bytes))));
    let mut blocks = vec![Block::Table(table)];
    blocks.extend(notes(results).into_iter().map(Block::Paragraph));
    Some(Section::titled(TITLE, blocks))
}

/// The target's downloads, as the results extrapolated them.
fn modes_target(results: &Results) -> u64 {
    results.modes.present().into_iter().find_map(|(_, m)| m.downloads.as_ref()).map_or(0, |d| d.extrapolated.downloads)
}

/// The sentences under the table: the extrapolation's inputs, proxied ÷ presigned per download,
/// and the servers the capacity model gives for reads and for writes and reads together.
fn notes(results: &Results) -> Vec<String> {
    let mut notes = Vec::new();
    let Some(d) = results.scenario.downloads else { return notes };
    let per_object = d.per_object(results.scenario.uploads);
    let how = match d.views {
        Some(v) => format!(
            "{} views per mode by {} viewers ({}), {} per stored object",
            grouped(v.views),
            grouped(v.viewers),
            v.zipf.map_or_else(|| "every object alike".to_owned(), |s| format!("Zipf popularity, exponent {s}")),
            crate::human::number(per_object, 3)
        ),
        None => format!("Each object was downloaded {} times per mode", d.per_object),
    };
    let target = modes_target(results);
    notes.push(format!(
        "{how}; extrapolated = measured app-tier bytes per download × {} target downloads ({} target uploads × {}).",
        grouped(target),
        grouped(results.scenario.target_uploads),
        crate::human::number(per_object, 3)
    ));
    if let Some(r) = results.comparison.as_ref().and_then(|c| c.download_app_tier_bytes_ratio) {
        notes.push(format!("Per download, proxied carries {} the app-tier bytes of presigned.", ratio(r)));
    }
    if let Some(c) = results.capacity.as_ref().filter(|c| !c.reads.is_empty()) {
        let servers = |plans: &BTreeMap<Mode, ModePlan>, m: Mode| {
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
