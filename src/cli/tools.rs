//! Flags of the tool commands: `merge` (a sharded run's shard files into one report) and `calibrate`
//! (the load generator's own ceiling), with what each turns into.

use super::env_credentials;
use crate::exit::Usage;
use crate::units::parse_duration;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `merge`. Exit codes as `run`'s; 2 for shard files that do not belong together.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard files, directories of shard-*.json, or s3://BUCKET/PREFIX (with --storage-endpoint).
    #[arg(required = true, value_name = "PARTS")]
    pub files: Vec<String>,
    /// Report directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Merge what is there when shards are missing, and mark the run incomplete.
    #[arg(long)]
    pub allow_partial: bool,
    /// The S3 endpoint of s3:// shard files (credentials from AWS_* variables).
    #[arg(long)]
    pub storage_endpoint: Option<String>,
    /// Its region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// How the final summary is printed on stdout.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Table)]
    pub format: crate::report::Format,
    /// Also write the scenario's thresholds as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Serve the merged report in the live view on ADDR (the URL is printed) until Ctrl-C.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0")]
    pub live: Option<std::net::SocketAddr>,
}

impl MergeArgs {
    pub(super) fn options(&self) -> crate::merge::Options {
        crate::merge::Options {
            files: self.files.clone(),
            out: self.out.clone(),
            allow_partial: self.allow_partial,
            storage_endpoint: self.storage_endpoint.clone(),
            region: self.region.clone(),
            credentials: env_credentials(),
            format: self.format,
            junit: self.junit.clone(),
            live: self.live,
        }
    }
}

/// Flags of `calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Length of each measurement, in whole seconds (wrk's unit).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Rounds: each runs every client once on each target, alternating.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub rounds: u16,
    /// Requests in flight.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub concurrency: u64,
    /// How the report is printed.
    #[arg(long, value_enum, default_value_t = crate::report::Format::Table)]
    pub format: crate::report::Format,
}

impl CalibrateArgs {
    pub(super) fn options(&self) -> anyhow::Result<crate::calibrate::Options> {
        if self.duration.as_secs() == 0 || self.duration.subsec_nanos() != 0 {
            return Err(Usage("--duration: whole seconds, at least 1s (wrk's unit)".into()).into());
        }
        Ok(crate::calibrate::Options {
            duration: self.duration,
            rounds: usize::from(self.rounds),
            concurrency: self.concurrency,
            format: self.format,
        })
    }
}
