//! What a scenario reads after its uploads (`[downloads]`), resolved: how many reads and of
//! which objects (`per_object`, or `views` by popularity), and which read architectures through
//! the run's CDN. Resolved from the file by `reads.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Reads after the uploads (`[downloads]`): the objects a mode stored are read through the same
/// architecture, each `per_object` times or `views` times in all by popularity; and, after the
/// presigned mode, through the run's CDN (`cdn`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Downloads {
    /// Reads of each stored object (when `views` is not set).
    pub per_object: u64,
    /// Reads spread over the stored objects by popularity, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub views: Option<Views>,
    /// Read architectures through the run's CDN (nginx's cache in front of the store).
    #[serde(default)]
    pub cdn: CdnReads,
    /// The cache's size limit, bytes.
    #[serde(default = "default_cache_bytes")]
    pub cache_bytes: u64,
    /// How long a CDN-signed cookie lives, seconds.
    #[serde(default = "default_cookie_ttl")]
    pub cookie_ttl_s: u64,
}

/// 1 GiB.
#[must_use]
pub const fn default_cache_bytes() -> u64 {
    1 << 30
}

/// 10 minutes.
#[must_use]
pub const fn default_cookie_ttl() -> u64 {
    600
}

impl Downloads {
    /// Reads per stored object: `per_object`, or the views over `objects` stored objects.
    #[must_use]
    pub fn per_object(&self, objects: u64) -> f64 {
        match self.views {
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            Some(v) => v.views as f64 / objects.max(1) as f64,
            #[allow(clippy::cast_precision_loss)]
            None => self.per_object as f64,
        }
    }
}

/// Views by popularity: `views` reads by `viewers` viewers, the object of each drawn from
/// `popularity`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Views {
    /// Reads in all, per read architecture.
    pub views: u64,
    /// Distinct viewers (each a session: a CDN cookie is asked for once per viewer).
    pub viewers: u64,
    /// Zipf exponent of the objects' popularity (the k-th most popular object is viewed in
    /// proportion to 1/k^s); `None`: every object alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipf: Option<f64>,
}

/// Which CDN read architectures a run measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CdnReads {
    /// `public`: objects read through the cache by anyone, without a signature.
    pub public: bool,
    /// `signed`: objects read through the cache with CDN-signed cookies, asked for once per viewer.
    pub signed: bool,
    /// `presigned`: the broker's presigned GET URLs sent through the same cache.
    pub presigned: bool,
}

impl CdnReads {
    /// Whether any is measured.
    #[must_use]
    pub fn any(&self) -> bool {
        self.public || self.signed || self.presigned
    }
}
