//! Checksums the store enforces: a presign request may carry the file's SHA-256; the broker signs
//! it into the PUT as `x-amz-checksum-sha256` (a header: S3 ignores it in the query), the store
//! refuses other bytes and keeps nothing, and the post-upload check compares the stored checksum.

use crate::common;

use base64::Engine;
use common::{Stack, Store, jpeg};
use serde_json::{Value, json};
use sha2::Digest;
use std::time::Duration;

const SIZE: usize = 64 * 1024;

fn sha256(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
}

async fn grant(s: &Stack, token: &str, sum: &str) -> (u16, Value) {
    let body = json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": SIZE, "checksum_sha256": sum});
    let r = s.http.post(format!("{}/v1/uploads", s.broker)).bearer_auth(token).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn put(s: &Stack, g: &Value, body: Vec<u8>) -> (u16, String) {
    let mut put = s.http.put(g["url"].as_str().unwrap());
    for (k, v) in g["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    let r = put.body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn complete(s: &Stack, token: &str, g: &Value) -> (u16, Value) {
    let id = g["upload_id"].as_str().unwrap();
    let url = format!("{}/v1/uploads/{id}/complete", s.broker);
    let r = s.http.post(url).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn the_store_enforces_the_signed_sha256(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let token = s.token("dana");
    let body = jpeg(SIZE, 9);
    let (status, g) = grant(&s, &token, &sha256(&body)).await;
    assert_eq!(status, 201, "{g}");
    // Signed as a header, sent as the grant says; never in the query.
    assert_eq!(g["headers"]["X-Amz-Checksum-Sha256"], sha256(&body), "{g}");
    let url = g["url"].as_str().unwrap();
    assert!(url.contains("x-amz-checksum-sha256") && !url.contains("x-amz-checksum-sha256="), "{url}");

    // Other bytes of the same length under the signed SHA-256: refused, nothing kept.
    let mut other = body.clone();
    other[SIZE / 2] ^= 0xff;
    let (status, answer) = put(&s, &g, other).await;
    assert_eq!(status, 400, "{store:?}: {answer}");
    assert!(answer.contains("BadDigest") || answer.contains("XAmzContentChecksumMismatch"), "{answer}");
    assert!(s.objects().await.is_empty(), "{store:?}: a refused PUT left {:?}", s.objects().await);

    // The right bytes: stored, and verified against the stored checksum at completion.
    let (status, answer) = put(&s, &g, body.clone()).await;
    assert_eq!(status, 200, "{store:?}: {answer}");
    let (status, done) = complete(&s, &token, &g).await;
    assert_eq!(status, 200, "{store:?}: {done}");

    // Written over behind the URL's back (the store's own keys, no checksum): the completion
    // finds a stored SHA-256 that is not the signed one, and deletes the object.
    let (_, g2) = grant(&s, &token, &sha256(&body)).await;
    let key = presign_bench::sigv4::path_style_key(g2["url"].as_str().unwrap(), &s.bucket).unwrap();
    let forged = jpeg(SIZE, 10);
    s.s3()
        .put_object()
        .bucket(&s.bucket)
        .key(&key)
        .content_type("image/jpeg")
        .body(forged.into())
        .send()
        .await
        .unwrap();
    let (status, answer) = complete(&s, &token, &g2).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("checksum_mismatch")), "{store:?}: {answer}");
    assert!(!s.objects().await.contains(&key), "{store:?}: the mismatching object stays");
    // Asked again, the same answer: the rejection is recorded.
    let (status, answer) = complete(&s, &token, &g2).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("checksum_mismatch")), "{answer}");
}

#[tokio::test]
async fn the_embedded_store_enforces_a_signed_sha256() {
    the_store_enforces_the_signed_sha256(Store::Embedded).await;
}

#[tokio::test]
async fn minio_enforces_a_signed_sha256() {
    the_store_enforces_the_signed_sha256(Store::Minio).await;
}

#[tokio::test]
async fn a_checksum_that_is_not_a_sha256_is_refused_before_signing() {
    let s = Stack::start().await;
    let token = s.token("dana");
    for bad in ["not base64!", "AAAA", &sha256(b"x")[..20]] {
        let (status, answer) = grant(&s, &token, bad).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (400, Some("invalid_request")), "{bad}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("checksum_sha256"), "{answer}");
    }
}

#[tokio::test]
async fn a_run_declares_sha256_and_times_its_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sums.toml");
    let text = "name = \"sums\"\ndescription = \"test\"\nmodes = [\"presigned\"]\n[target]\nuploads = 100\n[run]\nuploads = 10\nconcurrency = 2\nobject_size = \"256KiB\"\ncontent_type = \"image/jpeg\"\nusers = 2\nseed = 3\nverify = \"all\"\nchecksum = \"sha256\"\n[signing]\nenabled = false\n[storage]\nkind = \"embedded\"\n";
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("report");
    let (ok, _, stderr) =
        common::run_bin(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()], Duration::from_secs(300))
            .await;
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    common::validate_results(&r).unwrap_or_else(|e| panic!("results.json breaks the schema:\n{e}"));
    assert_eq!(r["scenario"]["checksum_sha256"], true);
    let m = &r["modes"]["presigned"];
    assert_eq!((m["uploads_ok"].as_u64(), m["verified"].as_u64()), (Some(10), Some(10)), "{m}");
    let hashing = &m["latency_us"]["checksum"];
    assert_eq!(hashing["count"], 10, "{hashing}");
    assert!(hashing["p50"].as_u64() > Some(0), "{hashing}");
}
