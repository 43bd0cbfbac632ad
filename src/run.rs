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
}

/// Runs the `run` command; `stop` cancels the run (a partial report is still written).
///
/// # Errors
/// A bad scenario (naming file, line and key), servers that do not start, a report that cannot be
/// written, an incomplete run, or lost or corrupt objects.
pub async fn command(options: &Options, stop: CancellationToken) -> anyhow::Result<()> {
    let scenario = Scenario::load(&options.scenario, &options.overrides)?;
    crate::results::thresholds::validate(&scenario)?;
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
    let outcomes = &results.thresholds;
    if !outcomes.is_empty() && options.format == Format::Table {
        print!("{}", gate::thresholds_table(outcomes));
    }
    let cases = gate::threshold_cases(outcomes);
    if let Some(path) = &options.junit {
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
