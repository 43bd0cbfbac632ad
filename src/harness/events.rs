//! Validation by store events in a run (`[validation] trigger = "event"`): the broker listens on
//! a port reserved before the store starts, so the store knows from its first write where to send
//! its events (the embedded store's `--notify-url`, MinIO's webhook target with a queue
//! directory, subscribed to `uploads/` through the S3 API); after each presigned mode, the
//! broker's event counts are read once every upload of the mode has had its event, or a bound
//! has passed.

use super::HarnessError;
use super::certs::RunTls;
use crate::broker::events::Stats;
use crate::client::http::{Http, full};
use crate::metrics::InOut;
use crate::results::events::EventResult;
use crate::results::latency::LatencySummary;
use crate::scenario::{Scenario, Trigger};
use std::path::Path;
use std::time::Duration;

/// Longest wait after a mode for the events of its uploads.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// The events of a run: the broker's address and the token the store presents.
#[derive(Clone, Debug)]
pub struct RunEvents {
    /// The token (`--events-token`, `--notify-token`, MinIO's `auth_token`).
    pub token: String,
    /// The broker's listen address, reserved before the store starts.
    pub listen: String,
    /// Where the store sends events.
    pub url: String,
}

impl RunEvents {
    /// The events of `scenario`'s run, when its trigger is `event`: a fresh token, and a port
    /// for the broker found by binding port 0 (released for the broker to bind; another process
    /// taking it in between fails the broker's start, named).
    ///
    /// # Errors
    /// [`HarnessError::Io`] when no port can be bound.
    pub fn new(scenario: &Scenario) -> Result<Option<Self>, HarnessError> {
        if scenario.validation.trigger != Trigger::Event {
            return Ok(None);
        }
        let port = super::children::free_port().map_err(super::io_error(Path::new("127.0.0.1:0")))?;
        let scheme = if scenario.tls.app_tier { "https" } else { "http" };
        Ok(Some(Self {
            token: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
            listen: format!("127.0.0.1:{port}"),
            url: format!("{scheme}://127.0.0.1:{port}/v1/events"),
        }))
    }

    /// The embedded store's flags: where to send events, for which keys, trusting the run's CA.
    #[must_use]
    pub fn store_args(&self, tls: Option<&RunTls>) -> Vec<String> {
        let mut args = vec![
            "--notify-url".to_owned(),
            self.url.clone(),
            "--notify-prefix".to_owned(),
            crate::app::policy::UPLOAD_PREFIX.to_owned(),
        ];
        if let Some(tls) = tls.filter(|_| self.url.starts_with("https")) {
            args.extend(["--notify-ca".to_owned(), tls.ca.display().to_string()]);
        }
        args
    }

    /// The embedded store's environment: the token.
    #[must_use]
    pub fn store_env(&self) -> (&'static str, String) {
        ("PRESIGN_BENCH_NOTIFY_TOKEN", self.token.clone())
    }

    /// The broker's environment: the token.
    #[must_use]
    pub fn broker_env(&self) -> (&'static str, String) {
        ("PRESIGN_BENCH_EVENTS_TOKEN", self.token.clone())
    }

    /// MinIO's webhook target, its queue in `queue_dir`; over HTTPS, MinIO (Go) trusts the run's
    /// CA through `SSL_CERT_FILE`.
    #[must_use]
    pub fn minio_env(&self, queue_dir: &Path, tls: Option<&RunTls>) -> Vec<(&'static str, String)> {
        let mut env = super::minio::webhook_env(&self.url, &self.token, queue_dir);
        if let Some(tls) = tls.filter(|_| self.url.starts_with("https")) {
            env.push(("SSL_CERT_FILE", tls.ca.display().to_string()));
        }
        env
    }

    /// The broker's event counts now.
    ///
    /// # Errors
    /// A message naming the URL when the broker does not answer 200 with its counts.
    pub async fn stats(&self, broker: &str, trust: Option<&crate::tls::Trust>) -> Result<Stats, String> {
        let url = format!("{broker}/v1/events/stats");
        // A client of its own: the broker counts a connection whose first request is this one
        // as a scrape, not as app traffic.
        let client = Http::new(Duration::from_secs(10)).tls(trust.cloned());
        let request = http::Request::get(&url)
            .header(http::header::AUTHORIZATION, format!("Bearer {}", self.token))
            .body(full(bytes::Bytes::new()))
            .map_err(|e| format!("{url}: {e}"))?;
        let (status, body) = client.send(request).await.map_err(|e| format!("{url}: {e}"))?;
        if status != http::StatusCode::OK {
            return Err(format!("{url}: answered {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// Waits until every verdict since `before` has had its event and every event taken is
    /// settled and counted (or [`DRAIN_LIMIT`] passed, or `cancel`), and returns the counts then.
    ///
    /// # Errors
    /// As [`Self::stats`].
    pub async fn drained(
        &self,
        broker: &str,
        trust: Option<&crate::tls::Trust>,
        before: &Stats,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Stats, String> {
        let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
        loop {
            let now = self.stats(broker, trust).await?;
            let done = now.without_event <= before.without_event && now.queued == 0;
            if done || tokio::time::Instant::now() >= deadline || cancel.is_cancelled() {
                return Ok(now);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A presigned mode's watch on the broker's events: the counts when it started.
pub struct Watch {
    events: RunEvents,
    before: Stats,
}

impl Watch {
    /// Reads the broker's counts now, when the run has events (`None` otherwise, or when the
    /// broker does not answer: logged).
    pub async fn start(events: Option<&RunEvents>, broker: &str, trust: Option<&crate::tls::Trust>) -> Option<Self> {
        let events = events?.clone();
        match events.stats(broker, trust).await {
            Ok(before) => Some(Self { events, before }),
            Err(m) => {
                tracing::warn!("{m}");
                None
            }
        }
    }

    /// The counts when the watch started and once the mode's events are in ([`RunEvents::drained`]).
    pub async fn finish(
        self,
        broker: &str,
        trust: Option<&crate::tls::Trust>,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Option<(Stats, Stats)> {
        match self.events.drained(broker, trust, &self.before, cancel).await {
            Ok(after) => Some((self.before, after)),
            Err(m) => {
                tracing::warn!("{m}");
                None
            }
        }
    }
}

/// What the events of one mode came to: `after` less `before`, with the bytes the deliveries
/// carried on the broker's sockets (between the `scrapes`).
#[must_use]
pub fn result(
    (before, after): (&Stats, &Stats),
    scrapes: (&crate::metrics::Snapshot, &crate::metrics::Snapshot),
) -> EventResult {
    let (first, last) = (scrapes.0.events, scrapes.1.events);
    let bytes = InOut {
        bytes_in: last.bytes_in.saturating_sub(first.bytes_in),
        bytes_out: last.bytes_out.saturating_sub(first.bytes_out),
    };
    let latency = match (after.latency.histogram(), before.latency.histogram()) {
        (Ok(mut a), Ok(b)) => match a.subtract(&b) {
            Ok(()) => LatencySummary::of(&a),
            Err(_) => after.latency.clone(),
        },
        _ => after.latency.clone(),
    };
    EventResult {
        counts: after.counts.since(&before.counts),
        lost: after.without_event.saturating_sub(before.without_event),
        latency_us: latency,
        bytes_in: bytes.bytes_in,
        bytes_out: bytes.bytes_out,
    }
}
