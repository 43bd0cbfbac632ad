//! The `run` command: load and validate the scenario, drive the harness, render the report, print
//! the summary, and fail when the run was cut short or lost or corrupted an object.

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
}

/// Runs the `run` command; `stop` cancels the run (a partial report is still written).
///
/// # Errors
/// A bad scenario (naming file, line and key), servers that do not start, a report that cannot be
/// written, an incomplete run, or lost or corrupt objects.
pub async fn command(options: &Options, stop: CancellationToken) -> anyhow::Result<()> {
    let scenario = Scenario::load(&options.scenario, &options.overrides)?;
    let harness = crate::harness::Options {
        out: options.out.clone(),
        progress: options.progress,
        cancel: stop,
        credentials: options.credentials.clone(),
    };
    let outcome = crate::harness::run(scenario, harness).await?;
    let (results, dir) = (&outcome.results, &outcome.dir);
    let json = dir.join("results.json");
    let rendered = report::render(results, dir);
    match options.format {
        Format::Table => print!("{}", report::summary(results, dir)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report::json_summary(results, dir))?),
    }
    rendered.with_context(|| format!("rendering the report in {}", dir.display()))?;
    if !results.complete {
        anyhow::bail!(
            "run incomplete: {}; partial report written to {}",
            results.incomplete_reason.as_deref().unwrap_or("interrupted"),
            json.display()
        );
    }
    let damaged: u64 = results.modes.present().iter().map(|(_, m)| m.lost + m.corrupt).sum();
    if damaged > 0 {
        anyhow::bail!("{damaged} uploads were lost or corrupt (see {})", json.display());
    }
    Ok(())
}
