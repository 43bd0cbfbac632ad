//! What every stage of a run shares: the context (scenario, payload, tokens, cancellation, a
//! shard's captured measurements), scrapes of the servers' counters, and a load run under guard
//! (stopped by cancellation or a dead server).

use super::capture::Captured;
use super::stack::Stack;
use super::{Options, Stage, StopReason, children, progress};
use crate::client::job::Common;
use crate::client::payload::Payload;
use crate::loadgen::{self, Job, Load, Recorder, StoppedBy};
use crate::metrics::Snapshot;
use crate::scenario::Scenario;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What every phase of a run shares.
pub struct RunContext<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) payload: Arc<Payload>,
    /// One bearer token per simulated user.
    pub(super) tokens: Vec<String>,
    pub(super) cancel: &'a CancellationToken,
    pub(super) progress: bool,
    /// The number of the first upload (a shard's range starts there).
    pub(super) first: u64,
    /// Shards keep each mode's raw measurements for their part.
    pub(super) captured: Option<std::sync::Mutex<Vec<Captured>>>,
    /// What the run's clients trust when it speaks TLS: the run's CA.
    pub(super) trust: Option<crate::tls::Trust>,
    /// The live view's feed (`run --live`), when there is one.
    pub(super) live: Option<&'a super::live::Feed>,
}

impl<'a> RunContext<'a> {
    /// The context of `scenario` on `stack`.
    pub fn new(scenario: &'a Scenario, stack: &Stack, options: &'a Options) -> Self {
        Self {
            scenario,
            payload: Arc::new(
                Payload::new(scenario.seed, &scenario.content_type, scenario.object_size)
                    .infected(scenario.infected_share),
            ),
            tokens: mint_tokens(scenario, &stack.secret),
            cancel: &options.cancel,
            progress: options.progress,
            first: 0,
            captured: None,
            trust: stack.trust.clone(),
            live: options.live.as_ref(),
        }
    }

    /// The context of shard run whose uploads start at number `first`, keeping each mode's raw
    /// measurements (see [`RunContext::captured`]).
    #[must_use]
    pub fn sharded(self, first: u64) -> Self {
        Self { first, captured: Some(std::sync::Mutex::default()), ..self }
    }

    /// Each mode's raw measurements, for a shard's part.
    pub fn captured(&self) -> Vec<Captured> {
        self.captured
            .as_ref()
            .map(|c| std::mem::take(&mut *c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
            .unwrap_or_default()
    }

    pub(super) fn common(&self) -> Common {
        Common {
            payload: self.payload.clone(),
            tokens: self.tokens.clone(),
            content_type: self.scenario.content_type.clone(),
            multipart: self.scenario.multipart,
            parts: Arc::default(),
            checksum_sha256: self.scenario.checksum_sha256,
            infected: Arc::default(),
        }
    }

    pub(super) fn timeout(&self) -> Duration {
        Duration::from_millis(self.scenario.request_timeout_ms)
    }
}

fn mint_tokens(scenario: &Scenario, secret: &str) -> Vec<String> {
    let tokens = crate::app::auth::Tokens::new(secret.as_bytes());
    // Long enough for every load of the run: each mode at each sweep size, and the signing phase.
    let loads = u32::try_from(scenario.modes.len() * scenario.sweep.len().max(1) + 2).unwrap_or(u32::MAX);
    let ttl = Duration::from_millis(scenario.max_duration_ms) * loads + Duration::from_secs(3600);
    (0..scenario.users).map(|u| tokens.mint(&format!("user-{u}"), ttl).expect("generated user ids are valid")).collect()
}

/// Scrapes `url`'s /metrics; a failure becomes the reason the run stops (with zeros measured).
pub(super) async fn snapshot(
    url: &str,
    trust: Option<&crate::tls::Trust>,
    stage: Stage,
    reason: &mut Option<StopReason>,
) -> Snapshot {
    match crate::client::once::scrape(url, trust).await {
        Ok(s) => s,
        Err(message) => {
            reason.get_or_insert(StopReason::Metrics { url: url.to_owned(), stage, message });
            Snapshot::default()
        }
    }
}

/// Now, Unix milliseconds.
pub(super) fn unix_ms() -> u64 {
    super::unix_ms(std::time::SystemTime::now())
}

/// Runs a load with a progress bar, stopping it when the run is cancelled or a server dies;
/// returns what was measured and, if it was stopped, why.
pub(super) async fn guarded_load(
    load: Load,
    job: Arc<dyn Job>,
    ctx: &RunContext<'_>,
    stack: &mut Stack,
    (label, total): (&str, u64),
    (stage, under_way): (Stage, Option<super::live::ModeUnderWay<'_>>),
) -> ((Recorder, StoppedBy), Option<StopReason>) {
    let cancel = ctx.cancel.child_token();
    let mut counters = loadgen::Progress::default();
    let mut watcher = ctx.live.map(|feed| {
        let (watcher, tap) = super::live::Watcher::new(feed, (stage, total), ctx.scenario, under_way);
        counters.tap = Some(tap);
        watcher
    });
    let counters = Arc::new(counters);
    let bar = progress::Bar::start(label, total, &counters, ctx.progress);
    let run = loadgen::run_on(load, job, cancel.clone(), counters.clone(), crate::client::load_threads());
    tokio::pin!(run);
    let mut tick = tokio::time::interval(super::live::EVERY);
    let mut reason = None;
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            (index, exit) = children::first_exit(&mut stack.servers), if reason.is_none() => {
                if stack.servers[index].expendable {
                    // A node of a replicated store: the run goes on, and verification decides
                    // whether anything was lost.
                    tracing::warn!("{exit} during {stage}; going on without it");
                    stack.incidents.push(format!("{exit} during {stage}; the run went on without it"));
                    stack.servers.remove(index);
                } else {
                    reason = Some(StopReason::ServerExited { exit, stage });
                    cancel.cancel();
                }
            }
            exit = super::store_container::container_exit(stack.container.as_ref()), if reason.is_none() => {
                // The store's one container: as for a store process, the run stops.
                reason = Some(StopReason::ServerExited { exit, stage });
                cancel.cancel();
            }
            () = ctx.cancel.cancelled(), if reason.is_none() => {
                reason = Some(StopReason::Interrupted(stage));
            }
            _ = tick.tick(), if watcher.is_some() => {
                if let Some(w) = &mut watcher {
                    w.tick(&counters, ctx.trust.as_ref()).await;
                }
            }
        }
    };
    drop(bar);
    (result, reason)
}
