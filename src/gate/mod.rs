//! What CI decides, in one place: a scenario's thresholds judged on a whole run
//! ([`thresholds`]), a baseline against a current run ([`compare`]), the tables and Markdown a
//! person reads of both ([`render`]), JUnit XML ([`junit`]), GitHub's step summary and
//! annotations ([`github`]), and whether a run passed ([`judge`]: the exit-code decision).
//! `run`, `merge`, `compare` and `audit` are thin callers.

pub mod compare;
pub mod github;
pub mod junit;
pub mod render;
pub mod thresholds;

use crate::results::Results;
use crate::results::thresholds::ThresholdStatus;
use std::path::Path;

/// How `compare` prints its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human-readable table.
    Table,
    /// One JSON object.
    Json,
    /// A Markdown table (GitHub step summaries, PR comments).
    Markdown,
}

/// The run or comparison worked, and what it found fails the checks (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChecksFailed(pub String);

/// Why a run did not pass.
#[derive(Debug, thiserror::Error)]
pub enum Judgement {
    /// The run stopped before the end (exit code 3).
    #[error("run incomplete: {reason}; partial report written to {json}")]
    Incomplete {
        /// Why it stopped.
        reason: String,
        /// Its results.json.
        json: String,
    },
    /// Objects were lost or corrupt, or a threshold failed (exit code 1).
    #[error(transparent)]
    Failed(#[from] ChecksFailed),
}

/// Whether the run whose results are `results` (written to `json`) passed: complete, no object
/// lost or corrupt, and no threshold failed (not-applicable thresholds do not fail it).
///
/// # Errors
/// [`Judgement`] saying why not.
pub fn judge(results: &Results, json: &Path) -> Result<(), Judgement> {
    let json = json.display().to_string();
    if !results.complete {
        let reason = results.incomplete_reason.clone().unwrap_or_else(|| "interrupted".into());
        return Err(Judgement::Incomplete { reason, json });
    }
    let damaged: u64 = results.modes.present().iter().map(|(_, m)| m.lost + m.corrupt).sum();
    if damaged > 0 {
        return Err(ChecksFailed(format!("{damaged} uploads were lost or corrupt (see {json})")).into());
    }
    let failed: Vec<String> = results
        .thresholds
        .iter()
        .filter(|o| o.status == ThresholdStatus::Failed)
        .map(|o| format!("{} {}", o.metric, o.condition))
        .collect();
    if !failed.is_empty() {
        let why = format!("{} threshold(s) failed: {} (see {json})", failed.len(), failed.join("; "));
        return Err(ChecksFailed(why).into());
    }
    Ok(())
}
