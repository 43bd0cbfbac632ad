//! JUnit XML for CI: one test case per threshold or compared metric (a failed one fails, a
//! not-applicable threshold or a metric that is not comparable is skipped).
//!
//! The JUnit writer is hand-written: the document is three fixed elements, and escaping is
//! `html-escape`'s, so an XML library would add a dependency for twenty lines.

use super::compare::{Kind, Report, Row, Verdict};
use super::render::{change, value};
use crate::results::thresholds::{ThresholdOutcome, ThresholdStatus};
use std::fmt::Write;
use std::path::Path;

/// One JUnit test case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Test name (the metric, with the condition for a threshold).
    pub name: String,
    /// Failure message (observed against expected), if it failed.
    pub failure: Option<String>,
    /// Why it was skipped, if it was (a metric that is not comparable).
    pub skipped: Option<String>,
}

/// The JUnit cases of a run's thresholds.
#[must_use]
pub fn threshold_cases(outcomes: &[ThresholdOutcome]) -> Vec<Case> {
    outcomes
        .iter()
        .map(|o| Case {
            name: format!("{} {}", o.metric, o.condition),
            failure: (o.status == ThresholdStatus::Failed)
                .then(|| format!("observed {}, expected {}", value(&o.metric, o.observed), o.condition)),
            skipped: (o.status == ThresholdStatus::NotApplicable)
                .then(|| "not applicable: this kind of run does not produce this metric".to_owned()),
        })
        .collect()
}

/// The JUnit cases of a comparison.
#[must_use]
pub fn compare_cases(report: &Report) -> Vec<Case> {
    report
        .rows
        .iter()
        .map(|r: &Row| Case {
            name: r.metric.clone(),
            failure: (r.verdict == Verdict::Regressed).then(|| {
                let expected = if r.kind == Kind::Count { "no increase".to_owned() } else { r.detail.clone() };
                format!(
                    "regressed: baseline {}, current {} ({}); expected {expected}",
                    value(&r.metric, r.baseline),
                    value(&r.metric, r.current),
                    change(r.change)
                )
            }),
            skipped: (r.verdict == Verdict::NotComparable).then(|| r.detail.clone()),
        })
        .collect()
}

/// Writes `cases` as a JUnit XML file with one test suite named `suite`.
///
/// # Errors
/// When the file cannot be written.
pub fn write(path: &Path, suite: &str, cases: &[Case]) -> std::io::Result<()> {
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{n}\" failures=\"{failures}\">\n  <testsuite name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n",
        n = cases.len(),
        s = attr(suite)
    );
    for c in cases {
        let _ = write!(xml, "    <testcase classname=\"{}\" name=\"{}\"", attr(suite), attr(&c.name));
        match (&c.failure, &c.skipped) {
            (Some(f), _) => {
                let _ =
                    writeln!(xml, ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>", attr(f), text(f));
            }
            (None, Some(s)) => {
                let _ = writeln!(xml, ">\n      <skipped message=\"{}\"/>\n    </testcase>", attr(s));
            }
            (None, None) => xml.push_str("/>\n"),
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, xml)
}

/// The failure lines of a comparison and of thresholds, for annotations.
#[must_use]
pub fn failures(cases: &[Case]) -> Vec<String> {
    cases.iter().filter_map(|c| c.failure.as_ref().map(|f| format!("{}: {f}", c.name))).collect()
}
