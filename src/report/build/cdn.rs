//! Reads at CDN scale (`[downloads] cdn`): every read architecture of the run side by side
//! (proxied, presigned GET, presigned GET through the CDN, the CDN's public path, the CDN with
//! signed cookies), per view: app-tier requests and bytes, origin requests and bytes, the hit
//! ratio and its course, latency; the capacity model's answer at the target; and which
//! architecture suits which content.

use crate::human::{grouped, ms, number, si_bytes};
use crate::report::document::{Block, Row, Section, Table};
use crate::results::{DownloadResult, Phase, Results};
use crate::scenario::Mode;

/// The section's heading.
pub const TITLE: &str = "Reads at CDN scale: which architecture for which content";

fn latency(d: &DownloadResult, phase: Phase) -> String {
    d.latency_us.get(&phase).map_or("-".into(), |l| format!("{} / {}", ms(l.p50), ms(l.p99)))
}

fn percent(r: f64) -> String {
    format!("{} %", number(r * 100.0, 3))
}

type Cell = (&'static str, fn(&DownloadResult) -> String);

const ROWS: [Cell; 12] = [
    ("views ok / failed", |d| format!("{} / {}", grouped(d.downloads_ok), grouped(d.downloads_failed))),
    ("app-tier requests per view", |d| number(d.per_download.app_tier_requests, 3)),
    ("app-tier bytes per view", |d| si_bytes(d.per_download.app_tier_bytes)),
    ("origin requests per view", |d| d.cache.as_ref().map_or("1".into(), |c| number(c.origin_requests_per_view, 3))),
    ("origin bytes per view", |d| {
        si_bytes(d.cache.as_ref().map_or(d.per_download.object_bytes, |c| c.origin_bytes_per_view))
    }),
    ("cache hit ratio", |d| d.cache.as_ref().map_or("-".into(), |c| percent(c.hit_ratio))),
    ("distinct URLs asked for (cache keys)", |d| d.cache.as_ref().map_or("-".into(), |c| grouped(c.distinct_urls))),
    ("hit ratio at 5 / 25 / 50 / 75 / 100 % of views", |d| {
        d.cache.as_ref().filter(|c| !c.hit_ratio_course.is_empty()).map_or("-".into(), |c| {
            let n = c.hit_ratio_course.len();
            [0, n / 4, n / 2, 3 * n / 4, n - 1]
                .iter()
                .map(|&i| number(c.hit_ratio_course[i.min(n - 1)] * 100.0, 2))
                .collect::<Vec<_>>()
                .join(" / ")
        })
    }),
    ("sessions (cookies signed)", |d| d.cache.as_ref().map_or("-".into(), |c| grouped(c.sessions))),
    ("resolve p50 / p99", |d| latency(d, Phase::Resolve)),
    ("transfer p50 / p99", |d| latency(d, Phase::Transfer)),
    ("view p50 / p99", |d| latency(d, Phase::EndToEnd)),
];

/// The architectures the run read through, in report order.
fn architectures(results: &Results) -> Vec<(String, &DownloadResult)> {
    let mut all = Vec::new();
    for mode in Mode::ALL {
        if let Some(d) = results.modes.get(mode).and_then(|m| m.downloads.as_ref()) {
            all.push((mode.as_str().to_owned(), d));
        }
    }
    if let Some(p) = results.modes.get(Mode::Presigned) {
        for name in ["presigned-cdn", "cdn-public", "cdn-signed"] {
            all.extend(p.cdn_reads.get(name).map(|d| (name.to_owned(), d)));
        }
    }
    all
}

/// The hit ratio over the views of each CDN architecture.
#[must_use]
pub fn plot(results: &Results) -> crate::report::plots::HitRatio {
    use crate::report::plots::{HitRatio, NamedCurve};
    let curves = architectures(results)
        .into_iter()
        .filter_map(|(name, d)| d.cache.as_ref().map(|c| (name, c)))
        .map(|(name, c)| {
            let n = c.hit_ratio_course.len().max(1) as f64;
            let points = c.hit_ratio_course.iter().enumerate().map(|(i, r)| ((i as f64 + 1.0) * 100.0 / n, r * 100.0));
            NamedCurve { name, points: points.collect() }
        })
        .collect();
    let views = results.scenario.downloads.and_then(|d| d.views).map_or(0, |v| v.views);
    HitRatio { curves, subtitle: format!("{} views per architecture, in the order they were made", grouped(views)) }
}

/// The section, or `None` when the run read nothing through a CDN.
#[must_use]
pub fn section(results: &Results) -> Option<Section> {
    let presigned = results.modes.get(Mode::Presigned)?;
    if presigned.cdn_reads.is_empty() {
        return None;
    }
    let all = architectures(results);
    let mut columns = vec![String::new()];
    columns.extend(all.iter().map(|(name, _)| name.clone()));
    let mut rows: Vec<Row> = ROWS
        .iter()
        .map(|(label, cell)| {
            Row::measured(std::iter::once((*label).to_owned()).chain(all.iter().map(|(_, d)| cell(d))).collect())
        })
        .collect();
    if let Some(c) = &results.capacity {
        let servers = |name: &str| {
            let mode = [Mode::Proxied, Mode::Presigned].into_iter().find(|m| m.as_str() == name);
            match mode {
                Some(m) => c.reads.get(&m).map_or("-".into(), |p| grouped(p.servers)),
                None => c.cdn_reads.get(name).map_or("-".into(), |p| {
                    p.servers.as_ref().map_or_else(|| "0 (no app-tier request)".into(), |s| grouped(s.servers))
                }),
            }
        };
        let origin = |name: &str, d: &DownloadResult| match c.cdn_reads.get(name) {
            Some(p) => si_bytes(p.origin_bytes),
            None => si_bytes(d.extrapolated.downloads as f64 * d.per_download.object_bytes),
        };
        rows.push(Row::estimated(
            std::iter::once("app servers for the target's reads (modelled)".to_owned())
                .chain(all.iter().map(|(name, _)| servers(name)))
                .collect(),
        ));
        rows.push(Row::estimated(
            std::iter::once("store egress for the target's reads (extrapolated)".to_owned())
                .chain(all.iter().map(|(name, d)| origin(name, d)))
                .collect(),
        ));
    }
    let table = Table { id: "cdn-reads", columns, labels: 1, rows };
    let mut blocks = vec![Block::Table(table)];
    blocks.extend(notes(&all).into_iter().map(Block::Paragraph));
    Some(Section::titled(TITLE, blocks))
}

/// The sentences under the table: what was measured, and which architecture for which content.
fn notes(all: &[(String, &DownloadResult)]) -> Vec<String> {
    let mut notes = Vec::new();
    let get = |name: &str| all.iter().find(|(n, _)| n == name).map(|(_, d)| *d);
    let target = all.first().map_or(0, |(_, d)| d.extrapolated.downloads);
    notes.push(format!(
        "Each architecture read the same views of the presigned mode's objects. Origin bytes are counted by the cache on its side of the store connection (its access log); a view that does not go through the cache costs the store its whole object. Extrapolations: per-view figures × {} target views, at the run's hit ratio. The cache collapses concurrent misses of one URL into one origin request (nginx's proxy_cache_lock): a view that arrives during its URL's fill waits for it, and nginx re-checks every 500 ms, so such views take up to half a second.",
        grouped(target)
    ));
    if let (Some(p), Some(c)) = (get("presigned-cdn"), get("presigned-cdn").and_then(|d| d.cache.as_ref())) {
        notes.push(format!(
            "Presigned GET URLs through the same cache: {} hits over {} views ({} distinct URLs), {} of origin per view. A URL carries its signature and its signing second, so only views that got the very same URL (one object, signed in the same second) share a cache entry; every other URL is a miss, and the store serves the object again. The more seconds a run's views of an object span, the more distinct URLs and misses.",
            percent(c.hit_ratio),
            grouped(p.downloads_ok),
            grouped(c.distinct_urls),
            si_bytes(c.origin_bytes_per_view)
        ));
    }
    let public = get("cdn-public").and_then(|d| d.cache.as_ref());
    let signed = get("cdn-signed").and_then(|d| d.cache.as_ref());
    if public.is_some() || signed.is_some() {
        let public_figures = public.map_or_else(String::new, |c| {
            format!(
                "{} hits, {} of origin per view, no app server",
                percent(c.hit_ratio),
                si_bytes(c.origin_bytes_per_view)
            )
        });
        let signed_figures = match (signed, get("cdn-signed")) {
            (Some(c), Some(d)) => format!(
                " ({} hits, one broker request per viewer session: {} per view)",
                percent(c.hit_ratio),
                number(d.per_download.app_tier_requests, 3)
            ),
            _ => String::new(),
        };
        let s = format!(
            "Which architecture for which content: public, read-heavy content belongs behind the CDN's public path{public_figures}; private content read by many authorised viewers behind the CDN with signed cookies{signed_figures}; a private object read by its owner now and then behind a presigned GET URL (one broker round trip per view, no cache); never through the app servers (proxied)."
        );
        notes.push(s);
    }
    notes
}
