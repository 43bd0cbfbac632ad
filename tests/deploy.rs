//! The deployment files, checked offline (tests/rehearsal.rs runs them on Podman): the
//! Dockerfiles pass hadolint; the kustomize layouts render and the rendered manifests validate
//! strictly against the Kubernetes API schemas (kubernetes-validate, two API versions); every
//! flag the manifests pass exists on the command they run; and the shard count agrees everywhere.
//! The tools come from `tools/install-deploy-linters.sh` (run by the README's test command).

use crate::common;

use common::kube;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_dockerfiles_pass_hadolint() {
    let [_, _, hadolint] = kube::linters();
    for file in ["docker/Dockerfile", "docker/Dockerfile.minio", "docker/Containerfile.static"] {
        let (ok, out) = kube::run(&hadolint, &["--no-color", root().join(file).to_str().unwrap()]);
        assert!(ok, "{file}: {out}");
    }
}

#[test]
fn the_manifests_render_and_validate_against_the_kubernetes_api_schemas() {
    let [kustomize, validate, _] = kube::linters();
    let tmp = tempfile::tempdir().unwrap();
    let docs = kube::render(&kustomize, tmp.path());
    for (yaml, file) in &docs {
        for version in ["1.30.0", "1.37.0"] {
            let (ok, out) = kube::run(&validate, &["--strict", "-k", version, file.to_str().unwrap()]);
            assert!(ok, "{} against Kubernetes {version}: {out}", file.display());
            assert!(!out.contains("ERROR"), "{out}");
        }
        assert!(yaml.contains("app.kubernetes.io/part-of: presign-bench"));
    }
    let base = &docs[0].0;
    for kind in ["Deployment", "Service", "StatefulSet", "PodDisruptionBudget", "Job", "Secret", "ConfigMap"] {
        assert!(base.contains(&format!("kind: {kind}\n")), "the base has a {kind}");
    }
    // Readiness on /healthz and Prometheus scrape annotations on both app servers.
    assert_eq!(base.matches("path: /healthz").count(), 4, "readiness and liveness of broker and proxy");
    assert_eq!(base.matches("prometheus.io/path: /metrics").count(), 2);
    // The Indexed Job's shards: completions, parallelism and --shards agree.
    assert!(base.contains("completionMode: Indexed"));
    assert!(base.contains("completions: 4") && base.contains("parallelism: 4"));
    let shards = base.lines().skip_while(|l| l.trim() != "- --shards").nth(1).map(str::trim);
    assert_eq!(shards, Some("- \"4\""), "--shards 4 in the Job's args");
    // Every container runs as a non-root user.
    assert_eq!(base.matches("runAsNonRoot: true").count(), 4, "minio, broker, proxy, load");
}

#[test]
fn kubernetes_validate_rejects_what_the_schemas_forbid() {
    let [_, validate, _] = kube::linters();
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(root().join("docker/k8s/base/load-job.yaml")).unwrap();
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(&bad, good.replace("completions: 4", "completionz: 4")).unwrap();
    let (ok, out) = kube::run(&validate, &["--strict", "-k", "1.37.0", bad.to_str().unwrap()]);
    assert!(!ok && out.contains("completionz"), "{out}");
}

/// Every `--flag` a manifest passes exists on the subcommand it runs (`args:` starts with it).
#[test]
fn the_manifests_pass_only_flags_the_binary_has() {
    for file in ["base/broker.yaml", "base/proxy.yaml", "base/load-job.yaml", "merge/merge-job.yaml"] {
        let text = std::fs::read_to_string(root().join("docker/k8s").join(file)).unwrap();
        let args: Vec<&str> = text
            .lines()
            .skip_while(|l| l.trim() != "args:")
            .skip(1)
            .map_while(|l| l.trim().strip_prefix("- "))
            .collect();
        let command = args.first().unwrap_or_else(|| panic!("{file}: no args"));
        let out = Command::new(common::BIN).args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{file}: presign-bench {command} --help");
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "{file}: {command} has no {flag}"
            );
        }
    }
}
