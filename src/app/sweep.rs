//! The orphan sweeper: objects no user will ever reach, deleted on a schedule.
//!
//! Two kinds, each under a prefix only the server writes to:
//! - **abandoned uploads** (broker, `uploads/`): presigned PUTs never completed, or written again
//!   after completion. Once the PUT URL has expired and the completion window has closed, nothing
//!   can make them a file; they are deleted whatever their age in the database.
//! - **unrecorded objects** (broker `files/`, proxy `proxied/`): stored but without a metadata
//!   row, as a server killed between the store's commit and the database insert leaves them.
//!   Deleted once older than the grace period, which covers the moment between the two.
//!
//! - **abandoned multipart uploads** (broker): started but never completed or aborted within
//!   their window. Their parts are not objects (a listing never shows them), so the broker records
//!   each one it starts ([`Db::open_multipart`]) and the sweeper aborts those whose window closed.
//!
//! Counts go to `/metrics` (`presign_bench_orphans_swept_total{kind}`). A pass is bounded: at
//! most [`PASS_LIMIT`] objects are looked at, the rest wait for the next pass.

use super::db::Db;
use crate::metrics::Meter;
use aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadError;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

/// Most objects one pass lists.
pub const PASS_LIMIT: usize = 10_000;

/// When the sweeper runs and how old an unrecorded object must be (`--sweep-every`,
/// `--orphan-grace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sweep {
    /// Time between passes; zero turns the sweeper off.
    pub every: Duration,
    /// Age above which an unrecorded object is an orphan.
    pub grace: Duration,
}

impl Default for Sweep {
    fn default() -> Self {
        Self { every: Duration::from_secs(300), grace: Duration::from_secs(300) }
    }
}

/// One prefix the sweeper owns.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Key prefix, e.g. `uploads/`.
    pub prefix: &'static str,
    /// Objects younger than this are left alone.
    pub older_than: Duration,
    /// `true`: delete only objects without a metadata row (unrecorded); `false`: delete every
    /// object old enough (abandoned uploads).
    pub unless_recorded: bool,
}

/// What one pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Abandoned uploads.
    pub uploads: u64,
    /// Unrecorded objects.
    pub unrecorded: u64,
    /// Multipart uploads aborted.
    pub multipart: u64,
}

/// The sweeper of one server.
#[derive(Clone, Debug)]
pub struct Sweeper {
    /// The store.
    pub s3: aws_sdk_s3::Client,
    /// The bucket.
    pub bucket: String,
    /// Metadata rows.
    pub db: Db,
    /// Where counts go.
    pub meter: Arc<Meter>,
    /// What to sweep.
    pub rules: Vec<Rule>,
}

impl Sweeper {
    /// Runs a pass every `every` until dropped (the caller aborts the task). The first pass runs
    /// after one interval, never at start.
    pub async fn run(self, every: Duration) {
        if every.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.pass().await {
                Ok(swept) if swept != Swept::default() => {
                    tracing::info!(
                        uploads = swept.uploads,
                        unrecorded = swept.unrecorded,
                        multipart = swept.multipart,
                        "orphans swept"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("orphan sweep failed: {e}"),
            }
        }
    }

    /// One pass over every rule.
    ///
    /// # Errors
    /// The first listing or database failure (objects deleted before it stay counted).
    pub async fn pass(&self) -> Result<Swept, String> {
        let mut swept = Swept::default();
        for rule in &self.rules {
            for key in self.candidates(rule).await? {
                // A multipart upload's object is recorded only after its completion's checks.
                let recorded = async {
                    let file = self.db.by_key(&key).await?.is_some();
                    Ok::<_, super::db::DbError>(file || self.db.is_multipart_key(&key).await?)
                };
                if rule.unless_recorded && recorded.await.map_err(|e| e.to_string())? {
                    continue;
                }
                match self.s3.delete_object().bucket(&self.bucket).key(&key).send().await {
                    Ok(_) if rule.unless_recorded => {
                        swept.unrecorded += 1;
                        self.meter.swept_unrecorded.fetch_add(1, Relaxed);
                    }
                    Ok(_) => {
                        swept.uploads += 1;
                        self.meter.swept_uploads.fetch_add(1, Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(key, "deleting an orphan failed: {}", crate::storage::client::describe(&e));
                    }
                }
            }
        }
        swept.multipart = self.abort_expired().await?;
        Ok(swept)
    }

    /// Aborts the multipart uploads whose window has closed; returns how many. One the store no
    /// longer knows (completed or aborted meanwhile) is forgotten too.
    async fn abort_expired(&self) -> Result<u64, String> {
        let now = super::auth::unix_now();
        let expired = self.db.expired_multipart(now, PASS_LIMIT).await.map_err(|e| e.to_string())?;
        let mut aborted = 0;
        for (upload_id, key) in expired {
            let abort = self.s3.abort_multipart_upload().bucket(&self.bucket).key(&key).upload_id(&upload_id).send();
            match abort.await {
                Ok(_) => {
                    aborted += 1;
                    self.meter.swept_multipart.fetch_add(1, Relaxed);
                }
                // Gone already: completed or aborted meanwhile.
                Err(e) if e.as_service_error().is_some_and(AbortMultipartUploadError::is_no_such_upload) => {}
                // s3s-fs answers AccessDenied for an upload it does not know: gone only if the
                // store lists no part of it. Any other refusal (throttling, a missing permission)
                // keeps the row, and the next pass tries again.
                Err(e) if e.as_service_error().is_some() && self.holds_no_parts(&key, &upload_id).await => {
                    tracing::info!(key, "multipart upload already gone: {}", crate::storage::client::describe(&e));
                }
                Err(e) => {
                    tracing::warn!(key, "aborting a multipart upload failed: {}", crate::storage::client::describe(&e));
                    continue;
                }
            }
            self.db.close_multipart(&upload_id).await.map_err(|e| e.to_string())?;
        }
        Ok(aborted)
    }

    /// Whether the store answers that multipart upload `upload_id` of `key` has no part.
    async fn holds_no_parts(&self, key: &str, upload_id: &str) -> bool {
        let listed = self.s3.list_parts().bucket(&self.bucket).key(key).upload_id(upload_id).send().await;
        listed.is_ok_and(|l| l.parts().is_empty())
    }

    /// Keys under `rule.prefix` last modified more than `rule.older_than` ago.
    async fn candidates(&self, rule: &Rule) -> Result<Vec<String>, String> {
        let cutoff = SystemTime::now().checked_sub(rule.older_than).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut pages = self.s3.list_objects_v2().bucket(&self.bucket).prefix(rule.prefix).into_paginator().send();
        let mut keys = Vec::new();
        let mut seen = 0;
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| format!("listing {}: {}", rule.prefix, crate::storage::client::describe(&e)))?;
            for object in page.contents() {
                seen += 1;
                let modified = object.last_modified().and_then(|t| SystemTime::try_from(*t).ok());
                if let (Some(key), Some(modified)) = (object.key(), modified)
                    && modified <= cutoff
                {
                    keys.push(key.to_owned());
                }
            }
            if seen >= PASS_LIMIT {
                break;
            }
        }
        Ok(keys)
    }
}
