//! A threshold's judgement as results.json records it (the judging is the gate module's).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What one threshold found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThresholdOutcome {
    /// The metric path.
    pub metric: String,
    /// The condition as written.
    pub condition: String,
    /// The value in results.json, in the metric's own unit (absent: the run did not produce it,
    /// e.g. a mode that did not run, which fails the threshold unless it is not applicable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<f64>,
    /// The condition's value converted to the metric's unit.
    pub limit: f64,
    /// Whether the condition held (false when not applicable).
    pub passed: bool,
    /// Passed, failed, or not applicable (a metric this kind of run cannot produce, such as the
    /// signing phase of a sharded run); only `failed` fails the run.
    pub status: ThresholdStatus,
}

/// What a threshold's judgement came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdStatus {
    /// The condition held.
    Passed,
    /// It did not, or the metric is missing where the run should have produced it.
    Failed,
    /// The kind of run cannot produce the metric (e.g. `signing.*` in a sharded run).
    NotApplicable,
}

impl ThresholdStatus {
    /// As it reads in tables: `pass`, `FAIL`, `n/a`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "pass",
            Self::Failed => "FAIL",
            Self::NotApplicable => "n/a",
        }
    }
}
