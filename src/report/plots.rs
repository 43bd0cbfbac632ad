//! The report's plots, each written as SVG and PNG (1600×900). Each plot is plain data that
//! knows how to draw itself on any plotters backend; [`write`] does the files.

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use super::table::{grouped, si_bytes};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Size of every plot, in pixels.
pub const SIZE: (u32, u32) = (1600, 900);
const FONT: &str = "sans-serif";
const PROXIED: RGBColor = RGBColor(214, 39, 40);
const PRESIGNED: RGBColor = RGBColor(31, 119, 180);

/// A plot that failed to draw or write.
#[derive(Debug, thiserror::Error)]
#[error("plot {name}: {message}")]
pub struct PlotError {
    /// The plot.
    pub name: String,
    /// Why.
    pub message: String,
}

type Drawn = Result<(), String>;

fn e<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// Something drawable on any backend.
pub trait Plot {
    /// The file stem, e.g. `bandwidth`.
    fn name(&self) -> &'static str;
    /// Draws the plot onto `area`.
    ///
    /// # Errors
    /// The backend's error, as text.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn;
}

/// The PNG backend rasterises text with an embedded DejaVu Sans, so plots look the same on a
/// machine without fonts.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_err() {
            tracing::warn!("embedded font rejected; PNG text may be missing");
        }
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Writes `plot` as `dir/NAME.svg` and `dir/NAME.png`; returns both paths.
///
/// # Errors
/// [`PlotError`] naming the plot.
pub fn write(plot: &impl Plot, dir: &Path) -> Result<[PathBuf; 2], PlotError> {
    register_font();
    let fail = |message: String| PlotError { name: plot.name().to_owned(), message };
    let svg = dir.join(format!("{}.svg", plot.name()));
    let png = dir.join(format!("{}.png", plot.name()));
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        plot.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        plot.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok([svg, png])
}

/// Draws the series legend of `chart` at `position`.
fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Drawn {
    e(chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 20))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw())
}

/// Draws one labelled line (3 px, with point markers of `point_size`) and its legend entry.
fn line<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64>, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    label: &str,
    color: RGBAColor,
    points: impl IntoIterator<Item = (f64, f64)>,
    point_size: u32,
) -> Drawn {
    let series = LineSeries::new(points, color.stroke_width(3)).point_size(point_size);
    e(chart.draw_series(series))?
        .label(label)
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 30, y)], color.stroke_width(3)));
    Ok(())
}

/// An x-axis formatter that names group `i` at `i + 0.5` and leaves other ticks blank.
fn group_labels(names: Vec<String>) -> impl Fn(&f64) -> String {
    move |x: &f64| {
        let i = x.floor();
        if (x - i - 0.5).abs() < 0.01 { names.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
    }
}

/// The smallest and largest x and y of a set of points; with no points, the minima are +∞ and
/// the maxima −∞, so that each plot's own floor (`.max(1.0)`, ...) decides the axis.
#[derive(Clone, Copy, Debug)]
struct Extent {
    x: (f64, f64),
    y: (f64, f64),
}

impl Extent {
    fn of(points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        let empty = (f64::INFINITY, f64::NEG_INFINITY);
        points.into_iter().fold(Self { x: empty, y: empty }, |e, (x, y)| Self {
            x: (e.x.0.min(x), e.x.1.max(x)),
            y: (e.y.0.min(y), e.y.1.max(y)),
        })
    }
}

fn mode_color(mode: &str) -> RGBColor {
    if mode == "proxied" { PROXIED } else { PRESIGNED }
}

fn caption<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    e(area.fill(&WHITE))?;
    let (top, rest) = area.split_vertically(110);
    e(top.draw_text(title, &(FONT, 40).into_font().style(FontStyle::Bold).color(&BLACK), (30, 18)))?;
    e(top.draw_text(subtitle, &(FONT, 24).into_font().color(&RGBColor(80, 80, 80)), (30, 68)))?;
    Ok(rest)
}

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

/// Points of a line: (x, y).
pub type Series = Vec<(f64, f64)>;

/// One phase's latency by percentile.
#[derive(Clone, Debug)]
pub struct Curve {
    /// Legend label, e.g. `proxied upload`.
    pub label: String,
    /// `proxied` or `presigned` (the colour).
    pub mode: String,
    /// (percentile in %, latency in ms).
    pub points: Series,
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
        for (i, curve) in self.series.iter().enumerate() {
            let color = mode_color(&curve.mode).mix(1.0 - 0.22 * (i % 4) as f64);
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

/// A named line of (x, y) points: a presigner's URLs/s by threads, a mode's servers by load.
#[derive(Clone, Debug)]
pub struct NamedCurve {
    /// Legend label (an implementation or a mode; modes get their colour).
    pub name: String,
    /// The points.
    pub points: Series,
}

/// Signing throughput per implementation (log scale).
#[derive(Clone, Debug)]
pub struct Signing {
    /// One curve per implementation.
    pub curves: Vec<NamedCurve>,
    /// Subtitle: how it was measured.
    pub subtitle: String,
}

impl Plot for Signing {
    fn name(&self) -> &'static str {
        "signing"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest = caption(area, "Presigned URLs per second", &self.subtitle)?;
        let extent = Extent::of(self.curves.iter().flat_map(|c| c.points.iter().copied()));
        let max_threads = extent.x.1.max(1.0);
        let top = extent.y.1.max(10.0) * 3.0;
        let bottom = extent.y.0.clamp(1.0, top) / 3.0;
        let mut chart = e(ChartBuilder::on(&rest)
            .margin(30)
            .x_label_area_size(60)
            .y_label_area_size(130)
            .build_cartesian_2d(0.5f64..max_threads + 0.5, (bottom..top).log_scale()))?;
        e(chart
            .configure_mesh()
            .x_labels(max_threads as usize + 2)
            .x_label_formatter(&|x| {
                if (x - x.round()).abs() < 0.01 && *x >= 1.0 { format!("{x:.0}") } else { String::new() }
            })
            .y_label_formatter(&|y| grouped(*y as u64))
            .x_desc("threads")
            .y_desc("URLs per second (log scale)")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 22))
            .draw())?;
        let colors = [RGBColor(44, 160, 44), PRESIGNED, PROXIED];
        for (curve, color) in self.curves.iter().zip(colors) {
            line(&mut chart, &curve.name, color.to_rgba(), curve.points.iter().copied(), 6)?;
            let labels = curve
                .points
                .iter()
                .map(|&(x, y)| Text::new(grouped(y as u64), (x + 0.03, y * 1.25), (FONT, 20).into_font()));
            e(chart.draw_series(labels))?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

/// Servers needed vs concurrent uploads, per mode (log-log).
#[derive(Clone, Debug)]
pub struct Capacity {
    /// (mode, points (concurrent uploads, servers)).
    pub curves: Vec<NamedCurve>,
    /// What the curve assumes.
    pub subtitle: String,
}

impl Plot for Capacity {
    fn name(&self) -> &'static str {
        "capacity"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest = caption(area, "App servers needed vs concurrent uploads", &self.subtitle)?;
        let extent = Extent::of(self.curves.iter().flat_map(|c| c.points.iter().copied()));
        let (left, right) = (extent.x.0, extent.x.1.max(1.0));
        let top = extent.y.1.max(1.0) * 3.0;
        let mut chart = e(ChartBuilder::on(&rest)
            .margin(30)
            .margin_right(70)
            .x_label_area_size(60)
            .y_label_area_size(110)
            .build_cartesian_2d((left.min(right)..right).log_scale(), (0.8f64..top).log_scale()))?;
        e(chart
            .configure_mesh()
            .x_label_formatter(&|x| grouped(*x as u64))
            .y_label_formatter(&|y| grouped(y.round() as u64))
            .x_desc("concurrent uploads (= uploads in the window), log scale")
            .y_desc("servers needed, log scale")
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 22))
            .draw())?;
        for curve in &self.curves {
            line(&mut chart, &curve.name, mode_color(&curve.name).to_rgba(), curve.points.iter().copied(), 5)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

/// One mode across a size sweep.
#[derive(Clone, Debug)]
pub struct SweepCurves {
    /// `proxied` or `presigned`.
    pub mode: String,
    /// (object size in bytes, median end-to-end latency in ms).
    pub p50: Series,
    /// (object size in bytes, 99th percentile in ms).
    pub p99: Series,
    /// (object size in bytes, app-tier bytes per upload).
    pub bytes: Series,
}

/// Latency and app-tier bytes against object size, with the crossover marked.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Per mode.
    pub modes: Vec<SweepCurves>,
    /// Where presigned stops costing more latency than proxying, if it does.
    pub crossover: Option<f64>,
}

impl Plot for Sweep {
    fn name(&self) -> &'static str {
        "sweep"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let subtitle = self.crossover.map_or_else(
            || "no crossover: presigned's extra round trips cost more latency at every size swept".to_owned(),
            |c| {
                format!(
                    "crossover at {}: from there up, presigned's median latency is no worse than proxying's",
                    si_bytes(c)
                )
            },
        );
        let rest = caption(area, "Object size sweep", &subtitle)?;
        let (left, right) = rest.split_horizontally(SIZE.0 / 2);
        self.panel(&left, "end-to-end latency (ms, log): p50 solid, p99 thin", true)?;
        self.panel(&right, "app-tier bytes per upload (log)", false)
    }
}

impl Sweep {
    fn panel<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, title: &str, latency: bool) -> Drawn {
        let extent = Extent::of(
            self.modes
                .iter()
                .flat_map(|m| if latency { vec![&m.p50, &m.p99] } else { vec![&m.bytes] })
                .flatten()
                .copied(),
        );
        let (x1, y1) = (extent.x.1.max(1.0), extent.y.1.max(1.0));
        let (x0, y0) = (extent.x.0.min(x1) / 1.5, (extent.y.0.min(y1) / 2.0).max(1e-3));
        let mut chart = e(ChartBuilder::on(area)
            .caption(title, (FONT, 24))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(110)
            .build_cartesian_2d((x0..x1 * 1.5).log_scale(), (y0..y1 * 2.0).log_scale()))?;
        e(chart
            .configure_mesh()
            .x_label_formatter(&|x| si_bytes(*x))
            .y_label_formatter(&|y| if latency { format!("{y:.1}") } else { si_bytes(*y) })
            .x_desc("object size")
            .label_style((FONT, 20))
            .axis_desc_style((FONT, 20))
            .draw())?;
        for m in &self.modes {
            let color = mode_color(&m.mode);
            let main = if latency { &m.p50 } else { &m.bytes };
            line(&mut chart, &m.mode, color.to_rgba(), main.iter().copied(), 5)?;
            if latency {
                e(chart.draw_series(
                    LineSeries::new(m.p99.iter().copied(), color.mix(0.6).stroke_width(1)).point_size(3),
                ))?;
            }
        }
        if let Some(c) = self.crossover {
            let line = PathElement::new([(c, y0), (c, y1 * 2.0)], BLACK.mix(0.6).stroke_width(2));
            e(chart.draw_series(std::iter::once(line)))?;
            e(chart.draw_series(std::iter::once(Text::new("crossover", (c * 1.05, y1), (FONT, 20).into_font()))))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
