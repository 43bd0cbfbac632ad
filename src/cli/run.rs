//! Flags of `run`: the scenario's overrides, outputs, and the distributed-run flags (external
//! servers, shards), with the options they turn into.

use super::env_credentials;
use crate::exit::Usage;
use clap::Args;
use std::path::PathBuf;

/// Flags of `run`. Each override replaces the scenario file's value.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file.
    #[arg(default_value = crate::scenario::DEFAULT_PATH)]
    pub scenario: PathBuf,
    /// Report directory [default: reports/<name>-<UTC timestamp>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Uploads per mode (replaces run.uploads / run.scale).
    #[arg(long)]
    pub uploads: Option<u64>,
    /// Uploads in flight (closed model), or the cap on them (open model).
    #[arg(long)]
    pub concurrency: Option<u64>,
    /// Open model: arrival rate, e.g. 100/s or 600/min.
    #[arg(long)]
    pub rate: Option<String>,
    /// Object size, e.g. 10MiB.
    #[arg(long)]
    pub object_size: Option<String>,
    /// Modes to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub modes: Option<Vec<crate::scenario::Mode>>,
    /// Use this S3 endpoint instead of the embedded store (credentials from AWS_* variables).
    #[arg(long)]
    pub storage_endpoint: Option<String>,
    /// Start this store instead of the scenario's (minio: one node unless the scenario says more).
    #[arg(long, value_enum, conflicts_with = "storage_endpoint")]
    pub storage: Option<crate::scenario::StorageKind>,
    /// Seed of payloads and size draws.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bars (they are also hidden when stdout is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// How the final summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Table)]
    pub format: crate::report::Format,
    /// Also write the scenario's thresholds as JUnit XML (one test case each) to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Watch the run in a browser: serve a live view on ADDR (the URL is printed at start), then
    /// the finished report.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0")]
    pub live: Option<std::net::SocketAddr>,
    /// Bucket on --storage-endpoint [default: the scenario's, else presign-bench].
    #[arg(long, requires = "storage_endpoint", help_heading = "Distributed runs")]
    pub bucket: Option<String>,
    /// Drive this running broker instead of starting one (with --proxy-url, --storage-endpoint
    /// and the servers' token secret).
    #[arg(long, requires_all = ["proxy_url", "token_secret"], help_heading = "Distributed runs")]
    pub broker_url: Option<String>,
    /// Drive this running proxy instead of starting one.
    #[arg(long, requires = "broker_url", help_heading = "Distributed runs")]
    pub proxy_url: Option<String>,
    /// The running servers' token secret (to mint the simulated users' tokens).
    #[arg(long, env = "PRESIGN_BENCH_TOKEN_SECRET", hide_env_values = true, help_heading = "Distributed runs")]
    pub token_secret: Option<String>,
    /// Run shard I of N (0-based): its share of the uploads and of the load; writes a shard file for
    /// `merge`.
    #[arg(long, value_name = "I/N", value_parser = crate::shard::Shard::parse, conflicts_with = "shards", help_heading = "Distributed runs")]
    pub shard: Option<crate::shard::Shard>,
    /// Run one of N shards, the index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Distributed runs")]
    pub shards: Option<u64>,
    /// The run's id, the same on every shard (required with --shard or --shards).
    #[arg(long, env = "PRESIGN_BENCH_RUN_ID", help_heading = "Distributed runs")]
    pub run_id: Option<String>,
    /// Where the shard file goes: a directory, or s3://BUCKET/PREFIX on --storage-endpoint
    /// (under PREFIX/RUN_ID/) [default: the report directory].
    #[arg(long, alias = "part-out", value_name = "DIR|s3://BUCKET/PREFIX", help_heading = "Distributed runs")]
    pub shard_out: Option<String>,
}

impl RunArgs {
    pub(super) fn options(&self) -> anyhow::Result<crate::run::Options> {
        let external = match (&self.broker_url, &self.proxy_url, &self.token_secret) {
            (Some(broker), Some(proxy), Some(secret)) => Some(crate::harness::stack::External {
                broker: broker.trim_end_matches('/').to_owned(),
                proxy: proxy.trim_end_matches('/').to_owned(),
                token_secret: secret.clone(),
            }),
            _ => None,
        };
        let shard = match (self.shard, self.shards) {
            (Some(shard), _) => Some(shard),
            (None, Some(count)) => {
                let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
                    Usage(
                        "--shards: JOB_COMPLETION_INDEX is not set (use --shard I/N outside a Kubernetes Indexed Job)"
                            .into(),
                    )
                })?;
                Some(
                    crate::shard::Shard::parse(&format!("{index}/{count}"))
                        .map_err(|e| Usage(format!("--shards {count} with JOB_COMPLETION_INDEX={index}: {e}")))?,
                )
            }
            (None, None) => None,
        };
        let shard = match shard {
            Some(shard) => {
                let run_id = self.run_id.clone().filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                    Usage("--run-id (or PRESIGN_BENCH_RUN_ID) is required with --shard/--shards: it ties the shard files of one run together".into())
                })?;
                if !run_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                    return Err(Usage(format!(
                        "--run-id {run_id:?}: use A-Z a-z 0-9 - _ . only (it becomes a key prefix)"
                    ))
                    .into());
                }
                Some(crate::run::Sharding { shard, run_id, shard_out: self.shard_out.clone() })
            }
            None if self.shard_out.is_some() => {
                return Err(Usage("--shard-out: only with --shard or --shards".into()).into());
            }
            None => None,
        };
        Ok(crate::run::Options {
            scenario: self.scenario.clone(),
            overrides: crate::scenario::Overrides {
                uploads: self.uploads,
                concurrency: self.concurrency,
                rate: self.rate.clone(),
                object_size: self.object_size.clone(),
                modes: self.modes.clone(),
                storage_endpoint: self.storage_endpoint.clone(),
                bucket: self.bucket.clone(),
                storage: self.storage,
                seed: self.seed,
            },
            out: self.out.clone(),
            progress: !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stdout()),
            format: self.format,
            junit: self.junit.clone(),
            credentials: env_credentials(),
            external,
            shard,
            live: self.live,
        })
    }
}
