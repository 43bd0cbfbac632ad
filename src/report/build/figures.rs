//! The data of the plots every run draws (bandwidth, latency, timeline, resources) and of the
//! size sweep's, taken from the results; the plots themselves draw it.

use crate::report::describe::headline;
use crate::report::plots::{self, Bandwidth, Latency, Resources, Timeline};
use crate::results::{ModeResult, Phase, Results, TimelineData};
use crate::scenario::Mode;

#[allow(clippy::cast_precision_loss)] // byte counts for plotting
fn sides(m: &ModeResult) -> (f64, f64) {
    if m.uploads_ok == 0 {
        return (0.0, 0.0);
    }
    let ok = m.uploads_ok as f64;
    (m.app_tier.client_bytes() as f64 / ok, m.app_tier.storage_bytes() as f64 / ok)
}

/// The bandwidth plot: app-tier bytes per upload by side, and the headline.
pub fn bandwidth(results: &Results) -> Bandwidth {
    let modes = results.modes.present();
    Bandwidth {
        modes: modes
            .iter()
            .map(|(n, m)| {
                let (client, storage) = sides(m);
                plots::ModeBytes { mode: n.as_str().to_owned(), client, storage }
            })
            .collect(),
        target_uploads: modes.first().map_or(0, |(_, m)| m.extrapolated.uploads),
        headline: headline(results),
    }
}

/// The latency plot: each phase's percentile curve per mode.
pub fn latency(results: &Results) -> Latency {
    let mut series = Vec::new();
    let mut open = false;
    for (mode, m) in results.modes.present() {
        open |= m.latency_us_uncorrected.is_some();
        for phase in Phase::ALL {
            let Some(summary) = m.latency_us.get(&phase) else { continue };
            let Ok(h) = summary.histogram() else { continue };
            #[allow(clippy::cast_precision_loss)] // microseconds to milliseconds for plotting
            let points = h
                .iter_quantiles(5)
                .map(|v| {
                    (v.quantile_iterated_to() * 100.0, h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0)
                })
                .collect();
            series.push(plots::Curve {
                label: format!("{} {}", mode.as_str(), phase.as_str()),
                mode: mode.as_str().to_owned(),
                phase: phase as usize,
                points,
            });
        }
    }
    let subtitle = if open {
        "open model: measured from each upload's intended start (corrected for coordinated omission)"
    } else {
        "closed model: measured from each request's start"
    };
    Latency { series, subtitle: subtitle.to_owned() }
}

/// Most points drawn per timeline series; longer runs are binned.
const MAX_POINTS: usize = 600;

/// (completions per second, most in flight) per bin, at the bin's centre in seconds.
#[allow(clippy::cast_precision_loss)] // counts and seconds for plotting
fn binned(t: &TimelineData) -> (plots::Series, plots::Series) {
    let len = t.completed.len().max(t.in_flight_max.len());
    let per_bin = len.div_ceil(MAX_POINTS).max(1);
    let bin_secs = t.interval_ms.max(1) as f64 * per_bin as f64 / 1000.0;
    let mut rate = Vec::new();
    let mut in_flight = Vec::new();
    for start in (0..len).step_by(per_bin) {
        let range = start..(start + per_bin).min(len);
        let x = (start as f64 + per_bin as f64 / 2.0) * t.interval_ms as f64 / 1000.0;
        let done: u64 = t.completed.get(range.clone()).map_or(0, |s| s.iter().sum());
        let busy = t.in_flight_max.get(range).map_or(0, |s| s.iter().copied().max().unwrap_or(0));
        rate.push((x, done as f64 / bin_secs));
        in_flight.push((x, busy as f64));
    }
    (rate, in_flight)
}

/// The timeline plot: completions per second and uploads in flight over the run.
pub fn timeline(results: &Results) -> Timeline {
    Timeline {
        modes: results
            .modes
            .present()
            .into_iter()
            .map(|(n, m)| {
                let (rate, in_flight) = binned(&m.timeline);
                plots::ModeTimeline { mode: n.as_str().to_owned(), rate, in_flight }
            })
            .collect(),
    }
}

/// The resources plot: app-tier CPU, memory and connections per mode.
#[allow(clippy::cast_precision_loss)] // resource figures for plotting
pub fn resources(results: &Results) -> Resources {
    Resources {
        modes: results
            .modes
            .present()
            .into_iter()
            .map(|(n, m)| {
                let a = &m.app_tier;
                plots::ModeResources {
                    mode: n.as_str().to_owned(),
                    cpu_seconds: a.cpu_seconds,
                    peak_rss_bytes: a.peak_rss_bytes as f64,
                    peak_connections: a.peak_connections as f64,
                    connection_seconds: a.connection_seconds,
                }
            })
            .collect(),
    }
}

/// The sweep plot: latency and app-tier bytes per upload against object size.
#[allow(clippy::cast_precision_loss)] // sizes, bytes and latencies for plotting
pub fn sweep(results: &Results) -> plots::Sweep {
    let modes = Mode::ALL
        .into_iter()
        .map(|mode| {
            let mut curves = plots::SweepCurves {
                mode: mode.as_str().to_owned(),
                p50: Vec::new(),
                p99: Vec::new(),
                bytes: Vec::new(),
            };
            for point in &results.sweep {
                let Some(m) = point.modes.get(mode) else { continue };
                let x = point.object_size as f64;
                if let Some(l) = m.end_to_end() {
                    curves.p50.push((x, l.p50 as f64 / 1000.0));
                    curves.p99.push((x, l.p99 as f64 / 1000.0));
                }
                curves.bytes.push((x, m.per_upload.app_tier_bytes.max(1.0)));
            }
            curves
        })
        .collect();
    plots::Sweep { modes, crossover: results.sweep_crossover_bytes.map(|c| c as f64) }
}
