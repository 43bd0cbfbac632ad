//! Shard files on disk and in a bucket: each shard writes its [`ShardFile`] as
//! `shard-I-of-N.json` into a directory or under `s3://BUCKET/PREFIX/RUN_ID/`, and `merge` reads
//! them back from files, directories or a bucket prefix.

use super::ShardFile;
use crate::scenario::Scenario;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Where `s3://` shard files are read from.
#[derive(Clone, Debug)]
pub struct Store {
    /// The S3 endpoint (`None`: not given).
    pub endpoint: Option<String>,
    /// Its region.
    pub region: String,
    /// Its credentials.
    pub credentials: crate::storage::Credentials,
}

/// Shard files from `sources`: files, directories of `shard-*.json`, or `s3://BUCKET/PREFIX`.
///
/// # Errors
/// An unreadable or unparsable file, naming it (exit 2).
pub async fn read_all(sources: &[String], store: &Store) -> anyhow::Result<Vec<(String, ShardFile)>> {
    let mut files = Vec::new();
    for source in sources {
        if source.starts_with("s3://") {
            files.extend(from_s3(source, store).await?);
        } else {
            files.extend(from_path(Path::new(source))?);
        }
    }
    Ok(files)
}

/// Writes `file` to `dest` (a directory, or `s3://BUCKET/PREFIX` on `scenario`'s endpoint, under
/// `PREFIX/RUN_ID/`), else into `dir`; returns where.
///
/// # Errors
/// A directory or bucket that cannot be written, naming it.
pub async fn write(
    file: &ShardFile,
    dest: Option<&str>,
    dir: &std::path::Path,
    scenario: &Scenario,
    credentials: &crate::storage::Credentials,
) -> anyhow::Result<String> {
    let name = ShardFile::file_name(file.shard);
    let body = serde_json::to_vec_pretty(file)?;
    match dest {
        Some(url) if url.starts_with("s3://") => {
            let (bucket, key) = crate::storage::client::s3_location(url, &format!("{}/{name}", file.run_id))
                .map_err(anyhow::Error::msg)?;
            let crate::scenario::Storage::Endpoint { url: endpoint, region, .. } = &scenario.storage else {
                anyhow::bail!("--part-out {url}: needs --storage-endpoint");
            };
            let target = crate::storage::client::S3Target {
                endpoint: endpoint.clone(),
                region: region.clone(),
                bucket: bucket.clone(),
                credentials: credentials.clone(),
                ca_pem: None,
            };
            let s3 = crate::storage::client::build(
                &target,
                crate::metrics::Meter::new(),
                crate::storage::client::Timeouts::default(),
            )?;
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .content_type("application/json")
                .body(body.into())
                .send()
                .await
                .with_context(|| format!("PUT s3://{bucket}/{key} on {endpoint}"))?;
            Ok(format!("s3://{bucket}/{key}"))
        }
        other => {
            let folder = other.map_or_else(|| dir.to_owned(), std::path::PathBuf::from);
            std::fs::create_dir_all(&folder).with_context(|| folder.display().to_string())?;
            let path = folder.join(name);
            std::fs::write(&path, body).with_context(|| path.display().to_string())?;
            Ok(path.display().to_string())
        }
    }
}

/// A shard file that cannot be read or is not one, or a source that holds none; a usage error
/// (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreadable(pub String);

fn usage(message: String) -> anyhow::Error {
    Unreadable(message).into()
}

/// The shard file in `path`, or every `shard-*.json` in the directory `path`.
fn from_path(path: &Path) -> anyhow::Result<Vec<(String, ShardFile)>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| path.display().to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("shard-"))
                    && p.extension().is_some_and(|e| e == "json")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(usage(format!("{}: no shard-*.json in this directory", path.display())));
        }
        return files.iter().map(|f| read(f)).collect();
    }
    Ok(vec![read(path)?])
}

/// Whether `path` names a shard file: `shard-*.json`.
fn is_part(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("shard-"))
        && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

fn read(path: &Path) -> anyhow::Result<(String, ShardFile)> {
    let name = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| usage(format!("{name}: {e}")))?;
    parse(&name, &text).map(|p| (name, p))
}

fn parse(name: &str, bytes: &[u8]) -> anyhow::Result<ShardFile> {
    serde_json::from_slice(bytes).map_err(|e| usage(format!("{name}: not a presign-bench shard file: {e}")))
}

/// Every `shard-*.json` under `s3://BUCKET/PREFIX`.
async fn from_s3(url: &str, store: &Store) -> anyhow::Result<Vec<(String, ShardFile)>> {
    let (bucket, prefix) = crate::storage::client::parse_s3_url(url).map_err(usage)?;
    let endpoint =
        store.endpoint.clone().ok_or_else(|| usage(format!("{url}: --storage-endpoint is needed to read it")))?;
    let target = crate::storage::client::S3Target {
        endpoint: endpoint.clone(),
        region: store.region.clone(),
        bucket: bucket.clone(),
        credentials: store.credentials.clone(),
        ca_pem: None,
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
        return Err(usage(format!("{url}: no shard-*.json under it on {endpoint}")));
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
