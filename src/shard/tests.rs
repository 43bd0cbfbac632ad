//! Unit tests of shards and merging, on hand-built shard files: shares cover every upload once,
//! merged histograms equal one built from every sample, the app tier is read from the earliest
//! and latest scrapes, and shard files that do not belong together are refused by name.

use super::*;
use crate::harness::build::Measured;
use crate::harness::verify::ReadBack;
use crate::loadgen::Sample;
use crate::loadgen::{Done, Recorder, StoppedBy};
use crate::metrics::Snapshot;
use crate::results::Phase;
use crate::results::latency::{histogram, record};
use crate::scenario::Mode;
use crate::scenario::Overrides;
use std::time::Duration;

fn scenario(uploads: u64) -> Scenario {
    let text = format!(
        "name = \"t\"\n[target]\nuploads = 1000\n[run]\nuploads = {uploads}\nconcurrency = 10\nobject_size = \"1000B\"\n"
    );
    Scenario::parse("t.toml", &text, &Overrides::default()).unwrap()
}

#[test]
fn shards_parse_as_i_of_n() {
    assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
    assert_eq!(Shard::parse("3/4"), Ok(Shard { index: 3, count: 4 }));
    for bad in ["4/4", "1/0", "a/4", "1", "-1/4", ""] {
        assert!(Shard::parse(bad).unwrap_err().contains("I/N"), "{bad}");
    }
}

#[test]
fn shares_cover_every_upload_exactly_once() {
    for (total, count) in [(10, 4), (3, 4), (0, 2), (1000, 7), (5, 5)] {
        let mut next = 0;
        for index in 0..count {
            let (first, n) = Shard { index, count }.share(total);
            assert_eq!(first, next, "{total}/{count} shard {index}");
            next += n;
        }
        assert_eq!(next, total);
    }
    // The first `total % count` shards take one more.
    assert_eq!(Shard { index: 1, count: 4 }.share(10), (3, 3));
    assert_eq!(Shard { index: 3, count: 4 }.share(10), (8, 2));
}

#[test]
fn a_shard_runs_its_share_of_the_load_without_the_signing_phase() {
    let whole = scenario(10);
    let (s, first) = Shard { index: 3, count: 4 }.split(&whole);
    assert_eq!((s.uploads, first), (2, 8));
    assert_eq!(s.pacing, Pacing::Closed { concurrency: 2 });
    assert_eq!(s.signing, None);
    assert!(whole.signing.is_some());
    let open = Scenario { pacing: Pacing::Open { rate_per_sec: 100.0, max_in_flight: 3 }, ..whole };
    let (s, _) = Shard { index: 3, count: 4 }.split(&open);
    assert_eq!(s.pacing, Pacing::Open { rate_per_sec: 25.0, max_in_flight: 1 });
}

fn snapshot(client_in: u64, cpu: f64) -> Snapshot {
    let mut s = Snapshot::default();
    s.client.bytes_in = client_in;
    s.cpu_seconds = cpu;
    s
}

/// A shard's file (presigned) with uploads `indexes`, each taking `us(i)` end to end.
fn part(shard: Shard, indexes: std::ops::Range<u64>, started: u64, scrapes: &[(u64, Snapshot); 2]) -> ShardFile {
    let mut rec = Recorder::new(false);
    for i in indexes.clone() {
        let mut s = Sample::default();
        s.phase(Phase::EndToEnd, Duration::from_micros(us(i)));
        s.ok(Done { index: i, size: 1000, key: format!("k{i}"), ..Done::default() });
        rec.record(s, Duration::ZERO, Duration::from_millis(i * 10));
    }
    rec.elapsed = Duration::from_millis(500);
    let m = Measured {
        recorder: rec,
        stopped: StoppedBy::Count,
        before: scrapes[0].1,
        after: scrapes[1].1,
        read_back: ReadBack { verified: indexes.end - indexes.start, ..ReadBack::default() },
        steps: None,
        store: None,
        client_cpu_seconds: Some(0.25),
        multipart: None,
    };
    ShardFile {
        shard_file_version: VERSION,
        run_id: "r1".into(),
        shard,
        scenario: scenario(10),
        environment: crate::harness::environment::environment(None),
        started_unix_ms: started,
        ended_unix_ms: started + 600,
        incomplete_reason: None,
        incidents: Vec::new(),
        modes: vec![Captured::of(Mode::Presigned, started, &m, (scrapes[0].0, scrapes[1].0))],
    }
}

fn us(i: u64) -> u64 {
    1000 + i * i * 37 % 9973
}

fn two_shards() -> Vec<(String, ShardFile)> {
    vec![
        (
            "a.json".into(),
            part(
                Shard { index: 0, count: 2 },
                0..5,
                10_000,
                &[(9_990, snapshot(100, 1.0)), (10_700, snapshot(700, 2.0))],
            ),
        ),
        (
            "b.json".into(),
            part(
                Shard { index: 1, count: 2 },
                5..10,
                10_200,
                &[(10_190, snapshot(300, 1.5)), (10_900, snapshot(900, 3.0))],
            ),
        ),
    ]
}

#[test]
fn merged_histograms_equal_one_built_from_every_sample() {
    let results = merge(&two_shards(), false).unwrap();
    let m = results.modes.presigned.as_ref().unwrap();
    let mut all = histogram();
    for i in 0..10 {
        record(&mut all, us(i));
    }
    let merged = m.latency_us[&Phase::EndToEnd].histogram().unwrap();
    assert_eq!(merged, all, "exactly the same histogram");
    assert_eq!((m.uploads_ok, m.uploads_failed, m.verified), (10, 0, 10));
    assert_eq!(m.client_cpu_seconds, Some(0.5), "each shard's load generator counts");
    // The server's counters from the earliest scrape before (a: 100 B, 1.0 s) to the latest
    // after (b: 900 B, 3.0 s), not the sum of the two shards' deltas (1200 B).
    assert_eq!(m.app_tier.client_bytes_in, 800);
    assert!((m.app_tier.cpu_seconds - 2.0).abs() < 1e-9);
    // From the first start (10.000 s) to the last end (10.200 s + 500 ms).
    assert_eq!(m.duration_ms, 700);
    assert_eq!(results.duration_ms, 800);
    assert!(results.complete);
    // b started 200 ms after a: its completions land two intervals later on the timeline.
    // a's five finish within its first 100 ms; so do b's, which started 200 ms later.
    assert_eq!(m.timeline.completed, [5, 0, 5]);
}

#[test]
fn parts_that_do_not_belong_together_are_refused_by_name() {
    let parts = two_shards();
    let mut other_run = parts.clone();
    other_run[1].1.run_id = "r2".into();
    let e = merge(&other_run, false).unwrap_err().to_string();
    assert!(e.contains("a.json and b.json are from different runs: r1 and r2"), "{e}");

    let mut other_scenario = parts.clone();
    other_scenario[1].1.scenario.uploads = 11;
    let e = merge(&other_scenario, false).unwrap_err().to_string();
    assert!(e.contains("a.json and b.json are from different scenarios"), "{e}");

    let twice = vec![parts[0].clone(), ("c.json".into(), parts[0].1.clone())];
    let e = merge(&twice, false).unwrap_err().to_string();
    assert_eq!(e, "shard 0/2 appears twice: a.json and c.json");

    let one = vec![parts[0].clone()];
    let e = merge(&one, false).unwrap_err().to_string();
    assert!(e.starts_with("missing shards [1] of 2 (run r1)"), "{e}");
    let partial = merge(&one, true).unwrap();
    assert!(!partial.complete);
    assert!(partial.incomplete_reason.unwrap().contains("without shards [1] of 2"));
    assert_eq!(partial.modes.presigned.unwrap().uploads_ok, 5);

    let mut broken = parts;
    broken[1].1.modes[0].histograms.insert(Phase::Put, "not a histogram".into());
    let e = merge(&broken, false).unwrap_err().to_string();
    assert!(e.starts_with("b.json: presigned put: hdr is not"), "{e}");
    assert_eq!(merge(&[], false).unwrap_err(), MergeError::Empty);
}
