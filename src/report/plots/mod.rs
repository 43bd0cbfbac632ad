//! The report's plots, each written as SVG and PNG (1600×900). Each plot is plain data that
//! knows how to draw itself on any plotters backend; [`draw`] returns its SVG and PNG as data
//! and [`save`] writes them.
//!
//! This file holds what every plot shares (sizes, colours, legend, lines, axis bounds);
//! [`modes`] has the four plots of every run (bandwidth, latency, timeline, resources) and
//! [`curves`] the curves over a varied input (size sweep, capacity, signing).

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

mod curves;
mod modes;

pub use curves::{Capacity, HitRatio, NamedCurve, Signing, Sweep, SweepCurves};
pub use modes::{Bandwidth, Curve, Latency, ModeBytes, ModeResources, ModeTimeline, Resources, Timeline};

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

/// Points of a line: (x, y).
pub type Series = Vec<(f64, f64)>;

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

/// A plot drawn: its SVG text and its PNG file's bytes, both deterministic for the same data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drawing {
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// Draws `plot` as SVG and PNG, in memory.
///
/// # Errors
/// [`PlotError`] naming the plot.
pub fn draw(plot: &impl Plot) -> Result<Drawing, PlotError> {
    register_font();
    let fail = |message: String| PlotError { name: plot.name().to_owned(), message };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        plot.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        plot.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, SIZE.0, SIZE.1);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| fail(e.to_string()))?;
        writer.write_image_data(&rgb).map_err(|e| fail(e.to_string()))?;
        writer.finish().map_err(|e| fail(e.to_string()))?;
    }
    Ok(Drawing { svg, png })
}

/// Writes `drawing` of the plot `name` as `dir/NAME.svg` and `dir/NAME.png`; returns both paths.
///
/// # Errors
/// [`PlotError`] naming the plot and the file.
pub fn save(name: &str, drawing: &Drawing, dir: &Path) -> Result<[PathBuf; 2], PlotError> {
    let svg = dir.join(format!("{name}.svg"));
    let png = dir.join(format!("{name}.png"));
    for (path, bytes) in [(&svg, drawing.svg.as_bytes()), (&png, drawing.png.as_slice())] {
        std::fs::write(path, bytes)
            .map_err(|e| PlotError { name: name.to_owned(), message: format!("{}: {e}", path.display()) })?;
    }
    Ok([svg, png])
}

/// Draws `plot` and writes it as `dir/NAME.svg` and `dir/NAME.png`; returns both paths.
///
/// # Errors
/// [`PlotError`] naming the plot.
pub fn write(plot: &impl Plot, dir: &Path) -> Result<[PathBuf; 2], PlotError> {
    save(plot.name(), &draw(plot)?, dir)
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
