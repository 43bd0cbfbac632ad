//! The project's one HTTP client and what a client does with it: pooled HTTP/1.1 and HTTP/2
//! connections over counted sockets ([`http`], HTTP/1.1 itself in [`h1`]), one-shot GETs for scrapes and readiness probes
//! ([`once`]), and the flows a user's client runs against the app tier and the store: an upload in
//! each architecture ([`job`], [`multipart`] for one in parts, [`payload`] for its bytes) and a
//! download ([`download`]); requests that only measure ([`probe`]). Used by the harness, `calibrate`, `demo` and `audit`.

pub mod download;
pub mod h1;
pub mod http;
pub mod job;
pub mod multipart;
pub mod once;
pub mod payload;
pub mod probe;

pub use http::Http;

use tokio_util::sync::CancellationToken;

/// What [`load`] measured.
#[derive(Clone, Copy, Debug)]
pub struct ClientLoad {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Wall time of the load.
    pub seconds: f64,
    /// CPU seconds this process used meanwhile (the client, as nothing else runs in it).
    pub cpu_seconds: f64,
}

/// The harness's own HTTP client sending `method uri` (with `headers` and `body`) with
/// `concurrency` requests in flight for `duration`, as in a mode's load: for `calibrate`.
pub async fn load(
    (method, uri, headers): (::http::Method, ::http::Uri, ::http::HeaderMap),
    body: bytes::Bytes,
    concurrency: u64,
    duration: std::time::Duration,
) -> ClientLoad {
    let http = Http::new(std::time::Duration::from_secs(30));
    let job = std::sync::Arc::new(probe::Fixed { method, uri, body, headers, http });
    let load = crate::loadgen::Load {
        pacing: crate::scenario::Pacing::Closed { concurrency },
        count: u64::MAX,
        first: 0,
        max_duration: duration,
        keep: crate::loadgen::Keep::Spread(0),
    };
    let cpu = crate::metrics::process_stats().cpu_seconds;
    let (rec, _) =
        crate::loadgen::run_on(load, job, CancellationToken::new(), std::sync::Arc::default(), load_threads()).await;
    ClientLoad {
        ok: rec.ok,
        failed: rec.failed,
        seconds: rec.elapsed.as_secs_f64(),
        cpu_seconds: (crate::metrics::process_stats().cpu_seconds - cpu).max(0.0),
    }
}

/// Threads of the harness's load: one per core (see [`crate::loadgen::run_on`]).
#[must_use]
pub fn load_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}
