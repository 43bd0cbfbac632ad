//! The sentences and labels every report format shares: the run's headline, the scenario's
//! object size and pacing in words, and the presigned flow's steps with their bytes.

// Sizes become f64 for display: precision beyond what a label shows is not needed.
#![allow(clippy::cast_precision_loss)]

use crate::human::{grouped, ratio, si_bytes};
use crate::results::capacity::Constraint;
use crate::results::{PresignSteps, Results};
use crate::scenario::{Mode, ObjectSize, Pacing, Scenario};

/// The one-line claim of a run, e.g. "1.0 TB vs 118 MB through the app tier for 50,000 uploads: 4,451×".
#[must_use]
pub fn headline(results: &Results) -> String {
    let m = &results.modes;
    match (&m.proxied, &m.presigned, &results.comparison) {
        (Some(p), Some(s), Some(c)) => format!(
            "client-facing app-tier bytes for {} uploads (extrapolated): proxied {} vs presigned {}, {}",
            grouped(p.extrapolated.uploads),
            si_bytes(p.extrapolated.client_bytes),
            si_bytes(s.extrapolated.client_bytes),
            ratio(c.client_bytes_ratio)
        ),
        _ => "one mode only: no comparison".to_owned(),
    }
}

/// The capacity answer in words, e.g. "For 50,000 uploads of 10.5 MB within 60 s, proxying
/// needs 7 app servers (bound by their network bandwidth); presigned URLs need 1 app server
/// (bound by its network bandwidth)." None
/// when the run has no capacity model or not both modes.
#[must_use]
pub fn answer(results: &Results) -> Option<String> {
    let c = results.capacity.as_ref()?;
    let (proxied, presigned) = (c.modes.get(&Mode::Proxied)?, c.modes.get(&Mode::Presigned)?);
    let servers = |n: u64| if n == 1 { "1 app server".to_owned() } else { format!("{} app servers", grouped(n)) };
    let bound = |p: &crate::results::capacity::ModePlan| {
        let whose = if p.servers == 1 { "its" } else { "their" };
        let what = match p.binding {
            Constraint::Nic => "network bandwidth",
            Constraint::Cpu => "CPU",
            Constraint::Memory => "memory",
            Constraint::Connections => "open connections",
        };
        format!("bound by {whose} {what}")
    };
    let window = c.input("window");
    Some(format!(
        "For {} uploads of {} within {window:.0} s, proxying needs {} ({}); presigned URLs need {} ({}).",
        grouped(results.scenario.target_uploads),
        object_size(&results.scenario),
        servers(proxied.servers),
        bound(proxied),
        servers(presigned.servers),
        bound(presigned),
    ))
}

/// "10.5 MB" or "1.0 MB to 21.0 MB", from the resolved scenario's `object_size`.
#[must_use]
pub fn object_size(scenario: &Scenario) -> String {
    match scenario.object_size {
        ObjectSize::Fixed(size) => si_bytes(size as f64),
        ObjectSize::Range { min, max } => format!("{} to {}", si_bytes(min as f64), si_bytes(max as f64)),
    }
}

/// "closed model, 32 in flight" or "open model, 100/s (at most 64 in flight)".
#[must_use]
pub fn pacing(scenario: &Scenario) -> String {
    match scenario.pacing {
        Pacing::Open { rate_per_sec, max_in_flight } => {
            format!("open model, {rate_per_sec}/s (at most {max_in_flight} in flight)")
        }
        Pacing::Closed { concurrency } => format!("closed model, {concurrency} in flight"),
    }
}

/// The presigned flow's steps as (step, request bytes, response bytes).
#[must_use]
pub fn steps(s: &PresignSteps) -> [(&'static str, f64, f64); 3] {
    [
        ("presign (client ↔ broker)", s.presign_request_bytes, s.presign_response_bytes),
        ("complete (client ↔ broker)", s.complete_request_bytes, s.complete_response_bytes),
        ("verify (broker ↔ store)", s.store_request_bytes, s.store_response_bytes),
    ]
}
