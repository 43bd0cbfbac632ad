//! The attacks of issue 11 on cleanup and the error contract, each reproduced against real
//! servers: orphans of killed servers, errors the HTTP stack writes, overload, half-closed
//! clients, and what error messages reveal. Every wait is bounded; no timed assertions.

use crate::common;

use common::raw::{addr, code, download, grant, read_response, spawn_app};
use common::{Stack, complete, eventually, jpeg, metrics, stored};
use nix::sys::signal::Signal;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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

    let mut kept = Vec::new();
    for u in [&kept_presigned, &kept_proxied] {
        kept.push(stored(&s, u).await["key"].as_str().unwrap().to_owned());
    }
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
    let removed = presign_bench::storage::embedded::Leftovers::default().sweep(dir.path(), Duration::from_secs(600));
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
