//! `run --live`: a real run watched in headless Chromium (its figures change as the run goes on,
//! marked provisional, and the page ends on the finished report, whose figures are results.json's),
//! and what the live endpoint serves: on 127.0.0.1 only by default, and no secret of the run.

use crate::common;
use common::chromium::Driver;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Uploads per mode, at 20 per second: about 5 s per mode, enough for a page polling each second.
const UPLOADS: u64 = 100;

/// The store's credentials the run is given (the embedded store starts with them).
const ACCESS_KEY: &str = "live-view-access-key";
const SECRET_KEY: &str = "live-view-secret-key-never-served";

fn scenario(dir: &Path) -> PathBuf {
    let path = dir.join("watched.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"watched\"\nmodes = [\"proxied\", \"presigned\"]\n[run]\nuploads = {UPLOADS}\nrate = \"20/s\"\n\
             concurrency = 4\nobject_size = \"64KiB\"\nusers = 4\nverify = \"all\"\n[signing]\nenabled = false\n"
        ),
    )
    .unwrap();
    path
}

/// `presign-bench run SCENARIO --live` under way, and the live view's URL it printed.
struct Watched {
    child: Child,
    url: String,
    out: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Watched {
    async fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("report");
        let mut child = Command::new(common::BIN)
            .args(["run", scenario(tmp.path()).to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--live"])
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("run printed the live view's URL within 60 s")
                .unwrap()
                .expect("run exited before printing the live view's URL");
            if let Some(url) = line.strip_prefix("live view: ") {
                break url.to_owned();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url, out, _tmp: tmp }
    }

    async fn wait(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(180), self.child.wait()).await.expect("the run ended").unwrap()
    }

    fn results(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.out.join("results.json")).unwrap()).unwrap()
    }
}

/// The text of the element `id` on the page, empty when it has none.
async fn text(browser: &fantoccini::Client, id: &str) -> String {
    let script = format!("const e = document.getElementById('{id}'); return e ? e.innerText : '';");
    browser.execute(&script, vec![]).await.unwrap().as_str().unwrap_or_default().to_owned()
}

/// The cells of the row labelled `label` of a table's text (one row per line, cells tab-separated).
fn row(table: &str, label: &str) -> Vec<String> {
    let line = table.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no row {label:?} in {table}"));
    line.split('\t').skip(1).map(|c| c.trim().to_owned()).collect()
}

#[tokio::test]
async fn chromium_watches_a_run_live_and_ends_on_its_finished_report() {
    let mut run = Watched::start().await;
    let driver = Driver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;
    browser.goto(&run.url).await.unwrap();

    // Until the page opens the finished report: every different mode table it showed.
    let mut seen: Vec<String> = Vec::new();
    let mut provisional = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !browser.current_url().await.unwrap().path().ends_with("/report") {
        assert!(tokio::time::Instant::now() < deadline, "the page did not open the report; it showed {seen:?}");
        let modes = text(&browser, "modes").await;
        provisional |= text(&browser, "status").await.contains("in flight") && modes.contains("(provisional)");
        if !modes.is_empty() && seen.last() != Some(&modes) {
            seen.push(modes);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(seen.len() >= 4, "the figures changed at least three times while the run went on: {seen:#?}");
    assert!(provisional, "the changing figures were marked provisional");

    // The finished report: its plots (the live view draws none) and its figures, which are
    // results.json's.
    let plotted = async || browser.find(fantoccini::Locator::Id("bandwidth")).await.is_ok();
    assert!(common::eventually(Duration::from_secs(20), plotted).await, "the finished report, with its plots");
    let status = run.wait().await;
    assert!(status.success(), "{status}");
    let results = run.results();
    let modes = text(&browser, "modes").await;
    let ok = row(&modes, "uploads ok / failed");
    for (i, mode) in ["proxied", "presigned"].into_iter().enumerate() {
        let m = &results["modes"][mode];
        assert_eq!(ok[i], format!("{} / {}", m["uploads_ok"], m["uploads_failed"]), "{mode}: {modes}");
        assert_eq!(m["uploads_ok"], UPLOADS, "{mode}");
    }
    assert!(!modes.contains("provisional"), "the finished report marks nothing provisional: {modes}");
    let answer = text(&browser, "answer").await;
    assert!(answer.contains("proxying needs") && answer.contains("presigned URLs need"), "{answer}");
    browser.close().await.unwrap();
}

/// The values of `names` in the environment of the processes whose parent is `pid`.
fn children_env(pid: u32, names: &[&str]) -> Vec<String> {
    let mut values = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if parent != Some(&pid.to_string()) {
            continue;
        }
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        for var in environ.split(|b| *b == 0).map(String::from_utf8_lossy) {
            if let Some((k, v)) = var.split_once('=')
                && names.contains(&k)
            {
                values.push(v.to_owned());
            }
        }
    }
    values
}

#[tokio::test]
async fn the_live_view_answers_on_loopback_only_and_serves_no_secret() {
    let mut run = Watched::start().await;
    let url = reqwest::Url::parse(&run.url).unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"), "the default address");
    let port = url.port().unwrap();
    // Another address of this machine (loopback too, so nothing leaves it) gets no answer.
    let elsewhere = tokio::net::TcpStream::connect(("127.0.0.2", port)).await;
    assert!(elsewhere.is_err(), "the live view listens on 127.0.0.1 only");

    // Everything it serves while the run goes on and after, against the run's secrets.
    let pid = run.child.id().unwrap();
    let mut secrets = vec![SECRET_KEY.to_owned()];
    let client = common::client();
    let mut served = String::new();
    let mut finished = false;
    for _ in 0..600 {
        secrets.extend(children_env(pid, &["PRESIGN_BENCH_TOKEN_SECRET", "AWS_SECRET_ACCESS_KEY"]));
        let Ok(answer) = client.get(format!("{}live.json", run.url)).send().await else { break };
        let live: serde_json::Value = answer.json().await.unwrap();
        served.push_str(&live.to_string());
        if live["finished"] == true {
            finished = true;
            served.push_str(&client.get(&run.url).send().await.unwrap().text().await.unwrap());
            served.push_str(&client.get(format!("{}report", run.url)).send().await.unwrap().text().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(finished, "the live view said the run finished");
    secrets.sort();
    secrets.dedup();
    assert!(secrets.iter().any(|s| s.len() >= 32), "the app servers' token secret was read: {}", secrets.len());
    for secret in &secrets {
        assert!(!served.contains(secret.as_str()), "the live view served a secret of the run");
    }
    assert!(served.contains("watched"), "what was served is the run's report");
    assert!(run.wait().await.success());
}
