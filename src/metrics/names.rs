//! Names of the series a broker or proxy exports on `/metrics`: written once, here, for the
//! writer (`Snapshot::render`) and every reader.

/// Bytes crossing app-tier sockets, by `side` (client, storage) and `direction` (in, out).
pub const APP_BYTES: &str = "presign_bench_app_bytes_total";
/// Bytes of scrape connections, by `direction`.
pub const ADMIN_BYTES: &str = "presign_bench_admin_bytes_total";
/// Bytes of store event deliveries (also in the client side of [`APP_BYTES`]).
pub const EVENT_BYTES: &str = "presign_bench_event_bytes_total";
/// Malware scans by verdict.
pub const SCANS: &str = "presign_bench_scans_total";
/// Bytes sent to the malware scanner.
pub const SCAN_BYTES: &str = "presign_bench_scan_bytes_total";
/// Time spent scanning.
pub const SCAN_SECONDS: &str = "presign_bench_scan_seconds_total";
/// App requests answered.
pub const REQUESTS: &str = "presign_bench_requests_total";
/// Most app requests handled at once.
pub const REQUESTS_PEAK: &str = "presign_bench_requests_in_flight_peak";
/// Time app requests spent being handled.
pub const REQUEST_SECONDS: &str = "presign_bench_request_seconds_total";
/// Proxied uploads whose body is being moved now.
pub const UPLOADS_IN_FLIGHT: &str = "presign_bench_uploads_in_flight";
/// Client connections accepted.
pub const CONNECTIONS: &str = "presign_bench_connections_total";
/// Client connections open now.
pub const CONNECTIONS_OPEN: &str = "presign_bench_connections_open";
/// Most client connections open at once.
pub const CONNECTIONS_PEAK: &str = "presign_bench_connections_peak";
/// Sum of client connection lifetimes.
pub const CONNECTION_SECONDS: &str = "presign_bench_connection_seconds_total";
/// Connections opened to the store.
pub const STORAGE_CONNECTIONS: &str = "presign_bench_storage_connections_total";
/// Most connections to the store open at once.
pub const STORAGE_CONNECTIONS_PEAK: &str = "presign_bench_storage_connections_peak";
/// Requests and connections refused with a 503, by `limit` (connections, in_flight).
pub const OVERLOADED: &str = "presign_bench_overloaded_total";
/// Store calls that ran out of time.
pub const STORAGE_TIMEOUTS: &str = "presign_bench_storage_timeouts_total";
/// Connections closed because a response waited too long for its client to read.
pub const SEND_TIMEOUTS: &str = "presign_bench_send_timeouts_total";
/// Orphans the sweeper deleted, by `kind` (upload, unrecorded, multipart).
pub const ORPHANS_SWEPT: &str = "presign_bench_orphans_swept_total";
/// TLS handshakes, by `side` and `kind` (full, resumed, failed).
pub const TLS_HANDSHAKES: &str = "presign_bench_tls_handshakes_total";
/// Bytes of completed TLS handshakes, by `side` and `direction` (also in the byte counters).
pub const TLS_HANDSHAKE_BYTES: &str = "presign_bench_tls_handshake_bytes_total";
/// Presigns the broker answered (timed by section).
pub const PRESIGNS: &str = "presign_bench_presigns_total";
/// Time the broker's presign handler spent, by `section` (auth, request, sign, respond).
pub const PRESIGN_SECONDS: &str = "presign_bench_presign_section_seconds_total";
/// CPU time of the process.
pub const CPU_SECONDS: &str = "process_cpu_seconds_total";
/// Peak resident memory of the process.
pub const PEAK_RSS: &str = "process_resident_memory_max_bytes";
