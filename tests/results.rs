//! The results contract: the committed JSON Schema is the one the types generate, real results
//! files (version 1 migrated, version 2 as written) validate against it, and files of other
//! versions are refused with one line.

use crate::common;

use common::validate_results as validate;
use presign_bench::results::{self, Phase, SCHEMA_VERSION, load, schema};
use presign_bench::scenario::Mode;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(root().join(schema::PATH)).unwrap();
    assert!(
        committed == schema::generate(),
        "{} is stale: regenerate it with `cargo run -- schema > {}`",
        schema::PATH,
        schema::PATH
    );
}

#[test]
fn both_fixture_versions_load_and_validate_as_version_2() {
    for (name, version) in [("results.json", 1), ("results-v2.json", 2)] {
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(raw["schema_version"], version, "{name}");
        let r = load(&fixture(name)).unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION);
        let written = serde_json::to_value(&r).unwrap();
        validate(&written).unwrap_or_else(|e| panic!("{name} as version 2 breaks the schema:\n{e}"));
        // Typed access: the fields a renamed key would have turned into `?` or 0.
        assert_eq!(r.scenario.name, "fixture", "{name}");
        assert!(r.scenario.target_uploads > 0, "{name}");
        for mode in Mode::ALL {
            let m = r.modes.get(mode).unwrap();
            assert!(m.latency_us[&Phase::EndToEnd].count > 0, "{name} {}", mode.as_str());
        }
        assert!(r.capacity.as_ref().is_some_and(|c| c.modes.len() == 2), "{name}");
    }
}

#[test]
fn a_version_2_file_migrates_to_3_and_a_version_3_file_round_trips_unchanged() {
    let text = std::fs::read_to_string(fixture("results-v2.json")).unwrap();
    let r = load(&fixture("results-v2.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = results::write(&r, dir.path()).unwrap();
    let v3 = std::fs::read_to_string(&path).unwrap();
    // The fixture has no thresholds, so the version is all that changes.
    assert_eq!(v3, text.replacen("\"schema_version\": 2", "\"schema_version\": 3", 1));
    let again = tempfile::tempdir().unwrap();
    let path = results::write(&load(&path).unwrap(), again.path()).unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), v3);
}

#[test]
fn the_schema_refuses_what_the_types_refuse() {
    let r = load(&fixture("results-v2.json")).unwrap();
    let mut v = serde_json::to_value(&r).unwrap();
    v["modes"]["proxied"]["latency_us"]["end_to_edn"] = v["modes"]["proxied"]["latency_us"]["end_to_end"].clone();
    assert!(validate(&v).unwrap_err().contains("end_to_edn"));
    let mut v = serde_json::to_value(&r).unwrap();
    v["modes"]["presigned"].as_object_mut().unwrap().remove("app_tier");
    assert!(validate(&v).is_err());
}

#[test]
fn report_refuses_an_unknown_version_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, r#"{"schema_version": 4, "modes": {}}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_presign-bench"))
        .args(["report", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "error: {}: results schema_version 4 is not supported (this build reads versions 1, 2 and 3)\n",
        path.display()
    );
    assert_eq!(stderr, expected);
}
