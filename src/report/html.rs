//! `report.html`: a [`Document`] as one self-contained page (inline SVG and CSS, nothing
//! fetched) for people who will not read JSON.

use super::document::{Block, Document, Table};
use std::fmt::Write;

const CSS: &str = "
body { font-family: -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .desc { color: #555; margin-top: 0; }
.headline { font-size: 4rem; font-weight: 700; color: #d62728; margin: 1rem 0 0; }
.sub { font-size: 1.2rem; color: #444; margin-top: 0.2rem; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.8rem; border-radius: 6px; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: 0.35rem 0.8rem; border-bottom: 1px solid #ddd; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.proxied { color: #d62728; } .presigned { color: #1f77b4; }
figure { margin: 1.5rem 0; } figure svg { width: 100%; height: auto; border: 1px solid #eee; }
.explain { background: #f6f8fa; padding: 1rem 1.2rem; border-radius: 6px; line-height: 1.5; }
footer { color: #777; font-size: 0.9rem; margin-top: 2rem; }
.answer { font-size: 1.3rem; margin: 0.6rem 0 1rem; } .answer a { font-size: 1rem; }
.status { background: #e8f0fe; border: 1px solid #90b0e0; padding: 0.8rem; border-radius: 6px; }
th.provisional, .provisional-figures td.n:not(.final) { color: #888; font-style: italic; }
";

/// Escapes text for HTML text and double-quoted attributes (`&`, `<`, `>`, `"`).
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_double_quoted_attribute(s)
}

/// `doc` as a page.
#[must_use]
pub fn render(doc: &Document) -> String {
    page(&doc.title, &body(doc), "")
}

/// A page titled `title` with the report's style, `body` its content and `script` (may be empty)
/// its script.
#[must_use]
pub fn page(title: &str, body: &str, script: &str) -> String {
    let title = esc(title);
    let script = if script.is_empty() { String::new() } else { format!("<script>{script}</script>\n") };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}{script}</body>\n</html>\n"
    )
}

/// `doc` as the content of a page's body.
#[must_use]
pub fn body(doc: &Document) -> String {
    let mut out = format!("<h1>{}</h1>\n", esc(&doc.title));
    let _ = writeln!(out, "<p class=\"desc\">{}<br>{}</p>", esc(&doc.description), esc(&doc.scope));
    if let Some(status) = &doc.status {
        let _ = writeln!(out, "<p class=\"status\" id=\"status\"><b>Provisional:</b> {}</p>", esc(status));
    }
    if let Some(w) = &doc.warning {
        let _ =
            writeln!(out, "<p class=\"warn\"><b>Incomplete run:</b> {}. The figures cover only what ran.</p>", esc(w));
    }
    if let Some(h) = &doc.headline {
        let _ = writeln!(out, "<p class=\"headline\">{}</p>\n<p class=\"sub\">{}</p>", esc(&h.figure), esc(&h.claim));
        if let Some(a) = &h.answer {
            let _ = writeln!(
                out,
                "<p class=\"answer\" id=\"answer\">{} <a href=\"#capacity-inputs\">The inputs.</a></p>",
                esc(a)
            );
        }
    }
    for section in &doc.sections {
        if let Some(heading) = &section.heading {
            let _ = writeln!(out, "<h2>{}</h2>", esc(heading));
        }
        for block in &section.blocks {
            match block {
                Block::Table(t) => table(&mut out, t),
                Block::Paragraph(p) => {
                    let _ = writeln!(out, "<p>{}</p>", esc(p));
                }
                Block::Explanation(paragraphs) => {
                    out.push_str("<div class=\"explain\">");
                    for (lead, text) in paragraphs {
                        let _ = write!(out, "<p><b>{}</b> {}</p>", esc(lead), esc(text));
                    }
                    out.push_str("</div>\n");
                }
                Block::Figure(f) => {
                    let _ = writeln!(out, "<figure id=\"{}\">\n{}\n</figure>", f.name, f.drawing.svg);
                }
            }
        }
    }
    let _ = writeln!(out, "<footer>{}</footer>", esc(&doc.footer));
    out
}

/// A mode's name gets its colour wherever it heads a column or a row.
fn class(text: &str, numeric: bool) -> String {
    let mode = matches!(text, "proxied" | "presigned").then_some(text);
    match (numeric, mode) {
        (true, Some(m)) => format!(" class=\"n {m}\""),
        (true, None) => " class=\"n\"".to_owned(),
        (false, Some(m)) => format!(" class=\"{m}\""),
        (false, None) => String::new(),
    }
}

/// A table: labels left, figures right, estimates in italics.
fn table(out: &mut String, t: &Table) {
    let _ = write!(out, "<table id=\"{}\">\n<tr>", t.id);
    for (i, c) in t.columns.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(c, i >= t.labels), esc(c));
    }
    out.push_str("</tr>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, c) in row.cells.iter().enumerate() {
            let text = if row.estimate { format!("<i>{}</i>", esc(c)) } else { esc(c).into_owned() };
            let _ = write!(out, "<td{}>{text}</td>", class(c, i >= t.labels));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}
