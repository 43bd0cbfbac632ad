//! The exit codes of `run`, `compare` and `audit` (and the servers' start-up errors) (README, "Use in CI"), and the errors that carry them:
//! the entry point maps an error to its code with [`code`].
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | everything passed |
//! | 1 | a threshold failed, a regression was found, or an object was lost or corrupt |
//! | 2 | bad usage or configuration (clap's code for bad flags; a bad scenario or results file; a server flag out of range, such as a short token secret) |
//! | 3 | the run could not complete (servers did not start, interrupted, a server died) |

/// Everything passed.
pub const OK: u8 = 0;
/// A threshold failed, a regression was found, or an object was lost or corrupt.
pub const CHECKS_FAILED: u8 = 1;
/// Bad usage or configuration (clap exits with 2 on bad flags as well).
pub const USAGE: u8 = 2;
/// The run could not complete.
pub const INCOMPLETE: u8 = 3;

pub use crate::gate::ChecksFailed;

/// The command cannot start with what it was given.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The exit code of an error: [`CHECKS_FAILED`], [`USAGE`] (also for scenario and results-file
/// errors), else [`INCOMPLETE`].
#[must_use]
pub fn code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<ChecksFailed>() || matches!(cause.downcast_ref(), Some(crate::gate::Judgement::Failed(_))) {
            return CHECKS_FAILED;
        }
        let bad_flag = matches!(cause.downcast_ref(), Some(crate::app::StartError::Config { .. }));
        if bad_flag
            || cause.is::<Usage>()
            || cause.is::<crate::scenario::ScenarioError>()
            || cause.is::<crate::results::load::LoadError>()
            || cause.is::<crate::shard::MergeError>()
            || cause.is::<crate::shard::io::Unreadable>()
        {
            return USAGE;
        }
    }
    INCOMPLETE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_their_codes() {
        assert_eq!(code(&anyhow::Error::new(ChecksFailed("2 thresholds failed".into()))), CHECKS_FAILED);
        assert_eq!(code(&anyhow::Error::new(Usage("no such file".into())).context("compare")), USAGE);
        assert_eq!(code(&anyhow::anyhow!("the broker did not start")), INCOMPLETE);
    }
}
