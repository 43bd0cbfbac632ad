//! Downloads (`[downloads] per_object`): after a mode's uploads, each object it stored is read
//! back through the same architecture, as its owner would, and every byte is hashed and compared.
//!
//! - proxied: `GET /v1/proxy/files/{id}`, the bytes streamed through the proxy (`transfer`);
//! - presigned: `GET /v1/files/{id}` with `Accept: application/json` at the broker for a
//!   presigned GET URL (`resolve`), then the `GET` to the store (`transfer`).
//!
//! The app server's `/metrics` around the downloads give the read side's app-tier bytes, as
//! around the uploads for the write side.

use super::context::{Ctx, guarded_load, snapshot};
use super::http::{self, Http};
use super::job::{Common, Flow};
use super::stack::Stack;
use super::{Stage, StopReason, build};
use crate::loadgen::Load;
use crate::loadgen::{Done, Failure, Phase, Sample};
use crate::scenario::Mode;
use crate::scenario::Pacing;
use ::http::{Request, StatusCode, header};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Downloads of the objects one mode stored.
#[derive(Debug)]
pub struct Reads {
    /// The architecture.
    pub mode: Mode,
    /// Tokens (each object is read by the user who uploaded it).
    pub common: Common,
    /// The proxy's (proxied) or the broker's (presigned) base URL.
    pub server: String,
    /// Client to the app server.
    pub app: Http,
    /// Client to the store (presigned).
    pub store: Http,
    /// The objects, each with the SHA-256 of what was uploaded.
    pub objects: Vec<(Done, [u8; 32])>,
}

impl Reads {
    /// Downloads in all: each object `per_object` times.
    #[must_use]
    pub fn count(&self, per_object: u64) -> u64 {
        self.objects.len() as u64 * per_object
    }
}

fn get(url: &str, authorization: Option<&str>, accept_json: bool) -> Result<Request<http::Body>, Failure> {
    let mut request = Request::get(url);
    if let Some(token) = authorization {
        request = request.header(header::AUTHORIZATION, token);
    }
    if accept_json {
        request = request.header(header::ACCEPT, "application/json");
    }
    request.body(http::full(Bytes::new())).map_err(|_| Failure::Io)
}

impl Flow for Reads {
    async fn upload(&self, index: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let n = self.objects.len() as u64;
        let (object, sha256) = &self.objects[usize::try_from(index % n.max(1)).unwrap_or(0)];
        let token = format!("Bearer {}", self.common.token(object.index));
        let t0 = Instant::now();
        let mut resolved = std::time::Duration::ZERO;
        let (status, length, digest) = match self.mode {
            Mode::Proxied => {
                let url = format!("{}/v1/proxy/files/{}", self.server, object.file_id);
                self.app.send_digest(get(&url, Some(&token), false)?).await?
            }
            Mode::Presigned => {
                let url = format!("{}/v1/files/{}", self.server, object.file_id);
                let (status, body) = self.app.send(get(&url, Some(&token), true)?).await?;
                if status != StatusCode::OK {
                    return Err(Failure::Http(status.as_u16()));
                }
                let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|_| Failure::Io)?;
                let url = answer["url"].as_str().ok_or(Failure::Io)?;
                resolved = t0.elapsed();
                sample.phase(Phase::Resolve, resolved);
                self.store.send_digest(get(url, None, false)?).await?
            }
        };
        let took = t0.elapsed();
        if status != StatusCode::OK {
            return Err(Failure::Http(status.as_u16()));
        }
        if length != object.size || digest != *sha256 {
            return Err(Failure::Corrupt);
        }
        sample.phase(Phase::Transfer, took.saturating_sub(resolved));
        sample.phase(Phase::EndToEnd, took);
        Ok(Some(Done { index, size: object.size, ..Done::default() }))
    }
}

/// Downloads each of `done` `d.per_object` times through `mode`'s architecture (`server` is its
/// app server), measured as a load of its own.
pub(super) async fn run(
    mode: Mode,
    d: crate::scenario::Downloads,
    ctx: &Ctx<'_>,
    stack: &mut Stack,
    server: &str,
    done: &[crate::loadgen::Done],
) -> (Option<crate::results::DownloadResult>, Option<StopReason>) {
    let scenario = ctx.scenario;
    let (payload, records) = (ctx.payload.clone(), done.to_vec());
    // What each object must hash to, computed once, off the load's threads.
    let objects = tokio::task::spawn_blocking(move || {
        records.into_iter().map(|r| (payload.sha256(r.index, r.size), r)).map(|(sha, r)| (r, sha)).collect()
    })
    .await
    .unwrap_or_default();
    let reads = Arc::new(Reads {
        mode,
        common: ctx.common(),
        server: server.to_owned(),
        app: Http::new(ctx.timeout()).shaped(scenario.client).version(scenario.app_http),
        store: Http::new(ctx.timeout()).shaped(scenario.client),
        objects,
    });
    let count = reads.count(d.per_object);
    let concurrency = match scenario.pacing {
        Pacing::Closed { concurrency } => concurrency,
        Pacing::Open { max_in_flight, .. } => max_in_flight,
    };
    let load = Load {
        pacing: Pacing::Closed { concurrency },
        count,
        first: 0,
        max_duration: Duration::from_millis(scenario.max_duration_ms),
    };
    tracing::info!("{} mode: {count} downloads", mode.as_str());
    let stage = Stage::Downloading(mode);
    let mut reason = None;
    let before = snapshot(server, stage, &mut reason).await;
    let cpu_before = crate::metrics::process_stats().cpu_seconds;
    let label = format!("{} reads", mode.as_str());
    let ((rec, _), stopped) = guarded_load(load, reads, ctx, stack, (&label, count), stage).await;
    let client_cpu = (crate::metrics::process_stats().cpu_seconds - cpu_before).max(0.0);
    let after = snapshot(server, stage, &mut reason).await;
    let result = build::download_result(scenario, &rec, (&before, &after), d.per_object, Some(client_cpu));
    (Some(result), stopped.or(reason))
}
