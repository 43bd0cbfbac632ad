//! Presigned multipart uploads and the proxy's multipart path, on real servers over the embedded
//! store and MinIO: three parts and a completion, read back through both architectures; a
//! completion with a missing or forged ETag refused, leaving no object; a failed part sent again
//! alone (a real TCP fault in front of the store); an abandoned upload aborted after its window;
//! a gibibyte through the proxy with its memory far below the object.

use crate::common;

use common::raw::{code, spawn_app};
use common::{Stack, Store, jpeg};
use presign_bench::client::http::Http;
use presign_bench::client::multipart;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;
/// 2 × 5 MiB and a last part of 1 MiB + 3 bytes.
const SIZE: usize = 11 * MIB + 3;
const PART: usize = 5 * MIB;

async fn start(s: &Stack, token: &str, size: usize) -> Value {
    let r = s
        .http
        .post(format!("{}/v1/multipart", s.broker))
        .bearer_auth(token)
        .json(&json!({"filename": "clip.jpg", "content_type": "image/jpeg", "size": size, "part_size": PART}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

/// Part `n`'s URL, then its bytes; the part's ETag.
async fn put_part(s: &Stack, token: &str, id: &str, n: usize, bytes: &[u8]) -> String {
    let r = s.http.post(format!("{}/v1/multipart/{id}/parts/{n}", s.broker)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let url: Value = r.json().await.unwrap();
    let part = &bytes[(n - 1) * PART..(n * PART).min(bytes.len())];
    let r = s.http.put(url["url"].as_str().unwrap()).body(part.to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.headers()["etag"].to_str().unwrap().trim_matches('"').to_owned()
}

async fn complete(s: &Stack, token: &str, id: &str, parts: &[(usize, String)]) -> (u16, Value) {
    let list: Vec<Value> = parts.iter().map(|(n, etag)| json!({"part_number": n, "etag": etag})).collect();
    let r = s
        .http
        .post(format!("{}/v1/multipart/{id}/complete", s.broker))
        .bearer_auth(token)
        .json(&json!({ "parts": list }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn three_parts_then_both_downloads(store: Store) {
    // The proxy cuts at 5 MiB too, so its path is multipart as well.
    let s = Stack::start_on(store, |c| {
        c.policy.multipart.threshold = PART as u64;
        c.policy.multipart.part_size = PART as u64;
    })
    .await;
    let token = s.token("alice");
    let bytes = jpeg(SIZE, 7);
    let started = start(&s, &token, SIZE).await;
    assert_eq!((started["parts"].as_u64(), started["part_size"].as_u64()), (Some(3), Some(PART as u64)));
    let id = started["upload_id"].as_str().unwrap();
    let mut parts = Vec::new();
    for n in [3, 1, 2] {
        parts.push((n, put_part(&s, &token, id, n, &bytes).await));
    }
    parts.sort();
    let (status, done) = complete(&s, &token, id, &parts).await;
    assert_eq!(status, 200, "{done}");
    let file_id = done["file_id"].as_str().unwrap();
    let (status, read) = common::UploadPath::Presigned.download(&s, &token, file_id).await;
    assert_eq!((status, read.len()), (200, SIZE));
    assert!(read == bytes, "the presigned download differs from what was uploaded");
    // Completing again answers the same file; another user may not.
    assert_eq!(complete(&s, &token, id, &parts).await.1["file_id"], file_id);
    assert_eq!(complete(&s, &s.token("mallory"), id, &parts).await.0, 403);
    assert_eq!(s.broker_state.app.db.count_multipart().await.unwrap(), 0);
    // A completed upload cannot be aborted.
    let r = s.http.delete(format!("{}/v1/multipart/{id}", s.broker)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "already_completed");

    // The same bytes through the proxy, which streams them to the store in parts.
    let up = common::UploadPath::Proxied.upload(&s, &token, "image/jpeg", bytes.clone()).await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert!(up.body["etag"].as_str().unwrap().ends_with("-3"), "stored in 3 parts: {}", up.body);
    let (status, read) = common::UploadPath::Proxied.download(&s, &token, up.body["file_id"].as_str().unwrap()).await;
    assert_eq!((status, read.len()), (200, SIZE));
    assert!(read == bytes, "the proxied download differs from what was uploaded");
    assert_eq!(s.proxy_state.app.db.count_multipart().await.unwrap(), 0);
}

#[tokio::test]
async fn three_parts_and_a_completion_read_back_through_both_architectures() {
    three_parts_then_both_downloads(Store::Embedded).await;
}

#[tokio::test]
async fn three_parts_and_a_completion_read_back_through_both_architectures_on_minio() {
    three_parts_then_both_downloads(Store::Minio).await;
}

async fn forged_completions(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let token = s.token("alice");
    let bytes = jpeg(SIZE, 9);
    let started = start(&s, &token, SIZE).await;
    let id = started["upload_id"].as_str().unwrap();
    let mut parts = Vec::new();
    for n in 1..=3 {
        parts.push((n, put_part(&s, &token, id, n, &bytes).await));
    }
    // A part left out, or listed twice: refused by the broker before the store sees it.
    let (status, body) = complete(&s, &token, id, &parts[..2]).await;
    assert_eq!((status, code(body.to_string().as_bytes()).as_str()), (400, "invalid_parts"), "{body}");
    let twice = [parts[0].clone(), parts[0].clone(), parts[2].clone()];
    assert_eq!(complete(&s, &token, id, &twice).await.0, 400);
    // Part 2's ETag swapped for part 1's: a well-formed list the parts do not match.
    let forged = [parts[0].clone(), (2, parts[0].1.clone()), parts[2].clone()];
    let (status, body) = complete(&s, &token, id, &forged).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_parts")), "{body}");
    let files: Vec<String> = s.objects().await.into_iter().filter(|k| k.starts_with("files/")).collect();
    assert!(files.is_empty(), "a refused completion left {files:?}");
    assert_eq!(s.broker_state.app.db.count().await.unwrap(), 0);
    // Whatever the store kept, an abort leaves nothing, and says so again when repeated.
    for _ in 0..2 {
        let r = s.http.delete(format!("{}/v1/multipart/{id}", s.broker)).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204);
    }
    assert_eq!(s.broker_state.app.db.count_multipart().await.unwrap(), 0);
    // Nothing is left to complete.
    let (status, body) = complete(&s, &token, id, &parts).await;
    assert_eq!((status, body["error"]["code"].as_str()), (410, Some("upload_expired")), "{body}");
}

#[tokio::test]
async fn a_completion_with_a_missing_or_forged_etag_is_refused_and_leaves_no_object() {
    forged_completions(Store::Embedded).await;
}

#[tokio::test]
async fn a_completion_with_a_missing_or_forged_etag_is_refused_and_leaves_no_object_on_minio() {
    forged_completions(Store::Minio).await;
}

/// A TCP forwarder to `target` that cuts, once, the connection carrying the first request for
/// part `part` (after a little of its body), and counts the requests for each part it sees.
struct FlakyLink {
    url: String,
    /// Requests seen per part number (1-based index; 0 unused).
    seen: Arc<Vec<AtomicU64>>,
}

impl FlakyLink {
    async fn start(target: &str, part: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_owned();
        let seen: Arc<Vec<AtomicU64>> = Arc::new((0..10).map(|_| AtomicU64::new(0)).collect());
        let cut = Arc::new(AtomicBool::new(false));
        let counts = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let (target, seen, cut) = (target.clone(), counts.clone(), cut.clone());
                tokio::spawn(async move {
                    let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else { return };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    let back = tokio::spawn(async move { tokio::io::copy(&mut ur, &mut cw).await });
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut tail: Vec<u8> = Vec::new();
                    let mut cutting: Option<usize> = None;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        // Request lines are found in the stream with the tail of the last read.
                        let window = [tail.as_slice(), &buf[..n]].concat();
                        for p in 1..10 {
                            let needle = format!("partNumber={p}&");
                            let hits = window.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count();
                            let old = tail.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count();
                            seen[p].fetch_add((hits - old) as u64, Relaxed);
                            if p == part && hits > old && !cut.swap(true, Relaxed) {
                                cutting = Some(256 * 1024);
                            }
                        }
                        tail = window[window.len().saturating_sub(32)..].to_vec();
                        if let Some(left) = cutting.as_mut() {
                            if *left <= n {
                                break; // both sockets drop: the client sees its PUT cut mid-body
                            }
                            *left -= n;
                        }
                        if uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    back.abort();
                });
            }
        });
        Self { url, seen }
    }
}

#[tokio::test]
async fn a_failed_part_is_sent_again_alone_and_the_upload_completes() {
    let s = Stack::start().await;
    // A second broker whose store endpoint (and so every URL it signs) is behind the flaky link.
    let link = FlakyLink::start(&s.storage, 2).await;
    let mut config = common::config(&link.url, &s.bucket, s.data_dir.with_file_name("flaky.sqlite3"));
    config.policy.multipart.part_size = PART as u64;
    let broker = Arc::new(presign_bench::broker::Broker::start(config, None).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(presign_bench::broker::serve(listener, broker.clone(), std::future::pending()));

    let bytes = jpeg(SIZE, 11);
    let token = format!("Bearer {}", s.token("alice"));
    let (app, store, done) =
        (Http::new(Duration::from_secs(60)), Http::new(Duration::from_secs(60)), Http::new(Duration::from_secs(60)));
    let plan = multipart::Plan {
        broker: &base,
        authorization: &token,
        filename: "clip.jpg",
        content_type: "image/jpeg",
        size: SIZE as u64,
        part_size: PART as u64,
        parts_in_flight: 1,
    };
    let body = |offset: u64, length: u64| {
        let (a, b) = (usize::try_from(offset).unwrap(), usize::try_from(offset + length).unwrap());
        vec![bytes::Bytes::copy_from_slice(&bytes[a..b])]
    };
    let clients = multipart::Clients { app: &app, store: &store, complete: &done };
    let up = multipart::upload(clients, plan, &body).await.expect("the upload completes after the retry");
    assert_eq!((up.parts, up.retries), (3, 1));
    let per_part: Vec<u64> = (1..=3).map(|p| link.seen[p].load(Relaxed)).collect();
    assert_eq!(per_part, [1, 2, 1], "part 2 sent twice, the others once");
    let file = broker.app.db.by_id(&up.file_id).await.unwrap().expect("the file is recorded");
    assert!(s.object_bytes(&file.key).await.unwrap() == bytes, "the stored object is what was sent");
}

async fn abandoned(store: Store) {
    let s = Stack::start_on(store, |c| {
        c.put_expiry = Duration::from_secs(1);
        c.complete_grace = Duration::from_secs(1);
        c.sweep.every = Duration::from_millis(500);
        // The sweeper waits the request and store timeouts past the window, for a completion
        // that started just before it closed.
        c.limits.request_timeout = Duration::from_secs(3);
        c.store_timeouts.operation = Duration::from_secs(2);
    })
    .await;
    let token = s.token("alice");
    let bytes = jpeg(SIZE, 13);
    let started = start(&s, &token, SIZE).await;
    let id = started["upload_id"].as_str().unwrap();
    put_part(&s, &token, id, 1, &bytes).await;
    assert_eq!(s.broker_state.app.db.count_multipart().await.unwrap(), 1);
    let swept =
        common::eventually(Duration::from_secs(20), async || common::metrics(&s.broker).await.swept_multipart == 1)
            .await;
    assert!(swept, "the sweeper aborted the upload after its window");
    assert_eq!(s.broker_state.app.db.count_multipart().await.unwrap(), 0);
    let r = s.http.post(format!("{}/v1/multipart/{id}/parts/1", s.broker)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 410, "no part URL is signed past the window");
    // The store holds no part of it.
    if matches!(store, Store::Minio) {
        let open = s.s3().list_multipart_uploads().bucket(&s.bucket).send().await.unwrap();
        assert!(open.uploads().is_empty(), "{:?}", open.uploads());
    } else {
        {
            // s3s-fs keeps parts as `.upload_id-<id>.part-<n>` files in its data directory.
            let parts = std::fs::read_dir(&s.data_dir)
                .unwrap()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(".upload_id-"))
                .count();
            assert_eq!(parts, 0, "no part file is left in the embedded store's directory");
        }
    }
}

#[tokio::test]
async fn an_abandoned_upload_leaves_no_parts_after_its_window() {
    abandoned(Store::Embedded).await;
}

#[tokio::test]
async fn an_abandoned_upload_leaves_no_parts_after_its_window_on_minio() {
    abandoned(Store::Minio).await;
}

#[tokio::test]
async fn a_gibibyte_through_the_proxy_in_parts_keeps_the_proxy_small() {
    use sha2::Digest;
    const GIB: usize = 1024 * MIB;
    let s = Stack::start().await;
    let proxy =
        spawn_app(&s, "proxy", &["--multipart-threshold", "64MiB", "--part-size", "16MiB", "--max-size", "2GiB"]).await;
    let block = jpeg(MIB, 21);
    let mut hash = sha2::Sha256::new();
    for _ in 0..1024 {
        hash.update(&block);
    }
    let expected: [u8; 32] = hash.finalize().into();
    let chunks = futures_util::stream::iter((0..1024).map(move |_| Ok::<_, std::io::Error>(block.clone())));
    let r = s
        .http
        .put(format!("{}/v1/proxy/uploads", proxy.url))
        .bearer_auth(s.token("alice"))
        .header("content-type", "image/jpeg")
        .header("content-length", GIB)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let record: Value = r.json().await.unwrap();
    assert!(record["etag"].as_str().unwrap().ends_with("-64"), "64 parts of 16 MiB: {record}");
    let m = common::metrics(&proxy.url).await;
    assert_eq!(m.storage.bytes_out / GIB as u64, 1, "the gibibyte crossed the proxy");
    assert!(
        m.peak_rss_bytes < 128 * MIB as u64,
        "the proxy peaked at {} MiB for a 1 GiB object",
        m.peak_rss_bytes >> 20
    );
    // Read back through the proxy and hashed as it streams.
    let mut r = s
        .http
        .get(format!("{}/v1/proxy/files/{}", proxy.url, record["file_id"].as_str().unwrap()))
        .bearer_auth(s.token("alice"))
        .send()
        .await
        .unwrap();
    let (mut hash, mut read) = (sha2::Sha256::new(), 0usize);
    while let Some(chunk) = r.chunk().await.unwrap() {
        read += chunk.len();
        hash.update(&chunk);
    }
    assert_eq!(read, GIB);
    assert_eq!(<[u8; 32]>::from(hash.finalize()), expected, "the object is the gibibyte sent");
}
