//! `presign-bench run` end to end: the real binary starts its own servers as child processes.

// Tests compare small counters as f64 on purpose.
#![allow(clippy::cast_precision_loss, clippy::float_cmp, clippy::cast_possible_truncation, clippy::unused_self)]

use crate::common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::BIN;

fn scenario(dir: &Path, run: &str) -> PathBuf {
    let path = dir.join("s.toml");
    let text = format!(
        "name = \"t\"\ndescription = \"test\"\nmodes = [\"proxied\", \"presigned\"]\n[target]\nuploads = 50000\n[run]\n{run}\ncontent_type = \"image/jpeg\"\nusers = 7\nseed = 3\nverify = \"all\"\nmax_duration = \"120s\"\n[signing]\nduration = \"1s\"\nconcurrency = 8\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs the binary to completion (at most five minutes) and returns (success, stdout, stderr).
async fn run(args: &[&str]) -> (bool, String, String) {
    common::run_bin(args, Duration::from_secs(300)).await
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn check_latency(phases: &Value, names: &[&str], count: u64) {
    for name in names {
        let l = &phases[name];
        for field in ["count", "min", "p50", "p90", "p99", "p999", "max", "mean", "hdr"] {
            assert!(!l[field].is_null(), "latency {name}.{field} missing: {phases}");
        }
        assert_eq!(u(&l["count"]), count, "{name}");
        assert!(u(&l["min"]) <= u(&l["p50"]) && u(&l["p50"]) <= u(&l["p99"]) && u(&l["p99"]) <= u(&l["max"]));
        let hist = presign_bench::results::latency::decode(l["hdr"].as_str().unwrap()).unwrap();
        assert_eq!(hist.len(), count);
    }
}

fn check_results(r: &Value, open: bool) {
    assert_eq!(r["schema_version"], 3);
    common::validate_results(r).unwrap_or_else(|e| panic!("results.json breaks the schema:\n{e}"));
    assert_eq!(r["complete"], true, "{r}");
    for field in ["cpu_model", "cores", "memory_bytes", "os", "version"] {
        assert!(!r["environment"][field].is_null(), "environment.{field}");
    }
    assert!(r["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(u(&r["duration_ms"]) > 0);
    assert_eq!(r["scenario"]["uploads"], 20);
    let proxied = &r["modes"]["proxied"];
    let presigned = &r["modes"]["presigned"];
    for m in [proxied, presigned] {
        assert_eq!(u(&m["uploads_ok"]), 20, "{m}");
        assert_eq!(u(&m["uploads_failed"]), 0);
        assert!(m["errors"].as_object().unwrap().is_empty());
        assert_eq!((u(&m["lost"]), u(&m["corrupt"]), u(&m["verified"])), (0, 0, 20));
        // The load generator's own CPU during the load is reported beside the app tier's.
        assert!(m["client_cpu_seconds"].as_f64().unwrap() > 0.0, "{m}");
        for f in [
            "client_bytes_in",
            "client_bytes_out",
            "storage_bytes_in",
            "storage_bytes_out",
            "connections",
            "peak_connections",
            "connection_seconds",
            "cpu_seconds",
            "peak_rss_bytes",
        ] {
            assert!(m["app_tier"][f].is_number(), "app_tier.{f}");
        }
        assert!(m["throughput"]["uploads_per_sec"].as_f64().unwrap() > 0.0);
        assert!(m["throughput"]["bytes_per_sec"].as_f64().unwrap() > 0.0);
        assert_eq!(u(&m["extrapolated"]["uploads"]), 50_000);
        for f in ["client_bytes", "app_tier_bytes", "cpu_seconds"] {
            assert!(m["extrapolated"][f].is_number(), "extrapolated.{f}");
        }
        assert_eq!(m["latency_us_uncorrected"].is_object(), open);
    }
    check_latency(&proxied["latency_us"], &["upload", "end_to_end"], 20);
    check_latency(&presigned["latency_us"], &["presign", "put", "complete", "end_to_end"], 20);
    let mib = 1024.0 * 1024.0;
    let proxied_in = proxied["app_tier"]["client_bytes_in"].as_f64().unwrap();
    assert!(proxied_in >= 20.0 * mib, "proxied client bytes in {proxied_in}");
    let total = |m: &Value| {
        ["client_bytes_in", "client_bytes_out", "storage_bytes_in", "storage_bytes_out"]
            .iter()
            .map(|f| m["app_tier"][f].as_f64().unwrap())
            .sum::<f64>()
    };
    assert!(total(presigned) > 0.0);
    assert!(total(presigned) < 0.01 * total(proxied), "presigned {} vs proxied {}", total(presigned), total(proxied));
    let steps = &presigned["steps_per_upload"];
    assert!(steps["presign_request_bytes"].as_f64().unwrap() > 100.0, "{steps}");
    assert!(steps["store_response_bytes"].as_f64().unwrap() > 0.0, "{steps}");
    let signing = &r["signing"];
    assert!(u(&signing["broker_requests"]) > 0, "{signing}");
    assert_eq!(u(&signing["broker_errors"]), 0, "{signing}");
    for f in [
        "broker_requests_per_sec",
        "requests_per_cpu_second",
        "healthz_requests_per_sec",
        "ratio_to_healthz",
        "broker_cpu_seconds",
    ] {
        assert!(signing[f].as_f64().unwrap() > 0.0, "signing.{f}: {signing}");
    }
    assert_eq!(u(&signing["latency_us"]["count"]), u(&signing["broker_requests"]));
    assert!(u(&signing["healthz_latency_us"]["count"]) > 0);
    // Where a presign's time goes: the broker timed every presign the harness saw answered, each
    // section took time, beside the broker's CPU per presign.
    let time = &signing["time"];
    assert_eq!(u(&time["presigns"]), u(&signing["broker_requests"]), "{time}");
    let sections: Vec<f64> =
        ["auth_us", "request_us", "sign_us", "respond_us"].iter().map(|f| time[f].as_f64().unwrap()).collect();
    assert!(sections.iter().all(|us| *us > 0.0), "{time}");
    assert!(time["cpu_us"].as_f64().unwrap() > 0.0, "{time}");
    // Both HTTP versions side by side: every upload made, and the harness's sockets and the
    // broker's counting the same bytes from the two ends of the connections.
    let versions = signing["by_http_version"].as_array().unwrap_or_else(|| panic!("{signing}"));
    let names: Vec<&str> = versions.iter().map(|v| v["http"].as_str().unwrap()).collect();
    assert_eq!(names, ["1.1", "2"]);
    let mut totals = Vec::new();
    for v in versions {
        assert!(u(&v["uploads"]) > 0 && u(&v["failed"]) == 0, "{v}");
        let (harness, broker) =
            (v["client_bytes_per_upload"].as_f64().unwrap(), v["broker_client_bytes_per_upload"].as_f64().unwrap());
        // Within 2%: a frame HTTP/2 sends between requests (a window update) is the broker's but
        // belongs to no step of the harness's tally.
        assert!(harness > 0.0 && (harness - broker).abs() <= 0.02 * broker, "{v}");
        assert!(v["steps"]["presign_response_bytes"].as_f64().unwrap() > 0.0, "{v}");
        totals.push(harness);
    }
    assert!(totals[1] < totals[0], "HTTP/2 {} B vs HTTP/1.1 {} B per upload", totals[1], totals[0]);
    let c = &r["comparison"];
    assert!(c["client_bytes_ratio"].as_f64().unwrap() > 100.0, "{c}");
    assert!(c["app_tier_bytes_ratio"].as_f64().unwrap() > 100.0, "{c}");
}

#[tokio::test]
async fn closed_model_run() {
    let tmp = tempfile::tempdir().unwrap();
    let s = scenario(tmp.path(), "uploads = 20\nconcurrency = 4\nobject_size = \"1MiB\"");
    let out = tmp.path().join("report");
    let (ok, stdout, stderr) = run(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("proxied") && stdout.contains("extrapolated"), "{stdout}");
    assert!(stdout.contains(&out.join("results.json").display().to_string()), "{stdout}");
    check_results(&results(&out), false);
    for log in ["storage", "broker", "proxy"] {
        assert!(out.join("logs").join(format!("{log}.log")).exists());
    }
}

#[tokio::test]
async fn open_model_run_with_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let s = scenario(tmp.path(), "uploads = 5\nconcurrency = 4\nobject_size = \"64KiB\"");
    let out = tmp.path().join("report");
    let args = [
        "run",
        s.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--uploads",
        "20",
        "--rate",
        "50/s",
        "--object-size",
        "1MiB",
    ];
    let (ok, _, stderr) = run(&args).await;
    assert!(ok, "{stderr}");
    let r = results(&out);
    check_results(&r, true);
    assert_eq!(r["scenario"]["pacing"]["model"], "open");
    assert_eq!(r["scenario"]["object_size"]["fixed"], 1024 * 1024);
}

#[tokio::test]
async fn bad_input_is_named_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = scenario(tmp.path(), "uploads = 20\nconcurency = 4\nobject_size = \"1MiB\"");
    let (ok, _, stderr) = run(&["run", s.to_str().unwrap(), "--out", tmp.path().join("r").to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("{}:8:", s.display())) && stderr.contains("concurency"), "{stderr}");
    assert!(!tmp.path().join("r").exists(), "nothing started");

    let s = scenario(tmp.path(), "uploads = 20\nobject_size = \"200MiB\"");
    let (ok, _, stderr) = run(&["run", s.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("`run.object_size`") && stderr.contains("maximum"), "{stderr}");

    let (ok, _, stderr) = run(&["run", s.to_str().unwrap(), "--object-size", "0"]).await;
    assert!(!ok);
    assert!(stderr.contains("--object-size"), "{stderr}");

    let (ok, _, stderr) = run(&["run", tmp.path().join("missing.toml").to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("missing.toml"), "{stderr}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let s = scenario(tmp.path(), "uploads = 2\nobject_size = \"1MiB\"");
    let (ok, _, stderr) = run(&[
        "run",
        s.to_str().unwrap(),
        "--storage-endpoint",
        &url,
        "--out",
        tmp.path().join("r2").to_str().unwrap(),
    ])
    .await;
    assert!(!ok);
    assert!(stderr.contains(&url), "{stderr}");
}

/// Child processes of `pid`, from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        let after_comm = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let parent = after_comm.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid) {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, r)| !r.trim_start().starts_with('Z')))
}

fn cmdline(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().replace('\0', " ")
}

/// Starts a long run and returns it once the proxied mode is under way.
async fn start_long_run(dir: &Path) -> (tokio::process::Child, PathBuf) {
    let s = scenario(dir, "uploads = 100000\nconcurrency = 2\nobject_size = \"64KiB\"\nrequest_timeout = \"10s\"");
    let out = dir.join("report");
    let (child, mut lines) = common::spawn_run(&s, &out);
    let proxy = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(ready) = presign_bench::harness::Ready::parse(&line)
                && ready.server == "proxy"
            {
                return Some(ready.url);
            }
        }
        None
    })
    .await;
    let Ok(Some(proxy)) = proxy else { panic!("the run never reached the proxied mode: {proxy:?}") };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // Some uploads have been answered, whatever the machine's speed.
    let answered =
        common::eventually(Duration::from_secs(30), async || common::metrics(&proxy).await.requests >= 4).await;
    assert!(answered, "the proxy answered no uploads");
    (child, out)
}

#[tokio::test]
async fn a_server_dying_mid_run_gives_a_partial_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut harness, out) = start_long_run(tmp.path()).await;
    let pid = harness.id().unwrap();
    let proxy = children_of(pid).into_iter().find(|p| cmdline(*p).contains(" proxy ")).expect("no proxy child");
    common::signal(proxy, nix::sys::signal::Signal::SIGKILL);
    assert!(!common::exit_status(&mut harness).await.success());
    let r = results(&out);
    assert_eq!(r["complete"], false);
    assert!(r["incomplete_reason"].as_str().unwrap().contains("proxy exited"), "{}", r["incomplete_reason"]);
    assert!(r["modes"]["proxied"]["uploads_attempted"].as_u64().unwrap() > 0);
    assert!(r["modes"]["presigned"].is_null(), "the run stopped at the dead server");
}

#[tokio::test]
async fn ctrl_c_stops_children_and_writes_a_partial_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut harness, out) = start_long_run(tmp.path()).await;
    let pid = harness.id().unwrap();
    let servers = children_of(pid);
    assert_eq!(servers.len(), 3, "storage, broker and proxy");
    common::signal(pid, nix::sys::signal::Signal::SIGINT);
    assert!(!common::exit_status(&mut harness).await.success());
    let r = results(&out);
    assert_eq!(r["complete"], false);
    assert!(r["incomplete_reason"].as_str().unwrap().contains("interrupted"), "{}", r["incomplete_reason"]);
    let proxied = &r["modes"]["proxied"];
    assert!(proxied["uploads_ok"].as_u64().unwrap() > 0, "{proxied}");
    assert!(
        proxied["app_tier"]["client_bytes_in"].as_u64().unwrap() > 0,
        "the servers were scraped before they were stopped"
    );
    for s in servers {
        assert!(!alive(s), "server {s} ({}) outlived the run", cmdline(s));
    }
}

#[tokio::test]
async fn slow_clients_hold_proxied_connections_for_size_over_bandwidth() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("slow.toml");
    let (uploads, size, bandwidth) = (4.0, 262_144.0, 1_000_000.0); // 8 Mbit/s = 1 MB/s
    std::fs::write(
        &path,
        "name = \"slow\"\ndescription = \"slow clients\"\nmodes = [\"proxied\"]\n[run]\nuploads = 4\nconcurrency = 4\n\
         object_size = \"256KiB\"\nclient_bandwidth = \"8Mbit/s\"\nrtt = \"20ms\"\n[signing]\nenabled = false\n",
    )
    .unwrap();
    let out = tmp.path().join("report");
    let (ok, _, stderr) = run(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    let r = results(&out);
    let m = &r["modes"]["proxied"];
    assert_eq!(u(&m["uploads_ok"]), 4);
    let held = m["app_tier"]["connection_seconds"].as_f64().unwrap();
    // The client's bucket starts full, so each body's first frame leaves at once: the rest of it
    // crosses the link at the client's bandwidth while the proxy holds the connection.
    let burst = presign_bench::shaping::FRAME as f64;
    let floor = uploads * (size - burst) / bandwidth;
    assert!(held >= floor, "connection-seconds {held} < uploads x (size - burst) / bandwidth = {floor}");
    // Each upload took at least its body's time on the link plus the round trip.
    let min_us = m["latency_us"]["end_to_end"]["min"].as_f64().unwrap();
    assert!(min_us >= ((size - burst) / bandwidth + 0.020) * 1e6 * 0.99, "fastest upload {min_us} us");
    assert_eq!(r["scenario"]["client"]["rtt_ms"], 20);
}

#[tokio::test]
async fn an_external_endpoint_is_used_and_left_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let creds = ["--access-key", common::ACCESS_KEY, "--secret-key", common::SECRET_KEY];
    let store = common::spawn_bin(
        &[&["storage", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()][..], &creds].concat(),
    )
    .await;
    let s = scenario(tmp.path(), "uploads = 6\nconcurrency = 3\nobject_size = \"256KiB\"");
    let out = tmp.path().join("report");
    let result = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(BIN)
            .args(["run", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "--storage-endpoint", &store.url])
            .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let r = results(&out);
    assert_eq!(r["scenario"]["storage"]["kind"], "endpoint");
    assert_eq!(r["scenario"]["storage"]["url"], store.url.as_str());
    for mode in ["proxied", "presigned"] {
        assert_eq!(u(&r["modes"][mode]["uploads_ok"]), 6);
        assert_eq!(u(&r["modes"][mode]["verified"]), 6);
    }
    // Every uploaded object was deleted after verification.
    let mut left = Vec::new();
    let mut dirs = vec![data.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.components().any(|c| c.as_os_str() == "uploads") {
                left.push(p);
            }
        }
    }
    assert!(left.is_empty(), "objects left in the external bucket: {left:?}");
}
