//! Store event notifications end to end: the embedded store's notifier and MinIO's webhook target
//! deliver to the broker's `/v1/events`, which reaches each upload's verdict without a
//! completion call; duplicates, reordering, foreign keys and missing tokens change nothing; a
//! broker that was down catches up from the store's queue.

use crate::common;

use common::{Minio, Store, credentials, eventually, jpeg};
use presign_bench::broker::events::{EventsConfig, Stats};
use presign_bench::broker::{self, Broker};
use presign_bench::storage::notify::{Landing, NotifyConfig};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

const TOKEN: &str = "events-token-for-the-tests-0123456789";
const SIZE: usize = 64 * 1024;

/// A store that sends events (or, with `notify: false`, one that does not) and a broker taking
/// them at a port bound before the store started.
struct EventStack {
    store: String,
    bucket: String,
    broker: String,
    state: Arc<Broker>,
    http: reqwest::Client,
    tmp: tempfile::TempDir,
    queue: PathBuf,
    stop_broker: Option<oneshot::Sender<()>>,
    _stop_store: Option<oneshot::Sender<()>>,
    _minio: Option<Minio>,
}

impl EventStack {
    async fn start(store: Store, notify: bool) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let broker = format!("http://{}", listener.local_addr().unwrap());
        let events_url = format!("{broker}/v1/events");
        let data_dir = tmp.path().join("store");
        std::fs::create_dir_all(&data_dir).unwrap();
        let queue = tmp.path().join("queue");
        let bucket = format!("t-{}", uuid::Uuid::new_v4().simple());
        let (url, stop_store, minio) = if store == Store::Embedded {
            {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}", l.local_addr().unwrap());
                let (tx, rx) = oneshot::channel::<()>();
                let serving = presign_bench::storage::embedded::Serving {
                    notify: notify.then(|| NotifyConfig {
                        url: events_url.parse().unwrap(),
                        token: TOKEN.into(),
                        queue_dir: Some(queue.clone()),
                        queue_limit: 10_000,
                        ca_pem: None,
                        prefix: "uploads/".into(),
                        senders: 4,
                    }),
                    ..Default::default()
                };
                let dir = data_dir.clone();
                tokio::spawn(async move {
                    let stop = async move {
                        let _ = rx.await;
                    };
                    presign_bench::storage::embedded::serve(l, &dir, &credentials(), &serving, stop).await.unwrap();
                });
                (url, Some(tx), None)
            }
        } else {
            {
                let env = if notify {
                    presign_bench::harness::minio::webhook_env(&events_url, TOKEN, &queue)
                } else {
                    Vec::new()
                };
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let minio = Minio::start_with(&data_dir, &env).await;
                (minio.url.clone(), None, Some(minio))
            }
        };
        let config = common::config(&url, &bucket, tmp.path().join("broker.sqlite3"));
        let state = Arc::new(Broker::start(config, Some(events())).await.unwrap());
        if notify && minio.is_some() {
            presign_bench::harness::minio::subscribe(&state.app.s3, &bucket, "uploads/").await.unwrap();
        }
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(broker::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        Self {
            store: url,
            bucket,
            broker,
            state,
            http: common::client(),
            tmp,
            queue,
            stop_broker: Some(tx),
            _stop_store: stop_store,
            _minio: minio,
        }
    }

    /// Stops the broker; its port refuses connections until [`Self::restart_broker`].
    async fn stop_broker(&mut self) {
        drop(self.stop_broker.take());
        let addr = self.broker.trim_start_matches("http://").to_owned();
        assert!(
            eventually(Duration::from_secs(10), async || tokio::net::TcpStream::connect(&addr).await.is_err()).await,
            "the broker still answers"
        );
    }

    /// A new broker process's worth of state on the same port and database.
    async fn restart_broker(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.broker.trim_start_matches("http://")).await.unwrap();
        let config = common::config(&self.store, &self.bucket, self.tmp.path().join("broker.sqlite3"));
        self.state = Arc::new(Broker::start(config, Some(events())).await.unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(broker::serve(listener, self.state.clone(), async move {
            let _ = rx.await;
        }));
        self.stop_broker = Some(tx);
    }

    fn token(user: &str) -> String {
        presign_bench::app::auth::Tokens::new(common::SECRET.as_bytes()).mint(user, Duration::from_secs(3600)).unwrap()
    }

    /// Asks for a PUT URL; returns the grant.
    async fn grant(&self, user: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/v1/uploads", self.broker))
            .bearer_auth(Self::token(user))
            .json(&json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": SIZE}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    /// PUTs `body` with the grant's URL and headers.
    async fn put(&self, grant: &Value, body: Vec<u8>) -> u16 {
        let mut put = self.http.put(grant["url"].as_str().unwrap());
        for (k, v) in grant["headers"].as_object().unwrap() {
            put = put.header(k, v.as_str().unwrap());
        }
        put.body(body).send().await.unwrap().status().as_u16()
    }

    async fn complete(&self, user: &str, grant: &Value) -> (u16, Value) {
        let id = grant["upload_id"].as_str().unwrap();
        let r = self
            .http
            .post(format!("{}/v1/uploads/{id}/complete", self.broker))
            .bearer_auth(Self::token(user))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn counts(&self) -> Stats {
        let r = self.http.get(format!("{}/v1/events/stats", self.broker)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn post_event(&self, body: &Value, token: Option<&str>) -> (u16, Value) {
        let mut r = self.http.post(format!("{}/v1/events", self.broker)).json(body);
        if let Some(token) = token {
            r = r.bearer_auth(token);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn keys(&self, prefix: &str) -> usize {
        let listed = self.state.app.s3.list_objects_v2().bucket(&self.bucket).prefix(prefix).send().await.unwrap();
        listed.contents().len()
    }

    /// Waits until the broker's event counts satisfy `done` (for at most 30 s); returns them.
    async fn until(&self, done: impl Fn(&presign_bench::results::events::EventCounts) -> bool) -> Stats {
        let reached = eventually(Duration::from_secs(30), async || done(&self.counts().await.counts)).await;
        let counts = self.counts().await;
        assert!(reached, "awaited event counts never came: {counts:?}");
        counts
    }

    /// Waits until the broker has reached `n` verdicts by event.
    async fn settled(&self, n: u64) -> Stats {
        let reached = eventually(Duration::from_secs(60), async || {
            let s = self.counts().await;
            s.counts.verified + s.counts.rejected >= n
        })
        .await;
        let counts = self.counts().await;
        assert!(reached, "{n} verdicts by event awaited; {counts:?}");
        counts
    }
}

fn events() -> EventsConfig {
    EventsConfig { token: TOKEN.into(), wait: Duration::from_secs(2) }
}

/// A PDF's first bytes under a JPEG's signed type: the magic-number check rejects it.
fn not_a_jpeg(seed: u8) -> Vec<u8> {
    let mut v = jpeg(SIZE, seed);
    v[..8].copy_from_slice(b"%PDF-1.7");
    v
}

async fn every_upload_ends_by_its_event(store: Store) {
    let s = EventStack::start(store, true).await;
    let mut grants = Vec::new();
    for i in 0..20u8 {
        let g = s.grant("alice").await;
        let body = if i % 4 == 3 { not_a_jpeg(i) } else { jpeg(SIZE, i) };
        assert_eq!(s.put(&g, body).await, 200);
        grants.push(g);
    }
    // No completion call: the events alone reach every verdict.
    let counts = s.settled(20).await;
    assert_eq!(
        (counts.counts.verified, counts.counts.rejected, counts.counts.ignored, counts.counts.refused),
        (15, 5, 0, 0),
        "{counts:?}"
    );
    assert_eq!(counts.latency.count, 20);
    assert_eq!((s.keys("files/").await, s.keys("uploads/").await), (15, 0), "{store:?}: files and upload keys");
    assert_eq!(s.state.app.db.count().await.unwrap(), 15);
    assert_eq!(s.state.app.db.count_rejections().await.unwrap(), 5);
    // The deliveries crossed the broker's sockets: counted as app traffic, and apart.
    let m = common::metrics(&s.broker).await;
    assert!(m.events.bytes_in >= 20 * 400, "{store:?}: 20 events in {} bytes", m.events.bytes_in);
    assert!(m.client.bytes_in >= m.events.bytes_in && m.events.bytes_out > 0, "{m:?}");
    // A completion afterwards answers from the verdict.
    let (status, body) = s.complete("alice", &grants[0]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.complete("alice", &grants[3]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("content_mismatch")), "{body}");
    eprintln!(
        "{store:?}: 20 uploads settled by events, latency p50 {} µs, p99 {} µs, {} bytes in",
        counts.latency.p50, counts.latency.p99, m.events.bytes_in
    );
}

#[tokio::test]
async fn every_upload_ends_verified_or_rejected_by_its_event_on_the_embedded_store() {
    every_upload_ends_by_its_event(Store::Embedded).await;
}

#[tokio::test]
async fn every_upload_ends_verified_or_rejected_by_its_event_on_minio() {
    every_upload_ends_by_its_event(Store::Minio).await;
}

async fn a_stopped_broker_catches_up(store: Store) {
    let mut s = EventStack::start(store, true).await;
    let grants: Vec<Value> = futures_util::future::join_all((0..10).map(|_| s.grant("bob"))).await;
    s.stop_broker().await;
    for (i, g) in grants.iter().enumerate() {
        assert_eq!(s.put(g, jpeg(SIZE, u8::try_from(i).unwrap())).await, 200);
    }
    if store == Store::Embedded {
        let queued = std::fs::read_dir(&s.queue).unwrap().count();
        assert_eq!(queued, 10, "the store queued the events the broker could not take");
    }
    s.restart_broker().await;
    let counts = s.settled(10).await;
    assert_eq!((counts.counts.verified, counts.counts.rejected), (10, 0), "{counts:?}");
    assert_eq!((s.keys("files/").await, s.keys("uploads/").await), (10, 0));
    if store == Store::Embedded {
        let drained = eventually(Duration::from_secs(10), async || std::fs::read_dir(&s.queue).unwrap().count() == 0);
        assert!(drained.await, "delivered events leave the queue");
    }
}

#[tokio::test]
async fn a_broker_stopped_while_events_fire_catches_up_on_the_embedded_store() {
    a_stopped_broker_catches_up(Store::Embedded).await;
}

#[tokio::test]
async fn a_broker_stopped_while_events_fire_catches_up_on_minio() {
    a_stopped_broker_catches_up(Store::Minio).await;
}

/// The event the embedded store sends for `key`, built by its own code.
fn event_for(bucket: &str, key: &str, kind: &'static str) -> Value {
    let landing = Landing { bucket: bucket.into(), key: key.into(), kind };
    landing.notification(SIZE as u64, "etag", SystemTime::now(), 1)
}

#[tokio::test]
async fn duplicated_reordered_foreign_and_unauthenticated_events_change_nothing() {
    // A store that sends nothing: every event here is delivered by hand.
    let s = EventStack::start(Store::Embedded, false).await;
    let (first, second) = (s.grant("carol").await, s.grant("carol").await);
    assert_eq!(s.put(&first, jpeg(SIZE, 1)).await, 200);
    assert_eq!(s.put(&second, jpeg(SIZE, 2)).await, 200);
    let key = |g: &Value| {
        let url = g["url"].as_str().unwrap();
        presign_bench::sigv4::path_style_key(url, &s.bucket).unwrap()
    };
    let (key_a, key_b) = (key(&first), key(&second));
    let event_a = event_for(&s.bucket, &key_a, "Put");

    // Without the token, or with a wrong one: 401, and nothing happens.
    for token in [None, Some("wrong-token-wrong-token-wrong-token")] {
        let (status, body) = s.post_event(&event_a, token).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some(if token.is_none() { "missing_token" } else { "invalid_token" }))
        );
    }
    assert_eq!((s.keys("files/").await, s.keys("uploads/").await), (0, 2), "a refused event changed the store");

    // B's event before A's; then both again. Each is queued, and answered at once.
    for event in
        [event_for(&s.bucket, &key_b, "Put"), event_a.clone(), event_a.clone(), event_for(&s.bucket, &key_b, "Put")]
    {
        let (status, body) = s.post_event(&event, Some(TOKEN)).await;
        assert_eq!((status, body["queued"].as_u64()), (200, Some(1)), "{body}");
    }
    // Foreign: a key the broker never signed (put with the store's own keys, no upload id: queued,
    // then ignored), another bucket, another kind of event, a key outside uploads/ (ignored at once).
    let foreign = "uploads/carol/00000000-0000-4000-8000-000000000000.jpg";
    s.state.app.s3.put_object().bucket(&s.bucket).key(foreign).body(jpeg(SIZE, 3).into()).send().await.unwrap();
    let (status, body) = s.post_event(&event_for(&s.bucket, foreign, "Put"), Some(TOKEN)).await;
    assert_eq!((status, body["queued"].as_u64()), (200, Some(1)), "{body}");
    let mut removed = event_for(&s.bucket, &key_a, "Put");
    removed["Records"][0]["eventName"] = json!("s3:ObjectRemoved:Delete");
    for event in
        [event_for("another-bucket", &key_a, "Put"), removed, event_for(&s.bucket, "files/carol/x.jpg", "Copy")]
    {
        let (status, body) = s.post_event(&event, Some(TOKEN)).await;
        assert_eq!((status, body["ignored"].as_u64(), body["queued"].as_u64()), (200, Some(1), Some(0)), "{body}");
    }
    let counts = s.until(|c| c.verified + c.duplicate + c.ignored >= 8).await;
    let c = counts.counts;
    assert_eq!((c.verified, c.rejected, c.late, c.duplicate, c.ignored, c.refused), (2, 0, 0, 2, 4, 2), "{counts:?}");
    assert_eq!(s.state.app.db.count().await.unwrap(), 2);
    assert_eq!((s.keys("files/").await, s.keys("uploads/").await), (2, 1), "two files, and the foreign object");
    assert!(s.state.app.db.queued_events().await.unwrap().is_empty(), "settled events leave the queue");
    // Completions answer with the files the events made.
    for g in [&first, &second] {
        let (status, body) = s.complete("carol", g).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(s.state.app.db.count().await.unwrap(), 2);
    // An upload completed before its event: the event is late, not a duplicate, and changes
    // nothing.
    let third = s.grant("carol").await;
    assert_eq!(s.put(&third, jpeg(SIZE, 4)).await, 200);
    let (status, body) = s.complete("carol", &third).await;
    assert_eq!(status, 200, "{body}");
    let event_c = event_for(&s.bucket, &key(&third), "Put");
    s.post_event(&event_c, Some(TOKEN)).await;
    assert_eq!(s.until(|c| c.late == 1).await.counts.duplicate, 2);
    s.post_event(&event_c, Some(TOKEN)).await;
    assert_eq!(s.until(|c| c.duplicate == 3).await.counts.late, 1);
    assert_eq!(s.state.app.db.count().await.unwrap(), 3);
    // Malformed and oversized deliveries are refused with the API's JSON errors.
    let r = s.http.post(format!("{}/v1/events", s.broker)).bearer_auth(TOKEN).body("{").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let big = "x".repeat(300 * 1024);
    let r = s.http.post(format!("{}/v1/events", s.broker)).bearer_auth(TOKEN).body(big).send().await.unwrap();
    assert_eq!(r.status(), 413);
}

/// `presign-bench run` with `[validation] trigger = "event"` on `storage` (with `extra` in the
/// scenario): every presigned upload's verdict came by its event, counted in results.json and
/// shown in the report.
async fn event_run(storage: &str, extra: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.toml");
    let text = format!(
        "name = \"events\"\ndescription = \"test\"\nmodes = [\"proxied\", \"presigned\"]\n[target]\nuploads = 50000\n[run]\nuploads = 10\nconcurrency = 3\nobject_size = \"256KiB\"\ncontent_type = \"image/jpeg\"\nusers = 3\nseed = 7\nverify = \"all\"\nmax_duration = \"120s\"\n[signing]\nenabled = false\n[validation]\ntrigger = \"event\"\n[storage]\nkind = \"{storage}\"\n{extra}\n"
    );
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("report");
    let args = ["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (ok, _, stderr) = common::run_bin(&args, Duration::from_secs(300)).await;
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    common::validate_results(&r).unwrap_or_else(|e| panic!("results.json breaks the schema:\n{e}"));
    assert_eq!(r["scenario"]["validation"]["trigger"], "event");
    let m = &r["modes"]["presigned"];
    assert_eq!((m["uploads_ok"].as_u64(), m["verified"].as_u64()), (Some(10), Some(10)), "{m}");
    let e = &m["events"];
    assert_eq!(e["verified"].as_u64().unwrap() + e["late"].as_u64().unwrap(), 10, "{e}");
    assert_eq!((e["lost"].as_u64(), e["refused"].as_u64(), e["rejected"].as_u64()), (Some(0), Some(0), Some(0)), "{e}");
    assert_eq!(e["latency_us"]["count"].as_u64(), Some(10), "{e}");
    assert!(e["bytes_in"].as_u64().unwrap() >= 10 * 400, "{e}");
    assert!(r["modes"]["proxied"].get("events").is_none(), "the proxy checks inline: no events");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Validation by store events") && html.contains("id=\"events\""));
}

#[tokio::test]
async fn a_run_validates_by_events_on_the_embedded_store() {
    event_run("embedded", "").await;
}

#[tokio::test]
async fn a_run_validates_by_events_on_minio() {
    event_run("minio", "").await;
}

#[tokio::test]
async fn a_run_validates_by_events_over_tls() {
    event_run("embedded", "tls = true\n[app_tier]\ntls = true").await;
}
