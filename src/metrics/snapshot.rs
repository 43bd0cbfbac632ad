//! `/metrics` as typed data: a [`Snapshot`] of every series a broker or proxy exports, rendered
//! to Prometheus text by the server and parsed back by the harness and the tests. The series
//! names exist once, in [`names`], for the writer and every reader.
//!
//! Rendering is hand-written: a dozen fixed series in the text format need no registry crate.
//! Parsing uses `prometheus-parse` (a small, stable reader of the text format); a series that is
//! missing is an error naming it, so a renamed metric fails loudly instead of reading as zero.

use super::counts::{Handshakes, InOut, PRESIGN_SECTIONS, PresignSections};
use super::{Meter, Side, process_stats};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

pub use super::names;

/// Every series of one scrape.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Client-facing app bytes.
    pub client: InOut,
    /// Storage-facing app bytes.
    pub storage: InOut,
    /// Scrape (admin) bytes.
    pub admin: InOut,
    /// Bytes of store event deliveries (also in `client`).
    #[serde(default)]
    pub events: InOut,
    /// Malware scans (all zero without `--clamd`).
    #[serde(default)]
    pub scans: Scans,
    /// The broker's presigns, timed by section (all zero on a proxy).
    #[serde(default)]
    pub presign: PresignSections,
    /// App requests answered.
    pub requests: u64,
    /// Most app requests handled at once.
    pub requests_peak: u64,
    /// Seconds app requests spent being handled.
    pub request_seconds: f64,
    /// Proxied uploads in flight now.
    pub uploads_in_flight: u64,
    /// Client connections accepted.
    pub connections: u64,
    /// Client connections open now.
    pub connections_open: u64,
    /// Most client connections open at once.
    pub connections_peak: u64,
    /// Sum of client connection lifetimes, seconds.
    pub connection_seconds: f64,
    /// Connections opened to the store.
    pub storage_connections: u64,
    /// Most store connections open at once.
    pub storage_connections_peak: u64,
    /// Connections refused because `--max-connections` were open.
    pub overloaded_connections: u64,
    /// Requests refused because `--max-in-flight` were being handled.
    pub overloaded_requests: u64,
    /// Store calls that ran out of time.
    pub storage_timeouts: u64,
    /// Connections closed because a response waited `--send-timeout` for its client.
    #[serde(default)]
    pub send_timeouts: u64,
    /// Abandoned uploads the sweeper deleted.
    pub swept_uploads: u64,
    /// Unrecorded objects the sweeper deleted.
    pub swept_unrecorded: u64,
    /// Abandoned multipart uploads the sweeper aborted.
    #[serde(default)]
    pub swept_multipart: u64,
    /// TLS handshakes with clients (all zero on a plaintext server).
    #[serde(default)]
    pub client_tls: Handshakes,
    /// TLS handshakes with the store.
    #[serde(default)]
    pub storage_tls: Handshakes,
    /// Process CPU seconds.
    pub cpu_seconds: f64,
    /// Process peak RSS, bytes.
    pub peak_rss_bytes: u64,
}

/// Malware scans so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scans {
    /// Objects found clean.
    pub clean: u64,
    /// Objects found infected.
    pub infected: u64,
    /// Scans that failed.
    pub failed: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Seconds spent scanning.
    pub seconds: f64,
}

/// A scrape that lacks a series (or is not Prometheus text).
#[derive(Debug, thiserror::Error)]
#[error("/metrics has no series {0}")]
pub struct MissingSeries(pub String);

impl Snapshot {
    /// The counters of `meter` and this process now.
    #[must_use]
    pub fn of(meter: &Meter) -> Self {
        let (c, s) = (&meter.client, &meter.storage);
        let process = process_stats();
        Self {
            client: InOut { bytes_in: c.bytes_in.load(Relaxed), bytes_out: c.bytes_out.load(Relaxed) },
            storage: InOut { bytes_in: s.bytes_in.load(Relaxed), bytes_out: s.bytes_out.load(Relaxed) },
            admin: InOut {
                bytes_in: meter.admin.bytes_in.load(Relaxed),
                bytes_out: meter.admin.bytes_out.load(Relaxed),
            },
            events: InOut {
                bytes_in: meter.events.bytes_in.load(Relaxed),
                bytes_out: meter.events.bytes_out.load(Relaxed),
            },
            scans: Scans {
                clean: meter.scans.clean.load(Relaxed),
                infected: meter.scans.infected.load(Relaxed),
                failed: meter.scans.failed.load(Relaxed),
                bytes: meter.scans.bytes.load(Relaxed),
                seconds: std::time::Duration::from_micros(meter.scans.micros.load(Relaxed)).as_secs_f64(),
            },
            presign: meter.presign.read(),
            requests: meter.requests.load(Relaxed),
            requests_peak: meter.requests_peak.load(Relaxed),
            request_seconds: meter.request_seconds(),
            uploads_in_flight: meter.uploads_in_flight.load(Relaxed),
            connections: c.connections.load(Relaxed),
            connections_open: c.open.load(Relaxed),
            connections_peak: c.peak.load(Relaxed),
            connection_seconds: meter.connection_seconds(Side::Client),
            storage_connections: s.connections.load(Relaxed),
            storage_connections_peak: s.peak.load(Relaxed),
            overloaded_connections: meter.overloaded_connections.load(Relaxed),
            overloaded_requests: meter.overloaded_requests.load(Relaxed),
            storage_timeouts: meter.storage_timeouts.load(Relaxed),
            send_timeouts: meter.send_timeouts.load(Relaxed),
            swept_uploads: meter.swept_uploads.load(Relaxed),
            swept_unrecorded: meter.swept_unrecorded.load(Relaxed),
            swept_multipart: meter.swept_multipart.load(Relaxed),
            client_tls: Handshakes::of(&c.tls),
            storage_tls: Handshakes::of(&s.tls),
            cpu_seconds: process.cpu_seconds,
            peak_rss_bytes: process.peak_rss_bytes,
        }
    }

    /// Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        use names::{
            ADMIN_BYTES, APP_BYTES, CONNECTION_SECONDS, CONNECTIONS, CONNECTIONS_OPEN, CONNECTIONS_PEAK, CPU_SECONDS,
            EVENT_BYTES, ORPHANS_SWEPT, OVERLOADED, PEAK_RSS, REQUEST_SECONDS, REQUESTS, REQUESTS_PEAK, SEND_TIMEOUTS,
            STORAGE_CONNECTIONS, STORAGE_CONNECTIONS_PEAK, STORAGE_TIMEOUTS, TLS_HANDSHAKE_BYTES, TLS_HANDSHAKES,
            UPLOADS_IN_FLIGHT,
        };
        let mut out = String::with_capacity(2048);
        header(&mut out, APP_BYTES, "counter", "Bytes crossing app-tier sockets, headers included (scrapes excluded).");
        for (side, v) in [("client", self.client), ("storage", self.storage)] {
            let _ = writeln!(out, "{APP_BYTES}{{side=\"{side}\",direction=\"in\"}} {}", v.bytes_in);
            let _ = writeln!(out, "{APP_BYTES}{{side=\"{side}\",direction=\"out\"}} {}", v.bytes_out);
        }
        for (name, help, v) in [
            (ADMIN_BYTES, "Bytes of /metrics and /healthz connections.", self.admin),
            (EVENT_BYTES, "Bytes of store event deliveries (also in the client side of app bytes).", self.events),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name}{{direction=\"in\"}} {}", v.bytes_in);
            let _ = writeln!(out, "{name}{{direction=\"out\"}} {}", v.bytes_out);
        }
        header(&mut out, OVERLOADED, "counter", "Connections and requests refused with 503 (Retry-After) by a limit.");
        let _ = writeln!(out, "{OVERLOADED}{{limit=\"connections\"}} {}", self.overloaded_connections);
        let _ = writeln!(out, "{OVERLOADED}{{limit=\"in_flight\"}} {}", self.overloaded_requests);
        header(&mut out, ORPHANS_SWEPT, "counter", "Orphaned objects the sweeper deleted, by kind.");
        let _ = writeln!(out, "{ORPHANS_SWEPT}{{kind=\"upload\"}} {}", self.swept_uploads);
        let _ = writeln!(out, "{ORPHANS_SWEPT}{{kind=\"unrecorded\"}} {}", self.swept_unrecorded);
        let _ = writeln!(out, "{ORPHANS_SWEPT}{{kind=\"multipart\"}} {}", self.swept_multipart);
        header(&mut out, TLS_HANDSHAKES, "counter", "TLS handshakes, by side and kind.");
        for (side, t) in [("client", self.client_tls), ("storage", self.storage_tls)] {
            for (kind, n) in [("full", t.full), ("resumed", t.resumed), ("failed", t.failed)] {
                let _ = writeln!(out, "{TLS_HANDSHAKES}{{side=\"{side}\",kind=\"{kind}\"}} {n}");
            }
        }
        header(
            &mut out,
            TLS_HANDSHAKE_BYTES,
            "counter",
            "Bytes of completed TLS handshakes (also in the byte counters).",
        );
        for (side, t) in [("client", self.client_tls), ("storage", self.storage_tls)] {
            let _ = writeln!(out, "{TLS_HANDSHAKE_BYTES}{{side=\"{side}\",direction=\"in\"}} {}", t.bytes.bytes_in);
            let _ = writeln!(out, "{TLS_HANDSHAKE_BYTES}{{side=\"{side}\",direction=\"out\"}} {}", t.bytes.bytes_out);
        }
        let series: [(&str, &str, &str, String); 14] = [
            (REQUESTS, "counter", "App requests answered (scrapes excluded).", self.requests.to_string()),
            (REQUESTS_PEAK, "gauge", "Most app requests handled at once.", self.requests_peak.to_string()),
            (
                REQUEST_SECONDS,
                "counter",
                "Time app requests spent being handled (busy connection time).",
                format!("{:.6}", self.request_seconds),
            ),
            (
                UPLOADS_IN_FLIGHT,
                "gauge",
                "Proxied uploads whose body is being moved now.",
                self.uploads_in_flight.to_string(),
            ),
            (CONNECTIONS, "counter", "Client connections accepted (scrapes excluded).", self.connections.to_string()),
            (CONNECTIONS_OPEN, "gauge", "Client connections open now.", self.connections_open.to_string()),
            (CONNECTIONS_PEAK, "gauge", "Most client connections open at once.", self.connections_peak.to_string()),
            (
                CONNECTION_SECONDS,
                "counter",
                "Sum of client connection lifetimes, open ones included.",
                format!("{:.6}", self.connection_seconds),
            ),
            (
                STORAGE_CONNECTIONS,
                "counter",
                "Connections opened to the object store.",
                self.storage_connections.to_string(),
            ),
            (
                STORAGE_CONNECTIONS_PEAK,
                "gauge",
                "Most connections to the object store open at once.",
                self.storage_connections_peak.to_string(),
            ),
            (
                STORAGE_TIMEOUTS,
                "counter",
                "Store calls that ran out of time (answered 504 storage_timeout).",
                self.storage_timeouts.to_string(),
            ),
            (
                SEND_TIMEOUTS,
                "counter",
                "Connections closed because a response waited --send-timeout for its client to read.",
                self.send_timeouts.to_string(),
            ),
            (CPU_SECONDS, "counter", "User and system CPU time of this process.", format!("{:.6}", self.cpu_seconds)),
            (PEAK_RSS, "gauge", "Peak resident set size of this process.", self.peak_rss_bytes.to_string()),
        ];
        for (name, kind, help, value) in series {
            header(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        self.render_work(&mut out);
        out
    }

    /// The presign section series.
    fn render_presigns(&self, out: &mut String) {
        use names::{PRESIGN_SECONDS, PRESIGNS};
        header(out, PRESIGNS, "counter", "Presigns answered, timed by section.");
        let _ = writeln!(out, "{PRESIGNS} {}", self.presign.presigns);
        header(out, PRESIGN_SECONDS, "counter", "Time the presign handler spent, by section.");
        for (section, seconds) in PRESIGN_SECTIONS.iter().zip(self.presign.seconds) {
            let _ = writeln!(out, "{PRESIGN_SECONDS}{{section=\"{section}\"}} {seconds:.9}");
        }
    }

    /// The series of the work itself: malware scans and the presign handler's sections.
    fn render_work(&self, out: &mut String) {
        self.render_scans(out);
        self.render_presigns(out);
    }

    /// The malware scan series.
    fn render_scans(&self, out: &mut String) {
        use names::{SCAN_BYTES, SCAN_SECONDS, SCANS};
        header(out, SCANS, "counter", "Malware scans of stored objects, by verdict.");
        let s = self.scans;
        for (verdict, n) in [("clean", s.clean), ("infected", s.infected), ("failed", s.failed)] {
            let _ = writeln!(out, "{SCANS}{{verdict=\"{verdict}\"}} {n}");
        }
        header(out, SCAN_BYTES, "counter", "Bytes sent to the malware scanner.");
        let _ = writeln!(out, "{SCAN_BYTES} {}", s.bytes);
        header(out, SCAN_SECONDS, "counter", "Time spent scanning (reading the object and the scanner's work).");
        let _ = writeln!(out, "{SCAN_SECONDS} {:.6}", s.seconds);
    }

    /// Parses Prometheus text written by [`Self::render`].
    ///
    /// # Errors
    /// [`MissingSeries`] naming the first series that is absent.
    pub fn parse(text: &str) -> Result<Self, MissingSeries> {
        use names::{
            ADMIN_BYTES, APP_BYTES, CONNECTION_SECONDS, CONNECTIONS, CONNECTIONS_OPEN, CONNECTIONS_PEAK, CPU_SECONDS,
            EVENT_BYTES, ORPHANS_SWEPT, OVERLOADED, PEAK_RSS, REQUEST_SECONDS, REQUESTS, REQUESTS_PEAK, SEND_TIMEOUTS,
            STORAGE_CONNECTIONS, STORAGE_CONNECTIONS_PEAK, STORAGE_TIMEOUTS, TLS_HANDSHAKE_BYTES, TLS_HANDSHAKES,
            UPLOADS_IN_FLIGHT,
        };
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .map_err(|e| MissingSeries(format!("(unreadable text: {e})")))?;
        let value = |name: &str, labels: &[(&str, &str)]| -> Result<f64, MissingSeries> {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
                .and_then(|s| match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => Some(v),
                    _ => None,
                })
                .ok_or_else(|| {
                    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                    MissingSeries(if labels.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{name}{{{}}}", labels.join(","))
                    })
                })
        };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // counters are non-negative integers
        let count = |name: &str, labels: &[(&str, &str)]| value(name, labels).map(|v| v.max(0.0) as u64);
        let pair = |name: &str, side: Option<&'static str>| -> Result<InOut, MissingSeries> {
            let labels = |direction| match side {
                Some(side) => vec![("side", side), ("direction", direction)],
                None => vec![("direction", direction)],
            };
            Ok(InOut { bytes_in: count(name, &labels("in"))?, bytes_out: count(name, &labels("out"))? })
        };
        let handshakes = |side: &'static str| -> Result<Handshakes, MissingSeries> {
            let kind = |kind| count(TLS_HANDSHAKES, &[("side", side), ("kind", kind)]);
            Ok(Handshakes {
                full: kind("full")?,
                resumed: kind("resumed")?,
                failed: kind("failed")?,
                bytes: pair(TLS_HANDSHAKE_BYTES, Some(side))?,
            })
        };
        Ok(Self {
            client: pair(APP_BYTES, Some("client"))?,
            storage: pair(APP_BYTES, Some("storage"))?,
            admin: pair(ADMIN_BYTES, None)?,
            // Servers from before event notifications have none.
            events: pair(EVENT_BYTES, None).unwrap_or_default(),
            scans: Scans {
                clean: count(names::SCANS, &[("verdict", "clean")]).unwrap_or(0),
                infected: count(names::SCANS, &[("verdict", "infected")]).unwrap_or(0),
                failed: count(names::SCANS, &[("verdict", "failed")]).unwrap_or(0),
                bytes: count(names::SCAN_BYTES, &[]).unwrap_or(0),
                seconds: value(names::SCAN_SECONDS, &[]).unwrap_or(0.0),
            },
            // Servers from before the presign timers have none.
            presign: PresignSections {
                presigns: count(names::PRESIGNS, &[]).unwrap_or(0),
                seconds: PRESIGN_SECTIONS.map(|s| value(names::PRESIGN_SECONDS, &[("section", s)]).unwrap_or(0.0)),
            },
            requests: count(REQUESTS, &[])?,
            requests_peak: count(REQUESTS_PEAK, &[])?,
            request_seconds: value(REQUEST_SECONDS, &[])?,
            uploads_in_flight: count(UPLOADS_IN_FLIGHT, &[])?,
            connections: count(CONNECTIONS, &[])?,
            connections_open: count(CONNECTIONS_OPEN, &[])?,
            connections_peak: count(CONNECTIONS_PEAK, &[])?,
            connection_seconds: value(CONNECTION_SECONDS, &[])?,
            storage_connections: count(STORAGE_CONNECTIONS, &[])?,
            storage_connections_peak: count(STORAGE_CONNECTIONS_PEAK, &[])?,
            overloaded_connections: count(OVERLOADED, &[("limit", "connections")])?,
            overloaded_requests: count(OVERLOADED, &[("limit", "in_flight")])?,
            storage_timeouts: count(STORAGE_TIMEOUTS, &[])?,
            send_timeouts: count(SEND_TIMEOUTS, &[])?,
            swept_uploads: count(ORPHANS_SWEPT, &[("kind", "upload")])?,
            swept_unrecorded: count(ORPHANS_SWEPT, &[("kind", "unrecorded")])?,
            swept_multipart: count(ORPHANS_SWEPT, &[("kind", "multipart")])?,
            client_tls: handshakes("client")?,
            storage_tls: handshakes("storage")?,
            cpu_seconds: value(CPU_SECONDS, &[])?,
            peak_rss_bytes: count(PEAK_RSS, &[])?,
        })
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders every counter of `meter` plus process CPU and peak RSS in Prometheus text format.
#[must_use]
pub fn render(meter: &Meter) -> String {
    Snapshot::of(meter).render()
}

#[cfg(test)]
mod tests;
