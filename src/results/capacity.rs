//! The capacity model's answer as results carry it: every input with its unit and source, servers
//! per architecture and constraint, and the curve for the capacity plot. Built by the capacity
//! module's `build`; rendered by the report's capacity table and plot.

use crate::scenario::Mode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where an input's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A documented default.
    Default,
    /// A command-line flag.
    Flag,
    /// The scenario's target.
    Scenario,
    /// Measured in a run (a results.json).
    Measured,
}

impl Source {
    /// The name printed beside the input.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Flag => "flag",
            Self::Scenario => "scenario",
            Self::Measured => "measured",
        }
    }
}

/// One input of the model.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Input {
    /// Name, e.g. `nic` or `proxied.cpu_per_gb`.
    pub name: String,
    /// Value in `unit`.
    pub value: f64,
    /// Unit, e.g. `bytes/s per direction`.
    pub unit: String,
    /// Where the value came from.
    pub source: Source,
}

/// A constraint on how many uploads one server carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// NIC bandwidth.
    Nic,
    /// CPU.
    Cpu,
    /// Memory.
    Memory,
    /// Open connections.
    Connections,
}

impl Constraint {
    /// The name in tables.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nic => "nic",
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Connections => "connections",
        }
    }
}

/// Servers needed under each constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ByConstraint {
    /// NIC bandwidth.
    pub nic: u64,
    /// CPU.
    pub cpu: u64,
    /// Memory.
    pub memory: u64,
    /// Open connections.
    pub connections: u64,
}

/// One architecture's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModePlan {
    /// Servers needed (at least 1).
    pub servers: u64,
    /// The constraint that needs the most.
    pub binding: Constraint,
    /// Servers per constraint.
    pub by_constraint: ByConstraint,
}

/// The model's answer with everything it used.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CapacityReport {
    /// Every input, with its source.
    pub inputs: Vec<Input>,
    /// Per architecture.
    pub modes: BTreeMap<Mode, ModePlan>,
    /// Servers needed as concurrent uploads grow (uploads in the window = concurrent uploads),
    /// other inputs unchanged: `[concurrent, servers]` pairs, for the capacity plot.
    pub curve: BTreeMap<Mode, Vec<[f64; 2]>>,
    /// Per architecture, servers for the reads alone (a run with `[downloads]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reads: BTreeMap<Mode, ModePlan>,
    /// Per architecture, servers for the writes and the reads together.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub together: BTreeMap<Mode, ModePlan>,
    /// Per CDN read architecture (`presigned-cdn`, `cdn-public`, `cdn-signed`): app servers for
    /// the reads alone, and the store's traffic to the CDN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cdn_reads: BTreeMap<String, CdnReadPlan>,
}

/// The reads of one CDN architecture at the target.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CdnReadPlan {
    /// App servers for the reads alone; `None` when the reads sent the app tier no request.
    pub servers: Option<ModePlan>,
    /// Views at the target (target uploads × views per stored object).
    pub views: f64,
    /// Requests from the CDN to the store at the target: measured per view × views. At the
    /// run's hit ratio: more views per object at the target would only raise it.
    pub origin_requests: f64,
    /// Bytes between the CDN and the store at the target, likewise.
    pub origin_bytes: f64,
}

impl CapacityReport {
    /// The value of input `name` (0 when absent).
    #[must_use]
    pub fn input(&self, name: &str) -> f64 {
        self.inputs.iter().find(|i| i.name == name).map_or(0.0, |i| i.value)
    }
}
