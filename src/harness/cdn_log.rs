//! The CDN's access log (`access.log` in its directory, written by nginx as `cdn.rs` configures
//! it): one line per request, `msec|status|cache-status|origin-bytes-received|origin-bytes-sent|
//! bytes-sent|uri`, read back after each read architecture's views for the cache's traffic to
//! the store.

/// The access log, in the CDN's directory.
pub const ACCESS_LOG: &str = "access.log";

/// One line of the access log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Logged {
    /// The response's status.
    pub status: u16,
    /// nginx's cache status (`HIT`, `MISS`, `-` when the request did not use the cache).
    pub cache: String,
    /// Bytes received from the origin for it (0 when it went to none).
    pub origin_received: u64,
    /// Bytes sent to the origin for it.
    pub origin_sent: u64,
    /// Bytes sent to the viewer.
    pub sent: u64,
}

/// Parses access log lines (see the module's top comment); lines it cannot read are skipped.
#[must_use]
pub fn parse_log(text: &str) -> Vec<Logged> {
    // `$upstream_bytes_*` are "-" without an origin request, and "a, b" when nginx tried twice.
    let sum = |field: &str| field.split(", ").filter_map(|v| v.parse::<u64>().ok()).sum();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(7, '|').collect();
            (f.len() == 7).then(|| Logged {
                status: f[1].parse().unwrap_or(0),
                cache: f[2].to_owned(),
                origin_received: sum(f[3]),
                origin_sent: sum(f[4]),
                sent: f[5].parse().unwrap_or(0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_sum_retries_and_read_dashes_as_no_origin() {
        let text = "1.0|200|MISS|1100|300|1024|/public/files/a\n1.1|200|HIT|-|-|1024|/public/files/a\n\
                    1.2|502|MISS|10, 20|5, 5|200|/p\nshort line\n";
        let got = parse_log(text);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            Logged { status: 200, cache: "MISS".into(), origin_received: 1100, origin_sent: 300, sent: 1024 }
        );
        assert_eq!((got[1].cache.as_str(), got[1].origin_received), ("HIT", 0));
        assert_eq!((got[2].origin_received, got[2].origin_sent), (30, 10));
    }
}
