//! Requests that measure a server, or the client itself, and store nothing: a presign alone (the
//! broker's per-upload work), `GET /healthz` (the HTTP stack's ceiling) and one fixed request
//! over and over (`calibrate`).

use super::http::{self, Http};
use super::job::{Common, Flow, expect};
use crate::loadgen::{Done, Failure, Phase, Sample};
use ::http::{Method, Request, StatusCode};
use bytes::Bytes;
use std::time::Instant;

/// Only the presign request: the broker's per-upload work, nothing uploaded.
#[derive(Debug)]
pub struct PresignOnly {
    /// Shared state.
    pub common: Common,
    /// Broker base URL.
    pub broker: String,
    /// Client.
    pub http: Http,
}

impl Flow for PresignOnly {
    async fn upload(&self, index: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let c = &self.common;
        let t0 = Instant::now();
        let request = c.presign_request(&self.broker, index, &format!("Bearer {}", c.token(index)), None)?;
        let (status, _) = self.http.send(request).await?;
        expect(status, StatusCode::CREATED)?;
        sample.phase(Phase::EndToEnd, t0.elapsed());
        Ok(None)
    }
}

/// `GET /healthz`: the HTTP stack's own ceiling.
#[derive(Debug)]
pub struct Healthz {
    /// Server base URL.
    pub base: String,
    /// Client.
    pub http: Http,
}

impl Flow for Healthz {
    async fn upload(&self, _: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let t0 = Instant::now();
        let request =
            Request::get(format!("{}/healthz", self.base)).body(http::full(Bytes::new())).map_err(|_| Failure::Io)?;
        let (status, _) = self.http.send(request).await?;
        expect(status, StatusCode::OK)?;
        sample.phase(Phase::EndToEnd, t0.elapsed());
        Ok(None)
    }
}

/// One fixed request, over and over (`calibrate`): the harness's client measured on its own.
#[derive(Debug)]
pub struct Fixed {
    /// `GET` or `PUT`.
    pub method: Method,
    /// The URL, parsed once (not per request, which would cost the client CPU a load tool
    /// such as wrk does not spend).
    pub uri: ::http::Uri,
    /// The body (empty for a GET), shared by every request.
    pub body: Bytes,
    /// Headers sent with every request, made once.
    pub headers: ::http::HeaderMap,
    /// Client.
    pub http: Http,
}

impl Flow for Fixed {
    async fn upload(&self, _: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let t0 = Instant::now();
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.clone())
            .body(http::full(self.body.clone()))
            .map_err(|_| Failure::Io)?;
        // Each value is a shared buffer: inserting it copies no bytes, and no map is cloned.
        for (name, value) in &self.headers {
            request.headers_mut().insert(name, value.clone());
        }
        let (status, _) = self.http.send(request).await?;
        if !status.is_success() {
            return Err(Failure::Http(status.as_u16()));
        }
        sample.phase(Phase::EndToEnd, t0.elapsed());
        Ok(None)
    }
}
