//! Scenarios: TOML files in `scenarios/` that say what a run executes and which real-world load
//! it stands for. [`Scenario::load`] turns the file plus command-line overrides into a validated
//! [`Scenario`], and every error names the file, line and key (or the flag) before anything starts.

mod raw;

use crate::units::{parse_duration, parse_size};
use raw::{RawRun, RawScenario, RawSize, RawVerify};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The scenario used when none is given.
pub const DEFAULT_PATH: &str = "scenarios/default.toml";
/// The broker's and proxy's maximum upload size when the scenario sets none.
pub const DEFAULT_MAX_SIZE: u64 = 100 * 1024 * 1024;
/// Smallest object: room for the content type's magic bytes and a unique per-upload prefix.
pub const MIN_OBJECT_SIZE: u64 = 64;

/// An upload architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// client → proxy → store.
    Proxied,
    /// client → broker (URL) → store → broker (complete).
    Presigned,
}

impl Mode {
    /// The lowercase name used in files and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proxied => "proxied",
            Self::Presigned => "presigned",
        }
    }
}

/// How uploads are started.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "model", rename_all = "lowercase")]
pub enum Pacing {
    /// A fixed number of uploads in flight; a new one starts when one ends.
    Closed {
        /// Uploads in flight.
        concurrency: u64,
    },
    /// A constant arrival rate; uploads start at their intended times while at most
    /// `max_in_flight` are running, and latency is also reported from the intended start.
    Open {
        /// Uploads started per second.
        rate_per_sec: f64,
        /// Cap on uploads in flight (the scenario's `concurrency`).
        max_in_flight: u64,
    },
}

/// Object sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectSize {
    /// Every object has this size, in bytes.
    Fixed(u64),
    /// Uniformly distributed sizes, in bytes, inclusive, drawn deterministically from the seed.
    Range {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
}

impl ObjectSize {
    /// The largest object this distribution yields.
    #[must_use]
    pub fn max(self) -> u64 {
        match self {
            Self::Fixed(s) => s,
            Self::Range { max, .. } => max,
        }
    }

    /// The mean object size.
    #[must_use]
    pub fn mean(self) -> u64 {
        match self {
            Self::Fixed(s) => s,
            Self::Range { min, max } => min + (max - min) / 2,
        }
    }
}

/// Which objects are read back after each mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Every completed upload.
    All,
    /// An evenly spread sample of this many completed uploads.
    Sample(u64),
    /// None.
    None,
}

/// Where objects are stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Storage {
    /// The embedded store, started as a child process.
    Embedded,
    /// An external S3-compatible endpoint; credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
    Endpoint {
        /// Endpoint URL.
        url: String,
        /// Bucket (created if missing).
        bucket: String,
        /// Region used in signatures.
        region: String,
    },
}

/// The broker-under-presign-load phase: only `POST /v1/uploads`, then only `GET /healthz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Signing {
    /// How long each of the two sub-phases runs, in milliseconds.
    pub duration_ms: u64,
    /// Requests in flight.
    pub concurrency: u64,
}

/// A validated scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Where it was read from.
    pub source: PathBuf,
    /// Short name, used in report directory names.
    pub name: String,
    /// What it stands for.
    pub description: String,
    /// Architectures to run, in order.
    pub modes: Vec<Mode>,
    /// The real-world number of uploads this run stands for (extrapolation target).
    pub target_uploads: u64,
    /// Uploads executed per mode.
    pub uploads: u64,
    /// Closed or open model.
    pub pacing: Pacing,
    /// Object sizes (with a sweep: the first size of it).
    pub object_size: ObjectSize,
    /// Sizes to run both modes at, ascending; empty without a sweep.
    pub sweep: Vec<u64>,
    /// Content type of every upload.
    pub content_type: String,
    /// Simulated users the uploads are spread over.
    pub users: u64,
    /// Seed of payloads and size draws.
    pub seed: u64,
    /// What is read back.
    pub verify: Verify,
    /// Where objects go.
    pub storage: Storage,
    /// The broker's and proxy's `--max-size`.
    pub max_size: u64,
    /// Per-request timeout, in milliseconds.
    pub request_timeout_ms: u64,
    /// Time bound of each mode's load phase, in milliseconds.
    pub max_duration_ms: u64,
    /// The signing phase, unless disabled.
    pub signing: Option<Signing>,
    /// Simulated client links (bandwidth per upload, round trip per request), in both modes.
    pub client: crate::shaping::ClientLink,
    /// Emulated NIC of each app server (broker and proxy alike), bytes per second per direction.
    pub app_tier_nic_bytes_per_sec: Option<f64>,
}

/// Command-line values that replace the file's.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--uploads`
    pub uploads: Option<u64>,
    /// `--concurrency`
    pub concurrency: Option<u64>,
    /// `--rate`
    pub rate: Option<String>,
    /// `--object-size`
    pub object_size: Option<String>,
    /// `--modes`
    pub modes: Option<Vec<Mode>>,
    /// `--storage-endpoint`
    pub storage_endpoint: Option<String>,
    /// `--seed`
    pub seed: Option<u64>,
}

/// A scenario error, naming where the bad value came from.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Read {
        /// The path.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A value in the file is wrong.
    #[error("{file}:{line}:{column}: `{key}`: {message}")]
    Value {
        /// The path.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted key, e.g. `run.object_size`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A command-line override is wrong.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
}

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
    fn error(&self, origin: Origin<'_>, message: impl Into<String>) -> ScenarioError {
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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

impl Scenario {
    /// Reads and validates `path`, applying `overrides`.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and key, or the flag.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
        Self::parse(&file, &text, overrides)
    }

    /// Validates scenario `text` read from `file`.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, line and key, or the flag.
    pub fn parse(file: &str, text: &str, overrides: &Overrides) -> Result<Self, ScenarioError> {
        let ctx = Ctx { file, text };
        let raw = parse_raw(&ctx)?;
        resolve(&ctx, raw, overrides)
    }
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
    let content_type = crate::app::policy::normalise_type(content_type);
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
    let app_tier_nic_bytes_per_sec = match raw.app_tier.as_ref().and_then(|a| a.nic.as_ref()) {
        Some(n) => Some(crate::units::parse_bandwidth(n.get_ref()).map_err(|e| ctx.error(at("app_tier.nic", n), e))?),
        None => None,
    };
    Ok(Scenario {
        app_tier_nic_bytes_per_sec,
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
        request_timeout_ms: duration("run.request_timeout", run.request_timeout.as_ref(), Duration::from_secs(120))?,
        max_duration_ms: duration("run.max_duration", run.max_duration.as_ref(), Duration::from_secs(1800))?,
    })
}

fn resolve_client(ctx: &Ctx<'_>, run: &RawRun) -> Result<crate::shaping::ClientLink, ScenarioError> {
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
    Ok(crate::shaping::ClientLink { bandwidth_bytes_per_sec, rtt })
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
    let bucket = raw.and_then(|r| r.bucket.as_deref());
    let region = raw.and_then(|r| r.region.as_deref());
    if let Some(url) = &o.storage_endpoint {
        return endpoint(url, Origin::Flag("--storage-endpoint"), bucket, region);
    }
    let Some(raw) = raw else { return Ok(Storage::Embedded) };
    match raw.kind.get_ref().as_str() {
        "embedded" => Ok(Storage::Embedded),
        "endpoint" => {
            let url = raw
                .url
                .as_ref()
                .ok_or_else(|| ctx.error(at("storage.kind", &raw.kind), "kind = \"endpoint\" needs `url`"))?;
            endpoint(url.get_ref(), at("storage.url", url), bucket, region)
        }
        other => Err(ctx.error(
            at("storage.kind", &raw.kind),
            format!("unknown kind {other:?}; expected \"embedded\" or \"endpoint\""),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
description = "d"
modes = ["proxied", "presigned"]
[target]
uploads = 50000
[run]
uploads = 200
concurrency = 32
object_size = "10MiB"
content_type = "image/jpeg"
users = 1000
seed = 42
verify = "all"
[storage]
kind = "embedded"
"#;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse("s.toml", text, &Overrides::default())
    }

    #[test]
    fn parses_the_documented_shape() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.uploads, 200);
        assert_eq!(s.target_uploads, 50_000);
        assert_eq!(s.pacing, Pacing::Closed { concurrency: 32 });
        assert_eq!(s.object_size, ObjectSize::Fixed(10 * 1024 * 1024));
        assert_eq!(s.modes, vec![Mode::Proxied, Mode::Presigned]);
        assert_eq!(s.storage, Storage::Embedded);
        assert_eq!(s.signing, Some(Signing { duration_ms: 5000, concurrency: 64 }));
        let off = parse(&format!("{GOOD}[signing]\nenabled = false\n")).unwrap();
        assert_eq!(off.signing, None);
        let short = parse(&format!("{GOOD}[signing]\nduration = \"1s\"\nconcurrency = 8\n")).unwrap();
        assert_eq!(short.signing, Some(Signing { duration_ms: 1000, concurrency: 8 }));
        let e = parse(&format!("{GOOD}[signing]\nduration = \"0s\"\n")).unwrap_err().to_string();
        assert!(e.contains("`signing.duration`"), "{e}");
    }

    #[test]
    fn scale_rate_and_ranges() {
        let text = GOOD
            .replace("uploads = 200", "scale = 0.004")
            .replace("concurrency = 32", "concurrency = 8\nrate = \"600/min\"")
            .replace("object_size = \"10MiB\"", "object_size = { min = \"1MiB\", max = \"2MiB\" }")
            .replace("verify = \"all\"", "verify = { sample = 5 }");
        let s = parse(&text).unwrap();
        assert_eq!(s.uploads, 200);
        assert_eq!(s.pacing, Pacing::Open { rate_per_sec: 10.0, max_in_flight: 8 });
        assert_eq!(s.object_size, ObjectSize::Range { min: 1 << 20, max: 2 << 20 });
        assert_eq!(s.verify, Verify::Sample(5));
    }

    #[test]
    fn sweeps() {
        let text = GOOD.replace("object_size = \"10MiB\"", "object_size = { sweep = [\"1MiB\", \"4KiB\", \"1MiB\"] }");
        let s = parse(&text).unwrap();
        assert_eq!(s.sweep, vec![4096, 1 << 20]);
        assert_eq!(s.object_size, ObjectSize::Fixed(4096));
        let e = parse(&GOOD.replace("object_size = \"10MiB\"", "object_size = { sweep = [\"4KiB\", \"2GiB\"] }"))
            .unwrap_err();
        assert!(e.to_string().contains("maximum"), "{e}");
        let e = parse(&GOOD.replace("object_size = \"10MiB\"", "object_size = { sweep = [] }")).unwrap_err();
        assert!(e.to_string().contains("at least one size"), "{e}");
    }

    #[test]
    fn overrides_win_and_bad_ones_name_the_flag() {
        let o = Overrides {
            uploads: Some(3),
            object_size: Some("1MiB".into()),
            modes: Some(vec![Mode::Presigned]),
            ..Overrides::default()
        };
        let s = Scenario::parse("s.toml", GOOD, &o).unwrap();
        assert_eq!((s.uploads, s.object_size, s.modes), (3, ObjectSize::Fixed(1 << 20), vec![Mode::Presigned]));
        let o = Overrides { rate: Some("fast".into()), ..Overrides::default() };
        let e = Scenario::parse("s.toml", GOOD, &o).unwrap_err().to_string();
        assert!(e.starts_with("--rate: "), "{e}");
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = error(&GOOD.replace("concurrency = 32", "concurency = 32"));
        assert!(e.starts_with("s.toml:9:"), "{e}");
        assert!(e.contains("concurency"), "{e}");
        let e = error(&GOOD.replace("object_size = \"10MiB\"", "object_size = \"0\""));
        assert!(e.starts_with("s.toml:10:") && e.contains("`run.object_size`"), "{e}");
        let e = error(&GOOD.replace("object_size = \"10MiB\"", "object_size = \"1GiB\""));
        assert!(e.contains("`run.object_size`") && e.contains("maximum"), "{e}");
        let e = error(&GOOD.replace("concurrency = 32", "concurrency = \"many\""));
        assert!(e.starts_with("s.toml:9:") && e.contains("`run.concurrency`"), "{e}");
        let e = error(&GOOD.replace("modes = [\"proxied\", \"presigned\"]", "modes = [\"carrier-pigeon\"]"));
        assert!(e.starts_with("s.toml:4:") && e.contains("`modes`") && e.contains("carrier-pigeon"), "{e}");
        let e = error(&GOOD.replace("verify = \"all\"", "verify = \"some\""));
        assert!(e.contains("`run.verify`"), "{e}");
        let e = error(&GOOD.replace("kind = \"embedded\"", "kind = \"floppy\""));
        assert!(e.contains("`storage.kind`") && e.contains("floppy"), "{e}");
        let e = error(&GOOD.replace("users = 1000", "users = 0"));
        assert!(e.contains("`run.users`"), "{e}");
        let e = error(&GOOD.replace("users = 1000", "users = 1000\nclient_bandwidth = \"fast\""));
        assert!(e.contains("`run.client_bandwidth`") && e.contains("fast"), "{e}");
        let e = error(&GOOD.replace("users = 1000", "users = 1000\nrtt = \"soon\""));
        assert!(e.contains("`run.rtt`"), "{e}");
        let e = error("name = \"x\"\n[run\n");
        assert!(e.starts_with("s.toml:2:"), "{e}");
    }
}
