//! HTTP/2 (h2c, prior knowledge) on the broker, the proxy and the embedded store: the same flows
//! as over HTTP/1.1, and bytes counted at the socket on both versions.

use crate::common;

use common::*;
use presign_bench::client::http::{self, Http};
use presign_bench::scenario::HttpVersion;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A client that speaks only HTTP/2, without upgrade or ALPN (and, like the suite's HTTP/1.1
/// client, follows no redirects: the tests look at the broker's 302 themselves).
fn h2_client() -> reqwest::Client {
    let builder = reqwest::Client::builder().http2_prior_knowledge().no_proxy();
    builder.redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn both_flows_work_over_http2() {
    let mut s = Stack::start().await;
    s.http = h2_client();
    let health = s.http.get(format!("{}/healthz", s.broker)).send().await.unwrap();
    assert_eq!(health.version(), reqwest::Version::HTTP_2, "the broker answered over {:?}", health.version());
    let token = s.token("alice");
    for path in [UploadPath::Presigned, UploadPath::Proxied] {
        let bytes = jpeg(200_000, 3);
        let up = path.upload(&s, &token, "image/jpeg", bytes.clone()).await;
        assert!(matches!(up.status, 200 | 201), "{}", up.body);
        let file = stored(&s, &up).await;
        assert_eq!(s.object_bytes(file["key"].as_str().unwrap()).await.unwrap(), bytes);
        let (status, downloaded) = path.download(&s, &token, up.body["file_id"].as_str().unwrap()).await;
        assert_eq!((status, downloaded.len()), (200, bytes.len()), "{path:?}");
        assert_eq!(downloaded, bytes, "{path:?}");
        // Refusals keep their JSON contract over HTTP/2 too.
        let refused = path.upload(&s, "not-a-token", "image/jpeg", jpeg(1000, 1)).await;
        assert_eq!((refused.status, refused.body["error"]["code"].as_str()), (401, Some("invalid_token")));
    }
}

/// The harness's client and the broker count the same bytes from the two ends of the same
/// connections, request after request, over either version; HTTP/2's header compression shows
/// in the counts instead of being assumed.
#[tokio::test]
async fn both_ends_count_the_same_bytes_on_both_versions() {
    let s = Stack::start().await;
    let token = s.token("alice");
    let mut per_request = Vec::new();
    for version in HttpVersion::ALL {
        let meter = &s.broker_state.app.meter;
        let (in0, out0) = (meter.client.bytes_in.load(Relaxed), meter.client.bytes_out.load(Relaxed));
        let client = Http::new(Duration::from_secs(10)).version(version);
        let requests = 20u64;
        for i in 0..requests {
            let body = format!(r#"{{"filename":"f{i}.jpg","content_type":"image/jpeg","size":1000}}"#);
            let request = ::http::Request::post(format!("{}/v1/uploads", s.broker))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(http::full(body))
                .unwrap();
            let (status, _) = client.send(request).await.unwrap();
            assert_eq!(status, 201, "{version:?}");
        }
        let (sent, received) =
            (client.meter.storage.bytes_out.load(Relaxed), client.meter.storage.bytes_in.load(Relaxed));
        // The broker finishes counting a response when its write returns, before the client has
        // read it: wait (bounded) for the last counts to settle.
        let counted = eventually(Duration::from_secs(5), async || {
            meter.client.bytes_in.load(Relaxed) - in0 == sent && meter.client.bytes_out.load(Relaxed) - out0 == received
        })
        .await;
        assert!(
            counted,
            "{version:?}: client sent {sent} / received {received}; broker read {} / wrote {}",
            meter.client.bytes_in.load(Relaxed) - in0,
            meter.client.bytes_out.load(Relaxed) - out0
        );
        per_request.push((sent + received) / requests);
    }
    // Repeated headers (the bearer token above all) cost a byte or two each after the first
    // request of an HTTP/2 connection.
    assert!(
        per_request[1] < per_request[0],
        "HTTP/1.1 {} B vs HTTP/2 {} B per request",
        per_request[0],
        per_request[1]
    );
}
