//! The command line: one binary, one subcommand per server plus the tools around them.

use crate::app::{AppConfig, DEV_TOKEN_SECRET, policy::Policy};
use crate::storage::client::S3Target;
use crate::storage::{Credentials, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
use crate::units::{parse_duration, parse_size};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    /// Run the reference presign broker (default listen 127.0.0.1:8080).
    Broker(ServerArgs),
    /// Run the streaming upload proxy (default listen 127.0.0.1:8081).
    Proxy(ServerArgs),
    /// Print a bearer token for a user (for curl demos and the harness).
    Token(TokenArgs),
    /// Run a scenario through both architectures and write a report (the main job).
    Run(RunArgs),
    /// Re-render the plots, summary.md and report.html from a results.json.
    Report(ReportArgs),
    /// Measure presigned URLs per second: this broker's presigner, aws-sigv4, aws-sdk-s3.
    SignBench(SignBenchArgs),
    /// How many app servers each architecture needs, from a run's measured costs.
    Plan(PlanArgs),
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
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write sign-bench.json and the `signing` plot (SVG and PNG) into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

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
    /// Seed of payloads and size draws.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bars (they are also hidden when stdout is not a terminal).
    #[arg(long, short)]
    pub quiet: bool,
    /// How the final summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Output format of summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// One JSON object.
    Json,
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

impl RunArgs {
    fn overrides(&self) -> crate::scenario::Overrides {
        crate::scenario::Overrides {
            uploads: self.uploads,
            concurrency: self.concurrency,
            rate: self.rate.clone(),
            object_size: self.object_size.clone(),
            modes: self.modes.clone(),
            storage_endpoint: self.storage_endpoint.clone(),
            seed: self.seed,
        }
    }
}

/// S3 credentials: flags, else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else local defaults
/// (`presign-bench` / `presign-bench-secret`).
#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// S3 access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY)]
    pub access_key: String,
    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = DEFAULT_SECRET_KEY, hide_env_values = true, hide_default_value = true)]
    pub secret_key: String,
}

impl CredentialArgs {
    fn credentials(&self) -> Credentials {
        Credentials { access_key: self.access_key.clone(), secret_key: self.secret_key.clone() }
    }
}

/// Flags of `storage`.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Where objects are kept [default: a temporary directory removed on exit].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Exit when standard input closes (set by `run` for its child servers).
    #[arg(long, hide = true)]
    pub watch_stdin: bool,
}

/// Flags shared by `broker` and `proxy`, so the two differ only in where the bytes flow.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8080 broker, 127.0.0.1:8081 proxy].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// S3 endpoint URL.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub s3_endpoint: String,
    /// Bucket for uploads (created at start if missing).
    #[arg(long, default_value = "uploads")]
    pub bucket: String,
    /// Region used in signatures.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// HMAC secret of bearer tokens [default: a fixed development secret, with a warning].
    #[arg(long, env = "PRESIGN_BENCH_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// SQLite file for file metadata [default: a file in a temporary directory].
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Content types that may be uploaded, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "image/jpeg,image/png,image/webp,application/pdf,video/mp4")]
    pub allowed_types: Vec<String>,
    /// Largest upload.
    #[arg(long, default_value = "100MiB", value_parser = parse_size)]
    pub max_size: u64,
    /// Lifetime of presigned PUT URLs (at most 15m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub put_expiry: Duration,
    /// Lifetime of presigned GET URLs (at most 1h).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub get_expiry: Duration,
    /// Emulate this server's NIC: all its sockets together move at most RATE per direction,
    /// e.g. 1Gbit/s (client and storage traffic share it, as on a real server).
    #[arg(long, value_parser = crate::units::parse_bandwidth)]
    pub nic: Option<f64>,
    /// Exit when standard input closes (set by `run` for its child servers).
    #[arg(long, hide = true)]
    pub watch_stdin: bool,
}

impl ServerArgs {
    /// The app configuration these flags describe (validated when the app starts).
    #[must_use]
    pub fn config(&self) -> AppConfig {
        AppConfig {
            s3: S3Target {
                endpoint: self.s3_endpoint.trim_end_matches('/').to_owned(),
                region: self.region.clone(),
                bucket: self.bucket.clone(),
                credentials: self.credentials.credentials(),
            },
            token_secret: token_secret(self.token_secret.as_deref()),
            db_path: self.db.clone(),
            policy: Policy {
                allowed_types: self.allowed_types.iter().map(|t| crate::app::policy::normalise_type(t)).collect(),
                max_size: self.max_size,
            },
            put_expiry: self.put_expiry,
            get_expiry: self.get_expiry,
            nic: self.nic,
        }
    }
}

/// Flags of `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// User id (1-64 of A-Z a-z 0-9 _ -).
    #[arg(long)]
    pub user: String,
    /// How long the token is valid.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// HMAC secret, the broker's `--token-secret` [default: the development secret].
    #[arg(long, env = "PRESIGN_BENCH_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
}

fn token_secret(given: Option<&str>) -> String {
    given.map_or_else(
        || {
            tracing::warn!("no --token-secret or PRESIGN_BENCH_TOKEN_SECRET: using the development secret");
            DEV_TOKEN_SECRET.to_owned()
        },
        str::to_owned,
    )
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever stops the command, with context naming the flag, address or endpoint.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    use crate::server::{announce, bind, shutdown};
    match cli.command {
        Command::Storage(args) => {
            let listener = bind(args.listen).await?;
            let tmp;
            let dir = if let Some(dir) = &args.data_dir {
                std::fs::create_dir_all(dir).with_context(|| format!("--data-dir {}", dir.display()))?;
                dir.clone()
            } else {
                tmp = tempfile::Builder::new().prefix("presign-bench-store").tempdir()?;
                tmp.path().to_owned()
            };
            announce(&listener)?;
            let stop = shutdown(args.watch_stdin);
            crate::storage::embedded::serve(listener, &dir, &args.credentials.credentials(), stop).await?;
        }
        Command::Broker(args) => {
            let listener = bind(args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)))).await?;
            let broker = Arc::new(crate::broker::Broker::start(args.config()).await?);
            announce(&listener)?;
            crate::broker::serve(listener, broker, shutdown(args.watch_stdin)).await;
        }
        Command::Proxy(args) => {
            let listener = bind(args.listen.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8081)))).await?;
            let proxy = Arc::new(crate::proxy::Proxy::start(args.config()).await?);
            announce(&listener)?;
            crate::proxy::serve(listener, proxy, shutdown(args.watch_stdin)).await;
        }
        Command::Token(args) => {
            let tokens = crate::app::auth::Tokens::new(token_secret(args.token_secret.as_deref()).as_bytes());
            let token = tokens.mint(&args.user, args.ttl).map_err(|e| anyhow::anyhow!("--user: {e}"))?;
            println!("{token}");
        }
        Command::Run(args) => return run_scenario(&args).await,
        Command::Report(args) => return rerender(&args),
        Command::SignBench(args) => return sign_bench(&args),
        Command::Plan(args) => return plan(&args),
    }
    Ok(())
}

fn sign_bench(args: &SignBenchArgs) -> anyhow::Result<()> {
    use crate::signbench;
    if args.duration.is_zero() {
        anyhow::bail!("--duration: must be above zero");
    }
    let options = signbench::Options {
        threads: args.threads.iter().map(|&t| usize::from(t)).collect(),
        duration: args.duration,
        repeats: usize::from(args.repeats),
    };
    let report = signbench::run(&options, |line| eprintln!("{line}"));
    emit(
        args.format,
        &signbench::table(&report),
        &report,
        args.out.as_deref(),
        "sign-bench.json",
        &signbench::plot(&report),
    )
}

#[allow(clippy::cast_precision_loss)] // flag values far below 2^53
fn plan(args: &PlanArgs) -> anyhow::Result<()> {
    let positive = |flag: &str, v: Option<u64>| match v {
        Some(0) => anyhow::bail!("{flag}: must be above zero"),
        v => Ok(v.map(|v| v as f64)),
    };
    let window = match args.window {
        Some(w) if w.is_zero() => anyhow::bail!("--window: must be above zero"),
        w => w.map(|w| w.as_secs_f64()),
    };
    let flags = [
        args.uploads.map(|v| v as f64),
        args.concurrent.map(|v| v as f64),
        positive("--object-size", args.object_size)?,
        window,
        args.nic,
        args.cores.map(f64::from),
        positive("--memory", args.memory)?,
        args.max_connections.map(|v| v as f64),
    ];
    let results = args.results.as_deref().map(crate::report::load).transpose()?;
    // With a results file, the workload defaults to the target that run planned for.
    let setting = results.as_ref().map_or_else(
        || crate::plan::Setting::from_flags(flags),
        |r| crate::plan::Setting::for_results(r).with_flags(flags),
    );
    let report = crate::plan::build(&setting, results.as_ref());
    let table = crate::plan::table(&report);
    emit(args.format, &table, &report, args.out.as_deref(), "capacity.json", &crate::plan::plot(&report))
}

/// Prints `table` or `data` as JSON, and with `out` also writes `data` as `json_name` and `plot`.
fn emit(
    format: Format,
    table: &str,
    data: &impl serde::Serialize,
    out: Option<&std::path::Path>,
    json_name: &str,
    plot: &impl crate::report::plots::Plot,
) -> anyhow::Result<()> {
    match format {
        Format::Table => print!("{table}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(data)?),
    }
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        let json = dir.join(json_name);
        std::fs::write(&json, serde_json::to_string_pretty(data)? + "\n")
            .with_context(|| json.display().to_string())?;
        crate::report::plots::write(plot, dir)?;
    }
    Ok(())
}

fn rerender(args: &ReportArgs) -> anyhow::Result<()> {
    let results = crate::report::load(&args.results)?;
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => args.results.parent().map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf),
    };
    let mut files = crate::report::render(&results, &dir)?;
    let copy = dir.join("results.json");
    if !copy.exists() {
        crate::report::write_json(&results, &dir).with_context(|| copy.display().to_string())?;
        files.push(copy);
    }
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}

async fn run_scenario(args: &RunArgs) -> anyhow::Result<()> {
    let scenario = crate::scenario::Scenario::load(&args.scenario, &args.overrides())?;
    let progress = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let options = crate::harness::Options { out: args.out.clone(), progress };
    let outcome = crate::harness::run(scenario, options).await?;
    let results = &outcome.results;
    let json = outcome.dir.join("results.json");
    let rendered = crate::report::render(results, &outcome.dir);
    match args.format {
        Format::Table => {
            print!("{}", crate::report::summary(results, &outcome.dir));
        }
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&crate::report::json_summary(results, &outcome.dir))?);
        }
    }
    rendered.with_context(|| format!("rendering the report in {}", outcome.dir.display()))?;
    if !results.complete {
        anyhow::bail!(
            "run incomplete: {}; partial report written to {}",
            results.incomplete_reason.as_deref().unwrap_or("interrupted"),
            json.display()
        );
    }
    let damaged: u64 =
        [&results.modes.proxied, &results.modes.presigned].into_iter().flatten().map(|m| m.lost + m.corrupt).sum();
    if damaged > 0 {
        anyhow::bail!("{damaged} uploads were lost or corrupt (see {})", json.display());
    }
    Ok(())
}
