//! The progress bar of a mode: uploads done of total, bytes, rate, errors, ETA.

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use crate::loadgen::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A bar redrawn from the load's counters until dropped.
pub struct Bar {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Bar {
    /// A bar for `mode` with `total` uploads, fed from `progress`; `None` when hidden.
    #[must_use]
    pub fn start(mode: &str, total: u64, progress: &Arc<Progress>, visible: bool) -> Option<Self> {
        if !visible {
            return None;
        }
        // A total of 0 means "until the time is up": a spinner with a count.
        let (bar, template) = if total == 0 {
            (ProgressBar::new_spinner(), "{prefix:>9} [{elapsed_precise}] {spinner} {pos} requests {msg}")
        } else {
            (ProgressBar::new(total), "{prefix:>9} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ETA {eta}")
        };
        let bar = bar.with_prefix(mode.to_owned());
        let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let (b, p) = (bar.clone(), progress.clone());
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let (ok, failed, bytes) = (p.ok.load(Relaxed), p.failed.load(Relaxed), p.bytes.load(Relaxed));
                let secs = b.elapsed().as_secs_f64().max(1e-3);
                #[allow(clippy::cast_precision_loss)] // display only
                let rate = bytes as f64 / secs;
                b.set_position(ok + failed);
                b.set_message(format!(
                    "{} ({}/s) {failed} errors",
                    crate::human::si_bytes(bytes as f64),
                    crate::human::si_bytes(rate)
                ));
            }
        });
        Some(Self { bar, ticker })
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
