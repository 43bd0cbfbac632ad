//! `run` on real MinIO processes that the harness starts itself: the shipped single-node scenario
//! (every object verified, then deleted), and a distributed, erasure-coded cluster that loses a
//! node half-way through a run without losing any object it reported as verified.
//! MinIO comes from docker/install-minio.sh, which the README's test command runs first.

use crate::common;

use common::{run_bin, validate_results};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Objects (MinIO keeps one `xl.meta` per object) left in the bucket's folders under `data`
/// (MinIO's own `.minio.sys` bookkeeping is not an object).
fn stored_objects(data: &Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.file_name().is_some_and(|n| n == "xl.meta")
                && path.to_string_lossy().contains("/presign-bench/")
                && !path.to_string_lossy().contains("/.minio.sys/")
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(data, &mut out);
    out
}

#[tokio::test]
async fn the_minio_scenario_verifies_every_object_and_leaves_none() {
    presign_bench::harness::minio::locate().unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("minio-data");
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/minio.toml")).unwrap();
    let text =
        shipped.replace("# data_dir = \"/var/tmp/presign-bench-minio\"", &format!("data_dir = \"{}\"", data.display()));
    assert_ne!(text, shipped, "scenarios/minio.toml documents data_dir");
    let scenario = tmp.path().join("minio.toml");
    std::fs::write(&scenario, text).unwrap();
    let out = tmp.path().join("report");
    let (ok, _, stderr) =
        run_bin(&["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()], Duration::from_secs(300)).await;
    assert!(ok, "{stderr}");
    let r = results(&out);
    validate_results(&r).unwrap();
    assert!(r["environment"]["store"].as_str().unwrap().contains(presign_bench::harness::minio::PINNED_VERSION));
    for mode in ["proxied", "presigned"] {
        let m = &r["modes"][mode];
        assert_eq!(m["uploads_ok"], 40, "{mode}: {}", m["errors"]);
        assert_eq!((m["verified"].as_u64(), m["lost"].as_u64(), m["corrupt"].as_u64()), (Some(40), Some(0), Some(0)));
    }
    // The drive exists and held the bucket; every test object was deleted after verification.
    assert!(data.join("node-0/drive-1/presign-bench").is_dir(), "MinIO used the scenario's data_dir");
    let left = stored_objects(&data);
    assert!(left.is_empty(), "objects left behind: {left:?}");
}

#[tokio::test]
async fn a_cluster_that_loses_a_node_mid_run_loses_no_verified_object() {
    presign_bench::harness::minio::locate().unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("cluster.toml");
    std::fs::write(
        &scenario,
        "name = \"cluster\"\nmodes = [\"proxied\", \"presigned\"]\n[run]\nuploads = 150\nconcurrency = 4\n\
         object_size = \"512KiB\"\nusers = 5\nverify = \"all\"\nmax_duration = \"120s\"\n\
         [storage]\nkind = \"minio\"\nnodes = 4\ndrives_per_node = 2\n[signing]\nenabled = false\n",
    )
    .unwrap();
    let out = tmp.path().join("report");
    let (mut child, mut lines) = common::spawn_run(&scenario, &out);
    // The readiness lines name every node and its supervisor's pid; wait for the proxy too.
    let (victim, proxy) = tokio::time::timeout(Duration::from_secs(120), async {
        let (mut victim, mut proxy) = (None, None);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(ready) = presign_bench::harness::Ready::parse(&line) {
                match ready.server.as_str() {
                    "minio-2" => victim = Some(ready.pid),
                    "proxy" => proxy = Some(ready.url),
                    _ => {}
                }
            }
            if victim.is_some() && proxy.is_some() {
                break;
            }
        }
        (victim.expect("minio-2 announced itself"), proxy.expect("the proxy announced itself"))
    })
    .await
    .expect("the cluster and the app servers started");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // Half-way through the proxied mode, whatever the machine's speed, stop one node.
    let half = common::eventually(Duration::from_secs(60), async || common::metrics(&proxy).await.requests >= 75).await;
    assert!(half, "the proxied mode never got half-way");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(victim).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(240), child.wait()).await.expect("the run ended").unwrap();
    assert!(status.success(), "the run survives a lost node and loses nothing: {status}");
    let r = results(&out);
    assert_eq!(r["complete"], true);
    let incidents = r["incidents"].as_array().expect("the lost node is reported");
    assert!(incidents.iter().any(|i| i.as_str().unwrap().starts_with("minio-2 exited")), "{incidents:?}");
    for mode in ["proxied", "presigned"] {
        let m = &r["modes"][mode];
        assert_eq!((m["lost"].as_u64(), m["corrupt"].as_u64()), (Some(0), Some(0)), "{mode}");
        assert_eq!(m["verified"], m["uploads_ok"], "{mode}: every reported upload was read back intact");
        assert!(m["uploads_ok"].as_u64().unwrap() > 0, "{mode}");
    }
}
