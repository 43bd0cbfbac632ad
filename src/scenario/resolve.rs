//! Resolution: raw TOML ([`super::raw`]) plus command-line [`Overrides`] into a validated
//! [`Scenario`]. Every error names the file, line, column and key, or the flag.

use super::origin::{Origin, Source, at, positive};
use super::raw::{RawRun, RawScenario, RawSize, RawVerify};
use super::sections;
use super::{
    DEFAULT_MAX_DURATION_MS, DEFAULT_MAX_SIZE, DEFAULT_REQUEST_TIMEOUT_MS, MIN_OBJECT_SIZE, Mode, ObjectSize,
    Overrides, Pacing, Scenario, ScenarioError, Verify,
};
use crate::units::{parse_duration, parse_size};
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// Validates scenario `text` read from `file`.
pub(super) fn parse(file: &str, text: &str, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let ctx = Source { file, text };
    let raw = parse_raw(&ctx)?;
    resolve(&ctx, raw, overrides)
}

fn parse_raw(ctx: &Source<'_>) -> Result<RawScenario, ScenarioError> {
    let syntax = |e: toml::de::Error| {
        let offset = e.span().map_or(0, |s| s.start);
        ctx.error(Origin::File { key: "(syntax)", offset }, e.message().to_owned())
    };
    let de = toml::Deserializer::parse(ctx.text).map_err(syntax)?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        // Spanned<T> shows up in the path as a private field; the user's key is what precedes it.
        let key = e.path().to_string().replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let offset = inner.span().map_or(0, |s| s.start);
        let message = inner
            .message()
            .replace(
                "data did not match any variant of untagged enum RawSize",
                "expected a size like \"10MiB\" or { min = \"1MiB\", max = \"20MiB\" }",
            )
            .replace(
                "data did not match any variant of untagged enum RawVerify",
                "expected \"all\", \"none\" or { sample = N }",
            );
        ctx.error(Origin::File { key: &key, offset }, message)
    })
}

fn resolve(ctx: &Source<'_>, raw: RawScenario, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let name = raw.name.get_ref().trim().to_owned();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(ctx.error(at("name", &raw.name), "use letters, digits, - and _ (it names the report directory)"));
    }
    let modes = resolve_modes(ctx, raw.modes.as_ref(), o)?;
    let target_uploads = match &raw.target {
        Some(t) if *t.uploads.get_ref() == 0 => {
            return Err(ctx.error(at("target.uploads", &t.uploads), "must be at least 1"));
        }
        Some(t) => *t.uploads.get_ref(),
        None => 0,
    };
    let run = &raw.run;
    let uploads = resolve_uploads(ctx, run, target_uploads, o)?;
    let target_uploads = if target_uploads == 0 { uploads } else { target_uploads };
    let pacing = resolve_pacing(ctx, run, o)?;
    let max_size = match raw.broker.as_ref().and_then(|b| b.max_size.as_ref()) {
        Some(s) => parse_size(s.get_ref()).map_err(|e| ctx.error(at("broker.max_size", s), e))?,
        None => DEFAULT_MAX_SIZE,
    };
    let (object_size, sweep) = resolve_size(ctx, run, max_size, o)?;
    let content_type = run.content_type.as_ref().map_or("image/jpeg", |c| c.get_ref().as_str());
    let content_type = crate::units::normalise_content_type(content_type);
    let users = positive(ctx, "run.users", run.users.as_ref(), 100)?;
    let verify = match run.verify.as_ref() {
        None => Verify::All,
        Some(v) => match v.get_ref() {
            RawVerify::Word(w) if w == "all" => Verify::All,
            RawVerify::Word(w) if w == "none" => Verify::None,
            RawVerify::Sample(s) if s.sample > 0 => Verify::Sample(s.sample),
            _ => {
                return Err(ctx.error(at("run.verify", v), "expected \"all\", \"none\" or { sample = N } with N ≥ 1"));
            }
        },
    };
    let storage = sections::resolve_storage(ctx, raw.storage.as_ref(), o)?;
    let duration = |key, v: Option<&Spanned<String>>, default: Duration| -> Result<u64, ScenarioError> {
        let d = match v {
            Some(s) => parse_duration(s.get_ref()).map_err(|e| ctx.error(at(key, s), e))?,
            None => default,
        };
        if d.is_zero() {
            return Err(ctx.error(at(key, v.expect("the default is not zero")), "must be above zero"));
        }
        Ok(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let signing = sections::resolve_signing(ctx, raw.signing.as_ref())?;
    let client = sections::resolve_client(ctx, run)?;
    let sections::AppTier { nic: app_tier_nic_bytes_per_sec, cors_origins, http: app_http } =
        sections::resolve_app_tier(ctx, raw.app_tier.as_ref())?;
    let largest = sweep.last().copied().unwrap_or_else(|| object_size.max());
    let multipart = sections::resolve_multipart(ctx, run, largest)?;
    let downloads = super::reads::resolve(ctx, raw.downloads.as_ref(), &storage)?;
    let validation = sections::resolve_validation(ctx, raw.validation.as_ref(), &storage)?;
    let checksum_sha256 = sections::resolve_checksum(ctx, run)?;
    let infected_share = sections::resolve_infected_share(ctx, run)?;
    let thresholds = super::thresholds::resolve(ctx.file, ctx.text, raw.thresholds.as_ref())?;
    Ok(Scenario {
        multipart,
        downloads,
        validation,
        checksum_sha256,
        infected_share,
        app_http,
        tls: crate::scenario::Tls {
            app_tier: raw.app_tier.as_ref().and_then(|a| a.tls).unwrap_or(false),
            storage: sections::resolve_storage_tls(ctx, raw.storage.as_ref(), &storage)?,
        },
        app_tier_nic_bytes_per_sec,
        cors_origins,
        thresholds,
        signing,
        client,
        source: PathBuf::from(ctx.file),
        name,
        description: raw.description.unwrap_or_default(),
        modes,
        target_uploads,
        uploads,
        pacing,
        object_size,
        sweep,
        content_type,
        users,
        seed: o.seed.or(run.seed).unwrap_or(42),
        verify,
        storage,
        max_size,
        request_timeout_ms: duration(
            "run.request_timeout",
            run.request_timeout.as_ref(),
            Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
        )?,
        max_duration_ms: duration(
            "run.max_duration",
            run.max_duration.as_ref(),
            Duration::from_millis(DEFAULT_MAX_DURATION_MS),
        )?,
    })
}

fn resolve_modes(
    ctx: &Source<'_>,
    raw: Option<&Spanned<Vec<String>>>,
    o: &Overrides,
) -> Result<Vec<Mode>, ScenarioError> {
    if let Some(modes) = &o.modes {
        return if modes.is_empty() {
            Err(ctx.error(Origin::Flag("--modes"), "name at least one mode"))
        } else {
            Ok(modes.clone())
        };
    }
    let Some(raw) = raw else { return Ok(vec![Mode::Proxied, Mode::Presigned]) };
    let mut modes = Vec::new();
    for m in raw.get_ref() {
        let mode = match m.as_str() {
            "proxied" => Mode::Proxied,
            "presigned" => Mode::Presigned,
            other => {
                return Err(ctx.error(
                    at("modes", raw),
                    format!("unknown mode {other:?}; expected \"proxied\" or \"presigned\""),
                ));
            }
        };
        if !modes.contains(&mode) {
            modes.push(mode);
        }
    }
    if modes.is_empty() {
        return Err(ctx.error(at("modes", raw), "name at least one mode"));
    }
    Ok(modes)
}

fn resolve_uploads(ctx: &Source<'_>, run: &RawRun, target: u64, o: &Overrides) -> Result<u64, ScenarioError> {
    if let Some(n) = o.uploads {
        return if n == 0 { Err(ctx.error(Origin::Flag("--uploads"), "must be at least 1")) } else { Ok(n) };
    }
    match (&run.uploads, &run.scale) {
        (Some(u), Some(_)) => Err(ctx.error(at("run.uploads", u), "give `uploads` or `scale`, not both")),
        (Some(u), None) => positive(ctx, "run.uploads", Some(u), 0),
        (None, Some(s)) => {
            let scale = *s.get_ref();
            if target == 0 {
                return Err(ctx.error(at("run.scale", s), "`scale` needs [target] uploads"));
            }
            if !(scale > 0.0 && scale <= 1.0) {
                return Err(ctx.error(at("run.scale", s), "must be in (0, 1]"));
            }
            #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = (target as f64 * scale).round() as u64;
            Ok(n.max(1))
        }
        (None, None) => Err(ctx.error(Origin::File { key: "run", offset: 0 }, "give `uploads` or `scale`")),
    }
}

fn resolve_pacing(ctx: &Source<'_>, run: &RawRun, o: &Overrides) -> Result<Pacing, ScenarioError> {
    let concurrency = match o.concurrency {
        Some(0) => return Err(ctx.error(Origin::Flag("--concurrency"), "must be at least 1")),
        Some(c) => c,
        None => positive(ctx, "run.concurrency", run.concurrency.as_ref(), 32)?,
    };
    let rate = match (&o.rate, &run.rate) {
        (Some(r), _) => Some((r.as_str(), Origin::Flag("--rate"))),
        (None, Some(r)) => Some((r.get_ref().as_str(), at("run.rate", r))),
        (None, None) => None,
    };
    let Some((rate, origin)) = rate else { return Ok(Pacing::Closed { concurrency }) };
    let rate_per_sec = parse_rate(rate).map_err(|e| ctx.error(origin, e))?;
    Ok(Pacing::Open { rate_per_sec, max_in_flight: concurrency })
}

/// Parses `"100/s"`, `"6000/min"` or `"2.5"` (per second).
fn parse_rate(s: &str) -> Result<f64, String> {
    let (number, per) = s.trim().split_once('/').unwrap_or((s.trim(), "s"));
    let seconds = match per.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("invalid rate {s:?}: unknown unit {other:?} (examples: 100/s, 600/min)")),
    };
    let n: f64 = number.trim().parse().map_err(|_| format!("invalid rate {s:?} (examples: 100/s, 600/min)"))?;
    let rate = n / seconds;
    if !(rate.is_finite() && (0.001..=1e6).contains(&rate)) {
        return Err(format!("invalid rate {s:?}: must be between 0.001/s and 1000000/s"));
    }
    Ok(rate)
}

fn resolve_size(
    ctx: &Source<'_>,
    run: &RawRun,
    max_size: u64,
    o: &Overrides,
) -> Result<(ObjectSize, Vec<u64>), ScenarioError> {
    let mut sweep = Vec::new();
    let (size, origin) = if let Some(s) = &o.object_size {
        let origin = Origin::Flag("--object-size");
        (ObjectSize::Fixed(parse_size(s).map_err(|e| ctx.error(origin, e))?), origin)
    } else {
        let origin = at("run.object_size", &run.object_size);
        let size = match run.object_size.get_ref() {
            RawSize::Fixed(s) => ObjectSize::Fixed(parse_size(s).map_err(|e| ctx.error(origin, e))?),
            RawSize::Range(r) => {
                let min = parse_size(&r.min).map_err(|e| ctx.error(origin, e))?;
                let max = parse_size(&r.max).map_err(|e| ctx.error(origin, e))?;
                if min > max {
                    return Err(ctx.error(origin, format!("min {} is above max {}", r.min, r.max)));
                }
                ObjectSize::Range { min, max }
            }
            RawSize::Sweep(s) => {
                for size in &s.sweep {
                    sweep.push(parse_size(size).map_err(|e| ctx.error(origin, e))?);
                }
                sweep.sort_unstable();
                sweep.dedup();
                let (Some(&first), Some(&last)) = (sweep.first(), sweep.last()) else {
                    return Err(ctx.error(origin, "a sweep needs at least one size"));
                };
                for size in [first, last] {
                    check_size(ctx, origin, ObjectSize::Fixed(size), max_size)?;
                }
                ObjectSize::Fixed(first)
            }
        };
        (size, origin)
    };
    check_size(ctx, origin, size, max_size)?;
    Ok((size, sweep))
}

fn check_size(ctx: &Source<'_>, origin: Origin<'_>, size: ObjectSize, max_size: u64) -> Result<(), ScenarioError> {
    let smallest = match size {
        ObjectSize::Fixed(s) => s,
        ObjectSize::Range { min, .. } => min,
    };
    if smallest < MIN_OBJECT_SIZE {
        return Err(ctx.error(
            origin,
            format!(
                "objects must be at least {MIN_OBJECT_SIZE} B (magic bytes plus a unique prefix); got {smallest} B"
            ),
        ));
    }
    if size.max() > max_size {
        return Err(ctx.error(
            origin,
            format!("{} B is above the broker's maximum of {max_size} B (set [broker] max_size)", size.max()),
        ));
    }
    Ok(())
}
