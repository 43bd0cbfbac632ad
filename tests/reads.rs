//! `run` with downloads and with multipart uploads, end to end with the real binary: each mode's
//! read side measured on its app server's sockets and extrapolated for the target, reads planned
//! by the capacity model apart and with the writes; objects above the threshold uploaded in parts
//! in both modes (on the embedded store and on MinIO), every object verified, none left over.

// Tests compare byte counters as f64 on purpose.
#![allow(clippy::cast_precision_loss, clippy::float_cmp)]

use crate::common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn scenario(dir: &Path, run: &str, extra: &str) -> PathBuf {
    let path = dir.join("s.toml");
    let text = format!(
        "name = \"t\"\ndescription = \"test\"\nmodes = [\"proxied\", \"presigned\"]\n[target]\nuploads = 50000\n[run]\n{run}\ncontent_type = \"image/jpeg\"\nusers = 5\nseed = 5\nverify = \"all\"\nmax_duration = \"120s\"\n{extra}\n[signing]\nenabled = false\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

async fn run(dir: &Path, scenario: &Path, more: &[&str]) -> Value {
    let out = dir.join("report");
    let args = [&["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()][..], more].concat();
    let (ok, _, stderr) = common::run_bin(&args, Duration::from_secs(300)).await;
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    common::validate_results(&r).unwrap_or_else(|e| panic!("results.json breaks the schema:\n{e}"));
    assert_eq!(r["complete"], true, "{r}");
    r
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn a_run_with_downloads_reports_each_modes_read_side_and_extrapolates_it() {
    const SIZE: f64 = 256.0 * 1024.0;
    let dir = tempfile::tempdir().unwrap();
    let file =
        scenario(dir.path(), "uploads = 12\nconcurrency = 4\nobject_size = \"256KiB\"", "[downloads]\nper_object = 3");
    let r = run(dir.path(), &file, &[]).await;
    for mode in ["proxied", "presigned"] {
        let d = &r["modes"][mode]["downloads"];
        assert_eq!((d["downloads_ok"].as_u64(), d["downloads_failed"].as_u64()), (Some(36), Some(0)), "{mode}: {d}");
        assert_eq!((d["verified"].as_u64(), d["corrupt"].as_u64()), (Some(36), Some(0)), "{mode}");
        assert_eq!(d["per_download"]["object_bytes"], SIZE);
        assert_eq!(d["latency_us"]["transfer"]["count"], 36, "{mode}");
        // The extrapolation is the measured cost per download times the target's downloads.
        let extrapolated = &d["extrapolated"];
        assert_eq!(extrapolated["downloads"], 150_000);
        let expected = f(&d["per_download"]["app_tier_bytes"]) * 150_000.0;
        let got = f(&extrapolated["app_tier_bytes"]);
        assert!((got - expected).abs() <= expected * 1e-9, "{mode}: {extrapolated}");
        assert!(extrapolated["basis"].as_str().unwrap().contains("36 successful downloads"));
        // The per-download figures are the app server's socket counters over the downloads.
        let a = &d["app_tier"];
        let all = f(&a["client_bytes_in"])
            + f(&a["client_bytes_out"])
            + f(&a["storage_bytes_in"])
            + f(&a["storage_bytes_out"]);
        assert!((all / 36.0 - f(&d["per_download"]["app_tier_bytes"])).abs() < 1e-6, "{mode}");
    }
    let (p, s) = (&r["modes"]["proxied"]["downloads"], &r["modes"]["presigned"]["downloads"]);
    // Proxied: every byte in from the store and out to the client.
    assert!(f(&p["app_tier"]["storage_bytes_in"]) >= 36.0 * SIZE);
    assert!(f(&p["app_tier"]["client_bytes_out"]) >= 36.0 * SIZE);
    assert!(p["latency_us"].get("resolve").is_none());
    // Presigned: the broker answers a URL and never touches the bytes or the store.
    assert_eq!(
        (s["app_tier"]["storage_bytes_in"].as_u64(), s["app_tier"]["storage_bytes_out"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(f(&s["per_download"]["app_tier_bytes"]) < 2048.0, "{s}");
    assert_eq!(s["latency_us"]["resolve"]["count"], 36);
    assert!(f(&r["comparison"]["download_app_tier_bytes_ratio"]) > 200.0, "{}", r["comparison"]);
    // The capacity model plans the reads alone and with the writes.
    let c = &r["capacity"];
    for mode in ["proxied", "presigned"] {
        let (reads, together) = (&c["reads"][mode]["servers"], &c["together"][mode]["servers"]);
        assert!(together.as_u64().unwrap() >= reads.as_u64().unwrap().max(1), "{mode}: {c}");
    }
    assert!(c["inputs"].as_array().unwrap().iter().any(|i| i["name"] == "proxied.read.object_crossings_out"));
    let summary = std::fs::read_to_string(dir.path().join("report/summary.md")).unwrap();
    assert!(summary.contains("### Downloads") && summary.contains("150,000 downloads"), "{summary}");
    let html = std::fs::read_to_string(dir.path().join("report/report.html")).unwrap();
    assert!(html.contains("id=\"downloads\""));
}

async fn multipart_run(more: &[&str]) {
    const SIZE: f64 = 11.0 * 1024.0 * 1024.0;
    let dir = tempfile::tempdir().unwrap();
    let run_keys = "uploads = 4\nconcurrency = 2\nobject_size = \"11MiB\"\nmultipart_threshold = \"5MiB\"\npart_size = \"5MiB\"\nparts_in_flight = 3";
    let s = scenario(dir.path(), run_keys, "");
    let r = run(dir.path(), &s, more).await;
    for mode in ["proxied", "presigned"] {
        let m = &r["modes"][mode];
        assert_eq!(m["uploads_ok"], 4, "{mode}: {}", m["errors"]);
        assert_eq!((m["verified"].as_u64(), m["lost"].as_u64(), m["corrupt"].as_u64()), (Some(4), Some(0), Some(0)));
        assert_eq!(m["multipart"]["uploads"], 4, "{mode}");
        assert_eq!(m["multipart"]["parts"], 12, "{mode}: three parts each");
        if !m["orphans"].is_null() {
            assert_eq!(m["orphans"], 0, "{mode}");
        }
    }
    // Proxied: each object crosses the proxy twice; presigned: the broker signs five requests'
    // worth (start, three part URLs, completion) and checks the object's head.
    assert!(f(&r["modes"]["proxied"]["per_upload"]["app_tier_bytes"]) >= 2.0 * SIZE);
    let presigned = f(&r["modes"]["presigned"]["per_upload"]["app_tier_bytes"]);
    assert!(presigned < 16.0 * 1024.0, "{presigned} B per presigned multipart upload");
    assert_eq!(r["modes"]["presigned"]["latency_us"]["put"]["count"], 4);
}

#[tokio::test]
async fn a_multipart_run_uploads_in_parts_in_both_modes() {
    multipart_run(&[]).await;
}

#[tokio::test]
async fn a_multipart_run_uploads_in_parts_in_both_modes_on_minio() {
    presign_bench::harness::minio::locate().unwrap_or_else(|e| panic!("{e}"));
    multipart_run(&["--storage", "minio"]).await;
}
