//! The Kubernetes manifests of `docker/k8s` as this machine can run them. kustomize (pinned by
//! `tools/install-deploy-linters.sh`) renders the layouts; [`pod`] stands in for the controllers,
//! making the Pod a Deployment, StatefulSet or Job would create from its template, fitted to the
//! host's network, which `podman kube play` then runs. Podman 4.3's `kube play` runs Pods,
//! ConfigMaps and PersistentVolumeClaims; it cannot run Deployments' rollouts, StatefulSets,
//! Jobs, Services, PodDisruptionBudgets or Namespaces, and it reads a Secret only from a Podman
//! secret holding the Secret's `data` as a JSON object ([`podman_secret`]).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// kustomize, kubernetes-validate and hadolint, installed (or found) by the pinned installer.
pub fn linters() -> [PathBuf; 3] {
    let out = Command::new(root().join("tools/install-deploy-linters.sh")).output().unwrap();
    assert!(out.status.success(), "tools/install-deploy-linters.sh failed: {}", String::from_utf8_lossy(&out.stderr));
    let paths: Vec<PathBuf> = String::from_utf8(out.stdout).unwrap().lines().map(PathBuf::from).collect();
    [paths[0].clone(), paths[1].clone(), paths[2].clone()]
}

/// `tool ARGS`: whether it succeeded, and its stdout and stderr.
pub fn run(tool: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The rendered `base` and `merge` layouts (YAML, and the file it was written to), from a copy
/// in `tmp` with secrets.env made from the example.
pub fn render(kustomize: &Path, tmp: &Path) -> Vec<(String, PathBuf)> {
    let copy = tmp.join("k8s");
    for layout in ["base", "merge"] {
        let dir = copy.join(layout);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(root().join("docker/k8s").join(layout)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(copy.join("base/secrets.env.example"), copy.join("base/secrets.env")).unwrap();
    ["base", "merge"]
        .iter()
        .map(|layout| {
            let (ok, yaml) = run(kustomize, &["build", copy.join(layout).to_str().unwrap()]);
            assert!(ok, "kustomize build {layout}: {yaml}");
            let file = tmp.join(format!("{layout}.yaml"));
            std::fs::write(&file, &yaml).unwrap();
            (yaml, file)
        })
        .collect()
}

/// The documents of a multi-document YAML stream.
pub fn documents(yaml: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|doc| <Value as serde::Deserialize>::deserialize(doc).expect("a YAML document"))
        .collect()
}

/// The document of `kind` named `name`.
pub fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the rendered manifests"))
}

/// The documents as one YAML stream, for `podman kube play`.
pub fn stream(docs: &[Value]) -> String {
    docs.iter().map(|d| serde_norway::to_string(d).unwrap()).collect::<Vec<_>>().join("---\n")
}

/// A Secret's `data` (its values base64, as rendered) as the JSON object Podman 4.3's `kube
/// play` reads from a Podman secret of the same name (it fails to read the Secrets it creates).
pub fn podman_secret(secret: &Value) -> String {
    serde_json::to_string(&secret["data"]).unwrap()
}

/// What a Pod's container sees instead of the cluster: `args` rewritten by `rewrite` (Service
/// DNS names and listen addresses to 127.0.0.1 ports), `$(VAR)` references expanded from `vars`
/// as the kubelet expands them, and `env` added.
pub struct Fit<'a> {
    pub rewrite: &'a dyn Fn(&str) -> String,
    pub vars: &'a BTreeMap<String, String>,
    pub env: Vec<(String, String)>,
}

/// The Pod named `name` that a controller makes from `template` (a pod template), on the host's
/// network: no container ports (nothing is published: each server listens on its own 127.0.0.1
/// port), no probes (Podman would turn them into healthchecks driven by systemd timers, which
/// this machine has none of; the test polls the readiness path itself), no affinity (one node),
/// and each volume named after the pod (`kube play` makes a volume per name, shared by every pod
/// using that name, where Kubernetes gives each pod its own `emptyDir`).
pub fn pod(template: &Value, name: &str, fit: &Fit) -> Value {
    let mut spec = template["spec"].clone();
    spec["hostNetwork"] = json!(true);
    spec.as_object_mut().unwrap().remove("affinity");
    let own = |volume: &Value| format!("{name}-{}", volume.as_str().unwrap());
    for volume in spec["volumes"].as_array_mut().into_iter().flatten() {
        volume["name"] = json!(own(&volume["name"]));
    }
    for container in spec["containers"].as_array_mut().unwrap() {
        let object = container.as_object_mut().unwrap();
        for key in ["ports", "readinessProbe", "livenessProbe"] {
            object.remove(key);
        }
        for mount in container["volumeMounts"].as_array_mut().into_iter().flatten() {
            mount["name"] = json!(own(&mount["name"]));
        }
        for arg in container["args"].as_array_mut().into_iter().flatten() {
            *arg = json!(expand(&(fit.rewrite)(arg.as_str().unwrap()), fit.vars));
        }
        let env = container["env"].as_array_mut().map(std::mem::take).unwrap_or_default();
        let added = fit.env.iter().map(|(k, v)| json!({ "name": k, "value": v }));
        container["env"] = Value::Array(env.into_iter().chain(added).collect());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": template["metadata"]["labels"] },
        "spec": spec,
    })
}

/// `$(NAME)` replaced by `vars[NAME]`; an unknown name stays as written, as the kubelet leaves it.
fn expand(arg: &str, vars: &BTreeMap<String, String>) -> String {
    vars.iter().fold(arg.to_owned(), |arg, (k, v)| arg.replace(&format!("$({k})"), v))
}

/// The readiness probe's path of the first container of a pod template.
pub fn readiness_path(template: &Value) -> String {
    template["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
        .as_str()
        .expect("a readinessProbe with httpGet")
        .to_owned()
}
