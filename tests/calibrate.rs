//! `presign-bench calibrate` with the real binary: the harness's client and wrk (installed from
//! Debian by the test command) measured on the same broker and store, on `/healthz`, on the
//! presign request the runs make, and on a presigned PUT; oha is measured when it is
//! on PATH and otherwise reported as not measured, never left out silently.

use crate::common;

use std::time::Duration;

#[tokio::test]
async fn calibrate_measures_the_harness_client_beside_wrk() {
    let args = ["calibrate", "--duration", "1s", "--rounds", "2", "--concurrency", "8", "--format", "json"];
    let (ok, stdout, stderr) = common::run_bin(&args, Duration::from_secs(120)).await;
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let rows = report["rows"].as_array().unwrap();
    let row = |client: &str, target: &str| {
        rows.iter()
            .find(|r| r["client"] == client && r["target"].as_str().unwrap().starts_with(target))
            .unwrap_or_else(|| panic!("no {client} row for {target}: {report}"))
    };
    assert!(std::path::Path::new("/usr/bin/wrk").exists(), "wrk is missing: run tools/install-test-deps.sh");
    for client in ["presign-bench", "wrk"] {
        for target in ["GET /healthz", "POST /v1/uploads", "PUT 1 MiB"] {
            let r = row(client, target);
            let rate = &r["requests_per_sec"];
            assert!(rate["min"].as_f64().unwrap() > 0.0 && rate["min"].as_f64() <= rate["max"].as_f64(), "{r}");
            assert!(r["requests_per_cpu_second"]["median"].as_f64().unwrap() > 0.0, "{r}");
            assert_eq!(r["failed"], 0, "{r}");
        }
    }
    assert!(report["healthz_vs_wrk"].as_f64().unwrap() > 0.0);
    // The presign request, as the runs make it (JSON body, bearer token), answered 201 by the broker.
    assert!(report["presign_vs_wrk"].as_f64().unwrap() > 0.0);
    let oha_measured = rows.iter().any(|r| r["client"] == "oha");
    let oha_missing = report["missing"].as_array().unwrap().iter().any(|m| m.as_str().unwrap().starts_with("oha:"));
    assert!(oha_measured != oha_missing, "oha is either measured or reported missing: {report}");
    let (ok, _, stderr) = common::run_bin(&["calibrate", "--duration", "1500ms"], Duration::from_secs(30)).await;
    assert!(!ok && stderr.contains("--duration"), "{stderr}");
}
