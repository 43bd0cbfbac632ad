//! The module structure as data: every top-level module sits in a layer, may use modules of its
//! own layer or below, and no two modules use each other (directly or through others). Read
//! from the source text (`crate::name` paths), so a new import that breaks the layering fails
//! here with the file that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, bottom first: data, servers and harness, rendering and commands.
const LAYERS: &[&[&str]] = &[
    &["units", "parts"],
    &["scenario"],
    &["results"],
    &["capacity", "sigv4", "regression"],
    &["shaping"],
    &["metrics"],
    &["server", "storage"],
    &["app"],
    &["broker", "proxy", "loadgen"],
    &["harness"],
    &["report"],
    &["run", "plan", "signbench", "compare", "audit", "demo", "merge", "calibrate", "exit"],
    &["cli"],
];

fn layer(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("module {module} is in no layer"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `module → {(used module, file that uses it)}`, from `crate::name` in each file.
fn uses() -> BTreeMap<String, BTreeSet<(String, String)>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let mut deps = graph.entry(module.clone()).or_default().clone();
        for (i, _) in text.match_indices("crate::") {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // e.g. `presign_bench_crate::`
            }
            let rest = &text[i + "crate::".len()..];
            let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
                group[..group.find('}').unwrap_or(0)]
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or(""))
                    .collect()
            } else {
                vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("")]
            };
            for name in names.into_iter().filter(|n| !n.is_empty() && *n != module) {
                deps.insert((name.to_owned(), rel.display().to_string()));
            }
        }
        graph.insert(module, deps);
    }
    graph
}

#[test]
fn every_module_uses_only_its_layer_and_below() {
    let graph = uses();
    assert!(graph.len() >= 19, "found only {:?}", graph.keys());
    let mut wrong = Vec::new();
    for (module, deps) in &graph {
        for (dep, file) in deps {
            if layer(dep) > layer(module) {
                wrong.push(format!("src/{file}: {module} (layer {}) uses {dep} (layer {})", layer(module), layer(dep)));
            }
        }
    }
    assert!(wrong.is_empty(), "upward imports:\n{}", wrong.join("\n"));
}

/// Depth-first search for a cycle through `node`; returns it as a path.
fn visit<'a>(
    node: &'a str,
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Option<Vec<&'a str>> {
    if let Some(i) = path.iter().position(|n| *n == node) {
        return Some(path[i..].iter().copied().chain([node]).collect());
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).into_iter().flatten() {
        if let Some(cycle) = visit(next, edges, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node);
    None
}

#[test]
fn no_two_modules_import_each_other() {
    let graph = uses();
    let edges: BTreeMap<&str, BTreeSet<&str>> =
        graph.iter().map(|(m, deps)| (m.as_str(), deps.iter().map(|(d, _)| d.as_str()).collect())).collect();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        let cycle = visit(node, &edges, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "import cycle: {}", cycle.unwrap().join(" -> "));
    }
}

#[test]
fn every_module_says_what_it_owns_and_the_map_lists_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.starts_with("//!"), "{} does not start with a //! comment", file.display());
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for layer in LAYERS {
        for module in *layer {
            assert!(lib.contains(&format!("pub mod {module};")), "lib.rs does not declare {module}");
            assert!(lib.contains(&format!("[`{module}`]")), "lib.rs's module map does not list {module}");
        }
    }
}
