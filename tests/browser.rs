//! The presigned flow from a real browser: `presign-bench demo` serves its page on one origin,
//! the broker, the proxy and the store listen on others, and headless Chromium picks a file and
//! uploads it both ways, as a person would.
//!
//! The browser is Debian's `chromium`, driven over W3C WebDriver by Debian's `chromedriver` (the
//! same build, so the versions always match) through the `fantoccini` crate. WebDriver rather than
//! the DevTools protocol because a file input is set the standard way (keys sent to the input),
//! and rather than Playwright because it needs no Node runtime in a Rust test suite.
//! `tools/install-test-deps.sh` installs both packages; without them these tests fail, saying so.

use crate::common;

use common::chromium::Driver;
use fantoccini::{Client, Locator};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `presign-bench demo`.
struct Demo {
    child: Child,
    /// The page's URL, as printed.
    url: String,
    /// Where the demo keeps the store's data and the servers' logs.
    work: PathBuf,
}

impl Demo {
    async fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_presign-bench"))
            .args(["demo", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut work) = (None, None);
        while url.is_none() || work.is_none() {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("demo printed its URL within 60s")
                .unwrap()
                .expect("demo exited before printing its URL");
            if let Some(u) = line.strip_prefix("presign-bench demo: open ") {
                url = Some(u.to_owned());
            }
            if let Some((_, dir)) = line.split_once("logs in ") {
                work = Some(PathBuf::from(dir));
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, url: url.unwrap(), work: work.unwrap() }
    }

    /// Files the store holds under `prefix` (its data directory has one directory per bucket).
    fn stored(&self, prefix: &str) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() { walk(&path, out) } else { out.push(path) }
            }
        }
        let mut out = Vec::new();
        walk(&self.work.join("store").join("presign-bench-demo").join(prefix), &mut out);
        out
    }

    async fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id().unwrap()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let exited = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        assert!(exited.is_ok_and(|s| s.unwrap().success()), "demo stops cleanly on SIGTERM");
    }
}

/// Waits until `mode`'s status is `ok` or `error` (at most 120 s) and returns it with its text.
async fn outcome(browser: &Client, mode: &str) -> (String, String) {
    let status = browser.find(Locator::Id(&format!("{mode}-status"))).await.unwrap();
    for _ in 0..1200 {
        let state = status.attr("data-state").await.unwrap().unwrap_or_default();
        if state == "ok" || state == "error" {
            return (state, status.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{mode}: no outcome within 120s: {}", status.text().await.unwrap());
}

async fn number(browser: &Client, id: &str, attr: &str) -> f64 {
    let el = browser.find(Locator::Id(id)).await.unwrap();
    let value = el.attr(attr).await.unwrap().unwrap_or_default();
    value.parse().unwrap_or_else(|_| panic!("#{id} {attr}={value:?} is not a number"))
}

/// Clicks the upload button of `mode` and waits for its outcome: (`ok` or `error`, the status).
async fn upload(browser: &Client, mode: &str) -> (String, String) {
    browser.find(Locator::Id(&format!("upload-{mode}"))).await.unwrap().click().await.unwrap();
    outcome(browser, mode).await
}

/// Starts `demo EXTRA`, chromedriver and a browser session, opens the page and picks `file`.
async fn page_with(extra: &[&str], file: &Path, profile: &Path) -> (Demo, Driver, Client) {
    let demo = Demo::start(extra).await;
    let driver = Driver::start().await;
    let browser = driver.session(profile).await;
    browser.goto(&demo.url).await.unwrap();
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("body[data-ready=true]")).await.unwrap();
    browser.find(Locator::Id("file")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    (demo, driver, browser)
}

#[tokio::test]
async fn the_page_uploads_both_ways_and_shows_the_bytes_each_app_server_carried() {
    let tmp = tempfile::tempdir().unwrap();
    let size = 10 * 1024 * 1024 + 17;
    let body = common::jpeg(size, 7);
    let file = tmp.path().join("photo.jpg");
    std::fs::write(&file, &body).unwrap();
    let sha = const_hex::encode(sha2::Sha256::digest(&body));

    let (demo, _driver, browser) = page_with(&[], &file, &tmp.path().join("profile")).await;

    let (state, text) = upload(&browser, "presigned").await;
    assert_eq!(state, "ok", "presigned: {text}");
    // The page downloaded the file through the broker's presigned GET and hashed it.
    let got = browser.find(Locator::Id("presigned-status")).await.unwrap().attr("data-sha256").await.unwrap();
    assert_eq!(got.as_deref(), Some(sha.as_str()), "the presigned download equals the file");
    assert_eq!(demo.stored("files").len(), 1, "one verified file in the store");
    assert!(demo.stored("uploads").is_empty(), "the upload key is deleted once verified");

    let (state, text) = upload(&browser, "proxied").await;
    assert_eq!(state, "ok", "proxied: {text}");
    let got = browser.find(Locator::Id("proxied-status")).await.unwrap().attr("data-sha256").await.unwrap();
    assert_eq!(got.as_deref(), Some(sha.as_str()), "the proxied download equals the file");
    assert_eq!(demo.stored("proxied").len(), 1);

    // The bytes, as the page shows them: the proxy carried the file in and out again; the broker
    // carried a few kilobytes (presign and completion, their preflights, and its store calls).
    #[allow(clippy::cast_precision_loss)]
    let file_bytes = size as f64;
    let proxied = number(&browser, "proxied-bytes", "data-bytes").await;
    let presigned = number(&browser, "presigned-bytes", "data-bytes").await;
    assert!(proxied >= 2.0 * file_bytes, "proxy carried {proxied} B for a {file_bytes} B file");
    assert!(presigned > 0.0 && presigned < 64.0 * 1024.0, "broker carried {presigned} B");
    let ratio = number(&browser, "ratio", "data-ratio").await;
    assert!((ratio - proxied / presigned).abs() < 1e-6 * ratio, "ratio {ratio} is proxied/presigned");
    let shown = browser.find(Locator::Id("ratio")).await.unwrap().text().await.unwrap();
    assert!(shown.ends_with('×'), "{shown}");
    // Downloads: the proxy streamed the file back; the broker only handed out a URL.
    assert!(number(&browser, "proxied-download", "data-bytes").await >= 2.0 * file_bytes);
    assert!(number(&browser, "presigned-download", "data-bytes").await < 16.0 * 1024.0);

    if let Ok(path) = std::env::var("PRESIGN_BENCH_SCREENSHOT") {
        std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    }
    browser.close().await.unwrap();
    demo.stop().await;
}

#[tokio::test]
async fn a_page_on_an_origin_the_servers_do_not_allow_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("photo.jpg");
    std::fs::write(&file, common::jpeg(64 * 1024, 3)).unwrap();
    // The servers allow another origin only, so the page's own origin is foreign to them.
    let other = ["--cors-origin", "http://127.0.0.1:9"];
    let (demo, _driver, browser) = page_with(&other, &file, &tmp.path().join("profile")).await;

    let (state, text) = upload(&browser, "presigned").await;
    assert_eq!(state, "error", "{text}");
    assert!(text.starts_with("presign: the browser refused"), "{text}");
    let (state, text) = upload(&browser, "proxied").await;
    assert_eq!(state, "error", "{text}");
    assert!(text.starts_with("upload: the browser refused"), "{text}");
    for prefix in ["uploads", "files", "proxied"] {
        assert!(demo.stored(prefix).is_empty(), "nothing under {prefix}/: {:?}", demo.stored(prefix));
    }
    browser.close().await.unwrap();
    demo.stop().await;
}

/// The demo over HTTPS: the page, the store, the broker and the proxy each on an https origin
/// with a certificate from a CA the demo made at start; the browser trusts that CA (put in its
/// certificate database with Debian's certutil) and no exception is made for any certificate.
#[tokio::test]
async fn the_page_over_https_uploads_both_ways_trusting_the_demos_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("photo.jpg");
    let body = common::jpeg(256 * 1024 + 5, 9);
    std::fs::write(&file, &body).unwrap();
    let sha = const_hex::encode(sha2::Sha256::digest(&body));
    let ca = tmp.path().join("ca.pem");
    let home = tmp.path().join("home");
    let nssdb = home.join(".pki").join("nssdb");
    std::fs::create_dir_all(&nssdb).unwrap();
    let db = format!("sql:{}", nssdb.display());
    let certutil = |args: &[&str]| {
        let out = std::process::Command::new("/usr/bin/certutil").args(args).output().unwrap_or_else(|e| {
            panic!("certutil is missing ({e}): run tools/install-test-deps.sh (Debian's libnss3-tools)")
        });
        assert!(out.status.success(), "certutil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    certutil(&["-N", "-d", &db, "--empty-password"]);

    let extra = ["--tls-self-signed", "--tls-ca-out", ca.to_str().unwrap()];
    // The CA exists once the demo printed its URL; the browser is started after it is trusted.
    let demo = Demo::start(&extra).await;
    assert!(demo.url.starts_with("https://127.0.0.1:"), "{}", demo.url);
    // Not trusted yet: the browser refuses the page (Chromium shows its certificate error
    // instead, and the page never runs).
    {
        let driver = Driver::start_at_home(Some(&home)).await;
        let browser = driver.session(&tmp.path().join("profile-untrusted")).await;
        let _ = browser.goto(&demo.url).await;
        let ready =
            browser.wait().at_most(Duration::from_secs(5)).for_element(Locator::Css("body[data-ready=true]")).await;
        assert!(ready.is_err(), "the page loaded although the browser does not trust the demo's CA");
        browser.close().await.unwrap();
    }
    certutil(&["-A", "-d", &db, "-n", "presign-bench demo CA", "-t", "C,,", "-i", ca.to_str().unwrap()]);
    let driver = Driver::start_at_home(Some(&home)).await;
    let browser = driver.session(&tmp.path().join("profile")).await;
    browser.goto(&demo.url).await.unwrap();
    browser.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css("body[data-ready=true]")).await.unwrap();
    browser.find(Locator::Id("file")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    for mode in ["presigned", "proxied"] {
        let (state, text) = upload(&browser, mode).await;
        assert_eq!(state, "ok", "{mode} over https: {text}");
        let got =
            browser.find(Locator::Id(&format!("{mode}-status"))).await.unwrap().attr("data-sha256").await.unwrap();
        assert_eq!(got.as_deref(), Some(sha.as_str()), "{mode}: the download equals the file");
    }
    let proxied = number(&browser, "proxied-bytes", "data-bytes").await;
    assert!(proxied >= 2.0 * 256.0 * 1024.0, "the proxy carried the file in and out, TLS records included: {proxied}");
    browser.close().await.unwrap();
    drop(driver);
    demo.stop().await;
}
