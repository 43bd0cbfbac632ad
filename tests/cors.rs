//! CORS on the broker and the proxy (`--cors-origin`): preflights answered for allowed origins
//! with the methods and headers each endpoint takes, nothing for other origins, and nothing at
//! all by default. Real servers; the requests are what a browser sends.

use crate::common;

use common::Stack;
use serde_json::json;

const APP: &str = "http://app.example.test:8000";

async fn preflight(url: &str, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    common::client()
        .request(reqwest::Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_lowercase()).unwrap_or_default()
}

#[tokio::test]
async fn allowed_origins_get_their_preflights_answered_and_others_do_not() {
    let s = Stack::start_with(|c| c.cors_origins = vec![APP.to_owned()]).await;
    let r = preflight(&format!("{}/v1/uploads", s.broker), APP, "POST", "authorization,content-type").await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    let allowed = header(&r, "access-control-allow-headers");
    assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{allowed}");
    assert!(header(&r, "access-control-allow-methods").contains("post"));
    assert_eq!(header(&r, "access-control-max-age"), "600");
    assert!(header(&r, "vary").contains("origin"));
    assert!(header(&r, "access-control-allow-credentials").is_empty(), "no credentials: bearer tokens only");

    let r =
        preflight(&format!("{}/v1/proxy/uploads", s.proxy), APP, "PUT", "authorization,content-type,x-filename").await;
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    assert!(header(&r, "access-control-allow-headers").contains("x-filename"));

    // The request itself carries the origin back, and exposes what the client reads.
    let r = s
        .http
        .post(format!("{}/v1/uploads", s.broker))
        .header("origin", APP)
        .bearer_auth(s.token("alice"))
        .json(&json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    assert!(header(&r, "access-control-expose-headers").contains("location"));

    // Another origin is not reflected, neither on the preflight nor on the request.
    let evil = "http://evil.example.test";
    let r = preflight(&format!("{}/v1/uploads", s.broker), evil, "POST", "authorization,content-type").await;
    assert!(header(&r, "access-control-allow-origin").is_empty(), "reflected {evil}");
    let r = s.http.get(format!("{}/v1/files/x", s.broker)).header("origin", evil).send().await.unwrap();
    assert!(header(&r, "access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn without_cors_origins_no_origin_is_allowed() {
    let s = Stack::start().await;
    let r = preflight(&format!("{}/v1/uploads", s.broker), APP, "POST", "authorization,content-type").await;
    assert!(header(&r, "access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn a_malformed_or_wildcard_origin_is_refused_at_start() {
    for bad in ["*", "app.example.test", "https://app.example.test/path", "ftp://x"] {
        let (ok, _, err) = common::run_bin(
            &["broker", "--listen", "127.0.0.1:0", "--cors-origin", bad, "--s3-endpoint", "http://127.0.0.1:1"],
            std::time::Duration::from_secs(30),
        )
        .await;
        assert!(!ok && err.contains("--cors-origin"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn the_embedded_store_lets_allowed_origins_put_with_presigned_urls() {
    let dir = tempfile::tempdir().unwrap();
    let creds = ["--access-key", common::ACCESS_KEY, "--secret-key", common::SECRET_KEY];
    let args = ["storage", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap(), "--cors-origin", APP];
    let store = common::spawn_bin(&[&args[..], &creds].concat()).await;
    let s = Stack::start_with(|c| c.s3.endpoint.clone_from(&store.url)).await;
    let grant = common::raw::grant(&s, &s.token("alice"), 1000).await;
    let url = grant["url"].as_str().unwrap();
    // The preflight of the presigned PUT, as Chromium sends it.
    let r = preflight(url, APP, "PUT", "content-type,if-none-match").await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    let allowed = header(&r, "access-control-allow-headers");
    assert!(allowed.contains("content-type") && allowed.contains("if-none-match"), "{allowed}");
    // The PUT itself answers with the origin and exposes the ETag.
    let body = common::jpeg(1000, 1);
    let r = s
        .http
        .put(url)
        .header("origin", APP)
        .header("content-type", "image/jpeg")
        .header("if-none-match", "*")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), APP);
    assert!(header(&r, "access-control-expose-headers").contains("etag"));
    // A foreign origin's preflight is not answered with an allowance.
    let r = preflight(url, "http://evil.example.test", "PUT", "content-type,if-none-match").await;
    assert!(header(&r, "access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn the_broker_refuses_to_start_for_an_origin_its_store_refuses() {
    let dir = tempfile::tempdir().unwrap();
    // The store allows APP only.
    let (store, _stop) =
        common::start_storage_for(dir.path().to_owned(), common::credentials(), vec![APP.into()]).await;
    let config = |origins: &[&str]| {
        let mut c = common::config(&store, "cors-check", dir.path().join("b.sqlite3"));
        c.cors_origins = origins.iter().map(|o| (*o).to_owned()).collect();
        c
    };
    presign_bench::broker::Broker::start(config(&[APP]), None).await.expect("the store allows APP");
    let other = "http://other.example.test";
    let err = presign_bench::broker::Broker::start(config(&[APP, other]), None).await.unwrap_err().to_string();
    assert!(err.starts_with("--cors-origin"), "{err}");
    assert!(err.contains(other) && err.contains(&format!("presign-bench storage --cors-origin {other}")), "{err}");
}
