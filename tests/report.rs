//! Reports rendered from a results.json fixture produced by a real small run
//! (`presign-bench run tests/fixtures/fixture.toml`).

use presign_bench::human::{ms, ratio};
use presign_bench::report::document::Block;
use presign_bench::report::render;
use presign_bench::results::{Phase, load};
use std::path::{Path, PathBuf};

/// Every plot the fixture (a run with a capacity section, no sweep) produces.
const PLOTS: [&str; 5] = ["bandwidth", "latency", "timeline", "resources", "capacity"];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> =
        PLOTS.iter().flat_map(|p| [dir.join(format!("{p}.svg")), dir.join(format!("{p}.png"))]).collect();
    names.push(dir.join("summary.md"));
    names.push(dir.join("report.html"));
    names
}

#[test]
fn renders_every_file() {
    let results = load(&fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, written) = render(&results, dir.path()).unwrap();
    for f in files(dir.path()) {
        assert!(written.contains(&f), "{} not reported as written", f.display());
        assert!(std::fs::metadata(&f).unwrap().len() > 0, "{} is empty", f.display());
    }
    for p in PLOTS {
        let png = std::fs::File::open(dir.path().join(format!("{p}.png"))).unwrap();
        let reader = png::Decoder::new(std::io::BufReader::new(png)).read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (1600, 900), "{p}.png");
        let svg = std::fs::read_to_string(dir.path().join(format!("{p}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{p}.svg is not XML: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(doc.descendants().filter(|n| n.has_tag_name("text")).count() > 5, "{p}.svg has readable labels");
    }
}

#[test]
fn documents_carry_the_ratio_and_each_modes_p99() {
    let results = load(&fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    render(&results, dir.path()).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let headline = ratio(results.comparison.as_ref().unwrap().client_bytes_ratio);
    assert!(headline.ends_with('×') && headline.len() > 2);
    for (name, doc) in [("report.html", &html), ("summary.md", &md)] {
        assert!(doc.contains(&headline), "{name} lacks {headline}");
        for (mode, m) in results.modes.present() {
            let p99 = ms(m.latency_us[&Phase::EndToEnd].p99);
            assert!(doc.contains(&p99), "{name} lacks {} p99 {p99}", mode.as_str());
        }
        assert!(doc.contains("extrapolated"), "{name} labels extrapolated figures");
    }
    // Self-contained: every plot inline, nothing fetched.
    assert_eq!(html.matches("<svg").count(), PLOTS.len());
    for p in PLOTS {
        assert!(html.contains(&format!("<figure id=\"{p}\">")), "{p} missing from report.html");
    }
    for fetch in ["src=", "<link", "@import", "url("] {
        assert!(!html.contains(fetch), "report.html contains {fetch}");
    }
    assert!(md.contains("| proxied | presigned |"));
}

#[test]
fn rendering_is_deterministic() {
    let results = load(&fixture()).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    render(&results, a.path()).unwrap();
    render(&results, b.path()).unwrap();
    for f in files(a.path()) {
        let name = f.file_name().unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), std::fs::read(b.path().join(name)).unwrap(), "{name:?} differs");
    }
}

/// Every figure of the document (each table cell, each sentence) in each rendering, escaped as
/// that format escapes it; and none in e-notation.
#[test]
fn terminal_markdown_and_html_show_the_same_figures() {
    for name in ["results.json", "results-v2.json"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let results = load(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (doc, _) = render(&results, dir.path()).unwrap();
        let text = presign_bench::report::text::render(&doc);
        let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        let mut figures = Vec::new();
        for block in doc.sections.iter().flat_map(|s| &s.blocks) {
            match block {
                Block::Table(t) => figures.extend(t.rows.iter().flat_map(|r| r.cells.iter().cloned())),
                Block::Paragraph(p) => figures.push(p.clone()),
                Block::Explanation(_) | Block::Figure(_) => {}
            }
        }
        assert!(figures.len() > 60, "{name}: {} figures", figures.len());
        for f in figures.iter().filter(|f| !f.is_empty()) {
            assert!(text.contains(f.as_str()), "{name}: the terminal lacks {f:?}");
            assert!(md.contains(&f.replace('|', "\\|")), "{name}: summary.md lacks {f:?}");
            assert!(html.contains(&*html_escape::encode_double_quoted_attribute(f)), "{name}: report.html lacks {f:?}");
            let e_notation = f.as_bytes().windows(3).any(|w| {
                w[0].is_ascii_digit() && w[1] == b'e' && (w[2].is_ascii_digit() || w[2] == b'+' || w[2] == b'-')
            });
            assert!(!e_notation, "{name}: {f:?} is in e-notation");
        }
        assert!(text.contains(&doc.headline.as_ref().unwrap().claim), "{name}: the terminal lacks the headline");
    }
}

#[test]
fn report_command_rerenders_and_names_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_presign-bench"))
        .args(["report", fixture().to_str().unwrap(), "--out", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout);
    for f in files(dir.path()) {
        assert!(listed.contains(&f.display().to_string()), "{listed}");
    }
    assert!(dir.path().join("results.json").exists(), "the report folder is complete");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"schema_version\": 1,\n  \"modes\": 7\n}").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_presign-bench"))
        .args(["report", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}:", bad.display())) && stderr.contains("results.json"), "{stderr}");
}

/// The answer first: the capacity answer in words (servers per architecture and what binds them,
/// hand-checked against the fixture's capacity section) before the tables, in every rendering,
/// with its inputs one click away in the page.
#[test]
fn the_headline_answers_how_many_app_servers_each_architecture_needs() {
    let results = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (doc, _) = render(&results, dir.path()).unwrap();
    let answer = doc.headline.as_ref().unwrap().answer.clone().unwrap();
    assert_eq!(
        answer,
        "For 50,000 uploads of 4.2 MB within 60 s, proxying needs 6 app servers (bound by their memory); \
         presigned URLs need 1 app server (bound by its network bandwidth)."
    );
    let text = presign_bench::report::text::render(&doc);
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for (name, rendered, table) in [
        ("terminal", &text, "uploads ok / failed"),
        ("summary.md", &md, "| uploads ok"),
        ("report.html", &html, "<table id=\"modes\">"),
    ] {
        let at = rendered.find(&answer).unwrap_or_else(|| panic!("{name} lacks the answer"));
        assert!(at < rendered.find(table).unwrap(), "{name}: the answer comes before the tables");
    }
    assert!(html.contains("<a href=\"#capacity-inputs\">") && html.contains("<table id=\"capacity-inputs\">"));
}
