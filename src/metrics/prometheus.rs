//! Prometheus text exposition of a [`Meter`].
//!
//! Hand-written: a dozen fixed series in the text format need no registry crate.

use super::{Meter, Side, process_stats};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Renders every counter of `meter` plus process CPU and peak RSS in Prometheus text format.
#[must_use]
pub fn render(meter: &Meter) -> String {
    let mut out = String::with_capacity(2048);
    let c = &meter.client;
    let s = &meter.storage;
    let process = process_stats();
    let bytes = [
        ("client", "in", c.bytes_in.load(Relaxed)),
        ("client", "out", c.bytes_out.load(Relaxed)),
        ("storage", "in", s.bytes_in.load(Relaxed)),
        ("storage", "out", s.bytes_out.load(Relaxed)),
    ];
    header(
        &mut out,
        "presign_bench_app_bytes_total",
        "counter",
        "Bytes crossing app-tier sockets, headers included (scrapes excluded).",
    );
    for (side, dir, v) in bytes {
        let _ = writeln!(out, "presign_bench_app_bytes_total{{side=\"{side}\",direction=\"{dir}\"}} {v}");
    }
    header(&mut out, "presign_bench_admin_bytes_total", "counter", "Bytes of /metrics and /healthz connections.");
    let _ = writeln!(out, "presign_bench_admin_bytes_total{{direction=\"in\"}} {}", meter.admin.bytes_in.load(Relaxed));
    let _ =
        writeln!(out, "presign_bench_admin_bytes_total{{direction=\"out\"}} {}", meter.admin.bytes_out.load(Relaxed));
    let series: [(&str, &str, &str, String); 12] = [
        (
            "presign_bench_requests_total",
            "counter",
            "App requests answered (scrapes excluded).",
            meter.requests.load(Relaxed).to_string(),
        ),
        (
            "presign_bench_requests_in_flight_peak",
            "gauge",
            "Most app requests handled at once.",
            meter.requests_peak.load(Relaxed).to_string(),
        ),
        (
            "presign_bench_request_seconds_total",
            "counter",
            "Time app requests spent being handled (busy connection time).",
            format!("{:.6}", meter.request_seconds()),
        ),
        (
            "presign_bench_uploads_in_flight",
            "gauge",
            "Proxied uploads whose body is being moved now.",
            meter.uploads_in_flight.load(Relaxed).to_string(),
        ),
        (
            "presign_bench_connections_total",
            "counter",
            "Client connections accepted (scrapes excluded).",
            c.connections.load(Relaxed).to_string(),
        ),
        ("presign_bench_connections_open", "gauge", "Client connections open now.", c.open.load(Relaxed).to_string()),
        (
            "presign_bench_connections_peak",
            "gauge",
            "Most client connections open at once.",
            c.peak.load(Relaxed).to_string(),
        ),
        (
            "presign_bench_connection_seconds_total",
            "counter",
            "Sum of client connection lifetimes, open ones included.",
            format!("{:.6}", meter.connection_seconds(Side::Client)),
        ),
        (
            "presign_bench_storage_connections_total",
            "counter",
            "Connections opened to the object store.",
            s.connections.load(Relaxed).to_string(),
        ),
        (
            "presign_bench_storage_connections_peak",
            "gauge",
            "Most connections to the object store open at once.",
            s.peak.load(Relaxed).to_string(),
        ),
        (
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time of this process.",
            format!("{:.6}", process.cpu_seconds),
        ),
        (
            "process_resident_memory_max_bytes",
            "gauge",
            "Peak resident set size of this process.",
            process.peak_rss_bytes.to_string(),
        ),
    ];
    for (name, kind, help, value) in series {
        header(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let meter = Meter::default();
        meter.client.bytes_in.fetch_add(42, Relaxed);
        let opened = meter.open(Side::Client);
        meter.open(Side::Client);
        meter.close(Side::Client, opened);
        let text = render(&meter);
        assert!(text.contains("presign_bench_app_bytes_total{side=\"client\",direction=\"in\"} 42\n"));
        assert!(text.contains("presign_bench_connections_total 2\n"));
        assert!(text.contains("presign_bench_connections_open 1\n"));
        assert!(text.contains("presign_bench_connections_peak 2\n"));
        assert!(text.contains("process_resident_memory_max_bytes "));
    }
}
