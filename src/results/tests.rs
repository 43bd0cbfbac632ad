//! Unit tests of the results types: the sweep crossover, phase names and order, ratios, the
//! timeline's bound.

use super::*;

pub(crate) fn mode(p50: u64) -> ModeResult {
    let mut h = latency::histogram();
    latency::record(&mut h, p50);
    ModeResult {
        uploads_attempted: 1,
        uploads_ok: 1,
        uploads_failed: 0,
        errors: BTreeMap::new(),
        verified: 0,
        lost: 0,
        corrupt: 0,
        orphans: Some(0),
        duration_ms: 1,
        stopped_by: StoppedBy::Count,
        app_tier: AppTier::default(),
        store: None,
        client_cpu_seconds: None,
        latency_us: BTreeMap::from([(Phase::EndToEnd, LatencySummary::of(&h))]),
        latency_us_uncorrected: None,
        throughput: Throughput::default(),
        per_upload: PerUpload::default(),
        extrapolated: Extrapolated::default(),
        steps_per_upload: None,
        timeline: TimelineData::default(),
        multipart: None,
        downloads: None,
        cdn_reads: BTreeMap::new(),
        events: None,
        scan: None,
    }
}

fn point(size: u64, proxied: u64, presigned: u64) -> SweepPoint {
    SweepPoint { object_size: size, modes: Modes { proxied: Some(mode(proxied)), presigned: Some(mode(presigned)) } }
}

#[test]
fn crossover_is_where_presigned_stays_no_worse() {
    let pts = [point(1, 10, 30), point(2, 20, 30), point(3, 40, 35), point(4, 80, 50)];
    assert_eq!(crossover(&pts), Some(3));
    // A win that does not last is no crossover.
    let pts = [point(1, 10, 5), point(2, 20, 30), point(3, 40, 35)];
    assert_eq!(crossover(&pts), Some(3));
    let pts = [point(1, 10, 30), point(2, 20, 30)];
    assert_eq!(crossover(&pts), None);
    assert_eq!(crossover(&[]), None);
}

#[test]
fn phases_serialise_to_their_names_in_report_order() {
    let names: Vec<String> =
        Phase::ALL.iter().map(|p| serde_json::to_value(p).unwrap().as_str().unwrap().to_owned()).collect();
    assert_eq!(
        names,
        ["presign", "put", "complete", "upload", "end_to_end", "resolve", "transfer", "tls_handshake", "checksum"]
    );
    assert!(Phase::ALL.iter().all(|p| names.contains(&p.as_str().to_owned())));
    assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn comparison_divides_per_upload_figures() {
    let mut p = mode(1);
    p.per_upload = PerUpload { object_bytes: 1e6, client_bytes: 2e6, app_tier_bytes: 4e6, cpu_seconds: 0.02 };
    let mut s = mode(1);
    s.per_upload = PerUpload { object_bytes: 1e6, client_bytes: 2e3, app_tier_bytes: 4e3, cpu_seconds: 0.001 };
    let c = Comparison::of(&p, &s).unwrap();
    assert!((c.client_bytes_ratio - 1000.0).abs() < 1e-9);
    assert!((c.app_tier_bytes_ratio - 1000.0).abs() < 1e-9);
    assert!((c.cpu_seconds_ratio - 20.0).abs() < 1e-9);
    s.uploads_ok = 0;
    assert_eq!(Comparison::of(&p, &s), None);
}

#[test]
fn a_long_timeline_is_merged_to_at_most_its_bound_keeping_totals_and_peaks() {
    let short = TimelineData { interval_ms: 100, completed: vec![1; 3_000], in_flight_max: vec![2; 3_000] };
    assert_eq!(short.clone().bounded(), short);
    // 6,001 intervals: merged 3 at a time into 2,001, the last one alone.
    let n = 6_001;
    let long = TimelineData {
        interval_ms: 100,
        completed: (0..n).map(|i| i % 5).collect(),
        in_flight_max: (0..n).map(|i| if i == 4_000 { 99 } else { i % 7 }).collect(),
    };
    let total: u64 = long.completed.iter().sum();
    let merged = long.bounded();
    assert_eq!(merged.interval_ms, 300);
    assert_eq!((merged.completed.len(), merged.in_flight_max.len()), (2_001, 2_001));
    assert_eq!(merged.completed.iter().sum::<u64>(), total);
    assert_eq!(merged.completed[..2], [3, 7]);
    assert_eq!(merged.in_flight_max[4_000 / 3], 99);
    assert_eq!(merged.in_flight_max[0], 2);
    assert_eq!(merged.completed[2_000], 0);
}
