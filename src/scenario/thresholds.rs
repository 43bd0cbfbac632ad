//! `[thresholds]`: pass/fail conditions on results.json, in the spirit of k6's.
//!
//! ```toml
//! [thresholds]
//! "comparison.app_tier_bytes_ratio" = "> 1000"
//! "modes.presigned.latency_us.end_to_end.p99" = "< 2s"
//! "modes.presigned.per_upload.app_tier_bytes" = "<= 16KiB"
//! ```
//!
//! This module parses a condition (operator, number, unit); whether the metric path exists in
//! results.json, and whether the unit fits it, is checked against the results schema
//! (`gate::thresholds`), which knows the paths. Both errors name the file, line and key.

use super::ScenarioError;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// Whether `observed OP limit` holds.
    #[must_use]
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Self::Lt => observed < limit,
            Self::Le => observed <= limit,
            Self::Gt => observed > limit,
            Self::Ge => observed >= limit,
            Self::Eq => (observed - limit).abs() <= f64::EPSILON * limit.abs().max(1.0),
            Self::Ne => (observed - limit).abs() > f64::EPSILON * limit.abs().max(1.0),
        }
    }

    /// The operator as written.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }
}

/// What the number of a condition measures, from its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Quantity {
    /// A plain number (or a percentage, already divided by 100).
    Number,
    /// A duration, in seconds.
    Seconds,
    /// A size, in bytes.
    Bytes,
}

/// One threshold of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Threshold {
    /// Dot path into results.json, e.g. `modes.presigned.lost`.
    pub metric: String,
    /// The condition as written, e.g. `< 2s`.
    pub condition: String,
    /// Its operator.
    pub op: Op,
    /// Its number, in [`Threshold::quantity`]'s base unit (seconds, bytes, or as written).
    pub value: f64,
    /// What the number measures.
    pub quantity: Quantity,
    /// Line of the scenario file it was written on (0: not from a file).
    #[serde(default)]
    pub line: usize,
}

/// Parses a condition: an operator, a number, and an optional unit (`2s`, `150ms`, `16KiB`,
/// `10MB`, `70%`).
///
/// # Errors
/// A message saying what is wrong, for the caller to place at file, line and key.
pub fn parse_condition(text: &str) -> Result<(Op, f64, Quantity), String> {
    let t = text.trim();
    let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)]
        .into_iter()
        .find_map(|(p, op)| t.strip_prefix(p).map(|rest| (op, rest.trim())))
        .ok_or_else(|| format!("{t:?}: expected an operator (<, <=, >, >=, ==, !=) then a value, e.g. \"< 2s\""))?;
    if rest.is_empty() {
        return Err(format!("{t:?}: no value after {}", op.as_str()));
    }
    if let Ok(n) = rest.parse::<f64>() {
        return finite(n, t).map(|n| (op, n, Quantity::Number));
    }
    if let Some(p) = rest.strip_suffix('%')
        && let Ok(n) = p.trim().parse::<f64>()
    {
        return finite(n / 100.0, t).map(|n| (op, n, Quantity::Number));
    }
    if let Ok(d) = crate::units::parse_duration(rest) {
        return Ok((op, d.as_secs_f64(), Quantity::Seconds));
    }
    #[allow(clippy::cast_precision_loss)] // sizes in conditions stay far below 2^53
    if let Ok(bytes) = crate::units::parse_size(rest) {
        return Ok((op, bytes as f64, Quantity::Bytes));
    }
    Err(format!("{t:?}: {rest:?} is not a number, a duration (2s, 150ms), a size (16KiB) or a percentage"))
}

/// `[thresholds]` of scenario `text` read from `file`, in file order, each condition parsed (the
/// metric paths are checked against the results schema by `gate::thresholds::validate`).
///
/// # Errors
/// [`ScenarioError::Value`] naming the file, line and `thresholds."PATH"` key.
pub(super) fn resolve(
    file: &str,
    text: &str,
    raw: Option<&std::collections::BTreeMap<String, toml::Spanned<String>>>,
) -> Result<Vec<Threshold>, ScenarioError> {
    let mut out = Vec::new();
    for (metric, condition) in raw.into_iter().flatten() {
        let (line, column) = super::origin::line_col(text, condition.span().start);
        let (op, value, quantity) = parse_condition(condition.get_ref()).map_err(|message| ScenarioError::Value {
            file: file.to_owned(),
            line,
            column,
            key: format!("thresholds.\"{metric}\""),
            message,
        })?;
        let condition = condition.get_ref().trim().to_owned();
        out.push(Threshold { metric: metric.clone(), condition, op, value, quantity, line });
    }
    out.sort_by_key(|t| t.line);
    Ok(out)
}

fn finite(n: f64, text: &str) -> Result<f64, String> {
    if n.is_finite() { Ok(n) } else { Err(format!("{text:?}: the value must be a finite number")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_and_unit() {
        assert_eq!(parse_condition("> 1000").unwrap(), (Op::Gt, 1000.0, Quantity::Number));
        assert_eq!(parse_condition("==0").unwrap(), (Op::Eq, 0.0, Quantity::Number));
        assert_eq!(parse_condition("!= 3").unwrap(), (Op::Ne, 3.0, Quantity::Number));
        assert_eq!(parse_condition(">= 0.7").unwrap(), (Op::Ge, 0.7, Quantity::Number));
        assert_eq!(parse_condition(">= 70%").unwrap(), (Op::Ge, 0.7, Quantity::Number));
        assert_eq!(parse_condition("< 2s").unwrap(), (Op::Lt, 2.0, Quantity::Seconds));
        assert_eq!(parse_condition("<= 150ms").unwrap(), (Op::Le, 0.15, Quantity::Seconds));
        assert_eq!(parse_condition("<= 16KiB").unwrap(), (Op::Le, 16384.0, Quantity::Bytes));
        assert_eq!(parse_condition("< 10MB").unwrap(), (Op::Lt, 10e6, Quantity::Bytes));
    }

    #[test]
    fn malformed_conditions_say_why() {
        assert!(parse_condition("about 3").unwrap_err().contains("expected an operator"));
        assert!(parse_condition("<").unwrap_err().contains("no value"));
        assert!(parse_condition("< soon").unwrap_err().contains("is not a number"));
        assert!(parse_condition("< inf").unwrap_err().contains("finite"));
    }

    #[test]
    fn operators_compare_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
        assert!(Op::Eq.holds(0.0, 0.0) && !Op::Eq.holds(1.0, 0.0));
        assert!(Op::Ne.holds(1.0, 0.0) && !Op::Ne.holds(0.0, 0.0));
    }
}
