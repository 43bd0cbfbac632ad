//! When a scenario's uploads are checked (`[validation]`): what starts the post-upload checks
//! (the completion or the store's event) and whether uploads are scanned for malware.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What starts the post-upload checks of a presigned upload (`[validation] trigger`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The client's completion call.
    #[default]
    Completion,
    /// The store's event notification when the object lands; the completion answers from the
    /// verdict the event reached (the store sends events to the broker's `/v1/events`).
    Event,
}

/// The malware scanner of the checks (`[validation] scan`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scan {
    /// No scan.
    #[default]
    None,
    /// ClamAV's clamd, started by the harness; broker and proxy scan every upload.
    Clamav,
}

/// How uploads are validated after they land (`[validation]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Validation {
    /// What starts the checks.
    pub trigger: Trigger,
    /// The malware scanner, if any.
    #[serde(default)]
    pub scan: Scan,
}

impl Validation {
    /// The default: checks at completion.
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}
