//! The live view of a run (`run --live [ADDR]`): a small web server, on 127.0.0.1 unless told
//! otherwise, serving one page built into the binary. The page asks `/live.json` about once a
//! second for the run so far, rendered from the harness's feed into the same document as the
//! final report ([`report::live`]), and opens the finished report (`/report`) when the run has
//! ended. What it serves is the report's content: no token, no store credentials.

use crate::harness::live::{Feed, Snapshot};
use crate::report;
use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The page's script.
const SCRIPT: &str = include_str!("page.js");

/// After the run, how long the view waits for a page that was watching to open the report.
const LINGER: Duration = Duration::from_secs(10);

/// What the handlers share: the feed's latest snapshot, the last rendering, who is watching.
struct Shared {
    snapshots: watch::Receiver<Option<Arc<Snapshot>>>,
    /// The fragment of the last snapshot rendered, by its `seq`: each snapshot is rendered once
    /// however many pages ask.
    rendered: Mutex<(u64, Arc<String>)>,
    /// When a page last asked for the run so far.
    polled: Mutex<Option<Instant>>,
    /// Set once the finished report has been served.
    report_served: tokio::sync::Notify,
}

/// The running live view.
pub struct Live {
    feed: Feed,
    shared: Arc<Shared>,
    url: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Live {
    /// Serves the live view on `addr` (port 0 picks a free one).
    ///
    /// # Errors
    /// An address that cannot be bound, named as the flag.
    pub async fn start(addr: SocketAddr) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("--live {addr}"))?;
        let url = format!("http://{}/", listener.local_addr()?);
        let (feed, snapshots) = Feed::new();
        let shared = Arc::new(Shared {
            snapshots,
            rendered: Mutex::new((0, Arc::new(String::new()))),
            polled: Mutex::new(None),
            report_served: tokio::sync::Notify::new(),
        });
        let app = Router::new()
            .route("/", get(|| async { Html(report::live::page(SCRIPT)) }))
            .route("/live.json", get(live_json))
            .route("/report", get(finished_report))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let until = stop.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(until.cancelled_owned()).await;
            if let Err(e) = served {
                tracing::warn!("the live view stopped: {e}");
            }
        });
        Ok(Self { feed, shared, url, stop, task })
    }

    /// The feed the harness publishes to.
    #[must_use]
    pub fn feed(&self) -> Feed {
        self.feed.clone()
    }

    /// The page's address.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The run has ended with `results`, its report in `dir`: the page opens it. When a page was
    /// watching, waits (at most [`LINGER`]) until it has fetched the report; then stops serving.
    pub async fn finish(mut self, results: &crate::results::Results, dir: PathBuf) {
        let served = self.shared.report_served.notified();
        self.feed.finish(results.clone(), dir);
        let watching = self.shared.polled.lock().ok().and_then(|p| *p).is_some_and(|at| at.elapsed() < LINGER);
        if watching {
            let _ = tokio::time::timeout(LINGER, served).await;
        }
        self.stop.cancel();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Live {
    /// A run that failed before its end stops the view too.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `GET /live.json`: `{seq, stage, finished, html}`, the run so far.
async fn live_json(State(shared): State<Arc<Shared>>) -> Response {
    if let Ok(mut polled) = shared.polled.lock() {
        *polled = Some(Instant::now());
    }
    let snapshot = shared.snapshots.borrow().clone();
    let Some(s) = snapshot else {
        return axum::Json(serde_json::json!({ "seq": 0, "stage": "starting", "finished": false, "html": "" }))
            .into_response();
    };
    let html = {
        let cached = shared.rendered.lock().ok().filter(|r| r.0 == s.seq).map(|r| r.1.clone());
        if let Some(html) = cached {
            html
        } else {
            let html = Arc::new(report::live::fragment(&s));
            if let Ok(mut r) = shared.rendered.lock() {
                *r = (s.seq, html.clone());
            }
            html
        }
    };
    let body = serde_json::json!({
        "seq": s.seq,
        "stage": s.stage,
        "finished": s.report.is_some(),
        "html": html.as_str(),
    });
    axum::Json(body).into_response()
}

/// `GET /report`: the finished report (`report.html`), once the run has ended.
async fn finished_report(State(shared): State<Arc<Shared>>) -> Response {
    let dir = shared.snapshots.borrow().as_ref().and_then(|s| s.report.clone());
    let error = |status: StatusCode, code: &str, message: String| {
        (status, axum::Json(serde_json::json!({ "error": { "code": code, "message": message } }))).into_response()
    };
    let Some(dir) = dir else {
        return error(StatusCode::NOT_FOUND, "not_finished", "the run has not ended yet".into());
    };
    let file = dir.join("report.html");
    match tokio::fs::read_to_string(&file).await {
        Ok(page) => {
            shared.report_served.notify_waiters();
            Html(page).into_response()
        }
        Err(e) => error(StatusCode::NOT_FOUND, "no_report", format!("{}: {e}", file.display())),
    }
}
