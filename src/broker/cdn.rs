//! `POST /v1/cdn/cookies`: a signed-in viewer's CDN session. The broker checks the bearer token
//! and what the viewer may see, then answers the two signed cookies ([`crate::app::cdn`]) as
//! `Set-Cookie` headers (path `/private/`, so a browser sends them to the CDN on the same host)
//! and as JSON (for clients without a cookie jar). The CDN checks them on every request; the
//! broker is asked once per session, not once per object.
//!
//! Body (optional): `{"prefix": "files/<user>/"}`, the store key prefix to view; by default the
//! viewer's own files. A prefix outside the viewer's files and the broker's `--cdn-grant`
//! prefixes is 403 `forbidden`; a broker without `--cdn-key` answers 404 `not_found`.

use super::Broker;
use crate::app::cdn::{PRIVATE_PATH, sign, valid_prefix};
use crate::app::error::{ApiError, method_not_allowed};
use crate::app::{guard, parse_json, policy};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::header;
use serde::Deserialize;
use std::sync::Arc;
use std::time::SystemTime;

pub(super) fn routes(broker: &Arc<Broker>) -> Router {
    Router::new().route("/v1/cdn/cookies", post(cookies).fallback(method_not_allowed)).with_state(broker.clone())
}

/// Body of `POST /v1/cdn/cookies`.
#[derive(Debug, Default, Deserialize)]
struct Session {
    #[serde(default)]
    prefix: Option<String>,
}

async fn cookies(State(b): State<Arc<Broker>>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let user = b.app.user(&parts.headers)?;
    let Some(cdn) = b.app.config.cdn.as_ref() else { return Err(ApiError::NotFound) };
    let body = guard::small_body(&parts.headers, body, b.app.config.limits.body_idle_timeout).await?;
    let session: Session = if body.is_empty() { Session::default() } else { parse_json(&body)? };
    let own = format!("{}{user}/", policy::FILE_PREFIX);
    let prefix = session.prefix.unwrap_or_else(|| own.clone());
    if !valid_prefix(&prefix) {
        return Err(ApiError::InvalidRequest(format!(
            "prefix {prefix:?}: a store key prefix ending in '/', of letters, digits, '-', '_', '.' and '/'"
        )));
    }
    if !prefix.starts_with(&own) && !cdn.grants.iter().any(|g| prefix.starts_with(g.as_str())) {
        return Err(ApiError::Forbidden);
    }
    let signed = sign(cdn.key.as_bytes(), &prefix, SystemTime::now(), cdn.ttl);
    let secure = if b.app.config.tls.is_some() { "; Secure" } else { "" };
    let set = |name: &str, value: &str| {
        format!("{name}={value}; Path={PRIVATE_PATH}; Max-Age={}; HttpOnly; SameSite=Lax{secure}", cdn.ttl.as_secs())
    };
    let body = serde_json::json!({
        "resource": signed.resource,
        "expires": signed.expires,
        "cookies": { "CDN-Policy": signed.policy, "CDN-Signature": signed.signature },
    });
    let mut response = Json(body).into_response();
    for (name, value) in [("CDN-Policy", &signed.policy), ("CDN-Signature", &signed.signature)] {
        let cookie = set(name, value).parse().map_err(|_| ApiError::Internal("cookie header".into()))?;
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}
