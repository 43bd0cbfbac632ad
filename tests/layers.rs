//! The module structure as data: every top-level module sits in a layer, may use modules of its
//! own layer or below, and no two modules use each other (directly or through others); nor do
//! two files, inside a folder too (`super::` and `self::` paths count; a module's use of the
//! modules below it does not). Read from the source text, so a new import that breaks the layering
//! fails here with the file that made it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, bottom first: data, servers and harness, rendering and commands.
const LAYERS: &[&[&str]] = &[
    &["units", "parts", "human", "columns", "tls"],
    &["scenario"],
    &["results"],
    &["capacity", "sigv4", "gate"],
    &["shaping"],
    &["metrics"],
    &["server", "storage"],
    &["app"],
    &["broker", "proxy", "loadgen"],
    &["client"],
    &["harness"],
    &["shard"],
    &["report", "live"],
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
    let cycle = first_cycle(&edges);
    assert!(cycle.is_none(), "import cycle: {}", cycle.unwrap_or_default().join(" -> "));
}

/// The first cycle in `edges`, if there is one.
fn first_cycle<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
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

/// The module path of a source file: `src/report/html.rs` is `report::html`, `src/report/mod.rs`
/// is `report`, `lib.rs` and `main.rs` the crate root.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && !(parts.is_empty() && (stem == "lib" || stem == "main")) {
        parts.push(stem.to_owned());
    }
    parts
}

/// The text a file's imports are read from: comments dropped, and an inline `#[cfg(test)] mod
/// tests { … }` at its end left out (its `super::` is the file itself).
fn code_of(text: &str) -> String {
    let text = text.find("#[cfg(test)]\nmod tests {").map_or(text, |i| &text[..i]);
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The paths a file names (`crate::…`, `super::…`, `self::…`, `child::…` for the modules it
/// declares), each resolved to the module path it starts from plus its segments; a `{…}` group
/// gives one path per member.
fn named_paths(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let children: Vec<String> = code
        .lines()
        .filter_map(|l| {
            let l =
                l.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub(super) ").trim_start_matches("pub ");
            l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
        })
        .collect();
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let rest: String = bytes[i..bytes.len().min(i + 400)].iter().collect();
        let word: String = rest.chars().take_while(|c| ident(*c)).collect();
        i += word.len().max(1);
        let Some(after) = rest[word.len()..].strip_prefix("::") else { continue };
        let mut base: Vec<String> = match word.as_str() {
            "crate" => Vec::new(),
            "self" => here.to_vec(),
            "super" => here[..here.len().saturating_sub(1)].to_vec(),
            w if children.iter().any(|c| c == w) => [here, &[w.to_owned()]].concat(),
            _ => continue,
        };
        let mut tail = after;
        while let Some(more) = tail.strip_prefix("super::") {
            base.pop();
            tail = more;
        }
        let mut segments = base;
        loop {
            let name: String = tail.chars().take_while(|c| ident(*c)).collect();
            if name.is_empty() {
                break;
            }
            segments.push(name.clone());
            if let Some(next) = tail[name.len()..].strip_prefix("::") {
                tail = next;
            } else {
                tail = "";
                break;
            }
        }
        match tail.strip_prefix('{') {
            Some(group) => {
                for member in group[..group.find('}').unwrap_or(0)].split(',') {
                    let first = member.trim().split("::").next().unwrap_or("").trim();
                    if !first.is_empty() && first != "self" && first != "*" {
                        out.push([&segments[..], &[first.to_owned()]].concat());
                    }
                }
                out.push(segments);
            }
            None => out.push(segments),
        }
    }
    out
}

/// `file → {files it imports}` inside `src/`. A module's use of the modules below it is not an
/// import (it declares them); every other named path is, resolved to the file of its longest
/// prefix that is a module.
fn file_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| (module_of(f.strip_prefix(&src).unwrap()), format!("src/{}", f.strip_prefix(&src).unwrap().display())))
        .collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let here = module_of(file.strip_prefix(&src).unwrap());
        let name = modules[&here].clone();
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let mut deps = BTreeSet::new();
        for path in named_paths(&code, &here) {
            let target = (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]).map(|f| (n, f)));
            let Some((n, target)) = target else { continue };
            let own_descendant = n > here.len() && path[..here.len()] == here[..];
            if *target != name && !own_descendant {
                deps.insert(target.clone());
            }
        }
        graph.insert(name, deps);
    }
    graph
}

#[test]
fn no_two_files_import_each_other() {
    let graph = file_imports();
    assert!(graph.len() > 80, "found only {} files", graph.len());
    // The reader sees `super::` and child paths: the harness's files import its mod.rs.
    assert!(graph["src/harness/stages.rs"].contains("src/harness/mod.rs"), "{:?}", graph["src/harness/stages.rs"]);
    assert!(graph["src/gate/junit.rs"].contains("src/gate/render.rs"), "{:?}", graph["src/gate/junit.rs"]);
    let edges: BTreeMap<&str, BTreeSet<&str>> =
        graph.iter().map(|(f, deps)| (f.as_str(), deps.iter().map(String::as_str).collect())).collect();
    let cycle = first_cycle(&edges);
    assert!(cycle.is_none(), "files importing each other: {}", cycle.unwrap_or_default().join(" -> "));
}

#[test]
fn a_circle_between_files_is_found() {
    // The reader itself, on a made-up folder: `a` uses `super::b::B`, `b` uses `super::a::A`.
    let a = named_paths(&code_of("use super::b::B;\nfn f() -> super::b::B { todo() }\n"), &["x".into(), "a".into()]);
    let b = named_paths(&code_of("use super::{a::A, c};\n"), &["x".into(), "b".into()]);
    assert!(a.contains(&vec!["x".to_owned(), "b".to_owned(), "B".to_owned()]), "{a:?}");
    assert!(b.iter().any(|p| p[..2] == ["x", "a"]), "{b:?}");
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    edges.insert("x/a.rs", ["x/b.rs"].into());
    edges.insert("x/b.rs", ["x/a.rs"].into());
    assert_eq!(first_cycle(&edges), Some(vec!["x/a.rs", "x/b.rs", "x/a.rs"]));
    // A comment or an inline test module is no import.
    assert!(
        named_paths(
            &code_of("// use super::b::B;\n#[cfg(test)]\nmod tests {\n    use super::b::C;\n}\n"),
            &["x".into(), "a".into()]
        )
        .is_empty()
    );
}
