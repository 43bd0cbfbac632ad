//! The scenario file as written: plain serde structs, every value wrapped in [`Spanned`] so
//! validation can name the line it came from.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub modes: Option<Spanned<Vec<String>>>,
    pub target: Option<RawTarget>,
    pub run: RawRun,
    pub storage: Option<RawStorage>,
    pub broker: Option<RawBroker>,
    pub signing: Option<RawSigning>,
    pub app_tier: Option<RawAppTier>,
    pub downloads: Option<RawDownloads>,
    pub validation: Option<RawValidation>,
    pub thresholds: Option<std::collections::BTreeMap<String, Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAppTier {
    pub tls: Option<bool>,
    pub nic: Option<Spanned<String>>,
    pub cors_origins: Option<Spanned<Vec<String>>>,
    pub http: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidation {
    pub trigger: Option<Spanned<String>>,
    pub scan: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDownloads {
    pub per_object: Option<Spanned<u64>>,
    pub views: Option<Spanned<u64>>,
    pub viewers: Option<Spanned<u64>>,
    pub popularity: Option<Spanned<RawPopularity>>,
    pub cdn: Option<Spanned<Vec<String>>>,
    pub cache_size: Option<Spanned<String>>,
    pub cookie_ttl: Option<Spanned<String>>,
}

/// `popularity = "uniform"` or `popularity = { zipf = 1.1 }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPopularity {
    Named(String),
    Zipf { zipf: f64 },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigning {
    pub enabled: Option<bool>,
    pub duration: Option<Spanned<String>>,
    pub concurrency: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub uploads: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub uploads: Option<Spanned<u64>>,
    pub scale: Option<Spanned<f64>>,
    pub concurrency: Option<Spanned<u64>>,
    pub rate: Option<Spanned<String>>,
    pub object_size: Spanned<RawSize>,
    pub content_type: Option<Spanned<String>>,
    pub users: Option<Spanned<u64>>,
    pub seed: Option<u64>,
    pub verify: Option<Spanned<RawVerify>>,
    pub request_timeout: Option<Spanned<String>>,
    pub client_bandwidth: Option<Spanned<String>>,
    pub rtt: Option<Spanned<String>>,
    pub max_duration: Option<Spanned<String>>,
    pub multipart_threshold: Option<Spanned<String>>,
    pub part_size: Option<Spanned<String>>,
    pub parts_in_flight: Option<Spanned<u64>>,
    pub checksum: Option<Spanned<String>>,
    pub infected_share: Option<Spanned<f64>>,
}

/// `"10MiB"`, `{ min = "1MiB", max = "20MiB" }` or `{ sweep = ["4KiB", "1MiB"] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Fixed(String),
    Range(RawRange),
    Sweep(RawSweep),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSweep {
    pub sweep: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    pub min: String,
    pub max: String,
}

/// `"all"`, `"none"` or `{ sample = 50 }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawVerify {
    Word(String),
    Sample(RawSample),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSample {
    pub sample: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    pub kind: Spanned<String>,
    pub tls: Option<Spanned<bool>>,
    pub url: Option<Spanned<String>>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub nodes: Option<Spanned<u64>>,
    pub drives_per_node: Option<Spanned<u64>>,
    pub data_dir: Option<String>,
    pub image: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBroker {
    pub max_size: Option<Spanned<String>>,
}
