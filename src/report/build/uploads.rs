//! The uploads section: the table of both modes side by side, its extrapolation, the ratio
//! measured between them, uploads made in parts, and what the figures mean.

// Display: counts become f64 for formatting; precision beyond what a cell shows is not needed.
#![allow(clippy::cast_precision_loss)]

use crate::human::{grouped, in_out, ms, per_second, ratio, seconds, si_bytes};
use crate::report::document::{Block, ModeCell, Table};
use crate::results::{ModeResult, Results};
use crate::scenario::{Mode, Scenario, Verify};

/// A row of the mode table: its label and how a mode's cell reads.
type Cell = ModeCell<ModeResult>;

/// The rows of the mode table, in order.
const ROWS: [Cell; 13] = [
    ("uploads ok / failed", |m| format!("{} / {}", m.uploads_ok, m.uploads_failed)),
    ("verified / lost / corrupt / orphaned", |m| {
        let orphans = m.orphans.map_or_else(|| "-".to_owned(), |n| n.to_string());
        format!("{} / {} / {} / {orphans}", m.verified, m.lost, m.corrupt)
    }),
    ("throughput", |m| per_second(m.throughput.uploads_per_sec, "uploads")),
    ("end-to-end p50 / p99", |m| m.end_to_end().map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))),
    ("app tier client in / out", |m| in_out(m.app_tier.client_bytes_in, m.app_tier.client_bytes_out)),
    ("app tier storage in / out", |m| in_out(m.app_tier.storage_bytes_in, m.app_tier.storage_bytes_out)),
    ("app tier CPU", |m| seconds(m.app_tier.cpu_seconds)),
    ("load generator CPU", |m| m.client_cpu_seconds.map_or("-".into(), seconds)),
    ("app tier peak RSS", |m| si_bytes(m.app_tier.peak_rss_bytes as f64)),
    ("store CPU / peak RSS", |m| {
        m.store
            .as_ref()
            .map_or("-".into(), |s| format!("{} / {}", seconds(s.cpu_seconds), si_bytes(s.peak_rss_bytes as f64)))
    }),
    ("peak connections / conn-s", |m| {
        format!("{} / {:.1}", m.app_tier.peak_connections, m.app_tier.connection_seconds)
    }),
    ("peak requests / busy req-s", |m| {
        format!("{} / {:.1}", m.app_tier.peak_requests_in_flight, m.app_tier.request_seconds)
    }),
    ("app-tier bytes per upload", |m| si_bytes(m.per_upload.app_tier_bytes)),
];

/// The mode table, the load generator's warnings, the measured ratio and the multipart line.
#[must_use]
pub fn blocks(results: &Results) -> Vec<Block> {
    let modes = results.modes.present();
    let estimate = format!("app-tier bytes for {} uploads (extrapolated)", grouped(results.scenario.target_uploads));
    let table = Table::by_mode("modes", &modes, &ROWS, Some((estimate, |m| si_bytes(m.extrapolated.app_tier_bytes))));
    let mut blocks = vec![Block::Table(table)];
    blocks.push(Block::Paragraph(format!(
        "Extrapolated = measured app-tier bytes per successful upload × {} target uploads.",
        grouped(results.scenario.target_uploads)
    )));
    for (mode, m) in &modes {
        if let Some(client) = m.client_cpu_seconds.filter(|&c| c > m.app_tier.cpu_seconds) {
            blocks.push(Block::Paragraph(format!(
                "Warning: in the {} mode the load generator used more CPU ({}) than the app tier it measured ({}){}; \
                 on a shared machine the client may be what limits these figures.",
                mode.as_str(),
                seconds(client),
                seconds(m.app_tier.cpu_seconds),
                if *mode == Mode::Presigned {
                    " (it also sends every file to the store, which the broker never touches)"
                } else {
                    ""
                }
            )));
        }
    }
    if let Some(c) = &results.comparison {
        blocks.push(Block::Paragraph(format!(
            "Proxied ÷ presigned, measured: {} client-facing bytes, {} all app-tier bytes, {} CPU ({}).",
            ratio(c.client_bytes_ratio),
            ratio(c.app_tier_bytes_ratio),
            ratio(c.cpu_seconds_ratio),
            c.basis
        )));
    }
    blocks.extend(multipart(results).map(Block::Paragraph));
    blocks
}

/// Uploads made in parts, per mode, in one sentence (`None` without a multipart threshold).
fn multipart(results: &Results) -> Option<String> {
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

/// What the figures mean: the two architectures, what is measured, what is extrapolated.
#[must_use]
pub fn explanation(results: &Results) -> Block {
    let s = &results.scenario;
    let target = grouped(s.target_uploads);
    Block::Explanation(vec![
        (
            "What this shows.".into(),
            format!(
                "The same {} uploads went through two architectures with the same authentication, validation and \
                 checks. Proxied: every byte of every file crossed the application server on its way to the object \
                 store. Presigned: the application server only signed a short-lived URL and later checked the stored \
                 object; the file itself went straight to the store.",
                s.uploads
            ),
        ),
        (
            "What is measured.".into(),
            format!(
                "Bytes were counted on the application servers' own sockets, HTTP headers included, on the client \
                 side and on the storage side; CPU and peak memory are those of the server processes; latencies are \
                 per upload, as the client saw them. {}",
                verification(s)
            ),
        ),
        (
            "What is extrapolated.".into(),
            format!(
                "Figures “for {target} uploads” multiply the measured cost per successful upload by the scenario's \
                 target of {target} uploads; they are estimates, labelled in italics, not measurements."
            ),
        ),
    ])
}

/// What the run read back, in words, from the scenario's `verify`.
fn verification(scenario: &Scenario) -> String {
    match scenario.verify {
        Verify::All => {
            "Every object the app reported stored was read back from the store and compared by size and SHA-256.".into()
        }
        Verify::Sample(n) => {
            format!("An evenly spread sample of {n} objects per mode was read back and compared by size and SHA-256.")
        }
        Verify::None => "Objects were not read back (verify = \"none\").".into(),
    }
}
