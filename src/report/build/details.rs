//! The detail sections: latency by phase, the presigned flow's bytes by step, the size sweep,
//! and signing (the broker under presign-only load, and the flow over HTTP/1.1 and HTTP/2).

// Display: counts become f64 for formatting; precision beyond what a cell shows is not needed.
#![allow(clippy::cast_precision_loss)]

use crate::human::{grouped, ms, number, ratio, si_bytes};
use crate::report::describe;
use crate::report::document::{Block, Row, Section, Table};
use crate::results::{ModeResult, Phase, Results, SigningResult};
use crate::scenario::Mode;
use std::fmt::Write;

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|&n| n.to_owned()).collect()
}

/// Every phase of every mode that ran: count and percentiles.
#[must_use]
pub fn latency(results: &Results) -> Section {
    let mut rows = Vec::new();
    for (mode, m) in results.modes.present() {
        for phase in Phase::ALL {
            if let Some(l) = m.latency_us.get(&phase) {
                rows.push(Row::measured(vec![
                    mode.as_str().to_owned(),
                    phase.as_str().to_owned(),
                    grouped(l.count),
                    ms(l.p50),
                    ms(l.p90),
                    ms(l.p99),
                    ms(l.p999),
                    ms(l.max),
                ]));
            }
        }
    }
    let columns = columns(&["mode", "phase", "count", "p50", "p90", "p99", "p99.9", "max"]);
    Section::titled("Latency", vec![Block::Table(Table { id: "latency", columns, labels: 2, rows })])
}

/// The presigned flow's app-tier bytes per upload by step, when the presigned mode ran.
#[must_use]
pub fn steps(results: &Results) -> Option<Section> {
    let steps = results.modes.presigned.as_ref()?.steps_per_upload.as_ref()?;
    let rows = describe::steps(steps)
        .into_iter()
        .map(|(step, request, response)| Row::measured(vec![step.to_owned(), si_bytes(request), si_bytes(response)]))
        .collect();
    let table = Table { id: "steps", columns: columns(&["step", "request", "response"]), labels: 1, rows };
    Some(Section::titled("Presigned flow: app-tier bytes per upload, by step", vec![Block::Table(table)]))
}

/// The sweep: latency and app-tier bytes per upload at each size, and the crossover.
#[must_use]
pub fn sweep(results: &Results, figure: Option<Block>) -> Option<Section> {
    if results.sweep.is_empty() {
        return None;
    }
    let latency = |m: Option<&ModeResult>| {
        m.and_then(ModeResult::end_to_end).map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))
    };
    let bytes = |m: Option<&ModeResult>| m.map_or("-".into(), |m| si_bytes(m.per_upload.app_tier_bytes));
    let rows = results
        .sweep
        .iter()
        .map(|p| {
            let (proxied, presigned) = (p.modes.get(Mode::Proxied), p.modes.get(Mode::Presigned));
            Row::measured(vec![
                si_bytes(p.object_size as f64),
                latency(proxied),
                latency(presigned),
                bytes(proxied),
                bytes(presigned),
            ])
        })
        .collect();
    let columns = columns(&[
        "size",
        "proxied p50 / p99",
        "presigned p50 / p99",
        "proxied bytes/upload",
        "presigned bytes/upload",
    ]);
    let crossover = results.sweep_crossover_bytes.map_or_else(
        || "Crossover: none (presigned's median latency is higher at every size swept).".to_owned(),
        |c| {
            format!(
                "Crossover: from {} up, presigned's median latency is no worse than proxying's.",
                si_bytes(c as f64)
            )
        },
    );
    Some(Section::titled(
        "Size sweep (the tables above are its last size)",
        [Block::Table(Table { id: "sweep", columns, labels: 1, rows }), Block::Paragraph(crossover)]
            .into_iter()
            .chain(figure)
            .collect(),
    ))
}

/// The signing phase and the presigned flow over each HTTP version, when measured.
#[must_use]
pub fn signing(results: &Results) -> Option<Section> {
    let s = results.signing.as_ref()?;
    let mut blocks = vec![Block::Paragraph(signing_line(s))];
    blocks.extend(s.time.as_ref().map(|t| Block::Paragraph(presign_time(t))));
    if !s.by_http_version.is_empty() {
        blocks.push(Block::Table(versions(s)));
        blocks.extend(version_note(results).map(Block::Paragraph));
    }
    Some(Section::titled("Signing", blocks))
}

/// The signing phase in one sentence, with its inputs.
fn signing_line(s: &SigningResult) -> String {
    format!(
        "Broker under presign-only load ({} in flight, {:.1} s): {} presigns/s, {} per broker CPU-second \
         ({} requests / {:.2} CPU s); /healthz {} req/s; presign/healthz = {:.0}%.",
        s.concurrency,
        s.duration_ms as f64 / 1000.0,
        number(s.broker_requests_per_sec.round(), 3),
        number(s.requests_per_cpu_second.round(), 3),
        grouped(s.broker_requests),
        s.broker_cpu_seconds,
        number(s.healthz_requests_per_sec.round(), 3),
        s.ratio_to_healthz * 100.0
    )
}

/// Where a presign's time goes, labelled as the broker's own timers.
fn presign_time(t: &crate::results::PresignTime) -> String {
    let handler = t.auth_us + t.request_us + t.sign_us + t.respond_us;
    format!(
        "Where a presign's time goes (the broker's own timers around its handler's sections, wall time \
         per presign over {} presigns): token check {:.1} µs, request body read and checked {:.1} µs, \
         upload id and SigV4 URL signed {:.1} µs, JSON answer {:.1} µs; {:.1} µs in the handler of the \
         {:.1} µs of broker CPU per presign. The rest is the HTTP stack, routing, the request limits and \
         the scheduler.",
        grouped(t.presigns),
        t.auth_us,
        t.request_us,
        t.sign_us,
        t.respond_us,
        handler,
        t.cpu_us
    )
}

/// The presigned flow's app-tier bytes per upload over each HTTP version, in whole bytes.
fn versions(s: &SigningResult) -> Table {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display only
    let b = |v: f64| format!("{} B", grouped(v.round().max(0.0) as u64));
    let rows = s
        .by_http_version
        .iter()
        .map(|v| {
            let st = &v.steps;
            Row::measured(vec![
                v.http.as_str().to_owned(),
                b(st.presign_request_bytes),
                b(st.presign_response_bytes),
                b(st.complete_request_bytes),
                b(st.complete_response_bytes),
                b(v.client_bytes_per_upload),
                b(st.store_request_bytes + st.store_response_bytes),
            ])
        })
        .collect();
    let columns = columns(&[
        "HTTP",
        "presign request",
        "presign response",
        "complete request",
        "complete response",
        "client-facing total",
        "broker ↔ store",
    ]);
    Table { id: "http-versions", columns, labels: 1, rows }
}

/// What the version rows were measured with, and what HTTP/2 makes of the run's ratio: the
/// proxied mode's client-facing bytes per upload (measured in the same run) over HTTP/2's.
fn version_note(results: &Results) -> Option<String> {
    let s = results.signing.as_ref()?;
    let first = s.by_http_version.first()?;
    let mut note = format!(
        "Presigned flow over each HTTP version: {} uploads of {} per version, {} at a time, presign and complete on \
         one kept-alive connection (as a browser tab makes them), counted on the harness's sockets (the broker's own \
         counters: {}).",
        first.uploads,
        crate::human::binary_bytes(first.object_size),
        first.concurrency,
        s.by_http_version
            .iter()
            .map(|v| format!("{} {} B", v.http.as_str(), number(v.broker_client_bytes_per_upload.round(), 3)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let proxied = results.modes.proxied.as_ref().map(|m| m.per_upload.client_bytes);
    let h2 = s.by_http_version.iter().find(|v| v.http == crate::scenario::HttpVersion::Http2);
    if let (Some(p), Some(h2)) = (proxied, h2)
        && h2.client_bytes_per_upload > 0.0
    {
        let _ = write!(
            note,
            " With presign and complete over HTTP/2, proxied ÷ presigned client-facing bytes would be {} \
             (this run's proxied {} B per upload ÷ {} B).",
            ratio(p / h2.client_bytes_per_upload),
            number(p.round(), 3),
            number(h2.client_bytes_per_upload.round(), 3)
        );
    }
    Some(note)
}
