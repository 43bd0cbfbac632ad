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

/// Passes the keys of each page listed under `prefixes` to `each`, until it returns false; a
/// listing that fails is logged and cut short.
async fn each_page(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefixes: &[&str],
    mut each: impl AsyncFnMut(Vec<String>) -> bool,
) {
    for prefix in prefixes {
        let mut pages = s3.list_objects_v2().bucket(bucket).prefix(*prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let Ok(page) = page else {
                tracing::warn!(prefix, "listing failed");
                break;
            };
            if !each(page.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect()).await {
                return;
            }
        }
    }
}

/// Every key under `prefixes` (at most 100,000; a listing that fails is logged and cut short).
pub async fn keys_under(s3: &aws_sdk_s3::Client, bucket: &str, prefixes: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    each_page(s3, bucket, prefixes, async |keys| {
        found.extend(keys);
        found.len() < 100_000
    })
    .await;
    found.truncate(100_000);
    found
}

/// Counts the keys under `prefixes` whose digest ([`crate::loadgen::key_digest`]) is not in
/// `known` (sorted): what the run left behind that no user can reach. With `delete`, removes
/// every key listed (the run's uploads and what is left alike) as it goes, a page at a time, so
/// the memory stays one page's whatever the run's length. A listing that fails is logged and cut
/// short.
pub async fn orphans(s3: &aws_sdk_s3::Client, bucket: &str, prefixes: &[&str], known: &[u64], delete: bool) -> u64 {
    let mut orphans = 0;
    each_page(s3, bucket, prefixes, async |keys| {
        let unknown = keys.iter().filter(|k| known.binary_search(&crate::loadgen::key_digest(k)).is_err());
        orphans += unknown.count() as u64;
        if delete {
            delete_keys(s3, bucket, &keys).await;
        }
        true
    })
    .await;
    orphans
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
}
