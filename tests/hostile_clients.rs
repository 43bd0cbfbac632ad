//! The second hardening round (issue 24), hostile clients: HTTP/2 connections that never answer
//! a graceful close, downloads whose client never reads, slow completion bodies, part URLs after
//! an upload ended, and the cap on open multipart uploads. Every wait is bounded, so a hang fails
//! the test; no assertion is on speed.

use crate::common;

use common::raw::{addr, code, read_response, spawn_app};
use common::{Stack, eventually, jpeg, metrics, rss_kib};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// HTTP/2's connection preface and an empty SETTINGS frame: all the client ever sends.
const H2_HELLO: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Reads `stream` until the server closes it (or `limit` passes); returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut sink = [0u8; 4096];
    let drained = tokio::time::timeout(limit, async { while matches!(stream.read(&mut sink).await, Ok(1..)) {} });
    drained.await.ok().map(|()| start.elapsed())
}

// Item 1: an HTTP/2 connection that never answers holds its slot forever.
#[tokio::test]
async fn an_http2_client_that_never_answers_is_cut_off_and_frees_its_slot() {
    let s = Stack::start().await;
    for server in ["broker", "proxy"] {
        let app = spawn_app(&s, server, &["--header-timeout", "3s", "--max-connections", "3"]).await;
        let mut silent = Vec::new();
        for _ in 0..3 {
            let mut c = TcpStream::connect(addr(&app.url)).await.unwrap();
            c.write_all(H2_HELLO).await.unwrap();
            silent.push(c);
        }
        // While they hold every slot, another client is refused.
        let mut other = TcpStream::connect(addr(&app.url)).await.unwrap();
        other.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        assert_eq!(read_response(&mut other).await.0, 503, "{server}: the cap is reached");
        // Idle for the header timeout: GOAWAY and PING; unanswered for another: closed (bounded
        // wait: 20 s where 6 s is the design).
        let mut held = Vec::new();
        for c in &mut silent {
            let t = closed_within(c, Duration::from_secs(20)).await;
            held.push(t.unwrap_or_else(|| panic!("{server}: a silent HTTP/2 connection was still open after 20 s")));
        }
        eprintln!("{server}: silent HTTP/2 connections closed after {held:?} (--header-timeout 3s)");
        let mut next = TcpStream::connect(addr(&app.url)).await.unwrap();
        next.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        assert_eq!(read_response(&mut next).await.0, 200, "{server}: the slots are free again");
    }
}

/// A proxied file of `len` bytes for `token`; returns its id.
async fn proxied_file(s: &Stack, token: &str, len: usize) -> String {
    let up = common::UploadPath::Proxied.upload(s, token, "image/jpeg", jpeg(len, 9)).await;
    assert_eq!(up.status, 201, "{}", up.body);
    up.body["file_id"].as_str().unwrap().to_owned()
}

// Item 6: a download whose client never reads holds a slot and a store connection.
#[tokio::test]
async fn a_download_nobody_reads_is_cut_off_after_the_send_timeout() {
    let s = Stack::start_with(|c| {
        c.limits.send_timeout = Duration::from_secs(3);
        c.limits.request_timeout = Duration::from_secs(600);
    })
    .await;
    let token = s.token("alice");
    let len = 20 * 1024 * 1024;
    let file = proxied_file(&s, &token, len).await;
    let before = metrics(&s.proxy).await;

    // HTTP/1.1 with a 4 KiB receive buffer: the request is sent, the answer never read.
    let mut h1 = Vec::new();
    for _ in 0..3 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut c = socket.connect(addr(&s.proxy).parse().unwrap()).await.unwrap();
        let head = format!("GET /v1/proxy/files/{file} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n");
        c.write_all(head.as_bytes()).await.unwrap();
        h1.push(c);
    }
    // HTTP/2 with a stream window of zero: the server may not send a byte of the body.
    let mut h2 = Vec::new();
    for _ in 0..3 {
        let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr(&s.proxy)).await.unwrap());
        let (mut send, conn) = hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(0)
            .handshake::<_, http_body_util::Empty<bytes::Bytes>>(io)
            .await
            .unwrap();
        let connection = tokio::spawn(conn);
        let request = http::Request::get(format!("{}/v1/proxy/files/{file}", s.proxy))
            .header("authorization", format!("Bearer {token}"))
            .body(http_body_util::Empty::new())
            .unwrap();
        let response = send.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        h2.push((response, connection));
    }
    // Each is cut off once it has waited the send timeout; nothing else ends them here.
    let start = Instant::now();
    let cut =
        eventually(Duration::from_secs(30), async || metrics(&s.proxy).await.send_timeouts >= before.send_timeouts + 6)
            .await;
    let waited = start.elapsed();
    let after = metrics(&s.proxy).await;
    assert!(cut, "send timeouts: {} (expected 6 more)", after.send_timeouts - before.send_timeouts);
    eprintln!(
        "6 unread downloads of 20 MiB (3 HTTP/1.1, 3 HTTP/2 with a zero window) cut off within {waited:?} of --send-timeout 3s"
    );
    assert_eq!(after.storage_timeouts, before.storage_timeouts, "a stalled client is no stalled store");
    for (_, connection) in h2 {
        let ended = tokio::time::timeout(Duration::from_secs(10), connection).await;
        assert!(ended.is_ok(), "an HTTP/2 connection with a shut window is still open");
    }
    for mut c in h1 {
        // What the kernel buffered is all there is: far less than the file, then the end.
        let mut got = 0;
        let mut buf = vec![0u8; 64 * 1024];
        let ended = tokio::time::timeout(Duration::from_secs(10), async {
            while let Ok(n @ 1..) = c.read(&mut buf).await {
                got += n;
            }
        })
        .await;
        assert!(ended.is_ok() && got < len, "an HTTP/1.1 download was not cut off ({got} bytes read)");
    }
    // The proxy's store connections were freed: a download that reads still works.
    let r = s.http.get(format!("{}/v1/proxy/files/{file}", s.proxy)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), len);
}

/// Starts a multipart upload of one part of 1 KiB for `token`.
async fn start_multipart(s: &Stack, broker: &str, token: &str) -> (u16, Value) {
    let r = s
        .http
        .post(format!("{broker}/v1/multipart"))
        .bearer_auth(token)
        .json(&json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1024}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}
// Item 5: one user can pin memory with slow completion bodies.
#[tokio::test]
async fn completion_bodies_are_bounded_by_the_upload_and_by_a_deadline() {
    let s = Stack::start().await;
    let broker = spawn_app(&s, "broker", &["--body-idle-timeout", "2s", "--max-in-flight", "1000"]).await;
    let token = s.token("alice");
    let (status, started) = start_multipart(&s, &broker.url, &token).await;
    assert_eq!(status, 201, "{started}");
    let path = format!("/v1/multipart/{}/complete", started["upload_id"].as_str().unwrap());
    let head = |extra: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n{extra}\r\n"
        )
    };

    // A one-part upload's completion is about 60 bytes: a declared 100 KiB is refused unread.
    let mut c = TcpStream::connect(addr(&broker.url)).await.unwrap();
    c.write_all(head("Content-Length: 102400\r\n").as_bytes()).await.unwrap();
    let (status, _, body) = read_response(&mut c).await;
    assert_eq!((status, code(&body).as_str()), (413, "body_too_large"));

    // Trickled a byte at a time, each within the idle timeout: cut at the whole-body deadline.
    let c = TcpStream::connect(addr(&broker.url)).await.unwrap();
    let (mut read, mut write) = c.into_split();
    write.write_all(head("Content-Length: 1000\r\n").as_bytes()).await.unwrap();
    let start = Instant::now();
    let trickle = tokio::spawn(async move {
        for _ in 0..1000 {
            if write.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let (status, _, body) = read_response(&mut read).await;
    let took = start.elapsed();
    trickle.abort();
    assert_eq!((status, code(&body).as_str()), (408, "body_timeout"), "after {took:?}");
    eprintln!(
        "a completion body trickled a byte every 500 ms was answered 408 after {took:?} (--body-idle-timeout 2s)"
    );

    // 200 connections of one user, each a chunked body of almost 1 MiB, then nothing: each is
    // refused past the upload's bound, so the broker buffers none of them.
    let pid = broker.child.id().unwrap();
    let before = rss_kib(pid);
    let chunk = format!("{:x}\r\n{}\r\n", 1000 * 1024, " ".repeat(1000 * 1024));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let (url, head, chunk) = (broker.url.clone(), head("Transfer-Encoding: chunked\r\n"), chunk.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(addr(&url)).await.unwrap();
            c.write_all(head.as_bytes()).await.unwrap();
            let _ = tokio::time::timeout(Duration::from_secs(5), c.write_all(chunk.as_bytes())).await;
            c
        }));
    }
    let mut open = Vec::new();
    for t in tasks {
        open.push(t.await.unwrap());
    }
    let after = rss_kib(pid);
    eprintln!("broker RSS with 200 slow 1000 KiB completion bodies: {before} KiB before, {after} KiB after");
    assert!(after < before + 32 * 1024, "broker RSS grew from {before} KiB to {after} KiB");
    drop(open);
}

// Item 7 (first half): the broker signed part URLs after the upload was completed or aborted.
#[tokio::test]
async fn no_part_url_is_signed_after_completion_or_abort() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let part_url = async |id: &str| {
        let r =
            s.http.post(format!("{}/v1/multipart/{id}/parts/1", s.broker)).bearer_auth(&token).send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        (status, body)
    };
    // Completed.
    let (_, started) = start_multipart(&s, &s.broker, &token).await;
    let id = started["upload_id"].as_str().unwrap().to_owned();
    let (status, url) = part_url(&id).await;
    assert_eq!(status, 200);
    let put = s.http.put(url["url"].as_str().unwrap()).body(jpeg(1024, 1)).send().await.unwrap();
    let etag = put.headers()["etag"].to_str().unwrap().to_owned();
    let done = s
        .http
        .post(format!("{}/v1/multipart/{id}/complete", s.broker))
        .bearer_auth(&token)
        .json(&json!({"parts": [{"part_number": 1, "etag": etag}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let (status, body) = part_url(&id).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_completed")), "{body}");
    // Aborted.
    let (_, started) = start_multipart(&s, &s.broker, &token).await;
    let id = started["upload_id"].as_str().unwrap().to_owned();
    let r = s.http.delete(format!("{}/v1/multipart/{id}", s.broker)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let (status, body) = part_url(&id).await;
    assert_eq!((status, body["error"]["code"].as_str()), (410, Some("upload_expired")), "{body}");
}

// Item 8: no per-user cap on open multipart uploads.
#[tokio::test]
async fn open_multipart_uploads_are_capped_per_user() {
    let s = Stack::start_with(|c| c.policy.multipart.max_open_per_user = 5).await;
    let token = s.token("mallory");
    // Twenty at once: exactly five are opened, the rest answered 429, and the store holds five.
    let starts = futures_util::future::join_all((0..20).map(|_| start_multipart(&s, &s.broker, &token))).await;
    let opened: Vec<&Value> = starts.iter().filter(|(st, _)| *st == 201).map(|(_, b)| b).collect();
    let refused: Vec<&Value> = starts.iter().filter(|(st, _)| *st == 429).map(|(_, b)| b).collect();
    assert_eq!((opened.len(), refused.len()), (5, 15), "{starts:?}");
    assert!(refused.iter().all(|b| b["error"]["code"] == "too_many_uploads"), "{refused:?}");
    assert_eq!(s.open_multipart_uploads().await, 5, "refused starts left store uploads behind");
    // Another user is not affected; once one is aborted, the first user may start another.
    assert_eq!(start_multipart(&s, &s.broker, &s.token("alice")).await.0, 201);
    let id = opened[0]["upload_id"].as_str().unwrap();
    let r = s.http.delete(format!("{}/v1/multipart/{id}", s.broker)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(start_multipart(&s, &s.broker, &token).await.0, 201);
    assert_eq!(start_multipart(&s, &s.broker, &token).await.0, 429);
}
