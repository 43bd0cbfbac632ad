//! One read (a view) as a viewer does it, in each read architecture, every byte hashed as it
//! arrives:
//!
//! - proxied: `GET /v1/proxy/files/{id}` by the owner, the bytes streamed through the proxy
//!   (`transfer`);
//! - presigned: `GET /v1/files/{id}` by the owner with `Accept: application/json` at the broker
//!   for a presigned GET URL (`resolve`), then the `GET` to the store (`transfer`);
//! - presigned-cdn: the same URL sent through the CDN (`/presigned/...`), query and all;
//! - cdn-public: `GET /public/<key>` at the CDN, no app server, no signature;
//! - cdn-signed: the viewer's first view asks the broker for CDN-signed cookies
//!   (`POST /v1/cdn/cookies`, `resolve`), every view sends them with `GET /private/<key>`.
//!
//! Which object each view reads is a plan ([`crate::loadgen::popularity`]) or each object in
//! turn; a CDN's answer to each view (`X-Cache`: hit or miss) and the cache key it asked for (its
//! path and query) are kept by view number.

use super::http::{self, Http};
use super::job::{Common, Flow};
use crate::loadgen::{Done, Failure, Phase, Sample};
use ::http::{Request, StatusCode, header};
use bytes::Bytes;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use tokio::sync::OnceCell;
use tokio::time::Instant;

/// A read architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via {
    /// Through the proxy.
    Proxied,
    /// The broker's presigned GET URL, straight to the store.
    Presigned,
    /// The broker's presigned GET URL, through the CDN.
    PresignedCdn,
    /// The CDN's public path: no app server, no signature.
    CdnPublic,
    /// The CDN's private path with signed cookies, asked for once per viewer.
    CdnSigned,
}

impl Via {
    /// Its name in results and reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Proxied => "proxied",
            Self::Presigned => "presigned",
            Self::PresignedCdn => "presigned-cdn",
            Self::CdnPublic => "cdn-public",
            Self::CdnSigned => "cdn-signed",
        }
    }

    /// Whether it reads through the CDN.
    #[must_use]
    pub const fn cached(self) -> bool {
        matches!(self, Self::PresignedCdn | Self::CdnPublic | Self::CdnSigned)
    }
}

/// The response header with a CDN's cache status (nginx's `$upstream_cache_status`).
pub const CACHE_HEADER: &str = "x-cache";

/// What a CDN answered a view: not through a CDN (or no answer), a hit, a miss.
pub const NOT_CACHED: u8 = 0;
/// See [`NOT_CACHED`].
pub const HIT: u8 = 1;
/// See [`NOT_CACHED`].
pub const MISS: u8 = 2;

/// Reads of the objects one mode stored, through one architecture.
#[derive(Debug)]
pub struct Reads {
    /// The architecture.
    pub via: Via,
    /// Tokens (proxied and presigned reads are the owner's; CDN sessions the viewer's).
    pub common: Common,
    /// The proxy's (proxied) or the broker's base URL.
    pub server: String,
    /// The store's endpoint (what presigned URLs start with).
    pub store_url: String,
    /// The CDN's base URL, for the CDN architectures.
    pub cdn: Option<String>,
    /// Client to the app server.
    pub app: Http,
    /// Client to the store or the CDN.
    pub store: Http,
    /// The objects, each with the SHA-256 of what was uploaded.
    pub objects: Vec<(Done, [u8; 32])>,
    /// The object of each view (`views`), or `None`: each object `per_object` times in turn.
    pub plan: Option<Vec<u32>>,
    /// Reads of each object without a plan.
    pub per_object: u64,
    /// Distinct viewers: view `i` is viewer `i % viewers`'s.
    pub viewers: u64,
    sessions: Vec<OnceCell<String>>,
    answers: Vec<AtomicU8>,
    /// Each view's CDN cache key (path and query) as a 64-bit hash; 0: not sent to a CDN.
    keys: Vec<AtomicU64>,
}

impl Reads {
    /// Reads of `objects` through `via`; `cdn` names the CDN, `plan` the views.
    #[must_use]
    pub fn new(
        via: Via,
        (common, server, store_url, cdn): (Common, String, String, Option<String>),
        (app, store): (Http, Http),
        objects: Vec<(Done, [u8; 32])>,
        (plan, per_object, viewers): (Option<Vec<u32>>, u64, u64),
    ) -> Self {
        let count = plan.as_ref().map_or(objects.len() as u64 * per_object, |p| p.len() as u64);
        let viewers = viewers.max(1);
        Self {
            via,
            common,
            server,
            store_url,
            cdn,
            app,
            store,
            objects,
            plan,
            per_object,
            viewers,
            sessions: (0..viewers).map(|_| OnceCell::new()).collect(),
            answers: (0..count).map(|_| AtomicU8::new(NOT_CACHED)).collect(),
            keys: (0..count).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Reads in all.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.answers.len() as u64
    }

    /// What the CDN answered each view, in view order ([`HIT`], [`MISS`], [`NOT_CACHED`]).
    #[must_use]
    pub fn answers(&self) -> Vec<u8> {
        self.answers.iter().map(|a| a.load(Relaxed)).collect()
    }

    /// Distinct URLs (path and query: the cache's key) the views asked the CDN for.
    #[must_use]
    pub fn distinct_urls(&self) -> u64 {
        let mut keys: Vec<u64> = self.keys.iter().map(|k| k.load(Relaxed)).filter(|&k| k != 0).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len() as u64
    }

    /// Sessions (cookies) asked for.
    #[must_use]
    pub fn sessions(&self) -> u64 {
        self.sessions.iter().filter(|s| s.initialized()).count() as u64
    }

    fn object(&self, index: u64) -> &(Done, [u8; 32]) {
        let n = self.objects.len().max(1);
        let at = match &self.plan {
            Some(plan) => plan.get(usize::try_from(index).unwrap_or(usize::MAX)).map_or(0, |&o| o as usize),
            None => usize::try_from(index).unwrap_or(0),
        };
        &self.objects[at % n]
    }

    /// The CDN's URL of `path` (path and query) for view `index`, whose cache key it records.
    fn cdn_url(&self, index: u64, path: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.cdn.as_deref().ok_or(Failure::Io)?);
        // A fixed-key hasher: the same path hashes the same in every view of the run.
        let key = BuildHasherDefault::<DefaultHasher>::default().hash_one(path).max(1);
        if let Some(slot) = self.keys.get(usize::try_from(index).unwrap_or(usize::MAX)) {
            slot.store(key, Relaxed);
        }
        Ok(url)
    }

    /// The broker's presigned GET URL of `object`, asked for as its owner.
    async fn presigned(&self, object: &Done) -> Result<String, Failure> {
        let token = format!("Bearer {}", self.common.token(object.index));
        let url = format!("{}/v1/files/{}", self.server, object.file_id);
        let (status, body) =
            self.app.send(get(&url, &[(header::AUTHORIZATION, &token), (header::ACCEPT, JSON)])?).await?;
        if status != StatusCode::OK {
            return Err(Failure::Http(status.as_u16()));
        }
        let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|_| Failure::Io)?;
        answer["url"].as_str().map(str::to_owned).ok_or(Failure::Io)
    }

    /// Viewer `viewer`'s CDN cookies (`Cookie` header value): asked for on its first view only.
    async fn session(&self, viewer: u64) -> Result<(&str, bool), Failure> {
        let cell = &self.sessions[usize::try_from(viewer).unwrap_or(0) % self.sessions.len()];
        let mut asked = false;
        let cookie = cell
            .get_or_try_init(|| async {
                asked = true;
                let token = format!("Bearer {}", self.common.token(viewer));
                let url = format!("{}/v1/cdn/cookies", self.server);
                let body = http::full(Bytes::from_static(b"{\"prefix\":\"files/\"}"));
                let request = Request::post(url)
                    .header(header::AUTHORIZATION, token)
                    .header(header::CONTENT_TYPE, JSON)
                    .body(body)
                    .map_err(|_| Failure::Io)?;
                let (status, body) = self.app.send(request).await?;
                if status != StatusCode::OK {
                    return Err(Failure::Http(status.as_u16()));
                }
                let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|_| Failure::Io)?;
                let c = &answer["cookies"];
                match (c["CDN-Policy"].as_str(), c["CDN-Signature"].as_str()) {
                    (Some(p), Some(s)) => Ok(format!("CDN-Policy={p}; CDN-Signature={s}")),
                    _ => Err(Failure::Io),
                }
            })
            .await?;
        Ok((cookie.as_str(), asked))
    }
}

const JSON: &str = "application/json";

fn get(url: &str, headers: &[(header::HeaderName, &str)]) -> Result<Request<http::Body>, Failure> {
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    request.body(http::full(Bytes::new())).map_err(|_| Failure::Io)
}

impl Flow for Reads {
    async fn upload(&self, index: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let (object, sha256) = self.object(index);
        let t0 = Instant::now();
        let mut resolved = None;
        let (status, headers, length, digest) = match self.via {
            Via::Proxied => {
                let token = format!("Bearer {}", self.common.token(object.index));
                let url = format!("{}/v1/proxy/files/{}", self.server, object.file_id);
                self.app.send_digest_with_headers(get(&url, &[(header::AUTHORIZATION, &token)])?).await?
            }
            Via::Presigned | Via::PresignedCdn => {
                let url = self.presigned(object).await?;
                resolved = Some(t0.elapsed());
                let url = match self.via {
                    Via::PresignedCdn => self.cdn_url(
                        index,
                        &format!("/presigned{}", url.strip_prefix(&self.store_url).ok_or(Failure::Io)?),
                    )?,
                    _ => url,
                };
                self.store.send_digest_with_headers(get(&url, &[])?).await?
            }
            Via::CdnPublic => {
                self.store
                    .send_digest_with_headers(get(&self.cdn_url(index, &format!("/public/{}", object.key))?, &[])?)
                    .await?
            }
            Via::CdnSigned => {
                let (cookie, asked) = self.session(index % self.viewers).await?;
                if asked {
                    resolved = Some(t0.elapsed());
                }
                let url = self.cdn_url(index, &format!("/private/{}", object.key))?;
                self.store.send_digest_with_headers(get(&url, &[(header::COOKIE, cookie)])?).await?
            }
        };
        let took = t0.elapsed();
        if let Some(answer) = headers.get(CACHE_HEADER) {
            let code = if answer.as_bytes().eq_ignore_ascii_case(b"HIT") { HIT } else { MISS };
            if let Some(slot) = self.answers.get(usize::try_from(index).unwrap_or(usize::MAX)) {
                slot.store(code, Relaxed);
            }
        }
        if status != StatusCode::OK {
            return Err(Failure::Http(status.as_u16()));
        }
        if length != object.size || digest != *sha256 {
            return Err(Failure::Corrupt);
        }
        let resolve = resolved.unwrap_or_default();
        if resolved.is_some() {
            sample.phase(Phase::Resolve, resolve);
        }
        sample.phase(Phase::Transfer, took.saturating_sub(resolve));
        sample.phase(Phase::EndToEnd, took);
        Ok(Some(Done { index, size: object.size, ..Done::default() }))
    }
}
