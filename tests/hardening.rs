//! The attacks of issue 11, each reproduced against real servers: the overwrite race, large
//! unauthenticated bodies, stalled bodies, a frozen store, killed servers' orphans, errors outside
//! the JSON contract, half-closed clients, and what error messages reveal. No timed assertions:
//! every wait is bounded so a hang fails the test, never a slow machine.

mod common;

use common::{Stack, Store, complete, eventually, jpeg, metrics};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for any answer in these tests: far above every timeout they configure.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

fn addr(url: &str) -> &str {
    url.trim_start_matches("http://").split('/').next().unwrap()
}

/// Reads one HTTP/1.1 response (head and a `Content-Length` body) from `stream`; returns the
/// status, the lowercase head and the body. Panics if it does not arrive within [`ANSWER_LIMIT`].
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> (u16, String, Vec<u8>) {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if buf.len() >= end + 4 + len {
                    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                    return (status, head, buf[end + 4..end + 4 + len].to_vec());
                }
            }
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            assert!(n > 0, "connection closed before a whole response: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(ANSWER_LIMIT, read).await.expect("no answer in time")
}

/// The JSON error code of a response body.
fn code(body: &[u8]) -> String {
    let v: Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code: {v}")).to_owned()
}

async fn grant(s: &Stack, token: &str, size: usize) -> Value {
    let r = s
        .http
        .post(format!("{}/v1/uploads", s.broker))
        .bearer_auth(token)
        .json(&json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": size}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn download(s: &Stack, token: &str, file_id: &str) -> Vec<u8> {
    let r = s.http.get(format!("{}/v1/files/{file_id}", s.broker)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let r = s.http.get(r.headers()["location"].to_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

// Finding 1: a slow PUT through the URL, started before the valid one, finishing after completion.
async fn overwrite_race(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let token = s.token("alice");
    let size = 64 * 1024;
    let good = jpeg(size, 3);
    let mut evil = b"<html><script>alert(1)</script>".to_vec();
    evil.resize(size, b' ');
    let g = grant(&s, &token, size).await;
    let url: http::Uri = g["url"].as_str().unwrap().parse().unwrap();

    let mut slow = TcpStream::connect(addr(&s.storage)).await.unwrap();
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\nIf-None-Match: *\r\n\r\n",
        url.path_and_query().unwrap(),
        url.authority().unwrap()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&evil[..size / 2]).await.unwrap();
    slow.flush().await.unwrap();

    let mut put = s.http.put(g["url"].as_str().unwrap());
    for (k, v) in g["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(put.body(good.clone()).send().await.unwrap().status(), 200);
    let done = complete(&s, &token, g["upload_id"].as_str().unwrap()).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let file_id = done.body["file_id"].as_str().unwrap();
    assert_eq!(download(&s, &token, file_id).await, good);

    slow.write_all(&evil[size / 2..]).await.unwrap();
    let (slow_status, _, slow_body) = read_response(&mut slow).await;
    // s3s-fs stores it (200: it checks If-None-Match when the PUT starts); MinIO refuses it at
    // commit (PreconditionFailed). Either way the file must not change.
    let slow_body = String::from_utf8_lossy(&slow_body);
    let why = slow_body.split("<Code>").nth(1).and_then(|c| c.split('<').next()).unwrap_or("");
    eprintln!("{store:?}: the slow PUT through the same URL was answered {slow_status} {why}");
    // Whatever the store did with the slow PUT, the served bytes are the verified ones.
    assert_eq!(download(&s, &token, file_id).await, good);
    let again = complete(&s, &token, g["upload_id"].as_str().unwrap()).await;
    if slow_status == 200 {
        assert_eq!((again.status, again.body["error"]["code"].as_str()), (409, Some("already_completed")));
    } else {
        assert_eq!((again.status, &again.body["file_id"]), (200, &done.body["file_id"]), "store said {slow_status}");
    }
    assert_eq!(download(&s, &token, file_id).await, good);
}

#[tokio::test]
async fn a_verified_file_survives_an_overwrite_race() {
    overwrite_race(Store::Embedded).await;
}

#[tokio::test]
async fn a_verified_file_survives_an_overwrite_race_on_minio() {
    overwrite_race(Store::Minio).await;
}

/// `presign-bench COMMAND` (broker or proxy) as a child process on `s`'s store and bucket.
async fn spawn_app(s: &Stack, command: &str, extra: &[&str]) -> common::Child {
    let store = ["--s3-endpoint", &s.storage, "--bucket", &s.bucket];
    let keys = ["--access-key", common::ACCESS_KEY, "--secret-key", common::SECRET_KEY];
    common::spawn_bin(&[&[command, "--listen", "127.0.0.1:0"][..], &store, &keys, extra].concat()).await
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

// Finding 2: bodies without a token are refused before they are read.
#[tokio::test]
async fn unauthenticated_large_bodies_are_refused_before_reading() {
    let s = Stack::start().await;
    let broker = spawn_app(&s, "broker", &[]).await;
    let pid = broker.child.id().unwrap();
    let before = rss_kib(pid);
    let body_len = 2 * 1024 * 1024;
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
    );
    let mut answered = Vec::new();
    let mut open = Vec::new();
    for _ in 0..100 {
        let mut c = TcpStream::connect(addr(&broker.url)).await.unwrap();
        c.write_all(head.as_bytes()).await.unwrap();
        // Part of the body, never all of it: the answer must not wait for the rest.
        let _ = c.write_all(&vec![b' '; 64 * 1024]).await;
        let (status, _, body) = read_response(&mut c).await;
        answered.push((status, code(&body)));
        open.push(c);
    }
    assert!(answered.iter().all(|(st, c)| *st == 401 && c == "missing_token"), "{answered:?}");
    let after = rss_kib(pid);
    // 100 buffered 2 MiB bodies would be 200 MiB; what is allowed here is noise.
    assert!(after < before + 32 * 1024, "broker RSS grew from {before} KiB to {after} KiB");

    // With a token, a JSON body above the limit is refused from its Content-Length alone.
    let token = s.token("alice");
    let mut c = TcpStream::connect(addr(&broker.url)).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let (status, _, body) = read_response(&mut c).await;
    assert_eq!((status, code(&body).as_str()), (413, "body_too_large"));
    // And a chunked one (no Content-Length) is cut at the limit.
    let big = json!({"filename": "x".repeat(20_000), "content_type": "image/jpeg", "size": 1}).to_string();
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(big.into_bytes())]);
    let r = s
        .http
        .post(format!("{}/v1/uploads", broker.url))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "body_too_large");
}

// Finding 3: a stalled body is cut after the body idle timeout, on both servers, leaving nothing.
#[tokio::test]
async fn a_stalled_body_is_cut_after_the_idle_timeout() {
    let s = Stack::start_with(|c| c.limits.body_idle_timeout = Duration::from_secs(1)).await;
    let token = s.token("alice");
    let size = 200_000;
    let mut c = TcpStream::connect(addr(&s.proxy)).await.unwrap();
    let head = format!(
        "PUT /v1/proxy/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\n\r\n"
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&jpeg(size, 1)[..10_000]).await.unwrap();
    let (status, _, body) = read_response(&mut c).await;
    assert_eq!((status, code(&body).as_str()), (408, "body_timeout"));
    let settled = eventually(Duration::from_secs(10), async || metrics(&s.proxy).await.uploads_in_flight == 0).await;
    assert!(settled, "the stalled upload is still in flight");
    assert!(s.objects().await.is_empty(), "no object");
    let partial = std::fs::read_dir(&s.data_dir).unwrap().flatten().filter(|e| e.path().is_file()).count();
    assert_eq!(partial, 0, "no temporary file left in the store");

    let mut c = TcpStream::connect(addr(&s.broker)).await.unwrap();
    let head = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n{{\"filename\""
    );
    c.write_all(head.as_bytes()).await.unwrap();
    let (status, _, body) = read_response(&mut c).await;
    assert_eq!((status, code(&body).as_str()), (408, "body_timeout"));
}

// Finding 4: a frozen store answers 504 within the store timeout, and /readyz tells.
async fn frozen_store(store: Store) {
    let s = Stack::start_on(store, |c| {
        c.store_timeouts.operation = Duration::from_secs(2);
        c.store_timeouts.connect = Duration::from_secs(1);
    })
    .await;
    let token = s.token("alice");
    let stored = common::UploadPath::Proxied.upload(&s, &token, "image/jpeg", jpeg(50_000, 1)).await;
    assert_eq!(stored.status, 201);
    let g = grant(&s, &token, 1000).await;
    let ready = s.http.get(format!("{}/readyz", s.broker)).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let pid = s.store_pid.expect("the store runs in its own process");
    common::signal(pid, Signal::SIGSTOP);
    let http = reqwest::Client::builder().timeout(ANSWER_LIMIT).build().unwrap();
    let file_id = stored.body["file_id"].as_str().unwrap();
    let get = http.get(format!("{}/v1/proxy/files/{file_id}", s.proxy)).bearer_auth(&token).send().await;
    let put = http
        .put(format!("{}/v1/proxy/uploads", s.proxy))
        .bearer_auth(&token)
        .header("content-type", "image/jpeg")
        .body(jpeg(50_000, 2))
        .send()
        .await;
    let done = http
        .post(format!("{}/v1/uploads/{}/complete", s.broker, g["upload_id"].as_str().unwrap()))
        .bearer_auth(&token)
        .send()
        .await;
    let readyz = http.get(format!("{}/readyz", s.broker)).send().await;
    let healthz = http.get(format!("{}/healthz", s.proxy)).send().await;
    common::signal(pid, Signal::SIGCONT);

    for (what, r) in [("proxy GET", get), ("proxy PUT", put), ("complete", done)] {
        let r = r.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert_eq!(r.status(), 504, "{what}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "storage_timeout", "{what}");
    }
    let readyz = readyz.unwrap();
    assert_eq!(readyz.status(), 503);
    assert!(readyz.headers().contains_key("retry-after"));
    assert_eq!(readyz.json::<Value>().await.unwrap()["error"]["code"], "storage_unavailable");
    assert_eq!(healthz.unwrap().status(), 200, "/healthz is liveness only");
    assert!(metrics(&s.proxy).await.storage_timeouts >= 2);
    let back = eventually(Duration::from_secs(15), async || {
        s.http.get(format!("{}/readyz", s.broker)).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(back, "/readyz did not recover after the store thawed");
}

#[tokio::test]
async fn a_frozen_store_answers_504_and_readyz_fails() {
    frozen_store(Store::EmbeddedChild).await;
}

#[tokio::test]
async fn a_frozen_store_answers_504_and_readyz_fails_on_minio() {
    frozen_store(Store::Minio).await;
}

// Finding 5: what a killed proxy leaves, and uploads never completed, are swept.
#[tokio::test]
async fn orphans_are_swept() {
    let sweep = presign_bench::app::sweep::Sweep { every: Duration::from_millis(500), grace: Duration::from_secs(1) };
    let s = Stack::start_with(|c| {
        c.sweep = sweep;
        c.put_expiry = Duration::from_secs(5);
        c.complete_grace = Duration::ZERO;
    })
    .await;
    let token = s.token("alice");
    // Kept: a completed presigned file and a proxied file, each with a row.
    let kept_presigned = common::presigned_upload(&s, &token, "image/jpeg", jpeg(5_000, 1)).await;
    let kept_proxied = common::UploadPath::Proxied.upload(&s, &token, "image/jpeg", jpeg(5_000, 2)).await;
    // Swept: an upload never completed.
    let g = grant(&s, &token, 1000).await;
    let mut put = s.http.put(g["url"].as_str().unwrap());
    for (k, v) in g["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(put.body(jpeg(1000, 3)).send().await.unwrap().status(), 200);
    // Swept: what a second proxy on the same bucket and database left when killed mid-upload.
    let db = s.data_dir.parent().unwrap().join("proxy.sqlite3");
    let killed = spawn_app(&s, "proxy", &["--db", db.to_str().unwrap()]).await;
    let uploads: Vec<_> = (0..8u8)
        .map(|i| {
            let (url, token, http) = (killed.url.clone(), token.clone(), s.http.clone());
            tokio::spawn(async move {
                let _ = http
                    .put(format!("{url}/v1/proxy/uploads"))
                    .bearer_auth(token)
                    .header("content-type", "image/jpeg")
                    .body(jpeg(300_000, i))
                    .send()
                    .await;
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    common::signal(killed.child.id().unwrap(), Signal::SIGKILL);
    for u in uploads {
        let _ = u.await;
    }
    // And the exact state the kill can leave: committed by the store, no row.
    s.s3()
        .put_object()
        .bucket(&s.bucket)
        .key("proxied/alice/left-by-a-kill.jpg")
        .body(jpeg(100, 4).into())
        .send()
        .await
        .unwrap();

    let kept: Vec<String> =
        [&kept_presigned, &kept_proxied].iter().map(|u| u.body["key"].as_str().unwrap().to_owned()).collect();
    // Clean: every object left is a file with a row (the killed proxy may have finished some).
    let clean = eventually(Duration::from_secs(30), async || {
        let objects = s.objects().await;
        let mut recorded = true;
        for key in &objects {
            let row =
                s.proxy_state.app.db.by_key(key).await.unwrap().or(s.broker_state.app.db.by_key(key).await.unwrap());
            recorded &= row.is_some();
        }
        recorded && kept.iter().all(|k| objects.contains(k))
    })
    .await;
    assert!(clean, "left: {:?}, kept: {kept:?}", s.objects().await);
    let broker = metrics(&s.broker).await;
    let proxy = metrics(&s.proxy).await;
    assert!(broker.swept_uploads >= 1, "{broker:?}");
    assert!(proxy.swept_unrecorded >= 1, "{proxy:?}");
    assert_eq!(download(&s, &token, kept_presigned.body["file_id"].as_str().unwrap()).await, jpeg(5_000, 1));
}

#[test]
fn abandoned_temporary_files_of_the_store_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join(".tmp.7.internal.part");
    let fresh = dir.path().join(".tmp.8.internal.part");
    let object = dir.path().join("not-a-temp-file");
    for p in [&old, &fresh, &object] {
        std::fs::write(p, b"x").unwrap();
    }
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    for p in [&old, &object] {
        std::fs::File::options().write(true).open(p).unwrap().set_modified(an_hour_ago).unwrap();
    }
    let removed = presign_bench::storage::embedded::sweep_temp_files(dir.path(), Duration::from_secs(600));
    assert_eq!(removed, 1);
    assert!(!old.exists() && fresh.exists() && object.exists());
}

// Finding 6: errors the HTTP stack writes are JSON too; overload is a JSON 503 with Retry-After.
#[tokio::test]
async fn every_error_is_json() {
    let s = Stack::start_with(|c| {
        c.limits.max_in_flight = 1;
        c.limits.request_timeout = Duration::from_secs(2);
    })
    .await;
    let token = s.token("alice");
    let expect = async |r: reqwest::Response, status: u16, want: &str| {
        assert_eq!(r.status(), status, "{want}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{want}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], want);
    };
    let big = json!({"filename": "x".repeat(9000), "content_type": "image/jpeg", "size": 1});
    let r = s.http.post(format!("{}/v1/uploads", s.broker)).bearer_auth(&token).json(&big).send().await.unwrap();
    expect(r, 413, "body_too_large").await;
    let r = s.http.get(format!("{}/v1/files/%FF%FE", s.broker)).bearer_auth(&token).send().await.unwrap();
    expect(r, 400, "invalid_request").await;
    let r = s.http.get(format!("{}/v1/proxy/files/%C3%28", s.proxy)).bearer_auth(&token).send().await.unwrap();
    expect(r, 400, "invalid_request").await;
    let r = s.http.delete(format!("{}/v1/uploads", s.broker)).send().await.unwrap();
    expect(r, 405, "method_not_allowed").await;
    let r = s.http.get(format!("{}/nope", s.proxy)).send().await.unwrap();
    expect(r, 404, "not_found").await;

    // An upload slower than the request timeout (its body keeps trickling in): 408.
    let slow = TcpStream::connect(addr(&s.proxy)).await.unwrap();
    let (mut rd, mut wr) = slow.into_split();
    let size = 100_000;
    let head = format!(
        "PUT /v1/proxy/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\n\r\n"
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    wr.write_all(&jpeg(size, 1)[..1000]).await.unwrap();
    let moving = eventually(Duration::from_secs(10), async || metrics(&s.proxy).await.uploads_in_flight == 1).await;
    assert!(moving, "the slow upload never started");
    // Meanwhile it holds the one in-flight slot: the next request is shed.
    let r = s.http.get(format!("{}/v1/proxy/files/x", s.proxy)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    expect(r, 503, "overloaded").await;
    let trickle = async {
        for _ in 0..100 {
            if wr.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::future::pending::<()>().await;
    };
    let (status, _, body) = tokio::select! {
        answer = read_response(&mut rd) => answer,
        () = trickle => unreachable!(),
    };
    assert_eq!((status, code(&body).as_str()), (408, "request_timeout"));
    assert!(metrics(&s.proxy).await.overloaded_requests >= 1);
    let settled = eventually(Duration::from_secs(10), async || metrics(&s.proxy).await.uploads_in_flight == 0).await;
    assert!(settled && s.objects().await.is_empty(), "the timed-out upload left something");
}

// Finding 6, at the connection level: above the cap, a JSON 503 written before any HTTP is set up.
#[tokio::test]
async fn connections_above_the_cap_get_a_json_503() {
    let s = Stack::start_with(|c| c.limits.max_connections = 2).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr(&s.broker)).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert_eq!(read_response(&mut c).await.0, 200);
        open.push(c);
    }
    let mut over = TcpStream::connect(addr(&s.broker)).await.unwrap();
    over.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (status, head, body) = read_response(&mut over).await;
    assert_eq!((status, code(&body).as_str()), (503, "overloaded"));
    assert!(head.contains("retry-after: 1") && head.contains("application/json"), "{head}");
    drop(open);
    let freed = eventually(Duration::from_secs(10), async || {
        let mut c = TcpStream::connect(addr(&s.broker)).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        read_response(&mut c).await.0 == 200
    })
    .await;
    assert!(freed, "closed connections did not free their slots");
}

// Finding 7: clients that half-close after their request still get the answer.
#[tokio::test]
async fn half_closed_clients_get_their_answer() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let body = json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}).to_string();
    let mut c = TcpStream::connect(addr(&s.broker)).await.unwrap();
    let request = format!(
        "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    c.write_all(request.as_bytes()).await.unwrap();
    c.shutdown().await.unwrap();
    let (status, _, _) = read_response(&mut c).await;
    assert_eq!(status, 201);

    let file = jpeg(100_000, 5);
    let mut c = TcpStream::connect(addr(&s.proxy)).await.unwrap();
    let head = format!(
        "PUT /v1/proxy/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        file.len()
    );
    c.write_all(head.as_bytes()).await.unwrap();
    c.write_all(&file).await.unwrap();
    c.shutdown().await.unwrap();
    let (status, _, body) = read_response(&mut c).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let key = serde_json::from_slice::<Value>(&body).unwrap()["key"].as_str().unwrap().to_owned();
    assert_eq!(s.object_bytes(&key).await.unwrap(), file);
}

// Finding 8: messages reveal no internals and echo little.
#[tokio::test]
async fn error_messages_carry_no_internals() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let long_type = "image/".to_owned() + &"x".repeat(5000);
    let r = s
        .http
        .post(format!("{}/v1/uploads", s.broker))
        .bearer_auth(&token)
        .json(&json!({"filename": "a", "content_type": long_type, "size": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let message = r.json::<Value>().await.unwrap()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.len() < 300, "{} bytes: {message}", message.len());

    let forged = format!("{token}x");
    let r = s.http.post(format!("{}/v1/uploads", s.broker)).bearer_auth(forged).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["message"], "invalid token");

    // The store gone: the client learns that it failed, not where it lives or how.
    let g = grant(&s, &token, 1000).await;
    let mut s = s;
    s.stop_store();
    let done = complete(&s, &token, g["upload_id"].as_str().unwrap()).await;
    let proxied = common::UploadPath::Proxied.upload(&s, &token, "image/jpeg", jpeg(1000, 1)).await;
    for r in [done, proxied] {
        assert_eq!((r.status, r.body["error"]["code"].as_str()), (502, Some("storage_error")), "{}", r.body);
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(!message.contains("127.0.0.1") && !message.to_lowercase().contains("refused"), "{message}");
    }
}

// Finding 5, at the store: where it supports lifecycle rules, it expires abandoned uploads itself.
#[tokio::test]
async fn minio_expires_abandoned_uploads_by_lifecycle_rule() {
    let s = Stack::start_on_minio().await;
    let config = s.s3().get_bucket_lifecycle_configuration().bucket(&s.bucket).send().await.unwrap();
    let rules: Vec<(Option<&str>, Option<i32>)> = config
        .rules()
        .iter()
        .map(|r| {
            (r.filter().and_then(|f| f.prefix()), r.expiration().and_then(aws_sdk_s3::types::LifecycleExpiration::days))
        })
        .collect();
    assert_eq!(rules, vec![(Some("uploads/"), Some(1))]);
}

// The store timeout watches the store, never the client: an upload slower than it, from a client
// that pauses but never stalls, is stored.
#[tokio::test]
async fn a_slow_client_is_not_a_slow_store() {
    let s = Stack::start_with(|c| c.store_timeouts.operation = Duration::from_secs(1)).await;
    let token = s.token("alice");
    let file = jpeg(40_000, 6);
    let pieces: Vec<Vec<u8>> = file.chunks(4_000).map(<[u8]>::to_vec).collect();
    let paced = futures_util::stream::unfold(pieces.into_iter(), async |mut rest| {
        let piece = rest.next()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some((Ok::<_, std::io::Error>(piece), rest))
    });
    let r = s
        .http
        .put(format!("{}/v1/proxy/uploads", s.proxy))
        .bearer_auth(&token)
        .header("content-type", "image/jpeg")
        .header("content-length", file.len())
        .body(reqwest::Body::wrap_stream(paced))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key = r.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    assert_eq!(s.object_bytes(&key).await.unwrap(), file);
}
