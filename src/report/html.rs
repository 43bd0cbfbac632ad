//! `report.html`: one self-contained page (inline SVG and CSS, nothing fetched) for people who
//! will not read JSON.

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use super::describe::{headline, object_size, pacing, steps};
use super::table::{latency_rows, rows};
use crate::human::{grouped, ratio, si_bytes};
use crate::results::Results;
use crate::scenario::{Scenario, Verify};
use std::fmt::Write;

const CSS: &str = "
body { font-family: -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } .desc { color: #555; margin-top: 0; }
.headline { font-size: 4rem; font-weight: 700; color: #d62728; margin: 1rem 0 0; }
.sub { font-size: 1.2rem; color: #444; margin-top: 0.2rem; }
.warn { background: #fff3cd; border: 1px solid #e0c060; padding: 0.8rem; border-radius: 6px; }
table { border-collapse: collapse; margin: 1rem 0; } th, td { padding: 0.35rem 0.8rem; border-bottom: 1px solid #ddd; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.proxied { color: #d62728; } .presigned { color: #1f77b4; }
figure { margin: 1.5rem 0; } figure svg { width: 100%; height: auto; border: 1px solid #eee; }
.explain { background: #f6f8fa; padding: 1rem 1.2rem; border-radius: 6px; line-height: 1.5; }
footer { color: #777; font-size: 0.9rem; margin-top: 2rem; }
";

/// Escapes text for HTML text and double-quoted attributes (`&`, `<`, `>`, `"`).
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_double_quoted_attribute(s)
}

/// Renders the page; `svg(name)` gives a plot's SVG text.
#[must_use]
pub fn render(results: &Results, svg: &dyn Fn(&str) -> String) -> String {
    let s = &results.scenario;
    let name = esc(&s.name);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>presign-bench: {name}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
    );
    let _ = writeln!(out, "<h1>presign-bench: {name}</h1>");
    let _ = writeln!(out, "<p class=\"desc\">{}</p>", esc(&s.description));
    if !results.complete {
        let _ = writeln!(
            out,
            "<p class=\"warn\"><b>Incomplete run:</b> {}. The figures cover only what ran.</p>",
            esc(results.incomplete_reason.as_deref().unwrap_or("interrupted"))
        );
    }
    if let Some(c) = &results.comparison {
        let _ = writeln!(out, "<p class=\"headline\">{}</p>", ratio(c.client_bytes_ratio));
        let _ = writeln!(out, "<p class=\"sub\">{}</p>", esc(&headline(results)));
    }
    mode_table(&mut out, results);
    if let Some(line) = super::reads::multipart_line(results) {
        let _ = writeln!(out, "<p id=\"multipart\">{}</p>", esc(&line));
    }
    reads_table(&mut out, results);
    explanation(&mut out, results);
    for plot in ["bandwidth", "latency", "timeline", "resources"] {
        let _ = writeln!(out, "<figure id=\"{plot}\">\n{}\n</figure>", svg(plot));
    }
    if !results.sweep.is_empty() {
        let _ = writeln!(out, "<h2>Size sweep</h2>\n<pre>{}</pre>", esc(&super::table::sweep_table(results)));
        let _ = writeln!(out, "<figure id=\"sweep\">\n{}\n</figure>", svg("sweep"));
    }
    if let Some(c) = &results.capacity {
        let _ = writeln!(
            out,
            "<h2>Capacity for the target <i>(modelled)</i></h2>\n<pre>{}</pre>",
            esc(&super::capacity::table(c))
        );
        let _ = writeln!(out, "<figure id=\"capacity\">\n{}\n</figure>", svg("capacity"));
    }
    latency_table(&mut out, results);
    if let Some(st) = results.modes.presigned.as_ref().and_then(|m| m.steps_per_upload.as_ref()) {
        let _ = writeln!(
            out,
            "<h2>Presigned flow: app-tier bytes per upload, by step</h2>\n<table><tr><th>step</th><th class=\"n\">request</th><th class=\"n\">response</th></tr>"
        );
        for (step, req, resp) in steps(st) {
            let _ = writeln!(
                out,
                "<tr><td>{step}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                si_bytes(req),
                si_bytes(resp)
            );
        }
        out.push_str("</table>\n");
    }
    if let Some(s) = &results.signing {
        let _ = writeln!(out, "<h2>Signing</h2>\n<p>{}</p>", esc(&super::table::signing_line(s)));
        let rows = super::table::version_rows(s);
        if !rows.is_empty() {
            out.push_str("<h2>Presigned flow over HTTP/1.1 and HTTP/2: app-tier bytes per upload</h2>\n<table id=\"http-versions\"><tr>");
            for (i, c) in super::table::VERSION_COLUMNS.iter().enumerate() {
                let _ = write!(out, "<th{}>{}</th>", if i > 0 { " class=\"n\"" } else { "" }, esc(c));
            }
            out.push_str("</tr>\n");
            for row in rows {
                out.push_str("<tr>");
                for (i, c) in row.iter().enumerate() {
                    let _ = write!(out, "<td{}>{}</td>", if i > 0 { " class=\"n\"" } else { "" }, esc(c));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
            if let Some(note) = super::table::version_note(results) {
                let _ = writeln!(out, "<p>{}</p>", esc(&note));
            }
        }
    }
    footer(&mut out, results);
    out.push_str("</body>\n</html>\n");
    out
}

fn reads_table(out: &mut String, results: &Results) {
    let Some((modes, rows)) = super::reads::table(results) else { return };
    let _ = write!(out, "<h2>{}</h2>\n<table id=\"downloads\">\n<tr><th></th>", esc(super::reads::TITLE));
    for mode in &modes {
        let _ = write!(out, "<th class=\"n {0}\">{0}</th>", mode.as_str());
    }
    out.push_str("</tr>\n");
    for (label, cells) in rows {
        let _ = write!(out, "<tr><td>{}</td>", esc(&label));
        for c in cells {
            let _ = write!(out, "<td class=\"n\">{}</td>", esc(&c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    for note in super::reads::notes(results) {
        let _ = writeln!(out, "<p>{}</p>", esc(&note));
    }
}

fn mode_table(out: &mut String, results: &Results) {
    let modes = results.modes.present();
    out.push_str("<table>\n<tr><th></th>");
    for (mode, _) in &modes {
        let _ = write!(out, "<th class=\"n {0}\">{0}</th>", mode.as_str());
    }
    out.push_str("</tr>\n");
    for (label, f) in rows() {
        let _ = write!(out, "<tr><td>{}</td>", esc(&label));
        for (_, m) in &modes {
            let _ = write!(out, "<td class=\"n\">{}</td>", esc(&f(m)));
        }
        out.push_str("</tr>\n");
    }
    let target = grouped(results.scenario.target_uploads);
    let _ = write!(out, "<tr><td>app-tier bytes for {target} uploads <i>(extrapolated)</i></td>");
    for (_, m) in &modes {
        let _ = write!(out, "<td class=\"n\"><i>{}</i></td>", si_bytes(m.extrapolated.app_tier_bytes));
    }
    out.push_str("</tr>\n</table>\n");
}

fn latency_table(out: &mut String, results: &Results) {
    out.push_str("<h2>Latency</h2>\n<table><tr><th>mode</th><th>phase</th>");
    for h in ["count", "p50", "p90", "p99", "p99.9", "max"] {
        let _ = write!(out, "<th class=\"n\">{h}</th>");
    }
    out.push_str("</tr>\n");
    for row in latency_rows(results) {
        let _ = write!(out, "<tr><td class=\"{0}\">{0}</td><td>{1}</td>", row.mode.as_str(), row.phase.as_str());
        for c in row.cells {
            let _ = write!(out, "<td class=\"n\">{c}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

fn explanation(out: &mut String, results: &Results) {
    let s = &results.scenario;
    let (uploads, target) = (s.uploads, s.target_uploads);
    let _ = writeln!(
        out,
        "<div class=\"explain\"><p><b>What this shows.</b> The same {uploads} uploads went through two architectures with the same \
         authentication, validation and checks. <span class=\"proxied\">Proxied</span>: every byte of every file crossed the \
         application server on its way to the object store. <span class=\"presigned\">Presigned</span>: the application server \
         only signed a short-lived URL and later checked the stored object; the file itself went straight to the store.</p>\
         <p><b>What is measured.</b> Bytes were counted on the application servers' own sockets, HTTP headers included, on the \
         client side and on the storage side; CPU and peak memory are those of the server processes; latencies are per upload, \
         as the client saw them. {}</p>\
         <p><b>What is extrapolated.</b> Figures “for {} uploads” multiply the measured cost per successful upload by the \
         scenario's target of {} uploads; they are estimates, labelled in italics, not measurements.</p></div>",
        verification(s),
        grouped(target),
        grouped(target)
    );
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

fn footer(out: &mut String, results: &Results) {
    let s = &results.scenario;
    let e = &results.environment;
    let _ = writeln!(
        out,
        "<footer>{} uploads per mode, {}, objects {}, content type {} · started {} · {:.1} s · {} ({} cores, {}) · {} · presign-bench {}{}</footer>",
        s.uploads,
        esc(&pacing(s)),
        esc(&object_size(s)),
        esc(&s.content_type),
        esc(&results.started_at),
        results.duration_ms as f64 / 1000.0,
        esc(&e.cpu_model),
        e.cores,
        si_bytes(e.memory_bytes as f64),
        esc(&e.os),
        esc(&e.version),
        e.git_commit.as_deref().map(|c| format!(" ({})", esc(c))).unwrap_or_default()
    );
}
