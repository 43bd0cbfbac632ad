//! The `merge` command: reads the shard files of a sharded run (files, directories of
//! `shard-*.json`, or `s3://BUCKET/PREFIX` on an S3 endpoint), merges them exactly
//! ([`crate::shard::merge`]) and writes one results.json and the full report, as `run` does; the
//! scenario's thresholds are evaluated here, on the whole run.

use crate::report::Format;
use anyhow::Context;
use std::path::PathBuf;

/// What `merge` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// Shard files, directories holding them, or `s3://BUCKET/PREFIX`.
    pub files: Vec<String>,
    /// Report directory.
    pub out: PathBuf,
    /// Merge what is there when shards are missing, and mark the run incomplete.
    pub allow_partial: bool,
    /// The S3 endpoint of `s3://` sources.
    pub storage_endpoint: Option<String>,
    /// Its region.
    pub region: String,
    /// Its credentials.
    pub credentials: crate::storage::Credentials,
    /// How the summary is printed.
    pub format: Format,
    /// Also write the thresholds as JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Serve the merged report in the live view on this address until stopped (`--live`).
    pub live: Option<std::net::SocketAddr>,
}

/// Runs `merge`.
///
/// # Errors
/// Unreadable or mismatched shard files (exit 2, naming them), a report that cannot be written, or
/// what `run` would fail on (an incomplete run, lost objects, failed thresholds).
pub async fn command(o: &Options, stop: tokio_util::sync::CancellationToken) -> anyhow::Result<()> {
    let store = crate::shard::io::Store {
        endpoint: o.storage_endpoint.clone(),
        region: o.region.clone(),
        credentials: o.credentials.clone(),
    };
    let files = crate::shard::io::read_all(&o.files, &store).await?;
    let results = crate::shard::merge(&files, o.allow_partial)?;
    crate::results::write(&results, &o.out).with_context(|| o.out.display().to_string())?;
    eprintln!(
        "merged {} shard files of run {} ({} shards)",
        files.len(),
        files.first().map_or("", |(_, f)| f.run_id.as_str()),
        files.first().map_or(0, |(_, f)| f.shard.count)
    );
    let concluded = crate::run::conclude(&results, &o.out, o.format, o.junit.as_deref());
    if let Some(addr) = o.live {
        let live = crate::live::Live::start(addr).await?;
        eprintln!("live view: {} (the merged report; Ctrl-C stops it)", live.url());
        live.feed().finish(results, o.out.clone());
        stop.cancelled().await;
    }
    concluded
}
