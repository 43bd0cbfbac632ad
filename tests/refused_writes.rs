//! A write the store refuses leaves nothing (issue 24): a PUT whose body contradicts its
//! `Content-MD5` or its `x-amz-content-sha256` is answered 400 and stores nothing, on the
//! embedded store as on MinIO, and a refused overwrite leaves the object that was there.

use crate::common;

use base64::Engine;
use common::{Stack, Store, jpeg};
use md5::Digest as _;
use sha2::Digest as _;

fn md5_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

async fn refused_writes_leave_nothing(store: Store) {
    let s = Stack::start_on(store, |_| {}).await;
    let put = |key: &str, body: &[u8], md5: String| {
        s.s3().put_object().bucket(&s.bucket).key(key).content_md5(md5).body(body.to_vec().into()).send()
    };
    // The right digest is accepted.
    put("good", b"hello", md5_b64(b"hello")).await.unwrap();
    assert_eq!(s.object_bytes("good").await.as_deref(), Some(&b"hello"[..]));
    // A wrong one: BadDigest, and no object.
    let e = put("bad", b"hello", md5_b64(b"other")).await.unwrap_err();
    let code = e.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code).map(str::to_owned);
    assert_eq!(code.as_deref(), Some("BadDigest"), "{store:?}");
    assert_eq!(s.object_bytes("bad").await, None, "{store:?}: a PUT refused with BadDigest left its object");
    // A refused overwrite leaves what was there.
    let e = put("good", b"replaced", md5_b64(b"other")).await.unwrap_err();
    assert!(e.as_service_error().is_some(), "{store:?}");
    assert_eq!(s.object_bytes("good").await.as_deref(), Some(&b"hello"[..]), "{store:?}: the old object is gone");

    // A presigned PUT whose x-amz-content-sha256 is another body's: 4xx, never 500, and no object.
    let token = s.token("alice");
    let g = common::raw::grant(&s, &token, 1024).await;
    let mut req = s.http.put(g["url"].as_str().unwrap());
    for (k, v) in g["headers"].as_object().unwrap() {
        req = req.header(k, v.as_str().unwrap());
    }
    let other = const_hex::encode(sha2::Sha256::digest(b"other bytes"));
    let r = req.header("x-amz-content-sha256", other).body(jpeg(1024, 1)).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    eprintln!("{store:?}: a PUT with another body's x-amz-content-sha256 was answered {status}");
    assert!((400..500).contains(&status), "{store:?}: {status} {body}");
    let key = common::url_key(&s, g["url"].as_str().unwrap());
    assert_eq!(s.object_bytes(&key).await, None, "{store:?}: a refused PUT left its object");
}

#[tokio::test]
async fn refused_writes_leave_nothing_on_the_embedded_store() {
    refused_writes_leave_nothing(Store::Embedded).await;
}

#[tokio::test]
async fn refused_writes_leave_nothing_on_minio() {
    refused_writes_leave_nothing(Store::Minio).await;
}
