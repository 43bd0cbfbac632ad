//! `[storage] kind = "container"`: a run on MinIO started by testcontainers (cargo feature
//! `containers`). It needs a Docker engine and an image built with docker/Dockerfile.minio, which
//! this project's machines do not have, so it is marked ignored with that reason: CI compiles and
//! lints it, and lists it as not run. Run it where Docker answers with
//! `PRESIGN_BENCH_MINIO_IMAGE=presign-bench/minio:local cargo test --features containers -- --ignored`.
#![cfg(feature = "containers")]

use crate::common;

use std::time::Duration;

#[tokio::test]
#[ignore = "needs a Docker engine and a MinIO image (docker/Dockerfile.minio); this machine kind has no engine"]
async fn a_run_on_minio_in_a_container_verifies_every_object() {
    let image = std::env::var("PRESIGN_BENCH_MINIO_IMAGE").unwrap_or_else(|_| "presign-bench/minio:local".into());
    let tmp = tempfile::tempdir().unwrap();
    let scenario = tmp.path().join("container.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"container\"\nmodes = [\"proxied\", \"presigned\"]\n[run]\nuploads = 10\nconcurrency = 2\n\
             object_size = \"256KiB\"\nusers = 2\n[storage]\nkind = \"container\"\nimage = \"{image}\"\n\
             [signing]\nenabled = false\n"
        ),
    )
    .unwrap();
    let out = tmp.path().join("report");
    let (ok, _, stderr) =
        common::run_bin(&["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()], Duration::from_secs(300))
            .await;
    assert!(ok, "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    for mode in ["proxied", "presigned"] {
        assert_eq!(r["modes"][mode]["verified"], 10, "{mode}");
    }
}
