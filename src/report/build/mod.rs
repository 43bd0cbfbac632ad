//! From a results.json to its [`Document`]: built once, with every figure formatted and every
//! plot drawn, then rendered by the terminal, Markdown and HTML renderers.
//!
//! - [`uploads`]: the two modes side by side, the measured ratio, what the figures mean.
//! - [`reads`]: the downloads.
//! - [`cdn`]: reads through the CDN, every read architecture side by side.
//! - [`details`]: latency, the presigned flow's steps, the size sweep, signing.
//! - [`tls`]: handshakes and CPU per gigabyte, when the run spoke TLS.
//! - [`events`]: validation by store events, when the run had them.
//! - [`scan`]: malware scanning, when the run scanned.
//! - [`figures`]: the data of the plots.

// Display: counts become f64 for formatting; precision beyond what a cell shows is not needed.
#![allow(clippy::cast_precision_loss)]

mod cdn;
mod details;
mod events;
mod figures;
mod reads;
mod scan;
mod tls;
mod uploads;

use crate::human::{grouped, ratio, si_bytes};
use crate::report::capacity;
use crate::report::describe::{answer, headline, object_size, pacing};
use crate::report::document::{Block, Document, Figure, Headline, Section};
use crate::report::plots::{self, Plot, PlotError};
use crate::results::Results;

/// `plot` drawn, when `draw`.
fn figure(plot: &impl Plot, draw: bool) -> Result<Option<Block>, PlotError> {
    Ok(if draw { Some(Block::Figure(Figure { name: plot.name(), drawing: plots::draw(plot)? })) } else { None })
}

/// The report of `results`, plots drawn.
///
/// # Errors
/// A plot that cannot be drawn, named.
pub fn build(results: &Results) -> Result<Document, PlotError> {
    build_with(results, true)
}

/// The report of `results` without its plots (the live view's, redrawn every second: drawing the
/// plots, PNGs included, would cost the run's machine far more than the tables).
///
/// # Panics
/// Never: only drawing a plot fails, and none is drawn.
#[must_use]
pub fn build_tables(results: &Results) -> Document {
    build_with(results, false).expect("only plots fail to draw")
}

/// The report of `results`; `plots`: with its plots drawn.
fn build_with(results: &Results, plots: bool) -> Result<Document, PlotError> {
    let s = &results.scenario;
    let mut sections = vec![Section { heading: None, blocks: uploads::blocks(results) }];
    sections.extend(reads::section(results));
    if let Some(mut cdn) = cdn::section(results) {
        cdn.blocks.extend(figure(&cdn::plot(results), plots)?);
        sections.push(cdn);
    }
    sections.push(Section { heading: None, blocks: vec![uploads::explanation(results)] });
    let drawn = [
        figure(&figures::bandwidth(results), plots)?,
        figure(&figures::latency(results), plots)?,
        figure(&figures::timeline(results), plots)?,
        figure(&figures::resources(results), plots)?,
    ];
    if plots {
        sections.push(Section { heading: None, blocks: drawn.into_iter().flatten().collect() });
    }
    if !results.sweep.is_empty() {
        sections.extend(details::sweep(results, figure(&figures::sweep(results), plots)?));
    }
    if let Some(c) = &results.capacity {
        let mut blocks = capacity::blocks(c);
        blocks.extend(figure(&capacity::plot(c), plots)?);
        sections.push(Section::titled("Capacity for the target (modelled from the measured costs)", blocks));
    }
    sections.extend(tls::section(results));
    sections.extend(events::section(results));
    sections.extend(scan::section(results));
    sections.push(details::latency(results));
    sections.extend(details::steps(results));
    sections.extend(details::signing(results));
    let e = &results.environment;
    Ok(Document {
        title: format!("presign-bench: {}", s.name),
        description: s.description.clone(),
        scope: format!("{} uploads per mode, target {}", grouped(s.uploads), grouped(s.target_uploads)),
        warning: (!results.complete)
            .then(|| results.incomplete_reason.clone().unwrap_or_else(|| "interrupted".to_owned())),
        status: None,
        headline: results.comparison.as_ref().map(|c| Headline {
            figure: ratio(c.client_bytes_ratio),
            claim: headline(results),
            answer: answer(results),
        }),
        sections,
        footer: format!(
            "{} uploads per mode, {}, objects {}, content type {} · started {} · {:.1} s · {} ({} cores, {}) · {} · presign-bench {}{}",
            s.uploads,
            pacing(s),
            object_size(s),
            s.content_type,
            results.started_at,
            results.duration_ms as f64 / 1000.0,
            e.cpu_model,
            e.cores,
            si_bytes(e.memory_bytes as f64),
            e.os,
            e.version,
            e.git_commit.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        ),
    })
}
