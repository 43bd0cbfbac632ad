//! What the servers cost over one mode: the app tier's counters (bytes on its sockets, connections,
//! CPU, memory, requests, TLS handshakes) and the store's CPU and memory.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// App-tier counters over one mode (deltas of the server's /metrics, peaks as reported).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct AppTier {
    /// Bytes read from clients, headers included.
    pub client_bytes_in: u64,
    /// Bytes written to clients.
    pub client_bytes_out: u64,
    /// Bytes read from the store.
    pub storage_bytes_in: u64,
    /// Bytes written to the store.
    pub storage_bytes_out: u64,
    /// Client connections accepted.
    pub connections: u64,
    /// Most client connections open at once.
    pub peak_connections: u64,
    /// Sum of client connection lifetimes.
    pub connection_seconds: f64,
    /// CPU time of the server process.
    pub cpu_seconds: f64,
    /// Peak resident memory of the server process.
    pub peak_rss_bytes: u64,
    /// Its peak resident memory before the mode started (the idle baseline).
    pub rss_before_bytes: u64,
    /// App requests answered.
    pub requests: u64,
    /// Most app requests handled at once.
    pub peak_requests_in_flight: u64,
    /// Time app requests spent being handled: the busy part of `connection_seconds`
    /// (the rest is keep-alive connections waiting between requests).
    pub request_seconds: f64,
    /// TLS handshakes of this mode, with clients and with the store (absent: no TLS there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsHandshakes>,
}

/// The TLS handshakes of the app tier over one mode.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct TlsHandshakes {
    /// With clients (the app servers' side of the handshake).
    pub client: Handshakes,
    /// With the store (the app tier's S3 client's side).
    pub storage: Handshakes,
}

/// Handshakes of one side: how many, and their bytes (which the byte counts include).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Handshakes {
    /// Full handshakes: certificate and signature, key exchange.
    pub full: u64,
    /// Resumed from a session ticket of an earlier connection.
    pub resumed: u64,
    /// Failed (an untrusted certificate, a plaintext request on the TLS port, a timeout).
    pub failed: u64,
    /// Bytes read during the completed handshakes.
    pub bytes_in: u64,
    /// Bytes written during them.
    pub bytes_out: u64,
}

impl AppTier {
    /// Client-facing bytes, both directions.
    #[must_use]
    pub fn client_bytes(&self) -> u64 {
        self.client_bytes_in + self.client_bytes_out
    }

    /// Storage-facing bytes, both directions.
    #[must_use]
    pub fn storage_bytes(&self) -> u64 {
        self.storage_bytes_in + self.storage_bytes_out
    }

    /// Every app-tier byte, both sides, both directions.
    #[must_use]
    pub fn total_bytes(&self) -> u64 {
        self.client_bytes() + self.storage_bytes()
    }
}

/// The object store's processes over one mode (all nodes of a cluster together), read from
/// `/proc`: the store's side of the same work, beside the app tier's.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StoreUsage {
    /// CPU seconds the store's processes used during the mode.
    pub cpu_seconds: f64,
    /// Their peak resident memory (summed over processes) by the end of the mode.
    pub peak_rss_bytes: u64,
}
