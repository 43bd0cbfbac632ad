//! The store's side of the broker's `--cors-origin`: at startup, the broker sends the store the
//! preflight a browser on each allowed origin would send before a presigned PUT, and refuses to
//! start when the store would refuse it (the page could get URLs but never use them).
//!
//! The broker checks rather than sets: the embedded store (s3s-fs 0.14) and MinIO (whose
//! `PutBucketCors` answers NotImplemented in the pinned version) have no bucket CORS API, and
//! on S3 the bucket's CORS rules belong to whoever owns the bucket. Each store's way is named in
//! the error: `storage --cors-origin`, `MINIO_API_CORS_ALLOW_ORIGIN`, or `PutBucketCors`.

use crate::app::StartError;
use crate::sigv4::Presigner;
use crate::storage::client::S3Target;
use http::{HeaderMap, Method, header};
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::{Duration, SystemTime};

/// The headers a browser asks for before a presigned PUT: the signed ones it sets itself
/// (Content-Length is set by the browser and never asked for).
pub const PUT_REQUEST_HEADERS: &str = "content-type,if-none-match";

/// Checks that the store lets a browser on each of `origins` PUT to a URL `presigner` signs.
///
/// # Errors
/// [`StartError::Config`] naming `--cors-origin`, the origin, what the store answered and how to
/// allow the origin on each kind of store.
pub async fn check_store(presigner: &Presigner, store: &S3Target, origins: &[String]) -> Result<(), StartError> {
    if origins.is_empty() {
        return Ok(());
    }
    let endpoint = store.endpoint.as_str();
    // A real presigned URL (of a key no upload uses), so the preflight is the browser's own,
    // query string included.
    let key = format!("{}cors-probe", crate::app::policy::UPLOAD_PREFIX);
    let url = presigner
        .put_url(&key, "image/jpeg", 1, Duration::from_secs(60), SystemTime::now())
        .map_err(|e| StartError::Config { flag: "--s3-endpoint", message: e.to_string() })?;
    // hyper-util's client, not the project's `client` module: that is the load generator's, a
    // layer above the broker (it drives brokers). Over the same connector as the S3 client, so
    // an https store is checked against the same CA (`--storage-ca`); nothing of it is counted
    // in the app's meter (a meter of its own).
    let tls = match &store.ca_pem {
        Some(ca) => Some(
            crate::tls::client_config(ca, "--storage-ca", &[crate::tls::ALPN_HTTP1])
                .map_err(|e| StartError::Config { flag: "--storage-ca", message: e.to_string() })?,
        ),
        None => None,
    };
    let connector = crate::metrics::CountingConnector::new(crate::metrics::Meter::new()).tls(tls);
    let client = Client::builder(TokioExecutor::new()).build::<_, Empty<bytes::Bytes>>(connector);
    for origin in origins {
        let request = http::Request::builder()
            .method(Method::OPTIONS)
            .uri(&url)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, PUT_REQUEST_HEADERS)
            .body(Empty::new())
            .map_err(|e| StartError::Config { flag: "--cors-origin", message: e.to_string() })?;
        let answer = tokio::time::timeout(Duration::from_secs(10), client.request(request)).await;
        let refusal = match answer {
            Ok(Ok(response)) => refusal(response.status(), response.headers(), origin, "PUT", PUT_REQUEST_HEADERS),
            Ok(Err(e)) => Some(format!("the preflight failed: {e}")),
            Err(_) => Some("no answer to the preflight within 10s".to_owned()),
        };
        if let Some(why) = refusal {
            return Err(StartError::Config {
                flag: "--cors-origin",
                message: format!(
                    "the store at {endpoint} refuses presigned PUTs from {origin} ({why}); allow the origin there: \
                     `presign-bench storage --cors-origin {origin}`, MinIO's MINIO_API_CORS_ALLOW_ORIGIN, or the \
                     bucket's CORS rules (PutBucketCors) on S3"
                ),
            });
        }
        tracing::info!(origin, endpoint, "the store allows presigned PUTs from this origin");
    }
    Ok(())
}

/// Why a browser would refuse this answer to its preflight from `origin` for `method` with the
/// comma-separated `requested` headers, judged as Chromium does (`None`: it would send the
/// request).
#[must_use]
pub fn refusal(
    status: http::StatusCode,
    headers: &HeaderMap,
    origin: &str,
    method: &str,
    requested: &str,
) -> Option<String> {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if !status.is_success() {
        return Some(format!("HTTP {status}"));
    }
    let allow_origin = get(header::ACCESS_CONTROL_ALLOW_ORIGIN);
    if allow_origin != origin && allow_origin != "*" {
        return Some(format!("Access-Control-Allow-Origin is {allow_origin:?}"));
    }
    let lists = |name| {
        get(name).split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect::<Vec<_>>()
    };
    let methods = lists(header::ACCESS_CONTROL_ALLOW_METHODS);
    // GET, HEAD and POST are CORS-safelisted: allowed whatever the answer lists.
    let method = method.to_ascii_lowercase();
    let safelisted = ["get", "head", "post"].contains(&method.as_str());
    if !safelisted && !methods.iter().any(|m| *m == method || m == "*") {
        return Some(format!("Access-Control-Allow-Methods is {methods:?}"));
    }
    let allowed = lists(header::ACCESS_CONTROL_ALLOW_HEADERS);
    let missing: Vec<&str> = requested
        .split(',')
        .map(str::trim)
        .filter(|h| !allowed.iter().any(|a| a.eq_ignore_ascii_case(h) || a == "*"))
        .collect();
    if !missing.is_empty() {
        return Some(format!("Access-Control-Allow-Headers lacks {}", missing.join(", ")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{PUT_REQUEST_HEADERS, refusal};
    use http::{HeaderMap, StatusCode};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), v.parse().unwrap())).collect()
    }

    const O: &str = "http://app.test:8000";

    #[test]
    fn an_answer_with_the_origin_method_and_headers_is_allowed() {
        let h = headers(&[
            ("access-control-allow-origin", O),
            ("access-control-allow-methods", "GET, PUT"),
            ("access-control-allow-headers", "Content-Type,If-None-Match"),
        ]);
        assert_eq!(refusal(StatusCode::OK, &h, O, "PUT", PUT_REQUEST_HEADERS), None);
        let star = headers(&[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "*"),
            ("access-control-allow-headers", "*"),
        ]);
        assert_eq!(refusal(StatusCode::NO_CONTENT, &star, O, "PUT", PUT_REQUEST_HEADERS), None);
    }

    #[test]
    fn each_missing_piece_is_named() {
        let full = [
            ("access-control-allow-origin", O),
            ("access-control-allow-methods", "PUT"),
            ("access-control-allow-headers", "content-type,if-none-match"),
        ];
        assert_eq!(
            refusal(StatusCode::NOT_IMPLEMENTED, &headers(&full), O, "PUT", PUT_REQUEST_HEADERS).unwrap(),
            "HTTP 501 Not Implemented"
        );
        let other = headers(&[("access-control-allow-origin", "http://other.test"), full[1], full[2]]);
        assert!(refusal(StatusCode::OK, &other, O, "PUT", PUT_REQUEST_HEADERS).unwrap().contains("http://other.test"));
        let no_put = headers(&[full[0], ("access-control-allow-methods", "GET"), full[2]]);
        assert!(refusal(StatusCode::OK, &no_put, O, "PUT", PUT_REQUEST_HEADERS).unwrap().contains("Methods"));
        let no_inm = headers(&[full[0], full[1], ("access-control-allow-headers", "content-type")]);
        assert_eq!(
            refusal(StatusCode::OK, &no_inm, O, "PUT", PUT_REQUEST_HEADERS).unwrap(),
            "Access-Control-Allow-Headers lacks if-none-match"
        );
    }
}
