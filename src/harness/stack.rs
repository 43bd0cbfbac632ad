//! The servers of a run: the embedded store (unless the scenario names an endpoint), the broker
//! and the proxy, started as child processes on 127.0.0.1 ephemeral ports; fresh app servers for
//! each sweep point; all of them stopped at the end.

use super::HarnessError;
use super::certs::RunTls;
use super::children::{Server, Spec};
use super::events::RunEvents;
use crate::scenario::{Pacing, Scenario, Storage};
use crate::storage::Credentials;
use crate::storage::client::{self, S3Target};
use std::path::{Path, PathBuf};

/// The running servers and how to reach the store.
pub struct Stack {
    /// Every running child, the store first.
    pub servers: Vec<Server>,
    /// How to (re)start the broker and the proxy (`None`: they are [`External`]).
    apps: Option<AppSpec>,
    /// The broker's base URL.
    pub broker: String,
    /// The proxy's base URL.
    pub proxy: String,
    /// Where the objects are.
    pub target: S3Target,
    /// The harness's own S3 client, for reading objects back.
    pub verifier: aws_sdk_s3::Client,
    /// The token secret the app servers were given.
    pub secret: String,
    /// `minio --version` of the MinIO that ran, when it did.
    pub store_version: Option<String>,
    /// What happened to expendable servers (a cluster node that exited), in order.
    pub incidents: Vec<String>,
    /// What the run's clients trust when it speaks TLS: the run's CA.
    pub trust: Option<crate::tls::Trust>,
    /// Validation by store events, when the scenario's trigger is `event`.
    pub events: Option<RunEvents>,
    /// The run's CDN, when the scenario reads through it.
    pub cdn: Option<super::cdn::RunCdn>,
    /// A container store, watched during the loads and stopped when the stack is dropped.
    pub(super) container: Option<super::store_container::StoreContainer>,
}

/// A broker and a proxy the run drives but did not start (their store is the scenario's
/// endpoint): they run as their own deployments, and stay up after the run.
#[derive(Clone, Debug)]
pub struct External {
    /// The broker's base URL.
    pub broker: String,
    /// The proxy's base URL.
    pub proxy: String,
    /// Their token secret, to mint the simulated users' tokens.
    pub token_secret: String,
}

/// How the broker and the proxy are started.
#[derive(Clone)]
struct AppSpec {
    env: Vec<(&'static str, String)>,
    broker_args: Vec<String>,
    proxy_args: Vec<String>,
    logs: PathBuf,
}

impl Stack {
    /// Starts the store (embedded storage only), creates the bucket, then starts broker and proxy
    /// (unless `external` names running ones).
    ///
    /// # Errors
    /// [`HarnessError`] when a server does not start or the store is unusable.
    pub async fn start(
        scenario: &Scenario,
        credentials: &Credentials,
        work: &Path,
        logs: &Path,
        external: Option<&External>,
    ) -> Result<Self, HarnessError> {
        let mut servers = Vec::new();
        let mut store_version = None;
        let mut container = None;
        let mut credentials = credentials.clone();
        let tls = if scenario.tls.is_plain() { None } else { Some(RunTls::make(&work.join("tls"))?) };
        let store_tls = tls.as_ref().filter(|_| scenario.tls.storage);
        let events = if external.is_some() { None } else { RunEvents::new(scenario)? };
        let local = |endpoint: String, credentials: &Credentials| S3Target {
            endpoint,
            region: "us-east-1".into(),
            bucket: "presign-bench".into(),
            credentials: credentials.clone(),
            ca_pem: store_tls.map(|t| t.ca_pem.clone()),
        };
        let target = match &scenario.storage {
            Storage::Embedded => {
                let sending = events.as_ref().map(|e| (e, tls.as_ref()));
                let store = start_embedded(scenario, &credentials, (work, logs), store_tls, sending).await?;
                let endpoint = store.url.clone();
                servers.push(store);
                local(endpoint, &credentials)
            }
            Storage::Minio { nodes, drives_per_node, data_dir } => {
                let bin = super::minio::locate()?;
                store_version = Some(super::minio::version(&bin));
                // Fresh keys per run: the harness owns this MinIO.
                credentials = Credentials {
                    access_key: format!("pb-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                    secret_key: uuid::Uuid::new_v4().simple().to_string(),
                };
                let root = data_dir.clone().unwrap_or_else(|| work.join("minio"));
                let layout = super::minio::Layout {
                    bin,
                    nodes: *nodes,
                    drives_per_node: *drives_per_node,
                    root,
                    cors_origins: scenario.cors_origins.clone(),
                    certs: store_tls.map(|t| t.minio_certs(&work.join("minio-certs"))).transpose()?,
                    env: events
                        .as_ref()
                        .map(|e| e.minio_env(&work.join("minio-events"), tls.as_ref()))
                        .unwrap_or_default(),
                };
                let (nodes, endpoint) =
                    super::minio::start(&layout, &credentials, logs, store_tls.map(|t| &t.trust)).await?;
                servers.extend(nodes);
                local(endpoint, &credentials)
            }
            Storage::Container { image } => {
                credentials = Credentials {
                    access_key: format!("pb-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                    secret_key: uuid::Uuid::new_v4().simple().to_string(),
                };
                let endpoint = super::store_container::start(image, &credentials, &mut container).await?;
                local(endpoint, &credentials)
            }
            Storage::Endpoint { url, bucket, region } => S3Target {
                endpoint: url.clone(),
                region: region.clone(),
                bucket: bucket.clone(),
                credentials: credentials.clone(),
                ca_pem: None,
            },
        };
        let verifier = ready_bucket(scenario, &target, events.is_some()).await?;
        let clamd = super::clamd::start(scenario, work, logs).await?;
        let clamd_address = clamd.as_ref().map(|c| c.url.trim_start_matches("clamd://").to_owned());
        servers.extend(clamd);
        let (cdn_server, cdn) = super::cdn::start_for(scenario, &target, store_tls, (work, logs)).await?.unzip();
        servers.extend(cdn_server);
        let extras = (tls.as_ref(), events.as_ref(), clamd_address.as_deref(), cdn.as_ref());
        let (apps, secret) = match external {
            Some(e) => (None, e.token_secret.clone()),
            None => AppSpec::new(scenario, &target, &credentials, (work, logs), extras),
        };
        let mut stack = Self {
            servers,
            apps,
            broker: external.map(|e| e.broker.clone()).unwrap_or_default(),
            proxy: external.map(|e| e.proxy.clone()).unwrap_or_default(),
            target,
            verifier,
            secret,
            store_version,
            incidents: Vec::new(),
            trust: tls.map(|t| t.trust),
            events,
            cdn,
            container,
        };
        if stack.apps.is_some() {
            stack.start_apps("").await?;
        }
        stack.check_tls().await?;
        Ok(stack)
    }

    /// Opens one connection to each `https` server of the run (store, broker, proxy) with the
    /// run's trust: a certificate it does not trust (another CA's, expired, for another host)
    /// stops the run here, in one line naming the endpoint, before any load.
    ///
    /// # Errors
    /// [`HarnessError::Tls`].
    pub async fn check_tls(&self) -> Result<(), HarnessError> {
        let client = crate::client::http::Http::new(std::time::Duration::from_secs(10)).tls(self.trust.clone());
        for url in [&self.target.endpoint, &self.broker, &self.proxy] {
            let Ok(uri) = url.parse::<http::Uri>() else { continue };
            if uri.scheme_str() == Some("https") {
                client.probe(&uri).await.map_err(|e| HarnessError::Tls(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Starts (or, after stopping the running ones, restarts) the broker and the proxy; `label`
    /// names their log files (`broker<label>.log`). Fresh processes give each sweep point its own
    /// peaks.
    ///
    /// # Errors
    /// [`HarnessError::ServerStart`] when either does not start.
    pub async fn start_apps(&mut self, label: &str) -> Result<(), HarnessError> {
        let Some(a) = self.apps.clone() else {
            tracing::warn!("the broker and the proxy are external: not restarted ({label}); their peaks span the run");
            return Ok(());
        };
        let (apps, keep): (Vec<Server>, Vec<Server>) =
            std::mem::take(&mut self.servers).into_iter().partition(Server::is_app);
        self.servers = keep;
        futures_util::future::join_all(apps.into_iter().map(Server::stop)).await;
        let spec = |command: &'static str, args| Spec {
            name: command.to_owned(),
            command,
            args,
            envs: &a.env,
            log: a.logs.join(format!("{command}{label}.log")),
            expendable: false,
        };
        let broker = Server::start(spec("broker", &a.broker_args)).await?;
        let proxy = Server::start(spec("proxy", &a.proxy_args)).await?;
        self.broker.clone_from(&broker.url);
        self.proxy.clone_from(&proxy.url);
        self.servers.push(broker);
        self.servers.push(proxy);
        Ok(())
    }

    /// CPU and peak RSS of the store's processes, when the harness started the store.
    #[must_use]
    pub fn store_usage(&self) -> Option<crate::metrics::ProcessStats> {
        self.usage(|s| !s.is_app() && s.command != super::clamd::NODE_COMMAND)
    }

    /// CPU and peak RSS of the malware scanner (clamd), when the harness started one.
    #[must_use]
    pub fn scanner_usage(&self) -> Option<crate::metrics::ProcessStats> {
        self.usage(|s| s.command == super::clamd::NODE_COMMAND)
    }

    /// CPU and peak RSS of the servers `which` picks, summed (`None`: there are none).
    fn usage(&self, which: impl Fn(&Server) -> bool) -> Option<crate::metrics::ProcessStats> {
        let stores: Vec<crate::metrics::ProcessStats> = self
            .servers
            .iter()
            .filter(|s| which(s))
            .filter_map(|s| s.pid().and_then(crate::metrics::tree_stats))
            .collect();
        (!stores.is_empty()).then(|| crate::metrics::ProcessStats {
            cpu_seconds: stores.iter().map(|s| s.cpu_seconds).sum(),
            peak_rss_bytes: stores.iter().map(|s| s.peak_rss_bytes).sum(),
        })
    }

    /// Stops every server (SIGTERM, a bounded drain, then SIGKILL).
    pub async fn stop(self) {
        futures_util::future::join_all(self.servers.into_iter().map(Server::stop)).await;
    }
}

/// The harness's client of `target`, once its bucket exists and (MinIO) takes writes and, with
/// `events`, sends the bucket's `uploads/` events to the webhook target.
async fn ready_bucket(
    scenario: &Scenario,
    target: &S3Target,
    events: bool,
) -> Result<aws_sdk_s3::Client, HarnessError> {
    let verifier = client::build(target, crate::metrics::Meter::new(), client::Timeouts::default())?;
    client::ensure_bucket(&verifier, target).await?;
    if matches!(scenario.storage, Storage::Minio { .. }) {
        client::wait_writable(&verifier, target, std::time::Duration::from_secs(60)).await?;
        if events {
            super::minio::subscribe(&verifier, &target.bucket, crate::app::policy::UPLOAD_PREFIX)
                .await
                .map_err(|message| HarnessError::ServerStart { name: "minio".into(), message })?;
        }
    }
    Ok(verifier)
}

/// `--cors-origin O` for each origin.
fn cors_args(origins: &[String]) -> impl Iterator<Item = String> + '_ {
    origins.iter().flat_map(|o| ["--cors-origin".to_owned(), o.clone()])
}

impl AppSpec {
    /// The broker's and proxy's command lines for `scenario` on `target`, with a fresh token
    /// secret (returned too; the spec is always `Some`).
    fn new(
        scenario: &Scenario,
        target: &S3Target,
        credentials: &Credentials,
        (work, logs): (&Path, &Path),
        (tls, events, clamd, cdn): (Option<&RunTls>, Option<&RunEvents>, Option<&str>, Option<&super::cdn::RunCdn>),
    ) -> (Option<Self>, String) {
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut env = creds_env(credentials);
        env.push(("PRESIGN_BENCH_TOKEN_SECRET", secret.clone()));
        let mut broker_args = app_args(scenario, target, &work.join("broker.sqlite3"), tls);
        if let Some(events) = events {
            // The store sends its events to this address: the broker takes it, not port 0.
            broker_args[1].clone_from(&events.listen);
            env.push(events.broker_env());
        }
        if let Some(cdn) = cdn {
            let (args, key) = cdn.broker_args();
            broker_args.extend(args);
            env.push(key);
        }
        let mut proxy_args = app_args(scenario, target, &work.join("proxy.sqlite3"), tls);
        if let Some(address) = clamd {
            for args in [&mut broker_args, &mut proxy_args] {
                args.extend(["--clamd".to_owned(), address.to_owned()]);
            }
        }
        let spec = Self { env, broker_args, proxy_args, logs: logs.to_owned() };
        (Some(spec), secret)
    }
}

/// Starts the embedded store (`presign-bench storage`) for `scenario`, over HTTPS with `tls`,
/// sending store events with `events` (with the run's TLS material, if any).
async fn start_embedded(
    scenario: &Scenario,
    credentials: &Credentials,
    (work, logs): (&Path, &Path),
    tls: Option<&RunTls>,
    events: Option<(&RunEvents, Option<&RunTls>)>,
) -> Result<Server, HarnessError> {
    let data = work.join("store").display().to_string();
    let mut args = ["--listen", "127.0.0.1:0", "--data-dir", &data].map(String::from).to_vec();
    args.extend(cors_args(&scenario.cors_origins));
    args.extend(tls.iter().flat_map(|t| t.serve_args()));
    let mut envs = creds_env(credentials);
    if let Some((events, run_tls)) = events {
        args.extend(events.store_args(run_tls));
        envs.push(events.store_env());
    }
    Server::start(Spec {
        name: "storage".into(),
        command: "storage",
        args: &args,
        envs: &envs,
        log: logs.join("storage.log"),
        expendable: false,
    })
    .await
}

/// The S3 credentials as the children's environment.
pub(super) fn creds_env(credentials: &Credentials) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", credentials.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", credentials.secret_key.clone()),
    ]
}

/// The broker's and proxy's command line for `scenario` against `target`, with its own database.
fn app_args(scenario: &Scenario, target: &S3Target, db: &Path, tls: Option<&RunTls>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--listen",
        "127.0.0.1:0",
        "--s3-endpoint",
        &target.endpoint,
        "--bucket",
        &target.bucket,
        "--region",
        &target.region,
        "--allowed-types",
        &scenario.content_type,
        "--max-size",
        &scenario.max_size.to_string(),
        "--db",
        &db.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    if let Some(nic) = scenario.app_tier_nic_bytes_per_sec {
        args.extend(["--nic".to_owned(), format!("{nic}B/s")]);
    }
    args.extend(cors_args(&scenario.cors_origins));
    if let Some(tls) = tls {
        if scenario.tls.app_tier {
            args.extend(tls.serve_args());
        }
        if scenario.tls.storage {
            args.extend(["--storage-ca".to_owned(), tls.ca.display().to_string()]);
        }
    }
    // An endpoint's bucket is someone else's: no lifecycle rule added to it, and no sweeper
    // deleting objects that this run's database does not know (they may be the owner's).
    if matches!(scenario.storage, crate::scenario::Storage::Endpoint { .. }) {
        args.extend(["--no-lifecycle-rule", "--sweep-every", "0s"].map(String::from));
    }
    // The proxy cuts bodies where the scenario's clients do; without multipart, never (a
    // scenario's objects then fit one PUT).
    let (threshold, part_size) = match scenario.multipart {
        Some(m) => (m.threshold_bytes, m.part_size_bytes),
        None => (crate::app::MAX_SINGLE_PUT, crate::app::policy::MultipartPolicy::default().part_size),
    };
    args.extend([
        "--multipart-threshold".to_owned(),
        threshold.to_string(),
        "--part-size".to_owned(),
        part_size.to_string(),
    ]);
    // The servers' overload caps sit above anything this scenario sends, so a run measures the
    // architectures, never the shedding (the defaults stay when they are higher).
    let defaults = crate::server::Limits::default();
    let load = match scenario.pacing {
        Pacing::Closed { concurrency } => concurrency,
        Pacing::Open { max_in_flight, .. } => max_in_flight,
    };
    // A presigned multipart upload asks for its parts' URLs `parts_in_flight` at a time.
    let per_upload = scenario.multipart.map_or(1, |m| m.parts_in_flight);
    let peak = (load * per_upload).max(scenario.signing.as_ref().map_or(0, |s| s.concurrency));
    let in_flight = (2 * peak).max(defaults.max_in_flight as u64).min(u64::from(u32::MAX));
    let connections = (4 * peak).max(defaults.max_connections as u64).min(u64::from(u32::MAX));
    args.extend(["--max-in-flight".to_owned(), in_flight.to_string()]);
    args.extend(["--max-connections".to_owned(), connections.to_string()]);
    args
}
