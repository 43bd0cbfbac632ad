//! The `merge` command: reads the parts of a sharded run (files, directories of
//! `part-*.json`, or `s3://BUCKET/PREFIX` on an S3 endpoint), merges them exactly
//! ([`crate::harness::part::merge`]) and writes one results.json and the full report, as `run` does.

use crate::harness::part::{self, Part};
use crate::report::Format;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// What `merge` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// Part files, directories holding them, or `s3://BUCKET/PREFIX`.
    pub parts: Vec<String>,
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
}

/// Runs `merge`.
///
/// # Errors
/// Unreadable or mismatched parts (exit 2, naming them), a report that cannot be written, or
/// what `run` would fail on (an incomplete run, lost objects, failed thresholds).
pub async fn command(o: &Options) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for source in &o.parts {
        if source.starts_with("s3://") {
            parts.extend(from_s3(source, o).await?);
        } else {
            parts.extend(from_path(Path::new(source))?);
        }
    }
    let results = part::merge(&parts, o.allow_partial)?;
    crate::results::write(&results, &o.out).with_context(|| o.out.display().to_string())?;
    eprintln!(
        "merged {} parts of run {} ({} shards)",
        parts.len(),
        parts.first().map_or("", |(_, p)| p.run_id.as_str()),
        parts.first().map_or(0, |(_, p)| p.shard.count)
    );
    crate::run::conclude(&results, &o.out, o.format, o.junit.as_deref())
}

fn usage(message: String) -> anyhow::Error {
    crate::exit::Usage(message).into()
}

/// The part in `path`, or every `part-*.json` in the directory `path`.
fn from_path(path: &Path) -> anyhow::Result<Vec<(String, Part)>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| path.display().to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-"))
                    && p.extension().is_some_and(|e| e == "json")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(usage(format!("{}: no part-*.json in this directory", path.display())));
        }
        return files.iter().map(|f| read(f)).collect();
    }
    Ok(vec![read(path)?])
}

/// Whether `path` names a part: `part-*.json`.
fn is_part(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("part-"))
        && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn read(path: &Path) -> anyhow::Result<(String, Part)> {
    let name = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| usage(format!("{name}: {e}")))?;
    parse(&name, &text).map(|p| (name, p))
}

fn parse(name: &str, bytes: &[u8]) -> anyhow::Result<Part> {
    serde_json::from_slice(bytes).map_err(|e| usage(format!("{name}: not a presign-bench part: {e}")))
}

/// Every `part-*.json` under `s3://BUCKET/PREFIX`.
async fn from_s3(url: &str, o: &Options) -> anyhow::Result<Vec<(String, Part)>> {
    let (bucket, prefix) = crate::storage::client::parse_s3_url(url).map_err(usage)?;
    let endpoint =
        o.storage_endpoint.clone().ok_or_else(|| usage(format!("{url}: --storage-endpoint is needed to read it")))?;
    let target = crate::storage::client::S3Target {
        endpoint: endpoint.clone(),
        region: o.region.clone(),
        bucket: bucket.clone(),
        credentials: o.credentials.clone(),
    };
    let s3 = crate::storage::client::build(
        &target,
        crate::metrics::Meter::new(),
        crate::storage::client::Timeouts::default(),
    )?;
    let listed = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    let keys = crate::harness::verify::keys_under(&s3, &bucket, &[listed.as_str()]).await;
    let mut keys: Vec<String> = keys.into_iter().filter(|k| is_part(Path::new(k))).collect();
    keys.sort();
    if keys.is_empty() {
        return Err(usage(format!("{url}: no part-*.json under it on {endpoint}")));
    }
    let mut parts = Vec::new();
    for key in keys {
        let name = format!("s3://{bucket}/{key}");
        let object = s3.get_object().bucket(&bucket).key(&key).send().await.with_context(|| format!("GET {name}"))?;
        let bytes = object.body.collect().await.with_context(|| format!("GET {name}"))?.into_bytes();
        parts.push((name.clone(), parse(&name, &bytes)?));
    }
    Ok(parts)
}
