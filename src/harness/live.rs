//! The live feed of a run (`run --live`): about once a second while a stage runs, a
//! [`Snapshot`] of the run so far: its results assembled as the final ones are ([`super::assemble`]),
//! the finished modes as they ended and the mode under way built by [`build::mode_result`] from a
//! copy of the workers' recorders (kept from [`loadgen::Progress::tap`], without stopping the
//! workers or taking a lock on their path) and from the server's `/metrics`, scraped on
//! connections of its own (uncounted, as every scrape of the harness). Whoever renders it (the
//! `live` server) subscribes to a watch channel; a run without a feed does none of this.

use super::build::{self, Measured};
use super::verify::ReadBack;
use super::{Assembly, Stage, Thresholds};
use crate::loadgen::{self, Recorder, StoppedBy, Tapped};
use crate::metrics::Snapshot as Metrics;
use crate::results::{Environment, ModeResult, Modes, Results};
use crate::scenario::{Mode, Scenario};
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, watch};

/// How often the feed publishes while a stage runs.
pub const EVERY: Duration = Duration::from_secs(1);

/// The run so far.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Counts up with each snapshot.
    pub seq: u64,
    /// What the run is doing (`the proxied mode`, `the signing phase`), or `finished`.
    pub stage: String,
    /// The results so far; the final results once the run has ended.
    pub results: Results,
    /// The mode whose figures are still changing, if any.
    pub provisional: Option<Mode>,
    /// Uploads, downloads or requests of the stage under way that have started and not ended.
    pub in_flight: u64,
    /// Those of the stage under way that have ended, and how many it runs (0: until its time is up).
    pub done_of: (u64, u64),
    /// The report's directory, once the run has ended and its report is written.
    pub report: Option<PathBuf>,
}

/// What the feed has gathered: the run's fixed facts and each mode as it ended.
#[derive(Debug)]
struct Gathered {
    seq: u64,
    scenario: Scenario,
    environment: Environment,
    started_at: SystemTime,
    clock: Instant,
    modes: Modes,
}

/// The sending side, shared by the harness's stages.
#[derive(Clone, Debug)]
pub struct Feed {
    tx: watch::Sender<Option<Arc<Snapshot>>>,
    gathered: Arc<Mutex<Option<Gathered>>>,
}

impl Feed {
    /// A feed and a receiver of its snapshots (`None` until the run begins).
    #[must_use]
    pub fn new() -> (Self, watch::Receiver<Option<Arc<Snapshot>>>) {
        let (tx, rx) = watch::channel(None);
        (Self { tx, gathered: Arc::new(Mutex::new(None)) }, rx)
    }

    /// The run of `scenario` begins.
    pub(super) fn begin(&self, scenario: &Scenario, environment: Environment) {
        let gathered = Gathered {
            seq: 0,
            scenario: scenario.clone(),
            environment,
            started_at: SystemTime::now(),
            clock: Instant::now(),
            modes: Modes::default(),
        };
        *self.lock() = Some(gathered);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Gathered>> {
        self.gathered.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `mode` ended with `result` (verified): published at once, final.
    pub(super) fn mode_done(&self, mode: Mode, result: &ModeResult) {
        if let Some(g) = self.lock().as_mut() {
            g.modes.set(mode, result.clone());
        }
        self.publish(&format!("{} ended", Stage::Mode(mode)), None, (0, (0, 0)));
    }

    /// Publishes the run so far: in `stage`, with `provisional` the figures of the mode under way.
    fn publish(&self, stage: &str, provisional: Option<(Mode, ModeResult)>, (in_flight, done_of): (u64, (u64, u64))) {
        let mut guard = self.lock();
        let Some(g) = guard.as_mut() else { return };
        g.seq += 1;
        let mut modes = g.modes.clone();
        let provisional_mode = provisional.map(|(mode, result)| {
            modes.set(mode, result);
            mode
        });
        let results = super::assemble(Assembly {
            scenario: g.scenario.clone(),
            environment: g.environment.clone(),
            started_at: g.started_at,
            duration_ms: build::millis(g.clock.elapsed()),
            stopped: None,
            incidents: Vec::new(),
            modes,
            signing: None,
            sweep: Vec::new(),
            // Judged once, on the final results.
            thresholds: Thresholds::LeftToMerge,
        });
        let snapshot = Snapshot {
            seq: g.seq,
            stage: stage.to_owned(),
            results,
            provisional: provisional_mode,
            in_flight,
            done_of,
            report: None,
        };
        self.tx.send_replace(Some(Arc::new(snapshot)));
    }

    /// The run has ended: `results` as written, its report in `report`.
    pub fn finish(&self, results: Results, report: PathBuf) {
        let seq = self.lock().as_ref().map_or(0, |g| g.seq) + 1;
        let snapshot = Snapshot {
            seq,
            stage: "finished".to_owned(),
            results,
            provisional: None,
            in_flight: 0,
            done_of: (0, 0),
            report: Some(report),
        };
        self.tx.send_replace(Some(Arc::new(snapshot)));
    }
}

/// An upload mode under way, for its provisional figures: its app server and its `/metrics` before.
pub(super) struct ModeUnderWay<'a> {
    pub mode: Mode,
    pub server: &'a str,
    pub before: &'a Metrics,
}

/// One stage's watch: the copy of its recorders, fed from the tap, published on each tick.
pub(super) struct Watcher<'a> {
    feed: &'a Feed,
    stage: Stage,
    scenario: &'a Scenario,
    under_way: Option<ModeUnderWay<'a>>,
    copy: Recorder,
    tapped: mpsc::UnboundedReceiver<Tapped>,
    began: Instant,
    total: u64,
}

impl<'a> Watcher<'a> {
    /// A watch of `stage` (`total` planned, 0: until its time is up) and the tap its workers send to.
    pub fn new(
        feed: &'a Feed,
        (stage, total): (Stage, u64),
        scenario: &'a Scenario,
        under_way: Option<ModeUnderWay<'a>>,
    ) -> (Self, loadgen::Tap) {
        let (tap, tapped) = mpsc::unbounded_channel();
        let open = matches!(scenario.pacing, crate::scenario::Pacing::Open { .. });
        let copy = Recorder::new(open);
        let watcher = Self { feed, stage, scenario, under_way, copy, tapped, began: Instant::now(), total };
        (watcher, tap)
    }

    /// Takes in what the workers recorded since the last tick and publishes the run so far.
    pub async fn tick(&mut self, progress: &loadgen::Progress, trust: Option<&crate::tls::Trust>) {
        while let Ok(t) = self.tapped.try_recv() {
            self.copy.record(t.sample, t.waited, t.at);
        }
        // Verification reads the workers' own records; the copy needs only its counts.
        self.copy.forget_uploads();
        self.copy.elapsed = self.began.elapsed();
        let counts = (progress.in_flight.load(Relaxed), (self.copy.ok + self.copy.failed, self.total));
        let provisional = match &self.under_way {
            Some(u) => {
                // A failed scrape shows no app-tier bytes this second; the run itself notices a
                // server that stopped answering.
                let after = crate::client::once::scrape(u.server, trust).await.unwrap_or(*u.before);
                let measured = Measured {
                    recorder: self.copy.clone(),
                    stopped: StoppedBy::Count,
                    before: *u.before,
                    after,
                    read_back: ReadBack::default(),
                    steps: None,
                    store: None,
                    client_cpu_seconds: None,
                    multipart: None,
                };
                Some((u.mode, build::mode_result(self.scenario, measured)))
            }
            None => None,
        };
        self.feed.publish(&self.stage.to_string(), provisional, counts);
    }
}
