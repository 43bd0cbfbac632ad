//! The steps audit cases are made of: a context holding the stack's addresses and keys, a raw HTTP
//! exchange that returns status and error code, the presigned flow's steps (grant, signed PUT,
//! complete, download), and a look for a key a refused write must not have left.

use crate::app::auth::Tokens;
use crate::client::http::{Body, Http, full};
use crate::sigv4::{Addressing, Presigner};
use bytes::Bytes;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// A boxed future borrowing the context.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// The users the audit acts as. Their keys start with [`AUDIT_PREFIX`], so the audit can delete
/// what it stored, even in a bucket that is not its own.
pub const AUDITOR: &str = "presign-bench-audit";
/// The owner in ownership cases.
pub const ALICE: &str = "presign-bench-audit-alice";
/// The other user in ownership cases.
pub const MALLORY: &str = "presign-bench-audit-mallory";
/// What every key the audit writes starts with, after the server's prefix.
pub const AUDIT_PREFIX: &str = "presign-bench-audit";

/// Longest a case may take.
pub const CASE_LIMIT: Duration = Duration::from_secs(30);

/// What a case saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// HTTP status of the decisive answer.
    pub status: u16,
    /// Its error code (S3 `<Code>`, the broker's `error.code`) or a note.
    pub code: String,
    /// Set when the case judged the answer itself (a read-back, a sanitised name).
    pub held: Option<bool>,
    /// The case cannot run against this stack.
    pub not_applicable: bool,
}

impl Observed {
    /// An answer judged by the case itself.
    #[must_use]
    pub fn judged(status: u16, held: bool, note: impl Into<String>) -> Self {
        Self { status, code: note.into(), held: Some(held), not_applicable: false }
    }

    /// A case that does not apply to this stack, and why.
    #[must_use]
    pub fn not_applicable(why: impl Into<String>) -> Self {
        Self { status: 0, code: why.into(), held: None, not_applicable: true }
    }
}

/// A grant from `POST /v1/uploads`.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The presigned PUT URL.
    pub url: String,
    /// The upload id to complete.
    pub upload_id: String,
    /// The key the URL writes (read from its path: the broker does not send it).
    pub key: String,
    /// The headers the PUT must carry.
    pub headers: Vec<(String, String)>,
}

/// The stack under audit.
pub struct Auditor {
    /// Broker base URL.
    pub broker: String,
    /// Store endpoint.
    pub store: String,
    /// Bucket.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// A presigner with the store's keys (for URLs the broker would sign, and variants).
    pub presigner: Presigner,
    /// The broker's token minting.
    pub tokens: Tokens,
    /// The broker's token secret (to forge tokens the broker must refuse; never printed).
    pub secret: String,
    /// The web origin the servers under audit allow (`None`: CORS is off, or the store is not
    /// the harness's to configure).
    pub cors_origin: Option<String>,
    /// The CDN in front of the store, when the audit started one.
    pub cdn: Option<String>,
    /// Its cookie key (to sign the policies it must refuse: expired; never printed).
    pub cdn_key: Option<String>,
    /// Whether it serves a public path.
    pub cdn_public: bool,
    client: Http,
}

/// A 1 KiB payload that starts like a JPEG.
#[must_use]
pub fn jpeg() -> Vec<u8> {
    let mut v: Vec<u8> = (0..1024u32).map(|i| u8::try_from(i % 251).unwrap_or(0)).collect();
    v[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    v
}

impl Auditor {
    /// The context of a started stack.
    ///
    /// # Errors
    /// When the store endpoint is not a URL the presigner takes.
    pub fn new(stack: &crate::harness::stack::Stack) -> anyhow::Result<Self> {
        let t = &stack.target;
        let presigner = Presigner::new(
            &t.endpoint,
            &t.bucket,
            &t.region,
            &t.credentials.access_key,
            &t.credentials.secret_key,
            Addressing::Path,
        )?;
        Ok(Self {
            broker: stack.broker.clone(),
            store: t.endpoint.clone(),
            bucket: t.bucket.clone(),
            region: t.region.clone(),
            presigner,
            tokens: Tokens::new(stack.secret.as_bytes()),
            secret: stack.secret.clone(),
            cors_origin: None,
            cdn: stack.cdn.as_ref().map(|c| c.url.clone()),
            cdn_key: stack.cdn.as_ref().map(|c| c.key.clone()),
            cdn_public: stack.cdn.is_some(),
            client: Http::new(CASE_LIMIT).tls(stack.trust.clone()),
        })
    }

    /// A bearer token for `user`.
    #[must_use]
    pub fn token(&self, user: &str) -> String {
        self.tokens.mint(user, Duration::from_secs(600)).unwrap_or_default()
    }

    /// Sends one request; returns the status, the error code, and the body.
    ///
    /// # Errors
    /// When nothing answers.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Body,
    ) -> Result<(Observed, Bytes), String> {
        self.exchange(method, url, headers, body).await.map(|(o, _, body)| (o, body))
    }

    /// Sends one request; returns the status and error code, the response headers, and the body.
    ///
    /// # Errors
    /// When nothing answers.
    pub async fn exchange(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Body,
    ) -> Result<(Observed, http::HeaderMap, Bytes), String> {
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req.body(body).map_err(|e| format!("building the request: {e}"))?;
        let (status, headers, body) =
            self.client.send_with_headers(req).await.map_err(|e| format!("{method} {url}: {e}"))?;
        let code = error_code(&body);
        Ok((Observed { status: status.as_u16(), code, held: None, not_applicable: false }, headers, body))
    }

    /// A JSON request to the broker as `user` (`None`: no token).
    ///
    /// # Errors
    /// When the broker does not answer.
    pub async fn broker(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(Observed, Value), String> {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(token) = auth {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        let bytes = body.map(Value::to_string).unwrap_or_default();
        let (o, body) = self.send(method, &format!("{}{path}", self.broker), &headers, full(bytes)).await?;
        Ok((o, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// `POST /v1/uploads` for `user`.
    ///
    /// # Errors
    /// When the broker refuses (with its status and code).
    pub async fn grant(&self, user: &str, request: &Value) -> Result<Grant, String> {
        let (o, v) = self.broker("POST", "/v1/uploads", Some(&self.token(user)), Some(request)).await?;
        if o.status != 201 {
            return Err(format!("presign refused: {} {}", o.status, o.code));
        }
        let headers = v["headers"]
            .as_object()
            .map(|h| h.iter().map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default();
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let url = s("url");
        let key = crate::sigv4::path_style_key(&url, &self.bucket).unwrap_or_default();
        Ok(Grant { url, upload_id: s("upload_id"), key, headers })
    }

    /// A grant for a 1 KiB JPEG named `a.jpg`.
    ///
    /// # Errors
    /// As [`Self::grant`].
    pub async fn jpeg_grant(&self, user: &str) -> Result<Grant, String> {
        self.grant(user, &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1024})).await
    }

    /// PUT `body` to `url` with `headers`.
    ///
    /// # Errors
    /// When the store does not answer.
    pub async fn put(&self, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<Observed, String> {
        self.send("PUT", url, headers, full(body)).await.map(|(o, _)| o)
    }

    /// Completes `grant` as `user`.
    ///
    /// # Errors
    /// When the broker does not answer.
    pub async fn complete(&self, user: &str, grant: &Grant) -> Result<(Observed, Value), String> {
        self.broker("POST", &format!("/v1/uploads/{}/complete", grant.upload_id), Some(&self.token(user)), None).await
    }

    /// The whole flow for `user`: grant `request`, PUT `body` with the signed headers, complete.
    ///
    /// # Errors
    /// When a step does not answer, or the PUT is refused.
    pub async fn upload(&self, user: &str, request: &Value, body: Vec<u8>) -> Result<(Observed, Value), String> {
        let g = self.grant(user, request).await?;
        let put = self.put(&g.url, &g.headers, body).await?;
        if put.status != 200 {
            return Err(format!("the store refused the broker's URL: {} {}", put.status, put.code));
        }
        self.complete(user, &g).await
    }

    /// The presigned GET URL of `file_id` for `user` (`Accept: application/json`).
    ///
    /// # Errors
    /// When the broker refuses.
    pub async fn download_url(&self, user: &str, file_id: &str) -> Result<String, String> {
        let headers = [
            ("authorization".to_owned(), format!("Bearer {}", self.token(user))),
            ("accept".to_owned(), "application/json".to_owned()),
        ];
        let (o, body) =
            self.send("GET", &format!("{}/v1/files/{file_id}", self.broker), &headers, full(Vec::new())).await?;
        if o.status != 200 {
            return Err(format!("download refused: {} {}", o.status, o.code));
        }
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok(v["url"].as_str().unwrap_or_default().to_owned())
    }

    /// Whether the store holds `key` (a GET signed with the store's keys).
    ///
    /// # Errors
    /// When the store does not answer, or answers neither 200 nor 404.
    pub async fn exists(&self, key: &str) -> Result<bool, String> {
        let get = self.presigner.get(key, Duration::from_secs(60), SystemTime::now()).map_err(|e| e.to_string())?;
        // Once more on a broken connection: a store may close the one its refusal was sent on
        // just as the pool hands it out again.
        let answer = match self.send("GET", &get.url, &[], full(Vec::new())).await {
            Ok(answer) => answer,
            Err(_) => self.send("GET", &get.url, &[], full(Vec::new())).await?,
        };
        match answer.0 {
            Observed { status: 200, .. } => Ok(true),
            Observed { status: 404, .. } => Ok(false),
            o => Err(format!("looking for {key}: {} {}", o.status, o.code)),
        }
    }

    /// `refused` as seen after checking `key`: a write the store refused (4xx) must leave
    /// nothing under the key, so one that did is judged broken whatever its status said.
    ///
    /// # Errors
    /// When the store does not answer the check.
    pub async fn left_nothing(&self, refused: Observed, key: Option<&str>) -> Result<Observed, String> {
        match key {
            Some(key) if refused.status >= 400 && refused.held.is_none() && self.exists(key).await? => {
                let note = format!("{} {}, yet the object was stored", refused.code, refused.status);
                Ok(Observed::judged(refused.status, false, note))
            }
            _ => Ok(refused),
        }
    }
}

/// `<Code>X</Code>` of an S3 error, or `error.code` of a broker error, or empty.
#[must_use]
pub fn error_code(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if let Some(code) = text.split("<Code>").nth(1).and_then(|c| c.split('<').next()) {
        return code.to_owned();
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}
