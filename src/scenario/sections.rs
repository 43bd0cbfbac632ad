//! Resolution of the scenario's optional sections (`[app_tier]`, `[signing]`, `[storage]`,
//! the client link and multipart keys of `[run]`), with the same file:line:key errors as [`super::resolve`].

use super::origin::{Origin, Source, at, positive};
use super::raw::{self, RawRun};
use super::{ClientLink, Multipart, Overrides, ScenarioError, Signing, Storage, StorageKind};
use crate::units::{parse_duration, parse_size};
use std::path::PathBuf;
use toml::Spanned;

/// The `[app_tier]` table, resolved.
pub(super) struct AppTier {
    pub(super) nic: Option<f64>,
    pub(super) cors_origins: Vec<String>,
    pub(super) http: super::HttpVersion,
}

pub(super) fn resolve_app_tier(
    ctx: &Source<'_>,
    raw: Option<&super::raw::RawAppTier>,
) -> Result<AppTier, ScenarioError> {
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

pub(super) fn resolve_client(ctx: &Source<'_>, run: &RawRun) -> Result<ClientLink, ScenarioError> {
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

pub(super) fn resolve_signing(
    ctx: &Source<'_>,
    raw: Option<&raw::RawSigning>,
) -> Result<Option<Signing>, ScenarioError> {
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

pub(super) fn resolve_storage(
    ctx: &Source<'_>,
    raw: Option<&raw::RawStorage>,
    o: &Overrides,
) -> Result<Storage, ScenarioError> {
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
                    "kind = \"container\" needs `image` (MinIO publishes no maintained image: build one with tools/build-images.sh minio)",
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

/// `[storage] tls`: for a store the harness starts (embedded, MinIO); an endpoint's URL says
/// whether it speaks TLS.
pub(super) fn resolve_storage_tls(
    ctx: &Source<'_>,
    raw: Option<&raw::RawStorage>,
    storage: &Storage,
) -> Result<bool, ScenarioError> {
    let Some(tls) = raw.and_then(|r| r.tls.as_ref()) else { return Ok(false) };
    match storage {
        Storage::Embedded | Storage::Minio { .. } => Ok(*tls.get_ref()),
        Storage::Endpoint { .. } | Storage::Container { .. } if !*tls.get_ref() => Ok(false),
        Storage::Endpoint { .. } => {
            Err(ctx.error(at("storage.tls", tls), "an endpoint speaks TLS when its url is https://; leave `tls` out"))
        }
        Storage::Container { .. } => {
            Err(ctx.error(at("storage.tls", tls), "TLS is for the stores the harness starts: embedded or minio"))
        }
    }
}

/// `[run] multipart_threshold`, `part_size`, `parts_in_flight`, checked against S3's bounds for
/// the largest object the run makes (`largest`).
pub(super) fn resolve_multipart(
    ctx: &Source<'_>,
    run: &RawRun,
    largest: u64,
) -> Result<Option<Multipart>, ScenarioError> {
    use crate::parts::{DEFAULT_PART_SIZE, MAX_SINGLE_PUT, MIN_PART_SIZE, Parts, fit};
    let size = |key, v: &Spanned<String>| parse_size(v.get_ref()).map_err(|e| ctx.error(at(key, v), e));
    let Some(threshold) = &run.multipart_threshold else {
        if let Some(v) = &run.part_size {
            return Err(ctx.error(at("run.part_size", v), "needs `multipart_threshold`"));
        }
        if let Some(v) = &run.parts_in_flight {
            return Err(ctx.error(at("run.parts_in_flight", v), "needs `multipart_threshold`"));
        }
        if largest > MAX_SINGLE_PUT {
            let origin = Origin::File { key: "run.object_size", offset: run.object_size.span().start };
            return Err(ctx.error(origin, "above 5GiB, the largest single PUT: set `multipart_threshold`"));
        }
        return Ok(None);
    };
    let threshold_bytes = size("run.multipart_threshold", threshold)?;
    if threshold_bytes == 0 || threshold_bytes > MAX_SINGLE_PUT {
        return Err(ctx.error(at("run.multipart_threshold", threshold), "must be from 1 byte to 5GiB"));
    }
    let part_size_bytes = if let Some(v) = &run.part_size {
        let bytes = size("run.part_size", v)?;
        Parts::new(largest, bytes).map_err(|e| ctx.error(at("run.part_size", v), e))?;
        bytes
    } else {
        // Grown for objects that would need more than 10,000 parts.
        fit(largest, DEFAULT_PART_SIZE)
    };
    debug_assert!(part_size_bytes >= MIN_PART_SIZE);
    let parts_in_flight = positive(ctx, "run.parts_in_flight", run.parts_in_flight.as_ref(), 4)?;
    if parts_in_flight > 64 {
        let v = run.parts_in_flight.as_ref().expect("the default is 4");
        return Err(ctx.error(at("run.parts_in_flight", v), "at most 64"));
    }
    Ok(Some(Multipart { threshold_bytes, part_size_bytes, parts_in_flight }))
}

/// `[validation]`: `trigger = "completion" | "event"`; events come from a store the harness
/// starts (it tells the store where to send them).
pub(super) fn resolve_validation(
    ctx: &Source<'_>,
    raw: Option<&raw::RawValidation>,
    storage: &Storage,
) -> Result<crate::scenario::Validation, ScenarioError> {
    use crate::scenario::{Scan, Trigger, Validation};
    let scan = match raw.and_then(|r| r.scan.as_ref()) {
        None => Scan::None,
        Some(s) if s.get_ref() == "none" => Scan::None,
        Some(s) if s.get_ref() == "clamav" => Scan::Clamav,
        Some(s) => return Err(ctx.error(at("validation.scan", s), "expected \"none\" or \"clamav\"")),
    };
    let Some(t) = raw.and_then(|r| r.trigger.as_ref()) else { return Ok(Validation { scan, ..Validation::default() }) };
    let trigger = match t.get_ref().as_str() {
        "completion" => Trigger::Completion,
        "event" => Trigger::Event,
        _ => return Err(ctx.error(at("validation.trigger", t), "expected \"completion\" or \"event\"")),
    };
    if trigger == Trigger::Event && !matches!(storage, Storage::Embedded | Storage::Minio { .. }) {
        return Err(ctx.error(
            at("validation.trigger", t),
            "events come from a store the harness starts and tells where to send them: embedded or minio",
        ));
    }
    Ok(Validation { trigger, scan })
}

/// `[run] infected_share`: the share of uploads that carry the EICAR test string, 0 to 1.
pub(super) fn resolve_infected_share(ctx: &Source<'_>, run: &RawRun) -> Result<f64, ScenarioError> {
    match run.infected_share.as_ref() {
        None => Ok(0.0),
        Some(v) if (0.0..=1.0).contains(v.get_ref()) => Ok(*v.get_ref()),
        Some(v) => Err(ctx.error(at("run.infected_share", v), "must be between 0 and 1 (e.g. 0.01 for 1%)")),
    }
}

/// `[run] checksum = "sha256" | "none"`: whether presigned clients declare each file's SHA-256.
pub(super) fn resolve_checksum(ctx: &Source<'_>, run: &RawRun) -> Result<bool, ScenarioError> {
    match run.checksum.as_ref() {
        None => Ok(false),
        Some(c) if c.get_ref() == "sha256" => Ok(true),
        Some(c) if c.get_ref() == "none" => Ok(false),
        Some(c) => Err(ctx.error(at("run.checksum", c), "expected \"sha256\" or \"none\"")),
    }
}
