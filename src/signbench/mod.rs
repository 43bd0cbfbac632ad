//! `presign-bench sign-bench`: URLs per second of three presigners, side by side in one run:
//! the broker's hand-written presigner, the `aws-sigv4` crate, and aws-sdk-s3's `presigned()`.
//!
//! Each measurement runs N threads for a fixed duration, each signing PUT URLs (Content-Type and
//! Content-Length signed in, a fresh `SystemTime::now()` per URL, keys from a fixed set) as fast
//! as it can; the count is bounded by the duration, not by a number of iterations.
//!
//! Beside them, the crypto floor of one URL ([`Floor`]), measured in the same run: the SHA-256 of
//! a canonical request and the HMAC-SHA256 of a string to sign, of the lengths a real URL has, with
//! no formatting. presign-bench's rate as a fraction of it does not depend on the machine.

mod floor;

use crate::sigv4::{Addressing, PUT_SIGNED_HEADERS, Presigner, yardstick};
pub use floor::Floor;
use floor::floor_until;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

const ENDPOINT: &str = "http://127.0.0.1:9000";
const BUCKET: &str = "uploads";
const REGION: &str = "us-east-1";
const EXPIRY: Duration = Duration::from_secs(600);
const CONTENT_TYPE: &str = "image/jpeg";
const SIZE: u64 = 10 * 1024 * 1024;

/// A presigner implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// The broker's hand-written presigner.
    PresignBench,
    /// The `aws-sigv4` crate.
    AwsSigv4,
    /// aws-sdk-s3's `presigned()`.
    AwsSdkS3,
}

impl Impl {
    /// All three, fastest expected first.
    pub const ALL: [Self; 3] = [Self::PresignBench, Self::AwsSigv4, Self::AwsSdkS3];

    /// The name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::PresignBench => "presign-bench",
            Self::AwsSigv4 => "aws-sigv4",
            Self::AwsSdkS3 => "aws-sdk-s3",
        }
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Thread counts, e.g. `[1, 2]`.
    pub threads: Vec<usize>,
    /// How long each measurement runs.
    pub duration: Duration,
    /// Measurements per (implementation, thread count).
    pub repeats: usize,
}

/// min / median / max of the repeats.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    /// Slowest repeat.
    pub min: f64,
    /// Median repeat.
    pub median: f64,
    /// Fastest repeat.
    pub max: f64,
}

impl Spread {
    /// min, median and max of `v` (not empty).
    #[must_use]
    pub fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { f64::midpoint(v[n / 2 - 1], v[n / 2]) };
        Self { min: v[0], median, max: v[n - 1] }
    }
}

/// One implementation at one thread count.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// `presign-bench`, `aws-sigv4` or `aws-sdk-s3`.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// Threads signing at once.
    pub threads: usize,
    /// URLs per second over the repeats.
    pub urls_per_sec: Spread,
}

/// The whole measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Every implementation at every thread count.
    pub results: Vec<Row>,
    /// presign-bench ÷ aws-sdk-s3, medians at the first thread count, from this run.
    pub ratio_vs_aws_sdk_s3: f64,
    /// presign-bench ÷ the crypto floor of a signer that caches its key (`crypto-floor`), medians
    /// at the first thread count: the fraction of the unavoidable arithmetic's rate reached.
    pub fraction_of_crypto_floor: f64,
    /// presign-bench ÷ `crypto-floor-full-chain` (above 1: the key cache saves more than all the
    /// formatting costs).
    pub fraction_of_full_chain_floor: f64,
    /// How it was measured.
    pub duration_ms: u64,
    /// Measurements per row.
    pub repeats: usize,
}

/// The store every implementation signs for at `endpoint` (nothing is sent to it while measuring).
fn target(endpoint: &str) -> crate::storage::client::S3Target {
    crate::storage::client::S3Target {
        endpoint: endpoint.to_owned(),
        region: REGION.to_owned(),
        bucket: BUCKET.to_owned(),
        credentials: crate::storage::Credentials::default(),
        ca_pem: None,
    }
}

fn presigner(endpoint: &str) -> Result<Presigner, String> {
    let c = target(endpoint).credentials;
    Presigner::new(endpoint, BUCKET, REGION, &c.access_key, &c.secret_key, Addressing::Path).map_err(|e| e.to_string())
}

/// One PUT URL from `which` for `key`, of `size` bytes of `image/jpeg`, to bucket `uploads` at
/// `endpoint` with the default credentials: what the measurement signs, for checking that a real
/// store accepts it. Call it outside an async runtime (aws-sdk-s3 needs one of its own).
///
/// # Errors
/// The implementation's refusal, as text.
pub fn sign_one(which: Impl, endpoint: &str, key: &str, size: u64) -> Result<String, String> {
    let p = presigner(endpoint)?;
    let now = SystemTime::now();
    match which {
        Impl::PresignBench => p.put_url(key, CONTENT_TYPE, size, EXPIRY, now).map_err(|e| e.to_string()),
        Impl::AwsSigv4 => {
            let len = size.to_string();
            let [a, b, c] = PUT_SIGNED_HEADERS;
            let headers = [(a, len.as_str()), (b, CONTENT_TYPE), (c, "*")];
            yardstick::aws_sigv4_url(&p, "PUT", key, &headers, EXPIRY, now).map_err(|e| e.to_string())
        }
        Impl::AwsSdkS3 => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            let client = aws_sdk_s3::Client::from_conf(crate::storage::client::config(&target(endpoint)).build());
            let config = aws_sdk_s3::presigning::PresigningConfig::builder()
                .expires_in(EXPIRY)
                .start_time(now)
                .build()
                .map_err(|e| e.to_string())?;
            let put = client.put_object().bucket(BUCKET).key(key).content_type(CONTENT_TYPE);
            let length = i64::try_from(size).map_err(|e| e.to_string())?;
            let signed = rt.block_on(put.content_length(length).presigned(config)).map_err(|e| e.to_string())?;
            Ok(signed.uri().to_owned())
        }
    }
}

fn keys() -> Vec<String> {
    (0u32..1024)
        .map(|i| format!("uploads/user-{}/{:032x}.jpg", i % 1000, u128::from(i) * 0x9E37_79B9_7F4A_7C15))
        .collect()
}

/// Signs PUT URLs with `which` until `deadline`; returns how many.
fn sign_until(which: Impl, deadline: Instant) -> u64 {
    let keys = keys();
    let Ok(signer) = presigner(ENDPOINT) else { return 0 };
    let length = SIZE.to_string();
    let [length_header, type_header, create_only_header] = PUT_SIGNED_HEADERS;
    let headers = [(length_header, length.as_str()), (type_header, CONTENT_TYPE), (create_only_header, "*")];
    let mut count = 0u64;
    match which {
        Impl::PresignBench | Impl::AwsSigv4 => loop {
            for key in &keys {
                let url = if which == Impl::PresignBench {
                    signer.put_url(key, CONTENT_TYPE, SIZE, EXPIRY, SystemTime::now())
                } else {
                    yardstick::aws_sigv4_url(&signer, "PUT", key, &headers, EXPIRY, SystemTime::now())
                };
                black_box(url.map_or(0, |u| u.len()));
            }
            count += keys.len() as u64;
            if Instant::now() >= deadline {
                return count;
            }
        },
        Impl::AwsSdkS3 => sdk_until(&keys, deadline),
    }
}

fn sdk_until(keys: &[String], deadline: Instant) -> u64 {
    use aws_sdk_s3::presigning::PresigningConfig;
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return 0 };
    rt.block_on(async {
        let client = aws_sdk_s3::Client::from_conf(crate::storage::client::config(&target(ENDPOINT)).build());
        let mut n = 0u64;
        loop {
            for key in keys.iter().take(128) {
                let Ok(config) = PresigningConfig::builder().expires_in(EXPIRY).start_time(SystemTime::now()).build()
                else {
                    return n;
                };
                let put = client.put_object().bucket(BUCKET).key(key).content_type(CONTENT_TYPE);
                let url = put.content_length(i64::try_from(SIZE).unwrap_or(0)).presigned(config).await;
                black_box(url.map_or(0, |u| u.uri().len()));
            }
            n += 128;
            if Instant::now() >= deadline {
                return n;
            }
        }
    })
}

/// What a measurement runs: a presigner, or a crypto floor.
#[derive(Clone, Copy, Debug)]
enum Subject {
    Impl(Impl),
    Floor(Floor),
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Self::Impl(i) => i.name(),
            Self::Floor(f) => f.name(),
        }
    }

    fn until(self, deadline: Instant) -> u64 {
        match self {
            Self::Impl(i) => sign_until(i, deadline),
            Self::Floor(f) => floor_until(f, deadline),
        }
    }
}

/// URLs per second of `which` on `threads` threads for `duration`.
fn measure(which: Subject, threads: usize, duration: Duration) -> f64 {
    let start = Instant::now();
    let deadline = start + duration;
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(move || which.until(deadline))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    #[allow(clippy::cast_precision_loss)] // URL counts stay far below 2^53
    let rate = total as f64 / start.elapsed().as_secs_f64();
    rate
}

/// Runs every implementation at every thread count, `repeats` times each.
#[must_use]
pub fn run(options: &Options, mut progress: impl FnMut(&str)) -> Report {
    let mut results = Vec::new();
    let subjects = Impl::ALL.map(Subject::Impl).into_iter().chain(Floor::ALL.map(Subject::Floor));
    for which in subjects {
        for &threads in &options.threads {
            let rates: Vec<f64> =
                (0..options.repeats.max(1)).map(|_| measure(which, threads, options.duration)).collect();
            let row = Row { implementation: which.name().to_owned(), threads, urls_per_sec: Spread::of(rates) };
            progress(&format!(
                "{:<14} {threads} thread(s): {:.0} URLs/s (median)",
                row.implementation, row.urls_per_sec.median
            ));
            results.push(row);
        }
    }
    let median = |name: &str| {
        let first = options.threads.first().copied().unwrap_or(1);
        results.iter().find(|r| r.implementation == name && r.threads == first).map_or(0.0, |r| r.urls_per_sec.median)
    };
    let over = |name: &str| {
        let base = median(name);
        if base > 0.0 { median("presign-bench") / base } else { 0.0 }
    };
    Report {
        ratio_vs_aws_sdk_s3: over("aws-sdk-s3"),
        fraction_of_crypto_floor: over(Floor::CachedKey.name()),
        fraction_of_full_chain_floor: over(Floor::FullChain.name()),
        results,
        duration_ms: u64::try_from(options.duration.as_millis()).unwrap_or(u64::MAX),
        repeats: options.repeats,
    }
}

/// What `sign-bench` was asked.
#[derive(Clone, Debug)]
pub struct CommandOptions {
    /// What to measure.
    pub measure: Options,
    /// How the answer is printed.
    pub format: crate::report::Format,
    /// Also write sign-bench.json and the `signing` plot here.
    pub out: Option<std::path::PathBuf>,
}

/// Runs `sign-bench`: measures, prints progress on stderr, prints the table or JSON.
///
/// # Errors
/// An output file that cannot be written.
pub fn command(options: &CommandOptions) -> anyhow::Result<()> {
    let report = run(&options.measure, |line| eprintln!("{line}"));
    let out = options.out.as_deref();
    crate::report::emit(options.format, &table(&report), &report, out, "sign-bench.json", &plot(&report))
}

/// The report as a table.
#[must_use]
pub fn table(report: &Report) -> String {
    use crate::columns::{self, Align};
    use std::fmt::Write;
    let rows: Vec<Vec<String>> = report
        .results
        .iter()
        .map(|r| {
            let s = r.urls_per_sec;
            vec![
                r.implementation.clone(),
                r.threads.to_string(),
                format!("{:.0}", s.min),
                format!("{:.0}", s.median),
                format!("{:.0}", s.max),
            ]
        })
        .collect();
    let mut out = columns::table(&["impl", "threads", "min URLs/s", "median", "max"], &[Align::Left], &rows);
    let _ = writeln!(
        out,
        "\npresign-bench signs {:.1}x as many URLs/s as aws-sdk-s3 presigned() (medians, {} thread(s), this run; {} repeats of {} ms)",
        report.ratio_vs_aws_sdk_s3,
        report.results.first().map_or(1, |r| r.threads),
        report.repeats,
        report.duration_ms
    );
    let _ = writeln!(
        out,
        "presign-bench runs at {:.0}% of the crypto floor of a key-caching signer (SHA-256 + 1 HMAC per URL), {:.0}% of the full HMAC chain's",
        100.0 * report.fraction_of_crypto_floor,
        100.0 * report.fraction_of_full_chain_floor
    );
    out
}

/// The `signing` plot of a report.
#[must_use]
pub fn plot(report: &Report) -> crate::report::plots::Signing {
    use crate::report::plots::{NamedCurve, Signing};
    #[allow(clippy::cast_precision_loss)] // thread counts
    let curves = Impl::ALL
        .iter()
        .map(|which| NamedCurve {
            name: which.name().to_owned(),
            points: report
                .results
                .iter()
                .filter(|r| r.implementation == which.name())
                .map(|r| (r.threads as f64, r.urls_per_sec.median))
                .collect(),
        })
        .collect();
    let subtitle = format!(
        "medians of {} repeats of {} ms; presign-bench is {:.1}x aws-sdk-s3 in this run",
        report.repeats, report.duration_ms, report.ratio_vs_aws_sdk_s3
    );
    Signing { curves, subtitle }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads() {
        assert_eq!(Spread::of(vec![3.0, 1.0, 2.0]), Spread { min: 1.0, median: 2.0, max: 3.0 });
        assert!((Spread::of(vec![4.0, 1.0, 2.0, 3.0]).median - 2.5).abs() < 1e-12);
    }

    #[test]
    fn every_implementation_signs_in_the_measured_loop() {
        // The store's acceptance of each URL is checked in tests/presign.rs.
        let deadline = Instant::now();
        for which in Impl::ALL {
            assert!(sign_until(which, deadline) > 0, "{}", which.name());
        }
        for floor in Floor::ALL {
            assert!(floor_until(floor, deadline) > 0, "{}", floor.name());
        }
    }
}
