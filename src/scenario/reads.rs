//! Resolution of `[downloads]`: how many reads (`per_object`, or `views` by `viewers` over a
//! `popularity`), and which read architectures through the run's CDN (`cdn`, `cache_size`,
//! `cookie_ttl`), with the file:line:key errors of [`super::resolve`].

use super::origin::{Origin, Source, at, positive};
use super::raw::{RawDownloads, RawPopularity};
use super::{CdnReads, Downloads, ScenarioError, Storage, Views};
use crate::units::{parse_duration, parse_size};

/// Most views of a run (per read architecture).
const MAX_VIEWS: u64 = 10_000_000;

/// `[downloads]`.
pub(super) fn resolve(
    ctx: &Source<'_>,
    raw: Option<&RawDownloads>,
    storage: &Storage,
) -> Result<Option<Downloads>, ScenarioError> {
    let Some(raw) = raw else { return Ok(None) };
    let per_object = match (&raw.per_object, &raw.views) {
        (Some(p), Some(_)) => {
            return Err(ctx.error(at("downloads.per_object", p), "give either per_object or views, not both"));
        }
        (None, None) => {
            let needs_views = "applies to views: set `views = N` too";
            if let Some(v) = &raw.viewers {
                return Err(ctx.error(at("downloads.viewers", v), needs_views));
            }
            if let Some(p) = &raw.popularity {
                return Err(ctx.error(at("downloads.popularity", p), needs_views));
            }
            let message = "missing: `per_object = N` (reads of each object) or `views = N` (reads by popularity)";
            let offset = ctx.text.find("[downloads]").unwrap_or(0);
            return Err(ctx.error(Origin::File { key: "downloads", offset }, message));
        }
        (Some(p), None) if !(1..=1000).contains(p.get_ref()) => {
            return Err(ctx.error(at("downloads.per_object", p), "must be from 1 to 1000"));
        }
        (Some(p), None) => *p.get_ref(),
        (None, Some(_)) => 1,
    };
    let views = match &raw.views {
        Some(v) if !(1..=MAX_VIEWS).contains(v.get_ref()) => {
            return Err(ctx.error(at("downloads.views", v), format!("must be from 1 to {MAX_VIEWS}")));
        }
        Some(v) => Some(Views {
            views: *v.get_ref(),
            viewers: positive(ctx, "downloads.viewers", raw.viewers.as_ref(), 100)?,
            zipf: popularity(ctx, raw.popularity.as_ref())?,
        }),
        None => {
            let message = "applies to views: set `views = N` instead of per_object";
            if let Some(v) = &raw.viewers {
                return Err(ctx.error(at("downloads.viewers", v), message));
            }
            if let Some(p) = &raw.popularity {
                return Err(ctx.error(at("downloads.popularity", p), message));
            }
            None
        }
    };
    let cdn = cdn_reads(ctx, raw, storage)?;
    let cache_bytes = match &raw.cache_size {
        Some(v) => match parse_size(v.get_ref()) {
            Ok(n) if n >= 1 << 20 => n,
            Ok(_) => return Err(ctx.error(at("downloads.cache_size", v), "at least 1MiB")),
            Err(e) => return Err(ctx.error(at("downloads.cache_size", v), e)),
        },
        None => super::default_cache_bytes(),
    };
    let cookie_ttl_s = match &raw.cookie_ttl {
        Some(v) => match parse_duration(v.get_ref()) {
            Ok(d) if (1..=3600).contains(&d.as_secs()) => d.as_secs(),
            Ok(_) => return Err(ctx.error(at("downloads.cookie_ttl", v), "from 1s to 1h (a session, as a GET URL)")),
            Err(e) => return Err(ctx.error(at("downloads.cookie_ttl", v), e)),
        },
        None => super::default_cookie_ttl(),
    };
    Ok(Some(Downloads { per_object, views, cdn, cache_bytes, cookie_ttl_s }))
}

fn popularity(ctx: &Source<'_>, raw: Option<&toml::Spanned<RawPopularity>>) -> Result<Option<f64>, ScenarioError> {
    match raw.map(|p| (p, p.get_ref())) {
        None => Ok(None),
        Some((_, RawPopularity::Named(name))) if name == "uniform" => Ok(None),
        Some((_, RawPopularity::Zipf { zipf })) if (0.0..=5.0).contains(zipf) && *zipf > 0.0 => Ok(Some(*zipf)),
        Some((p, RawPopularity::Zipf { .. })) => {
            Err(ctx.error(at("downloads.popularity", p), "the zipf exponent must be above 0 and at most 5"))
        }
        Some((p, RawPopularity::Named(_))) => {
            Err(ctx.error(at("downloads.popularity", p), "expected \"uniform\" or { zipf = S }"))
        }
    }
}

fn cdn_reads(ctx: &Source<'_>, raw: &RawDownloads, storage: &Storage) -> Result<CdnReads, ScenarioError> {
    let Some(list) = &raw.cdn else { return Ok(CdnReads::default()) };
    let mut reads = CdnReads::default();
    for name in list.get_ref() {
        match name.as_str() {
            "public" => reads.public = true,
            "signed" => reads.signed = true,
            "presigned" => reads.presigned = true,
            other => {
                let message = format!("`{other}` is not a CDN read: \"public\", \"signed\" or \"presigned\"");
                return Err(ctx.error(at("downloads.cdn", list), message));
            }
        }
    }
    if reads.any() && !matches!(storage, Storage::Embedded | Storage::Minio { .. }) {
        let message = "the CDN fronts a store the harness starts (it holds the store's keys): embedded or minio";
        return Err(ctx.error(at("downloads.cdn", list), message));
    }
    Ok(reads)
}
