//! A TestStack: embedded store, broker and proxy on 127.0.0.1:0, in process, each test its own
//! bucket, database and data directory. Plus helpers to run the real binary as a child process.

#![allow(dead_code, clippy::unused_self)] // each test binary uses a different subset

pub mod chromium;
pub mod kube;
mod minio;
pub mod podman;
pub mod raw;

pub use minio::Minio;

use presign_bench::app::AppConfig;
use presign_bench::app::policy::Policy;
use presign_bench::broker::{self, Broker};
use presign_bench::metrics::Snapshot;
use presign_bench::proxy::{self, Proxy};
use presign_bench::storage::Credentials;
use presign_bench::storage::client::S3Target;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub const SECRET: &str = "test-token-secret-of-at-least-32-bytes";
pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "test-secret-key";

pub struct Stack {
    pub storage: String,
    pub broker: String,
    pub proxy: String,
    pub bucket: String,
    pub data_dir: PathBuf,
    pub broker_state: Arc<Broker>,
    pub proxy_state: Arc<Proxy>,
    pub http: reqwest::Client,
    /// The store's process, for tests that freeze it (`None`: the store runs in this process).
    pub store_pid: Option<u32>,
    minio_process: Option<Minio>,
    _store_child: Option<Child>,
    _tmp: tempfile::TempDir,
    stops: Vec<oneshot::Sender<()>>,
}

fn stop_signal() -> (oneshot::Sender<()>, impl Future<Output = ()>) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}

pub fn credentials() -> Credentials {
    Credentials { access_key: ACCESS_KEY.into(), secret_key: SECRET_KEY.into() }
}

/// The app configuration of a stack whose store is at `storage`.
pub fn config(storage: &str, bucket: &str, db: PathBuf) -> AppConfig {
    AppConfig {
        s3: S3Target {
            endpoint: storage.to_owned(),
            region: "us-east-1".into(),
            bucket: bucket.to_owned(),
            credentials: credentials(),
            ca_pem: None,
        },
        tls: None,
        token_secret: SECRET.into(),
        db_path: Some(db),
        policy: Policy {
            allowed_types: ["image/jpeg", "image/png", "image/webp", "application/pdf", "video/mp4"]
                .map(String::from)
                .to_vec(),
            max_size: 100 * 1024 * 1024,
            multipart: presign_bench::app::policy::MultipartPolicy::default(),
        },
        put_expiry: Duration::from_secs(600),
        get_expiry: Duration::from_secs(900),
        complete_grace: Duration::from_secs(900),
        nic: None,
        insecure_unsigned_content_type: false,
        limits: presign_bench::server::Limits::default(),
        store_timeouts: presign_bench::storage::client::Timeouts::default(),
        sweep: presign_bench::app::sweep::Sweep::default(),
        cors_origins: Vec::new(),
        lifecycle_rule: true,
        clamd: None,
        cdn: None,
    }
}

/// Which S3 implementation a stack runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The embedded s3s-fs store, in process.
    Embedded,
    /// A real MinIO process.
    Minio,
    /// The embedded store as a child process (`presign-bench storage`), so it can be frozen.
    EmbeddedChild,
}

/// Starts the embedded store in process with the tests' credentials; returns its URL.
pub async fn start_storage(data_dir: PathBuf) -> (String, oneshot::Sender<()>) {
    start_storage_as(data_dir, credentials()).await
}

/// Starts the embedded store in process with `credentials`; returns its URL.
pub async fn start_storage_as(data_dir: PathBuf, credentials: Credentials) -> (String, oneshot::Sender<()>) {
    start_storage_for(data_dir, credentials, Vec::new()).await
}

/// Starts the embedded store in process with `credentials`, letting pages on `origins` use
/// presigned URLs (CORS); returns its URL.
pub async fn start_storage_for(
    data_dir: PathBuf,
    credentials: Credentials,
    origins: Vec<String>,
) -> (String, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, stop) = stop_signal();
    tokio::spawn(async move {
        let serving = presign_bench::storage::embedded::Serving { cors_origins: origins, ..Default::default() };
        presign_bench::storage::embedded::serve(listener, &data_dir, &credentials, &serving, stop).await.unwrap();
    });
    (url, tx)
}

impl Stack {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl Fn(&mut AppConfig)) -> Self {
        Self::start_on(Store::Embedded, tweak).await
    }

    /// Broker and proxy on a real MinIO (installed by docker/install-minio.sh).
    pub async fn start_on_minio() -> Self {
        Self::start_on(Store::Minio, |_| {}).await
    }

    pub async fn start_on(store: Store, tweak: impl Fn(&mut AppConfig)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("store");
        std::fs::create_dir_all(&data_dir).unwrap();
        // The store lets the origins the servers allow use presigned URLs (the broker checks).
        let mut probe = config("http://127.0.0.1:1", "probe", tmp.path().join("probe.sqlite3"));
        tweak(&mut probe);
        let origins = probe.cors_origins;
        let (storage, stop_store, minio, store_child) = match store {
            Store::Embedded => {
                let (url, stop) = start_storage_for(data_dir.clone(), credentials(), origins).await;
                (url, Some(stop), None, None)
            }
            Store::Minio => {
                let minio = Minio::start(&data_dir).await;
                (minio.url.clone(), None, Some(minio), None)
            }
            Store::EmbeddedChild => {
                let dir = data_dir.to_str().unwrap();
                let mut args: Vec<&str> = vec!["storage", "--listen", "127.0.0.1:0", "--data-dir", dir];
                args.extend(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]);
                args.extend(origins.iter().flat_map(|o| ["--cors-origin", o.as_str()]));
                let child = spawn_bin(&args).await;
                (child.url.clone(), None, None, Some(child))
            }
        };
        let store_pid = minio.as_ref().map(Minio::pid).or_else(|| store_child.as_ref().and_then(|c| c.child.id()));
        let bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
        let mut broker_config = config(&storage, &bucket, tmp.path().join("broker.sqlite3"));
        tweak(&mut broker_config);
        let mut proxy_config = config(&storage, &bucket, tmp.path().join("proxy.sqlite3"));
        tweak(&mut proxy_config);
        let broker_state = Arc::new(Broker::start(broker_config, None).await.unwrap());
        let proxy_state = Arc::new(Proxy::start(proxy_config).await.unwrap());

        let bl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let broker_url = format!("http://{}", bl.local_addr().unwrap());
        let proxy_url = format!("http://{}", pl.local_addr().unwrap());
        let (stop_b, b) = stop_signal();
        let (stop_p, p) = stop_signal();
        tokio::spawn(broker::serve(bl, broker_state.clone(), b));
        tokio::spawn(proxy::serve(pl, proxy_state.clone(), p));
        Self {
            storage,
            broker: broker_url,
            proxy: proxy_url,
            bucket,
            data_dir,
            broker_state,
            proxy_state,
            http: client(),
            store_pid,
            minio_process: minio,
            _store_child: store_child,
            _tmp: tmp,
            stops: [stop_store, Some(stop_b), Some(stop_p)].into_iter().flatten().collect(),
        }
    }

    /// Stops the in-process embedded store (new connections are refused from now on).
    pub fn stop_store(&mut self) {
        assert!(self.store_pid.is_none() && self.minio_process.is_none(), "only the in-process store can be stopped");
        self.stops.remove(0);
    }

    pub fn token(&self, user: &str) -> String {
        presign_bench::app::auth::Tokens::new(SECRET.as_bytes()).mint(user, Duration::from_secs(3600)).unwrap()
    }

    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.broker_state.app.s3
    }

    /// Keys in the bucket.
    pub async fn objects(&self) -> Vec<String> {
        let out = self.s3().list_objects_v2().bucket(&self.bucket).send().await.unwrap();
        out.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }

    /// Multipart uploads the store holds open (s3s-fs has no ListMultipartUploads: its
    /// `.upload-<id>.json` files are counted).
    pub async fn open_multipart_uploads(&self) -> usize {
        if self.minio_process.is_some() {
            let listed = self.s3().list_multipart_uploads().bucket(&self.bucket).send().await.unwrap();
            return listed.uploads().len();
        }
        let names = std::fs::read_dir(&self.data_dir).unwrap().flatten().map(|e| e.file_name());
        names.filter(|n| n.to_string_lossy().starts_with(".upload-")).count()
    }

    pub async fn object_bytes(&self, key: &str) -> Option<Vec<u8>> {
        let out = self.s3().get_object().bucket(&self.bucket).key(key).send().await.ok()?;
        Some(out.body.collect().await.unwrap().into_bytes().to_vec())
    }
}

/// Resident memory of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// An S3 client for `target` (uncounted), with its bucket made if it does not exist.
pub async fn bucket_client(target: &S3Target) -> aws_sdk_s3::Client {
    let s3 = presign_bench::storage::client::build(
        target,
        presign_bench::metrics::Meter::new(),
        presign_bench::storage::client::Timeouts::default(),
    )
    .unwrap();
    presign_bench::storage::client::ensure_bucket(&s3, target).await.unwrap();
    s3
}

/// An HTTP client that never follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Scrapes `/metrics` on a fresh connection (scrapes must not share upload connections) and
/// parses it with the parser the harness uses.
pub async fn metrics(base: &str) -> Snapshot {
    let text = client().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    Snapshot::parse(&text).unwrap()
}

/// Sum of the four app-tier byte counters.
pub fn app_bytes(m: &Snapshot) -> u64 {
    m.client.bytes_in + m.client.bytes_out + m.storage.bytes_in + m.storage.bytes_out
}

/// A JPEG-looking payload of `len` bytes whose content depends on `seed`.
pub fn jpeg(len: usize, seed: u8) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| u8::try_from(i % 256).unwrap().wrapping_mul(31).wrapping_add(seed)).collect();
    v[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    v
}

/// Polls `cond` every 20 ms for at most `limit`; the number of polls is bounded.
pub async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let polls = (limit.as_millis() / 20).max(1);
    for _ in 0..polls {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond().await
}

/// The two upload architectures, driven the way a client would.
#[derive(Clone, Copy, Debug)]
pub enum UploadPath {
    Presigned,
    Proxied,
}

/// The result of an upload attempt: final status and JSON body.
pub struct Uploaded {
    pub status: u16,
    pub body: serde_json::Value,
}

impl UploadPath {
    pub async fn upload(self, s: &Stack, token: &str, content_type: &str, bytes: Vec<u8>) -> Uploaded {
        match self {
            Self::Presigned => presigned_upload(s, token, content_type, bytes).await,
            Self::Proxied => {
                let r = s
                    .http
                    .put(format!("{}/v1/proxy/uploads", s.proxy))
                    .bearer_auth(token)
                    .header("content-type", content_type)
                    .header("x-filename", "photo.jpg")
                    .body(bytes)
                    .send()
                    .await
                    .unwrap();
                Uploaded { status: r.status().as_u16(), body: r.json().await.unwrap() }
            }
        }
    }

    pub async fn download(self, s: &Stack, token: &str, file_id: &str) -> (u16, Vec<u8>) {
        match self {
            Self::Presigned => {
                let r = s.http.get(format!("{}/v1/files/{file_id}", s.broker)).bearer_auth(token).send().await.unwrap();
                if r.status() != 302 {
                    return (r.status().as_u16(), Vec::new());
                }
                let location = r.headers()["location"].to_str().unwrap().to_owned();
                let r = s.http.get(location).send().await.unwrap();
                (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
            }
            Self::Proxied => {
                let r = s
                    .http
                    .get(format!("{}/v1/proxy/files/{file_id}", s.proxy))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
            }
        }
    }
}

/// Presign → PUT with the signed headers → complete. Stops at the first failing step.
pub async fn presigned_upload(s: &Stack, token: &str, content_type: &str, bytes: Vec<u8>) -> Uploaded {
    let r = s
        .http
        .post(format!("{}/v1/uploads", s.broker))
        .bearer_auth(token)
        .json(&serde_json::json!({"filename": "photo.jpg", "content_type": content_type, "size": bytes.len()}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let grant: serde_json::Value = r.json().await.unwrap();
    if status != 201 {
        return Uploaded { status, body: grant };
    }
    let mut put = s.http.put(grant["url"].as_str().unwrap());
    for (k, v) in grant["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let r = put.body(bytes).send().await.unwrap();
    assert_eq!(r.status(), 200, "store refused the broker's URL: {}", r.text().await.unwrap());
    complete(s, token, grant["upload_id"].as_str().unwrap()).await
}

/// The stored file behind an upload's answer: the proxy's answer is the file's record; the
/// broker's completion answers only the file id, so its row is read from the broker's database.
pub async fn stored(s: &Stack, up: &Uploaded) -> serde_json::Value {
    if up.body.get("key").is_some() {
        return up.body.clone();
    }
    let id = up.body["file_id"].as_str().unwrap_or_else(|| panic!("no file id in {}", up.body));
    let record = s.broker_state.app.db.by_id(id).await.unwrap().unwrap_or_else(|| panic!("no row for {id}"));
    serde_json::to_value(record).unwrap()
}

/// The key a presigned URL writes (the broker does not send it; it is the URL's path).
pub fn url_key(s: &Stack, url: &str) -> String {
    presign_bench::sigv4::path_style_key(url, &s.bucket).unwrap_or_else(|| panic!("no key in {url}"))
}

pub async fn complete(s: &Stack, token: &str, upload_id: &str) -> Uploaded {
    let r =
        s.http.post(format!("{}/v1/uploads/{upload_id}/complete", s.broker)).bearer_auth(token).send().await.unwrap();
    Uploaded { status: r.status().as_u16(), body: r.json().await.unwrap() }
}

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()), signal).unwrap();
}

/// Waits (bounded) for `child` to exit.
pub async fn exit_status(child: &mut tokio::process::Child) -> std::process::ExitStatus {
    tokio::time::timeout(Duration::from_secs(60), child.wait()).await.expect("the process did not stop").unwrap()
}

/// The real binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_presign-bench");

/// Runs `presign-bench ARGS` to completion within `limit`; returns (success, stdout, stderr).
pub async fn run_bin(args: &[&str], limit: Duration) -> (bool, String, String) {
    let out = tokio::time::timeout(limit, tokio::process::Command::new(BIN).args(args).kill_on_drop(true).output())
        .await
        .unwrap_or_else(|_| panic!("presign-bench {args:?} did not exit within {limit:?}"))
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process of the real binary that printed `listening on http://ADDR`.
#[allow(clippy::struct_field_names)] // `child.child` is the process: renaming it would touch every test
pub struct Child {
    pub url: String,
    pub child: tokio::process::Child,
    /// A directory the process writes to (its database), removed when the test drops it: a
    /// process killed at the end of a test cannot remove its own.
    pub scratch: Option<tempfile::TempDir>,
}

/// Runs `presign-bench ARGS` and waits (bounded) for its readiness line.
pub async fn spawn_bin(args: &[&str]) -> Child {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(args)
        .env("PRESIGN_BENCH_TOKEN_SECRET", SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap();
    let url = line.strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_owned();
    Child { url, child, scratch: None }
}

/// Validates a results.json value against the committed JSON Schema, listing every violation.
pub fn validate_results(value: &serde_json::Value) -> Result<(), String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(presign_bench::results::schema::PATH);
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{e} at {}", e.instance_path())).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors.join("\n")) }
}

/// Starts `presign-bench run SCENARIO --out OUT` in the background (killed when dropped), with its
/// stderr as lines to read the structured readiness lines from.
pub fn spawn_run(
    scenario: &std::path::Path,
    out: &std::path::Path,
) -> (tokio::process::Child, tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}
