//! The four plots of every run, one series or bar group per mode: bandwidth, latency, timeline
//! and resources.

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use super::{Drawn, Extent, FONT, Plot, SIZE, Series, caption, e, group_labels, legend, line, mode_color};
use crate::human::{grouped, si_bytes};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One mode's app-tier bytes per upload, by side.
#[derive(Clone, Debug)]
pub struct ModeBytes {
    /// `proxied` or `presigned`.
    pub mode: String,
    /// Client-facing bytes per upload.
    pub client: f64,
    /// Storage-facing bytes per upload.
    pub storage: f64,
}

/// One side's bars in the bandwidth plot: legend label, x offset in the group, shade, its bytes.
type BarSide = (&'static str, f64, f64, fn(&ModeBytes) -> f64);

/// App-tier bytes per upload and at the target, per mode, split by side (log scale).
#[derive(Clone, Debug)]
pub struct Bandwidth {
    /// Per mode.
    pub modes: Vec<ModeBytes>,
    /// The scenario's target uploads.
    pub target_uploads: u64,
    /// The headline, e.g. "500 GB vs 52 MB: 9,600x".
    pub headline: String,
}

impl Plot for Bandwidth {
    fn name(&self) -> &'static str {
        "bandwidth"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest = caption(area, "App-tier bytes: proxied vs presigned", &self.headline)?;
        let (left, right) = rest.split_horizontally(SIZE.0 / 2);
        let target = self.target_uploads as f64;
        self.panel(&left, "per upload (measured)", 1.0)?;
        self.panel(&right, &format!("for {} uploads (extrapolated)", grouped(self.target_uploads)), target)
    }
}

impl Bandwidth {
    fn panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, title: &str, scale: f64) -> Drawn {
        let top = self.modes.iter().map(|m| (m.client + m.storage) * scale).fold(10.0, f64::max) * 10.0;
        let n = self.modes.len().max(1) as f64;
        let mut chart = e(ChartBuilder::on(area)
            .caption(title, (FONT, 28))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(130)
            .build_cartesian_2d(0f64..n, (1f64..top).log_scale()))?;
        let label = group_labels(self.modes.iter().map(|m| m.mode.clone()).collect());
        e(chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.modes.len() * 2 + 1)
            .x_label_formatter(&label)
            .y_label_formatter(&|y| si_bytes(*y))
            .y_desc("bytes (log scale)")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 22))
            .draw())?;
        let sides: [BarSide; 2] =
            [("client-facing", 0.15, 1.0, |m| m.client), ("storage-facing", 0.5, 0.55, |m| m.storage)];
        for (side, offset, shade, bytes) in sides {
            let bars: Vec<_> = self
                .modes
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let v = bytes(m) * scale;
                    let x = i as f64 + offset;
                    Rectangle::new([(x, 1.0), (x + 0.35, v.max(1.0))], mode_color(&m.mode).mix(shade).filled())
                })
                .collect();
            e(chart.draw_series(bars))?
                .label(side)
                .legend(move |(x, y)| Rectangle::new([(x, y - 8), (x + 20, y + 8)], BLACK.mix(shade * 0.6).filled()));
            let values: Vec<_> = self
                .modes
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let v = bytes(m) * scale;
                    Text::new(si_bytes(v), (i as f64 + offset, v.max(1.0) * 1.6), (FONT, 20).into_font())
                })
                .collect();
            e(chart.draw_series(values))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// One phase's latency by percentile.
#[derive(Clone, Debug)]
pub struct Curve {
    /// Legend label, e.g. `proxied upload`.
    pub label: String,
    /// `proxied` or `presigned` (its colour family).
    pub mode: String,
    /// The phase's number (`Phase as usize`): its colour within the mode's family.
    pub phase: usize,
    /// (percentile in %, latency in ms).
    pub points: Series,
}

/// One colour per phase, for each mode: warm colours for proxied, cool ones for presigned, so a
/// curve tells its mode and its phase apart from every other (at most 9 phases).
fn phase_color(mode: &str, phase: usize) -> RGBColor {
    /// Red, green and blue.
    type Rgb = (u8, u8, u8);
    /// (proxied, presigned) per phase.
    const PAIRS: [(Rgb, Rgb); 9] = [
        ((214, 39, 40), (31, 119, 180)),
        ((255, 127, 14), (23, 190, 207)),
        ((140, 86, 75), (44, 160, 44)),
        ((227, 119, 194), (148, 103, 189)),
        ((188, 189, 34), (20, 60, 120)),
        ((150, 20, 60), (100, 170, 230)),
        ((240, 180, 40), (0, 120, 110)),
        ((120, 40, 10), (90, 90, 160)),
        ((250, 90, 120), (120, 200, 120)),
    ];
    let (warm, cool) = PAIRS[phase % PAIRS.len()];
    let (r, g, b) = if mode == "proxied" { warm } else { cool };
    RGBColor(r, g, b)
}

/// Latency percentile distributions (HdrHistogram style: x is 1/(1-p) on a log axis).
#[derive(Clone, Debug)]
pub struct Latency {
    /// One curve per mode and phase.
    pub series: Vec<Curve>,
    /// Subtitle (e.g. "open model: from the intended start").
    pub subtitle: String,
}

/// Largest 1/(1-p) shown: 99.99 %.
const MAX_INVERSE: f64 = 10_000.0;

fn inverse(percentile: f64) -> f64 {
    (1.0 / (1.0 - percentile / 100.0)).min(MAX_INVERSE)
}

impl Plot for Latency {
    fn name(&self) -> &'static str {
        "latency"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest = caption(area, "Latency by percentile", &self.subtitle)?;
        let top = Extent::of(self.series.iter().flat_map(|s| s.points.iter().copied())).y.1.max(1.0) * 1.1;
        let mut chart = e(ChartBuilder::on(&rest)
            .margin(30)
            .x_label_area_size(60)
            .y_label_area_size(110)
            .build_cartesian_2d((1f64..MAX_INVERSE).log_scale(), 0f64..top))?;
        e(chart
            .configure_mesh()
            .x_label_formatter(&|x| {
                let p = 100.0 * (1.0 - 1.0 / x);
                if p < 1.0 { "0%".into() } else { format!("{p:.2}%").replace(".00%", "%") }
            })
            .y_label_formatter(&|y| format!("{y:.0} ms"))
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 22))
            .draw())?;
        for curve in &self.series {
            let color = phase_color(&curve.mode, curve.phase).to_rgba();
            line(&mut chart, &curve.label, color, curve.points.iter().map(|(p, ms)| (inverse(*p), *ms)), 0)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

/// One mode over time.
#[derive(Clone, Debug)]
pub struct ModeTimeline {
    /// `proxied` or `presigned`.
    pub mode: String,
    /// Uploads completed per second.
    pub rate: Series,
    /// Uploads in flight.
    pub in_flight: Series,
}

/// Uploads completed per second and uploads in flight, per mode.
#[derive(Clone, Debug)]
pub struct Timeline {
    /// Per mode.
    pub modes: Vec<ModeTimeline>,
}

impl Plot for Timeline {
    fn name(&self) -> &'static str {
        "timeline"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest = caption(area, "Uploads over time", "each mode from its own start")?;
        let (upper, lower) = rest.split_vertically((SIZE.1 - 110) / 2);
        self.panel(&upper, "uploads completed per second", |m| &m.rate)?;
        self.panel(&lower, "uploads in flight", |m| &m.in_flight)
    }
}

impl Timeline {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        pick: impl Fn(&ModeTimeline) -> &Series,
    ) -> Drawn {
        let extent = Extent::of(self.modes.iter().flat_map(|m| pick(m).iter().copied()));
        let right = extent.x.1.max(0.0) * 1.05 + 0.05;
        let x_format = move |x: &f64| if right < 5.0 { format!("{x:.2} s") } else { format!("{x:.0} s") };
        let top = extent.y.1.max(1.0) * 1.15;
        let mut chart = e(ChartBuilder::on(area)
            .caption(title, (FONT, 26))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..right, 0f64..top))?;
        e(chart
            .configure_mesh()
            .x_desc("seconds since the mode started")
            .x_label_formatter(&x_format)
            .y_label_formatter(&|y| if top < 10.0 { format!("{y:.1}") } else { format!("{y:.0}") })
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 20))
            .draw())?;
        for m in &self.modes {
            line(&mut chart, &m.mode, mode_color(&m.mode).to_rgba(), pick(m).iter().copied(), 3)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Three significant digits: `0.0412`, `1.41`, `215`.
fn sig3(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    #[allow(clippy::cast_possible_truncation)] // a small exponent
    let digits = (2 - v.abs().log10().floor() as i32).clamp(0, 6);
    format!("{v:.*}", usize::try_from(digits).unwrap_or(0))
}

/// One mode's app-tier resources.
#[derive(Clone, Debug)]
pub struct ModeResources {
    /// `proxied` or `presigned`.
    pub mode: String,
    /// CPU seconds of the app server.
    pub cpu_seconds: f64,
    /// Its peak resident memory.
    pub peak_rss_bytes: f64,
    /// Most client connections open at once.
    pub peak_connections: f64,
    /// Sum of client connection lifetimes.
    pub connection_seconds: f64,
}

/// One panel of the resources plot: title, the value, its label.
type Metric = (&'static str, fn(&ModeResources) -> f64, fn(f64) -> String);

/// App-tier resources per mode.
#[derive(Clone, Debug)]
pub struct Resources {
    /// Per mode.
    pub modes: Vec<ModeResources>,
}

impl Plot for Resources {
    fn name(&self) -> &'static str {
        "resources"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest =
            caption(area, "App-tier resources per mode", "measured on the proxy (proxied) and the broker (presigned)")?;
        let panels = rest.split_evenly((2, 2));
        let metrics: [Metric; 4] = [
            ("CPU seconds", |m| m.cpu_seconds, |v| format!("{} s", sig3(v))),
            ("peak RSS", |m| m.peak_rss_bytes, si_bytes),
            ("peak open connections", |m| m.peak_connections, |v| format!("{v:.0}")),
            ("connection-seconds", |m| m.connection_seconds, sig3),
        ];
        for (panel, (title, value, fmt)) in panels.iter().zip(metrics) {
            self.panel(panel, title, value, fmt)?;
        }
        Ok(())
    }
}

impl Resources {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        value: fn(&ModeResources) -> f64,
        fmt: fn(f64) -> String,
    ) -> Drawn {
        let n = self.modes.len().max(1) as f64;
        let top = self.modes.iter().map(value).fold(1e-9, f64::max) * 1.25;
        let mut chart = e(ChartBuilder::on(area)
            .caption(title, (FONT, 26))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(0f64..n, 0f64..top))?;
        let label = group_labels(self.modes.iter().map(|m| m.mode.clone()).collect());
        e(chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.modes.len() * 2 + 1)
            .x_label_formatter(&label)
            .y_label_formatter(&|y| fmt(*y))
            .label_style((FONT, 20))
            .draw())?;
        let bars = self.modes.iter().enumerate().map(|(i, m)| {
            Rectangle::new([(i as f64 + 0.2, 0.0), (i as f64 + 0.8, value(m))], mode_color(&m.mode).filled())
        });
        e(chart.draw_series(bars))?;
        let labels =
            self.modes.iter().enumerate().map(|(i, m)| {
                Text::new(fmt(value(m)), (i as f64 + 0.35, value(m) + top * 0.04), (FONT, 22).into_font())
            });
        e(chart.draw_series(labels))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::phase_color;
    use crate::results::Phase;

    #[test]
    fn every_mode_and_phase_has_a_colour_of_its_own() {
        let colours: Vec<_> = ["proxied", "presigned"]
            .iter()
            .flat_map(|mode| Phase::ALL.map(|phase| phase_color(mode, phase as usize)))
            .map(|c| (c.0, c.1, c.2))
            .collect();
        let mut distinct = colours.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), colours.len(), "{colours:?}");
    }
}
