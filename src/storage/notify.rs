//! Event notifications out of the embedded store (`storage --notify-url`): after each PUT,
//! CompleteMultipartUpload and copy that lands an object, the JSON S3 and MinIO send (one
//! record, `s3:ObjectCreated:Put`, `:CompleteMultipartUpload` or `:Copy`, the key URL-encoded)
//! goes to the URL with `Authorization: Bearer` and the token, as MinIO's webhook target does.
//!
//! Delivery survives the receiver being down, and the store restarting: each event is a file in
//! the queue directory, written before the store answers the write, and removed once the
//! receiver answered 2xx. Senders retry with a growing pause (0.1 s doubling to 5 s). The queue
//! is bounded (`--notify-queue-limit` events): when full, new events are dropped, counted and
//! logged, as MinIO drops them when its queue directory is full.

use crate::metrics::{CountingConnector, Meter};
use bytes::Bytes;
use http_body_util::Full;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Longest pause between two attempts of one event.
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// Longest wait for the receiver to answer one delivery.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where events go (`storage --notify-url`, `--notify-token`, `--notify-queue-dir`,
/// `--notify-queue-limit`, `--notify-ca`, `--notify-prefix`, `--notify-senders`).
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// The receiver, e.g. `http://127.0.0.1:8080/v1/events`.
    pub url: http::Uri,
    /// The bearer token sent with each event.
    pub token: String,
    /// Where undelivered events wait (`None`: beside the data directory, [`default_queue_dir`]).
    pub queue_dir: Option<PathBuf>,
    /// Most events waiting at once.
    pub queue_limit: usize,
    /// CA certificates (PEM) an `https` receiver is checked against.
    pub ca_pem: Option<String>,
    /// Only keys starting with this are notified (as a bucket notification's prefix filter).
    pub prefix: String,
    /// Deliveries in flight at once: a receiver that checks each upload before answering takes
    /// a while per event, so one at a time would queue events behind each other under load.
    pub senders: usize,
}

/// An object write that lands an object, read from its request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Landing {
    /// The bucket.
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    /// `Put`, `CompleteMultipartUpload` or `Copy`.
    pub kind: &'static str,
}

impl Landing {
    /// The landing `request` makes if it succeeds (path-style addressing), or `None` for any
    /// other request (reads, part uploads, deletes, bucket calls).
    #[must_use]
    pub fn of<B>(request: &http::Request<B>) -> Option<Self> {
        let query = request.uri().query().unwrap_or("");
        let has = |name: &str| form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name);
        let kind = match *request.method() {
            http::Method::PUT if has("partNumber") || has("uploadId") => return None,
            http::Method::PUT if request.headers().contains_key("x-amz-copy-source") => "Copy",
            http::Method::PUT => "Put",
            http::Method::POST if has("uploadId") => "CompleteMultipartUpload",
            _ => return None,
        };
        let path = percent_encoding::percent_decode_str(request.uri().path()).decode_utf8().ok()?;
        let (bucket, key) = path.strip_prefix('/')?.split_once('/')?;
        if bucket.is_empty() || key.is_empty() {
            return None;
        }
        Some(Self { bucket: bucket.to_owned(), key: key.to_owned(), kind })
    }

    /// The notification of this landing, as MinIO sends it.
    #[must_use]
    pub fn notification(&self, size: u64, etag: &str, at: SystemTime, sequence: u64) -> serde_json::Value {
        let key: String = form_urlencoded::byte_serialize(self.key.as_bytes()).collect();
        let name = format!("s3:ObjectCreated:{}", self.kind);
        let time = humantime::format_rfc3339_millis(at).to_string();
        serde_json::json!({
            "EventName": name,
            "Key": format!("{}/{}", self.bucket, self.key),
            "Records": [{
                "eventVersion": "2.0",
                "eventSource": "presign-bench:s3",
                "awsRegion": "",
                "eventTime": time,
                "eventName": name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "presign-bench",
                    "bucket": { "name": self.bucket, "arn": format!("arn:aws:s3:::{}", self.bucket) },
                    "object": { "key": key, "size": size, "eTag": etag, "sequencer": format!("{sequence:016X}") },
                },
            }],
        })
    }
}

/// Errors of starting the notifier.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The queue directory cannot be made or read.
    #[error("--notify-queue-dir {dir}: {source}")]
    Queue {
        /// The directory.
        dir: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA file does not hold certificates.
    #[error("--notify-ca: {0}")]
    Ca(String),
}

/// The queue and its senders.
#[derive(Debug)]
pub struct Notifier {
    config: NotifyConfig,
    queue_dir: PathBuf,
    next: AtomicU64,
    waiting: Mutex<VecDeque<u64>>,
    wake: tokio::sync::Notify,
    /// Events delivered (the receiver answered 2xx).
    pub delivered: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl Notifier {
    /// Opens the queue in `queue_dir` (events left there by an earlier run are sent first) and
    /// starts the senders.
    ///
    /// # Errors
    /// [`NotifyError`] naming the directory or the CA file.
    pub fn start(config: NotifyConfig, queue_dir: PathBuf) -> Result<Arc<Self>, NotifyError> {
        let dir = queue_dir.clone();
        let err = |source| NotifyError::Queue { dir: dir.display().to_string(), source };
        std::fs::create_dir_all(&dir).map_err(err)?;
        let mut left: Vec<u64> = std::fs::read_dir(&dir)
            .map_err(err)?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
            .collect();
        left.sort_unstable();
        let next = left.last().map_or(0, |n| n + 1);
        let tls = match &config.ca_pem {
            Some(pem) => Some(
                crate::tls::client_config(pem, "--notify-ca", &[b"http/1.1"])
                    .map_err(|e| NotifyError::Ca(e.to_string()))?,
            ),
            None => None,
        };
        let notifier = Arc::new(Self {
            config,
            queue_dir,
            next: AtomicU64::new(next),
            waiting: Mutex::new(left.into()),
            wake: tokio::sync::Notify::new(),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        let connector = CountingConnector::new(Meter::new()).tls(tls);
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector);
        for _ in 0..notifier.config.senders.max(1) {
            tokio::spawn(send(notifier.clone(), client.clone()));
        }
        Ok(notifier)
    }

    /// Whether `landing` is notified (its key has the prefix).
    #[must_use]
    pub fn wants(&self, landing: &Landing) -> bool {
        landing.key.starts_with(&self.config.prefix)
    }

    /// Queues the notification of `landing`: on disk before this returns.
    pub async fn emit(&self, landing: &Landing, size: u64, etag: &str) {
        let waiting = self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len();
        if waiting >= self.config.queue_limit {
            let dropped = self.dropped.fetch_add(1, Relaxed) + 1;
            tracing::warn!(key = landing.key, dropped, "event queue full ({waiting} waiting); event dropped");
            return;
        }
        let sequence = self.next.fetch_add(1, Relaxed);
        let body = landing.notification(size, etag, SystemTime::now(), sequence).to_string();
        let (tmp, path) = (self.path(sequence).with_extension("tmp"), self.path(sequence));
        // Written whole, then renamed: a crash never leaves half an event to send.
        let written = async {
            tokio::fs::write(&tmp, body).await?;
            tokio::fs::rename(&tmp, &path).await
        };
        if let Err(e) = written.await {
            let dropped = self.dropped.fetch_add(1, Relaxed) + 1;
            tracing::error!(key = landing.key, dropped, "queueing an event in {}: {e}", path.display());
            return;
        }
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_back(sequence);
        self.wake.notify_one();
    }

    /// Events waiting to be delivered.
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    fn path(&self, sequence: u64) -> PathBuf {
        self.queue_dir.join(format!("{sequence:020}.json"))
    }

    fn take(&self) -> Option<u64> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front()
    }
}

type Client = hyper_util::client::legacy::Client<CountingConnector, Full<Bytes>>;

/// One sender: takes the oldest waiting event, delivers it until the receiver takes it.
async fn send(notifier: Arc<Notifier>, client: Client) {
    loop {
        let wake = notifier.wake.notified();
        let Some(sequence) = notifier.take() else {
            wake.await;
            continue;
        };
        let path = notifier.path(sequence);
        let Ok(body) = tokio::fs::read(&path).await else { continue };
        let body = Bytes::from(body);
        let mut pause = Duration::from_millis(100);
        loop {
            match deliver(&client, &notifier.config, body.clone()).await {
                Ok(()) => break,
                Err(why) => {
                    tracing::debug!(sequence, "event delivery failed ({why}); again in {pause:?}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
        notifier.delivered.fetch_add(1, Relaxed);
        if let Err(e) = tokio::fs::remove_file(&path).await {
            tracing::warn!("removing delivered event {}: {e}", path.display());
        }
    }
}

async fn deliver(client: &Client, config: &NotifyConfig, body: Bytes) -> Result<(), String> {
    let request = http::Request::post(config.url.clone())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::AUTHORIZATION, format!("Bearer {}", config.token))
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(DELIVERY_TIMEOUT, client.request(request))
        .await
        .map_err(|_| "no answer in time".to_owned())?
        .map_err(|e| e.to_string())?;
    let status = response.status();
    // The answer is read to its end, so the connection can carry the next event.
    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
    if status.is_success() { Ok(()) } else { Err(format!("answered {status}")) }
}

/// The queue directory beside `data_dir`: `DATA_DIR.events` (not inside it: s3s-fs takes
/// every directory there for a bucket).
#[must_use]
pub fn default_queue_dir(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap_or_default().to_owned();
    name.push(".events");
    data_dir.with_file_name(name)
}

/// The size of the object at `key` in `bucket` under the store's `data_dir` (s3s-fs keeps an
/// object as the file `data_dir/bucket/key`).
#[must_use]
pub fn stored_size(data_dir: &Path, landing: &Landing) -> u64 {
    std::fs::metadata(data_dir.join(&landing.bucket).join(&landing.key)).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landing(method: &str, uri: &str, copy: bool) -> Option<Landing> {
        let mut request = http::Request::builder().method(method).uri(uri);
        if copy {
            request = request.header("x-amz-copy-source", "b/uploads/x");
        }
        Landing::of(&request.body(()).unwrap())
    }

    #[test]
    fn only_writes_that_land_an_object_are_landings() {
        let put = landing("PUT", "/b/uploads/a/x%20y.jpg?X-Amz-Signature=1", false).unwrap();
        assert_eq!(put, Landing { bucket: "b".into(), key: "uploads/a/x y.jpg".into(), kind: "Put" });
        assert_eq!(landing("PUT", "/b/files/k", true).unwrap().kind, "Copy");
        assert_eq!(landing("POST", "/b/files/k?uploadId=1", false).unwrap().kind, "CompleteMultipartUpload");
        assert_eq!(landing("PUT", "/b/files/k?partNumber=1&uploadId=1", false), None);
        assert_eq!(landing("POST", "/b/files/k?uploads", false), None);
        assert_eq!(landing("PUT", "/b", false), None);
        assert_eq!(landing("GET", "/b/files/k", false), None);
        assert_eq!(landing("DELETE", "/b/files/k", false), None);
    }

    #[test]
    fn the_key_is_sent_url_encoded_as_minio_does() {
        let put = Landing { bucket: "b".into(), key: "uploads/a/x y+z.jpg".into(), kind: "Put" };
        let n = put.notification(3, "e", SystemTime::UNIX_EPOCH, 10);
        assert_eq!(n["Records"][0]["s3"]["object"]["key"], "uploads%2Fa%2Fx+y%2Bz.jpg");
        assert_eq!(n["Records"][0]["eventName"], "s3:ObjectCreated:Put");
        assert_eq!(n["Records"][0]["eventTime"], "1970-01-01T00:00:00.000Z");
        assert_eq!(n["Records"][0]["s3"]["object"]["sequencer"], "000000000000000A");
    }
}
