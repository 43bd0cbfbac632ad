//! Rejected uploads in SQLite: the verdict of a check that failed, kept so that every later
//! look at the same upload (its completion, a duplicate store event) answers the same.
//!
//! A verified upload's verdict is its row in `files`; a rejected one's is a row here, keyed by
//! the upload key like the file's `upload_key`, so one upload has one verdict whoever reached it
//! first (the completion or the store's event). Either row notes when the upload's first store
//! event came (`event_at`), so an event that finds a verdict a completion reached is told from a
//! duplicate. Store events taken but not yet settled wait in `event_queue`, so a broker that stops
//! settles them when it starts again.

use super::db::{Db, DbError};
use super::error::ApiError;
use rusqlite::{OptionalExtension, params};

impl Db {
    /// Records that the upload at `upload_key` of `owner` was rejected with `why`; a verdict
    /// recorded before stays.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn reject(&self, upload_key: &str, owner: &str, why: &ApiError) -> Result<(), DbError> {
        let (key, owner) = (upload_key.to_owned(), owner.to_owned());
        let (code, message) = (why.status_and_code().1, why.public_message());
        let at = super::App::now_rfc3339();
        self.with(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO rejections (upload_key, owner, code, message, rejected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key, owner, code, message, at],
            )
            .map(|_| ())
        })
        .await
    }

    /// The rejection of the upload at `upload_key`, as the error it was answered with.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn rejection(&self, upload_key: &str) -> Result<Option<ApiError>, DbError> {
        let key = upload_key.to_owned();
        self.with(move |c| {
            c.query_row("SELECT code, message FROM rejections WHERE upload_key = ?1", params![key], |r| {
                Ok(ApiError::rejected(&r.get::<_, String>(0)?, r.get(1)?))
            })
            .optional()
        })
        .await
    }

    /// Notes that a store event for the upload at `upload_key` came, on its verdict (file or
    /// rejection); returns whether it is the first event noted for it.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn note_event(&self, upload_key: &str) -> Result<bool, DbError> {
        let key = upload_key.to_owned();
        let at = super::App::now_rfc3339();
        self.with(move |c| {
            let mut noted = 0;
            for table in ["files", "rejections"] {
                noted += c.execute(
                    &format!("UPDATE {table} SET event_at = ?2 WHERE upload_key = ?1 AND event_at IS NULL"),
                    params![key, at],
                )?;
            }
            Ok(noted > 0)
        })
        .await
    }

    /// Verdicts on uploads under `prefix` (files and rejections) whose upload has had no store
    /// event noted: events lost, or still on their way.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn count_without_event(&self, prefix: &str) -> Result<u64, DbError> {
        let like = format!("{}%", prefix.replace('%', "\\%").replace('_', "\\_"));
        self.with(move |c| {
            c.query_row(
                "SELECT (SELECT COUNT(*) FROM files WHERE upload_key LIKE ?1 ESCAPE '\\' AND event_at IS NULL)
                      + (SELECT COUNT(*) FROM rejections WHERE upload_key LIKE ?1 ESCAPE '\\' AND event_at IS NULL)",
                params![like],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Queues store events (`(upload key, eventTime)`) in one transaction; returns their ids.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn queue_events(&self, events: Vec<(String, Option<String>)>) -> Result<Vec<i64>, DbError> {
        self.with(move |c| {
            let tx = c.unchecked_transaction()?;
            let mut ids = Vec::with_capacity(events.len());
            for (key, time) in &events {
                tx.execute("INSERT INTO event_queue (upload_key, event_time) VALUES (?1, ?2)", params![key, time])?;
                ids.push(tx.last_insert_rowid());
            }
            tx.commit()?;
            Ok(ids)
        })
        .await
    }

    /// The queued store events, oldest first: `(id, upload key, eventTime)`.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn queued_events(&self) -> Result<Vec<(i64, String, Option<String>)>, DbError> {
        self.with(|c| {
            let mut q = c.prepare("SELECT id, upload_key, event_time FROM event_queue ORDER BY id")?;
            q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
        })
        .await
    }

    /// Store events queued and not yet settled.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn count_queued_events(&self) -> Result<u64, DbError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM event_queue", [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Removes a settled event from the queue.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn unqueue_event(&self, id: i64) -> Result<(), DbError> {
        self.with(move |c| c.execute("DELETE FROM event_queue WHERE id = ?1", params![id]).map(|_| ())).await
    }

    /// Rejections recorded.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn count_rejections(&self) -> Result<u64, DbError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM rejections", [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rejection_is_answered_again_with_its_code_and_the_first_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.sqlite3")).unwrap();
        assert!(db.rejection("uploads/a/x.jpg").await.unwrap().is_none());
        let first = ApiError::SizeMismatch { expected: 10, actual: 9 };
        db.reject("uploads/a/x.jpg", "a", &first).await.unwrap();
        db.reject("uploads/a/x.jpg", "a", &ApiError::TypeMismatch { expected: "a".into(), actual: "b".into() })
            .await
            .unwrap();
        let again = db.rejection("uploads/a/x.jpg").await.unwrap().unwrap();
        assert_eq!(again.status_and_code(), (http::StatusCode::UNPROCESSABLE_ENTITY, "size_mismatch"));
        assert_eq!(again.public_message(), first.public_message());
        assert_eq!(db.count_rejections().await.unwrap(), 1);
        assert!(db.note_event("uploads/a/x.jpg").await.unwrap(), "the first event");
        assert!(!db.note_event("uploads/a/x.jpg").await.unwrap(), "a duplicate");
        assert!(!db.note_event("uploads/a/unknown.jpg").await.unwrap(), "no verdict, nothing noted");
        db.reject("uploads/b/y.jpg", "b", &first).await.unwrap();
        assert_eq!(db.count_without_event("uploads/").await.unwrap(), 1);
        assert_eq!(db.count_without_event("files/").await.unwrap(), 0);
        let ids = db.queue_events(vec![("uploads/a/1.jpg".into(), None), ("uploads/a/2.jpg".into(), Some("t".into()))]);
        let ids = ids.await.unwrap();
        db.unqueue_event(ids[0]).await.unwrap();
        assert_eq!(
            db.queued_events().await.unwrap(),
            vec![(ids[1], "uploads/a/2.jpg".to_owned(), Some("t".to_owned()))]
        );
    }
}
