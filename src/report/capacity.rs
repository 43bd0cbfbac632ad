//! The capacity report as a table (inputs first) and as the `capacity` plot.

use super::plots::{Capacity, NamedCurve};
use crate::human::{bandwidth, quantity, si_bytes};
use crate::results::CapacityReport;
use std::fmt::Write;

/// The report as a table, inputs first.
#[must_use]
pub fn table(report: &CapacityReport) -> String {
    let mut out = String::from("inputs:\n");
    for i in &report.inputs {
        let _ = writeln!(out, "  {:<34} {:<40} ({})", i.name, quantity(i.value, &i.unit), i.source.as_str());
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>8} {:>6} {:>6} {:>8} {:>12}  binding",
        "mode", "servers", "nic", "cpu", "memory", "connections"
    );
    for (mode, p) in &report.modes {
        let b = p.by_constraint;
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>6} {:>6} {:>8} {:>12}  {}",
            mode.as_str(),
            p.servers,
            b.nic,
            b.cpu,
            b.memory,
            b.connections,
            p.binding.as_str()
        );
    }
    out
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
        assert!(t.contains("  uploads                            50,000 uploads"), "{t}");
        assert!(t.contains("  nic                                10 Gbit/s per direction"), "{t}");
        assert!(t.contains("proxied           7      7"), "{t}");
        assert!(t.lines().any(|l| l.starts_with("presigned") && l.ends_with("nic")), "{t}");
        // Every input in human units: no e-notation anywhere in the table.
        assert!(!t.split_whitespace().any(|w| w.contains("e+") || w.contains("e-") || w.contains("e9")), "{t}");
    }
}
