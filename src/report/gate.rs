//! What CI reads: the thresholds of a run and the rows of a `compare`, as a plain-text table, a
//! Markdown table, JUnit XML (one test case per threshold or compared metric) and, inside GitHub
//! Actions, a step summary and `::error::` annotations.
//!
//! The JUnit writer is hand-written: the document is three fixed elements, and escaping is
//! `html-escape`'s, so an XML library would add a dependency for twenty lines.

use crate::regression::{Kind, Report, Row, Verdict};
use crate::results::thresholds::{MetricUnit, ThresholdOutcome};
use std::fmt::Write;
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

/// `value` of `metric` for a reader: latencies in ms, bytes with SI units, ratios and rates as
/// numbers.
#[must_use]
pub fn value(metric: &str, value: Option<f64>) -> String {
    let Some(v) = value else { return "-".into() };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display of non-negative figures
    match MetricUnit::of(metric) {
        MetricUnit::Micros => super::format::ms(v.max(0.0) as u64),
        MetricUnit::Millis => super::format::ms((v.max(0.0) * 1000.0) as u64),
        MetricUnit::Seconds => format!("{v:.2} s"),
        MetricUnit::Bytes => super::format::si_bytes(v),
        MetricUnit::Plain if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        MetricUnit::Plain => format!("{v:.3}"),
    }
}

fn change(c: Option<f64>) -> String {
    c.map_or("-".into(), |c| format!("{:+.1}%", c * 100.0))
}

/// The thresholds of a run as a plain-text table, with a count line.
#[must_use]
pub fn thresholds_table(outcomes: &[ThresholdOutcome]) -> String {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let mut out = format!("\nthresholds: {} passed, {failed} failed\n", outcomes.len() - failed);
    let width = outcomes.iter().map(|o| o.metric.len()).max().unwrap_or(0);
    for o in outcomes {
        let verdict = if o.passed { "pass" } else { "FAIL" };
        let _ =
            writeln!(out, "  {verdict}  {:<width$}  {:>12}  {}", o.metric, value(&o.metric, o.observed), o.condition);
    }
    out
}

/// The thresholds of a run as Markdown.
#[must_use]
pub fn thresholds_markdown(outcomes: &[ThresholdOutcome]) -> String {
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    let mut out = format!(
        "### Thresholds: {} passed, {failed} failed\n\n| | metric | observed | condition |\n| --- | --- | --- | --- |\n",
        outcomes.len() - failed
    );
    for o in outcomes {
        let mark = if o.passed { "✅" } else { "❌" };
        let _ = writeln!(out, "| {mark} | `{}` | {} | `{}` |", o.metric, value(&o.metric, o.observed), o.condition);
    }
    out
}

fn counts(report: &Report) -> String {
    let n = |v: Verdict| report.rows.iter().filter(|r| r.verdict == v).count();
    format!(
        "{} regressed, {} improved, {} unchanged, {} not comparable",
        n(Verdict::Regressed),
        n(Verdict::Improved),
        n(Verdict::Unchanged),
        n(Verdict::NotComparable)
    )
}

fn settings_line(report: &Report) -> String {
    let s = &report.settings;
    format!(
        "latency: {:.0}% bootstrap CI ({} resamples) and min effect {:.0}%; allowances: bytes ±{:.0}%, ratios ±{:.0}%, throughput ±{:.0}%",
        s.confidence * 100.0,
        s.resamples,
        s.min_effect * 100.0,
        s.bytes_tolerance * 100.0,
        s.ratio_tolerance * 100.0,
        s.throughput_tolerance * 100.0
    )
}

/// A comparison as a plain-text table.
#[must_use]
pub fn compare_table(report: &Report) -> String {
    let mut out = format!("compare: {} ({})\n{}\n\n", report.scenario, counts(report), settings_line(report));
    let width = report.rows.iter().map(|r| r.metric.len()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "{:<width$}  {:>12}  {:>12}  {:>8}  {:<14}  detail",
        "metric", "baseline", "current", "change", "verdict"
    );
    for r in &report.rows {
        let _ = writeln!(
            out,
            "{:<width$}  {:>12}  {:>12}  {:>8}  {:<14}  {}",
            r.metric,
            value(&r.metric, r.baseline),
            value(&r.metric, r.current),
            change(r.change),
            r.verdict.as_str(),
            r.detail
        );
    }
    out
}

/// A comparison as Markdown.
#[must_use]
pub fn compare_markdown(report: &Report) -> String {
    let mut out = format!(
        "### presign-bench compare: {}\n\n{}. {}.\n\n| metric | baseline | current | change | verdict | detail |\n| --- | --- | --- | --- | --- | --- |\n",
        report.scenario,
        counts(report),
        settings_line(report)
    );
    for r in &report.rows {
        let verdict = match r.verdict {
            Verdict::Regressed => "❌ regressed",
            Verdict::Improved => "✅ improved",
            Verdict::Unchanged => "unchanged",
            Verdict::NotComparable => "not comparable",
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {verdict} | {} |",
            r.metric,
            value(&r.metric, r.baseline),
            value(&r.metric, r.current),
            change(r.change),
            r.detail
        );
    }
    out
}

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
            failure: (!o.passed)
                .then(|| format!("observed {}, expected {}", value(&o.metric, o.observed), o.condition)),
            skipped: None,
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
pub fn write_junit(path: &Path, suite: &str, cases: &[Case]) -> std::io::Result<()> {
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

/// Inside GitHub Actions: appends `markdown` to the step summary (`GITHUB_STEP_SUMMARY`) and
/// prints one `::error::` annotation per failure (`GITHUB_ACTIONS`). Outside, does nothing.
pub fn github(markdown: &str, failures: &[String]) {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{markdown}\n").as_bytes()));
        if let Err(e) = appended {
            tracing::warn!("cannot append to GITHUB_STEP_SUMMARY {}: {e}", Path::new(&path).display());
        }
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        for f in failures {
            // Workflow commands end at a newline; `%` and newlines are escaped as GitHub documents.
            let escaped = f.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
            println!("::error title=presign-bench::{escaped}");
        }
    }
}

/// The failure lines of a comparison and of thresholds, for annotations.
#[must_use]
pub fn failures(cases: &[Case]) -> Vec<String> {
    cases.iter().filter_map(|c| c.failure.as_ref().map(|f| format!("{}: {f}", c.name))).collect()
}
