//! The embedded S3-compatible store: `s3s-fs` behind hyper, with real SigV4 checks (its listing
//! is [`super::listing`]'s).
//!
//! s3s 0.14 verifies header and presigned-query signatures (a changed key, bucket, expiry,
//! Content-Type or Content-Length breaks the signature) and refuses expired URLs. Unlike AWS it
//! accepts an `X-Amz-Expires` above seven days; [`ExpiryGuard`] refuses those in front of it so the
//! embedded store is as strict as AWS.
//!
//! s3s-fs writes each PUT to a `.tmp.N.internal.part` file in the data directory and renames it
//! when done; it removes those files only at start. [`TempSweep`] removes the ones nobody has
//! written to for the grace period (a PUT that is still moving writes to its file all the time).
//! It also removes the parts of multipart uploads that no longer exist
//! (`.upload_id-<id>.part-<n>` without its `.upload-<id>.json`, see [`Leftovers`]): a part PUT
//! that began before its upload was completed or aborted lands after the store dropped the
//! upload's parts, and s3s-fs never looks at it again.
//!
//! s3s-fs 0.14 has no bucket CORS API, so browsers are let in by origin with `--cors-origin`
//! (tower-http's CORS layer in front of the store): preflights for PUT and GET with the headers a
//! presigned PUT signs (`Content-Type`, `If-None-Match`), `ETag` exposed. None by default.

use super::Credentials;
use crate::metrics::Meter;
use crate::server;
use hyper::body::Incoming;
use s3s::service::{S3Service, S3ServiceBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use tokio::net::TcpListener;

/// Errors of starting the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The listen address cannot be bound.
    #[error(transparent)]
    Bind(#[from] crate::server::BindError),
    /// The readiness line or a temporary data directory cannot be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The event queue cannot be opened.
    #[error(transparent)]
    Notify(#[from] super::notify::NotifyError),
    /// The data directory could not be opened.
    #[error("cannot use data directory {dir}: {message}")]
    DataDir {
        /// The directory.
        dir: String,
        /// Why.
        message: String,
    },
}

/// When to look for abandoned temporary files, and how long since their last write makes one
/// abandoned (`storage --sweep-every`, `--orphan-grace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TempSweep {
    /// Time between two sweeps; zero turns the sweeper off.
    pub every: std::time::Duration,
    /// Time since the last write above which a temporary file is abandoned.
    pub grace: std::time::Duration,
}

impl Default for TempSweep {
    fn default() -> Self {
        Self { every: std::time::Duration::from_secs(300), grace: std::time::Duration::from_secs(300) }
    }
}

/// How the store serves, besides where its objects are: its sweeper, the web origins its CORS
/// rule allows, the send timeout, and TLS (`storage --sweep-every`, `--cors-origin`,
/// `--send-timeout`, `--tls-*`).
#[derive(Clone, Debug, Default)]
pub struct Serving {
    /// The sweeper of abandoned temporary files.
    pub sweep: TempSweep,
    /// Web origins whose pages may use presigned URLs.
    pub cors_origins: Vec<String>,
    /// Longest wait for a client to take the next piece of a response ([`server::Limits`]).
    pub send_timeout: Option<std::time::Duration>,
    /// HTTPS, when set.
    pub tls: server::Tls,
    /// Where event notifications go, when anywhere ([`super::notify`]).
    pub notify: Option<super::notify::NotifyConfig>,
}

/// The store's CORS rule for `origins`: PUT and GET with the headers a presigned PUT signs
/// (`Content-Type`, `If-None-Match`), `ETag` exposed (none: no layer).
#[must_use]
pub fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use http::{Method, header};
    let methods = [Method::GET, Method::PUT, Method::HEAD];
    server::cors(origins, &methods, &[header::CONTENT_TYPE, header::IF_NONE_MATCH], &[header::ETAG])
}

/// What the store's sweeper removes: temporary files of s3s-fs not written to for the grace, and
/// the parts of multipart uploads the store no longer has. A part whose upload file is gone is
/// either left over (its PUT landed after the completion or abort) or being assembled right now
/// (s3s-fs drops the upload file first, then reads and removes the parts one by one): it is
/// removed only when a pass finds the same parts of that upload, older than the grace, that the
/// pass before found, so an assembly in progress (its set shrinks) is never touched.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Uploads without an upload file at the last pass, with the parts they had.
    suspects: BTreeMap<String, BTreeSet<String>>,
}

impl Leftovers {
    /// One pass over `data_dir`; returns how many files it removed.
    pub fn sweep(&mut self, data_dir: &Path, grace: std::time::Duration) -> usize {
        let Ok(entries) = std::fs::read_dir(data_dir) else { return 0 };
        let cutoff = std::time::SystemTime::now().checked_sub(grace).unwrap_or(std::time::UNIX_EPOCH);
        let mut removed = 0;
        let mut orphans: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let abandoned = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t <= cutoff);
            if name.starts_with(".tmp.") && name.ends_with(".internal.part") {
                if abandoned && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            } else if let Some((id, _)) = name.strip_prefix(".upload_id-").and_then(|rest| rest.split_once(".part-"))
                && !data_dir.join(format!(".upload-{id}.json")).exists()
            {
                // A part younger than the grace keeps its whole upload off the list this pass.
                let parts = orphans.entry(id.to_owned()).or_default();
                if abandoned {
                    parts.insert(name.to_owned());
                } else {
                    parts.insert(String::new());
                }
            }
        }
        for (id, parts) in &orphans {
            if parts.contains("") || self.suspects.get(id) != Some(parts) {
                continue;
            }
            removed += parts.iter().filter(|p| std::fs::remove_file(data_dir.join(p)).is_ok()).count();
        }
        orphans.retain(|_, parts| !parts.contains(""));
        self.suspects = orphans;
        removed
    }
}

/// Builds the S3 service over `data_dir` with `credentials` enforced.
///
/// # Errors
/// [`StoreError::DataDir`] when s3s-fs cannot use the directory.
pub fn service(data_dir: &Path, credentials: &Credentials) -> Result<ExpiryGuard, StoreError> {
    let fs = super::listing::FsStore::new(data_dir)
        .map_err(|message| StoreError::DataDir { dir: data_dir.display().to_string(), message })?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder
        .set_auth(s3s::auth::SimpleAuth::from_single(credentials.access_key.clone(), credentials.secret_key.clone()));
    Ok(ExpiryGuard { inner: builder.build(), notify: None })
}

/// `presign-bench storage`: binds `listen`, keeps objects in `data_dir` (default: a temporary
/// directory removed on exit), prints `listening on http://ADDR`, and serves until `shutdown`.
///
/// # Errors
/// [`StoreError`] naming the address or directory.
pub async fn run(
    listen: std::net::SocketAddr,
    data_dir: Option<&Path>,
    credentials: &Credentials,
    serving: &Serving,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StoreError> {
    let io = |what: String| move |source| StoreError::Io { what, source };
    let listener = server::bind(listen).await?;
    let (tmp, tmp_objects);
    let dir = if let Some(dir) = data_dir {
        std::fs::create_dir_all(dir).map_err(io(format!("--data-dir {}", dir.display())))?;
        dir
    } else {
        tmp = tempfile::Builder::new()
            .prefix("presign-bench-store")
            .tempdir()
            .map_err(io("a temporary data directory".into()))?;
        // Objects in a directory of their own, so the event queue beside it goes with it.
        tmp_objects = tmp.path().join("objects");
        std::fs::create_dir_all(&tmp_objects).map_err(io(format!("{}", tmp_objects.display())))?;
        &tmp_objects
    };
    server::announce(&listener, serving.tls.is_some()).map_err(io("announcing the address on stdout".into()))?;
    serve(listener, dir, credentials, serving, shutdown).await
}

/// Serves the store on `listener` until `shutdown` resolves.
///
/// # Errors
/// [`StoreError`] when the data directory cannot be used.
pub async fn serve(
    listener: TcpListener,
    data_dir: &Path,
    credentials: &Credentials,
    serving: &Serving,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StoreError> {
    let mut service = service(data_dir, credentials)?;
    if let Some(config) = &serving.notify {
        let queue = config.queue_dir.clone().unwrap_or_else(|| super::notify::default_queue_dir(data_dir));
        let notifier = super::notify::Notifier::start(config.clone(), queue)?;
        service.notify = Some(Notify { notifier, data_dir: data_dir.to_owned() });
    }
    let sweep = serving.sweep;
    let sweeping = (!sweep.every.is_zero()).then(|| {
        let dir = data_dir.to_owned();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + sweep.every, sweep.every);
            let leftovers = std::sync::Arc::new(std::sync::Mutex::new(Leftovers::default()));
            loop {
                tick.tick().await;
                let (dir, grace, leftovers) = (dir.clone(), sweep.grace, leftovers.clone());
                let pass =
                    move || leftovers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).sweep(&dir, grace);
                if let Ok(n @ 1..) = tokio::task::spawn_blocking(pass).await {
                    tracing::info!(removed = n, "abandoned temporary files and parts swept");
                }
            }
        })
    });
    // The store's own traffic is not app-tier traffic: its meter is never exported.
    // Its clients are every uploader of a run plus the app tier's pool: no lower cap than the
    // kernel's. Header timeout and half-close handling as every server.
    let defaults = server::Limits::default();
    let send_timeout = serving.send_timeout.unwrap_or(defaults.send_timeout);
    let limits = server::Limits { max_connections: 65_536, send_timeout, ..defaults };
    let tls = serving.tls.clone();
    match cors(&serving.cors_origins) {
        Some(layer) => {
            use tower::Layer;
            let service = hyper_util::service::TowerToHyperService::new(layer.layer(service));
            server::serve(listener, service, Meter::new(), limits, tls, shutdown).await;
        }
        None => server::serve(listener, service, Meter::new(), limits, tls, shutdown).await,
    }
    if let Some(task) = sweeping {
        task.abort();
    }
    Ok(())
}

/// Refuses presigned requests whose `X-Amz-Expires` exceeds seven days, as AWS does; checks a
/// PUT's declared digests before its write lands ([`super::digest`]), so a refused write leaves
/// nothing; queues the event notification of each write that lands an object, before answering
/// it ([`super::notify`]); and turns s3s's internal errors into 500 responses.
#[derive(Clone, Debug)]
pub struct ExpiryGuard {
    inner: S3Service,
    notify: Option<Notify>,
}

/// The notifier, and where the objects whose size an event carries are.
#[derive(Clone, Debug)]
struct Notify {
    notifier: std::sync::Arc<super::notify::Notifier>,
    data_dir: std::path::PathBuf,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<http::Request<Incoming>> for ExpiryGuard {
    type Response = http::Response<s3s::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        if let Some(expires) = query_param(req.uri(), "X-Amz-Expires")
            && expires.parse::<u64>().is_ok_and(|s| s > crate::sigv4::MAX_EXPIRY.as_secs())
        {
            return Box::pin(std::future::ready(Ok(too_long_expiry())));
        }
        let mut inner = self.inner.clone();
        let landing = self.notify.clone().and_then(|n| {
            let landing = super::notify::Landing::of(&req).filter(|l| n.notifier.wants(l))?;
            Some((n, landing))
        });
        let declared = (req.method() == http::Method::PUT).then(|| super::digest::declared(req.headers())).flatten();
        Box::pin(async move {
            let (answer, verdict) = match declared {
                None => (hyper::service::Service::call(&inner, req).await, None),
                Some(declared) => {
                    let (parts, body) = req.into_parts();
                    let (body, verdict) = super::digest::Checked::new(body, declared);
                    let request = http::Request::from_parts(parts, body);
                    (tower::Service::call(&mut inner, request).await, Some(verdict))
                }
            };
            if let Some(which) = verdict.as_ref().and_then(|v| v.get()) {
                let (code, message) = which.code_and_message();
                return Ok(xml_error(http::StatusCode::BAD_REQUEST, code, message));
            }
            let answer = answer.unwrap_or_else(|e| {
                tracing::error!("s3 service error: {e:?}");
                xml_error(http::StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "internal error")
            });
            if let Some((n, landing)) = landing
                && answer.status().is_success()
            {
                let etag = answer.headers().get(http::header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or("");
                let size = super::notify::stored_size(&n.data_dir, &landing);
                n.notifier.emit(&landing, size, etag.trim_matches('"')).await;
            }
            Ok(answer)
        })
    }
}

/// The same service for tower layers (CORS): the hyper call, ready at once.
impl tower::Service<http::Request<Incoming>> for ExpiryGuard {
    type Response = http::Response<s3s::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Incoming>) -> Self::Future {
        hyper::service::Service::call(self, req)
    }
}

/// The first value of query parameter `name`, percent-decoded.
fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn too_long_expiry() -> http::Response<s3s::Body> {
    xml_error(
        http::StatusCode::BAD_REQUEST,
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be less than a week (in seconds) that is 604800",
    )
}

fn xml_error(status: http::StatusCode, code: &str, message: &str) -> http::Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/xml")
        .body(s3s::Body::from(body))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use super::Leftovers;
    use std::time::Duration;

    #[test]
    fn a_part_without_its_upload_goes_only_when_two_passes_find_it_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let touch = |name: &str| std::fs::write(dir.path().join(name), b"x").unwrap();
        let parts = |d: &std::path::Path| std::fs::read_dir(d).unwrap().count();
        touch(".upload_id-a.part-1");
        touch(".upload_id-a.part-2");
        touch(".upload-b.json");
        touch(".upload_id-b.part-1");
        let mut sweep = Leftovers::default();
        assert_eq!(sweep.sweep(dir.path(), Duration::ZERO), 0, "the first pass only notes `a`");
        // `a` is being assembled: a part was read and removed since.
        std::fs::remove_file(dir.path().join(".upload_id-a.part-1")).unwrap();
        assert_eq!(sweep.sweep(dir.path(), Duration::ZERO), 0, "a changing set is an assembly");
        assert_eq!(sweep.sweep(dir.path(), Duration::ZERO), 1, "unchanged over two passes: left over");
        // `b` still has its upload file: its part stays.
        assert_eq!(parts(dir.path()), 2);
        // Younger than the grace: never removed.
        touch(".upload_id-c.part-1");
        assert_eq!(sweep.sweep(dir.path(), Duration::from_secs(3600)), 0);
        assert_eq!(sweep.sweep(dir.path(), Duration::from_secs(3600)), 0);
        assert_eq!(parts(dir.path()), 3);
    }
}
