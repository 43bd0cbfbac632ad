//! CI gating end to end, with the real binary: thresholds and their exit codes, `compare` finding
//! a regression injected with link emulation (too large for noise to hide) and not finding one
//! between two draws from the same distributions, JUnit files that parse, and the example
//! workflow checked by actionlint.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// A small scenario named `gate`: 20 uploads of 64 KiB per mode (enough samples for a latency
/// verdict), no signing phase, plus `extra` TOML lines.
fn scenario(dir: &Path, file: &str, run_extra: &str, thresholds: &str) -> PathBuf {
    let text = format!(
        "name = \"gate\"\nmodes = [\"proxied\", \"presigned\"]\n[run]\nuploads = 20\nconcurrency = 4\nobject_size = \"64KiB\"\ncontent_type = \"image/png\"\nusers = 4\nseed = 3\n{run_extra}\n[signing]\nenabled = false\n[thresholds]\n{thresholds}\n"
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

async fn presign_bench(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(common::BIN).args(args).kill_on_drop(true).output();
    tokio::time::timeout(Duration::from_secs(300), run).await.expect("presign-bench did not exit in time").unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Runs `scenario` into `out`; returns the output.
async fn run(scenario: &Path, out: &Path, junit: Option<&Path>) -> Output {
    let mut args = vec!["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    if let Some(j) = junit {
        args.extend(["--junit", j.to_str().unwrap()]);
    }
    presign_bench(&args).await
}

fn junit(path: &Path) -> (usize, usize, usize, Vec<String>) {
    let xml = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap().to_owned())
        .collect();
    let skipped = cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("skipped"))).count();
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    assert_eq!(suite.attribute("tests").unwrap().parse::<usize>().unwrap(), cases.len());
    assert_eq!(suite.attribute("failures").unwrap().parse::<usize>().unwrap(), failed.len());
    (cases.len(), failed.len(), skipped, failed)
}

#[tokio::test]
async fn thresholds_pass_fail_and_are_checked_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let thresholds = r#""modes.presigned.lost" = "== 0"
"comparison.client_bytes_ratio" = "> 10"
"modes.presigned.per_upload.app_tier_bytes" = "< 1KiB"
"modes.proxied.latency_us.end_to_end.p50" = "< 1h"
"modes.presigned.throughput.uploads_per_sec" = ">= 0.5""#;
    let file = scenario(dir.path(), "gate.toml", "", thresholds);
    let xml = dir.path().join("junit.xml");
    let out = run(&file, &dir.path().join("report"), Some(&xml)).await;
    // Presigned uploads cost a few kB at the app tier, so "< 1KiB" fails, and only it.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("thresholds: 4 passed, 1 failed"), "{stdout}");
    assert!(stdout.contains("FAIL  modes.presigned.per_upload.app_tier_bytes"), "{stdout}");
    let (cases, failures, _, failed) = junit(&xml);
    assert_eq!((cases, failures), (5, 1));
    assert_eq!(failed, ["modes.presigned.per_upload.app_tier_bytes < 1KiB"]);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report/results.json")).unwrap()).unwrap();
    common::validate_results(&results).unwrap();
    assert_eq!(results["thresholds"].as_array().unwrap().len(), 5);
    assert_eq!(results["thresholds"][2]["passed"], false);

    // Checked when the scenario loads, naming file, line and key: exit 2, nothing runs.
    for (bad, line, says) in [
        ("\"modes.presigned.lots\" = \"== 0\"", 14, "unknown metric path: modes.presigned has no \"lots\""),
        ("\"modes.presigned.lost\" = \"about 0\"", 14, "expected an operator"),
        ("\"modes.presigned.lost\" = \"< 2s\"", 14, "not a time"),
    ] {
        let file = scenario(dir.path(), "bad.toml", "", bad);
        let report = dir.path().join("never");
        let out = run(&file, &report, None).await;
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("bad.toml:{line}:")) && err.contains("thresholds.") && err.contains(says),
            "{err}"
        );
        assert!(!report.exists(), "nothing ran");
    }
}

/// `results` with every latency histogram replaced by `n` samples drawn (seeded) from it: the same
/// distribution, other samples, as two runs of one scenario on a quiet machine would give.
fn resampled(results: &serde_json::Value, seed: u64) -> serde_json::Value {
    use presign_bench::results::latency::{LatencySummary, histogram, record};
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut out = results.clone();
    for mode in out["modes"].as_object_mut().unwrap().values_mut() {
        let Some(phases) = mode.get_mut("latency_us").and_then(|l| l.as_object_mut()) else { continue };
        for summary in phases.values_mut() {
            let measured: LatencySummary = serde_json::from_value(summary.clone()).unwrap();
            let h = measured.histogram().unwrap();
            let values: Vec<(u64, u64)> =
                h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect();
            let mut drawn = histogram();
            for _ in 0..h.len() {
                let mut pick = rng.random_range(0..h.len());
                for (value, count) in &values {
                    if pick < *count {
                        record(&mut drawn, *value);
                        break;
                    }
                    pick -= count;
                }
            }
            *summary = serde_json::to_value(LatencySummary::of(&drawn)).unwrap();
        }
    }
    out
}

#[tokio::test]
async fn compare_finds_an_injected_regression_and_no_false_one() {
    let dir = tempfile::tempdir().unwrap();
    let normal = scenario(dir.path(), "normal.toml", "", "");
    let slow = scenario(dir.path(), "slow.toml", "rtt = \"100ms\"", "");
    let mut runs = Vec::new();
    for (i, file) in [&normal, &slow].into_iter().enumerate() {
        let out_dir = dir.path().join(format!("run{i}"));
        let out = run(file, &out_dir, None).await;
        assert!(out.status.success(), "{}", text(&out));
        runs.push(out_dir.join("results.json"));
    }
    let path = |p: &PathBuf| p.to_str().unwrap().to_owned();
    // No false alarm, judged on distributions the test builds rather than on the timings of live
    // runs on a shared machine: two independent draws from the normal run's histograms, and the
    // run against itself, are no regression.
    let measured: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&runs[0]).unwrap()).unwrap();
    let draws: Vec<PathBuf> = [1, 2]
        .iter()
        .map(|seed| {
            let p = dir.path().join(format!("draw{seed}.json"));
            std::fs::write(&p, resampled(&measured, *seed).to_string()).unwrap();
            p
        })
        .collect();
    for (a, b) in [(&draws[0], &draws[1]), (&draws[1], &draws[0]), (&runs[0], &runs[0])] {
        let out = presign_bench(&["compare", &path(a), &path(b)]).await;
        assert_eq!(out.status.code(), Some(0), "{} vs {} cried wolf:\n{}", a.display(), b.display(), text(&out));
    }
    // 100 ms more round trip per request: regressed, exit 1, and the JUnit file says where.
    let xml = dir.path().join("compare.xml");
    let out = presign_bench(&["compare", &path(&runs[0]), &path(&runs[1]), "--junit", xml.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let regressed: Vec<&str> = stdout.lines().filter(|l| l.contains(" regressed ")).collect();
    assert!(regressed.iter().any(|l| l.starts_with("modes.presigned.latency_us.end_to_end.p50")), "{stdout}");
    let (cases, failures, _, failed) = junit(&xml);
    assert!(cases > 20 && failures >= 1, "{cases} cases, {failures} failures");
    assert!(failed.iter().all(|f| f.contains("latency_us") || f.contains("throughput")), "{failed:?}");

    // Inside GitHub Actions: the step summary gets the Markdown table, failures become annotations.
    let summary = dir.path().join("step-summary.md");
    let out = tokio::process::Command::new(common::BIN)
        .args(["compare", &path(&runs[0]), &path(&runs[1])])
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let annotations: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("::error title=presign-bench::"))
        .map(str::to_owned)
        .collect();
    assert!(
        annotations.iter().any(|a| a.contains("modes.presigned.latency_us.end_to_end.p50: regressed")),
        "{annotations:?}"
    );
    let written = std::fs::read_to_string(&summary).unwrap();
    assert!(written.starts_with("### presign-bench compare: gate") && written.contains("❌ regressed"), "{written}");

    // Markdown and JSON say the same.
    let out = presign_bench(&["compare", &path(&runs[0]), &path(&runs[1]), "--format", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["verdict"] == "regressed" && r["metric"] == "modes.presigned.latency_us.end_to_end.p50")
    );
    let out = presign_bench(&["compare", &path(&runs[0]), &path(&runs[1]), "--format", "markdown"]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("| `modes.presigned.latency_us.end_to_end.p50` |"));

    // Another scenario is not comparable, and that is no regression.
    let mut other: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&runs[1]).unwrap()).unwrap();
    other["scenario"]["name"] = "other".into();
    let other_path = dir.path().join("other.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let out = presign_bench(&["compare", &path(&runs[0]), other_path.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("different scenarios"));
    // A file that is not results: bad usage, exit 2.
    let out = presign_bench(&["compare", &path(&runs[0]), normal.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn the_example_workflow_passes_actionlint() {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"), PathBuf::from);
    let bin = cache.join("presign-bench/actionlint/v1.7.12/actionlint");
    assert!(
        bin.exists(),
        "actionlint is not installed: run tools/install-test-deps.sh (the README's test command does)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(bin).arg(".github/workflows/perf.yml").current_dir(root).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // And it is the workflow the README describes: run with thresholds, compare with the baseline.
    let workflow = std::fs::read_to_string(root.join(".github/workflows/perf.yml")).unwrap();
    assert!(workflow.contains("run scenarios/ci-smoke.toml") && workflow.contains("compare baselines/ci-smoke.json"));
    assert!(root.join("baselines/ci-smoke.json").exists());
}
