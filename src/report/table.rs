//! The plain-text summary printed when a run ends.

use crate::results::{ModeResult, Phase, Results, SigningResult};
use crate::scenario::Mode;
use std::fmt::Write;

use crate::human::{grouped, in_out, ms, ratio, si_bytes};

/// The sweep as a table: latency and app-tier bytes per upload at each size.
#[must_use]
#[allow(clippy::cast_precision_loss)] // display only
pub fn sweep_table(results: &Results) -> String {
    let mut out = format!(
        "\nsize sweep (the table above is the last size)\n{:>12} {:>22} {:>22} {:>14} {:>14}\n",
        "size", "proxied p50 / p99", "presigned p50 / p99", "proxied B/up", "presigned B/up"
    );
    let cell = |m: Option<&ModeResult>| {
        m.and_then(ModeResult::end_to_end).map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))
    };
    let bytes = |m: Option<&ModeResult>| m.map_or("-".into(), |m| si_bytes(m.per_upload.app_tier_bytes));
    for p in &results.sweep {
        let _ = writeln!(
            out,
            "{:>12} {:>22} {:>22} {:>14} {:>14}",
            si_bytes(p.object_size as f64),
            cell(p.modes.get(Mode::Proxied)),
            cell(p.modes.get(Mode::Presigned)),
            bytes(p.modes.get(Mode::Proxied)),
            bytes(p.modes.get(Mode::Presigned))
        );
    }
    let _ = writeln!(
        out,
        "crossover: {}",
        results.sweep_crossover_bytes.map_or_else(
            || "none (presigned's median latency is higher at every size swept)".to_owned(),
            |c| format!("{} and up, presigned's median latency is no worse than proxying's", si_bytes(c as f64))
        )
    );
    out
}

/// The signing phase in one sentence, with its inputs.
#[must_use]
#[allow(clippy::cast_precision_loss)] // display only
pub fn signing_line(s: &SigningResult) -> String {
    format!(
        "broker under presign-only load ({} in flight, {:.1} s): {:.0} presigns/s, {:.0} per broker CPU-second \
         ({} requests / {:.2} CPU s); /healthz {:.0} req/s; presign/healthz = {:.0}%",
        s.concurrency,
        s.duration_ms as f64 / 1000.0,
        s.broker_requests_per_sec,
        s.requests_per_cpu_second,
        s.broker_requests,
        s.broker_cpu_seconds,
        s.healthz_requests_per_sec,
        s.ratio_to_healthz * 100.0
    )
}

/// Columns of [`version_rows`].
pub const VERSION_COLUMNS: [&str; 7] = [
    "HTTP",
    "presign request",
    "presign response",
    "complete request",
    "complete response",
    "client-facing total",
    "broker ↔ store",
];

/// The presigned flow's app-tier bytes per upload over each HTTP version, one row per version
/// (columns: [`VERSION_COLUMNS`]), in whole bytes.
#[must_use]
pub fn version_rows(s: &SigningResult) -> Vec<[String; 7]> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display only
    let b = |v: f64| format!("{} B", grouped(v.round().max(0.0) as u64));
    s.by_http_version
        .iter()
        .map(|v| {
            let st = &v.steps;
            [
                v.http.as_str().to_owned(),
                b(st.presign_request_bytes),
                b(st.presign_response_bytes),
                b(st.complete_request_bytes),
                b(st.complete_response_bytes),
                b(v.client_bytes_per_upload),
                b(st.store_request_bytes + st.store_response_bytes),
            ]
        })
        .collect()
}

/// What the version rows were measured with, and what HTTP/2 makes of the run's ratio: the
/// proxied mode's client-facing bytes per upload (measured in the same run) over HTTP/2's.
#[must_use]
pub fn version_note(results: &Results) -> Option<String> {
    let s = results.signing.as_ref()?;
    let first = s.by_http_version.first()?;
    let mut note = format!(
        "{} uploads of {} per version, {} at a time, presign and complete on one kept-alive connection \
         (as a browser tab makes them), counted on the harness's sockets (the broker's own counters: {}).",
        first.uploads,
        crate::human::binary_bytes(first.object_size),
        first.concurrency,
        s.by_http_version
            .iter()
            .map(|v| format!("{} {:.0} B", v.http.as_str(), v.broker_client_bytes_per_upload))
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
             (this run's proxied {:.0} B per upload ÷ {:.0} B).",
            ratio(p / h2.client_bytes_per_upload),
            p,
            h2.client_bytes_per_upload
        );
    }
    Some(note)
}

/// One row of a latency table: mode, phase and the cells `count, p50, p90, p99, p99.9, max`.
pub struct LatencyRow {
    /// The architecture.
    pub mode: Mode,
    /// The phase.
    pub phase: Phase,
    /// The formatted cells.
    pub cells: [String; 6],
}

/// Every phase of every mode that ran, formatted.
#[must_use]
pub fn latency_rows(results: &Results) -> Vec<LatencyRow> {
    let mut rows = Vec::new();
    for (mode, m) in results.modes.present() {
        for phase in Phase::ALL {
            if let Some(l) = m.latency_us.get(&phase) {
                let cells = [l.count.to_string(), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max)];
                rows.push(LatencyRow { mode, phase, cells });
            }
        }
    }
    rows
}

/// A table row: its label and how to render a mode's cell.
pub type Row = (String, Box<dyn Fn(&ModeResult) -> String>);

/// The rows every summary shows, in order (text, Markdown and HTML alike).
#[must_use]
pub fn rows() -> Vec<Row> {
    let row = |label: &str, f: Box<dyn Fn(&ModeResult) -> String>| (label.to_owned(), f);
    #[allow(clippy::cast_precision_loss)]
    let rows: Vec<Row> = vec![
        row("uploads ok / failed", Box::new(|m| format!("{} / {}", m.uploads_ok, m.uploads_failed))),
        row(
            "verified / lost / corrupt / orphaned",
            Box::new(|m| {
                let orphans = m.orphans.map_or_else(|| "-".to_owned(), |n| n.to_string());
                format!("{} / {} / {} / {orphans}", m.verified, m.lost, m.corrupt)
            }),
        ),
        row("throughput", Box::new(|m| format!("{:.1} uploads/s", m.throughput.uploads_per_sec))),
        row(
            "end-to-end p50 / p99",
            Box::new(|m| m.end_to_end().map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))),
        ),
        row("app tier client in / out", Box::new(|m| in_out(m.app_tier.client_bytes_in, m.app_tier.client_bytes_out))),
        row(
            "app tier storage in / out",
            Box::new(|m| in_out(m.app_tier.storage_bytes_in, m.app_tier.storage_bytes_out)),
        ),
        row("app tier CPU", Box::new(|m| format!("{:.2} s", m.app_tier.cpu_seconds))),
        row("load generator CPU", Box::new(|m| m.client_cpu_seconds.map_or("-".into(), |s| format!("{s:.2} s")))),
        row("app tier peak RSS", Box::new(|m| si_bytes(m.app_tier.peak_rss_bytes as f64))),
        row(
            "store CPU / peak RSS",
            Box::new(|m| {
                m.store
                    .as_ref()
                    .map_or("-".into(), |s| format!("{:.2} s / {}", s.cpu_seconds, si_bytes(s.peak_rss_bytes as f64)))
            }),
        ),
        row(
            "peak connections / conn-s",
            Box::new(|m| format!("{} / {:.1}", m.app_tier.peak_connections, m.app_tier.connection_seconds)),
        ),
        row(
            "peak requests / busy req-s",
            Box::new(|m| format!("{} / {:.1}", m.app_tier.peak_requests_in_flight, m.app_tier.request_seconds)),
        ),
        row("app-tier bytes per upload", Box::new(|m| si_bytes(m.per_upload.app_tier_bytes))),
    ];
    rows
}

/// The summary table of `results`, with the extrapolation's inputs spelled out.
#[must_use]
pub fn summary(results: &Results, report_dir: &std::path::Path) -> String {
    let mut out = String::new();
    let modes = results.modes.present();
    let s = &results.scenario;
    let _ = writeln!(out, "\npresign-bench: {} ({} uploads per mode, target {})", s.name, s.uploads, s.target_uploads);
    if !results.complete {
        let _ = writeln!(out, "INCOMPLETE: {}", results.incomplete_reason.as_deref().unwrap_or("interrupted"));
    }
    let _ = write!(out, "\n{:<28}", "");
    for (mode, _) in &modes {
        let _ = write!(out, "{:>22}", mode.as_str());
    }
    out.push('\n');
    for (label, f) in rows() {
        let _ = write!(out, "{label:<28}");
        for (_, m) in &modes {
            let _ = write!(out, "{:>22}", f(m));
        }
        out.push('\n');
    }
    if let Some((_, m)) = modes.first() {
        let e = &m.extrapolated;
        let _ = write!(out, "{:<28}", format!("extrapolated x{}", grouped(e.uploads)));
        for (_, m) in &modes {
            let _ = write!(out, "{:>22}", si_bytes(m.extrapolated.app_tier_bytes));
        }
        let _ = writeln!(
            out,
            "\n  (extrapolated = measured app-tier bytes per upload x {} target uploads)",
            grouped(e.uploads)
        );
    }
    for (mode, m) in results.modes.present() {
        if let Some(client) = m.client_cpu_seconds.filter(|&c| c > m.app_tier.cpu_seconds) {
            let _ = writeln!(
                out,
                "\nwarning: in the {} mode the load generator used more CPU ({client:.2} s) than the app tier it measured \
                 ({:.2} s){}; on a shared machine the client may be what limits these figures",
                mode.as_str(),
                m.app_tier.cpu_seconds,
                if mode == crate::scenario::Mode::Presigned {
                    " (it also sends every file to the store, which the broker never touches)"
                } else {
                    ""
                }
            );
        }
    }
    if let Some(c) = &results.comparison {
        let _ = writeln!(
            out,
            "\nproxied carries {:.0}x the client-facing bytes and {:.0}x all app-tier bytes of presigned\n  ({})",
            c.client_bytes_ratio, c.app_tier_bytes_ratio, c.basis
        );
    }
    if let Some(line) = super::reads::multipart_line(results) {
        let _ = writeln!(out, "\n{line}");
    }
    if let Some(reads) = super::reads::text(results) {
        out.push_str(&reads);
    }
    if !results.sweep.is_empty() {
        out.push_str(&sweep_table(results));
    }
    if let Some(s) = &results.signing {
        let _ = writeln!(out, "\n{}", signing_line(s));
    }
    if let Some(c) = &results.capacity {
        let servers = |m: Mode| {
            c.modes.get(&m).map_or_else(|| "-".to_owned(), |p| format!("{} ({}-bound)", p.servers, p.binding.as_str()))
        };
        let _ = writeln!(
            out,
            "\ncapacity for the target (modelled from measured costs; `presign-bench plan {}` shows the inputs): proxied {}, presigned {}",
            report_dir.join("results.json").display(),
            servers(Mode::Proxied),
            servers(Mode::Presigned)
        );
    }
    let _ = writeln!(
        out,
        "\nreport:  {}\nresults: {}",
        report_dir.join("report.html").display(),
        report_dir.join("results.json").display()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(grouped(50_000), "50,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(si_bytes(500e9), "500.0 GB");
        assert_eq!(ms(1500), "1.50 ms");
    }
}
