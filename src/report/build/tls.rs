//! The TLS section, when the run spoke TLS: per mode, the handshakes with clients and with the
//! store (full, resumed, failed) and their bytes, and the app tier's CPU per gigabyte it carried,
//! the figure TLS raises for a server that carries every byte.

// Display: counts become f64 for formatting; precision beyond what a cell shows is not needed.
#![allow(clippy::cast_precision_loss)]

use crate::human::{in_out, number};
use crate::report::document::{Block, ModeCell, Section, Table};
use crate::results::{Handshakes, ModeResult, Results};

fn counts(h: Handshakes) -> String {
    format!("{} / {} / {}", h.full, h.resumed, h.failed)
}

fn handshakes(m: &ModeResult) -> Handshakes {
    m.app_tier.tls.map(|t| t.client).unwrap_or_default()
}

fn store(m: &ModeResult) -> Handshakes {
    m.app_tier.tls.map(|t| t.storage).unwrap_or_default()
}

/// App-tier CPU seconds per gigabyte it carried (both sides, both directions).
fn cpu_per_gb(m: &ModeResult) -> String {
    let gb = m.app_tier.total_bytes() as f64 / 1e9;
    if gb > 0.0 { format!("{} CPU-s/GB", number(m.app_tier.cpu_seconds / gb, 3)) } else { "-".into() }
}

const ROWS: [ModeCell<ModeResult>; 5] = [
    ("handshakes with clients: full / resumed / failed", |m| counts(handshakes(m))),
    ("their bytes in / out", |m| in_out(handshakes(m).bytes_in, handshakes(m).bytes_out)),
    ("handshakes with the store: full / resumed / failed", |m| counts(store(m))),
    ("their bytes in / out (store side)", |m| in_out(store(m).bytes_in, store(m).bytes_out)),
    ("app-tier CPU per GB carried", cpu_per_gb),
];

/// The section, or `None` when no mode spoke TLS.
#[must_use]
pub fn section(results: &Results) -> Option<Section> {
    let modes: Vec<_> = results.modes.present().into_iter().filter(|(_, m)| m.app_tier.tls.is_some()).collect();
    if modes.is_empty() {
        return None;
    }
    let t = results.scenario.tls;
    let table = Table::by_mode("tls", &modes, &ROWS, None);
    let note = format!(
        "TLS on the app tier: {}; on the store: {}. Bytes are counted on the TCP sockets below TLS (records, headers \
         and handshakes, as the NIC carries them), so every byte figure of this report includes TLS. Clients keep \
         connections alive as without TLS; a new connection to a server they have met resumes its TLS 1.3 session \
         from a ticket (no certificate, no signature). Run the same scenario without `tls` for the CPU per GB \
         without it.",
        if t.app_tier { "yes" } else { "no" },
        if t.storage { "yes" } else { "no" }
    );
    Some(Section::titled(
        "TLS: handshakes and the CPU per gigabyte carried",
        vec![Block::Table(table), Block::Paragraph(note)],
    ))
}
