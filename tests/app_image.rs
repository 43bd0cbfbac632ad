//! The project's image (`docker/Containerfile.static`, built by `tools/build-images.sh` without a
//! registry) runs the servers (cargo feature `containers`): `presign-bench storage`, `broker`
//! and `proxy`, each a container on the host's network at its own 127.0.0.1 port, as the
//! image's non-root user, with a read-only root and an in-memory /tmp; the host's `presign-bench
//! run` drives them as it drives servers it did not start, and verifies every object.
#![cfg(feature = "containers")]

use crate::common;
use common::podman;

use std::time::Duration;

/// The containers a test started, removed when dropped (a failed test included).
struct Started(Vec<String>);

impl Started {
    /// `podman run --detach` of the project's image on the host's network, with `env`, running
    /// `args`; returns the container's id.
    fn run(&mut self, env: &[(&str, &str)], args: &[&str]) -> String {
        let mut command = vec!["run", "--detach", "--network", "host", "--read-only", "--tmpfs", "/tmp:mode=1777"];
        let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        command.extend(pairs.iter().flat_map(|p| ["--env", p.as_str()]));
        command.push(podman::APP_IMAGE);
        command.extend(args);
        let id = podman::podman_ok(&command).trim().to_owned();
        self.0.push(id.clone());
        id
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for id in &self.0 {
            let _ = podman::podman(&["rm", "--force", id]);
        }
    }
}

#[tokio::test]
async fn storage_broker_and_proxy_run_from_the_projects_image_and_a_run_verifies_every_object() {
    let _turn = podman::turn().await;
    podman::require_image(podman::APP_IMAGE);
    let sweep = podman::Sweep::new(podman::APP_IMAGE);
    let ports = presign_bench::harness::children::free_ports(3).unwrap();
    let [store, broker, proxy] = [0, 1, 2].map(|i| format!("127.0.0.1:{}", ports[i]));
    let endpoint = format!("http://{store}");
    let (access, secret, token) =
        ("presign-bench", "a-secret-for-the-container-test", "0123456789abcdef0123456789abcdef");
    let env = [("AWS_ACCESS_KEY_ID", access), ("AWS_SECRET_ACCESS_KEY", secret), ("PRESIGN_BENCH_TOKEN_SECRET", token)];
    let mut started = Started(vec![]);
    started.run(&env, &["storage", "--listen", &store]);
    // The store answers its root with an S3 error (no bucket named), which is an answer.
    let client = common::client();
    let store_up = async || client.get(&endpoint).send().await.is_ok();
    assert!(common::eventually(Duration::from_secs(60), store_up).await, "{endpoint} did not answer");
    for (command, at) in [("broker", &broker), ("proxy", &proxy)] {
        let id = started.run(
            &env,
            &[
                command,
                "--listen",
                at,
                "--s3-endpoint",
                &endpoint,
                "--bucket",
                "presign-bench",
                "--db",
                "/tmp/files.sqlite3",
            ],
        );
        let base = format!("http://{at}");
        let up = presign_bench::client::once::wait_ready(&base, "/healthz", Duration::from_secs(60), None).await;
        assert!(up, "{command} at {at} did not become ready");
        let user = podman::podman_ok(&["inspect", "--format", "{{.Config.User}}", &id]);
        assert_eq!(user.trim(), "65532:65532", "{command} runs as the image's non-root user");
    }

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("report");
    let scenario = tmp.path().join("servers.toml");
    std::fs::write(
        &scenario,
        "name = \"servers-in-containers\"\nmodes = [\"proxied\", \"presigned\"]\n[run]\nuploads = 20\nconcurrency = 4\n\
         object_size = \"256KiB\"\nusers = 4\nverify = \"all\"\n[signing]\nenabled = false\n",
    )
    .unwrap();
    let (broker_url, proxy_url) = (format!("http://{broker}"), format!("http://{proxy}"));
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--broker-url",
        &broker_url,
        "--proxy-url",
        &proxy_url,
        "--storage-endpoint",
        &endpoint,
        "--bucket",
        "presign-bench",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    let output = tokio::process::Command::new(common::BIN).args(args).envs(env).kill_on_drop(true).output();
    let output = tokio::time::timeout(Duration::from_secs(300), output).await.expect("the run ended").unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["complete"], true, "{results}");
    for mode in ["proxied", "presigned"] {
        let m = &results["modes"][mode];
        assert_eq!((&m["uploads_ok"], &m["verified"]), (&20.into(), &20.into()), "{mode}: {m}");
        assert_eq!((&m["lost"], &m["corrupt"]), (&0.into(), &0.into()), "{mode}");
        // The servers' own counters, read from their /metrics in the containers.
        assert!(m["app_tier"]["client_bytes_in"].as_u64().unwrap() > 0, "{mode}");
    }
    drop(started);
    let left = sweep.new_containers();
    assert!(left.is_empty(), "containers left: {left:?}");
}
