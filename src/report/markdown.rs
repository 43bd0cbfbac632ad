//! `summary.md`: the report's tables in GitHub-flavoured Markdown, for a CI job summary.

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use super::describe::{self, headline, pacing};
use super::table::{latency_rows, rows};
use crate::human::{grouped, ratio, si_bytes};
use crate::results::Results;
use std::fmt::Write;

/// Escapes text for a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders `results` as Markdown.
#[must_use]
pub fn render(results: &Results) -> String {
    let mut out = String::new();
    let s = &results.scenario;
    let modes = results.modes.present();
    let _ = writeln!(out, "# presign-bench: {}\n", cell(&s.name));
    if !s.description.is_empty() {
        let _ = writeln!(out, "> {}\n", cell(&s.description));
    }
    if !results.complete {
        let _ = writeln!(
            out,
            "**⚠ Incomplete run:** {}\n",
            cell(results.incomplete_reason.as_deref().unwrap_or("interrupted"))
        );
    }
    let _ = writeln!(out, "**{}**\n", headline(results));
    let _ = write!(out, "| |");
    for (mode, _) in &modes {
        let _ = write!(out, " {} |", mode.as_str());
    }
    let _ = write!(out, "\n|---|");
    for _ in &modes {
        let _ = write!(out, "---:|");
    }
    out.push('\n');
    for (label, f) in rows() {
        let _ = write!(out, "| {label} |");
        for (_, m) in &modes {
            let _ = write!(out, " {} |", cell(&f(m)));
        }
        out.push('\n');
    }
    let _ = write!(out, "| app-tier bytes for {} uploads (extrapolated) |", grouped(s.target_uploads));
    for (_, m) in &modes {
        let _ = write!(out, " {} |", si_bytes(m.extrapolated.app_tier_bytes));
    }
    out.push('\n');
    if let Some(c) = &results.comparison {
        let _ = writeln!(
            out,
            "\nProxied ÷ presigned, measured: {} client-facing bytes, {} all app-tier bytes, {} CPU ({}).",
            ratio(c.client_bytes_ratio),
            ratio(c.app_tier_bytes_ratio),
            ratio(c.cpu_seconds_ratio),
            cell(&c.basis)
        );
    }
    if let Some(line) = super::reads::multipart_line(results) {
        let _ = writeln!(out, "\n{}", cell(&line));
    }
    reads_table(&mut out, results);
    latency_table(&mut out, results);
    steps_table(&mut out, results);
    if !results.sweep.is_empty() {
        let _ = writeln!(out, "\n### Size sweep\n\n```{}```", super::table::sweep_table(results));
    }
    if let Some(c) = &results.capacity {
        let _ = writeln!(out, "\n### Capacity for the target (modelled)\n\n```\n{}```", super::capacity::table(c));
    }
    if let Some(s) = &results.signing {
        let _ = writeln!(out, "\n### Signing\n\n{}", cell(&super::table::signing_line(s)));
        let rows = super::table::version_rows(s);
        if !rows.is_empty() {
            let columns = super::table::VERSION_COLUMNS;
            let _ = writeln!(
                out,
                "\n### Presigned flow over HTTP/1.1 and HTTP/2: app-tier bytes per upload\n\n| {} |\n|---|{}",
                columns.join(" | "),
                "---:|".repeat(columns.len() - 1)
            );
            for row in rows {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
            if let Some(note) = super::table::version_note(results) {
                let _ = writeln!(out, "\n{}", cell(&note));
            }
        }
    }
    let e = &results.environment;
    let _ = writeln!(
        out,
        "\n<sub>{} uploads per mode, {} · started {} · {:.1} s · {} ({} cores, {}) · {} · presign-bench {}{}</sub>",
        s.uploads,
        pacing(s),
        results.started_at,
        results.duration_ms as f64 / 1000.0,
        cell(&e.cpu_model),
        e.cores,
        si_bytes(e.memory_bytes as f64),
        cell(&e.os),
        e.version,
        e.git_commit.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
    );
    out
}

fn latency_table(out: &mut String, results: &Results) {
    let _ = writeln!(
        out,
        "\n### Latency\n\n| mode | phase | count | p50 | p90 | p99 | p99.9 | max |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for row in latency_rows(results) {
        let _ = writeln!(out, "| {} | {} | {} |", row.mode.as_str(), row.phase.as_str(), row.cells.join(" | "));
    }
}

fn steps_table(out: &mut String, results: &Results) {
    let Some(steps) = results.modes.presigned.as_ref().and_then(|m| m.steps_per_upload.as_ref()) else { return };
    let _ = writeln!(
        out,
        "\n### Presigned flow: app-tier bytes per upload, by step\n\n| step | request | response |\n|---|---:|---:|"
    );
    for (step, req, resp) in describe::steps(steps) {
        let _ = writeln!(out, "| {step} | {} | {} |", si_bytes(req), si_bytes(resp));
    }
}

/// The downloads table and its notes (`[downloads]`).
fn reads_table(out: &mut String, results: &Results) {
    let Some((modes, rows)) = super::reads::table(results) else { return };
    let names: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
    let _ = writeln!(
        out,
        "\n### {}\n\n| | {} |\n|---|{}",
        super::reads::TITLE,
        names.join(" | "),
        "---:|".repeat(names.len())
    );
    for (label, cells) in rows {
        let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} | {} |", cell(&label), cells.join(" | "));
    }
    for note in super::reads::notes(results) {
        let _ = writeln!(out, "\n{}", cell(&note));
    }
}
