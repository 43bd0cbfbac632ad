//! The malware scanning section, when the run scanned or sent infected uploads: per mode, the
//! app tier's scans by verdict, their bytes and time per megabyte, the EICAR uploads caught and
//! missed, and the scanner's own CPU and memory.

use crate::human::{grouped, number, si_bytes};
use crate::report::document::{Block, ModeCell, Section, Table};
use crate::results::Results;
use crate::results::scan::ScanResult;

fn ms(value: Option<f64>) -> String {
    value.map_or("-".into(), |ms| format!("{} ms", number(ms, 3)))
}

#[allow(clippy::cast_precision_loss)] // bytes for display
fn scanner(s: &ScanResult) -> String {
    s.scanner.as_ref().map_or("-".into(), |u| {
        format!("{} CPU-s, {} peak", number(u.cpu_seconds, 3), si_bytes(u.peak_rss_bytes as f64))
    })
}

#[allow(clippy::cast_precision_loss)] // bytes for display
const ROWS: [ModeCell<ScanResult>; 6] = [
    ("scanned: clean / infected / failed", |s| {
        format!("{} / {} / {}", grouped(s.clean), grouped(s.infected), grouped(s.failed))
    }),
    ("bytes scanned", |s| si_bytes(s.bytes as f64)),
    ("scan time per MB (wall, summed over scans)", |s| ms(s.ms_per_mb())),
    ("clamd CPU per MB scanned", |s| ms(s.scanner_ms_per_mb())),
    ("EICAR uploads sent / caught / missed", |s| {
        format!("{} / {} / {}", grouped(s.infected_sent), grouped(s.caught), grouped(s.missed))
    }),
    ("scanner (clamd) CPU, memory", scanner),
];

/// The section, or `None` when no mode scanned.
#[must_use]
pub fn section(results: &Results) -> Option<Section> {
    let modes: Vec<_> =
        results.modes.present().into_iter().filter_map(|(mode, m)| m.scan.as_ref().map(|s| (mode, s))).collect();
    if modes.is_empty() {
        return None;
    }
    let table = Table::by_mode("scan", &modes, &ROWS, None);
    let note = "Each upload is scanned by ClamAV's clamd before it is recorded; an infected one is deleted and \
                answered 422 `infected`. The proxy has every byte: it hands clamd a copy of each piece of the body \
                as it streams it to the store, so scanning costs it no read (and its scan time is the upload's \
                own pace). The broker never sees the bytes: it reads the copy it serves back from the store to \
                stream it to clamd, so a scan in the app tier brings every byte through it once more (the \
                presigned broker's byte counts above include those reads). In production the scanner belongs \
                beside the store, started by the object's event (a Lambda, a worker reading the queue), not in \
                the app tier. The signature database holds one signature made here (the EICAR test string), \
                since ClamAV's own cannot be downloaded on this machine."
        .to_owned();
    Some(Section::titled("Malware scanning", vec![Block::Table(table), Block::Paragraph(note)]))
}
