//! The `run` command: load and validate the scenario (thresholds included), drive the harness,
//! render the report, print the summary and the thresholds, write JUnit and GitHub outputs, and
//! fail with the documented exit code (`exit`) when a threshold failed, an object was lost or
//! corrupt, or the run was cut short.

use crate::gate;
use crate::report::{self, Format};
use crate::scenario::{Overrides, Scenario};
use crate::storage::Credentials;
use anyhow::Context;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

/// What `run` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Command-line values that replace the file's.
    pub overrides: Overrides,
    /// Report directory.
    pub out: Option<PathBuf>,
    /// Show progress bars.
    pub progress: bool,
    /// How the final summary is printed.
    pub format: Format,
    /// S3 credentials.
    pub credentials: Credentials,
    /// Also write the thresholds as JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Drive a running broker and proxy instead of starting them.
    pub external: Option<crate::harness::stack::External>,
    /// Run one shard of a larger run.
    pub shard: Option<Sharding>,
    /// Serve the live view of the run on this address (`--live`).
    pub live: Option<std::net::SocketAddr>,
}

/// `--shard I/N` (or `--shards N` with `JOB_COMPLETION_INDEX`), `--run-id`, `--shard-out`.
#[derive(Clone, Debug)]
pub struct Sharding {
    /// Which share.
    pub shard: crate::shard::Shard,
    /// The run's id, the same on every shard.
    pub run_id: String,
    /// Where the shard file goes: a directory, or `s3://BUCKET/PREFIX` on the scenario's endpoint
    /// (`None`: the report directory).
    pub shard_out: Option<String>,
}

/// Runs the `run` command; `stop` cancels the run (a partial report is still written).
///
/// # Errors
/// A bad scenario (naming file, line and key), servers that do not start, a report that cannot be
/// written, an incomplete run, or lost or corrupt objects.
pub async fn command(options: &Options, stop: CancellationToken) -> anyhow::Result<()> {
    let scenario = Scenario::load(&options.scenario, &options.overrides)?;
    crate::gate::thresholds::validate(&scenario)?;
    check_distributed(&scenario, options)?;
    let whole = scenario.clone();
    let (scenario, first_upload) = match &options.shard {
        Some(s) => {
            let (share, first) = s.shard.split(&scenario);
            (share, Some(first))
        }
        None => (scenario, None),
    };
    let live = match options.live {
        Some(addr) => {
            let live = crate::live::Live::start(addr).await?;
            eprintln!("live view: {}", live.url());
            Some(live)
        }
        None => None,
    };
    let harness = crate::harness::Options {
        out: options.out.clone(),
        progress: options.progress,
        cancel: stop,
        credentials: options.credentials.clone(),
        external: options.external.clone(),
        first_upload,
        live: live.as_ref().map(crate::live::Live::feed),
    };
    let outcome = Box::pin(crate::harness::run(scenario, harness)).await?;
    if let Some(sharding) = &options.shard {
        let file = crate::shard::ShardFile::of(sharding.shard, &sharding.run_id, whole, &outcome);
        let written = crate::shard::io::write(
            &file,
            sharding.shard_out.as_deref(),
            &outcome.dir,
            &outcome.results.scenario,
            &options.credentials,
        )
        .await
        .context("writing the shard file")?;
        eprintln!("shard {} of run {}: shard file written to {written}", file.shard, file.run_id);
    }
    let concluded = conclude(&outcome.results, &outcome.dir, options.format, options.junit.as_deref());
    if let Some(live) = live {
        live.finish(&outcome.results, outcome.dir.clone()).await;
    }
    // Removes the run's working directory, once the report is on disk.
    drop(outcome);
    concluded
}

/// Refuses what a sharded or external run cannot do, naming the flag.
fn check_distributed(scenario: &Scenario, options: &Options) -> Result<(), crate::exit::Usage> {
    let usage = |m: String| Err(crate::exit::Usage(m));
    let endpoint = matches!(scenario.storage, crate::scenario::Storage::Endpoint { .. });
    if options.external.is_some() && !endpoint {
        return usage(
            "--broker-url: the servers' store must be given too (--storage-endpoint, or [storage] kind = \"endpoint\")"
                .into(),
        );
    }
    if let Some(s) = &options.shard {
        if !scenario.sweep.is_empty() {
            return usage(format!(
                "--shard: {} sweeps sizes; run each size as its own sharded run",
                scenario.source.display()
            ));
        }
        if s.shard_out.as_deref().is_some_and(|p| p.starts_with("s3://")) && !endpoint {
            return usage("--shard-out s3://…: needs the store the shards share (--storage-endpoint)".into());
        }
        if options.external.is_none() {
            tracing::warn!(
                "shard {} starts its own servers: its shard file merges only with shards that did too",
                s.shard
            );
        }
    }
    Ok(())
}

/// Renders the report of `results` in `dir`, prints the summary and the thresholds, writes JUnit
/// and GitHub outputs, and fails with the documented exit code ([`gate::judge`]): incomplete (3),
/// objects lost or corrupt, or a threshold failed (1). Shared by `run` and `merge`; a shard's
/// results carry no thresholds (the merge judges them).
///
/// # Errors
/// As above, and a report that cannot be written.
pub fn conclude(
    results: &crate::results::Results,
    dir: &std::path::Path,
    format: Format,
    junit: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let json = dir.join("results.json");
    let rendered = report::render(results, dir);
    match (format, &rendered) {
        (Format::Table, Ok((doc, _))) => print!("{}", report::summary(doc, dir)),
        (Format::Table, Err(_)) => {}
        (Format::Json, _) => println!("{}", serde_json::to_string_pretty(&report::json_summary(results, dir))?),
    }
    rendered.with_context(|| format!("rendering the report in {}", dir.display()))?;
    let outcomes = &results.thresholds;
    if !outcomes.is_empty() && format == Format::Table {
        print!("{}", gate::render::thresholds_table(outcomes));
    }
    let cases = gate::junit::threshold_cases(outcomes);
    if let Some(path) = junit {
        gate::junit::write(path, &format!("presign-bench run {}", results.scenario.name), &cases)
            .with_context(|| path.display().to_string())?;
    }
    let mut markdown = format!("### presign-bench run: {}\n\n{}\n", results.scenario.name, report::headline(results));
    if !outcomes.is_empty() {
        markdown.push('\n');
        markdown.push_str(&gate::render::thresholds_markdown(outcomes));
    }
    gate::github::publish(&markdown, &gate::junit::failures(&cases));
    Ok(gate::judge(results, &json)?)
}
