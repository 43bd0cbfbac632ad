//! A scenario's `[thresholds]` against results.json: every metric path is checked against the
//! JSON Schema of results.json when the scenario is loaded (so a typo fails before a run, naming
//! its line), and every condition is judged on the results of the whole run: a run on one
//! machine, or the merge of a sharded one (a shard judges nothing on its share). A metric the kind
//! of run cannot produce (a sharded run has no signing phase and no sweep) is not applicable; one
//! it should have produced and did not fails.

use crate::results::Results;
use crate::results::thresholds::{ThresholdOutcome, ThresholdStatus};
use crate::scenario::thresholds::{Quantity, Threshold};
use crate::scenario::{Scenario, ScenarioError};
use serde_json::Value;

/// The unit a metric is recorded in, read from its path (`latency_us.…`, `duration_ms`,
/// `cpu_seconds`, `…_bytes…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricUnit {
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Seconds,
    /// Bytes.
    Bytes,
    /// A count, ratio or rate.
    Plain,
}

impl MetricUnit {
    /// The unit of `path`: its last segment decides, else the nearest ancestor with a unit.
    #[must_use]
    pub fn of(path: &str) -> Self {
        for segment in path.rsplit('.') {
            let s = segment.to_ascii_lowercase();
            if s == "ratio" || s.ends_with("_ratio") || s.starts_with("ratio_") || s.contains("per_sec") {
                return Self::Plain;
            }
            if s.ends_with("_us") {
                return Self::Micros;
            }
            if s.ends_with("_ms") {
                return Self::Millis;
            }
            if s.ends_with("seconds") || s.ends_with("_secs") {
                return Self::Seconds;
            }
            if s.contains("bytes") {
                return Self::Bytes;
            }
        }
        Self::Plain
    }

    /// `value` of `quantity` (seconds, bytes, or a plain number) in this unit, if they fit.
    fn convert(self, value: f64, quantity: Quantity) -> Result<f64, String> {
        match (quantity, self) {
            (Quantity::Number, _) | (Quantity::Seconds, Self::Seconds) | (Quantity::Bytes, Self::Bytes) => Ok(value),
            (Quantity::Seconds, Self::Micros) => Ok(value * 1e6),
            (Quantity::Seconds, Self::Millis) => Ok(value * 1e3),
            (Quantity::Seconds, _) => Err("a duration, but this metric is not a time".into()),
            (Quantity::Bytes, _) => Err("a size, but this metric is not in bytes".into()),
        }
    }
}

/// The schema of results.json as a value, to walk paths in.
fn schema() -> Value {
    serde_json::from_str(&crate::results::schema::generate()).expect("the generated schema is JSON")
}

/// Whether `path` names a number in results.json, per the schema; `Err` says where it stops.
fn check_path(root: &Value, path: &str) -> Result<(), String> {
    let defs = &root["$defs"];
    let resolve = |node: &Value| -> Vec<Value> {
        // A node is a $ref, an anyOf/oneOf of alternatives (Option<T> is T or null), or itself.
        let mut out = Vec::new();
        let mut stack = vec![node.clone()];
        while let Some(n) = stack.pop() {
            if let Some(r) = n["$ref"].as_str() {
                stack.push(defs[r.trim_start_matches("#/$defs/")].clone());
            } else if let Some(alts) = n["anyOf"].as_array().or_else(|| n["oneOf"].as_array()) {
                stack.extend(alts.iter().cloned());
            } else {
                out.push(n);
            }
        }
        out
    };
    let mut nodes = resolve(root);
    let mut walked = Vec::new();
    for segment in path.split('.') {
        let next: Vec<Value> = nodes
            .iter()
            .flat_map(|n| {
                let child = n["properties"].get(segment).cloned().or_else(|| match &n["additionalProperties"] {
                    Value::Object(_) => Some(n["additionalProperties"].clone()),
                    _ => None,
                });
                child.map(|c| resolve(&c)).unwrap_or_default()
            })
            .collect();
        if next.is_empty() {
            let at = if walked.is_empty() { "results.json".to_owned() } else { walked.join(".") };
            let known: Vec<String> =
                nodes.iter().filter_map(|n| n["properties"].as_object()).flat_map(|p| p.keys().cloned()).collect();
            let hint = if known.is_empty() { String::new() } else { format!(" (known: {})", known.join(", ")) };
            return Err(format!("unknown metric path: {at} has no {segment:?}{hint}"));
        }
        walked.push(segment);
        nodes = next;
    }
    // `"type": "integer"`, or `["integer", "null"]` for an optional one.
    let is_number = |t: &Value| matches!(t.as_str(), Some("number" | "integer"));
    let numeric =
        nodes.iter().any(|n| is_number(&n["type"]) || n["type"].as_array().is_some_and(|a| a.iter().any(is_number)));
    if numeric { Ok(()) } else { Err(format!("{path} is not a number in results.json")) }
}

/// Checks every threshold of `scenario`: the path names a number of results.json and the
/// condition's unit fits the metric.
///
/// # Errors
/// [`ScenarioError::Value`] naming the file, line and `thresholds."PATH"` key.
pub fn validate(scenario: &Scenario) -> Result<(), ScenarioError> {
    if scenario.thresholds.is_empty() {
        return Ok(());
    }
    let root = schema();
    for t in &scenario.thresholds {
        let checked =
            check_path(&root, &t.metric).and_then(|()| MetricUnit::of(&t.metric).convert(t.value, t.quantity));
        if let Err(message) = checked {
            return Err(ScenarioError::Value {
                file: scenario.source.display().to_string(),
                line: t.line,
                column: 1,
                key: format!("thresholds.\"{}\"", t.metric),
                message,
            });
        }
    }
    Ok(())
}

/// The value at `path` in `value`, if it is a number.
#[must_use]
pub fn lookup(value: &Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(value, |v, segment| v.get(segment))?.as_f64()
}

/// Sections of results.json that a sharded run never produces: shards run no signing phase (a
/// broker-saturation test, not a share of one) and no sweep.
const NOT_IN_SHARDED_RUNS: [&str; 3] = ["signing", "sweep", "sweep_crossover_bytes"];

/// Whether a sharded run can produce `metric`.
fn sharded_runs_produce(metric: &str) -> bool {
    let section = metric.split('.').next().unwrap_or_default();
    !NOT_IN_SHARDED_RUNS.contains(&section)
}

/// Judges `thresholds` on `results`, the results of a whole run (`merged`: the merge of a sharded
/// one).
#[must_use]
pub fn evaluate(thresholds: &[Threshold], results: &Results, merged: bool) -> Vec<ThresholdOutcome> {
    let value = serde_json::to_value(results).unwrap_or(Value::Null);
    thresholds
        .iter()
        .map(|t| {
            let limit = MetricUnit::of(&t.metric).convert(t.value, t.quantity).unwrap_or(t.value);
            let observed = lookup(&value, &t.metric);
            let status = match observed {
                Some(o) if t.op.holds(o, limit) => ThresholdStatus::Passed,
                None if merged && !sharded_runs_produce(&t.metric) => ThresholdStatus::NotApplicable,
                _ => ThresholdStatus::Failed,
            };
            ThresholdOutcome {
                metric: t.metric.clone(),
                condition: t.condition.clone(),
                observed,
                limit,
                passed: status == ThresholdStatus::Passed,
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_against_the_schema() {
        let root = schema();
        for ok in [
            "comparison.app_tier_bytes_ratio",
            "modes.presigned.lost",
            "modes.proxied.latency_us.end_to_end.p99",
            "signing.ratio_to_healthz",
            "modes.presigned.per_upload.app_tier_bytes",
            "modes.presigned.errors.http_503",
            "modes.presigned.orphans",
        ] {
            check_path(&root, ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = check_path(&root, "modes.presigned.lots").unwrap_err();
        assert!(e.starts_with("unknown metric path: modes.presigned has no \"lots\""), "{e}");
        assert!(check_path(&root, "modes.presigned.latency_us.end_to_end.p98").is_err());
        assert!(check_path(&root, "modes.presigned").unwrap_err().contains("is not a number"));
    }

    #[test]
    fn units_follow_the_path() {
        assert_eq!(MetricUnit::of("modes.presigned.latency_us.end_to_end.p99"), MetricUnit::Micros);
        assert_eq!(MetricUnit::of("modes.presigned.duration_ms"), MetricUnit::Millis);
        assert_eq!(MetricUnit::of("modes.presigned.app_tier.cpu_seconds"), MetricUnit::Seconds);
        assert_eq!(MetricUnit::of("modes.presigned.per_upload.app_tier_bytes"), MetricUnit::Bytes);
        assert_eq!(MetricUnit::of("comparison.app_tier_bytes_ratio"), MetricUnit::Plain);
        assert_eq!(MetricUnit::of("modes.presigned.lost"), MetricUnit::Plain);
        assert_eq!(MetricUnit::Micros.convert(2.0, Quantity::Seconds), Ok(2e6));
        assert!(MetricUnit::Plain.convert(2.0, Quantity::Seconds).is_err());
        assert!(MetricUnit::Micros.convert(2.0, Quantity::Bytes).is_err());
    }
}
