//! Curves over a varied input: latency and bytes across a size sweep, servers needed as load
//! grows (capacity), URLs per second by threads (signing).

// Presentation: counts become f64 for display and plotting, and plot coordinates become
// indexes; precision far beyond what a label or a pixel shows is not needed.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use super::{Drawn, Extent, FONT, PRESIGNED, PROXIED, Plot, SIZE, Series, caption, e, legend, line, mode_color};
use crate::human::{grouped, si_bytes};
use plotters::coord::Shift;
use plotters::prelude::*;

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

/// The cache hit ratio over the views, per CDN read architecture.
#[derive(Clone, Debug)]
pub struct HitRatio {
    /// (architecture, points (share of the views in %, hit ratio in %)).
    pub curves: Vec<NamedCurve>,
    /// What was viewed.
    pub subtitle: String,
}

impl Plot for HitRatio {
    fn name(&self) -> &'static str {
        "hit-ratio"
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Drawn {
        let rest = caption(area, "Cache hit ratio over the views", &self.subtitle)?;
        let mut chart = e(ChartBuilder::on(&rest)
            .margin(30)
            .x_label_area_size(60)
            .y_label_area_size(100)
            .build_cartesian_2d(0f64..100.0, 0f64..105.0))?;
        e(chart
            .configure_mesh()
            .x_desc("views so far (% of the run's views, in order)")
            .y_desc("hits (% of the views in each twentieth)")
            .x_label_formatter(&|x| format!("{x:.0} %"))
            .y_label_formatter(&|y| format!("{y:.0} %"))
            .label_style((FONT, 22))
            .axis_desc_style((FONT, 22))
            .draw())?;
        let colors = [PROXIED, PRESIGNED, RGBColor(44, 160, 44)];
        for (curve, color) in self.curves.iter().zip(colors) {
            line(&mut chart, &curve.name, color.to_rgba(), curve.points.iter().copied(), 6)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}
