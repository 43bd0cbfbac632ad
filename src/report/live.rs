//! The live view's document: the run so far ([`Snapshot`]) built into the same [`Document`] as
//! the final report, by the same builder (tables and sentences; the plots wait for the end), with
//! what will still change marked as provisional; and the page that shows it.

use super::document::{Block, Document};
use crate::harness::live::Snapshot;
use crate::human::grouped;

/// The document of the run so far; once the run has ended, the final report's (without plots).
#[must_use]
pub fn document(s: &Snapshot) -> Document {
    let mut doc = super::build::build_tables(&s.results);
    if s.report.is_some() {
        return doc;
    }
    let (done, total) = s.done_of;
    let of = if total == 0 { grouped(done) } else { format!("{} of {}", grouped(done), grouped(total)) };
    let changing = match s.provisional {
        Some(mode) => format!(
            "the {} column, the ratio and the capacity answer change until the mode ends; verification comes after it",
            mode.as_str()
        ),
        None => "the figures shown are final for the modes that ended".to_owned(),
    };
    doc.status = Some(if s.done_of == (0, 0) && s.in_flight == 0 {
        format!("{}; {changing}.", s.stage)
    } else {
        format!("{}: {of} done, {} in flight; {changing}.", s.stage, grouped(s.in_flight))
    });
    if let Some(mode) = s.provisional {
        for block in doc.sections.iter_mut().flat_map(|section| &mut section.blocks) {
            if let Block::Table(t) = block
                && let Some(column) = t.columns.iter_mut().find(|c| c.as_str() == mode.as_str())
            {
                column.push_str(" (provisional)");
            }
        }
    }
    doc
}

/// The run so far as the content of the live page.
#[must_use]
pub fn fragment(s: &Snapshot) -> String {
    super::html::body(&document(s))
}

/// The live page: the report's style, a place for the fragment, and `script`, which fills it.
#[must_use]
pub fn page(script: &str) -> String {
    let body = "<div id=\"live\"><h1>presign-bench: live</h1><p class=\"status\" id=\"status\">Waiting for the run to begin…</p></div>\n<p id=\"connection\"></p>\n";
    super::html::page("presign-bench: live", body, script)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Mode;

    fn snapshot() -> Snapshot {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json");
        Snapshot {
            seq: 7,
            stage: "the presigned mode".into(),
            results: crate::results::load(&fixture).unwrap(),
            provisional: Some(Mode::Presigned),
            in_flight: 8,
            done_of: (120, 300),
            report: None,
        }
    }

    #[test]
    fn the_mode_under_way_and_the_status_are_marked_provisional() {
        let doc = document(&snapshot());
        assert_eq!(
            doc.status.as_deref(),
            Some(
                "the presigned mode: 120 of 300 done, 8 in flight; the presigned column, the ratio and the capacity \
                 answer change until the mode ends; verification comes after it."
            )
        );
        let Some(Block::Table(modes)) = doc.sections[0].blocks.first() else { panic!("the mode table first") };
        assert_eq!(modes.columns[1..], ["proxied", "presigned (provisional)"]);
        assert!(doc.figures().next().is_none(), "the live document draws no plot");
        let html = fragment(&snapshot());
        assert!(html.contains("<p class=\"status\" id=\"status\"><b>Provisional:</b>"), "{html}");
    }

    #[test]
    fn a_finished_run_is_the_final_document_without_plots() {
        let mut s = snapshot();
        s.report = Some("reports/x".into());
        let doc = document(&s);
        let full = crate::report::build(&s.results).unwrap();
        assert_eq!(doc.status, None);
        assert_eq!(doc.headline, full.headline);
        let tables = |d: &Document| {
            d.sections
                .iter()
                .flat_map(|s| &s.blocks)
                .filter(|b| matches!(b, Block::Table(_)))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(tables(&doc), tables(&full), "the same tables as the final report");
    }
}
