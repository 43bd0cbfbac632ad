//! CPU time and peak resident memory of this process, from `getrusage(2)`.

/// Resource usage of the current process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Peak resident set size, in bytes.
    pub peak_rss_bytes: u64,
}

/// Reads the CPU time and peak RSS of this process.
#[must_use]
pub fn process_stats() -> ProcessStats {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_SELF) else {
        return ProcessStats { cpu_seconds: 0.0, peak_rss_bytes: 0 };
    };
    let seconds = |t: nix::sys::time::TimeVal| {
        #[allow(clippy::cast_precision_loss)] // seconds of CPU time fit an f64 exactly
        let s = t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        s
    };
    // Linux reports ru_maxrss in KiB.
    let peak_kib = u64::try_from(usage.max_rss()).unwrap_or(0);
    ProcessStats {
        cpu_seconds: seconds(usage.user_time()) + seconds(usage.system_time()),
        peak_rss_bytes: peak_kib * 1024,
    }
}
