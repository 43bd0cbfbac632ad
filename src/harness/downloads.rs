//! Downloads (`[downloads] per_object`): after a mode's uploads, each object it stored is read
//! back through the same architecture, as its owner would, and every byte is hashed and compared.
//!
//! The flow itself (one download as its owner does it) is [`crate::client::download`].
//!
//! The app server's `/metrics` around the downloads give the read side's app-tier bytes, as
//! around the uploads for the write side.

use super::context::{RunContext, guarded_load, snapshot};
use super::stack::Stack;
use super::{Stage, StopReason, build};
use crate::client::Http;
use crate::client::download::Reads;
use crate::loadgen::Load;
use crate::scenario::Mode;
use crate::scenario::Pacing;
use std::sync::Arc;
use std::time::Duration;

/// Downloads each of `done` `d.per_object` times through `mode`'s architecture (`server` is its
/// app server), measured as a load of its own.
pub(super) async fn run(
    mode: Mode,
    d: crate::scenario::Downloads,
    ctx: &RunContext<'_>,
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
        app: Http::new(ctx.timeout()).tls(ctx.trust.clone()).shaped(scenario.client).version(scenario.app_http),
        store: Http::new(ctx.timeout()).tls(ctx.trust.clone()).shaped(scenario.client),
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
    let before = snapshot(server, ctx.trust.as_ref(), stage, &mut reason).await;
    let cpu_before = crate::metrics::process_stats().cpu_seconds;
    let label = format!("{} reads", mode.as_str());
    let ((rec, _), stopped) = guarded_load(load, reads, ctx, stack, (&label, count), stage).await;
    let client_cpu = (crate::metrics::process_stats().cpu_seconds - cpu_before).max(0.0);
    let after = snapshot(server, ctx.trust.as_ref(), stage, &mut reason).await;
    let result = build::download_result(scenario, &rec, (&before, &after), d.per_object, Some(client_cpu));
    (Some(result), stopped.or(reason))
}
