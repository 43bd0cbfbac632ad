//! The three servers, end to end on 127.0.0.1: real SigV4 checks, a real SQLite file.

// Tests compare small counters as f64 and build byte patterns by truncation on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::float_cmp)]
#![allow(clippy::case_sensitive_file_extension_comparisons, clippy::unused_self)]

use crate::common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

/// One suite, both architectures, both stores: upload, download, compare bytes, check the row.
async fn roundtrip(path: UploadPath, store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let token = s.token("alice");
    let bytes = jpeg(300_000, 7);
    let up = path.upload(&s, &token, "image/jpeg", bytes.clone()).await;
    assert_eq!(up.status, if matches!(path, UploadPath::Presigned) { 200 } else { 201 }, "{}", up.body);
    let file = stored(&s, &up).await;
    let key = file["key"].as_str().unwrap();
    let prefix = if matches!(path, UploadPath::Presigned) { "files/alice/" } else { "proxied/alice/" };
    assert!(key.starts_with(prefix) && key.ends_with(".jpg"), "{key}");
    assert_eq!(file["size"], 300_000);
    assert_eq!(file["content_type"], "image/jpeg");
    assert_eq!(file["filename"], "photo.jpg");
    assert_eq!(s.object_bytes(key).await.unwrap(), bytes);

    let file_id = up.body["file_id"].as_str().unwrap();
    let (status, downloaded) = path.download(&s, &token, file_id).await;
    assert_eq!(status, 200);
    assert_eq!(downloaded, bytes);
    // Only the owner may download; another user's file is answered like an unknown one (404),
    // so file ids cannot be probed for existence.
    let (status, _) = path.download(&s, &s.token("mallory"), file_id).await;
    assert_eq!(status, 404);
    let (status, _) = path.download(&s, &token, "no-such-file").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn presigned_roundtrip() {
    roundtrip(UploadPath::Presigned, Store::Embedded).await;
}

#[tokio::test]
async fn proxied_roundtrip() {
    roundtrip(UploadPath::Proxied, Store::Embedded).await;
}

#[tokio::test]
async fn presigned_roundtrip_on_minio() {
    roundtrip(UploadPath::Presigned, Store::Minio).await;
}

#[tokio::test]
async fn proxied_roundtrip_on_minio() {
    roundtrip(UploadPath::Proxied, Store::Minio).await;
}

/// The shrunk answers still carry everything a client needs: this client uses nothing but the
/// presign answer (its URL, its headers, its upload id) and the completion's file id.
#[tokio::test]
async fn a_client_needs_nothing_but_the_answers() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let bytes = jpeg(20_000, 9);
    let r = s
        .http
        .post(format!("{}/v1/uploads", s.broker))
        .bearer_auth(&token)
        .json(&json!({"filename": "p.jpg", "content_type": "image/jpeg", "size": bytes.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let grant: Value = r.json().await.unwrap();
    let fields: Vec<&str> = grant.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["headers", "upload_id", "url"], "{grant}");
    let headers = grant["headers"].as_object().unwrap();
    assert_eq!(headers.keys().collect::<Vec<_>>(), ["Content-Type", "If-None-Match"], "{grant}");
    let upload_id = grant["upload_id"].as_str().unwrap();
    assert!(upload_id.len() < 110, "the upload id is compact: {} characters", upload_id.len());
    // The PUT: exactly the listed headers; Content-Length comes from the body.
    let mut put = s.http.put(grant["url"].as_str().unwrap());
    for (k, v) in headers {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(put.body(bytes.clone()).send().await.unwrap().status(), 200);
    let done = complete(&s, &token, upload_id).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let fields: Vec<&str> = done.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, ["file_id"], "{}", done.body);
    // The id is the UUID of the file's key (so a load generator can find the object to verify).
    let file = stored(&s, &done).await;
    let id = done.body["file_id"].as_str().unwrap();
    assert_eq!(file["key"].as_str().unwrap(), format!("files/alice/{id}.jpg"));
    let (status, downloaded) = UploadPath::Presigned.download(&s, &token, done.body["file_id"].as_str().unwrap()).await;
    assert_eq!((status, downloaded), (200, bytes));
    // The expiry the answer no longer states is in the URL, signed.
    assert!(grant["url"].as_str().unwrap().contains("X-Amz-Expires=600"), "{grant}");
}

#[tokio::test]
async fn completion_is_idempotent_and_owner_only() {
    completion(Store::Embedded).await;
}

#[tokio::test]
async fn completion_is_idempotent_and_owner_only_on_minio() {
    completion(Store::Minio).await;
}

async fn completion(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let token = s.token("alice");
    let bytes = jpeg(1000, 1);
    let r = s
        .http
        .post(format!("{}/v1/uploads", s.broker))
        .bearer_auth(&token)
        .json(&json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1000}))
        .send()
        .await
        .unwrap();
    let grant: Value = r.json().await.unwrap();
    let upload_id = grant["upload_id"].as_str().unwrap();

    // Completing before the upload: 409 object_missing.
    let early = complete(&s, &token, upload_id).await;
    assert_eq!((early.status, early.body["error"]["code"].as_str()), (409, Some("object_missing")));

    let put = s
        .http
        .put(grant["url"].as_str().unwrap())
        .header("content-type", "image/jpeg")
        .header("if-none-match", "*")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let other = complete(&s, &s.token("mallory"), upload_id).await;
    assert_eq!((other.status, other.body["error"]["code"].as_str()), (403, Some("forbidden")));

    let first = complete(&s, &token, upload_id).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let file_key = stored(&s, &first).await["key"].as_str().unwrap().to_owned();
    let upload_key = url_key(&s, grant["url"].as_str().unwrap());
    let upload_key = upload_key.as_str();
    assert_ne!(file_key.as_str(), upload_key, "the file is a copy the upload URL cannot reach");
    assert!(s.object_bytes(upload_key).await.is_none(), "the upload key is deleted at completion");
    // Completing again with nothing written since: the same file (a retry after a lost answer).
    let retry = complete(&s, &token, upload_id).await;
    assert_eq!((retry.status, &retry.body["file_id"]), (200, &first.body["file_id"]));
    // The URL is still valid and may write to the upload key again: the served file stays as
    // verified, and completing after that is refused (and what was written is deleted).
    let swap = s
        .http
        .put(grant["url"].as_str().unwrap())
        .header("content-type", "image/jpeg")
        .header("if-none-match", "*")
        .body(jpeg(1000, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(swap.status(), 200);
    assert_eq!(s.object_bytes(&file_key).await.unwrap(), bytes);
    let second = complete(&s, &token, upload_id).await;
    assert_eq!((second.status, second.body["error"]["code"].as_str()), (409, Some("already_completed")));
    assert!(s.object_bytes(upload_key).await.is_none());
    assert_eq!(s.object_bytes(&file_key).await.unwrap(), bytes);
    assert_eq!(s.broker_state.app.db.count().await.unwrap(), 1);

    let forged = complete(&s, &token, "eyJhbGciOiJIUzI1NiJ9.e30.bm90LWEtc2lnbmF0dXJl").await;
    assert_eq!((forged.status, forged.body["error"]["code"].as_str()), (400, Some("invalid_upload_id")));

    // JSON download answer.
    let r = s
        .http
        .get(format!("{}/v1/files/{}", s.broker, first.body["file_id"].as_str().unwrap()))
        .bearer_auth(&token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["url"].as_str().unwrap().contains("X-Amz-Expires=900"), "{body}");
    assert!(body["expires_at"].as_str().is_some());
}

async fn post_upload(s: &Stack, auth: Option<&str>, body: &str) -> (u16, Value) {
    let mut r = s.http.post(format!("{}/v1/uploads", s.broker)).header("content-type", "application/json");
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let r = r.body(body.to_owned()).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn broker_refusals() {
    let s = Stack::start().await;
    let bearer = format!("Bearer {}", s.token("alice"));
    let ok = r#"{"filename":"a.jpg","content_type":"image/jpeg","size":10}"#;
    let forged = format!(
        "Bearer {}",
        presign_bench::app::auth::Tokens::new(b"wrong").mint("alice", Duration::from_secs(60)).unwrap()
    );
    let expired = {
        use jsonwebtoken::{EncodingKey, Header, encode};
        let claims = json!({"sub": "alice", "iat": 1, "exp": 1000});
        format!("Bearer {}", encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap())
    };
    let cases: Vec<(Option<&str>, &str, u16, &str)> = vec![
        (None, ok, 401, "missing_token"),
        (Some(forged.as_str()), ok, 401, "invalid_token"),
        (Some(expired.as_str()), ok, 401, "token_expired"),
        (Some(bearer.as_str()), r#"{"filename":"a","content_type":"text/html","size":10}"#, 415, "unsupported_type"),
        (Some(bearer.as_str()), r#"{"filename":"a","content_type":"image/jpeg","size":104857601}"#, 413, "too_large"),
        (Some(bearer.as_str()), r#"{"filename":"a","content_type":"image/jpeg","size":0}"#, 400, "invalid_size"),
        (Some(bearer.as_str()), r#"{"filename":"a","content_type":"image/jpeg","size":-1}"#, 400, "invalid_request"),
        (Some(bearer.as_str()), r#"{"filename":"a","content_type":"image/jpeg""#, 400, "malformed_json"),
        (Some(bearer.as_str()), r#"{"filename":"a","size":10}"#, 400, "invalid_request"),
        (Some(bearer.as_str()), "not json", 400, "malformed_json"),
    ];
    for (auth, body, status, code) in cases {
        let (got, json) = post_upload(&s, auth, body).await;
        assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)), "{body}: {json}");
        assert!(json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Unknown routes and methods answer JSON too.
    let r = s.http.get(format!("{}/v1/nope", s.broker)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.get(format!("{}/v1/uploads", s.broker)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn keys_are_generated_server_side() {
    let s = Stack::start().await;
    let bearer = format!("Bearer {}", s.token("alice"));
    let hostile = [
        r#"{"filename":"../../etc/passwd","content_type":"image/png","size":10,"key":"uploads/bob/evil.png"}"#,
        "{\"filename\":\"a\\u0000b/../../x.png\",\"content_type\":\"image/png\",\"size\":10}",
    ];
    for body in hostile {
        let (status, grant) = post_upload(&s, Some(&bearer), body).await;
        assert_eq!(status, 201, "{grant}");
        let key = &url_key(&s, grant["url"].as_str().unwrap());
        let id =
            key.strip_prefix("uploads/alice/").and_then(|k| k.strip_suffix(".png")).unwrap_or_else(|| panic!("{key}"));
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{key}");
        assert!(grant["url"].as_str().unwrap().contains(key));
    }
    let long = format!(r#"{{"filename":"{}.png","content_type":"image/png","size":10}}"#, "x".repeat(5000));
    let (status, grant) = post_upload(&s, Some(&bearer), &long).await;
    assert_eq!(status, 201);
    assert!(url_key(&s, grant["url"].as_str().unwrap()).len() < 100);
}

/// Presigns a PUT and returns (url, headers) for tampering.
async fn grant(s: &Stack, size: usize) -> (String, String) {
    let bearer = format!("Bearer {}", s.token("alice"));
    let body = format!(r#"{{"filename":"a.jpg","content_type":"image/jpeg","size":{size}}}"#);
    let (_, grant) = post_upload(s, Some(&bearer), &body).await;
    let url = grant["url"].as_str().unwrap().to_owned();
    let key = url_key(s, &url);
    (url, key)
}

async fn put(s: &Stack, url: &str, content_type: &str, body: Vec<u8>) -> u16 {
    let r = s.http.put(url).header("content-type", content_type).header("if-none-match", "*").body(body);
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn store_rejects_tampered_requests() {
    tampered(Store::Embedded).await;
}

#[tokio::test]
async fn minio_rejects_tampered_requests() {
    tampered(Store::Minio).await;
}

async fn tampered(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let bytes = jpeg(2048, 3);
    let (url, key) = grant(&s, bytes.len()).await;

    let sig_at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered_sig = url.clone();
    let flipped = if &url[sig_at..=sig_at] == "0" { "1" } else { "0" };
    tampered_sig.replace_range(sig_at..=sig_at, flipped);
    assert_eq!(put(&s, &tampered_sig, "image/jpeg", bytes.clone()).await, 403);

    let other_key = url.replace(&key, &key.replace("uploads/alice/", "uploads/bob/"));
    assert_eq!(put(&s, &other_key, "image/jpeg", bytes.clone()).await, 403);

    let longer = url.replace("X-Amz-Expires=600", "X-Amz-Expires=3600");
    assert_eq!(put(&s, &longer, "image/jpeg", bytes.clone()).await, 403);

    assert_eq!(put(&s, &url, "image/png", bytes.clone()).await, 403, "a different Content-Type");
    assert_eq!(put(&s, &url, "image/jpeg", bytes[..2000].to_vec()).await, 403, "a different length");
    assert!(s.objects().await.is_empty());

    // Without the signed If-None-Match the request is refused: s3s-fs finds the signature does
    // not match (403); MinIO finds a signed header missing (400).
    let r = s.http.put(&url).header("content-type", "image/jpeg").body(bytes.clone()).send().await.unwrap();
    let (status, body) = (r.status().as_u16(), r.text().await.unwrap());
    let expected = if store == Store::Minio { (400, "AccessDenied") } else { (403, "SignatureDoesNotMatch") };
    assert_eq!(status, expected.0, "{body}");
    assert!(body.contains(expected.1), "{body}");
    assert_eq!(put(&s, &url, "image/jpeg", bytes.clone()).await, 200, "the untouched URL works");
    // Create-only: the same URL cannot overwrite what was stored (and verified).
    let mut other = jpeg(2048, 99);
    other[100] ^= 0xFF;
    assert_eq!(put(&s, &url, "image/jpeg", other).await, 412);
    assert_eq!(s.object_bytes(&key).await.unwrap(), bytes);
}

#[tokio::test]
async fn store_rejects_expired_and_overlong_urls() {
    expired_and_overlong(Store::Embedded).await;
}

#[tokio::test]
async fn minio_rejects_expired_and_overlong_urls() {
    expired_and_overlong(Store::Minio).await;
}

async fn expired_and_overlong(store: Store) {
    use presign_bench::sigv4::{Addressing, Presigner};
    use std::time::SystemTime;
    let s = Stack::start_on(store, |_| {}).await;
    let p = Presigner::new(&s.storage, &s.bucket, "us-east-1", ACCESS_KEY, SECRET_KEY, Addressing::Path).unwrap();
    let bytes = jpeg(100, 1);
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = p.put("uploads/alice/x.jpg", "image/jpeg", 100, Duration::from_secs(600), an_hour_ago).unwrap();
    assert_eq!(put(&s, &expired.url, "image/jpeg", bytes.clone()).await, 403);

    // A correctly signed URL valid for eight days: SigV4 allows seven. Signed with aws-sigv4
    // directly, since our presigner refuses to make one.
    let url = sign_overlong(&s);
    let r = s.http.put(&url).header("content-type", "image/jpeg").body(bytes).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("AuthorizationQueryParametersError"));
    assert!(s.objects().await.is_empty());
}

fn sign_overlong(s: &Stack) -> String {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(8 * 24 * 3600));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("{}/{}/uploads/alice/y.jpg", s.storage, s.bucket);
    let headers = [("content-type", "image/jpeg"), ("content-length", "100")];
    let req = SignableRequest::new("PUT", &url, headers.into_iter(), SignableBody::UnsignedPayload).unwrap();
    let (instructions, _) = sign(req, &params).unwrap().into_parts();
    let mut http_req = http::Request::builder().method("PUT").uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut http_req);
    http_req.uri().to_string()
}

#[tokio::test]
async fn content_that_contradicts_its_type_is_deleted() {
    contradicting_content(Store::Embedded).await;
}

#[tokio::test]
async fn content_that_contradicts_its_type_is_deleted_on_minio() {
    contradicting_content(Store::Minio).await;
}

async fn contradicting_content(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let token = s.token("alice");
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(4096, b'x');
    for path in [UploadPath::Presigned, UploadPath::Proxied] {
        let up = path.upload(&s, &token, "image/jpeg", pdf.clone()).await;
        assert_eq!(
            (up.status, up.body["error"]["code"].as_str()),
            (422, Some("content_mismatch")),
            "{path:?}: {}",
            up.body
        );
        assert!(up.body["error"]["message"].as_str().unwrap().contains("application/pdf"));
    }
    assert!(s.objects().await.is_empty(), "rejected objects are deleted");
    assert_eq!(s.broker_state.app.db.count().await.unwrap(), 0);
    assert_eq!(s.proxy_state.app.db.count().await.unwrap(), 0);
}

#[tokio::test]
async fn proxy_refusals_come_before_the_body() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let url = format!("{}/v1/proxy/uploads", s.proxy);
    let cases: Vec<(Option<&str>, &str, u64, u16, &str)> = vec![
        (None, "image/jpeg", 10, 401, "missing_token"),
        (Some(&token), "text/html", 10, 415, "unsupported_type"),
        (Some(&token), "image/jpeg", 200 * 1024 * 1024, 413, "too_large"),
    ];
    for (auth, ct, len, status, code) in cases {
        // Declare a length but send no body: the answer must not wait for it.
        let mut stream = tokio::net::TcpStream::connect(s.proxy.trim_start_matches("http://")).await.unwrap();
        let auth = auth.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "PUT /v1/proxy/uploads HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {ct}\r\nContent-Length: {len}\r\n\r\n"
        );
        let reply = raw_exchange(&mut stream, head.as_bytes()).await;
        assert!(reply.starts_with(&format!("HTTP/1.1 {status}")), "{reply}");
        assert!(reply.contains(&format!("\"code\":\"{code}\"")), "{reply}");
    }
    // No Content-Length (chunked): 411.
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(jpeg(100, 0)))]);
    let r = s
        .http
        .put(&url)
        .bearer_auth(&token)
        .header("content-type", "image/jpeg")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 411);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "length_required");
    assert!(s.objects().await.is_empty());
}

/// Writes `request` and reads the response head (bounded by a timeout).
async fn raw_exchange(stream: &mut tokio::net::TcpStream, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("no answer before the body")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn aborted_proxied_upload_leaves_nothing() {
    use tokio::io::AsyncWriteExt;
    let s = Stack::start().await;
    let token = s.token("alice");
    let size = 4 * 1024 * 1024;
    let body = jpeg(size, 9);
    let mut stream = tokio::net::TcpStream::connect(s.proxy.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "PUT /v1/proxy/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: image/jpeg\r\nContent-Length: {size}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..size / 2]).await.unwrap();
    stream.flush().await.unwrap();
    // Wait until the proxy is moving the body, then go away half-way.
    let moving = eventually(Duration::from_secs(10), async || metrics(&s.proxy).await.uploads_in_flight == 1).await;
    assert!(moving, "the proxy never started the upload");
    drop(stream);
    let settled = eventually(Duration::from_secs(10), async || metrics(&s.proxy).await.uploads_in_flight == 0).await;
    assert!(settled, "the aborted upload is still in flight");
    assert!(s.objects().await.is_empty(), "no object");
    assert_eq!(s.proxy_state.app.db.count().await.unwrap(), 0, "no row");
    let leftovers: Vec<_> = walk(&s.data_dir).into_iter().filter(|p| p.is_file()).collect();
    assert!(leftovers.is_empty(), "no partial file in the store: {leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn metrics_count_bytes_where_they_cross_the_socket() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let size = 8 * 1024 * 1024;
    let mib8 = size as f64;

    let before = metrics(&s.proxy).await;
    let up = UploadPath::Proxied.upload(&s, &token, "image/jpeg", jpeg(size, 1)).await;
    assert_eq!(up.status, 201);
    let after = metrics(&s.proxy).await;
    let client_in = (after.client.bytes_in - before.client.bytes_in) as f64;
    let storage_out = (after.storage.bytes_out - before.storage.bytes_out) as f64;
    assert!(client_in >= mib8, "client-side in {client_in} < 8 MiB");
    assert!(storage_out >= mib8, "storage-side out {storage_out} < 8 MiB");
    // Headers are counted too: more than the body, but not absurdly more.
    assert!(client_in < mib8 + 4096.0, "{client_in}");
    assert!(after.connections > before.connections);
    // Scrapes are not app traffic.
    assert!(after.admin.bytes_in > 0);

    let before = metrics(&s.broker).await;
    let up = UploadPath::Presigned.upload(&s, &token, "image/jpeg", jpeg(size, 2)).await;
    assert_eq!(up.status, 200);
    let after = metrics(&s.broker).await;
    let added = app_bytes(&after) - app_bytes(&before);
    assert!(added > 0 && added < 16 * 1024, "presigned upload added {added} bytes to the broker");
}

#[tokio::test]
async fn healthz() {
    let s = Stack::start().await;
    for base in [&s.broker, &s.proxy] {
        let r = s.http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let content_type = r.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
        assert_eq!(content_type, "application/json", "{base}/healthz");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body, serde_json::json!({ "status": "ok" }), "{base}/healthz");
    }
}

#[tokio::test]
async fn an_emulated_nic_paces_every_socket_of_the_server() {
    // 1 MB/s per direction, shared by the proxy's client and storage sockets.
    let s = Stack::start_with(|c| c.nic = Some(1_000_000.0)).await;
    let token = s.token("alice");
    let size = 512 * 1024;
    let up = UploadPath::Proxied.upload(&s, &token, "image/jpeg", jpeg(size, 4)).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let m = metrics(&s.proxy).await;
    // The body crossed the NIC inbound; all but the 64 KiB burst (and the last 16 KiB frame, whose
    // debt nothing waits for) had to wait for tokens.
    let busy = m.request_seconds;
    let floor = (size as f64 - 65_536.0 - 16_384.0) / 1_000_000.0;
    assert!(busy >= floor, "upload took {busy} s of request time, less than {floor} s a 1 MB/s NIC allows");
    assert!(m.storage.bytes_out >= size as u64);
}

/// A server's peak memory is its own. The test process holds 256 MiB when it starts the proxy;
/// `getrusage`'s ru_maxrss survives exec, so the proxy used to report them as its own peak.
#[tokio::test]
async fn a_server_reports_its_own_peak_memory_not_its_parents() {
    let s = Stack::start().await;
    let ballast = vec![7u8; 256 << 20];
    let proxy = raw::spawn_app(&s, "proxy", &[]).await;
    let m = metrics(&proxy.url).await;
    assert!(ballast.iter().step_by(4096).all(|b| *b == 7), "the ballast was resident");
    assert!(m.peak_rss_bytes < 128 << 20, "the proxy reports a peak of {} MiB", m.peak_rss_bytes >> 20);
}
