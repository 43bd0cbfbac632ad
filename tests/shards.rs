//! Sharded runs end to end with the real binary: one store, broker and proxy started on their own
//! (as deployments would be); `run` drives them from outside (`--broker-url`, `--proxy-url`,
//! `--storage-endpoint`); four shard processes, merged, equal one run of the same total; and
//! shard files that do not belong together are refused by name.

use crate::common;

use presign_bench::results::Phase;
use presign_bench::results::latency::{decode, histogram, record};
use presign_bench::shard::ShardFile;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const UPLOADS: u64 = 40;

/// Store, broker and proxy, each its own process, sharing a bucket.
struct Servers {
    store: common::Child,
    broker: common::Child,
    proxy: common::Child,
    _data: tempfile::TempDir,
}

impl Servers {
    async fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let creds = ["--access-key", common::ACCESS_KEY, "--secret-key", common::SECRET_KEY];
        let dir = data.path().to_str().unwrap();
        let store =
            common::spawn_bin(&[&["storage", "--listen", "127.0.0.1:0", "--data-dir", dir][..], &creds].concat()).await;
        let app = |command: &'static str, db: &str| {
            let db = data.path().join(db).display().to_string();
            let args: Vec<String> =
                [command, "--listen", "127.0.0.1:0", "--s3-endpoint", &store.url, "--bucket", "shared", "--db", &db]
                    .iter()
                    .chain(&creds)
                    .map(|s| (*s).to_owned())
                    .collect();
            args
        };
        let (b, p) = (app("broker", "b.sqlite3"), app("proxy", "p.sqlite3"));
        let broker = common::spawn_bin(&b.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let proxy = common::spawn_bin(&p.iter().map(String::as_str).collect::<Vec<_>>()).await;
        Self { store, broker, proxy, _data: data }
    }

    /// `run` against these servers with `extra` flags; returns (exit code, stdout, stderr).
    async fn run(&self, scenario: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
        let mut args = vec![
            "run".to_owned(),
            scenario.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--broker-url".into(),
            self.broker.url.clone(),
            "--proxy-url".into(),
            self.proxy.url.clone(),
            "--storage-endpoint".into(),
            self.store.url.clone(),
            "--bucket".into(),
            "shared".into(),
            "--quiet".into(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        bin(&args).await
    }
}

async fn bin(args: &[String]) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(common::BIN)
            .args(args)
            .env("PRESIGN_BENCH_TOKEN_SECRET", common::SECRET)
            .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("presign-bench finished within 300s")
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn scenario(dir: &Path, uploads: u64) -> std::path::PathBuf {
    let path = dir.join(format!("shards-{uploads}.toml"));
    let text = format!(
        "name = \"shards\"\n[target]\nuploads = 50000\n[run]\nuploads = {uploads}\nconcurrency = 8\nobject_size = \"64KiB\"\nusers = 10\n[signing]\nenabled = false\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

fn parts(dir: &Path) -> Vec<ShardFile> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap()).collect()
}

async fn shards(servers: &Servers, scenario: &Path, work: &Path, run_id: &str, count: u64) -> std::path::PathBuf {
    let part_dir = work.join(format!("parts-{run_id}"));
    let runs = (0..count).map(|i| {
        let out = work.join(format!("shard-{run_id}-{i}"));
        let shard = format!("{i}/{count}");
        let part = part_dir.display().to_string();
        async move { servers.run(scenario, &out, &["--shard", &shard, "--run-id", run_id, "--shard-out", &part]).await }
    });
    for (code, _, err) in futures_util::future::join_all(runs).await {
        assert_eq!(code, Some(0), "{err}");
    }
    part_dir
}

#[tokio::test]
async fn four_shards_merged_equal_one_run_of_the_same_total() {
    let servers = Servers::start().await;
    let work = tempfile::tempdir().unwrap();
    let scenario = scenario(work.path(), UPLOADS);
    let single = work.path().join("single");
    let (code, _, err) = servers.run(&scenario, &single, &[]).await;
    assert_eq!(code, Some(0), "{err}");

    let part_dir = shards(&servers, &scenario, work.path(), "r4", 4).await;
    let merged = work.path().join("merged");
    let (code, out, err) =
        bin(&["merge".into(), part_dir.display().to_string(), "--out".into(), merged.display().to_string()]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(merged.join("report.html").is_file() && merged.join("summary.md").is_file(), "the full report");

    let (one, all) = (results(&single), results(&merged));
    assert_eq!(all["complete"], true);
    assert_eq!(all["scenario"]["uploads"], UPLOADS, "the merged run is the whole scenario");
    let parts = parts(&part_dir);
    assert_eq!(parts.len(), 4);
    for mode in ["proxied", "presigned"] {
        let (a, b) = (&one["modes"][mode], &all["modes"][mode]);
        assert_eq!(a["uploads_ok"], UPLOADS, "{mode}");
        assert_eq!(b["uploads_ok"], UPLOADS, "{mode}");
        assert_eq!(b["verified"], UPLOADS, "{mode}: every shard verified its objects");
        for key in ["app_tier_bytes", "client_bytes", "object_bytes"] {
            let (x, y) = (a["per_upload"][key].as_f64().unwrap(), b["per_upload"][key].as_f64().unwrap());
            assert!((x - y).abs() <= 0.01 * x, "{mode} {key}: single {x} vs merged {y}");
        }
        // Exactness: the merged histogram is the one built from every shard's per-upload records.
        let mut expected = histogram();
        let mut numbers = Vec::new();
        for p in &parts {
            for m in p.modes.iter().filter(|m| m.mode.as_str() == mode) {
                for r in &m.records {
                    record(&mut expected, r.latency_us[Phase::EndToEnd as usize]);
                    numbers.push(r.index);
                }
            }
        }
        let merged_hist = decode(b["latency_us"]["end_to_end"]["hdr"].as_str().unwrap()).unwrap();
        assert_eq!(merged_hist, expected, "{mode}: merged histogram");
        numbers.sort_unstable();
        assert_eq!(numbers, (0..UPLOADS).collect::<Vec<_>>(), "{mode}: shards ran disjoint ranges covering the run");
        // The app tier is one set of servers: read once around all shards, not summed per shard.
        let shard_sum: u64 = parts
            .iter()
            .flat_map(|p| &p.modes)
            .filter(|m| m.mode.as_str() == mode)
            .map(|m| m.after.metrics.client.bytes_in - m.before.metrics.client.bytes_in)
            .sum();
        assert!(b["app_tier"]["client_bytes_in"].as_u64().unwrap() <= shard_sum, "{mode}");
    }
    let p50 = |r: &Value| r["modes"]["presigned"]["latency_us"]["end_to_end"]["p50"].clone();
    eprintln!("presigned p50: single {} us, merged {} us", p50(&one), p50(&all));
    drop(servers);
}

#[tokio::test]
async fn merge_refuses_parts_that_do_not_belong_together() {
    let servers = Servers::start().await;
    let work = tempfile::tempdir().unwrap();
    let scenario = scenario(work.path(), 6);
    let part_dir = shards(&servers, &scenario, work.path(), "r2", 2).await;
    let file = |i: u64| part_dir.join(format!("shard-{i}-of-2.json"));
    let merge = |sources: Vec<String>, extra: &[&str]| {
        let out = work.path().join("merged").display().to_string();
        let mut args = vec!["merge".to_owned()];
        args.extend(sources);
        args.extend(["--out".to_owned(), out]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        async move { bin(&args).await }
    };
    let path = |p: &Path| p.display().to_string();

    // A missing shard: named, exit 2; with --allow-partial, merged and marked incomplete (exit 3).
    let (code, _, err) = merge(vec![path(&file(0))], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing shards [1] of 2 (run r2)"), "{err}");
    let (code, _, err) = merge(vec![path(&file(0))], &["--allow-partial"]).await;
    assert_eq!(code, Some(3), "{err}");
    let partial = results(&work.path().join("merged"));
    assert_eq!(partial["complete"], false);
    assert!(partial["incomplete_reason"].as_str().unwrap().contains("without shards [1] of 2"));

    // The same shard twice.
    let copy = work.path().join("copy.json");
    std::fs::copy(file(0), &copy).unwrap();
    let (code, _, err) = merge(vec![path(&file(0)), path(&file(1)), path(&copy)], &[]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("shard 0/2 appears twice: {} and {}", path(&file(0)), path(&copy))), "{err}");

    // A part of another scenario (another run of 2 shards with more uploads, same run id).
    let other = shards(&servers, &self::scenario(work.path(), 8), work.path(), "r2-other", 2).await;
    let mut foreign: Value =
        serde_json::from_str(&std::fs::read_to_string(other.join("shard-1-of-2.json")).unwrap()).unwrap();
    foreign["run_id"] = "r2".into();
    let foreign_path = work.path().join("foreign.json");
    std::fs::write(&foreign_path, foreign.to_string()).unwrap();
    let (code, _, err) = merge(vec![path(&file(0)), path(&foreign_path)], &[]).await;
    assert_eq!(code, Some(2));
    assert!(
        err.contains(&format!("{} and {} are from different scenarios", path(&file(0)), path(&foreign_path))),
        "{err}"
    );

    // Another run's part.
    let (code, _, err) = merge(vec![path(&file(0)), path(&other.join("shard-1-of-2.json"))], &[]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("are from different runs: r2 and r2-other"), "{err}");

    // Not a part at all.
    let (code, _, err) = merge(vec![path(&scenario)], &[]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("not a presign-bench shard file"), "{err}");
}

#[tokio::test]
async fn shards_put_their_parts_in_the_bucket_and_merge_reads_them_back() {
    let servers = Servers::start().await;
    let work = tempfile::tempdir().unwrap();
    let scenario = scenario(work.path(), 6);
    let runs = (0..2).map(|i| {
        let out = work.path().join(format!("s3-shard-{i}"));
        let shard = format!("{i}/2");
        let (servers, scenario) = (&servers, &scenario);
        async move {
            servers
                .run(scenario, &out, &["--shard", &shard, "--run-id", "r-s3", "--shard-out", "s3://shared/parts"])
                .await
        }
    });
    for (code, _, err) in futures_util::future::join_all(runs).await {
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains("shard file written to s3://shared/parts/r-s3/shard-"), "{err}");
    }
    let merged = work.path().join("merged");
    let args = [
        "merge",
        "s3://shared/parts/r-s3",
        "--out",
        merged.to_str().unwrap(),
        "--storage-endpoint",
        &servers.store.url,
    ];
    let (code, out, err) = bin(&args.map(String::from)).await;
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(results(&merged)["modes"]["presigned"]["uploads_ok"], 6);
    // Without the endpoint, the source cannot be read: the flag is named.
    let (code, _, err) =
        bin(&["merge", "s3://shared/parts/r-s3", "--out", merged.to_str().unwrap()].map(String::from)).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--storage-endpoint"), "{err}");
}

#[tokio::test]
async fn sharding_flags_are_checked_before_anything_runs() {
    let work = tempfile::tempdir().unwrap();
    let scenario = scenario(work.path(), 4);
    let s = scenario.display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["--shard", "4/4"], "is not I/N"),
        (&["--shard", "0/2"], "--run-id"),
        (&["--shards", "2"], "JOB_COMPLETION_INDEX"),
        (&["--shard-out", "x"], "--shard-out: only with --shard"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["run".to_owned(), s.clone()];
        args.extend(flags.iter().map(|f| (*f).to_owned()));
        let (code, _, err) = bin(&args).await;
        assert_eq!(code, Some(2), "{flags:?}: {err}");
        assert!(err.contains(expected), "{flags:?}: {err}");
    }
    // External servers need the store they share.
    let args = ["run", &s, "--broker-url", "http://127.0.0.1:1", "--proxy-url", "http://127.0.0.1:1"].map(String::from);
    let (code, _, err) = bin(&args).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--storage-endpoint"), "{err}");
}

#[tokio::test]
async fn thresholds_are_judged_on_the_whole_sharded_run_by_the_merge() {
    let servers = Servers::start().await;
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("gated.toml");
    let text = "name = \"gated\"\n[target]\nuploads = 50000\n[run]\nuploads = 6\nconcurrency = 4\nobject_size = \"16KiB\"\n\
                [signing]\nenabled = false\n[thresholds]\n\"signing.ratio_to_healthz\" = \"> 0.1\"\n\
                \"modes.presigned.lost\" = \"== 0\"\n\"modes.presigned.uploads_ok\" = \">= 1000\"\n";
    std::fs::write(&path, text).unwrap();
    // Each shard reports its share without a verdict: a failed threshold does not fail a shard,
    // and its results carry no threshold.
    let part_dir = shards(&servers, &path, work.path(), "rg", 2).await;
    for i in 0..2 {
        let share = results(&work.path().join(format!("shard-rg-{i}")));
        let judged = share.get("thresholds").and_then(Value::as_array).map_or(0, Vec::len);
        assert_eq!(judged, 0, "shard {i} judged thresholds on its share");
    }
    let merged = work.path().join("merged");
    let junit = work.path().join("junit.xml");
    let (code, out, err) = bin(&[
        "merge".into(),
        part_dir.display().to_string(),
        "--out".into(),
        merged.display().to_string(),
        "--junit".into(),
        junit.display().to_string(),
    ])
    .await;
    // The merge judges the whole: the signing phase a sharded run never has is not applicable, the
    // rest is judged, and the one that fails fails the merge (exit 1).
    assert_eq!(code, Some(1), "{out}{err}");
    let all = results(&merged);
    let status = |metric: &str| {
        all["thresholds"].as_array().unwrap().iter().find(|t| t["metric"] == metric).unwrap()["status"].clone()
    };
    assert_eq!(status("signing.ratio_to_healthz"), "not_applicable");
    assert_eq!(status("modes.presigned.lost"), "passed");
    assert_eq!(status("modes.presigned.uploads_ok"), "failed");
    assert!(out.contains("1 passed, 1 failed, 1 not applicable"), "{out}");
    assert!(err.contains("1 threshold(s) failed: modes.presigned.uploads_ok"), "{err}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\"") && xml.contains("skipped=\"1\""), "{xml}");
    drop(servers);
}
