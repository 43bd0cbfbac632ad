//! Reads (`[downloads]`): after a mode's uploads, the objects it stored are read back through
//! the same architecture, as their owners would, each `per_object` times or `views` times in all
//! by popularity; after the presigned mode, also through the run's CDN (`cdn`: its public path,
//! its signed-cookie path, and the broker's presigned GET URLs sent through it). Every byte is
//! hashed and compared.
//!
//! The flow itself (one view in each architecture) is [`crate::client::download`]. The app
//! server's `/metrics` around each architecture's reads give its app-tier requests and bytes;
//! the CDN's access log gives its origin requests and bytes; each response's `X-Cache` its hit
//! or miss.

use super::cdn::{self, RunCdn};
use super::cdn_log;
use super::context::{RunContext, guarded_load, snapshot};
use super::stack::Stack;
use super::{Stage, StopReason, build};
use crate::client::Http;
use crate::client::download::{HIT, MISS, Reads, Via};
use crate::loadgen::{Done, Load};
use crate::results::{CacheReads, DownloadResult};
use crate::scenario::{Downloads, Mode, Pacing};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Slices of the views the hit ratio's course is given in.
const COURSE_SLICES: usize = 20;
/// Seed of the views' plan: every run, and every architecture of a run, views the same objects.
const PLAN_SEED: u64 = 0x7669_6577;

/// A mode's reads: through its own architecture, and for the presigned mode through the CDN.
pub(super) struct ModeReads {
    /// Through the mode's own architecture.
    pub own: Option<DownloadResult>,
    /// Through the CDN, by architecture name.
    pub cdn: BTreeMap<String, DownloadResult>,
}

/// Reads `done` through `mode`'s architecture (`server` is its app server), then through the
/// CDN's, each measured as a load of its own; stops at the first that stops the run.
pub(super) async fn run(
    mode: Mode,
    d: Downloads,
    ctx: &RunContext<'_>,
    stack: &mut Stack,
    (server, broker): (&str, &str),
    done: &[Done],
) -> (ModeReads, Option<StopReason>) {
    let (payload, records) = (ctx.payload.clone(), done.to_vec());
    // What each object must hash to, computed once, off the load's threads.
    let objects: Vec<(Done, [u8; 32])> = tokio::task::spawn_blocking(move || {
        records.into_iter().map(|r| (payload.sha256(r.index, r.size), r)).map(|(sha, r)| (r, sha)).collect()
    })
    .await
    .unwrap_or_default();
    let plan = d.views.map(|v| crate::loadgen::popularity::plan(objects.len(), v.views, v.zipf, PLAN_SEED));
    let per_object = d.per_object(objects.len() as u64);
    let own = match mode {
        Mode::Proxied => Via::Proxied,
        Mode::Presigned => Via::Presigned,
    };
    let mut vias = vec![own];
    if mode == Mode::Presigned {
        vias.extend(
            [(d.cdn.presigned, Via::PresignedCdn), (d.cdn.public, Via::CdnPublic), (d.cdn.signed, Via::CdnSigned)]
                .into_iter()
                .filter_map(|(on, via)| on.then_some(via)),
        );
    }
    let mut reads = ModeReads { own: None, cdn: BTreeMap::new() };
    for via in vias {
        let server = if via == own { server } else { broker };
        let setup = (server, objects.as_slice(), plan.clone(), d);
        let (result, stopped) = read(via, setup, per_object, ctx, stack).await;
        match via {
            v if v == own => reads.own = result,
            v => {
                reads.cdn.extend(result.map(|r| (v.as_str().to_owned(), r)));
            }
        }
        if stopped.is_some() {
            return (reads, stopped);
        }
    }
    (reads, None)
}

/// What one architecture's reads read: through which app server, the objects with their
/// SHA-256, the views' plan, the scenario's `[downloads]`.
type Setup<'a> = (&'a str, &'a [(Done, [u8; 32])], Option<Vec<u32>>, Downloads);

/// One architecture's reads.
async fn read(
    via: Via,
    (server, objects, plan, d): Setup<'_>,
    per_object: f64,
    ctx: &RunContext<'_>,
    stack: &mut Stack,
) -> (Option<DownloadResult>, Option<StopReason>) {
    let scenario = ctx.scenario;
    let run_cdn: Option<RunCdn> = stack.cdn.clone().filter(|_| via.cached());
    let app = Http::new(ctx.timeout()).tls(ctx.trust.clone()).shaped(scenario.client).version(scenario.app_http);
    let store = Http::new(ctx.timeout()).tls(ctx.trust.clone()).shaped(scenario.client);
    let viewers = d.views.map_or(1, |v| v.viewers);
    let reads = Arc::new(Reads::new(
        via,
        (ctx.common(), server.to_owned(), stack.target.endpoint.clone(), run_cdn.as_ref().map(|c| c.url.clone())),
        (app, store),
        objects.to_vec(),
        (plan, d.per_object, viewers),
    ));
    let count = reads.count();
    let concurrency = match scenario.pacing {
        Pacing::Closed { concurrency } => concurrency,
        Pacing::Open { max_in_flight, .. } => max_in_flight,
    };
    let load = Load {
        pacing: Pacing::Closed { concurrency },
        count,
        first: 0,
        max_duration: Duration::from_millis(scenario.max_duration_ms),
        keep: crate::loadgen::Keep::Spread(0),
    };
    tracing::info!("{} reads: {count} views", via.as_str());
    let mode = if via == Via::Proxied { Mode::Proxied } else { Mode::Presigned };
    let stage = Stage::Downloading(mode);
    let mut reason = None;
    let log = run_cdn.as_ref().map(|c| c.dir.join(cdn::ACCESS_LOG));
    let log_start = log.as_ref().map_or(0, |l| std::fs::metadata(l).map_or(0, |m| m.len()));
    let before = snapshot(server, ctx.trust.as_ref(), stage, &mut reason).await;
    let cpu_before = crate::metrics::process_stats().cpu_seconds;
    let label = format!("{} reads", via.as_str());
    let ((rec, _), stopped) = guarded_load(load, reads.clone(), ctx, stack, (&label, count), (stage, None)).await;
    let client_cpu = (crate::metrics::process_stats().cpu_seconds - cpu_before).max(0.0);
    let after = snapshot(server, ctx.trust.as_ref(), stage, &mut reason).await;
    let mut result = build::download_result(scenario, &rec, (&before, &after), per_object, Some(client_cpu));
    if let Some(log) = log {
        let lines = std::fs::read(&log).map(|b| b.get(usize::try_from(log_start).unwrap_or(0)..).map(<[u8]>::to_vec));
        let text = String::from_utf8_lossy(&lines.ok().flatten().unwrap_or_default()).into_owned();
        let views = (reads.answers(), reads.distinct_urls());
        let cache = cache_reads(views, &cdn_log::parse_log(&text), reads.sessions(), rec.ok);
        result.per_download.origin_bytes = cache.origin_bytes_per_view;
        result.cache = Some(cache);
    }
    (Some(result), stopped.or(reason))
}

/// What the cache did over one architecture's reads: `answers` each view's hit or miss (view
/// order) and the distinct URLs asked for, `logged` the cache's access log lines of those
/// reads, `ok` the successful views.
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
#[allow(clippy::naive_bytecount)] // one pass over one byte per view, once per run: no crate for it
fn cache_reads(
    (answers, distinct_urls): (Vec<u8>, u64),
    logged: &[cdn_log::Logged],
    sessions: u64,
    ok: u64,
) -> CacheReads {
    let count = |slice: &[u8], code: u8| slice.iter().filter(|&&a| a == code).count() as u64;
    let ratio = |hits: u64, misses: u64| if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 };
    let (hits, misses) = (count(&answers, HIT), count(&answers, MISS));
    let slice = answers.len().div_ceil(COURSE_SLICES).max(1);
    let course = answers.chunks(slice).map(|c| ratio(count(c, HIT), count(c, MISS))).collect();
    let origin: Vec<&cdn_log::Logged> = logged.iter().filter(|l| l.origin_sent > 0).collect();
    let origin_bytes: u64 = origin.iter().map(|l| l.origin_received + l.origin_sent).sum();
    let per_view = |v: u64| if ok == 0 { 0.0 } else { v as f64 / ok as f64 };
    CacheReads {
        hits,
        misses,
        hit_ratio: ratio(hits, misses),
        distinct_urls,
        hit_ratio_course: course,
        origin_requests: origin.len() as u64,
        origin_bytes,
        origin_requests_per_view: per_view(origin.len() as u64),
        origin_bytes_per_view: per_view(origin_bytes),
        cache_bytes_sent: logged.iter().map(|l| l.sent).sum(),
        sessions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hit_ratio_and_its_course_count_answers_and_origin_traffic_counts_requests_sent() {
        let mut answers = vec![MISS; 10];
        answers.extend([HIT; 30]);
        let logged = [
            cdn_log::Logged { status: 200, cache: "MISS".into(), origin_received: 1000, origin_sent: 200, sent: 990 },
            cdn_log::Logged { status: 200, cache: "HIT".into(), origin_received: 0, origin_sent: 0, sent: 990 },
        ];
        let c = cache_reads((answers, 12), &logged, 3, 40);
        assert_eq!((c.hits, c.misses, c.distinct_urls), (30, 10, 12));
        assert!((c.hit_ratio - 0.75).abs() < 1e-12);
        assert_eq!(c.hit_ratio_course.len(), 20);
        assert_eq!((c.hit_ratio_course[0], c.hit_ratio_course[4], c.hit_ratio_course[5]), (0.0, 0.0, 1.0));
        assert_eq!((c.origin_requests, c.origin_bytes, c.cache_bytes_sent, c.sessions), (1, 1200, 1980, 3));
        assert!((c.origin_bytes_per_view - 30.0).abs() < 1e-12);
    }
}
