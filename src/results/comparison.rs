//! The comparison of the two architectures in one run: proxied over presigned, per successful
//! upload (and per download, when the run read), with the inputs spelled out.

use super::ModeResult;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Proxied over presigned, per successful upload.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Comparison {
    /// Client-facing app-tier bytes per upload, proxied ÷ presigned.
    pub client_bytes_ratio: f64,
    /// All app-tier bytes per upload, proxied ÷ presigned.
    pub app_tier_bytes_ratio: f64,
    /// App-tier CPU seconds per upload, proxied ÷ presigned.
    pub cpu_seconds_ratio: f64,
    /// The inputs.
    pub basis: String,
    /// All app-tier bytes per successful download, proxied ÷ presigned (with `[downloads]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_app_tier_bytes_ratio: Option<f64>,
}

impl Comparison {
    /// Compares two modes' per-upload figures; `None` when either has no successful upload.
    #[must_use]
    pub fn of(proxied: &ModeResult, presigned: &ModeResult) -> Option<Self> {
        let (p, s) = (&proxied.per_upload, &presigned.per_upload);
        if proxied.uploads_ok == 0 || presigned.uploads_ok == 0 || s.client_bytes <= 0.0 || s.app_tier_bytes <= 0.0 {
            return None;
        }
        let reads = proxied.downloads.as_ref().zip(presigned.downloads.as_ref());
        let download_app_tier_bytes_ratio = reads
            .filter(|(p, s)| p.downloads_ok > 0 && s.downloads_ok > 0 && s.per_download.app_tier_bytes > 0.0)
            .map(|(p, s)| p.per_download.app_tier_bytes / s.per_download.app_tier_bytes);
        Some(Self {
            download_app_tier_bytes_ratio,
            client_bytes_ratio: p.client_bytes / s.client_bytes,
            app_tier_bytes_ratio: p.app_tier_bytes / s.app_tier_bytes,
            cpu_seconds_ratio: if s.cpu_seconds > 0.0 { p.cpu_seconds / s.cpu_seconds } else { 0.0 },
            basis: format!(
                "per successful upload: proxied {:.0} client B / {:.0} app-tier B vs presigned {:.0} client B / {:.0} app-tier B",
                p.client_bytes, p.app_tier_bytes, s.client_bytes, s.app_tier_bytes
            ),
        })
    }
}
