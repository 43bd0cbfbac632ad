//! `presign-bench plan`: the capacity model ([`crate::capacity`]) fed with a run's measured
//! costs (or documented defaults) and a workload, printed as a table or JSON, every input listed
//! with its source; optionally written as capacity.json and the `capacity` plot.

use crate::capacity::{PlanFlags, Setting, build};
use crate::report::{self, Format};
use std::path::PathBuf;

/// What `plan` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// A results.json whose measured per-upload costs feed the model.
    pub results: Option<PathBuf>,
    /// Inputs given as flags.
    pub flags: PlanFlags,
    /// How the answer is printed.
    pub format: Format,
    /// Also write capacity.json and the plot here.
    pub out: Option<PathBuf>,
}

/// Runs `plan`.
///
/// # Errors
/// An unreadable results file (naming it), or an output file that cannot be written.
pub fn command(options: &Options) -> anyhow::Result<()> {
    let results = options.results.as_deref().map(crate::results::load).transpose()?;
    // With a results file, the workload defaults to the target that run planned for.
    let setting = results.as_ref().map_or_else(Setting::default, Setting::for_results).with_flags(&options.flags);
    let capacity = build(&setting, results.as_ref());
    let table = report::capacity::table(&capacity);
    let plot = report::capacity::plot(&capacity);
    report::emit(options.format, &table, &capacity, options.out.as_deref(), "capacity.json", &plot)
}
