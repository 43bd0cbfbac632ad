//! Tests of `/metrics` as typed data ([`super`]).

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

#[test]
fn parse_reads_back_what_render_wrote() {
    let s = Snapshot {
        client: InOut { bytes_in: 1, bytes_out: 2 },
        storage: InOut { bytes_in: 3, bytes_out: 4 },
        admin: InOut { bytes_in: 5, bytes_out: 6 },
        events: InOut { bytes_in: 25, bytes_out: 26 },
        scans: Scans { clean: 27, infected: 28, failed: 29, bytes: 30, seconds: 31.5 },
        presign: PresignSections { presigns: 35, seconds: [0.000_001, 0.25, 1.5, 36.125] },
        requests: 7,
        requests_peak: 8,
        request_seconds: 9.5,
        uploads_in_flight: 10,
        connections: 11,
        connections_open: 12,
        connections_peak: 13,
        connection_seconds: 14.25,
        storage_connections: 15,
        storage_connections_peak: 16,
        overloaded_connections: 19,
        overloaded_requests: 20,
        storage_timeouts: 21,
        send_timeouts: 24,
        swept_uploads: 22,
        swept_unrecorded: 23,
        swept_multipart: 2,
        client_tls: Handshakes { full: 25, resumed: 26, failed: 27, bytes: InOut { bytes_in: 28, bytes_out: 29 } },
        storage_tls: Handshakes { full: 30, resumed: 31, failed: 32, bytes: InOut { bytes_in: 33, bytes_out: 34 } },
        cpu_seconds: 17.125,
        peak_rss_bytes: 18,
    };
    assert_eq!(Snapshot::parse(&s.render()).unwrap(), s);
}

#[test]
fn a_missing_series_is_named() {
    let text = Snapshot::default().render().replace(names::CONNECTIONS_PEAK, "renamed_peak");
    let err = Snapshot::parse(&text).unwrap_err().to_string();
    assert_eq!(err, "/metrics has no series presign_bench_connections_peak");
    let text =
        Snapshot::default().render().replace("side=\"storage\",direction=\"out\"", "side=\"x\",direction=\"out\"");
    let err = Snapshot::parse(&text).unwrap_err().to_string();
    assert_eq!(err, "/metrics has no series presign_bench_app_bytes_total{side=\"storage\",direction=\"out\"}");
}
