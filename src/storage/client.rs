//! The app tier's S3 client: aws-sdk-s3 over a connector whose sockets are [`Counted`].
//!
//! aws-smithy-http-client builds its own TCP connector and offers no public hook to wrap the
//! socket, so `CountingHttpClient` is a small hand-written `HttpClient`: hyper-util's pooled
//! client over a connector that wraps each `TcpStream` in [`Counted`]. That is what lets the
//! broker and the proxy report storage-facing bytes as they cross the socket, headers included.

use super::Credentials;
use crate::metrics::{CountingConnector, Meter};
use aws_sdk_s3::config::{
    BehaviorVersion, Region, RequestChecksumCalculation, ResponseChecksumValidation, StalledStreamProtectionConfig,
};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// Where the app tier's objects live.
#[derive(Clone, Debug)]
pub struct S3Target {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Region used in signatures.
    pub region: String,
    /// Bucket holding uploads.
    pub bucket: String,
    /// Keys of the app tier.
    pub credentials: Credentials,
    /// For an `https` endpoint: the CA certificates (PEM) its certificate is checked against,
    /// and nothing else (`--storage-ca`).
    pub ca_pem: Option<String>,
}

/// Timeouts of every call to the store (`--store-connect-timeout`, `--store-timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest wait for a TCP connection.
    pub connect: Duration,
    /// Longest wait for a call's answer (a streamed body is watched by idle time instead: see
    /// the proxy).
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(3), operation: Duration::from_secs(30) }
    }
}

/// Whether a failed call ran out of time (connecting, or waiting for the answer).
#[must_use]
pub fn is_timeout<E>(e: &aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>) -> bool {
    use aws_smithy_runtime_api::client::result::SdkError;
    match e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    }
}

/// Errors of talking to the store at startup.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a usable URL.
    #[error("invalid storage endpoint {endpoint:?}: {message}")]
    Endpoint {
        /// The URL given.
        endpoint: String,
        /// Why it is not usable.
        message: String,
    },
    /// The store did not answer, or refused the bucket.
    #[error("storage endpoint {endpoint} {action} failed: {message}")]
    Unreachable {
        /// The URL given.
        endpoint: String,
        /// What was attempted.
        action: String,
        /// The SDK's error, with its causes.
        message: String,
    },
}

/// The aws-sdk-s3 configuration every client of this project uses (the app tier's, the
/// harness's verifier, and the `sign-bench` yardstick): path-style addressing, static credentials,
/// checksums only when required, no stalled-stream protection.
#[must_use]
pub fn config(target: &S3Target) -> aws_sdk_s3::config::Builder {
    let creds = aws_sdk_s3::config::Credentials::new(
        &target.credentials.access_key,
        &target.credentials.secret_key,
        None,
        None,
        "presign-bench",
    );
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .endpoint_url(&target.endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        // Checksums in trailers (aws-chunked) are not what either architecture is about.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        // A slow client legitimately pauses the proxied body; that is not a stalled store.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}

/// Builds the S3 client for `target`, counting storage-facing bytes into `meter`; every call is
/// bounded by `timeouts`.
///
/// # Errors
/// [`ClientError::Endpoint`] for a URL that is not `http://` or `https://` (`https://` needs
/// `target.ca_pem`, or the `https` feature).
pub fn build(target: &S3Target, meter: Arc<Meter>, timeouts: Timeouts) -> Result<aws_sdk_s3::Client, ClientError> {
    let uri: http::Uri = target.endpoint.parse().map_err(|e: http::uri::InvalidUri| ClientError::Endpoint {
        endpoint: target.endpoint.clone(),
        message: e.to_string(),
    })?;
    let mut config = config(target).timeout_config(
        aws_smithy_types::timeout::TimeoutConfig::builder()
            .connect_timeout(timeouts.connect)
            .operation_timeout(timeouts.operation)
            .build(),
    );
    match (uri.scheme_str(), &target.ca_pem) {
        (Some("http"), _) => {
            config = config.http_client(SharedHttpClient::new(CountingHttpClient::new(meter, timeouts.connect, None)));
        }
        (Some("https"), Some(ca)) => {
            let trust = crate::tls::client_config(ca, "--storage-ca", &[crate::tls::ALPN_HTTP1])
                .map_err(|e| ClientError::Endpoint { endpoint: target.endpoint.clone(), message: e.to_string() })?;
            let client = CountingHttpClient::new(meter, timeouts.connect, Some(trust));
            config = config.http_client(SharedHttpClient::new(client));
        }
        #[cfg(feature = "https")]
        (Some("https"), None) => {
            tracing::warn!("https endpoint: storage-facing bytes are not counted (TLS client is the SDK's own)");
        }
        _ => {
            return Err(ClientError::Endpoint {
                endpoint: target.endpoint.clone(),
                message: if cfg!(feature = "https") {
                    "expected an http:// or https:// URL".into()
                } else if uri.scheme_str() == Some("https") {
                    "an https endpoint needs the CA to check its certificate against (--storage-ca FILE), \
                     or a build with --features https (the SDK's own TLS and public roots, bytes not counted)"
                        .into()
                } else {
                    "expected an http:// or https:// URL".into()
                },
            });
        }
    }
    Ok(aws_sdk_s3::Client::from_conf(config.build()))
}

/// One line for an S3 call that failed: the store's error code, message and HTTP status, or why
/// the store could not be reached; never the SDK's debug dump.
#[must_use]
pub fn describe<E>(e: &aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>) -> String
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    /// The innermost cause, which names what really happened ("Connection refused").
    fn root(e: &(dyn std::error::Error + 'static)) -> String {
        let mut cause = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    }
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            let status = s.raw().status().as_u16();
            let reason = http::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
            let code = err.code().or(reason).unwrap_or("an unnamed error");
            match err.message() {
                Some(message) => format!("{code}: {message} (HTTP {status})"),
                None => format!("{code} (HTTP {status})"),
            }
        }
        SdkError::DispatchFailure(d) if d.is_timeout() => "timed out connecting to the store".to_owned(),
        SdkError::DispatchFailure(_) => format!("cannot reach the store: {}", root(e)),
        SdkError::TimeoutError(_) => "the store did not answer in time".to_owned(),
        SdkError::ResponseError(_) => format!("unreadable answer from the store: {}", root(e)),
        SdkError::ConstructionFailure(_) => format!("the request could not be built: {}", root(e)),
        _ => root(e),
    }
}

/// Waits until the store accepts a write in `target`'s bucket: a distributed MinIO answers
/// `SlowDownWrite` for a moment after it reaches quorum. Writes and deletes one small probe
/// object, retrying for up to `limit`.
///
/// # Errors
/// [`ClientError::Unreachable`] with the last refusal when the store never accepts the write.
pub async fn wait_writable(client: &aws_sdk_s3::Client, target: &S3Target, limit: Duration) -> Result<(), ClientError> {
    let key = format!(".presign-bench-probe-{}", uuid::Uuid::new_v4().simple());
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let put = client.put_object().bucket(&target.bucket).key(&key).body(b"probe".to_vec().into()).send().await;
        match put {
            Ok(_) => {
                let _ = client.delete_object().bucket(&target.bucket).key(&key).send().await;
                return Ok(());
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(ClientError::Unreachable {
                    endpoint: target.endpoint.clone(),
                    action: format!("a probe write to bucket {}", target.bucket),
                    message: describe(&e),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// What [`expire_prefix`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// The rule was added (the bucket had no lifecycle configuration).
    Added,
    /// The bucket has a lifecycle configuration already: it is the owner's, and left as it is.
    Kept,
    /// The store does not support lifecycle rules (or refused), with its answer.
    Unsupported(String),
}

/// Asks the store itself to expire objects under `prefix` after `days` (and abandoned multipart
/// uploads under it), as a backstop to the server's own sweeper. Only a bucket without any
/// lifecycle configuration gets the rule: an existing one is its owner's and is never replaced.
pub async fn expire_prefix(client: &aws_sdk_s3::Client, bucket: &str, prefix: &str, days: i32) -> Lifecycle {
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration,
        LifecycleRule, LifecycleRuleFilter,
    };
    match client.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(_) => return Lifecycle::Kept,
        Err(e)
            if e.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
                == Some("NoSuchLifecycleConfiguration") => {}
        Err(e) => return Lifecycle::Unsupported(describe(&e)),
    }
    let rule = LifecycleRule::builder()
        .id(format!("presign-bench-expire-{}", prefix.trim_end_matches('/')))
        .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
        .status(ExpirationStatus::Enabled)
        .expiration(LifecycleExpiration::builder().days(days).build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder().days_after_initiation(days).build(),
        )
        .build();
    let config = rule.and_then(|rule| BucketLifecycleConfiguration::builder().rules(rule).build());
    let Ok(config) = config else { return Lifecycle::Unsupported("the rule could not be built".into()) };
    match client.put_bucket_lifecycle_configuration().bucket(bucket).lifecycle_configuration(config).send().await {
        Ok(_) => Lifecycle::Added,
        Err(e) => Lifecycle::Unsupported(describe(&e)),
    }
}

/// Creates `bucket` unless it exists.
///
/// # Errors
/// [`ClientError::Unreachable`] naming the endpoint when the store does not answer or refuses.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, target: &S3Target) -> Result<(), ClientError> {
    let fail = |action: &str, message: String| ClientError::Unreachable {
        endpoint: target.endpoint.clone(),
        action: action.to_owned(),
        message,
    };
    match client.head_bucket().bucket(&target.bucket).send().await {
        Ok(_) => return Ok(()),
        // A HEAD answer has no body, so its refusals carry no reason: creating the bucket either
        // works or is refused with one (InvalidBucketName, InvalidAccessKeyId, ...).
        Err(aws_smithy_runtime_api::client::result::SdkError::ServiceError(_)) => {}
        Err(e) => return Err(fail(&format!("HEAD bucket {}", target.bucket), describe(&e))),
    }
    match client.create_bucket().bucket(&target.bucket).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()) =>
        {
            Ok(())
        }
        Err(e) => Err(fail(&format!("create bucket {}", target.bucket), describe(&e))),
    }
}

/// hyper-util's pooled client over [`CountingConnector`], as an SDK `HttpClient`.
#[derive(Clone, Debug)]
struct CountingHttpClient {
    client: HyperClient<CountingConnector, SdkBody>,
}

impl CountingHttpClient {
    fn new(meter: Arc<Meter>, connect_timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(CountingConnector::with_connect_timeout(meter, connect_timeout).tls(tls));
        Self { client }
    }
}

impl HttpClient for CountingHttpClient {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for CountingHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request.try_into_http1x().map_err(|e| ConnectorError::other(e.into(), None))?;
            let response = client.request(request).await.map_err(|e| {
                if e.is_connect() { ConnectorError::io(e.into()) } else { ConnectorError::other(e.into(), None) }
            })?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// `s3://BUCKET/PREFIX` as (bucket, prefix without surrounding slashes).
///
/// # Errors
/// When it is not an `s3://` URL with a bucket.
pub fn parse_s3_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| format!("{url:?} is not s3://BUCKET/PREFIX"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("{url:?} names no bucket (s3://BUCKET/PREFIX)"));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

/// The bucket and key of `name` under `s3://BUCKET/PREFIX`.
///
/// # Errors
/// As [`parse_s3_url`].
pub fn s3_location(url: &str, name: &str) -> Result<(String, String), String> {
    let (bucket, prefix) = parse_s3_url(url)?;
    let key = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}/{name}") };
    Ok((bucket, key))
}
