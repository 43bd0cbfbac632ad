//! The Kubernetes topology of `docker/k8s`, rehearsed in containers (cargo feature `containers`):
//! kustomize renders the manifests, each workload becomes the Pods its controller would make
//! (`common::kube`), and `podman kube play` runs them on the host's network, each server on its
//! own 127.0.0.1 port, with the images `tools/build-images.sh` built: the StatefulSet's 4-node
//! MinIO, the broker's and the proxy's Deployments, the Indexed Job's 4 load shards
//! (`JOB_COMPLETION_INDEX` 0–3) writing their shard files to the bucket, then the merge Job into
//! its volume. The merged results must count every upload once.
//!
//! What differs from a cluster, and why: Service names become the servers' 127.0.0.1 ports (no
//! cluster DNS); MinIO's nodes name each other by those ports and are told which one they are
//! (`_MINIO_SERVER_LOCAL`, as `harness::minio` does: MinIO in a container otherwise waits for its
//! host to resolve to a non-loopback address); the load runs the manifest's scenario scaled down
//! (`--uploads`, `--object-size`, `--concurrency` added); the merge layout's `report-reader` pod
//! (busybox, for `kubectl cp`) is not run, as no registry is reachable: the test reads the report
//! volume itself.
#![cfg(feature = "containers")]

use crate::common;
use common::{kube, podman};

use presign_bench::shard::ShardFile;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Uploads per mode, over all shards.
const UPLOADS: u64 = 40;

/// The MinIO image as the manifests name it after kustomize.
const MINIO_IMAGE: &str = "presign-bench/minio:local";

/// What the rehearsal made in Podman: removed when dropped, a failed test included.
struct Made {
    dir: PathBuf,
    plays: usize,
    pods: Vec<String>,
    volumes: Vec<String>,
    secret: Option<String>,
}

impl Made {
    /// `podman kube play` of `docs`; notes the pods and claimed volumes it makes.
    fn play(&mut self, docs: &[Value]) {
        self.plays += 1;
        let file = self.dir.join(format!("play-{}.yaml", self.plays));
        std::fs::write(&file, kube::stream(docs)).unwrap();
        // What an interrupted rehearsal (killed before its guard ran) may have left goes first:
        // `kube play` refuses a pod name in use.
        for doc in docs {
            let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
            match doc["kind"].as_str() {
                Some("Pod") => {
                    let _ = podman::podman(&["pod", "rm", "--force", &name]);
                    self.pods.push(name);
                }
                Some("PersistentVolumeClaim") => {
                    let _ = podman::podman(&["volume", "rm", "--force", &name]);
                    self.volumes.push(name);
                }
                _ => {}
            }
        }
        podman::podman_ok(&["kube", "play", file.to_str().unwrap()]);
    }

    /// A Podman secret named after `secret`, holding what `kube play` reads from it.
    fn secret(&mut self, secret: &Value) {
        let name = secret["metadata"]["name"].as_str().unwrap().to_owned();
        let file = self.dir.join("secret.json");
        std::fs::write(&file, kube::podman_secret(secret)).unwrap();
        let _ = podman::podman(&["secret", "rm", &name]);
        let out = podman::podman(&["secret", "create", &name, file.to_str().unwrap()]);
        assert!(out.status.success(), "podman secret create {name}: {}", String::from_utf8_lossy(&out.stderr));
        self.secret = Some(name);
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for pod in &self.pods {
            let _ = podman::podman(&["pod", "rm", "--force", pod]);
        }
        for volume in &self.volumes {
            let _ = podman::podman(&["volume", "rm", "--force", volume]);
        }
        if let Some(secret) = &self.secret {
            let _ = podman::podman(&["secret", "rm", secret]);
        }
    }
}

/// Waits until `base` + `path` answers 200 (the readiness probe, polled from the host).
async fn ready(base: &str, path: &str, limit: Duration) {
    let up = presign_bench::client::once::wait_ready(base, path, limit, None).await;
    assert!(up, "{base}{path} did not become ready within {limit:?}");
}

/// Waits for the container `name` to exit; its exit code, with its logs when it failed.
async fn exit_code(name: &str, limit: Duration) -> (i64, String) {
    let wait = tokio::process::Command::new("podman")
        .args(["wait", name])
        .env("CONTAINERS_CONF", podman::containers_conf())
        .kill_on_drop(true)
        .output();
    let out =
        tokio::time::timeout(limit, wait).await.unwrap_or_else(|_| panic!("{name} still running after {limit:?}"));
    let code = String::from_utf8_lossy(&out.unwrap().stdout).trim().parse().expect("podman wait prints the exit code");
    let logs = if code == 0 { String::new() } else { format!("{:?}", podman::podman(&["logs", name])) };
    (code, logs)
}

/// `KEY=VALUE` lines of the example secrets file the rendering used.
fn secrets_env() -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/k8s/base/secrets.env.example"))
            .unwrap();
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// The rendered manifests and where each of their servers listens on this machine.
struct Topology {
    base: Vec<Value>,
    merge: Vec<Value>,
    /// The run's ConfigMap, played with the pods that read it.
    config: Value,
    /// `$(VAR)` values: the ConfigMap's.
    vars: BTreeMap<String, String>,
    /// Each Service's cluster address (`name.namespace.svc.cluster.local:port`) → 127.0.0.1:port.
    services: BTreeMap<String, String>,
    broker: String,
    proxy: String,
    /// MinIO's nodes: (S3 address, console address).
    nodes: Vec<(String, String)>,
}

impl Topology {
    fn new(base: Vec<Value>, merge: Vec<Value>) -> Self {
        let config = kube::find(&base, "ConfigMap", "presign-bench-run").clone();
        let vars = serde_json::from_value(config["data"].clone()).unwrap();
        let minio = kube::find(&base, "StatefulSet", "minio");
        let count = usize::try_from(minio["spec"]["replicas"].as_u64().unwrap()).unwrap();
        let ports = presign_bench::harness::children::free_ports(2 + 2 * count).unwrap();
        let local = |i: usize| format!("127.0.0.1:{}", ports[i]);
        let nodes: Vec<_> = (0..count).map(|n| (local(2 + n), local(2 + count + n))).collect();
        let (broker, proxy) = (local(0), local(1));
        let mut services = BTreeMap::new();
        for service in base.iter().filter(|d| d["kind"] == "Service") {
            let name = service["metadata"]["name"].as_str().unwrap();
            let at = match name {
                "broker" => broker.clone(),
                "proxy" => proxy.clone(),
                "minio" => nodes[0].0.clone(),
                other => panic!("a Service the rehearsal does not know: {other}"),
            };
            let port = &service["spec"]["ports"][0]["port"];
            services.insert(format!("{name}.presign-bench.svc.cluster.local:{port}"), at);
        }
        Self { base, merge, config, vars, services, broker, proxy, nodes }
    }

    /// `arg` with Service addresses replaced, and `listen` (from, to) when it is exactly `from`.
    fn rewrite(&self, arg: &str, listen: Option<(&str, &str)>) -> String {
        let arg = self.services.iter().fold(arg.to_owned(), |a, (from, to)| a.replace(from, to));
        match listen {
            Some((from, to)) if arg == from => to.to_owned(),
            _ => arg,
        }
    }

    /// The pod `name` from `template`, its args rewritten, `env` added.
    fn pod(&self, template: &Value, name: &str, listen: Option<(&str, &str)>, env: Vec<(String, String)>) -> Value {
        let rewrite = |arg: &str| self.rewrite(arg, listen);
        kube::pod(template, name, &kube::Fit { rewrite: &rewrite, vars: &self.vars, env })
    }

    /// The StatefulSet: pods minio-0..N, each with its own claim (`data-minio-N`), naming each
    /// other by their 127.0.0.1 ports; waits until each is ready.
    async fn minio(&self, made: &mut Made) {
        let minio = kube::find(&self.base, "StatefulSet", "minio");
        let endpoint = minio["spec"]["template"]["spec"]["containers"][0]["args"][1].as_str().unwrap();
        let drive = endpoint.rsplit_once(".svc.cluster.local").expect("the cluster's endpoint pattern").1;
        let endpoints: Vec<String> = self.nodes.iter().map(|(at, _)| format!("http://{at}{drive}")).collect();
        let claim = &minio["spec"]["volumeClaimTemplates"][0];
        let volume = claim["metadata"]["name"].as_str().unwrap();
        let mut template = minio["spec"]["template"].clone();
        let mut docs = vec![];
        for (n, (at, console)) in self.nodes.iter().enumerate() {
            let name = format!("minio-{n}");
            let claim_name = format!("{volume}-{name}");
            template["spec"]["volumes"] =
                json!([{ "name": volume, "persistentVolumeClaim": { "claimName": claim_name } }]);
            let mut pod = self.pod(&template, &name, None, vec![("_MINIO_SERVER_LOCAL".into(), at.clone())]);
            let args = ["server", "--address", at, "--console-address", console].map(str::to_owned);
            pod["spec"]["containers"][0]["args"] = json!(args.into_iter().chain(endpoints.clone()).collect::<Vec<_>>());
            let pvc = json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": { "name": claim_name }, "spec": claim["spec"],
            });
            docs.extend([pvc, pod]);
        }
        made.play(&docs);
        let path = kube::readiness_path(&minio["spec"]["template"]);
        for (at, _) in &self.nodes {
            ready(&format!("http://{at}"), &path, Duration::from_secs(120)).await;
        }
    }

    /// The Deployments: one pod each, listening on its own port instead of 0.0.0.0; waits until
    /// each is ready.
    async fn servers(&self, made: &mut Made) {
        for (name, at) in [("broker", &self.broker), ("proxy", &self.proxy)] {
            let deployment = kube::find(&self.base, "Deployment", name);
            assert_eq!(deployment["spec"]["replicas"], 1, "{name}: one replica (the harness reads its /metrics)");
            let template = &deployment["spec"]["template"];
            let port = &template["spec"]["containers"][0]["ports"][0]["containerPort"];
            made.play(&[self.pod(template, name, Some((&format!("0.0.0.0:{port}"), at)), vec![])]);
            ready(&format!("http://{at}"), &kube::readiness_path(template), Duration::from_secs(60)).await;
        }
    }

    /// The Indexed Job: pods presign-bench-load-0..N, each told its index as the Job controller
    /// tells it, on the manifest's scenario scaled down; waits until each has succeeded. Returns
    /// the number of shards.
    async fn load(&self, made: &mut Made) -> u64 {
        let job = kube::find(&self.base, "Job", "presign-bench-load");
        assert_eq!(job["spec"]["completionMode"], "Indexed");
        let shards = job["spec"]["completions"].as_u64().unwrap();
        let mut docs = vec![self.config.clone()];
        for index in 0..shards {
            let env = vec![("JOB_COMPLETION_INDEX".into(), index.to_string())];
            let mut pod = self.pod(&job["spec"]["template"], &format!("presign-bench-load-{index}"), None, env);
            let scaled = ["--uploads", &UPLOADS.to_string(), "--object-size", "256KiB", "--concurrency", "4"];
            pod["spec"]["containers"][0]["args"].as_array_mut().unwrap().extend(scaled.map(|a| json!(a)));
            docs.push(pod);
        }
        made.play(&docs);
        for index in 0..shards {
            let (code, logs) = exit_code(&format!("presign-bench-load-{index}-shard"), Duration::from_secs(600)).await;
            assert_eq!(code, 0, "shard {index}: {logs}");
        }
        shards
    }

    /// The merge Job: one pod, its report on the claimed volume; returns the report's directory.
    async fn merge(&self, made: &mut Made) -> PathBuf {
        let claim = kube::find(&self.merge, "PersistentVolumeClaim", "presign-bench-report");
        let job = kube::find(&self.merge, "Job", "presign-bench-merge");
        made.play(&[
            self.config.clone(),
            claim.clone(),
            self.pod(&job["spec"]["template"], "presign-bench-merge", None, vec![]),
        ]);
        let (code, logs) = exit_code("presign-bench-merge-merge", Duration::from_secs(120)).await;
        assert_eq!(code, 0, "merge: {logs}");
        let volume = podman::podman_ok(&["volume", "inspect", "presign-bench-report", "--format", "{{.Mountpoint}}"]);
        PathBuf::from(volume.trim()).join(&self.vars["PRESIGN_BENCH_RUN_ID"])
    }

    /// The shard files the load wrote to the bucket.
    async fn shard_files(&self) -> Vec<ShardFile> {
        let secrets = secrets_env();
        let target = presign_bench::storage::client::S3Target {
            endpoint: format!("http://{}", self.nodes[0].0),
            region: "us-east-1".into(),
            bucket: "presign-bench".into(),
            credentials: presign_bench::storage::Credentials {
                access_key: secrets["AWS_ACCESS_KEY_ID"].clone(),
                secret_key: secrets["AWS_SECRET_ACCESS_KEY"].clone(),
            },
            ca_pem: None,
        };
        let s3 = common::bucket_client(&target).await;
        let prefix = format!("shards/{}/", self.vars["PRESIGN_BENCH_RUN_ID"]);
        let listed = s3.list_objects_v2().bucket("presign-bench").prefix(prefix).send().await.unwrap();
        let mut files = vec![];
        for object in listed.contents() {
            let body = s3.get_object().bucket("presign-bench").key(object.key().unwrap()).send().await.unwrap().body;
            files.push(serde_json::from_slice(&body.collect().await.unwrap().into_bytes()).unwrap());
        }
        files
    }
}

#[tokio::test]
async fn the_kubernetes_topology_runs_in_containers_and_the_merge_counts_every_upload_once() {
    let _turn = podman::turn().await;
    for image in [podman::APP_IMAGE, MINIO_IMAGE] {
        podman::require_image(image);
    }
    let sweeps = [podman::Sweep::new(podman::APP_IMAGE), podman::Sweep::new(MINIO_IMAGE)];
    let tmp = tempfile::tempdir().unwrap();
    let [kustomize, _, _] = kube::linters();
    let rendered = kube::render(&kustomize, tmp.path());
    let topology = Topology::new(kube::documents(&rendered[0].0), kube::documents(&rendered[1].0));
    let mut made = Made { dir: tmp.path().to_owned(), plays: 0, pods: vec![], volumes: vec![], secret: None };
    made.secret(kube::find(&topology.base, "Secret", "presign-bench"));
    topology.minio(&mut made).await;
    topology.servers(&mut made).await;
    let shards = topology.load(&mut made).await;
    let report = topology.merge(&mut made).await;
    let results: Value = serde_json::from_str(&std::fs::read_to_string(report.join("results.json")).unwrap()).unwrap();
    eprintln!("rehearsal: merged results of {shards} shards: {}", summary(&results));

    // Every upload counted once: the merge covers the whole run, and the shard files in the
    // bucket ran disjoint ranges covering it.
    assert_eq!(results["complete"], true, "{results}");
    assert_eq!(results["scenario"]["uploads"], UPLOADS);
    assert!(report.join("report.html").is_file(), "the full report beside results.json");
    let files = topology.shard_files().await;
    assert_eq!(files.len(), usize::try_from(shards).unwrap(), "one shard file per completion index");
    for mode in ["proxied", "presigned"] {
        let m = &results["modes"][mode];
        assert_eq!(m["uploads_ok"], UPLOADS, "{mode}: {m}");
        assert_eq!(m["verified"], UPLOADS, "{mode}: the scenario's sample (60) covers every upload");
        assert_eq!((&m["lost"], &m["corrupt"]), (&json!(0), &json!(0)), "{mode}");
        let mut numbers: Vec<u64> = files
            .iter()
            .flat_map(|f| &f.modes)
            .filter(|m| m.mode.as_str() == mode)
            .flat_map(|m| m.records.iter().map(|r| r.index))
            .collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (0..UPLOADS).collect::<Vec<_>>(), "{mode}: shards ran disjoint ranges covering the run");
    }
    let volumes = made.volumes.clone();
    drop(made);
    let left = podman::podman_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(left.lines().all(|v| !volumes.iter().any(|m| m == v)), "volumes left: {left}");
    for sweep in &sweeps {
        let left = sweep.new_containers();
        assert!(left.is_empty(), "containers left after the rehearsal: {left:?}");
    }
}

/// Per mode: uploads, verified, and app-tier bytes per upload.
fn summary(results: &Value) -> String {
    ["proxied", "presigned"]
        .map(|mode| {
            let m = &results["modes"][mode];
            format!(
                "{mode}: {} uploads ok, {} verified, {} app-tier bytes per upload",
                m["uploads_ok"], m["verified"], m["per_upload"]["app_tier_bytes"]
            )
        })
        .join("; ")
}
