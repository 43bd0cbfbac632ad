//! MinIO as a store the harness starts itself: the pinned version, where its binary is, starting
//! one node or a cluster ([`start`], over HTTPS with a certificates directory), and the
//! body of the hidden `presign-bench minio-node` command, which runs one MinIO server process,
//! announces it like the other servers (`listening on http://ADDR`, once MinIO is ready) and ties
//! its life to its parent's: when its standard input closes or it is told to stop, it stops MinIO
//! (SIGTERM, a bounded drain, then SIGKILL), so no MinIO outlives a run.

use super::HarnessError;
use super::children::{Server, Spec};
use crate::storage::Credentials;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The MinIO module version `docker/install-minio.sh` installs (`go list -m`'s pseudo-version);
/// a test checks that the two agree.
pub const PINNED_VERSION: &str = "v0.0.0-20260212201848-7aac2a2c5b7c";
/// What installs it.
pub const INSTALL_COMMAND: &str = "docker/install-minio.sh";
/// How long a node (or a cluster) may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long MinIO may take to drain after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors of finding or running MinIO.
#[derive(Debug, thiserror::Error)]
pub enum MinioError {
    /// No binary where it should be.
    #[error("MinIO is not installed at {path}: run {INSTALL_COMMAND} (or set MINIO_BIN to a minio binary)")]
    Missing {
        /// Where it was looked for.
        path: String,
    },
    /// The process could not be started or died before it was ready.
    #[error("MinIO at {address}: {message}")]
    Start {
        /// Its API address.
        address: String,
        /// What happened.
        message: String,
    },
}

/// Where the binary is: `MINIO_BIN`, else where `docker/install-minio.sh` puts the pinned
/// version (`${XDG_CACHE_HOME:-~/.cache}/presign-bench/minio/<version>/minio`).
#[must_use]
pub fn binary_path() -> PathBuf {
    if let Some(bin) = std::env::var_os("MINIO_BIN") {
        return PathBuf::from(bin);
    }
    let home = || PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/".into())).join(".cache");
    let cache = std::env::var_os("XDG_CACHE_HOME").map_or_else(home, PathBuf::from);
    cache.join("presign-bench/minio").join(PINNED_VERSION).join("minio")
}

/// The binary, if it is there.
///
/// # Errors
/// [`MinioError::Missing`], naming the path and the install command.
pub fn locate() -> Result<PathBuf, MinioError> {
    let path = binary_path();
    if path.is_file() { Ok(path) } else { Err(MinioError::Missing { path: path.display().to_string() }) }
}

/// The first line of `minio --version` (e.g. `minio version DEVELOPMENT.GOGET (commit-id=...)`),
/// with the module version it was built from, for results.json.
#[must_use]
pub fn version(bin: &Path) -> String {
    let out = std::process::Command::new(bin).arg("--version").output();
    let line =
        out.ok().and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.lines().next().map(str::to_owned));
    format!("{} ({PINNED_VERSION} pinned)", line.unwrap_or_else(|| "minio version unknown".into()))
}

/// How one MinIO server process is run.
#[derive(Clone, Debug)]
pub struct Node {
    /// The binary.
    pub bin: PathBuf,
    /// API address, `127.0.0.1:PORT`.
    pub address: String,
    /// Console address.
    pub console: String,
    /// A directory (single node) or the whole cluster's `http://host:port/dir` endpoints.
    pub endpoints: Vec<String>,
    /// MinIO's certificates directory (`public.crt`, `private.key`, `CAs/`): it serves HTTPS.
    pub certs_dir: Option<PathBuf>,
}

/// Runs `node` until `shutdown`, or until MinIO exits. Credentials come from the environment
/// (`MINIO_ROOT_USER`, `MINIO_ROOT_PASSWORD`), which the child inherits.
///
/// # Errors
/// [`MinioError::Start`] when MinIO cannot start or does not become ready in time.
pub async fn run_node(node: &Node, shutdown: impl Future<Output = ()>) -> Result<(), MinioError> {
    let fail = |message: String| MinioError::Start { address: node.address.clone(), message };
    let mut command = tokio::process::Command::new(&node.bin);
    if node.endpoints.iter().any(|e| e.starts_with("http://") || e.starts_with("https://")) {
        // A cluster on loopback. MinIO treats a machine with /.dockerenv as a container, where
        // it refuses endpoints that resolve to localhost unless told which host is itself.
        command.env("_MINIO_SERVER_LOCAL", &node.address);
    }
    let mut trust = None;
    if let Some(dir) = &node.certs_dir {
        command.args(["--certs-dir".as_ref(), dir.as_os_str()]);
        let ca = dir.join("CAs").join("ca.pem");
        let pem = std::fs::read_to_string(&ca).map_err(|e| fail(format!("{}: {e}", ca.display())))?;
        trust = Some(crate::tls::Trust::new(&pem, &ca.display().to_string()).map_err(|e| fail(e.to_string()))?);
    }
    let mut child = command
        .arg("server")
        .args(["--address", &node.address, "--console-address", &node.console, "--quiet", "--anonymous"])
        .args(&node.endpoints)
        .env("MINIO_UPDATE", "off")
        .env("MINIO_CI_CD", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start {}: {e}", node.bin.display())))?;
    let url = format!("{}://{}", if trust.is_some() { "https" } else { "http" }, node.address);
    tokio::select! {
        ready = wait_ready(&url, "/minio/health/ready", trust.as_ref()) => {
            if !ready {
                let _ = child.kill().await;
                return Err(fail(format!("not ready after {} s", READY_TIMEOUT.as_secs())));
            }
        }
        status = child.wait() => {
            return Err(fail(format!("exited before it was ready ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string()))));
        }
    }
    crate::server::announce_url(&url).map_err(|e| fail(format!("cannot announce: {e}")))?;
    super::children::supervise(&mut child, shutdown, STOP_TIMEOUT).await.map_err(fail)
}

/// Polls `url` + `path` until it answers 200, for at most [`READY_TIMEOUT`].
pub async fn wait_ready(url: &str, path: &str, trust: Option<&crate::tls::Trust>) -> bool {
    crate::client::once::wait_ready(url, path, READY_TIMEOUT, trust).await
}

/// The id of the webhook target the harness gives MinIO (`MINIO_NOTIFY_WEBHOOK_*_PB`).
pub const WEBHOOK_ID: &str = "PB";

/// MinIO's settings of a webhook target sending the bucket's events to `url` with `token`, its
/// undelivered events kept in `queue_dir` (so they survive the receiver being down).
#[must_use]
pub fn webhook_env(url: &str, token: &str, queue_dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("MINIO_NOTIFY_WEBHOOK_ENABLE_PB", "on".to_owned()),
        ("MINIO_NOTIFY_WEBHOOK_ENDPOINT_PB", url.to_owned()),
        ("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_PB", token.to_owned()),
        ("MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_PB", queue_dir.display().to_string()),
        ("MINIO_NOTIFY_WEBHOOK_QUEUE_LIMIT_PB", "100000".to_owned()),
    ]
}

/// Subscribes the webhook target of [`webhook_env`] to `bucket`'s object-created events under
/// `prefix`, through the S3 API (PutBucketNotificationConfiguration).
///
/// # Errors
/// The store's refusal, described.
pub async fn subscribe(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<(), String> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
        QueueConfiguration, S3KeyFilter,
    };
    let rule = FilterRule::builder().name(FilterRuleName::Prefix).value(prefix).build();
    let filter =
        NotificationConfigurationFilter::builder().key(S3KeyFilter::builder().filter_rules(rule).build()).build();
    let queue = QueueConfiguration::builder()
        .queue_arn(format!("arn:minio:sqs::{WEBHOOK_ID}:webhook"))
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(filter)
        .build()
        .map_err(|e| e.to_string())?;
    let config = NotificationConfiguration::builder().queue_configurations(queue).build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| crate::storage::client::describe(&e))
}

/// Where and how many MinIO processes run.
pub(super) struct Layout {
    pub(super) bin: PathBuf,
    pub(super) nodes: u64,
    pub(super) drives_per_node: u64,
    pub(super) root: PathBuf,
    /// MinIO's CORS is server-wide (`MINIO_API_CORS_ALLOW_ORIGIN`; `PutBucketCors` is a stub
    /// answering NotImplemented in the pinned version); empty keeps MinIO's default, `*`.
    pub(super) cors_origins: Vec<String>,
    /// MinIO's certificates directory (`--certs-dir`), when it serves HTTPS.
    pub(super) certs: Option<PathBuf>,
    /// More settings (a webhook target).
    pub(super) env: Vec<(&'static str, String)>,
}

/// Starts MinIO: one node (its drives as directories) or a distributed cluster of `nodes`
/// processes on loopback whose drives together are erasure-coded; waits until the cluster has
/// quorum. Returns the node servers and the endpoint of the first node.
pub(super) async fn start(
    layout: &Layout,
    credentials: &Credentials,
    logs: &Path,
    trust: Option<&crate::tls::Trust>,
) -> Result<(Vec<Server>, String), HarnessError> {
    let scheme = if layout.certs.is_some() { "https" } else { "http" };
    let nodes = usize::try_from(layout.nodes).unwrap_or(1);
    let ports = super::children::free_ports(nodes * 2).map_err(super::io_error(Path::new("127.0.0.1:0")))?;
    let drive = |node: usize, d: u64| layout.root.join(format!("node-{node}")).join(format!("drive-{d}"));
    for node in 0..nodes {
        for d in 1..=layout.drives_per_node {
            let dir = drive(node, d);
            std::fs::create_dir_all(&dir).map_err(super::io_error(&dir))?;
        }
    }
    let endpoints: Vec<String> = if nodes == 1 {
        (1..=layout.drives_per_node).map(|d| drive(0, d).display().to_string()).collect()
    } else {
        (0..nodes)
            .flat_map(|node| {
                let port = ports[node];
                (1..=layout.drives_per_node).map(move |d| (node, port, d))
            })
            .map(|(node, port, d)| format!("{scheme}://127.0.0.1:{port}{}", drive(node, d).display()))
            .collect()
    };
    let mut envs = vec![
        ("MINIO_ROOT_USER", credentials.access_key.clone()),
        ("MINIO_ROOT_PASSWORD", credentials.secret_key.clone()),
    ];
    if !layout.cors_origins.is_empty() {
        envs.push(("MINIO_API_CORS_ALLOW_ORIGIN", layout.cors_origins.join(",")));
    }
    envs.extend(layout.env.iter().cloned());
    let args: Vec<Vec<String>> = (0..nodes)
        .map(|node| {
            let mut args = vec![
                "--minio-bin".to_owned(),
                layout.bin.display().to_string(),
                "--address".to_owned(),
                format!("127.0.0.1:{}", ports[node]),
                "--console-address".to_owned(),
                format!("127.0.0.1:{}", ports[nodes + node]),
            ];
            if let Some(certs) = &layout.certs {
                args.extend(["--certs-dir".to_owned(), certs.display().to_string()]);
            }
            args.extend(endpoints.iter().cloned());
            args
        })
        .collect();
    // Every node at once: a cluster node is ready only when enough of its peers are up.
    let starts = (0..nodes).map(|node| {
        Server::start(Spec {
            name: if nodes == 1 { "storage".to_owned() } else { format!("minio-{node}") },
            command: "minio-node",
            args: &args[node],
            envs: &envs,
            log: logs.join(format!("minio-{node}.log")),
            expendable: nodes > 1,
        })
    });
    let servers: Vec<Server> = futures_util::future::join_all(starts).await.into_iter().collect::<Result<_, _>>()?;
    let endpoint = servers[0].url.clone();
    if nodes > 1 && !wait_ready(&endpoint, "/minio/health/cluster", trust).await {
        return Err(HarnessError::ServerStart {
            name: "minio".into(),
            message: format!("the {nodes}-node cluster did not reach write quorum"),
        });
    }
    Ok((servers, endpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_script_pins_the_same_version() {
        let script = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(INSTALL_COMMAND)).unwrap();
        assert!(
            script.contains(&format!("MINIO_VERSION={PINNED_VERSION}\n")),
            "{INSTALL_COMMAND} pins another version"
        );
    }

    #[test]
    fn a_missing_binary_is_one_line_naming_the_install_command() {
        let err = MinioError::Missing { path: "/nowhere/minio".into() }.to_string();
        assert_eq!(
            err,
            "MinIO is not installed at /nowhere/minio: run docker/install-minio.sh (or set MINIO_BIN to a minio binary)"
        );
    }
}
