//! One download as its owner does it, in each architecture, every byte hashed as it arrives:
//!
//! - proxied: `GET /v1/proxy/files/{id}`, the bytes streamed through the proxy (`transfer`);
//! - presigned: `GET /v1/files/{id}` with `Accept: application/json` at the broker for a
//!   presigned GET URL (`resolve`), then the `GET` to the store (`transfer`).

use super::http::{self, Http};
use super::job::{Common, Flow};
use crate::loadgen::{Done, Failure, Phase, Sample};
use crate::scenario::Mode;
use ::http::{Request, StatusCode, header};
use bytes::Bytes;
use tokio::time::Instant;

/// Downloads of the objects one mode stored.
#[derive(Debug)]
pub struct Reads {
    /// The architecture.
    pub mode: Mode,
    /// Tokens (each object is read by the user who uploaded it).
    pub common: Common,
    /// The proxy's (proxied) or the broker's (presigned) base URL.
    pub server: String,
    /// Client to the app server.
    pub app: Http,
    /// Client to the store (presigned).
    pub store: Http,
    /// The objects, each with the SHA-256 of what was uploaded.
    pub objects: Vec<(Done, [u8; 32])>,
}

impl Reads {
    /// Downloads in all: each object `per_object` times.
    #[must_use]
    pub fn count(&self, per_object: u64) -> u64 {
        self.objects.len() as u64 * per_object
    }
}

fn get(url: &str, authorization: Option<&str>, accept_json: bool) -> Result<Request<http::Body>, Failure> {
    let mut request = Request::get(url);
    if let Some(token) = authorization {
        request = request.header(header::AUTHORIZATION, token);
    }
    if accept_json {
        request = request.header(header::ACCEPT, "application/json");
    }
    request.body(http::full(Bytes::new())).map_err(|_| Failure::Io)
}

impl Flow for Reads {
    async fn upload(&self, index: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let n = self.objects.len() as u64;
        let (object, sha256) = &self.objects[usize::try_from(index % n.max(1)).unwrap_or(0)];
        let token = format!("Bearer {}", self.common.token(object.index));
        let t0 = Instant::now();
        let mut resolved = std::time::Duration::ZERO;
        let (status, length, digest) = match self.mode {
            Mode::Proxied => {
                let url = format!("{}/v1/proxy/files/{}", self.server, object.file_id);
                self.app.send_digest(get(&url, Some(&token), false)?).await?
            }
            Mode::Presigned => {
                let url = format!("{}/v1/files/{}", self.server, object.file_id);
                let (status, body) = self.app.send(get(&url, Some(&token), true)?).await?;
                if status != StatusCode::OK {
                    return Err(Failure::Http(status.as_u16()));
                }
                let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|_| Failure::Io)?;
                let url = answer["url"].as_str().ok_or(Failure::Io)?;
                resolved = t0.elapsed();
                sample.phase(Phase::Resolve, resolved);
                self.store.send_digest(get(url, None, false)?).await?
            }
        };
        let took = t0.elapsed();
        if status != StatusCode::OK {
            return Err(Failure::Http(status.as_u16()));
        }
        if length != object.size || digest != *sha256 {
            return Err(Failure::Corrupt);
        }
        sample.phase(Phase::Transfer, took.saturating_sub(resolved));
        sample.phase(Phase::EndToEnd, took);
        Ok(Some(Done { index, size: object.size, ..Done::default() }))
    }
}
