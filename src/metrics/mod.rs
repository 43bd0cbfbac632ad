//! App-tier accounting: bytes where they cross the socket, connections, CPU and peak RSS.
//!
//! The broker and the proxy wrap every accepted stream ([`Side::Client`]) and every connection of
//! their S3 client ([`Side::Storage`]) in [`Counted`], so HTTP headers, chunk framing and bodies
//! are all counted exactly as the kernel sees them. Counters are relaxed atomics: no locks on the
//! hot path.
//!
//! Scrapes are not app traffic. A client connection whose first request targets `/metrics` or
//! `/healthz` (or `/readyz`) is an *admin* connection: its bytes go to separate counters
//! (`presign_bench_admin_bytes_total`) and it is not counted as an app connection. A harness that
//! scrapes must therefore use its own connections for scrapes, never reuse an upload connection.

mod counts;
mod io;
pub mod names;
mod process;
pub mod snapshot;

pub use counts::{Handshakes, InOut, PRESIGN_SECTIONS, PresignClock, PresignSections};
pub use io::{Counted, CountingConnector, Outbound, Traffic};
pub use process::{ProcessStats, process_stats, tree_stats};
pub use snapshot::{MissingSeries, Snapshot, render};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Which side of the app tier a socket faces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Sockets accepted from clients.
    Client,
    /// Sockets the app opens to the object store.
    Storage,
}

/// Counters of one side: bytes and connection lifetimes.
#[derive(Debug, Default)]
pub struct SideCounters {
    /// Bytes read from the socket (requests for the client side, responses for the storage side).
    pub bytes_in: AtomicU64,
    /// Bytes written to the socket.
    pub bytes_out: AtomicU64,
    /// Connections counted so far.
    pub connections: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
    /// Highest value `open` reached.
    pub peak: AtomicU64,
    /// TLS handshakes of this side: full, resumed, failed, and their bytes.
    pub tls: TlsCounters,
    /// Connection lifetimes: a lock per connection open or close (never per byte), so a scrape
    /// sees open count and start times consistently.
    lifetimes: std::sync::Mutex<Lifetimes>,
}

/// Connection-time bookkeeping of one side.
#[derive(Debug, Default)]
struct Lifetimes {
    /// Sum of the lifetimes of closed connections, microseconds.
    closed_us: u64,
    /// Connections open now.
    open: u64,
    /// Sum of their open times, microseconds since the meter's epoch.
    open_start_sum_us: u64,
}

/// TLS handshakes of one side. Their bytes are also in the side's (or the admin) byte counters:
/// these say how much of those the handshakes were.
#[derive(Debug, Default)]
pub struct TlsCounters {
    /// Full handshakes (certificate sent and checked, key exchange signed).
    pub full: AtomicU64,
    /// Resumed handshakes (a session ticket or id from an earlier connection).
    pub resumed: AtomicU64,
    /// Handshakes that failed or ran out of time (a plaintext request on the TLS port too).
    pub failed: AtomicU64,
    /// Bytes read during completed handshakes.
    pub bytes_in: AtomicU64,
    /// Bytes written during completed handshakes.
    pub bytes_out: AtomicU64,
}

/// Bytes of one class of client connections (scrapes, event deliveries), in and out.
#[derive(Debug, Default)]
pub struct ByteCounters {
    /// Bytes read.
    pub bytes_in: AtomicU64,
    /// Bytes written.
    pub bytes_out: AtomicU64,
}

/// Malware scans of one app-tier process (`--clamd`).
#[derive(Debug, Default)]
pub struct ScanCounters {
    /// Objects clamd found clean.
    pub clean: AtomicU64,
    /// Objects clamd found infected.
    pub infected: AtomicU64,
    /// Scans that failed (clamd unreachable, the object unreadable).
    pub failed: AtomicU64,
    /// Bytes sent to clamd.
    pub bytes: AtomicU64,
    /// Time spent scanning, microseconds (reading the object and clamd's work together).
    pub micros: AtomicU64,
}

/// All counters of one app-tier process.
#[derive(Debug)]
pub struct Meter {
    epoch: Instant,
    /// Client-facing sockets.
    pub client: SideCounters,
    /// Storage-facing sockets.
    pub storage: SideCounters,
    /// Scrape connections.
    pub admin: ByteCounters,
    /// Connections of a store delivering event notifications (also in `client`).
    pub events: ByteCounters,
    /// Malware scans.
    pub scans: ScanCounters,
    /// Where the broker's presigns spend their time.
    pub presign: counts::PresignClock,
    /// Proxied uploads whose body the app is moving right now.
    pub uploads_in_flight: AtomicU64,
    /// App requests (scrapes excluded) being handled now.
    pub requests_in_flight: AtomicU64,
    /// Most app requests handled at once.
    pub requests_peak: AtomicU64,
    /// App requests answered.
    pub requests: AtomicU64,
    /// Sum of the time app requests spent being handled, microseconds: the connection time that
    /// does work, unlike idle keep-alive time.
    pub request_us: AtomicU64,
    /// Connections refused with a 503 because `--max-connections` were open.
    pub overloaded_connections: AtomicU64,
    /// Requests refused with a 503 because `--max-in-flight` were being handled.
    pub overloaded_requests: AtomicU64,
    /// Store calls that ran out of time (answered `504 storage_timeout`).
    pub storage_timeouts: AtomicU64,
    /// Connections closed because a response waited `--send-timeout` for its client to read
    /// (a stalled client, never a stalled store).
    pub send_timeouts: AtomicU64,
    /// Orphans the sweeper deleted: abandoned uploads (presigned, never completed or written
    /// after completion).
    pub swept_uploads: AtomicU64,
    /// Orphans the sweeper deleted: stored objects that no metadata row references.
    pub swept_unrecorded: AtomicU64,
    /// Multipart uploads the sweeper aborted (never completed within their window).
    pub swept_multipart: AtomicU64,
    /// The emulated NIC every socket of this server shares, if any (`--nic`).
    pub nic: Option<Arc<crate::shaping::Nic>>,
}

impl Default for Meter {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            client: SideCounters::default(),
            storage: SideCounters::default(),
            admin: ByteCounters::default(),
            events: ByteCounters::default(),
            scans: ScanCounters::default(),
            presign: counts::PresignClock::default(),
            uploads_in_flight: AtomicU64::new(0),
            requests_in_flight: AtomicU64::new(0),
            requests_peak: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            request_us: AtomicU64::new(0),
            overloaded_connections: AtomicU64::new(0),
            overloaded_requests: AtomicU64::new(0),
            storage_timeouts: AtomicU64::new(0),
            send_timeouts: AtomicU64::new(0),
            swept_uploads: AtomicU64::new(0),
            swept_unrecorded: AtomicU64::new(0),
            swept_multipart: AtomicU64::new(0),
            nic: None,
        }
    }
}

impl Meter {
    /// A new meter, shared by the server and the S3 client.
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A meter whose sockets (client side and storage side) share an emulated NIC of `rate`
    /// bytes per second per direction.
    #[must_use]
    pub fn with_nic(rate: Option<f64>) -> Arc<Self> {
        Arc::new(Self { nic: rate.map(crate::shaping::Nic::new), ..Self::default() })
    }

    /// The counters of one side.
    #[must_use]
    pub fn side(&self, side: Side) -> &SideCounters {
        match side {
            Side::Client => &self.client,
            Side::Storage => &self.storage,
        }
    }

    /// Counts an app request in flight until the guard drops, then adds its handling time.
    #[must_use]
    pub fn request_started(self: &Arc<Self>) -> Busy {
        let now = self.requests_in_flight.fetch_add(1, Relaxed) + 1;
        self.requests_peak.fetch_max(now, Relaxed);
        Busy { meter: self.clone(), started: Instant::now() }
    }

    /// Seconds app requests spent being handled.
    #[must_use]
    pub fn request_seconds(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // microsecond sums stay far below 2^53
        let us = self.request_us.load(Relaxed) as f64;
        us / 1e6
    }

    /// Counts an upload in flight until the guard drops.
    #[must_use]
    pub fn upload_started(self: &Arc<Self>) -> InFlight {
        self.uploads_in_flight.fetch_add(1, Relaxed);
        InFlight(self.clone())
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Records that a connection of `side` opened; returns its open time for [`Self::close`].
    pub fn open(&self, side: Side) -> u64 {
        let c = self.side(side);
        let now = self.now_us();
        c.connections.fetch_add(1, Relaxed);
        {
            let mut l = c.lifetimes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            l.open += 1;
            l.open_start_sum_us += now;
        }
        let open = c.open.fetch_add(1, Relaxed) + 1;
        c.peak.fetch_max(open, Relaxed);
        now
    }

    /// Records that a connection opened at `opened_us` closed.
    pub fn close(&self, side: Side, opened_us: u64) {
        let c = self.side(side);
        let now = self.now_us();
        {
            let mut l = c.lifetimes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            l.closed_us += now.saturating_sub(opened_us);
            l.open = l.open.saturating_sub(1);
            l.open_start_sum_us = l.open_start_sum_us.saturating_sub(opened_us);
        }
        c.open.fetch_sub(1, Relaxed);
    }

    /// Records a completed TLS handshake of `side`: resumed or full, and its bytes.
    pub fn handshake(&self, side: Side, resumed: bool, bytes: InOut) {
        let t = &self.side(side).tls;
        if resumed { &t.resumed } else { &t.full }.fetch_add(1, Relaxed);
        t.bytes_in.fetch_add(bytes.bytes_in, Relaxed);
        t.bytes_out.fetch_add(bytes.bytes_out, Relaxed);
    }

    /// Connection-seconds of `side` so far, open connections included.
    #[must_use]
    pub fn connection_seconds(&self, side: Side) -> f64 {
        let l = self.side(side).lifetimes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.now_us();
        let open_us = (l.open * now).saturating_sub(l.open_start_sum_us);
        #[allow(clippy::cast_precision_loss)] // microsecond sums stay far below 2^53
        let total = (l.closed_us + open_us) as f64;
        total / 1e6
    }
}

/// An upload in flight; dropping it ends it.
#[derive(Debug)]
pub struct InFlight(Arc<Meter>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.uploads_in_flight.fetch_sub(1, Relaxed);
    }
}

/// An app request being handled; dropping it records its time.
#[derive(Debug)]
pub struct Busy {
    meter: Arc<Meter>,
    started: Instant,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.meter.request_us.fetch_add(us, Relaxed);
        self.meter.requests.fetch_add(1, Relaxed);
        self.meter.requests_in_flight.fetch_sub(1, Relaxed);
    }
}
