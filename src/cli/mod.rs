//! The command line: clap structs (one subcommand per server plus the tools around them) and
//! [`dispatch`], which turns flags into each module's options and calls it. Command bodies live
//! with their modules.

mod run;
mod servers;
mod stores;
mod tools;

pub use servers::{CredentialArgs, ServerArgs, TokenArgs};
pub use stores::{CdnNodeArgs, ClamdNodeArgs, MinioNodeArgs, StorageArgs};

use crate::storage::{Credentials, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
use crate::units::{parse_duration, parse_size};
use clap::{Args, Parser, Subcommand};
use servers::token_secret;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Proves, with real servers and real bytes, why large files should not be proxied through
/// application servers.
#[derive(Debug, Parser)]
#[command(name = "presign-bench", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded S3-compatible store (s3s-fs, SigV4 enforced).
    Storage(StorageArgs),
    /// Run one MinIO server process for `run` and stop it when standard input closes.
    #[command(hide = true)]
    MinioNode(MinioNodeArgs),
    /// Run ClamAV's clamd for `run` and stop it when standard input closes.
    #[command(hide = true)]
    ClamdNode(ClamdNodeArgs),
    /// Run nginx as the run's CDN in front of the store and stop it when standard input closes.
    #[command(hide = true)]
    CdnNode(CdnNodeArgs),
    /// Run the reference presign broker (default listen 127.0.0.1:8080).
    Broker(ServerArgs),
    /// Run the streaming upload proxy (default listen 127.0.0.1:8081).
    Proxy(ServerArgs),
    /// Print a bearer token for a user (for curl demos and the harness).
    Token(TokenArgs),
    /// Run a scenario through both architectures and write a report (the main job).
    Run(run::RunArgs),
    /// Merge the shard files of a sharded run (run --shard I/N) into one results.json and report.
    Merge(tools::MergeArgs),
    /// Re-render the plots, summary.md and report.html from a results.json.
    Report(ReportArgs),
    /// Measure presigned URLs per second: this broker's presigner, aws-sigv4, aws-sdk-s3.
    SignBench(SignBenchArgs),
    /// Measure the harness's own HTTP client against wrk and oha (when installed) on the same
    /// targets: a broker's /healthz and 1 MiB PUTs to the store.
    Calibrate(tools::CalibrateArgs),
    /// How many app servers each architecture needs, from a run's measured costs.
    Plan(PlanArgs),
    /// Compare a run with a baseline: a verdict per metric; exit 1 on a regression.
    Compare(CompareArgs),
    /// Attack the presigned flow of a real stack and report, rule by rule, what held.
    Audit(AuditArgs),
    /// Start store, broker and proxy and serve a page that uploads a file both ways, showing the
    /// bytes each app server carries; prints the URL to open.
    Demo(servers::DemoArgs),
    /// Print the JSON Schema of results.json (the committed copy is schema/results.schema.json).
    Schema,
}

/// Flags of `compare`. Exit codes: 0 no regression, 1 a regression, 2 bad usage or an unreadable
/// results file, 3 an output that cannot be written.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline results.json.
    pub baseline: PathBuf,
    /// The results.json under test.
    pub current: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::gate::Format::Table)]
    pub format: crate::gate::Format,
    /// Also write JUnit XML (one test case per compared metric) to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Confidence level of the latency intervals.
    #[arg(long, default_value_t = 0.95, value_parser = fraction)]
    pub confidence: f64,
    /// Smallest relative latency change that counts: the confidence interval must lie above it.
    #[arg(long, default_value = "50%", value_parser = percent)]
    pub min_effect: f64,
    /// Relative change of bytes per upload that counts.
    #[arg(long, default_value = "5%", value_parser = percent)]
    pub bytes_tolerance: f64,
    /// Relative change of a same-run ratio (bytes ratios, presign/healthz) that counts.
    #[arg(long, default_value = "30%", value_parser = percent)]
    pub ratio_tolerance: f64,
    /// Relative change of throughput that counts.
    #[arg(long, default_value = "30%", value_parser = percent)]
    pub throughput_tolerance: f64,
    /// Bootstrap resamples per latency row.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(100..=100_000))]
    pub resamples: u32,
    /// Judge latency and throughput of runs from different machines (CPU model or core count).
    #[arg(long)]
    pub across_machines: bool,
}

/// Flags of `audit`. Exit codes: 0 no rule of high severity broken, 1 one is, 2 bad usage,
/// 3 the stack did not start.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The store: `embedded`, `minio`, or `endpoint URL` (credentials from AWS_* variables).
    #[arg(long, num_args = 1..=2, default_values_t = ["embedded".to_owned()], value_names = ["KIND", "URL"])]
    pub storage: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::gate::Format::Table)]
    pub format: crate::gate::Format,
    /// Also write JUnit XML (one test case per attack) to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Also write audit.json, audit.md and the servers' logs into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With an endpoint: the bucket to audit in, which may exist already (then no right to
    /// create buckets is needed); it is left as it was [default: presign-bench].
    #[arg(long)]
    pub bucket: Option<String>,
    /// With an endpoint: the region to sign for, as the store expects it (e.g. garage).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

impl AuditArgs {
    fn options(&self) -> anyhow::Result<crate::audit::Options> {
        use crate::audit::Storage;
        let storage = match self.storage.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["embedded"] => Storage::Embedded,
            ["minio"] => Storage::Minio,
            ["endpoint", url] => Storage::Endpoint(url.to_owned()),
            [url] if url.starts_with("http://") || url.starts_with("https://") => Storage::Endpoint(url.to_owned()),
            _ => {
                return Err(crate::exit::Usage(format!(
                    "--storage {}: expected embedded, minio, or endpoint URL",
                    self.storage.join(" ")
                ))
                .into());
            }
        };
        let env_or = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        if !matches!(storage, Storage::Endpoint(_)) && self.bucket.is_some() {
            return Err(crate::exit::Usage("--bucket goes with --storage endpoint URL".into()).into());
        }
        Ok(crate::audit::Options {
            storage,
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            format: self.format,
            junit: self.junit.clone(),
            out: self.out.clone(),
            credentials: Credentials {
                access_key: env_or("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY),
                secret_key: env_or("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_KEY),
            },
        })
    }
}

fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1.0 => Ok(v),
        _ => Err(format!("{s:?}: expected a number between 0 and 1, e.g. 0.95")),
    }
}

fn percent(s: &str) -> Result<f64, String> {
    let v = s.strip_suffix('%').map_or_else(|| s.parse::<f64>(), |p| p.trim().parse::<f64>().map(|p| p / 100.0));
    match v {
        Ok(v) if (0.0..10.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected a percentage, e.g. 25%")),
    }
}

/// Flags of `plan`. Each replaces a documented default (50,000 uploads of 10 MB, all in flight,
/// in 60 s, on servers with 10 Gbit/s, 8 cores, 16 GiB and 65,000 connections).
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A results.json whose measured per-upload costs feed the model [default: documented costs].
    pub results: Option<PathBuf>,
    /// Uploads in the window.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub uploads: Option<u64>,
    /// Uploads in flight at once.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrent: Option<u64>,
    /// Object size, e.g. 10MB.
    #[arg(long, value_parser = parse_size)]
    pub object_size: Option<u64>,
    /// The window the uploads arrive in, e.g. 60s.
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<Duration>,
    /// NIC bandwidth per direction, e.g. 10Gbit/s.
    #[arg(long, value_parser = crate::units::parse_bandwidth)]
    pub nic: Option<f64>,
    /// Cores per server.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub cores: Option<u32>,
    /// Memory per server, e.g. 16GiB.
    #[arg(long, value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Open connections per server.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Table)]
    pub format: crate::report::Format,
    /// Also write capacity.json and the `capacity` plot (SVG and PNG) into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Flags of `sign-bench`.
#[derive(Debug, Args)]
pub struct SignBenchArgs {
    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Vec<u16>,
    /// How long each measurement runs.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Measurements per implementation and thread count (min/median/max are reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub repeats: u16,
    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Table)]
    pub format: crate::report::Format,
    /// Also write sign-bench.json and the `signing` plot (SVG and PNG) into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Flags of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results.json written by `run`.
    pub results: PathBuf,
    /// Where to write the plots, summary.md and report.html [default: beside the results file].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// S3 credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else the local defaults.
pub(super) fn env_credentials() -> Credentials {
    let env_or = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    Credentials {
        access_key: env_or("AWS_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY),
        secret_key: env_or("AWS_SECRET_ACCESS_KEY", DEFAULT_SECRET_KEY),
    }
}

/// Runs a parsed command line; `stop` is cancelled on SIGINT or SIGTERM (by the entry point).
///
/// # Errors
/// Whatever stops the command, with context naming the flag, address or endpoint.
pub async fn dispatch(cli: Cli, stop: CancellationToken) -> anyhow::Result<()> {
    use crate::server::shutdown;
    match cli.command {
        Command::Storage(args) => {
            let credentials = args.credentials.credentials();
            let data_dir = args.data_dir.as_deref();
            let serving = crate::storage::embedded::Serving {
                sweep: crate::storage::embedded::TempSweep { every: args.sweep_every, grace: args.orphan_grace },
                cors_origins: args.cors_origins.clone(),
                send_timeout: Some(args.send_timeout),
                tls: args.tls.server()?,
                notify: args.notify()?,
            };
            let shutdown = shutdown(stop, args.watch_stdin);
            Box::pin(crate::storage::embedded::run(args.listen, data_dir, &credentials, &serving, shutdown)).await?;
        }
        Command::MinioNode(args) => {
            let node = crate::harness::minio::Node {
                bin: args.minio_bin,
                address: args.address,
                console: args.console_address,
                endpoints: args.endpoints,
                certs_dir: args.certs_dir,
            };
            crate::harness::minio::run_node(&node, shutdown(stop, args.watch_stdin)).await?;
        }
        Command::ClamdNode(args) => {
            crate::harness::clamd::run_node(&args.dir, shutdown(stop, args.watch_stdin)).await?;
        }
        Command::CdnNode(args) => {
            let secrets = crate::harness::cdn::Secrets::from_env()?;
            crate::harness::cdn::run_node(&args.cache(), &secrets, &args.dir, shutdown(stop, args.watch_stdin)).await?;
        }
        Command::Broker(args) => {
            let listen = args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
            Box::pin(crate::broker::run(listen, args.config()?, args.events()?, shutdown(stop, args.watch_stdin)))
                .await?;
        }
        Command::Proxy(args) => {
            let listen = args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8081)));
            Box::pin(crate::proxy::run(listen, args.config()?, shutdown(stop, args.watch_stdin))).await?;
        }
        Command::Token(args) => {
            let tokens = crate::app::auth::Tokens::new(token_secret(args.token_secret.as_deref()).as_bytes());
            println!("{}", tokens.mint(&args.user, args.ttl).map_err(|e| anyhow::anyhow!("--user: {e}"))?);
        }
        Command::Run(args) => Box::pin(crate::run::command(&args.options()?, stop)).await?,
        Command::Merge(args) => Box::pin(crate::merge::command(&args.options(), stop)).await?,
        Command::Report(args) => {
            for file in crate::report::rerender(&args.results, args.out.as_deref())? {
                println!("{}", file.display());
            }
        }
        Command::SignBench(args) => crate::signbench::command(&args.options()?)?,
        Command::Calibrate(args) => Box::pin(crate::calibrate::command(&args.options()?)).await?,
        Command::Plan(args) => crate::plan::command(&args.options()?)?,
        Command::Compare(args) => crate::compare::command(&args.options())?,
        Command::Audit(args) => Box::pin(crate::audit::command(&args.options()?)).await?,
        Command::Demo(args) => Box::pin(crate::demo::command(&args.options(), stop)).await?,
        Command::Schema => print!("{}", crate::results::schema::generate()),
    }
    Ok(())
}

impl CompareArgs {
    fn options(&self) -> crate::compare::Options {
        crate::compare::Options {
            baseline: self.baseline.clone(),
            current: self.current.clone(),
            format: self.format,
            junit: self.junit.clone(),
            settings: crate::gate::compare::Settings {
                confidence: self.confidence,
                min_effect: self.min_effect,
                bytes_tolerance: self.bytes_tolerance,
                ratio_tolerance: self.ratio_tolerance,
                throughput_tolerance: self.throughput_tolerance,
                resamples: self.resamples as usize,
                across_machines: self.across_machines,
            },
        }
    }
}

impl SignBenchArgs {
    fn options(&self) -> anyhow::Result<crate::signbench::CommandOptions> {
        if self.duration.is_zero() {
            anyhow::bail!("--duration: must be above zero");
        }
        Ok(crate::signbench::CommandOptions {
            measure: crate::signbench::Options {
                threads: self.threads.iter().map(|&t| usize::from(t)).collect(),
                duration: self.duration,
                repeats: usize::from(self.repeats),
            },
            format: self.format,
            out: self.out.clone(),
        })
    }
}

impl PlanArgs {
    #[allow(clippy::cast_precision_loss)] // flag values far below 2^53
    fn options(&self) -> anyhow::Result<crate::plan::Options> {
        let positive = |flag: &str, v: Option<u64>| match v {
            Some(0) => anyhow::bail!("{flag}: must be above zero"),
            v => Ok(v.map(|v| v as f64)),
        };
        let window_secs = match self.window {
            Some(w) if w.is_zero() => anyhow::bail!("--window: must be above zero"),
            w => w.map(|w| w.as_secs_f64()),
        };
        let flags = crate::capacity::PlanFlags {
            uploads: self.uploads.map(|v| v as f64),
            concurrent: self.concurrent.map(|v| v as f64),
            object_size: positive("--object-size", self.object_size)?,
            window_secs,
            nic_bytes_per_sec: self.nic,
            cores: self.cores.map(f64::from),
            memory_bytes: positive("--memory", self.memory)?,
            max_connections: self.max_connections.map(|v| v as f64),
        };
        Ok(crate::plan::Options { results: self.results.clone(), flags, format: self.format, out: self.out.clone() })
    }
}
