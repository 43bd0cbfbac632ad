//! `[storage] kind = "container"` (cargo feature `containers`): runs on MinIO in a container that
//! testcontainers starts through Podman's Docker API (`podman system service` on a socket of the
//! test's own, as `DOCKER_HOST`), from the image `tools/build-images.sh` built (the test command
//! builds it). Every object is verified, a container that dies mid-run stops the run as a dead
//! store does, and no container outlives its run.
#![cfg(feature = "containers")]

use crate::common;
use common::podman;

use std::time::Duration;

/// A scenario on the container store: `uploads` per mode, at `rate` per second when given.
fn scenario(dir: &std::path::Path, uploads: u32, rate: Option<u32>) -> std::path::PathBuf {
    let path = dir.join("container.toml");
    let rate = rate.map(|r| format!("rate = \"{r}/s\"\n")).unwrap_or_default();
    std::fs::write(
        &path,
        format!(
            "name = \"container\"\nmodes = [\"proxied\", \"presigned\"]\n[run]\nuploads = {uploads}\nconcurrency = 2\n\
             {rate}object_size = \"256KiB\"\nusers = 2\n[storage]\nkind = \"container\"\nimage = \"{}\"\n\
             [signing]\nenabled = false\n",
            podman::minio_image()
        ),
    )
    .unwrap();
    path
}

/// `presign-bench run SCENARIO --out OUT` talking to `service`.
fn run_command(
    service: &podman::Service,
    scenario: &std::path::Path,
    out: &std::path::Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(common::BIN);
    command
        .args(["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
        .env("DOCKER_HOST", service.docker_host())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// What each test starts with: its turn, the image, the containers before it, its own Podman
/// service and a directory for the report.
struct Setup {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    image: String,
    sweep: podman::Sweep,
    service: podman::Service,
    tmp: tempfile::TempDir,
    out: std::path::PathBuf,
}

impl Setup {
    async fn new() -> Self {
        let turn = podman::turn().await;
        let image = podman::minio_image();
        podman::require_image(&image);
        let sweep = podman::Sweep::new(&image);
        let service = podman::Service::start().await;
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("report");
        Self { _turn: turn, image, sweep, service, tmp, out }
    }
}

fn results(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn a_run_on_minio_in_a_container_verifies_every_object_and_leaves_no_container() {
    let Setup { _turn, image, sweep, service, tmp, out } = Setup::new().await;
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        run_command(&service, &scenario(tmp.path(), 10, None), &out).output(),
    )
    .await
    .expect("the run ended within 5 minutes")
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let r = results(&out);
    assert_eq!(r["complete"], true, "{r}");
    for mode in ["proxied", "presigned"] {
        assert_eq!(r["modes"][mode]["verified"], 10, "{mode}");
        assert_eq!((&r["modes"][mode]["lost"], &r["modes"][mode]["corrupt"]), (&0.into(), &0.into()), "{mode}");
    }
    drop(service);
    let left = sweep.new_containers();
    assert!(left.is_empty(), "containers of {image} left after the run: {left:?}");
}

#[tokio::test]
async fn a_store_container_that_dies_mid_run_stops_the_run_with_its_reason() {
    let Setup { _turn, image, sweep, service, tmp, out } = Setup::new().await;
    // 400 uploads at 20 per second: the proxied mode alone lasts 20 s.
    let mut run = run_command(&service, &scenario(tmp.path(), 400, Some(20)), &out).spawn().unwrap();
    let ours = async || sweep.new_containers().into_iter().next();
    assert!(
        common::eventually(Duration::from_secs(120), async || ours().await.is_some()).await,
        "no container started"
    );
    let id = ours().await.unwrap();
    // Let the load begin (the bucket, then the app servers, then the first uploads).
    assert!(
        common::eventually(Duration::from_secs(60), async || {
            // MinIO logs to stderr; a container already gone has no logs.
            let logs = podman::podman(&["logs", &id]);
            let served = [&logs.stdout, &logs.stderr].iter().any(|s| String::from_utf8_lossy(s).contains("API:"));
            served && tokio::fs::metadata(out.join("logs")).await.is_ok()
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    podman::podman_ok(&["kill", &id]);
    let status = tokio::time::timeout(Duration::from_secs(120), run.wait()).await.expect("the run stopped").unwrap();
    assert!(!status.success(), "a run whose store died must fail");
    let r = results(&out);
    assert_eq!(r["complete"], false, "{r}");
    let reason = r["incomplete_reason"].as_str().unwrap();
    assert!(reason.contains("MinIO container") && reason.contains("exited"), "{reason}");
    drop(service);
    let left = sweep.new_containers();
    assert!(left.is_empty(), "containers of {image} left after the run: {left:?}");
}
