//! Facts about the machine a run used, for the report.

use crate::results::Environment;

/// Reads CPU model, cores, memory, OS, version and (when in a git checkout) the commit; `store`
/// is the version of the store the harness started, if it knows one. A line each of three
/// `/proc` files, read by hand: the procfs crate is a large tree for three lines.
#[must_use]
pub fn environment(store: Option<String>) -> Environment {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Environment {
        cpu_model,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        memory_bytes: memory_kib * 1024,
        os: format!("{} {}", std::env::consts::OS, kernel.trim()).trim().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        git_commit: git_commit(),
        store,
    }
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}
