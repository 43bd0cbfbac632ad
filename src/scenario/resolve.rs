//! Resolution: raw TOML ([`super::raw`]) plus command-line [`Overrides`] into a validated
//! [`Scenario`]. Every error names the file, line, column and key, or the flag.

use super::raw::{self, RawRun, RawScenario, RawSize, RawVerify};
use super::{
    ClientLink, DEFAULT_MAX_DURATION_MS, DEFAULT_MAX_SIZE, DEFAULT_REQUEST_TIMEOUT_MS, MIN_OBJECT_SIZE, Mode,
    ObjectSize, Overrides, Pacing, Scenario, ScenarioError, Signing, Storage, StorageKind, Verify,
};
use crate::units::{parse_duration, parse_size};
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
enum Origin<'a> {
    File { key: &'a str, offset: usize },
    Flag(&'static str),
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    pub(super) fn error(&self, origin: Origin<'_>, message: impl Into<String>) -> ScenarioError {
        match origin {
            Origin::File { key, offset } => {
                let (line, column) = line_col(self.text, offset);
                ScenarioError::Value {
                    file: self.file.to_owned(),
                    line,
                    column,
                    key: key.to_owned(),
                    message: message.into(),
                }
            }
            Origin::Flag(flag) => ScenarioError::Flag { flag, message: message.into() },
        }
    }
}

fn at<'k, T>(key: &'k str, v: &Spanned<T>) -> Origin<'k> {
    Origin::File { key, offset: v.span().start }
}

/// 1-based line and column of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Validates scenario `text` read from `file`.
pub(super) fn parse(file: &str, text: &str, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let ctx = Ctx { file, text };
    let raw = parse_raw(&ctx)?;
    resolve(&ctx, raw, overrides)
}

fn parse_raw(ctx: &Ctx<'_>) -> Result<RawScenario, ScenarioError> {
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

fn resolve(ctx: &Ctx<'_>, raw: RawScenario, o: &Overrides) -> Result<Scenario, ScenarioError> {
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
    let storage = resolve_storage(ctx, raw.storage.as_ref(), o)?;
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
    let signing = resolve_signing(ctx, raw.signing.as_ref())?;
    let client = resolve_client(ctx, run)?;
    let AppTier { nic: app_tier_nic_bytes_per_sec, cors_origins, http: app_http } =
        resolve_app_tier(ctx, raw.app_tier.as_ref())?;
    let thresholds = super::thresholds::resolve(ctx.file, ctx.text, raw.thresholds.as_ref())?;
    Ok(Scenario {
        app_http,
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

/// The `[app_tier]` table, resolved.
struct AppTier {
    nic: Option<f64>,
    cors_origins: Vec<String>,
    http: super::HttpVersion,
}

fn resolve_app_tier(ctx: &Ctx<'_>, raw: Option<&super::raw::RawAppTier>) -> Result<AppTier, ScenarioError> {
    let nic = match raw.and_then(|a| a.nic.as_ref()) {
        Some(n) => Some(crate::units::parse_bandwidth(n.get_ref()).map_err(|e| ctx.error(at("app_tier.nic", n), e))?),
        None => None,
    };
    let cors_origins = match raw.and_then(|a| a.cors_origins.as_ref()) {
        Some(list) => {
            for origin in list.get_ref() {
                crate::units::check_origin(origin).map_err(|e| ctx.error(at("app_tier.cors_origins", list), e))?;
            }
            list.get_ref().clone()
        }
        None => Vec::new(),
    };
    let http = match raw.and_then(|a| a.http.as_ref()) {
        Some(v) => match v.get_ref().as_str() {
            "1.1" => super::HttpVersion::Http1,
            "2" => super::HttpVersion::Http2,
            other => {
                let message = format!("`{other}` is not an HTTP version: \"1.1\" or \"2\"");
                return Err(ctx.error(at("app_tier.http", v), message));
            }
        },
        None => super::HttpVersion::Http1,
    };
    Ok(AppTier { nic, cors_origins, http })
}

fn resolve_client(ctx: &Ctx<'_>, run: &RawRun) -> Result<ClientLink, ScenarioError> {
    let bandwidth_bytes_per_sec = match &run.client_bandwidth {
        Some(b) => {
            Some(crate::units::parse_bandwidth(b.get_ref()).map_err(|e| ctx.error(at("run.client_bandwidth", b), e))?)
        }
        None => None,
    };
    let rtt = match &run.rtt {
        Some(r) => Some(parse_duration(r.get_ref()).map_err(|e| ctx.error(at("run.rtt", r), e))?),
        None => None,
    };
    Ok(ClientLink { bandwidth_bytes_per_sec, rtt_ms: rtt.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)) })
}

fn resolve_signing(ctx: &Ctx<'_>, raw: Option<&raw::RawSigning>) -> Result<Option<Signing>, ScenarioError> {
    let default = Signing { duration_ms: 5000, concurrency: 64 };
    let Some(raw) = raw else { return Ok(Some(default)) };
    if raw.enabled == Some(false) {
        return Ok(None);
    }
    let duration_ms = match &raw.duration {
        Some(d) => {
            let parsed = parse_duration(d.get_ref()).map_err(|e| ctx.error(at("signing.duration", d), e))?;
            if parsed.is_zero() {
                return Err(ctx.error(at("signing.duration", d), "must be above zero"));
            }
            u64::try_from(parsed.as_millis()).unwrap_or(u64::MAX)
        }
        None => default.duration_ms,
    };
    let concurrency = positive(ctx, "signing.concurrency", raw.concurrency.as_ref(), default.concurrency)?;
    Ok(Some(Signing { duration_ms, concurrency }))
}

fn positive(ctx: &Ctx<'_>, key: &str, v: Option<&Spanned<u64>>, default: u64) -> Result<u64, ScenarioError> {
    match v {
        Some(s) if *s.get_ref() == 0 => Err(ctx.error(at(key, s), "must be at least 1")),
        Some(s) => Ok(*s.get_ref()),
        None => Ok(default),
    }
}

fn resolve_modes(ctx: &Ctx<'_>, raw: Option<&Spanned<Vec<String>>>, o: &Overrides) -> Result<Vec<Mode>, ScenarioError> {
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

fn resolve_uploads(ctx: &Ctx<'_>, run: &RawRun, target: u64, o: &Overrides) -> Result<u64, ScenarioError> {
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

fn resolve_pacing(ctx: &Ctx<'_>, run: &RawRun, o: &Overrides) -> Result<Pacing, ScenarioError> {
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
    ctx: &Ctx<'_>,
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

fn check_size(ctx: &Ctx<'_>, origin: Origin<'_>, size: ObjectSize, max_size: u64) -> Result<(), ScenarioError> {
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

fn resolve_storage(ctx: &Ctx<'_>, raw: Option<&raw::RawStorage>, o: &Overrides) -> Result<Storage, ScenarioError> {
    let endpoint = |url: &str, origin: Origin<'_>, bucket: Option<&str>, region: Option<&str>| {
        let parsed: http::Uri = url.parse().map_err(|_| ctx.error(origin, format!("invalid URL {url:?}")))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(ctx.error(origin, format!("invalid URL {url:?}: expected http://host:port")));
        }
        Ok(Storage::Endpoint {
            url: url.trim_end_matches('/').to_owned(),
            bucket: bucket.unwrap_or("presign-bench").to_owned(),
            region: region.unwrap_or("us-east-1").to_owned(),
        })
    };
    let bucket = o.bucket.as_deref().or_else(|| raw.and_then(|r| r.bucket.as_deref()));
    let region = raw.and_then(|r| r.region.as_deref());
    if let Some(url) = &o.storage_endpoint {
        return endpoint(url, Origin::Flag("--storage-endpoint"), bucket, region);
    }
    let kind = match (o.storage, raw) {
        (Some(StorageKind::Embedded), _) | (None, None) => return Ok(Storage::Embedded),
        (Some(StorageKind::Minio), _) => "minio",
        (None, Some(raw)) => raw.kind.get_ref().as_str(),
    };
    let count = |key: &str, v: Option<&Spanned<u64>>, max: u64| match v {
        None => Ok(1),
        Some(n) if (1..=max).contains(n.get_ref()) => Ok(*n.get_ref()),
        Some(n) => Err(ctx.error(at(key, n), format!("must be from 1 to {max}"))),
    };
    match kind {
        "embedded" => Ok(Storage::Embedded),
        "minio" => {
            let nodes = count("storage.nodes", raw.and_then(|r| r.nodes.as_ref()), 16)?;
            let drives_per_node = count("storage.drives_per_node", raw.and_then(|r| r.drives_per_node.as_ref()), 16)?;
            if nodes > 1 && nodes * drives_per_node < 4 {
                let n = raw.and_then(|r| r.nodes.as_ref()).expect("nodes > 1 was given");
                return Err(ctx.error(
                    at("storage.nodes", n),
                    "a distributed MinIO needs at least 4 drives in all (erasure coding)",
                ));
            }
            let data_dir = raw.and_then(|r| r.data_dir.as_ref()).map(PathBuf::from);
            Ok(Storage::Minio { nodes, drives_per_node, data_dir })
        }
        "container" => {
            let raw = raw.expect("kind container comes from the file");
            match raw.image.as_deref().map(str::trim) {
                Some(image) if !image.is_empty() => Ok(Storage::Container { image: image.to_owned() }),
                _ => Err(ctx.error(
                    at("storage.kind", &raw.kind),
                    "kind = \"container\" needs `image` (MinIO publishes no maintained image: build one with docker/Dockerfile.minio)",
                )),
            }
        }
        "endpoint" => {
            let raw = raw.expect("kind endpoint comes from the file");
            let url = raw
                .url
                .as_ref()
                .ok_or_else(|| ctx.error(at("storage.kind", &raw.kind), "kind = \"endpoint\" needs `url`"))?;
            endpoint(url.get_ref(), at("storage.url", url), bucket, region)
        }
        other => {
            let kind = &raw.expect("a kind not from the flag is from the file").kind;
            Err(ctx.error(
                at("storage.kind", kind),
                format!("unknown kind {other:?}; expected \"embedded\", \"minio\", \"container\" or \"endpoint\""),
            ))
        }
    }
}
