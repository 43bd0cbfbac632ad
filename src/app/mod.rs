//! What the broker and the proxy share, so the only difference between them is where the bytes
//! flow: configuration, auth, upload policy, post-upload verification, metadata and errors.

pub mod auth;
pub mod cdn;
pub mod check;
pub mod claims;
pub mod db;
pub mod error;
pub mod guard;
pub mod policy;
pub mod scan;
pub mod sweep;
pub mod verdicts;

use crate::metrics::Meter;
use crate::storage::client::{self, ClientError, S3Target};
use axum::Router;
use axum::routing::get;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Longest lifetime of a presigned PUT URL.
pub const MAX_PUT_EXPIRY: Duration = Duration::from_secs(15 * 60);
/// Longest lifetime of a presigned GET URL.
pub const MAX_GET_EXPIRY: Duration = Duration::from_secs(3600);
/// Token secret used when none is configured (local runs and demos only; logged as a warning).
pub const DEV_TOKEN_SECRET: &str = "presign-bench-development-secret-not-for-production";
/// Shortest token secret accepted, in bytes: HS256 keys shorter than the hash are guessable.
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// Validated configuration of the broker or the proxy.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The object store.
    pub s3: S3Target,
    /// HTTPS for clients, when set (`--tls-cert`/`--tls-key`, `--tls-self-signed`).
    pub tls: crate::server::Tls,
    /// HMAC secret of bearer tokens (and, derived from it, of upload ids).
    pub token_secret: String,
    /// SQLite file; `None` for a file in a temporary directory.
    pub db_path: Option<PathBuf>,
    /// Allowed types and maximum size.
    pub policy: policy::Policy,
    /// Lifetime of presigned PUT URLs.
    pub put_expiry: Duration,
    /// Lifetime of presigned GET URLs.
    pub get_expiry: Duration,
    /// How long after its PUT URL expires an upload may still be completed (`--complete-grace`):
    /// an upload that started just before expiry may take this long to finish.
    pub complete_grace: Duration,
    /// Emulated NIC bandwidth per direction, bytes per second (`None`: the real one).
    pub nic: Option<f64>,
    /// Test only (`presign-bench audit` proves it is caught): presigned PUT URLs leave
    /// Content-Type unsigned, so the store accepts any type.
    pub insecure_unsigned_content_type: bool,
    /// Timeouts and caps of the HTTP server.
    pub limits: crate::server::Limits,
    /// Timeouts of every call to the store.
    pub store_timeouts: client::Timeouts,
    /// The orphan sweeper's schedule.
    pub sweep: sweep::Sweep,
    /// Web origins allowed to call the API from a browser (`--cors-origin`); none by default.
    pub cors_origins: Vec<String>,
    /// Whether the broker may add a lifecycle rule expiring `uploads/` to a bucket that has none
    /// (`--no-lifecycle-rule` turns it off: a bucket that is someone else's stays as it was).
    pub lifecycle_rule: bool,
    /// ClamAV's daemon, `HOST:PORT` (`--clamd`): every upload is scanned before it is recorded.
    pub clamd: Option<String>,
    /// CDN-signed cookies (`--cdn-key`): `POST /v1/cdn/cookies` answers them (broker).
    pub cdn: Option<cdn::CdnCookies>,
}

pub use crate::parts::MAX_SINGLE_PUT;

/// Errors of starting the broker or the proxy.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A flag is out of range.
    #[error("{flag}: {message}")]
    Config {
        /// The flag, e.g. `--put-expiry`.
        flag: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The store is unusable.
    #[error(transparent)]
    Storage(#[from] ClientError),
    /// The database cannot be opened.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A temporary directory for the default database cannot be made.
    #[error("cannot create a temporary directory for the database: {0}")]
    TempDir(std::io::Error),
    /// The listen address cannot be bound.
    #[error(transparent)]
    Bind(#[from] crate::server::BindError),
    /// The readiness line cannot be written to stdout.
    #[error("cannot announce the address on stdout: {0}")]
    Announce(std::io::Error),
}

/// The body of `presign-bench broker` and `presign-bench proxy`: binds `listen`, awaits `start`
/// (the server's state), prints `listening on http://ADDR` (`https://` with `tls`), then serves
/// until `serve` returns.
///
/// # Errors
/// [`StartError`] naming the address, flag, endpoint or database.
pub async fn run<S>(
    listen: std::net::SocketAddr,
    tls: bool,
    start: impl std::future::Future<Output = Result<S, StartError>>,
    serve: impl AsyncFnOnce(tokio::net::TcpListener, S),
) -> Result<(), StartError> {
    let listener = crate::server::bind(listen).await?;
    let state = start.await?;
    crate::server::announce(&listener, tls).map_err(StartError::Announce)?;
    serve(listener, state).await;
    Ok(())
}

impl AppConfig {
    /// How long a presigned multipart upload may take from start to completion.
    #[must_use]
    pub fn multipart_window(&self) -> Duration {
        self.policy.multipart.window.unwrap_or(self.put_expiry + self.complete_grace)
    }

    /// Checks the limits the security rules set.
    ///
    /// # Errors
    /// [`StartError::Config`] naming the flag.
    pub fn validate(&self) -> Result<(), StartError> {
        let limit = |flag, value: Duration, max: Duration| {
            if value.is_zero() || value > max {
                Err(StartError::Config {
                    flag,
                    message: format!(
                        "{} is outside 1s..={}",
                        humantime::format_duration(value),
                        humantime::format_duration(max)
                    ),
                })
            } else {
                Ok(())
            }
        };
        if self.token_secret.len() < MIN_TOKEN_SECRET_BYTES {
            return Err(StartError::Config {
                flag: "--token-secret",
                message: format!(
                    "{} bytes; use at least {MIN_TOKEN_SECRET_BYTES} random bytes (e.g. `openssl rand -hex 32`)",
                    self.token_secret.len()
                ),
            });
        }
        limit("--put-expiry", self.put_expiry, MAX_PUT_EXPIRY)?;
        limit("--get-expiry", self.get_expiry, MAX_GET_EXPIRY)?;
        if let Some(c) = &self.cdn {
            limit("--cdn-cookie-ttl", c.ttl, cdn::MAX_TTL)?;
            if c.key.len() < cdn::MIN_KEY_BYTES {
                let message = format!("{} bytes; use at least {} random bytes", c.key.len(), cdn::MIN_KEY_BYTES);
                return Err(StartError::Config { flag: "--cdn-key", message });
            }
            if let Some(bad) = c.grants.iter().find(|g| !cdn::valid_prefix(g)) {
                let message =
                    format!("{bad:?}: a store key prefix ending in '/', of letters, digits, '-', '_', '.' and '/'");
                return Err(StartError::Config { flag: "--cdn-grant", message });
            }
        }
        if self.policy.allowed_types.is_empty() {
            return Err(StartError::Config { flag: "--allowed-types", message: "no content type allowed".into() });
        }
        if self.policy.max_size == 0 || self.policy.max_size > policy::MAX_MULTIPART_OBJECT {
            return Err(StartError::Config {
                flag: "--max-size",
                message: "must be between 1 byte and 5TiB, the largest object in S3".into(),
            });
        }
        let multipart = self.policy.multipart;
        if multipart.threshold == 0 || multipart.threshold > MAX_SINGLE_PUT {
            return Err(StartError::Config {
                flag: "--multipart-threshold",
                message: "must be between 1 byte and 5GiB, the largest single PUT in S3".into(),
            });
        }
        if let Some(window) = multipart.window
            && (window < self.put_expiry || window > Duration::from_secs(7 * 24 * 3600))
        {
            return Err(StartError::Config {
                flag: "--multipart-window",
                message: "must be at least --put-expiry and at most 7 days".into(),
            });
        }
        if !(policy::MIN_PART_SIZE..=policy::MAX_PART_SIZE).contains(&multipart.part_size) {
            return Err(StartError::Config {
                flag: "--part-size",
                message: "must be between 5MiB and 5GiB, S3's bounds on a part".into(),
            });
        }
        let positive = [
            ("--header-timeout", self.limits.header_timeout),
            ("--body-idle-timeout", self.limits.body_idle_timeout),
            ("--request-timeout", self.limits.request_timeout),
            ("--send-timeout", self.limits.send_timeout),
            ("--store-connect-timeout", self.store_timeouts.connect),
            ("--store-timeout", self.store_timeouts.operation),
        ];
        for (flag, value) in positive {
            if value.is_zero() {
                return Err(StartError::Config { flag, message: "must be above zero".into() });
            }
        }
        for origin in &self.cors_origins {
            crate::units::check_origin(origin)
                .map_err(|message| StartError::Config { flag: "--cors-origin", message })?;
        }
        if self.limits.max_connections == 0 || self.limits.max_in_flight == 0 {
            let flag = if self.limits.max_connections == 0 { "--max-connections" } else { "--max-in-flight" };
            return Err(StartError::Config { flag, message: "must be at least 1".into() });
        }
        Ok(())
    }
}

/// The state both servers share.
#[derive(Debug)]
pub struct App {
    /// Validated configuration.
    pub config: AppConfig,
    /// S3 client whose sockets are counted as the storage side.
    pub s3: aws_sdk_s3::Client,
    /// Metadata of completed files.
    pub db: db::Db,
    /// Bearer token checks.
    pub tokens: auth::Tokens,
    /// App-tier counters.
    pub meter: Arc<Meter>,
    /// `/readyz`.
    pub readiness: Arc<guard::Readiness>,
    /// The malware scanner, with `--clamd`.
    pub scanner: Option<scan::Scanner>,
    /// Keeps the default database's directory alive.
    _tmp: Option<tempfile::TempDir>,
}

impl App {
    /// Validates `config`, connects to the store (creating the bucket if missing) and opens the
    /// database.
    ///
    /// # Errors
    /// [`StartError`] naming the flag, the endpoint or the database path.
    pub async fn start(config: AppConfig) -> Result<Self, StartError> {
        config.validate()?;
        let meter = Meter::with_nic(config.nic);
        let s3 = client::build(&config.s3, meter.clone(), config.store_timeouts)?;
        client::ensure_bucket(&s3, &config.s3).await?;
        let (db_path, tmp) = if let Some(p) = &config.db_path {
            (p.clone(), None)
        } else {
            let dir = tempfile::Builder::new().prefix("presign-bench-db").tempdir().map_err(StartError::TempDir)?;
            (dir.path().join("files.sqlite3"), Some(dir))
        };
        let db = db::Db::open(&db_path)?;
        tracing::info!(db = %db_path.display(), endpoint = %config.s3.endpoint, bucket = %config.s3.bucket, "app ready");
        let tokens = auth::Tokens::new(config.token_secret.as_bytes());
        let readiness = Arc::new(guard::Readiness::new(s3.clone(), config.s3.bucket.clone()));
        let scanner = config.clamd.as_deref().map(|address| scan::Scanner::new(address, meter.clone()));
        if let Some(scanner) = &scanner {
            scanner.ping().await.map_err(|message| StartError::Config { flag: "--clamd", message })?;
        }
        Ok(Self { config, s3, db, tokens, meter, readiness, scanner, _tmp: tmp })
    }

    /// Scans the stored object at `key` when a scanner is set; an infected one is deleted.
    ///
    /// # Errors
    /// 422 `infected` (after deleting the object); 502 when the scan could not be made.
    pub async fn scan_stored(&self, key: &str) -> Result<(), error::ApiError> {
        let Some(scanner) = &self.scanner else { return Ok(()) };
        let bucket = &self.config.s3.bucket;
        match scanner.scan_object(&self.s3, bucket, key, self.config.limits.request_timeout).await? {
            None => Ok(()),
            Some(signature) => Err(check::reject(&self.s3, bucket, key, error::ApiError::Infected { signature }).await),
        }
    }

    /// The sweeper of this server's prefixes, per `rules`.
    #[must_use]
    pub fn sweeper(&self, rules: Vec<sweep::Rule>) -> sweep::Sweeper {
        sweep::Sweeper {
            s3: self.s3.clone(),
            bucket: self.config.s3.bucket.clone(),
            db: self.db.clone(),
            meter: self.meter.clone(),
            rules,
        }
    }

    /// `routes` (the server's own) behind the request limits, plus `/healthz`, `/readyz`,
    /// `/metrics` and the JSON 404, all answering errors as JSON.
    pub fn router(&self, routes: Router) -> Router {
        let limited = guard::limit(routes, &self.config.limits, self.meter.clone());
        let limited = match guard::cors(&self.config.cors_origins) {
            Some(cors) => limited.layer(cors),
            None => limited,
        };
        let all = limited.merge(admin_routes(self.meter.clone(), self.readiness.clone())).fallback(error::not_found);
        guard::json_errors(all, self.meter.clone())
    }

    /// Serves `router` on `listener` with this app's meter and limits, and runs `sweeper` beside
    /// it, until `shutdown` resolves.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        router: Router,
        sweeper: sweep::Sweeper,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let sweeping = tokio::spawn(sweeper.run(self.config.sweep.every));
        let tls = self.config.tls.clone();
        crate::server::serve_router(listener, router, self.meter.clone(), self.config.limits, tls, shutdown).await;
        sweeping.abort();
    }

    /// The user id of a request's bearer token.
    ///
    /// # Errors
    /// 401 errors.
    pub fn user(&self, headers: &http::HeaderMap) -> Result<String, error::ApiError> {
        self.tokens.user(headers.get(http::header::AUTHORIZATION))
    }

    /// File `file_id` if `user` owns it. Another user's file is answered exactly like an unknown
    /// id (404), so ids cannot be probed for existence.
    ///
    /// # Errors
    /// [`error::ApiError::NotFound`], or a database error.
    pub async fn owned_file(&self, user: &str, file_id: &str) -> Result<db::FileRecord, error::ApiError> {
        self.db.by_id(file_id).await?.filter(|f| f.owner == user).ok_or(error::ApiError::NotFound)
    }

    /// RFC 3339 time stamp of now, for metadata.
    #[must_use]
    pub fn now_rfc3339() -> String {
        humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
    }
}

/// `/healthz` (liveness), `/readyz` (the store answers) and `/metrics`, shared by both servers.
pub fn admin_routes(meter: Arc<Meter>, readiness: Arc<guard::Readiness>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }))
        .route("/readyz", get(move || async move { readiness.respond().await }))
        .route(
            "/metrics",
            get(move || async move {
                ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render(&meter))
            }),
        )
}

/// `body` as a JSON answer with `status`, serialised into one buffer sized for it. axum's `Json`
/// starts at 128 bytes and doubles: a presign's grant (about 600 bytes) took three reallocations,
/// 8% of the broker's CPU per presign (`perf record --call-graph dwarf` of the broker under
/// presign load).
pub fn json_answer<T: serde::Serialize>(status: http::StatusCode, body: &T) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut bytes = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut bytes, body) {
        Ok(()) => {
            let json = http::HeaderValue::from_static("application/json");
            (status, [(http::header::CONTENT_TYPE, json)], bytes).into_response()
        }
        Err(e) => error::ApiError::Internal(e.to_string()).into_response(),
    }
}

/// Turns a JSON body into `T`, with the JSON error codes: `malformed_json` for syntax,
/// `invalid_request` for missing fields or wrong types.
///
/// # Errors
/// 400 errors.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, error::ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => error::ApiError::InvalidRequest(e.to_string()),
        _ => error::ApiError::MalformedJson(e.to_string()),
    })
}
