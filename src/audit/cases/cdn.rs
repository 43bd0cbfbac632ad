//! Cases for the CDN in front of the store (the harness's nginx cache): signed cookies used for
//! another path, expired or tampered with; a private object the cache holds, asked for without
//! cookies; and query strings and headers that would split or poison the cache key. Each case
//! stores its own object (a file of ALICE's or MALLORY's) and reads it through the cache.

use super::super::steps::{ALICE, Auditor, BoxFuture, MALLORY, Observed};
use super::super::{Case, Expect, Severity};
use crate::app::cdn::sign;
use crate::client::download::CACHE_HEADER;
use crate::client::http::full;
use serde_json::json;
use std::time::{Duration, SystemTime};

/// The CDN's URL, or why the case does not apply.
fn cdn(c: &Auditor) -> Result<&str, Observed> {
    c.cdn
        .as_deref()
        .ok_or_else(|| Observed::not_applicable("no CDN: the audit starts one only in front of its own store"))
}

/// A completed file of `owner`: its store key.
async fn stored(c: &Auditor, owner: &str) -> Result<String, String> {
    let id = super::file_of(c, owner).await?;
    let bearer = format!("Bearer {}", c.token(owner));
    let headers = super::header_pairs(&[("authorization", &bearer), ("accept", "application/json")]);
    let (o, body) = c.send("GET", &format!("{}/v1/files/{id}", c.broker), &headers, full(Vec::new())).await?;
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let url = answer["url"].as_str().ok_or_else(|| format!("no presigned GET URL: {} {}", o.status, o.code))?;
    crate::sigv4::path_style_key(url, &c.bucket).ok_or_else(|| format!("no key in {url}"))
}

/// `owner`'s cookies for their own files, as a `Cookie` header value.
async fn cookies(c: &Auditor, owner: &str) -> Result<String, String> {
    let prefix = format!("{}{owner}/", crate::app::policy::FILE_PREFIX);
    let body = json!({ "prefix": prefix });
    let (answered, session) = c.broker("POST", "/v1/cdn/cookies", Some(&c.token(owner)), Some(&body)).await?;
    let cookies = &session["cookies"];
    match (cookies["CDN-Policy"].as_str(), cookies["CDN-Signature"].as_str()) {
        (Some(policy), Some(signature)) => Ok(format!("CDN-Policy={policy}; CDN-Signature={signature}")),
        _ => Err(format!("no cookies: {} {}", answered.status, answered.code)),
    }
}

/// A `GET` of `url` with `headers`: the status, error code, `X-Cache` and body.
async fn get(c: &Auditor, url: &str, headers: &[(&str, &str)]) -> Result<(Observed, String, Vec<u8>), String> {
    let h = super::header_pairs(headers);
    let (o, headers, body) = c.exchange("GET", url, &h, full(Vec::new())).await?;
    let cache = headers.get(CACHE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    Ok((o, cache, body.to_vec()))
}

/// A policy for ALICE's files signed with the CDN's key, but from `issued` for `ttl`, or for
/// `prefix`: the cookie header.
fn forged(c: &Auditor, prefix: &str, issued: SystemTime, ttl: Duration) -> String {
    let s = sign(c.cdn_key.as_deref().unwrap_or_default().as_bytes(), prefix, issued, ttl);
    format!("CDN-Policy={}; CDN-Signature={}", s.policy, s.signature)
}

/// The cookie cases, in report order.
#[allow(clippy::too_many_lines)] // one entry per case: the list is the point
pub(super) fn all() -> Vec<Case> {
    let remedy = "enforced by the CDN (nginx's cdn.js checks the policy's signature, expiry and path on every request, before the cache)";
    vec![
        Case {
            name: "cdn-cookie-other-path",
            target: "cdn",
            rule: "a signed cookie opens only the paths its policy names",
            severity: Severity::High,
            sent: "ALICE's valid cookies with GET /private/<MALLORY's file>",
            expect: Expect::Status(403),
            remedy,
            run: run!(|c| {
                let cdn = match cdn(c) {
                    Ok(u) => u,
                    Err(o) => return Ok(o),
                };
                let theirs = stored(c, MALLORY).await?;
                let cookie = cookies(c, ALICE).await?;
                Ok(get(c, &format!("{cdn}/private/{theirs}"), &[("cookie", &cookie)]).await?.0)
            }),
        },
        Case {
            name: "cdn-cookie-expired",
            target: "cdn",
            rule: "a signed cookie stops working when its policy expires",
            severity: Severity::High,
            sent: "a policy for ALICE's files, signed with the CDN's key, expired an hour ago",
            expect: Expect::Status(403),
            remedy,
            run: run!(|c| {
                let cdn = match cdn(c) {
                    Ok(u) => u,
                    Err(o) => return Ok(o),
                };
                let mine = stored(c, ALICE).await?;
                let prefix = format!("{}{ALICE}/", crate::app::policy::FILE_PREFIX);
                let cookie =
                    forged(c, &prefix, SystemTime::now() - Duration::from_secs(7200), Duration::from_secs(3600));
                Ok(get(c, &format!("{cdn}/private/{mine}"), &[("cookie", &cookie)]).await?.0)
            }),
        },
        Case {
            name: "cdn-cookie-tampered",
            target: "cdn",
            rule: "a policy changed after signing is refused",
            severity: Severity::High,
            sent: "ALICE's signature with a policy widened to every file (/private/files/*)",
            expect: Expect::Status(403),
            remedy,
            run: run!(|c| {
                let cdn = match cdn(c) {
                    Ok(u) => u,
                    Err(o) => return Ok(o),
                };
                let theirs = stored(c, MALLORY).await?;
                let signature = cookies(c, ALICE).await?.split("CDN-Signature=").nth(1).unwrap_or_default().to_owned();
                let wide = sign(
                    b"not the CDN's key",
                    crate::app::policy::FILE_PREFIX,
                    SystemTime::now(),
                    Duration::from_secs(600),
                );
                let cookie = format!("CDN-Policy={}; CDN-Signature={signature}", wide.policy);
                Ok(get(c, &format!("{cdn}/private/{theirs}"), &[("cookie", &cookie)]).await?.0)
            }),
        },
        Case {
            name: "cdn-cached-private-without-cookie",
            target: "cdn",
            rule: "a private object the cache holds is never served without valid cookies",
            severity: Severity::High,
            sent: "GET /private/<ALICE's file> with her cookies (the cache fills), then without any",
            expect: Expect::Status(403),
            remedy,
            run: run!(|c| {
                let cdn = match cdn(c) {
                    Ok(u) => u,
                    Err(o) => return Ok(o),
                };
                let mine = stored(c, ALICE).await?;
                let cookie = cookies(c, ALICE).await?;
                let url = format!("{cdn}/private/{mine}");
                let (filled, _, _) = get(c, &url, &[("cookie", &cookie)]).await?;
                if filled.status != 200 {
                    return Err(format!("the owner's read was refused: {} {}", filled.status, filled.code));
                }
                Ok(get(c, &url, &[]).await?.0)
            }),
        },
        Case {
            name: "cdn-cache-key-split-or-poisoned",
            target: "cdn",
            rule: "no query string or header of a viewer splits the cache key or changes what others get",
            severity: Severity::Medium,
            sent: "GET /public/<file>?v=<random> with X-Forwarded-Host, X-Original-URL and Cookie, then a plain GET",
            expect: Expect::Accepted,
            remedy: "enforced by the CDN (the cache key is the path alone; nothing of the viewer's request reaches the origin)",
            run: run!(|c| {
                let cdn = match cdn(c) {
                    Ok(u) => u,
                    Err(o) => return Ok(o),
                };
                if !c.cdn_public {
                    return Ok(Observed::not_applicable("the CDN serves no public path here"));
                }
                let mine = stored(c, ALICE).await?;
                let url = format!("{cdn}/public/{mine}");
                let (first, _, body) = get(c, &url, &[]).await?;
                let poison =
                    [("x-forwarded-host", "evil.invalid"), ("x-original-url", "/private/x"), ("cookie", "a=b")];
                let (odd, odd_cache, odd_body) = get(c, &format!("{url}?v={}", uuid::Uuid::new_v4()), &poison).await?;
                let (plain, plain_cache, plain_body) = get(c, &url, &[]).await?;
                let held = first.status == 200
                    && odd_cache == "HIT"
                    && plain_cache == "HIT"
                    && odd_body == body
                    && plain_body == body;
                let note = format!(
                    "first {} · with query and headers {} {odd_cache} · plain {} {plain_cache}",
                    first.status, odd.status, plain.status
                );
                Ok(Observed::judged(plain.status, held, note))
            }),
        },
    ]
}
