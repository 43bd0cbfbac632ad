//! The comparison on hand-built inputs: a fixture results file with its latency distributions
//! replaced by ones whose change is known.

use super::*;
use crate::results::latency::{LatencySummary, histogram, record};

fn fixture() -> Results {
    crate::results::load::from_str("results-v2.json", include_str!("../../../tests/fixtures/results-v2.json")).unwrap()
}

/// `n` latencies spread evenly over `[base, base × 1.5)` microseconds.
fn spread(n: u64, base: u64) -> LatencySummary {
    let mut h = histogram();
    for i in 0..n {
        record(&mut h, base + base * i / (2 * n));
    }
    LatencySummary::of(&h)
}

fn with_end_to_end(mut r: Results, summary: &LatencySummary) -> Results {
    for mode in [Mode::Proxied, Mode::Presigned] {
        if let Some(mut m) = r.modes.get(mode).cloned() {
            m.latency_us.insert(Phase::EndToEnd, summary.clone());
            r.modes.set(mode, m);
        }
    }
    r
}

/// The defaults with fewer resamples: debug builds resample slowly, and 400 is plenty here.
fn settings() -> Settings {
    Settings { resamples: 400, ..Settings::default() }
}

fn row<'a>(report: &'a Report, metric: &str) -> &'a Row {
    report.rows.iter().find(|r| r.metric == metric).unwrap_or_else(|| panic!("no row {metric}"))
}

#[test]
fn a_run_compared_with_itself_is_unchanged() {
    let r = with_end_to_end(fixture(), &spread(400, 10_000));
    let report = compare(&r, &r, &settings());
    assert_eq!(report.regressions(), 0);
    assert!(report.rows.iter().all(|row| row.verdict != Verdict::Improved), "{report:#?}");
    let e2e = row(&report, "modes.presigned.latency_us.end_to_end.p50");
    assert_eq!((e2e.verdict, e2e.change), (Verdict::Unchanged, Some(0.0)));
}

#[test]
fn a_slower_distribution_is_a_regression_and_a_faster_one_an_improvement() {
    let base = with_end_to_end(fixture(), &spread(400, 10_000));
    let slow = with_end_to_end(fixture(), &spread(400, 20_000));
    let report = compare(&base, &slow, &settings());
    let p50 = row(&report, "modes.presigned.latency_us.end_to_end.p50");
    assert_eq!(p50.verdict, Verdict::Regressed, "{p50:?}");
    assert!((p50.change.unwrap() - 1.0).abs() < 0.05, "{p50:?}");
    assert!(p50.detail.starts_with("95% CI [+"), "{}", p50.detail);
    assert_eq!(compare(&slow, &base, &settings()).regressions(), 0);
    let back = compare(&slow, &base, &settings());
    assert_eq!(row(&back, "modes.presigned.latency_us.end_to_end.p50").verdict, Verdict::Improved);
    // A change whose interval is not wholly above the minimum effect is not a regression.
    let bit_slower = with_end_to_end(fixture(), &spread(400, 13_000));
    let report = compare(&base, &bit_slower, &settings());
    assert_eq!(row(&report, "modes.presigned.latency_us.end_to_end.p50").verdict, Verdict::Unchanged);
    let strict = Settings { min_effect: 0.05, ..settings() };
    let report = compare(&base, &bit_slower, &strict);
    assert_eq!(row(&report, "modes.presigned.latency_us.end_to_end.p50").verdict, Verdict::Regressed);
}

#[test]
fn few_samples_give_no_latency_verdict() {
    let base = with_end_to_end(fixture(), &spread(5, 10_000));
    let slow = with_end_to_end(fixture(), &spread(5, 30_000));
    let report = compare(&base, &slow, &settings());
    let p50 = row(&report, "modes.presigned.latency_us.end_to_end.p50");
    assert_eq!(p50.verdict, Verdict::NotComparable);
    assert!(p50.detail.starts_with("too few samples"), "{}", p50.detail);
}

#[test]
fn more_bytes_per_upload_beyond_the_allowance_regress() {
    let base = fixture();
    let mut more = fixture();
    let mut m = more.modes.get(Mode::Presigned).unwrap().clone();
    m.per_upload.app_tier_bytes *= 1.5;
    m.lost += 1;
    more.modes.set(Mode::Presigned, m);
    let report = compare(&base, &more, &settings());
    assert_eq!(row(&report, "modes.presigned.per_upload.app_tier_bytes").verdict, Verdict::Regressed);
    assert_eq!(row(&report, "modes.presigned.lost").verdict, Verdict::Regressed);
    assert_eq!(row(&report, "modes.presigned.per_upload.client_bytes").verdict, Verdict::Unchanged);
}

#[test]
fn different_scenarios_and_machines_are_not_compared() {
    let base = fixture();
    let mut other = fixture();
    other.scenario.name = "other".into();
    let report = compare(&base, &other, &settings());
    assert!(report.rows.iter().all(|r| r.verdict == Verdict::NotComparable));
    assert_eq!(report.regressions(), 0);

    let mut elsewhere = fixture();
    elsewhere.environment.cpu_model = "another CPU".into();
    let report = compare(&base, &elsewhere, &settings());
    let p50 = row(&report, "modes.presigned.latency_us.end_to_end.p50");
    assert_eq!(p50.verdict, Verdict::NotComparable);
    assert!(p50.detail.starts_with("measured on another machine"), "{}", p50.detail);
    assert_eq!(row(&report, "modes.presigned.per_upload.app_tier_bytes").verdict, Verdict::Unchanged);
    let across = Settings { across_machines: true, ..settings() };
    assert_eq!(
        row(&compare(&base, &elsewhere, &across), "modes.presigned.latency_us.end_to_end.p50").verdict,
        Verdict::Unchanged
    );
}

#[test]
fn samples_expand_the_histogram_and_thin_evenly() {
    let s = spread(50, 1000);
    let v = super::bootstrap::interval(&[10, 20, 30, 40], &[10, 20, 30, 40], 0.5, 0.95, 100);
    assert!(v.0.abs() < 1e-12, "{v:?}");
    let mut h = histogram();
    for _ in 0..(3 * super::bootstrap::MAX_SAMPLES) {
        record(&mut h, 500);
    }
    let big = LatencySummary::of(&h);
    let quick = Settings { resamples: 100, ..settings() };
    let row = super::bootstrap::latency_row("m".into(), Some(&big), Some(&s), 0.5, &quick);
    assert!(row.detail.ends_with(&format!("n = {} / 50", super::bootstrap::MAX_SAMPLES)), "{}", row.detail);
}
