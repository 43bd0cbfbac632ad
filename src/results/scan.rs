//! What malware scanning did over one mode (`[validation] scan = "clamav"`): the app tier's scans
//! by verdict, their bytes and time, the EICAR uploads the load sent and whether each was caught,
//! and the scanner's own CPU and memory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Malware scanning over one mode (deltas of the server's `/metrics`, and the load's own counts).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ScanResult {
    /// Objects scanned and found clean.
    pub clean: u64,
    /// Objects scanned and found infected (deleted).
    pub infected: u64,
    /// Scans that failed (the upload was not verified).
    pub failed: u64,
    /// Bytes sent to the scanner (the broker reads them from the store on its sockets; the proxy
    /// tees the upload it is storing).
    pub bytes: u64,
    /// Time the app tier's scans took, summed (the broker's: reading the object back and clamd's
    /// work; the proxy's run alongside the upload, so they last as long as it does).
    pub seconds: f64,
    /// Uploads the load sent with the EICAR test string.
    pub infected_sent: u64,
    /// Of those, refused with 422 `infected`.
    pub caught: u64,
    /// Of those, accepted as files.
    pub missed: u64,
    /// The scanner's (clamd's) CPU seconds over the mode and peak memory, measured like the
    /// store's (absent: no scanner the harness started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scanner: Option<super::StoreUsage>,
}

impl ScanResult {
    /// Milliseconds of scanning per megabyte scanned (`None`: nothing scanned).
    #[must_use]
    pub fn ms_per_mb(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)] // bytes to megabytes for display
        let mb = self.bytes as f64 / 1e6;
        (mb > 0.0).then(|| self.seconds * 1000.0 / mb)
    }

    /// The scanner's (clamd's) CPU milliseconds per megabyte scanned (`None`: nothing scanned or
    /// no scanner measured).
    #[must_use]
    pub fn scanner_ms_per_mb(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)] // bytes to megabytes for display
        let mb = self.bytes as f64 / 1e6;
        let cpu = self.scanner.as_ref()?.cpu_seconds;
        (mb > 0.0).then(|| cpu * 1000.0 / mb)
    }
}
