//! The `compare` command: a baseline results.json against a current one, printed as a table,
//! JSON or Markdown, optionally as JUnit XML and GitHub annotations; a regression fails it with
//! exit code 1 (`exit::CHECKS_FAILED`).

use crate::gate::compare::{self, Settings, Verdict};
use crate::gate::{self, ChecksFailed, Format};
use anyhow::Context;
use std::path::PathBuf;

/// What `compare` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// The earlier run.
    pub baseline: PathBuf,
    /// The run under test.
    pub current: PathBuf,
    /// How the answer is printed.
    pub format: Format,
    /// Also write JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Statistics and allowances.
    pub settings: Settings,
}

/// Runs `compare`.
///
/// # Errors
/// An unreadable results file (exit 2), a JUnit file that cannot be written (exit 3), or
/// [`ChecksFailed`] naming the regressed metrics (exit 1).
pub fn command(o: &Options) -> anyhow::Result<()> {
    let baseline = crate::results::load::load(&o.baseline).context("the baseline")?;
    let current = crate::results::load::load(&o.current).context("the current run")?;
    let report = compare::compare(&baseline, &current, &o.settings);
    let markdown = gate::render::compare_markdown(&report);
    match o.format {
        Format::Table => print!("{}", gate::render::compare_table(&report)),
        Format::Markdown => print!("{markdown}"),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let cases = gate::junit::compare_cases(&report);
    if let Some(path) = &o.junit {
        gate::junit::write(path, "presign-bench compare", &cases).with_context(|| path.display().to_string())?;
    }
    gate::github::publish(&markdown, &gate::junit::failures(&cases));
    let regressed: Vec<&str> =
        report.rows.iter().filter(|r| r.verdict == Verdict::Regressed).map(|r| r.metric.as_str()).collect();
    if !regressed.is_empty() {
        return Err(ChecksFailed(format!("{} regressed: {}", regressed.len(), regressed.join(", "))).into());
    }
    Ok(())
}
