//! Raw HTTP for the attack tests: a response read off a socket, error codes, and the steps of the
//! presigned flow those tests repeat.

use super::Stack;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::AsyncReadExt;

pub const ANSWER_LIMIT: Duration = Duration::from_secs(30);

pub fn addr(url: &str) -> &str {
    url.trim_start_matches("http://").split('/').next().unwrap()
}

/// Reads one HTTP/1.1 response (head and a `Content-Length` body) from `stream`; returns the
/// status, the lowercase head and the body. Panics if it does not arrive within [`ANSWER_LIMIT`].
pub async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> (u16, String, Vec<u8>) {
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
pub fn code(body: &[u8]) -> String {
    let v: Value =
        serde_json::from_slice(body).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code: {v}")).to_owned()
}

pub async fn grant(s: &Stack, token: &str, size: usize) -> Value {
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

pub async fn download(s: &Stack, token: &str, file_id: &str) -> Vec<u8> {
    let r = s.http.get(format!("{}/v1/files/{file_id}", s.broker)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let r = s.http.get(r.headers()["location"].to_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

pub async fn spawn_app(s: &Stack, command: &str, extra: &[&str]) -> super::Child {
    let store = ["--s3-endpoint", &s.storage, "--bucket", &s.bucket];
    let keys = ["--access-key", super::ACCESS_KEY, "--secret-key", super::SECRET_KEY];
    // The database in a directory the test owns, unless the test names one.
    let scratch = tempfile::tempdir().unwrap();
    let db = scratch.path().join("app.sqlite3");
    let db = if extra.contains(&"--db") { Vec::new() } else { vec!["--db", db.to_str().unwrap()] };
    let mut child =
        super::spawn_bin(&[&[command, "--listen", "127.0.0.1:0"][..], &store, &keys, &db, extra].concat()).await;
    child.scratch = Some(scratch);
    child
}
