//! The `run` command: load and validate the scenario (thresholds included), drive the harness,
//! render the report, print the summary and the thresholds, write JUnit and GitHub outputs, and
//! fail with the documented exit code (`exit`) when a threshold failed, an object was lost or
//! corrupt, or the run was cut short.

use crate::exit::ChecksFailed;
use crate::report::{self, Format, gate};
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
}

/// `--shard I/N` (or `--shards N` with `JOB_COMPLETION_INDEX`), `--run-id`, `--part-out`.
#[derive(Clone, Debug)]
pub struct Sharding {
    /// Which share.
    pub shard: crate::harness::part::Shard,
    /// The run's id, the same on every shard.
    pub run_id: String,
    /// Where the part goes: a directory, or `s3://BUCKET/PREFIX` on the scenario's endpoint
    /// (`None`: the report directory).
    pub part_out: Option<String>,
}

/// Runs the `run` command; `stop` cancels the run (a partial report is still written).
///
/// # Errors
/// A bad scenario (naming file, line and key), servers that do not start, a report that cannot be
/// written, an incomplete run, or lost or corrupt objects.
pub async fn command(options: &Options, stop: CancellationToken) -> anyhow::Result<()> {
    let scenario = Scenario::load(&options.scenario, &options.overrides)?;
    crate::results::thresholds::validate(&scenario)?;
    check_distributed(&scenario, options)?;
    let harness = crate::harness::Options {
        out: options.out.clone(),
        progress: options.progress,
        cancel: stop,
        credentials: options.credentials.clone(),
        external: options.external.clone(),
        shard: options.shard.as_ref().map(|s| crate::harness::ShardRun { shard: s.shard, run_id: s.run_id.clone() }),
    };
    let outcome = Box::pin(crate::harness::run(scenario, harness)).await?;
    if let (Some(part), Some(sharding)) = (&outcome.part, &options.shard) {
        let written = write_part(
            part,
            sharding.part_out.as_deref(),
            &outcome.dir,
            &outcome.results.scenario,
            &options.credentials,
        )
        .await
        .context("writing the shard's part")?;
        eprintln!("shard {} of run {}: part written to {written}", part.shard, part.run_id);
    }
    conclude(&outcome.results, &outcome.dir, options.format, options.junit.as_deref())
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
        if s.part_out.as_deref().is_some_and(|p| p.starts_with("s3://")) && !endpoint {
            return usage("--part-out s3://…: needs the store the shards share (--storage-endpoint)".into());
        }
        if options.external.is_none() {
            tracing::warn!("shard {} starts its own servers: its part merges only with shards that did too", s.shard);
        }
    }
    Ok(())
}

/// Writes `part` to `dest` (a directory, or `s3://BUCKET/PREFIX` on `scenario`'s endpoint, under
/// `PREFIX/RUN_ID/`), else into `dir`; returns where.
async fn write_part(
    part: &crate::harness::part::Part,
    dest: Option<&str>,
    dir: &std::path::Path,
    scenario: &Scenario,
    credentials: &crate::storage::Credentials,
) -> anyhow::Result<String> {
    let name = crate::harness::part::Part::file_name(part.shard);
    let body = serde_json::to_vec_pretty(part)?;
    match dest {
        Some(url) if url.starts_with("s3://") => {
            let (bucket, key) = crate::storage::client::s3_location(url, &format!("{}/{name}", part.run_id))
                .map_err(anyhow::Error::msg)?;
            let crate::scenario::Storage::Endpoint { url: endpoint, region, .. } = &scenario.storage else {
                anyhow::bail!("--part-out {url}: needs --storage-endpoint");
            };
            let target = crate::storage::client::S3Target {
                endpoint: endpoint.clone(),
                region: region.clone(),
                bucket: bucket.clone(),
                credentials: credentials.clone(),
            };
            let s3 = crate::storage::client::build(
                &target,
                crate::metrics::Meter::new(),
                crate::storage::client::Timeouts::default(),
            )?;
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .content_type("application/json")
                .body(body.into())
                .send()
                .await
                .with_context(|| format!("PUT s3://{bucket}/{key} on {endpoint}"))?;
            Ok(format!("s3://{bucket}/{key}"))
        }
        other => {
            let folder = other.map_or_else(|| dir.to_owned(), std::path::PathBuf::from);
            std::fs::create_dir_all(&folder).with_context(|| folder.display().to_string())?;
            let path = folder.join(name);
            std::fs::write(&path, body).with_context(|| path.display().to_string())?;
            Ok(path.display().to_string())
        }
    }
}

/// Renders the report of `results` in `dir`, prints the summary and the thresholds, writes JUnit
/// and GitHub outputs, and fails with the documented exit code: incomplete (3), objects lost or
/// corrupt, or a threshold failed (1). Shared by `run` and `merge`.
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
    match format {
        Format::Table => print!("{}", report::summary(results, dir)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report::json_summary(results, dir))?),
    }
    rendered.with_context(|| format!("rendering the report in {}", dir.display()))?;
    let outcomes = &results.thresholds;
    if !outcomes.is_empty() && format == Format::Table {
        print!("{}", gate::thresholds_table(outcomes));
    }
    let cases = gate::threshold_cases(outcomes);
    if let Some(path) = junit {
        gate::write_junit(path, &format!("presign-bench run {}", results.scenario.name), &cases)
            .with_context(|| path.display().to_string())?;
    }
    let mut markdown = format!("### presign-bench run: {}\n\n{}\n", results.scenario.name, report::headline(results));
    if !outcomes.is_empty() {
        markdown.push('\n');
        markdown.push_str(&gate::thresholds_markdown(outcomes));
    }
    gate::github(&markdown, &gate::failures(&cases));
    if !results.complete {
        anyhow::bail!(
            "run incomplete: {}; partial report written to {}",
            results.incomplete_reason.as_deref().unwrap_or("interrupted"),
            json.display()
        );
    }
    let damaged: u64 = results.modes.present().iter().map(|(_, m)| m.lost + m.corrupt).sum();
    if damaged > 0 {
        let why = format!("{damaged} uploads were lost or corrupt (see {})", json.display());
        return Err(ChecksFailed(why).into());
    }
    let failed: Vec<String> =
        outcomes.iter().filter(|o| !o.passed).map(|o| format!("{} {}", o.metric, o.condition)).collect();
    if !failed.is_empty() {
        let why = format!("{} threshold(s) failed: {} (see {})", failed.len(), failed.join("; "), json.display());
        return Err(ChecksFailed(why).into());
    }
    Ok(())
}
