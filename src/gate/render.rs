//! What a person reads of the gate: the thresholds of a run and the rows of a `compare`, as a
//! plain-text table and as Markdown, each figure in its metric's unit.

use super::compare::{Report, Verdict};
use super::thresholds::MetricUnit;
use crate::columns::{Align, table};
use crate::results::thresholds::{ThresholdOutcome, ThresholdStatus};
use std::fmt::Write;

/// `value` of `metric` for a reader: latencies in ms, bytes with SI units, ratios and rates as
/// numbers.
#[must_use]
pub fn value(metric: &str, value: Option<f64>) -> String {
    let Some(v) = value else { return "-".into() };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // display of non-negative figures
    match MetricUnit::of(metric) {
        MetricUnit::Micros => crate::human::ms(v.max(0.0) as u64),
        MetricUnit::Millis => crate::human::ms((v.max(0.0) * 1000.0) as u64),
        MetricUnit::Seconds => format!("{v:.2} s"),
        MetricUnit::Bytes => crate::human::si_bytes(v),
        MetricUnit::Plain if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        MetricUnit::Plain => format!("{v:.3}"),
    }
}

pub(super) fn change(c: Option<f64>) -> String {
    c.map_or("-".into(), |c| format!("{:+.1}%", c * 100.0))
}

/// The thresholds of a run as a plain-text table, with a count line.
#[must_use]
pub fn thresholds_table(outcomes: &[ThresholdOutcome]) -> String {
    let mut out = format!("\nthresholds: {}\n", counts_of(outcomes));
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            vec![o.status.as_str().to_owned(), o.metric.clone(), value(&o.metric, o.observed), o.condition.clone()]
        })
        .collect();
    for line in table(&[], &[Align::Left, Align::Left, Align::Right, Align::Left], &rows).lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// The thresholds of a run as Markdown.
#[must_use]
pub fn thresholds_markdown(outcomes: &[ThresholdOutcome]) -> String {
    let mut out = format!(
        "### Thresholds: {}\n\n| | metric | observed | condition |\n| --- | --- | --- | --- |\n",
        counts_of(outcomes)
    );
    for o in outcomes {
        let mark = match o.status {
            ThresholdStatus::Passed => "✅",
            ThresholdStatus::Failed => "❌",
            ThresholdStatus::NotApplicable => "➖ n/a",
        };
        let _ = writeln!(out, "| {mark} | `{}` | {} | `{}` |", o.metric, value(&o.metric, o.observed), o.condition);
    }
    out
}

/// `3 passed, 1 failed` (and `, 1 not applicable` when there are such).
fn counts_of(outcomes: &[ThresholdOutcome]) -> String {
    let n = |s: ThresholdStatus| outcomes.iter().filter(|o| o.status == s).count();
    let na = n(ThresholdStatus::NotApplicable);
    let tail = if na > 0 { format!(", {na} not applicable") } else { String::new() };
    format!("{} passed, {} failed{tail}", n(ThresholdStatus::Passed), n(ThresholdStatus::Failed))
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
    let header = ["metric", "baseline", "current", "change", "verdict", "detail"];
    let align = [Align::Left, Align::Right, Align::Right, Align::Right, Align::Left, Align::Left];
    out.push_str(&table(&header, &align, &cells(report, Verdict::as_str)));
    out
}

/// The rows of a comparison as cells, the verdict as `verdict` says it.
fn cells(report: &Report, verdict: fn(Verdict) -> &'static str) -> Vec<Vec<String>> {
    report
        .rows
        .iter()
        .map(|r| {
            vec![
                r.metric.clone(),
                value(&r.metric, r.baseline),
                value(&r.metric, r.current),
                change(r.change),
                verdict(r.verdict).to_owned(),
                r.detail.clone(),
            ]
        })
        .collect()
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
    let marked = |v: Verdict| match v {
        Verdict::Regressed => "❌ regressed",
        Verdict::Improved => "✅ improved",
        Verdict::Unchanged => "unchanged",
        Verdict::NotComparable => "not comparable",
    };
    for mut row in cells(report, marked) {
        row[0] = format!("`{}`", row[0]);
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}
