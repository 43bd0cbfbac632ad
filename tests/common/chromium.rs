//! Headless Chromium for the browser tests: Debian's `chromium`, driven over W3C WebDriver by
//! Debian's `chromedriver` (the same build, so the versions always match) through `fantoccini`.
//! `tools/install-test-deps.sh` installs both; without them these tests fail, saying so.

use fantoccini::{Client, ClientBuilder};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free port, in its own process group (killed with its browsers on drop).
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub async fn start() -> Self {
        Self::start_at_home(None).await
    }

    /// chromedriver (and the browsers it starts) with `HOME` set to `home`, whose
    /// `.pki/nssdb` is the certificate database Chromium trusts beyond its own roots.
    pub async fn start_at_home(home: Option<&Path>) -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run tools/install-test-deps.sh (Debian's chromium and chromium-driver)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut command = Command::new(CHROMEDRIVER);
        if let Some(home) = home {
            command.env("HOME", home);
        }
        let child = command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let ready = super::eventually(Duration::from_secs(20), async || {
            reqwest::get(format!("{url}/status")).await.is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(ready, "chromedriver answered on {url} within 20s");
        Self { child, url }
    }

    /// A headless Chromium session with its own profile.
    pub async fn session(&self, profile: &Path) -> Client {
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1100,1000", "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector).capabilities(caps).connect(&self.url).await.expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.child.id() {
            let group = nix::unistd::Pid::from_raw(i32::try_from(id).unwrap());
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}
