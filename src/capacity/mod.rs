//! The capacity model: how many app servers each architecture needs for a workload. Pure
//! functions, no I/O; every input is named, valued, given a unit and a source, so the answer can be
//! checked by hand.
//!
//! Per mode, servers are needed for four constraints, and the largest count binds:
//! - **nic**: app-tier bytes per direction ÷ window ÷ NIC bandwidth per direction;
//! - **cpu**: app-tier CPU seconds ÷ (window × cores);
//! - **memory**: connections held at once × memory per connection ÷ memory;
//! - **connections**: connections held at once ÷ connections per server.
//!
//! App-tier bytes per upload are `fixed + per_byte × object size` per direction (proxied: the body
//! crosses in once and out once; presigned: a fixed few KB); CPU per upload is
//! `per_upload + per_byte × object size`; a proxied upload holds an app connection for its whole
//! life, a presigned one only while it presigns and completes (`connection_share`).
//!
//! [`inputs`] gathers the model's inputs (flags, defaults, a scenario's target, a run's measured
//! costs) and builds the [`CapacityReport`] that results carry.

pub mod inputs;

pub use crate::results::capacity::{ByConstraint, CapacityReport, Constraint, ModePlan};
pub use inputs::{PlanFlags, Setting, Sourced, build};

// Reads (`[downloads]`) are planned with the same model: a download's cost has the same shape as
// an upload's (fixed bytes, object crossings per direction, CPU, the share of its life it holds
// an app connection), measured on the read side; writes and reads together are [`plan_mix`].

/// What has to be carried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Workload {
    /// Uploads in the window.
    pub uploads: f64,
    /// Uploads in flight at once.
    pub concurrent: f64,
    /// Bytes per object.
    pub object_size: f64,
    /// Seconds in which the uploads arrive.
    pub window_secs: f64,
}

/// One app server.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ServerSpec {
    /// NIC bandwidth per direction, bytes per second.
    pub nic_bytes_per_sec: f64,
    /// CPU cores.
    pub cores: f64,
    /// Memory for uploads, bytes.
    pub memory_bytes: f64,
    /// Open connections it can hold.
    pub max_connections: f64,
}

/// The measured (or default) cost of one upload in one architecture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UploadCost {
    /// App-tier bytes in per upload, beyond the object (headers, JSON).
    pub fixed_bytes_in: f64,
    /// App-tier bytes out per upload, beyond the object.
    pub fixed_bytes_out: f64,
    /// Times the object crosses the app tier inbound (1 proxied, 0 presigned).
    pub per_byte_in: f64,
    /// Times the object crosses the app tier outbound.
    pub per_byte_out: f64,
    /// App-tier CPU seconds per upload.
    pub cpu_per_upload: f64,
    /// App-tier CPU seconds per object byte.
    pub cpu_per_byte: f64,
    /// App-tier memory per connection held, bytes.
    pub memory_per_connection: f64,
    /// Share of an upload's life during which it holds an app-tier connection.
    pub connection_share: f64,
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // non-negative, far below 2^64
fn servers(need: f64, per_server: f64) -> u64 {
    if need <= 0.0 || per_server <= 0.0 {
        return 0;
    }
    // A hair of tolerance so that 7.0000000001 from float noise does not become 8.
    (need / per_server - 1e-9).ceil().max(0.0) as u64
}

/// The servers `cost` needs for `work` on `server`.
#[must_use]
pub fn plan(work: &Workload, server: &ServerSpec, cost: &UploadCost) -> ModePlan {
    plan_mix(&[(*work, *cost)], server)
}

/// The servers needed for several kinds of work at once on `server` (writes and reads of one
/// architecture): each constraint's need is the sum of every kind's (bytes per direction, CPU,
/// connections held, their memory), all in the first kind's window.
#[must_use]
pub fn plan_mix(loads: &[(Workload, UploadCost)], server: &ServerSpec) -> ModePlan {
    let (mut bytes_in, mut bytes_out, mut cpu, mut held, mut memory) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (work, cost) in loads {
        bytes_in += work.uploads * (cost.fixed_bytes_in + cost.per_byte_in * work.object_size);
        bytes_out += work.uploads * (cost.fixed_bytes_out + cost.per_byte_out * work.object_size);
        cpu += work.uploads * (cost.cpu_per_upload + cost.cpu_per_byte * work.object_size);
        held += work.concurrent * cost.connection_share;
        memory += work.concurrent * cost.connection_share * cost.memory_per_connection;
    }
    let window = loads.first().map_or(1.0, |(w, _)| w.window_secs);
    let by = ByConstraint {
        nic: servers(f64::max(bytes_in, bytes_out) / window, server.nic_bytes_per_sec),
        cpu: servers(cpu / window, server.cores),
        memory: servers(memory, server.memory_bytes),
        connections: servers(held, server.max_connections),
    };
    let ranked = [
        (Constraint::Nic, by.nic),
        (Constraint::Cpu, by.cpu),
        (Constraint::Memory, by.memory),
        (Constraint::Connections, by.connections),
    ];
    let (binding, most) =
        ranked.iter().fold((Constraint::Nic, 0), |best, &(name, n)| if n > best.1 { (name, n) } else { best });
    ModePlan { servers: most.max(1), binding, by_constraint: by }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerSpec {
        ServerSpec {
            nic_bytes_per_sec: 10e9 / 8.0,
            cores: 8.0,
            memory_bytes: 16.0 * 1024.0 * 1024.0 * 1024.0,
            max_connections: 65_000.0,
        }
    }

    fn proxied() -> UploadCost {
        UploadCost {
            fixed_bytes_in: 0.0,
            fixed_bytes_out: 0.0,
            per_byte_in: 1.0,
            per_byte_out: 1.0,
            cpu_per_upload: 0.0,
            cpu_per_byte: 0.0,
            memory_per_connection: 0.0,
            connection_share: 1.0,
        }
    }

    #[test]
    fn five_hundred_gigabytes_in_a_minute_need_seven_servers_for_the_bytes() {
        // 50,000 × 10 MB = 500 GB each way in 60 s = 8.33 GB/s; a 10 Gbit/s NIC moves 1.25 GB/s.
        let work = Workload { uploads: 50_000.0, concurrent: 50_000.0, object_size: 10e6, window_secs: 60.0 };
        let p = plan(&work, &server(), &proxied());
        assert_eq!(p.by_constraint.nic, 7);
        assert_eq!((p.servers, p.binding), (7, Constraint::Nic));
    }

    #[test]
    fn writes_and_reads_together_add_their_needs() {
        // 25,000 uploads and 25,000 downloads of 10 MB, proxied: 250 GB in and 250 GB out for
        // each kind; together 500 GB each way in 60 s, as 50,000 uploads alone: 7 servers.
        let work = Workload { uploads: 25_000.0, concurrent: 25_000.0, object_size: 10e6, window_secs: 60.0 };
        let alone = plan(&work, &server(), &proxied());
        assert_eq!(alone.by_constraint.nic, 4);
        let both = plan_mix(&[(work, proxied()), (work, proxied())], &server());
        assert_eq!((both.servers, both.binding), (7, Constraint::Nic));
        assert_eq!(both.by_constraint.connections, 1);
    }

    #[test]
    fn memory_bound() {
        // 50,000 in flight × 2 MiB = 97.7 GiB; 16 GiB per server → 7 (6.1 rounded up).
        let work = Workload { uploads: 1000.0, concurrent: 50_000.0, object_size: 1e3, window_secs: 60.0 };
        let cost = UploadCost { memory_per_connection: 2.0 * 1024.0 * 1024.0, ..proxied() };
        let p = plan(&work, &server(), &cost);
        assert_eq!(p.by_constraint.memory, 7);
        assert_eq!((p.servers, p.binding), (7, Constraint::Memory));
    }

    #[test]
    fn connection_bound() {
        // 200,000 in flight, 65,000 per server → 4 (3.08 rounded up); tiny objects, no memory cost.
        let work = Workload { uploads: 1000.0, concurrent: 200_000.0, object_size: 1e3, window_secs: 60.0 };
        let p = plan(&work, &server(), &proxied());
        assert_eq!(p.by_constraint.connections, 4);
        assert_eq!((p.servers, p.binding), (4, Constraint::Connections));
    }

    #[test]
    fn cpu_bound_and_presigned() {
        // Presigned: 4 KB per upload, 1.5 ms CPU, connections held 5 % of the time.
        let cost = UploadCost {
            fixed_bytes_in: 1700.0,
            fixed_bytes_out: 2300.0,
            per_byte_in: 0.0,
            per_byte_out: 0.0,
            cpu_per_upload: 1.5e-3,
            cpu_per_byte: 0.0,
            memory_per_connection: 64.0 * 1024.0,
            connection_share: 0.05,
        };
        let work = Workload { uploads: 50_000.0, concurrent: 50_000.0, object_size: 10e6, window_secs: 60.0 };
        let p = plan(&work, &server(), &cost);
        // 75 CPU-s in 60 s on 8 cores: 0.16 → 1; 115 MB/60 s: 1; 2,500 connections: 1.
        assert_eq!(p.by_constraint, ByConstraint { nic: 1, cpu: 1, memory: 1, connections: 1 });
        assert_eq!(p.servers, 1);
        // A million uploads a minute at 1.5 ms each: 1,500 CPU-s / 480 → 4 servers, CPU-bound.
        let p = plan(&Workload { uploads: 1e6, ..work }, &server(), &cost);
        assert_eq!((p.by_constraint.cpu, p.binding), (4, Constraint::Cpu));
    }
}
