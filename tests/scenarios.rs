//! Every scenario shipped in `scenarios/` loads and validates, thresholds included.

use presign_bench::scenario::{Overrides, Scenario};

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
            presign_bench::gate::thresholds::validate(&s).unwrap_or_else(|e| panic!("{e}"));
            assert!(s.description.len() > 20, "{}: describe what it shows", path.display());
            assert_eq!(path.file_stem().unwrap().to_str().unwrap(), s.name, "file name and scenario name agree");
            names.push(s.name);
        }
    }
    names.sort();
    for expected in [
        "ci-smoke",
        "default",
        "interview-50k",
        "large-files",
        "mobile-clients",
        "private-videos",
        "public-images",
        "read-heavy",
        "small-files",
    ] {
        assert!(names.iter().any(|n| n == expected), "scenarios/{expected}.toml is missing");
    }
    let smoke = Scenario::load(&dir.join("ci-smoke.toml"), &Overrides::default()).unwrap();
    assert!(smoke.thresholds.len() >= 10, "ci-smoke carries the CI gate's thresholds");
}
