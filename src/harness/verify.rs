//! Reading objects back: after each mode the harness HEADs and GETs what the app said it stored
//! and compares size and SHA-256 with what was sent.

use crate::client::payload::Payload;
use crate::loadgen::Done;
use crate::scenario::Verify;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Objects read back in parallel.
const PARALLEL: usize = 4;

/// What reading the objects back found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadBack {
    /// Objects read back and compared.
    pub verified: u64,
    /// Missing or short.
    pub lost: u64,
    /// Same length, different bytes (or longer).
    pub corrupt: u64,
    /// Objects under the mode's prefixes that no completed upload accounts for (`None`: not
    /// counted, in a bucket the harness does not own).
    pub orphans: Option<u64>,
}

enum Check {
    Intact,
    Lost,
    Corrupt,
}

/// The uploads `how` selects: all, none, or an evenly spread sample.
#[must_use]
pub fn select(done: &[Done], how: Verify) -> Vec<&Done> {
    let mut sorted: Vec<&Done> = done.iter().collect();
    sorted.sort_by_key(|d| d.index);
    match how {
        Verify::All => sorted,
        Verify::None => Vec::new(),
        Verify::Sample(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if n >= sorted.len() {
                return sorted;
            }
            (0..n).map(|i| sorted[i * sorted.len() / n]).collect()
        }
    }
}

/// Verifies the selected uploads against the store.
pub async fn verify(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    done: &[Done],
    payload: &Arc<Payload>,
    how: Verify,
) -> ReadBack {
    let picked = select(done, how);
    let checks = futures_util::stream::iter(picked).map(|d| check(s3, bucket, payload, d)).buffer_unordered(PARALLEL);
    checks
        .fold(ReadBack::default(), |mut v, c| async move {
            v.verified += 1;
            match c {
                Check::Intact => {}
                Check::Lost => v.lost += 1,
                Check::Corrupt => v.corrupt += 1,
            }
            v
        })
        .await
}

async fn check(s3: &aws_sdk_s3::Client, bucket: &str, payload: &Arc<Payload>, d: &Done) -> Check {
    let head = match s3.head_object().bucket(bucket).key(&d.key).send().await {
        Ok(h) => h,
        Err(e) => {
            if !e.as_service_error().is_some_and(HeadObjectError::is_not_found) {
                tracing::warn!(
                    key = d.key,
                    "HEAD failed: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                );
            }
            return Check::Lost;
        }
    };
    let len = head.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
    if len < d.size {
        return Check::Lost;
    }
    if len != d.size {
        return Check::Corrupt;
    }
    let expected = {
        let (p, index, size) = (payload.clone(), d.index, d.size);
        tokio::task::spawn_blocking(move || p.sha256(index, size))
    };
    let Ok(object) = s3.get_object().bucket(bucket).key(&d.key).send().await else { return Check::Lost };
    let mut body = object.body;
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    loop {
        match body.try_next().await {
            Ok(Some(chunk)) => {
                read += chunk.len() as u64;
                hasher.update(&chunk);
            }
            Ok(None) => break,
            Err(_) => return Check::Lost,
        }
    }
    let actual: [u8; 32] = hasher.finalize().into();
    match expected.await {
        Ok(expected) if read == d.size && expected == actual => Check::Intact,
        Ok(_) if read < d.size => Check::Lost,
        _ => Check::Corrupt,
    }
}

/// Every key under `prefixes` (at most 100,000; a listing that fails is logged and cut short).
pub async fn keys_under(s3: &aws_sdk_s3::Client, bucket: &str, prefixes: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in prefixes {
        let mut pages = s3.list_objects_v2().bucket(bucket).prefix(*prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let Ok(page) = page else {
                tracing::warn!(prefix, "listing failed");
                break;
            };
            found.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_owned));
            if found.len() >= 100_000 {
                return found;
            }
        }
    }
    found
}

/// Keys under `prefixes` that are not the key of a completed upload in `done`: what the run
/// left behind that no user can reach.
pub async fn orphans(s3: &aws_sdk_s3::Client, bucket: &str, prefixes: &[&str], done: &[Done]) -> Vec<String> {
    let known: std::collections::HashSet<&str> = done.iter().map(|d| d.key.as_str()).collect();
    let mut keys = keys_under(s3, bucket, prefixes).await;
    keys.retain(|k| !known.contains(k.as_str()));
    keys
}

/// [`orphans`] on the embedded store, read from its bucket directory (each object is the file at
/// its key; the store keeps its own files outside it). Not through ListObjectsV2: s3s-fs walks
/// and sorts the whole bucket for every page of 1,000 keys, so listing a prefix of n objects costs
/// n²/1,000 (measured after proxied-only loads of 1 KiB, release build: 40,000 uploads took 41.7 s
/// through the listing and take 0.7 s from the disk; 200,000 took more than 11 minutes, now 1.7 s);
/// one walk of the directories is linear.
pub async fn orphans_on_disk(bucket_dir: &std::path::Path, prefixes: &[&str], done: &[Done]) -> Vec<String> {
    let known: std::collections::HashSet<String> = done.iter().map(|d| d.key.clone()).collect();
    let (root, prefixes) = (bucket_dir.to_owned(), prefixes.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>());
    let walk = tokio::task::spawn_blocking(move || {
        let mut keys = Vec::new();
        let mut dirs: Vec<std::path::PathBuf> = prefixes.iter().map(|p| root.join(p)).collect();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(path);
                    continue;
                }
                let Ok(relative) = path.strip_prefix(&root) else { continue };
                let key = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                if !known.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys.sort_unstable();
        keys
    });
    walk.await.unwrap_or_else(|e| {
        tracing::warn!("counting what is left in {}: {e}", bucket_dir.display());
        Vec::new()
    })
}

/// Deletes `keys` (bounded parallelism); failures are logged, not fatal.
pub async fn delete_keys(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[String]) {
    let deletes = futures_util::stream::iter(keys).map(|key| async move {
        if let Err(e) = s3.delete_object().bucket(bucket).key(key).send().await {
            tracing::warn!(key, "cleanup failed: {}", aws_smithy_types::error::display::DisplayErrorContext(&e));
        }
    });
    deletes.buffer_unordered(PARALLEL * 2).for_each(|()| async {}).await;
}

/// Deletes the objects of `done` (bounded parallelism); failures are logged, not fatal.
pub async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, done: &[Done]) {
    let deletes = futures_util::stream::iter(done).map(|d| async move {
        if let Err(e) = s3.delete_object().bucket(bucket).key(&d.key).send().await {
            tracing::warn!(
                key = d.key,
                "cleanup failed: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            );
        }
    });
    deletes.buffer_unordered(PARALLEL * 2).for_each(|()| async {}).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_evenly() {
        let done: Vec<Done> =
            (0..100).rev().map(|i| Done { index: i, size: 1, key: format!("k{i}"), ..Done::default() }).collect();
        let idx = |v: Vec<&Done>| v.iter().map(|d| d.index).collect::<Vec<_>>();
        assert_eq!(idx(select(&done, Verify::Sample(4))), vec![0, 25, 50, 75]);
        assert_eq!(select(&done, Verify::All).len(), 100);
        assert!(select(&done, Verify::None).is_empty());
        assert_eq!(select(&done, Verify::Sample(500)).len(), 100);
    }

    /// What the embedded store holds on disk under the mode's prefixes, less what the uploads
    /// account for; other prefixes and the store's own files (beside the bucket) are not counted.
    #[tokio::test]
    async fn orphans_on_disk_are_the_files_under_the_prefixes_no_upload_accounts_for() {
        let root = tempfile::tempdir().unwrap();
        let bucket = root.path().join("presign-bench");
        for key in ["proxied/user-1/a.jpg", "proxied/user-2/b.jpg", "proxied/user-2/c.jpg", "uploads/user-1/d.png"] {
            let path = bucket.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        std::fs::write(root.path().join(".tmp.1.internal.part"), b"x").unwrap();
        let done = [Done { key: "proxied/user-2/b.jpg".into(), ..Done::default() }];
        let left = orphans_on_disk(&bucket, &["proxied/"], &done).await;
        assert_eq!(left, ["proxied/user-1/a.jpg", "proxied/user-2/c.jpg"]);
        assert!(orphans_on_disk(&bucket, &["files/"], &done).await.is_empty(), "a prefix never written");
    }
}
