//! CPU time and peak resident memory of this process (`getrusage(2)` and `/proc/self/status`)
//! and of a process tree (`/proc`).

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
    ProcessStats {
        cpu_seconds: seconds(usage.user_time()) + seconds(usage.system_time()),
        // Not ru_maxrss: it survives execve(2), so a server started by a big parent (a test
        // binary, the harness) reports the parent's memory at fork time as its own peak.
        // VmHWM belongs to the address space exec made.
        peak_rss_bytes: peak_rss_kib("self") * 1024,
    }
}

/// `VmHWM` of `/proc/{pid}/status`, KiB (0 when unreadable).
fn peak_rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// CPU time and peak resident memory of process `pid` and its children (a supervised server
/// such as a MinIO node and its supervisor), from `/proc`; `None` when the process is gone.
#[must_use]
pub fn tree_stats(pid: u32) -> Option<ProcessStats> {
    let mut total = ProcessStats { cpu_seconds: 0.0, peak_rss_bytes: 0 };
    let mut pending = vec![pid];
    let mut seen = 0;
    while let Some(p) = pending.pop() {
        let one = proc_stats(p)?;
        total.cpu_seconds += one.cpu_seconds;
        total.peak_rss_bytes += one.peak_rss_bytes;
        seen += 1;
        let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        pending.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        if seen > 64 {
            break;
        }
    }
    Some(total)
}

/// One process's CPU seconds (`utime + stime` of `/proc/PID/stat`) and peak RSS (`VmHWM`).
/// Read by hand: two fields of two files (and `children`, in `tree_stats`); the procfs crate
/// parses every field of every file for them.
fn proc_stats(pid: u32) -> Option<ProcessStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_sec =
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().filter(|t| *t > 0).unwrap_or(100);
    let hwm_kib = peak_rss_kib(&pid.to_string());
    #[allow(clippy::cast_precision_loss)] // clock ticks of CPU time fit an f64 exactly
    let cpu_seconds = ticks as f64 / per_sec as f64;
    Some(ProcessStats { cpu_seconds, peak_rss_bytes: hwm_kib * 1024 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_the_same_from_proc_as_from_getrusage() {
        let burn: u64 = (0..20_000_000u64).fold(0, |a, b| a.wrapping_add(b * b));
        assert!(burn > 0);
        let proc = tree_stats(std::process::id()).unwrap();
        let rusage = process_stats();
        assert!(proc.cpu_seconds > 0.0 && (proc.cpu_seconds - rusage.cpu_seconds).abs() < 0.5, "{proc:?} {rusage:?}");
        assert!(proc.peak_rss_bytes > 0);
        assert!(tree_stats(u32::MAX).is_none(), "a process that does not exist");
    }
}
