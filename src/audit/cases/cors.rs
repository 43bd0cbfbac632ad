//! Cases for browsers: what a page on a foreign origin can make the broker and the store do.
//! Each sends what Chromium sends (a preflight, or a request carrying `Origin`) and judges the
//! answer as Chromium does ([`crate::broker::cors::refusal`]), because a CORS refusal is a
//! missing header, not an error status.

use super::super::steps::{AUDITOR, Auditor, BoxFuture, Observed};
use super::super::{Case, Expect, Severity};
use crate::broker::cors::{PUT_REQUEST_HEADERS, refusal};
use crate::client::http::full;
use http::{HeaderMap, StatusCode};
use serde_json::json;

/// An origin no audited stack allows.
pub const FOREIGN: &str = "https://evil.presign-bench-audit.invalid";
/// The origin the audit's own stack allows (embedded store and MinIO).
pub const ALLOWED: &str = "https://app.presign-bench-audit.invalid";

/// Sends a preflight for `method` with `headers` from `origin` to `url`.
async fn preflight(
    c: &Auditor,
    url: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> Result<(u16, HeaderMap), String> {
    let h = super::header_pairs(&[
        ("origin", origin),
        ("access-control-request-method", method),
        ("access-control-request-headers", headers),
    ]);
    c.exchange("OPTIONS", url, &h, full(Vec::new())).await.map(|(o, headers, _)| (o.status, headers))
}

/// The preflight of a presign request.
const POST_HEADERS: &str = "authorization,content-type";

/// Why Chromium would refuse this answer to its preflight (`None`: it would send the request).
fn refusal_of(status: u16, headers: &HeaderMap, origin: &str, method: &str, requested: &str) -> Option<String> {
    refusal(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), headers, origin, method, requested)
}

/// Judges a preflight answer that must refuse `origin`.
fn refused(status: u16, headers: &HeaderMap, origin: &str, method: &str, requested: &str) -> Observed {
    match refusal_of(status, headers, origin, method, requested) {
        Some(why) => Observed::judged(status, true, format!("refused: {why}")),
        None => Observed::judged(status, false, format!("{origin} allowed")),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The browser cases, in report order.
#[allow(clippy::too_many_lines)] // one entry per case: the list is the point
pub(super) fn all() -> Vec<Case> {
    let remedy_broker = "enforced by the broker itself (--cors-origin lists the allowed origins; none by default)";
    vec![
        Case {
            name: "cors-foreign-origin-presign",
            target: "broker",
            rule: "only allowed web origins may call the broker from a browser",
            severity: Severity::Medium,
            sent: "the preflight of POST /v1/uploads from a foreign origin",
            expect: Expect::Refused,
            remedy: remedy_broker,
            run: run!(|c| {
                let url = format!("{}/v1/uploads", c.broker);
                let (status, headers) = preflight(c, &url, FOREIGN, "POST", POST_HEADERS).await?;
                Ok(refused(status, &headers, FOREIGN, "POST", POST_HEADERS))
            }),
        },
        Case {
            name: "cors-no-credentialed-reflection",
            target: "broker",
            rule: "the broker never reflects an arbitrary Origin, nor allows credentials",
            severity: Severity::High,
            sent: "POST /v1/uploads with a valid token and Origin: a foreign origin",
            expect: Expect::Refused,
            remedy: remedy_broker,
            run: run!(|c| {
                let body = json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1024}).to_string();
                let h = super::header_pairs(&[
                    ("origin", FOREIGN),
                    ("content-type", "application/json"),
                    ("authorization", &format!("Bearer {}", c.token(AUDITOR))),
                ]);
                let url = format!("{}/v1/uploads", c.broker);
                let (o, headers, _) = c.exchange("POST", &url, &h, full(body.into_bytes())).await?;
                let origin = header(&headers, "access-control-allow-origin");
                let credentials = header(&headers, "access-control-allow-credentials");
                let held = origin != FOREIGN && origin != "*" && credentials.is_empty();
                let note = format!("Access-Control-Allow-Origin {origin:?}, -Allow-Credentials {credentials:?}");
                Ok(Observed::judged(o.status, held, note))
            }),
        },
        Case {
            name: "cors-foreign-origin-put-preflight",
            target: "store",
            rule: "only allowed web origins may PUT to the store from a browser",
            severity: Severity::Medium,
            sent: "the preflight of a presigned PUT from a foreign origin",
            expect: Expect::Refused,
            remedy: "the store's CORS: `storage --cors-origin`, MINIO_API_CORS_ALLOW_ORIGIN (MinIO's default is *), \
                     or the bucket's CORS rules",
            run: run!(|c| {
                let g = c.jpeg_grant(AUDITOR).await?;
                let (status, headers) = preflight(c, &g.url, FOREIGN, "PUT", PUT_REQUEST_HEADERS).await?;
                Ok(refused(status, &headers, FOREIGN, "PUT", PUT_REQUEST_HEADERS))
            }),
        },
        Case {
            name: "cors-allowed-origin-works",
            target: "broker",
            rule: "a page on an allowed origin can presign and PUT",
            severity: Severity::Low,
            sent: "the preflights of POST /v1/uploads (broker) and of the presigned PUT (store) from the allowed origin",
            expect: Expect::Accepted,
            remedy: "the broker checks at startup that its store allows its --cors-origin values",
            run: run!(|c| {
                let Some(origin) = c.cors_origin.as_deref() else {
                    return Ok(Observed::not_applicable("no allowed origin configured for this store"));
                };
                let url = format!("{}/v1/uploads", c.broker);
                let (status, broker) = preflight(c, &url, origin, "POST", POST_HEADERS).await?;
                if let Some(why) = refusal_of(status, &broker, origin, "POST", POST_HEADERS) {
                    return Ok(Observed::judged(status, false, format!("broker: {why}")));
                }
                let g = c.jpeg_grant(AUDITOR).await?;
                let (status, store) = preflight(c, &g.url, origin, "PUT", PUT_REQUEST_HEADERS).await?;
                Ok(match refusal_of(status, &store, origin, "PUT", PUT_REQUEST_HEADERS) {
                    Some(why) => Observed::judged(status, false, format!("store: {why}")),
                    None => Observed::judged(status, true, "broker and store allow it"),
                })
            }),
        },
    ]
}
