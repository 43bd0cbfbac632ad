//! The capacity report as two tables (inputs with their sources, then servers per mode) and as
//! the `capacity` plot: a section of the run's report, and what `plan` prints.

use super::document::{Block, Row, Table};
use super::plots::{Capacity, NamedCurve};
use crate::human::{bandwidth, quantity, si_bytes};
use crate::results::CapacityReport;

/// The inputs (with where each came from) and the servers each mode needs per constraint.
#[must_use]
pub fn blocks(report: &CapacityReport) -> Vec<Block> {
    let text = |s: &str| s.to_owned();
    let inputs = Table {
        id: "capacity-inputs",
        columns: vec![text("input"), text("value"), text("source")],
        labels: 3,
        rows: report
            .inputs
            .iter()
            .map(|i| Row::measured(vec![i.name.clone(), quantity(i.value, &i.unit), i.source.as_str().to_owned()]))
            .collect(),
    };
    let servers = Table {
        id: "capacity-servers",
        columns: ["mode", "servers", "nic", "cpu", "memory", "connections", "binding"].map(text).to_vec(),
        labels: 1,
        rows: report
            .modes
            .iter()
            .map(|(mode, p)| {
                let b = p.by_constraint;
                Row::estimated(vec![
                    mode.as_str().to_owned(),
                    p.servers.to_string(),
                    b.nic.to_string(),
                    b.cpu.to_string(),
                    b.memory.to_string(),
                    b.connections.to_string(),
                    p.binding.as_str().to_owned(),
                ])
            })
            .collect(),
    };
    vec![Block::Table(inputs), Block::Table(servers)]
}

/// The report as text, inputs first (what `plan` prints).
#[must_use]
pub fn table(report: &CapacityReport) -> String {
    super::text::blocks(&blocks(report))
}

/// The capacity plot of a report.
#[must_use]
pub fn plot(report: &CapacityReport) -> Capacity {
    let curves = report
        .curve
        .iter()
        .map(|(mode, points)| NamedCurve {
            name: mode.as_str().to_owned(),
            points: points.iter().map(|p| (p[0], p[1])).collect(),
        })
        .collect();
    let get = |name: &str| report.input(name);
    let subtitle = format!(
        "{} objects, {:.0} s window, {} NIC, {:.0} cores, {} per server (inputs in the table)",
        si_bytes(get("object_size")),
        get("window"),
        bandwidth(get("nic")),
        get("cores"),
        si_bytes(get("memory"))
    );
    Capacity { curves, subtitle }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::{Setting, build};

    #[test]
    fn table_lists_inputs_with_sources_and_the_binding_constraint() {
        let t = table(&build(&Setting::default(), None));
        let line = |name: &str| t.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {t}"));
        let words = |name: &str| line(name).split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words("uploads")[..3], ["uploads", "50,000", "uploads"], "{t}");
        assert!(line("nic ").contains("10 Gbit/s per direction"), "{t}");
        assert_eq!(words("proxied ")[..3], ["proxied", "7", "7"], "{t}");
        assert_eq!(words("presigned ").last().map(String::as_str), Some("nic"), "{t}");
        // Every input in human units: no e-notation anywhere in the table.
        assert!(!t.split_whitespace().any(|w| w.contains("e+") || w.contains("e-") || w.contains("e9")), "{t}");
    }
}
