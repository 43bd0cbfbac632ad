//! File metadata in SQLite: one row per completed upload (and per rejected one, see
//! [`super::verdicts`]).
//!
//! Presigning writes nothing here (the upload id is self-describing); only completed, verified
//! files get a row. Multipart uploads in progress get one too (`multipart_uploads`): the store
//! keeps their parts until someone aborts them, and the sweeper needs to know which to abort. The key is unique, and so is the upload key a presigned file was completed
//! from, so completing twice (or racing) yields one row.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A completed, verified file.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FileRecord {
    /// Public id of the file.
    pub file_id: String,
    /// User id of the owner.
    pub owner: String,
    /// Object key in the bucket.
    pub key: String,
    /// Sanitised client filename (metadata only).
    pub filename: String,
    /// Content type the object was stored with.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// The store's ETag.
    pub etag: String,
    /// When the upload was authorised (RFC 3339).
    pub created_at: String,
    /// When the file was verified and recorded (RFC 3339).
    pub completed_at: String,
    /// Presigned files: the key the client uploaded to (its URL may still write there); the file
    /// itself is a copy at `key`. Never shown to clients.
    #[serde(skip)]
    pub upload_key: Option<String>,
}

/// A multipart upload in progress, as [`Db::open_multipart`] records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenMultipart {
    /// The store's id of the upload.
    pub store_upload_id: String,
    /// The object key it writes.
    pub key: String,
    /// The user who started it.
    pub owner: String,
    /// When the sweeper may abort it (Unix seconds).
    pub expires_at: u64,
}

/// Errors of the metadata store.
#[derive(Debug, thiserror::Error)]
#[error("database {path}: {source}")]
pub struct DbError {
    path: String,
    #[source]
    source: rusqlite::Error,
}

/// The metadata store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files (
    file_id      TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    key          TEXT NOT NULL UNIQUE,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    etag         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    completed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_owner ON files(owner);
CREATE TABLE IF NOT EXISTS multipart_uploads (
    store_upload_id TEXT PRIMARY KEY,
    key             TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    owner           TEXT
);
CREATE INDEX IF NOT EXISTS multipart_expiry ON multipart_uploads(expires_at);
CREATE TABLE IF NOT EXISTS rejections (
    upload_key  TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    event_at    TEXT
);
CREATE TABLE IF NOT EXISTS event_queue (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_key  TEXT NOT NULL,
    event_time  TEXT
);
";

/// Databases made before files were copied out of the upload key lack `upload_key`.
const ADD_UPLOAD_KEY: &str = "ALTER TABLE files ADD COLUMN upload_key TEXT";
/// Databases made before store events lack `event_at` (when the upload's first event came).
const ADD_EVENT_AT: &str = "ALTER TABLE files ADD COLUMN event_at TEXT";
const UPLOAD_KEY_INDEX: &str = "CREATE UNIQUE INDEX IF NOT EXISTS files_upload_key ON files(upload_key)";
/// Databases made before the per-user cap on open multipart uploads lack their `owner` (their
/// rows count for nobody).
const ADD_MULTIPART_OWNER: &str = "ALTER TABLE multipart_uploads ADD COLUMN owner TEXT";
const MULTIPART_OWNER_INDEX: &str = "CREATE INDEX IF NOT EXISTS multipart_owner ON multipart_uploads(owner)";

impl Db {
    /// Opens (or creates) the database at `path`.
    ///
    /// # Errors
    /// [`DbError`] naming the path.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let name = path.display().to_string();
        let err = |source| DbError { path: name.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let has_upload_key: bool = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('files') WHERE name = 'upload_key'", [], |r| r.get(0))
            .map_err(err)?;
        if !has_upload_key {
            conn.execute_batch(ADD_UPLOAD_KEY).map_err(err)?;
        }
        conn.execute_batch(UPLOAD_KEY_INDEX).map_err(err)?;
        let has_event_at: bool = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('files') WHERE name = 'event_at'", [], |r| r.get(0))
            .map_err(err)?;
        if !has_event_at {
            conn.execute_batch(ADD_EVENT_AT).map_err(err)?;
        }
        let has_owner: bool = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('multipart_uploads') WHERE name = 'owner'", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        if !has_owner {
            conn.execute_batch(ADD_MULTIPART_OWNER).map_err(err)?;
        }
        conn.execute_batch(MULTIPART_OWNER_INDEX).map_err(err)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: name })
    }

    pub(super) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, DbError> {
        let conn = self.conn.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&conn)
        })
        .await
        .unwrap_or_else(|e| Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))
        .map_err(|source| DbError { path, source })
    }

    /// Records `file` unless a row with its key or upload key exists; returns the row that is
    /// stored.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn insert(&self, file: FileRecord) -> Result<FileRecord, DbError> {
        self.with(move |c| {
            c.execute(
                "INSERT INTO files (file_id, owner, key, filename, content_type, size, etag, created_at, completed_at, upload_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
                params![
                    file.file_id,
                    file.owner,
                    file.key,
                    file.filename,
                    file.content_type,
                    i64::try_from(file.size).unwrap_or(i64::MAX),
                    file.etag,
                    file.created_at,
                    file.completed_at,
                    file.upload_key
                ],
            )?;
            if let Some(upload_key) = &file.upload_key
                && let Some(existing) = query_one(c, "upload_key", upload_key)?
            {
                return Ok(existing);
            }
            query_one(c, "key", &file.key).map(|r| r.unwrap_or(file))
        })
        .await
    }

    /// The file with `file_id`, if any.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn by_id(&self, file_id: &str) -> Result<Option<FileRecord>, DbError> {
        let id = file_id.to_owned();
        self.with(move |c| query_one(c, "file_id", &id)).await
    }

    /// The file stored under `key`, if any.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn by_key(&self, key: &str) -> Result<Option<FileRecord>, DbError> {
        let key = key.to_owned();
        self.with(move |c| query_one(c, "key", &key)).await
    }

    /// The presigned file completed from `upload_key`, if any.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn by_upload_key(&self, upload_key: &str) -> Result<Option<FileRecord>, DbError> {
        let key = upload_key.to_owned();
        self.with(move |c| query_one(c, "upload_key", &key)).await
    }

    /// Records multipart upload `store_upload_id` of `key` by `owner`, to be aborted after
    /// `expires_at` (Unix seconds) unless completed or aborted first, if `owner` has fewer than
    /// `cap` open; returns whether it was recorded. Count and insert are one statement, so
    /// concurrent starts never pass the cap.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn open_multipart(&self, upload: OpenMultipart, cap: u64) -> Result<bool, DbError> {
        let at = i64::try_from(upload.expires_at).unwrap_or(i64::MAX);
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        self.with(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO multipart_uploads (store_upload_id, key, expires_at, owner)
                 SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM multipart_uploads WHERE owner = ?4) < ?5",
                params![upload.store_upload_id, upload.key, at, upload.owner, cap],
            )
            .map(|n| n == 1)
        })
        .await
    }

    /// Multipart uploads `owner` has open.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn open_multipart_of(&self, owner: &str) -> Result<u64, DbError> {
        let owner = owner.to_owned();
        self.with(move |c| {
            c.query_row("SELECT COUNT(*) FROM multipart_uploads WHERE owner = ?1", [owner], |r| r.get::<_, i64>(0))
        })
        .await
        .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Forgets multipart upload `store_upload_id` (completed or aborted).
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn close_multipart(&self, store_upload_id: &str) -> Result<(), DbError> {
        let id = store_upload_id.to_owned();
        self.with(move |c| c.execute("DELETE FROM multipart_uploads WHERE store_upload_id = ?1", [id]).map(drop)).await
    }

    /// Whether multipart upload `store_upload_id` is recorded as in progress.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn is_open_multipart(&self, store_upload_id: &str) -> Result<bool, DbError> {
        let id = store_upload_id.to_owned();
        self.with(move |c| {
            c.query_row("SELECT COUNT(*) FROM multipart_uploads WHERE store_upload_id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
        })
        .await
        .map(|n| n > 0)
    }

    /// Whether a multipart upload in progress writes `key`.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn is_multipart_key(&self, key: &str) -> Result<bool, DbError> {
        let key = key.to_owned();
        self.with(move |c| {
            c.query_row("SELECT COUNT(*) FROM multipart_uploads WHERE key = ?1", [key], |r| r.get::<_, i64>(0))
        })
        .await
        .map(|n| n > 0)
    }

    /// Up to `limit` multipart uploads whose window closed before `now` (Unix seconds), as
    /// (store upload id, key).
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn expired_multipart(&self, now: u64, limit: usize) -> Result<Vec<(String, String)>, DbError> {
        let (now, limit) = (i64::try_from(now).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX));
        self.with(move |c| {
            let mut statement = c.prepare(
                "SELECT store_upload_id, key FROM multipart_uploads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    /// Number of multipart uploads in progress.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn count_multipart(&self) -> Result<u64, DbError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM multipart_uploads", [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    }

    /// Number of recorded files.
    ///
    /// # Errors
    /// [`DbError`] when SQLite fails.
    pub async fn count(&self) -> Result<u64, DbError> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM files", [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| u64::try_from(n).unwrap_or(0))
    }
}

fn query_one(c: &Connection, column: &'static str, value: &str) -> rusqlite::Result<Option<FileRecord>> {
    // `column` is one of the literals chosen above, never client input.
    let sql = format!(
        "SELECT file_id, owner, key, filename, content_type, size, etag, created_at, completed_at, upload_key FROM files WHERE {column} = ?1"
    );
    c.query_row(&sql, [value], |r| {
        Ok(FileRecord {
            file_id: r.get(0)?,
            owner: r.get(1)?,
            key: r.get(2)?,
            filename: r.get(3)?,
            content_type: r.get(4)?,
            size: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
            etag: r.get(6)?,
            created_at: r.get(7)?,
            completed_at: r.get(8)?,
            upload_key: r.get(9)?,
        })
    })
    .optional()
}
