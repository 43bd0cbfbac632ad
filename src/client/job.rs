//! One upload in each architecture, as a client would do it.

use super::http::{self, Http};
use super::payload::Payload;
use crate::app::policy;
use crate::loadgen::{Done, Failure, Job, Phase, Sample};
use ::http::{Method, Request, StatusCode, header};
use bytes::Bytes;
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::time::Instant;

/// What both jobs share.
#[derive(Debug)]
pub struct Common {
    /// Bodies and sizes.
    pub payload: Arc<Payload>,
    /// One bearer token per simulated user.
    pub tokens: Vec<String>,
    /// Content type of every upload.
    pub content_type: String,
    /// Objects above a size go in parts.
    pub multipart: Option<crate::scenario::Multipart>,
    /// Uploads made in parts, their parts, and part attempts retried.
    pub parts: Arc<PartCounts>,
    /// Presigned uploads declare their SHA-256 (hashed by the client, timed as its own phase).
    pub checksum_sha256: bool,
    /// Uploads that carried the EICAR test string, and what became of them.
    pub infected: Arc<InfectedCounts>,
}

/// The uploads of a load that carried the EICAR test string ([`Payload::is_infected`]).
#[derive(Debug, Default)]
pub struct InfectedCounts {
    /// Sent.
    pub sent: std::sync::atomic::AtomicU64,
    /// Refused with 422 `infected` (deleted by the app tier).
    pub caught: std::sync::atomic::AtomicU64,
    /// Accepted as files.
    pub missed: std::sync::atomic::AtomicU64,
}

impl InfectedCounts {
    /// What the counts hold: `(sent, caught, missed)`.
    #[must_use]
    pub fn read(&self) -> (u64, u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.sent.load(Relaxed), self.caught.load(Relaxed), self.missed.load(Relaxed))
    }
}

/// Counts of the uploads a load made in parts.
#[derive(Debug, Default)]
pub struct PartCounts {
    /// Uploads made in parts.
    pub uploads: std::sync::atomic::AtomicU64,
    /// Their parts.
    pub parts: std::sync::atomic::AtomicU64,
    /// Part attempts that failed and were sent again.
    pub retries: std::sync::atomic::AtomicU64,
}

impl PartCounts {
    /// What the counts hold.
    #[must_use]
    pub fn read(&self) -> crate::results::MultipartUse {
        use std::sync::atomic::Ordering::Relaxed;
        crate::results::MultipartUse {
            uploads: self.uploads.load(Relaxed),
            parts: self.parts.load(Relaxed),
            part_retries: self.retries.load(Relaxed),
        }
    }

    fn add(&self, parts: u64, retries: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.uploads.fetch_add(1, Relaxed);
        self.parts.fetch_add(parts, Relaxed);
        self.retries.fetch_add(retries, Relaxed);
    }
}

impl Common {
    #[must_use]
    pub fn token(&self, index: u64) -> &str {
        let users = self.tokens.len() as u64;
        &self.tokens[usize::try_from(index % users).unwrap_or(0)]
    }

    /// The user of upload `index` (the tokens are minted for `user-0`, `user-1`, …).
    fn user(&self, index: u64) -> String {
        format!("user-{}", index % self.tokens.len() as u64)
    }

    /// The multipart plan of an object of `size`, if it goes in parts.
    fn in_parts(&self, size: u64) -> Option<crate::scenario::Multipart> {
        self.multipart.filter(|m| size > m.threshold_bytes)
    }

    fn filename(&self, index: u64) -> String {
        format!("upload-{index}.{}", crate::app::policy::extension(&self.content_type))
    }

    /// The SHA-256 of upload `index`'s body, base64, as `x-amz-checksum-sha256` carries it.
    fn sha256(&self, index: u64) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.payload.sha256(index, self.payload.size(index)))
    }

    /// Counts the answer (`status`, `body`) that ended upload `index`, when it carried EICAR:
    /// caught when refused as infected, missed when it became a file.
    fn tally_infected(&self, index: u64, status: StatusCode, body: &Bytes) {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.payload.is_infected(index) {
            return;
        }
        self.infected.sent.fetch_add(1, Relaxed);
        let code = serde_json::from_slice::<serde_json::Value>(body).ok().map(|v| v["error"]["code"].clone());
        if status == StatusCode::UNPROCESSABLE_ENTITY && code.is_some_and(|c| c == "infected") {
            self.infected.caught.fetch_add(1, Relaxed);
        } else if status.is_success() {
            self.infected.missed.fetch_add(1, Relaxed);
        }
    }

    /// Upload `index`'s `POST /v1/uploads` to `broker`, as user `authorization` (with the body's
    /// SHA-256 when `sha256` is given).
    pub(super) fn presign_request(
        &self,
        broker: &str,
        index: u64,
        authorization: &str,
        sha256: Option<String>,
    ) -> Result<Request<http::Body>, Failure> {
        /// The body, typed: a `serde_json::Value` built per request cost the client a map and a
        /// string per field on the run's most frequent request.
        #[derive(serde::Serialize)]
        struct Body<'a> {
            filename: &'a str,
            content_type: &'a str,
            size: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            checksum_sha256: Option<String>,
        }
        let filename = self.filename(index);
        let body = Body {
            filename: &filename,
            content_type: &self.content_type,
            size: self.payload.size(index),
            checksum_sha256: sha256,
        };
        let body = serde_json::to_vec(&body).map_err(|_| Failure::Io)?;
        Request::post(format!("{broker}/v1/uploads"))
            .header(header::AUTHORIZATION, authorization)
            .header(header::CONTENT_TYPE, "application/json")
            .body(http::full(body))
            .map_err(|_| Failure::Io)
    }
}

/// `Ok` when the status is the one wanted, else the status as the failure.
pub(super) fn expect(status: StatusCode, want: StatusCode) -> Result<(), Failure> {
    if status == want { Ok(()) } else { Err(Failure::Http(status.as_u16())) }
}

fn json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|_| Failure::Io)
}

/// The proxy's answer naming the stored object.
#[derive(Deserialize)]
struct Stored {
    key: String,
    file_id: String,
}

/// The broker's answer to a completion.
#[derive(Deserialize)]
struct Completed {
    file_id: String,
}

/// The broker's presign answer.
#[derive(Deserialize)]
struct Grant {
    upload_id: String,
    url: String,
    headers: std::collections::BTreeMap<String, String>,
}

/// Presign → PUT to the store → complete.
#[derive(Debug)]
pub struct PresignedUpload {
    /// Shared state.
    pub common: Common,
    /// Broker base URL.
    pub broker: String,
    /// Client for presign requests (its meter gives the presign step's bytes).
    pub presign: Http,
    /// Client for the PUTs to the store.
    pub put: Http,
    /// Client for complete requests.
    pub complete: Http,
    /// With one upload at a time on one client for presign and complete (as a browser tab uses
    /// one connection), the bytes of each step, read from that client's meter around the step.
    pub tally: Option<Arc<Tally>>,
}

/// The presigned flow's client-facing bytes, by request kind, as the harness's sockets counted
/// them (`bytes_out`: requests, `bytes_in`: responses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepBytes {
    /// Presign requests and responses.
    pub presign: crate::metrics::InOut,
    /// Complete requests and responses.
    pub complete: crate::metrics::InOut,
}

/// Bytes by step of uploads made one at a time (see [`PresignedUpload::tally`]).
#[derive(Debug, Default)]
pub struct Tally {
    /// Presign requests and responses.
    pub presign: [std::sync::atomic::AtomicU64; 2],
    /// Complete requests and responses.
    pub complete: [std::sync::atomic::AtomicU64; 2],
}

impl Tally {
    /// What the tally holds, as the steps' bytes.
    #[must_use]
    pub fn steps(&self) -> StepBytes {
        use std::sync::atomic::Ordering::Relaxed;
        let io = |v: &[std::sync::atomic::AtomicU64; 2]| crate::metrics::InOut {
            bytes_out: v[0].load(Relaxed),
            bytes_in: v[1].load(Relaxed),
        };
        StepBytes { presign: io(&self.presign), complete: io(&self.complete) }
    }
}

/// Bytes `http`'s sockets have sent and received so far.
fn sent_received(http: &Http) -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (http.meter.storage.bytes_out.load(Relaxed), http.meter.storage.bytes_in.load(Relaxed))
}

impl Tally {
    /// Adds what `http` carried since `before` (from [`sent_received`]) to `step`.
    fn add(step: &[std::sync::atomic::AtomicU64; 2], http: &Http, before: (u64, u64)) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = sent_received(http);
        step[0].fetch_add(now.0.saturating_sub(before.0), Relaxed);
        step[1].fetch_add(now.1.saturating_sub(before.1), Relaxed);
    }
}

impl Flow for PresignedUpload {
    async fn upload(&self, index: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let c = &self.common;
        let size = c.payload.size(index);
        let token = format!("Bearer {}", c.token(index));
        if let Some(m) = c.in_parts(size) {
            return self.upload_in_parts(index, size, &token, m, sample).await;
        }
        let t0 = Instant::now();
        // The client hashes the file before it asks for a URL: its own cost, timed apart.
        let sha256 = c.checksum_sha256.then(|| c.sha256(index));
        let t_hashed = Instant::now();
        if sha256.is_some() {
            sample.phase(Phase::Checksum, t_hashed - t0);
        }
        let request = c.presign_request(&self.broker, index, &token, sha256)?;
        let before = sent_received(&self.presign);
        let (status, body) = self.presign.send(request).await?;
        if let Some(t) = &self.tally {
            Tally::add(&t.presign, &self.presign, before);
        }
        expect(status, StatusCode::CREATED)?;
        let grant: Grant = json(&body)?;
        let t1 = Instant::now();
        sample.phase(Phase::Presign, t1 - t_hashed);

        // The body is streamed, so its length is stated (the broker signed it, and lists only
        // the headers a client could not derive).
        let mut put = Request::builder().method(Method::PUT).uri(&grant.url).header(header::CONTENT_LENGTH, size);
        for (k, v) in &grant.headers {
            put = put.header(k, v);
        }
        let put = put.body(http::chunks(c.payload.chunks(index, size))).map_err(|_| Failure::Io)?;
        let (status, _) = self.put.send(put).await?;
        expect(status, StatusCode::OK)?;
        let t2 = Instant::now();
        sample.phase(Phase::Put, t2 - t1);

        let request = Request::post(format!("{}/v1/uploads/{}/complete", self.broker, grant.upload_id))
            .header(header::AUTHORIZATION, &token)
            .body(http::full(Bytes::new()))
            .map_err(|_| Failure::Io)?;
        let before = sent_received(&self.complete);
        let (status, body) = self.complete.send(request).await?;
        if let Some(t) = &self.tally {
            Tally::add(&t.complete, &self.complete, before);
        }
        c.tally_infected(index, status, &body);
        expect(status, StatusCode::OK)?;
        let completed: Completed = json(&body)?;
        let t3 = Instant::now();
        sample.phase(Phase::Complete, t3 - t2);
        sample.phase(Phase::EndToEnd, t3 - t0);
        Ok(Some(c.done(index, size, completed.file_id)?))
    }
}

impl Common {
    /// A presigned upload's record: the broker answers only the file's id, which is the UUID of
    /// its key.
    fn done(&self, index: u64, size: u64, file_id: String) -> Result<Done, Failure> {
        let id = uuid::Uuid::parse_str(&file_id).map_err(|_| Failure::Io)?;
        let content_type = crate::units::normalise_content_type(&self.content_type);
        let key = policy::key(policy::FILE_PREFIX, &self.user(index), id, &content_type);
        Ok(Done { index, size, key, file_id, ..Done::default() })
    }
}

impl PresignedUpload {
    /// Upload `index` in parts (see [`super::multipart`]).
    async fn upload_in_parts(
        &self,
        index: u64,
        size: u64,
        token: &str,
        m: crate::scenario::Multipart,
        sample: &mut Sample,
    ) -> Result<Option<Done>, Failure> {
        let c = &self.common;
        let filename = c.filename(index);
        let plan = super::multipart::Plan {
            broker: &self.broker,
            authorization: token,
            filename: &filename,
            content_type: &c.content_type,
            size,
            part_size: m.part_size_bytes,
            parts_in_flight: m.parts_in_flight,
        };
        let clients = super::multipart::Clients { app: &self.presign, store: &self.put, complete: &self.complete };
        let payload = &c.payload;
        let body = move |offset, length| payload.range(index, size, offset, length);
        let up = super::multipart::upload(clients, plan, &body).await?;
        c.parts.add(up.parts, up.retries);
        sample.phase(Phase::Presign, up.start);
        sample.phase(Phase::Put, up.transfer);
        sample.phase(Phase::Complete, up.complete);
        sample.phase(Phase::EndToEnd, up.start + up.transfer + up.complete);
        Ok(Some(c.done(index, size, up.file_id)?))
    }
}

/// One PUT through the proxy.
#[derive(Debug)]
pub struct ProxiedUpload {
    /// Shared state.
    pub common: Common,
    /// Proxy base URL.
    pub proxy: String,
    /// Client for the uploads.
    pub http: Http,
}

impl Flow for ProxiedUpload {
    async fn upload(&self, index: u64, sample: &mut Sample) -> Result<Option<Done>, Failure> {
        let c = &self.common;
        let size = c.payload.size(index);
        let t0 = Instant::now();
        let request = Request::put(format!("{}/v1/proxy/uploads", self.proxy))
            .header(header::AUTHORIZATION, format!("Bearer {}", c.token(index)))
            .header(header::CONTENT_TYPE, &c.content_type)
            .header(header::CONTENT_LENGTH, size)
            .header(crate::proxy::FILENAME_HEADER, c.filename(index))
            .body(http::chunks(c.payload.chunks(index, size)))
            .map_err(|_| Failure::Io)?;
        let (status, body) = self.http.send(request).await?;
        c.tally_infected(index, status, &body);
        expect(status, StatusCode::CREATED)?;
        let stored: Stored = json(&body)?;
        let took = t0.elapsed();
        sample.phase(Phase::Upload, took);
        sample.phase(Phase::EndToEnd, took);
        if let Some(m) = c.in_parts(size) {
            // The proxy cut it as the scenario says (it was started with the same part size).
            let parts = policy::Parts { size, part_size: m.part_size_bytes };
            c.parts.add(parts.count(), 0);
        }
        Ok(Some(Done { index, size, key: stored.key, file_id: stored.file_id, ..Done::default() }))
    }
}

/// An upload flow; every flow is a [`Job`].
pub trait Flow: Send + Sync + 'static {
    /// Performs upload `index`, recording its phases into `sample`.
    /// `Ok(Some(done))`: an object to verify later; `Ok(None)`: a request that stores nothing.
    fn upload(&self, index: u64, sample: &mut Sample) -> impl Future<Output = Result<Option<Done>, Failure>> + Send;
}

impl<F: Flow> Job for F {
    fn run(&self, index: u64) -> Pin<Box<dyn Future<Output = Sample> + Send + '_>> {
        Box::pin(async move {
            let mut sample = Sample::default();
            match self.upload(index, &mut sample).await {
                Ok(Some(done)) => sample.ok(done),
                Ok(None) => sample.ok_untracked(),
                Err(why) => sample.fail(why),
            }
            sample
        })
    }
}
