//! The terminal renderer of a [`Document`]: its tables padded into columns, its sentences as
//! lines. It leaves out the plots and the explanation: the reader at a terminal has just run
//! the tool, and the report's files hold both.

use super::document::{Block, Document, Table};
use crate::columns::{Align, table as columns};
use std::fmt::Write;

/// `doc` as plain text.
#[must_use]
pub fn render(doc: &Document) -> String {
    let mut out = format!("\n{} ({})\n", doc.title, doc.scope);
    if !doc.description.is_empty() {
        let _ = writeln!(out, "{}", doc.description);
    }
    if let Some(status) = &doc.status {
        let _ = writeln!(out, "PROVISIONAL: {status}");
    }
    if let Some(w) = &doc.warning {
        let _ = writeln!(out, "INCOMPLETE: {w}");
    }
    if let Some(h) = &doc.headline {
        if let Some(a) = &h.answer {
            let _ = write!(out, "\n{a} (inputs: Capacity, below)");
        }
        let _ = write!(out, "\n{}\n", h.claim);
    }
    for section in &doc.sections {
        let body = blocks(&section.blocks);
        if body.is_empty() {
            continue;
        }
        if let Some(heading) = &section.heading {
            let _ = write!(out, "\n{heading}\n");
        }
        out.push_str(&body);
    }
    let _ = write!(out, "\n{}\n", doc.footer);
    out
}

/// The tables and sentences of `blocks`, each preceded by a blank line.
#[must_use]
pub fn blocks(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Table(t) => {
                out.push('\n');
                out.push_str(&table(t));
            }
            Block::Paragraph(p) => {
                let _ = write!(out, "\n{p}\n");
            }
            Block::Explanation(_) | Block::Figure(_) => {}
        }
    }
    out
}

/// A table padded into columns: labels on the left, figures on the right.
fn table(t: &Table) -> String {
    let header: Vec<&str> = t.columns.iter().map(String::as_str).collect();
    let align: Vec<Align> =
        (0..t.columns.len()).map(|i| if i < t.labels { Align::Left } else { Align::Right }).collect();
    let rows: Vec<Vec<String>> = t.rows.iter().map(|r| r.cells.clone()).collect();
    columns(&header, &align, &rows)
}
