//! One-shot requests on a fresh connection each, never a pooled one: a server counts a connection
//! whose first request is `/metrics` or `/healthz` as a scrape, not as app traffic. Used for
//! scrapes of the servers' counters and for readiness probes.

use super::http::{Http, full};
use crate::metrics::Snapshot;
use crate::tls::Trust;
use std::time::Duration;

/// `GET url` on a fresh connection (over TLS trusting `trust` for an `https` URL), bounded by
/// `limit`; returns the status and the whole body. Used for scrapes and readiness probes.
///
/// # Errors
/// A message naming the URL when it does not answer in time or the answer breaks off.
pub async fn get_once(url: &str, limit: Duration, trust: Option<&Trust>) -> Result<(u16, bytes::Bytes), String> {
    // A client of its own, dropped with its one connection when the answer is read.
    let client = Http::new(limit).tls(trust.cloned());
    let request = http::Request::get(url).body(full(bytes::Bytes::new())).map_err(|e| format!("{url}: {e}"))?;
    let (status, body) = client.send(request).await.map_err(|e| format!("{url}: {e}"))?;
    Ok((status.as_u16(), body))
}

/// Scrapes `base/metrics` on a fresh connection (scrapes never share app connections, so the
/// server counts them as admin traffic) and parses it.
///
/// # Errors
/// A message naming the URL when the server does not answer or a series is missing.
pub async fn scrape(base: &str, trust: Option<&Trust>) -> Result<Snapshot, String> {
    let url = format!("{base}/metrics");
    let (_, body) = get_once(&url, Duration::from_secs(10), trust).await?;
    Snapshot::parse(&String::from_utf8_lossy(&body)).map_err(|e| format!("{url}: {e}"))
}

/// Polls `url` + `path` until it answers 200, for at most `limit`.
pub async fn wait_ready(url: &str, path: &str, limit: Duration, trust: Option<&Trust>) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        let answer = get_once(&format!("{url}{path}"), Duration::from_secs(2), trust).await;
        if answer.is_ok_and(|(status, _)| status == 200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
