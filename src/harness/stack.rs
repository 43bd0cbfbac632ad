//! The servers of a run: the embedded store (unless the scenario names an endpoint), the broker
//! and the proxy, started as child processes on 127.0.0.1 ephemeral ports; fresh app servers for
//! each sweep point; all of them stopped at the end.

use super::HarnessError;
use super::children::Server;
use crate::scenario::{Scenario, Storage};
use crate::storage::Credentials;
use crate::storage::client::{self, S3Target};
use std::path::{Path, PathBuf};

/// The running servers and how to reach the store.
pub struct Stack {
    /// Every running child, the store first.
    pub servers: Vec<Server>,
    /// How to (re)start the broker and the proxy.
    apps: AppSpec,
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
}

/// How the broker and the proxy are started.
struct AppSpec {
    env: Vec<(&'static str, String)>,
    broker_args: Vec<String>,
    proxy_args: Vec<String>,
    logs: PathBuf,
}

impl Stack {
    /// Starts the store (embedded storage only), creates the bucket, then starts broker and proxy.
    ///
    /// # Errors
    /// [`HarnessError`] when a server does not start or the store is unusable.
    pub async fn start(
        scenario: &Scenario,
        credentials: &Credentials,
        work: &Path,
        logs: &Path,
    ) -> Result<Self, HarnessError> {
        let mut servers = Vec::new();
        let creds_env = vec![
            ("AWS_ACCESS_KEY_ID", credentials.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", credentials.secret_key.clone()),
        ];
        let target = match &scenario.storage {
            Storage::Embedded => {
                let data = work.join("store").display().to_string();
                let args = ["--listen", "127.0.0.1:0", "--data-dir", &data].map(String::from);
                let store = Server::start("storage", &args, &creds_env, logs.join("storage.log")).await?;
                let endpoint = store.url.clone();
                servers.push(store);
                S3Target {
                    endpoint,
                    region: "us-east-1".into(),
                    bucket: "presign-bench".into(),
                    credentials: credentials.clone(),
                }
            }
            Storage::Endpoint { url, bucket, region } => S3Target {
                endpoint: url.clone(),
                region: region.clone(),
                bucket: bucket.clone(),
                credentials: credentials.clone(),
            },
        };
        let verifier = client::build(&target, crate::metrics::Meter::new())?;
        client::ensure_bucket(&verifier, &target).await?;
        let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut env = creds_env;
        env.push(("PRESIGN_BENCH_TOKEN_SECRET", secret.clone()));
        let apps = AppSpec {
            env,
            broker_args: app_args(scenario, &target, &work.join("broker.sqlite3")),
            proxy_args: app_args(scenario, &target, &work.join("proxy.sqlite3")),
            logs: logs.to_owned(),
        };
        let mut stack = Self { servers, apps, broker: String::new(), proxy: String::new(), target, verifier, secret };
        stack.start_apps("").await?;
        Ok(stack)
    }

    /// Starts (or, after stopping the running ones, restarts) the broker and the proxy; `label`
    /// names their log files (`broker<label>.log`). Fresh processes give each sweep point its own
    /// peaks.
    ///
    /// # Errors
    /// [`HarnessError::ServerStart`] when either does not start.
    pub async fn start_apps(&mut self, label: &str) -> Result<(), HarnessError> {
        let (apps, keep): (Vec<Server>, Vec<Server>) =
            std::mem::take(&mut self.servers).into_iter().partition(|s| s.name != "storage");
        self.servers = keep;
        futures_util::future::join_all(apps.into_iter().map(Server::stop)).await;
        let a = &self.apps;
        let broker = Server::start("broker", &a.broker_args, &a.env, a.logs.join(format!("broker{label}.log"))).await?;
        let proxy = Server::start("proxy", &a.proxy_args, &a.env, a.logs.join(format!("proxy{label}.log"))).await?;
        self.broker.clone_from(&broker.url);
        self.proxy.clone_from(&proxy.url);
        self.servers.push(broker);
        self.servers.push(proxy);
        Ok(())
    }

    /// Stops every server (SIGTERM, a bounded drain, then SIGKILL).
    pub async fn stop(self) {
        futures_util::future::join_all(self.servers.into_iter().map(Server::stop)).await;
    }
}

/// The broker's and proxy's command line for `scenario` against `target`, with its own database.
fn app_args(scenario: &Scenario, target: &S3Target, db: &Path) -> Vec<String> {
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
    args
}
