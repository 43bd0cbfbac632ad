//! `summary.md`: a [`Document`] in GitHub-flavoured Markdown, for a CI job summary. Plots stay
//! in their files (a job summary cannot show a file beside it).

use super::document::{Block, Document, Table};
use std::fmt::Write;

/// Escapes text for a Markdown table cell or line.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `doc` as Markdown.
#[must_use]
pub fn render(doc: &Document) -> String {
    let mut out = format!("# {}\n\n", cell(&doc.title));
    if !doc.description.is_empty() {
        let _ = writeln!(out, "> {}\n", cell(&doc.description));
    }
    let _ = writeln!(out, "{}\n", cell(&doc.scope));
    if let Some(status) = &doc.status {
        let _ = writeln!(out, "**Provisional:** {}\n", cell(status));
    }
    if let Some(w) = &doc.warning {
        let _ = writeln!(out, "**⚠ Incomplete run:** {}\n", cell(w));
    }
    if let Some(h) = &doc.headline {
        let _ = writeln!(out, "**{}**\n", cell(&h.claim));
        if let Some(a) = &h.answer {
            let _ = writeln!(out, "**{}** (inputs: the capacity section)\n", cell(a));
        }
    }
    for section in &doc.sections {
        if let Some(heading) = &section.heading {
            let _ = writeln!(out, "### {}\n", cell(heading));
        }
        for block in &section.blocks {
            match block {
                Block::Table(t) => table(&mut out, t),
                Block::Paragraph(p) => {
                    let _ = writeln!(out, "{}\n", cell(p));
                }
                Block::Explanation(paragraphs) => {
                    for (lead, text) in paragraphs {
                        let _ = writeln!(out, "**{}** {}\n", cell(lead), cell(text));
                    }
                }
                Block::Figure(_) => {}
            }
        }
    }
    let _ = writeln!(out, "<sub>{}</sub>", cell(&doc.footer));
    out
}

/// A table: labels left-aligned, figures right-aligned, estimates in italics.
fn table(out: &mut String, t: &Table) {
    let _ = writeln!(out, "| {} |", t.columns.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    let rule: Vec<&str> = (0..t.columns.len()).map(|i| if i < t.labels { "---" } else { "---:" }).collect();
    let _ = writeln!(out, "|{}|", rule.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(|c| if row.estimate && !c.is_empty() { format!("*{}*", cell(c)) } else { cell(c) })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}
