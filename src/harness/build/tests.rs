//! Tests of the results builder ([`super`]).

use super::*;
use crate::loadgen::{Done, Sample};
use crate::metrics::InOut;
use crate::scenario::Overrides;

fn scenario(target: u64) -> Scenario {
    let text = format!("name = \"t\"\n[target]\nuploads = {target}\n[run]\nuploads = 4\nobject_size = \"1000B\"\n");
    Scenario::parse("t.toml", &text, &Overrides::default()).unwrap()
}

/// Four uploads of 1,000 bytes, one failed, over two seconds.
fn recorder() -> Recorder {
    let mut rec = Recorder::new(false);
    for index in 0..4 {
        let mut s = Sample::default();
        s.phase(Phase::Presign, Duration::from_millis(2));
        s.phase(Phase::EndToEnd, Duration::from_millis(10 * (index + 1)));
        if index == 3 {
            s.fail(crate::loadgen::Failure::Http(503));
        } else {
            s.ok(Done { index, size: 1000, key: format!("k{index}"), ..Done::default() });
        }
        rec.record(s, Duration::ZERO, Duration::from_millis(150 * index));
    }
    rec.elapsed = Duration::from_secs(2);
    rec
}

fn snapshots() -> (Snapshot, Snapshot) {
    let before = Snapshot {
        client: InOut { bytes_in: 100, bytes_out: 50 },
        storage: InOut { bytes_in: 10, bytes_out: 20 },
        connections: 5,
        cpu_seconds: 1.0,
        peak_rss_bytes: 10_000,
        requests: 7,
        request_seconds: 0.5,
        connection_seconds: 2.0,
        ..Snapshot::default()
    };
    let after = Snapshot {
        client: InOut { bytes_in: 3100, bytes_out: 650 },
        storage: InOut { bytes_in: 310, bytes_out: 920 },
        connections: 8,
        connections_peak: 3,
        cpu_seconds: 1.375,
        peak_rss_bytes: 40_000,
        requests: 13,
        requests_peak: 2,
        request_seconds: 0.8,
        connection_seconds: 2.5,
        ..Snapshot::default()
    };
    (before, after)
}

/// The recorder and snapshots above with `read_back`, no steps, no store.
fn measured(read_back: ReadBack) -> Measured {
    let (before, after) = snapshots();
    Measured {
        recorder: recorder(),
        stopped: StoppedBy::Count,
        before,
        after,
        read_back,
        steps: None,
        store: None,
        client_cpu_seconds: None,
        multipart: None,
    }
}

#[test]
fn app_tier_takes_deltas_of_counters_and_peaks_as_reported() {
    let (before, after) = snapshots();
    let a = app_tier(&before, &after);
    assert_eq!((a.client_bytes_in, a.client_bytes_out, a.storage_bytes_in, a.storage_bytes_out), (3000, 600, 300, 900));
    assert_eq!((a.connections, a.peak_connections, a.requests, a.peak_requests_in_flight), (3, 3, 6, 2));
    assert_eq!((a.peak_rss_bytes, a.rss_before_bytes), (40_000, 10_000));
    assert!((a.cpu_seconds - 0.375).abs() < 1e-9);
    assert!((a.request_seconds - 0.3).abs() < 1e-9);
    assert!((a.connection_seconds - 0.5).abs() < 1e-9);
    // A counter that went backwards (a restarted server) is a zero delta, not a wrap.
    assert_eq!(app_tier(&after, &before).client_bytes_in, 0);
}

#[test]
fn per_upload_steps_and_extrapolation_are_per_successful_upload() {
    let steps = StepBytes {
        presign: InOut { bytes_in: 3000, bytes_out: 1050 },
        complete: InOut { bytes_in: 1302, bytes_out: 1650 },
    };
    let read_back = ReadBack { verified: 3, lost: 0, corrupt: 0, orphans: Some(0) };
    let store = Some((
        ProcessStats { cpu_seconds: 2.0, peak_rss_bytes: 1000 },
        ProcessStats { cpu_seconds: 2.5, peak_rss_bytes: 3000 },
    ));
    let m = Measured { steps: Some(steps), store, ..measured(read_back) };
    let r = mode_result(&scenario(1000), m);
    assert_eq!((r.uploads_attempted, r.uploads_ok, r.uploads_failed, r.verified), (4, 3, 1, 3));
    assert_eq!(r.errors.get("http_503"), Some(&1));
    // 3 successful uploads: 3,600 client bytes → 1,200 each; 4,800 app-tier bytes → 1,600.
    assert_eq!(
        r.per_upload,
        PerUpload { object_bytes: 1000.0, client_bytes: 1200.0, app_tier_bytes: 1600.0, cpu_seconds: 0.125 }
    );
    assert!((r.extrapolated.app_tier_bytes - 1_600_000.0).abs() < 1e-6);
    assert!((r.extrapolated.cpu_seconds - 125.0).abs() < 1e-6);
    assert_eq!(r.extrapolated.uploads, 1000);
    assert!(r.extrapolated.basis.contains("/ 3 successful uploads (1 failed) x 1000 target uploads"));
    let s = r.steps_per_upload.unwrap();
    assert_eq!((s.presign_request_bytes, s.presign_response_bytes), (350.0, 1000.0));
    assert_eq!((s.complete_request_bytes, s.complete_response_bytes), (550.0, 434.0));
    assert_eq!((s.store_request_bytes, s.store_response_bytes), (300.0, 100.0));
    assert_eq!(r.throughput, Throughput { uploads_per_sec: 1.5, bytes_per_sec: 1500.0 });
    assert_eq!(r.latency_us[&Phase::EndToEnd].count, 4);
    assert_eq!(r.latency_us[&Phase::Presign].count, 4);
    assert!(!r.latency_us.contains_key(&Phase::Put));
    assert_eq!(r.timeline.completed, vec![1, 1, 0, 1, 1]);
    assert_eq!(r.timeline.interval_ms, 100);
    assert_eq!(r.store, Some(StoreUsage { cpu_seconds: 0.5, peak_rss_bytes: 3000 }));
}

#[test]
fn lost_and_corrupt_objects_are_counted_as_verify_errors() {
    let m = measured(ReadBack { verified: 3, lost: 1, corrupt: 1, orphans: Some(0) });
    let r = mode_result(&scenario(10), m);
    assert_eq!(r.errors.get("verify"), Some(&2));
    assert!(r.steps_per_upload.is_none());
}

#[test]
fn signing_compares_presign_rate_with_healthz_rate() {
    let mut presigns = recorder();
    presigns.ok = 800;
    presigns.elapsed = Duration::from_secs(2);
    let mut healthz = Recorder::new(false);
    healthz.ok = 1000;
    healthz.elapsed = Duration::from_secs(2);
    let sections = PresignSections { presigns: 800, seconds: [0.008, 0.016, 0.04, 0.004] };
    let s = signing_result(Signing { duration_ms: 2000, concurrency: 8 }, (&presigns, &healthz), 0.5, sections);
    assert_eq!((s.broker_requests_per_sec, s.healthz_requests_per_sec), (400.0, 500.0));
    // Per presign: 10 µs checking the token, 20 reading, 50 signing, 5 answering, of 625 µs CPU.
    let t = s.time.expect("timed");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(t.auth_us, 10.0) && close(t.request_us, 20.0) && close(t.sign_us, 50.0), "{t:?}");
    assert!(close(t.respond_us, 5.0) && close(t.cpu_us, 625.0), "{t:?}");
    let untimed = PresignSections::default();
    assert!(
        signing_result(Signing { duration_ms: 2000, concurrency: 8 }, (&presigns, &healthz), 0.5, untimed)
            .time
            .is_none()
    );
    assert!((s.ratio_to_healthz - 0.8).abs() < 1e-12);
    assert!((s.requests_per_cpu_second - 1600.0).abs() < 1e-9);
    assert_eq!(s.latency_us.count, 4);
}
