//! Reading a results.json of any version this build knows. Version 3 is read as it is; version 2
//! (before thresholds could be "not applicable") gains each threshold's `status` from its
//! `passed`; version 1 (the layout before the scenario was typed) is migrated to 2 first:
//! - its scenario gains the keys later version-1 writers added (`sweep`, `signing`, `client`,
//!   `app_tier_nic_bytes_per_sec`, `max_size`, ...) with the values those writers implied;
//! - `scenario.client.rtt` (milliseconds) becomes `scenario.client.rtt_ms`;
//! - capacity inputs' `source` and a plan's `binding` were free strings and are now names of a
//!   closed set (the same names, so they read unchanged).
//!
//! A file of any other version is refused with a one-line error naming the version.

use super::{Results, SCHEMA_VERSION};
use serde_json::{Value, json};
use std::path::Path;

/// Versions this build reads.
pub const READABLE: [u32; 3] = [1, 2, 3];

/// Errors of reading a results.json.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not JSON, or not the layout its version says.
    #[error("{path}: not a presign-bench results.json (schema version {version}): {message}")]
    Parse {
        /// The file.
        path: String,
        /// The version it claims (0 when it claims none).
        version: u64,
        /// What serde said, with the path of the offending key.
        message: String,
    },
    /// A version this build cannot read.
    #[error("{path}: results schema_version {version} is not supported (this build reads versions 1, 2 and 3)")]
    Version {
        /// The file.
        path: String,
        /// The version it claims.
        version: u64,
    },
}

/// Reads `path`, migrating older versions to the current one.
///
/// # Errors
/// [`LoadError`] naming the file, and the key or version that is wrong.
pub fn load(path: &Path) -> Result<Results, LoadError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: name.clone(), source })?;
    from_str(&name, &text)
}

/// Parses results text read from `name`, migrating older versions.
///
/// # Errors
/// As [`load`].
pub fn from_str(name: &str, text: &str) -> Result<Results, LoadError> {
    let parse = |version: u64, message: String| LoadError::Parse { path: name.to_owned(), version, message };
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| parse(0, format!("line {} column {}: {e}", e.line(), e.column())))?;
    let version = value.get("schema_version").and_then(Value::as_u64).unwrap_or(0);
    match version {
        1 => {
            migrate_v1(&mut value);
            migrate_v2(&mut value);
        }
        2 => migrate_v2(&mut value),
        v if v == u64::from(SCHEMA_VERSION) => {}
        _ => return Err(LoadError::Version { path: name.to_owned(), version }),
    }
    serde_path_to_error::deserialize(value).map_err(|e| parse(version, format!("`{}`: {}", e.path(), e.inner())))
}

/// Version 2 → version 3, in place: each threshold's `status` from its `passed`.
fn migrate_v2(v: &mut Value) {
    v["schema_version"] = json!(SCHEMA_VERSION);
    for t in v.get_mut("thresholds").and_then(Value::as_array_mut).into_iter().flatten() {
        let passed = t.get("passed").and_then(Value::as_bool).unwrap_or(false);
        t["status"] = json!(if passed { "passed" } else { "failed" });
    }
}

/// Version 1 → version 2, in place.
fn migrate_v1(v: &mut Value) {
    v["schema_version"] = json!(2);
    let Some(s) = v.get_mut("scenario").and_then(Value::as_object_mut) else { return };
    let defaults = [
        ("description", json!("")),
        ("sweep", json!([])),
        ("signing", Value::Null),
        ("client", json!({})),
        ("app_tier_nic_bytes_per_sec", Value::Null),
        ("max_size", json!(crate::scenario::DEFAULT_MAX_SIZE)),
        ("request_timeout_ms", json!(crate::scenario::DEFAULT_REQUEST_TIMEOUT_MS)),
        ("max_duration_ms", json!(crate::scenario::DEFAULT_MAX_DURATION_MS)),
        ("source", json!("")),
    ];
    for (key, value) in defaults {
        s.entry(key).or_insert(value);
    }
    if let Some(client) = s.get_mut("client").and_then(Value::as_object_mut) {
        let rtt = client.remove("rtt").unwrap_or(Value::Null);
        client.entry("rtt_ms").or_insert(rtt);
        client.entry("bandwidth_bytes_per_sec").or_insert(Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_versions_are_one_line_errors_naming_the_version() {
        let err = from_str("r.json", r#"{"schema_version": 7}"#).unwrap_err().to_string();
        assert_eq!(err, "r.json: results schema_version 7 is not supported (this build reads versions 1, 2 and 3)");
        assert!(!err.contains('\n'));
        let err = from_str("r.json", r#"{"modes": {}}"#).unwrap_err().to_string();
        assert!(err.contains("schema_version 0 is not supported"), "{err}");
    }

    #[test]
    fn a_missing_field_names_its_path() {
        let err = from_str("r.json", r#"{"schema_version": 2, "scenario": {}}"#).unwrap_err().to_string();
        assert!(err.starts_with("r.json: not a presign-bench results.json (schema version 2): `scenario"), "{err}");
        let err = from_str("r.json", "{").unwrap_err().to_string();
        assert!(err.contains("line 1 column 1"), "{err}");
    }

    #[test]
    fn v2_thresholds_gain_their_status() {
        let mut v = json!({"schema_version": 2, "thresholds": [{"passed": true}, {"passed": false}]});
        migrate_v2(&mut v);
        assert_eq!(v["schema_version"], json!(3));
        assert_eq!(v["thresholds"][0]["status"], json!("passed"));
        assert_eq!(v["thresholds"][1]["status"], json!("failed"));
    }

    #[test]
    fn v1_client_rtt_becomes_rtt_ms() {
        let mut v = json!({"schema_version": 1, "scenario": {"client": {"rtt": 40}}});
        migrate_v1(&mut v);
        assert_eq!(v["scenario"]["client"], json!({"rtt_ms": 40, "bandwidth_bytes_per_sec": null}));
        assert_eq!(v["schema_version"], json!(2));
        assert_eq!(v["scenario"]["sweep"], json!([]));
    }
}
