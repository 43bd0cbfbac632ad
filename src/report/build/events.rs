//! The section on validation by store events, when the run had them: what became of the store's
//! events (verdicts reached, late, duplicated, ignored, lost), how long an object waited for its
//! verdict, and the app-tier bytes the deliveries cost beside the uploads they checked.

// Display: counts become f64 for formatting; precision beyond what a cell shows is not needed.
#![allow(clippy::cast_precision_loss)]

use crate::human::{grouped, in_out, ms, si_bytes};
use crate::report::document::{Block, Row, Section, Table};
use crate::results::Results;

/// The section, or `None` when no mode had store events.
#[must_use]
pub fn section(results: &Results) -> Option<Section> {
    let (_, presigned) = results.modes.present().into_iter().find(|(_, m)| m.events.is_some())?;
    let e = presigned.events.as_ref()?;
    let c = &e.counts;
    let l = &e.latency_us;
    let row = |label: &str, value: String| Row::measured(vec![label.to_owned(), value]);
    let uploads = presigned.uploads_ok.max(1) as f64;
    let rows = vec![
        row("uploads verified by their event", grouped(c.verified)),
        row("uploads rejected by their event (deleted)", grouped(c.rejected)),
        row("events after the completion's verdict (late)", grouped(c.late)),
        row("events duplicated", grouped(c.duplicate)),
        row("events ignored (other keys, never signed)", grouped(c.ignored)),
        row("deliveries refused (no or wrong token)", grouped(c.refused)),
        row("uploads with no event by the end (lost)", grouped(e.lost)),
        row(
            "store accepted → broker verdict: p50 / p99 / max",
            format!("{} / {} / {}", ms(l.p50), ms(l.p99), ms(l.max)),
        ),
        row("event bytes into / out of the broker", in_out(e.bytes_in, e.bytes_out)),
        row("event bytes per upload", si_bytes((e.bytes_in + e.bytes_out) as f64 / uploads)),
    ];
    let table = Table { id: "events", columns: vec![String::new(), "presigned".into()], labels: 1, rows };
    let note = format!(
        "The store sent an S3 event notification when each object landed ({}); the broker checked the upload then \
         (the same copy, size, type and magic-number checks as a completion) and recorded the verdict, and each \
         completion answered from it, waiting up to its event wait when the event was still on its way. The latency \
         runs from the event's `eventTime` (the store accepting the object) to the verdict, queueing in the store \
         included. The event bytes are counted on the broker's sockets and are part of its client bytes above.",
        match results.scenario.storage {
            crate::scenario::Storage::Minio { .. } => "MinIO's webhook target, with a queue directory",
            _ => "the embedded store's notifier, with an on-disk queue",
        }
    );
    Some(Section::titled("Validation by store events", vec![Block::Table(table), Block::Paragraph(note)]))
}
