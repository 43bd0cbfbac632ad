//! The presigner: a pure function from (method, key, signed headers, expiry, time) to a SigV4
//! query-signed URL. No I/O, no clock of its own: callers pass the time, tests pin it.

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::{Duration, SystemTime};

/// SigV4's limit on a presigned URL's lifetime: seven days.
pub const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Characters of a key segment left as they are (RFC 3986 unreserved).
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// How the bucket appears in URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// `http://endpoint/bucket/key` (local stores, MinIO).
    Path,
    /// `https://bucket.endpoint/key` (AWS).
    VirtualHosted,
}

/// Errors of presigning.
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    /// Above SigV4's seven-day limit.
    #[error("expiry of {secs}s exceeds SigV4's limit of 604800s (7 days)")]
    ExpiryTooLong {
        /// The requested lifetime in seconds.
        secs: u64,
    },
    /// The endpoint is not `scheme://host[:port]`.
    #[error("invalid endpoint {0:?}: expected scheme://host[:port]")]
    Endpoint(String),
    /// aws-sigv4 refused the request.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A presigned request: the URL and the headers the client must send unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presigned {
    /// The URL, signature in its query.
    pub url: String,
    /// Headers that are signed into the URL (besides `host`).
    pub headers: Vec<(&'static str, String)>,
    /// When the URL stops working.
    pub expires_at: SystemTime,
}

/// Signs URLs for one bucket with one key pair.
#[derive(Clone, Debug)]
pub struct Presigner {
    scheme: String,
    authority: String,
    bucket: String,
    region: String,
    identity: Identity,
    addressing: Addressing,
}

impl Presigner {
    /// A presigner for `bucket` at `endpoint` (`http://127.0.0.1:9000`, `https://s3.amazonaws.com`).
    ///
    /// # Errors
    /// [`PresignError::Endpoint`] when the endpoint is not `scheme://host[:port]`.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
        addressing: Addressing,
    ) -> Result<Self, PresignError> {
        let uri: http::Uri = endpoint.parse().map_err(|_| PresignError::Endpoint(endpoint.to_owned()))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(PresignError::Endpoint(endpoint.to_owned()));
        };
        let creds = Credentials::new(access_key, secret_key, None, None, "presign-bench");
        Ok(Self {
            scheme: scheme.to_owned(),
            authority: authority.to_string(),
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            identity: creds.into(),
            addressing,
        })
    }

    /// A PUT URL that accepts exactly `content_type` and `content_length`.
    ///
    /// # Errors
    /// [`PresignError`] for an expiry above seven days.
    pub fn put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<Presigned, PresignError> {
        let headers = vec![("content-length", content_length.to_string()), ("content-type", content_type.to_owned())];
        self.presign("PUT", key, headers, expires_in, now)
    }

    /// A GET URL for `key`.
    ///
    /// # Errors
    /// [`PresignError`] for an expiry above seven days.
    pub fn get(&self, key: &str, expires_in: Duration, now: SystemTime) -> Result<Presigned, PresignError> {
        self.presign("GET", key, Vec::new(), expires_in, now)
    }

    /// The unsigned URL of `key`.
    #[must_use]
    pub fn object_url(&self, key: &str) -> String {
        let path: Vec<_> = key.split('/').map(|s| utf8_percent_encode(s, KEY_SEGMENT).to_string()).collect();
        let path = path.join("/");
        match self.addressing {
            Addressing::Path => format!("{}://{}/{}/{path}", self.scheme, self.authority, self.bucket),
            Addressing::VirtualHosted => format!("{}://{}.{}/{path}", self.scheme, self.bucket, self.authority),
        }
    }

    fn presign(
        &self,
        method: &str,
        key: &str,
        headers: Vec<(&'static str, String)>,
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<Presigned, PresignError> {
        if expires_in > MAX_EXPIRY {
            return Err(PresignError::ExpiryTooLong { secs: expires_in.as_secs() });
        }
        let url = self.object_url(key);
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| PresignError::Sign(e.to_string()))?
            .into();
        let signable = SignableRequest::new(
            method,
            &url,
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| PresignError::Sign(e.to_string()))?;
        let (instructions, _signature) =
            sign(signable, &params).map_err(|e| PresignError::Sign(e.to_string()))?.into_parts();
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .body(())
            .map_err(|e| PresignError::Sign(e.to_string()))?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(Presigned { url: request.uri().to_string(), headers, expires_at: now + expires_in })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: "Authenticating Requests: Using Query Parameters (AWS Signature
    /// Version 4)", GET examplebucket/test.txt.
    #[test]
    fn aws_published_presign_example() {
        let p = Presigner::new(
            "https://s3.amazonaws.com",
            "examplebucket",
            "us-east-1",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Addressing::VirtualHosted,
        )
        .unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 20130524T000000Z
        let url = p.get("test.txt", Duration::from_secs(86400), t).unwrap().url;
        assert!(url.starts_with("https://examplebucket.s3.amazonaws.com/test.txt?"), "{url}");
        assert!(
            url.contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Date=20130524T000000Z"), "{url}");
        assert!(url.contains("X-Amz-Expires=86400"), "{url}");
        assert!(url.contains("X-Amz-SignedHeaders=host"), "{url}");
        assert!(
            url.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
            "{url}"
        );
    }

    #[test]
    fn put_signs_type_and_length() {
        let p = Presigner::new("http://127.0.0.1:9000", "b", "us-east-1", "ak", "sk", Addressing::Path).unwrap();
        let now = SystemTime::now();
        let signed = p.put("uploads/u/x.jpg", "image/jpeg", 42, Duration::from_secs(600), now).unwrap();
        assert!(signed.url.starts_with("http://127.0.0.1:9000/b/uploads/u/x.jpg?"));
        assert!(signed.url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"), "{}", signed.url);
        assert_eq!(signed.expires_at, now + Duration::from_secs(600));
    }

    #[test]
    fn refuses_expiry_above_seven_days() {
        let p = Presigner::new("http://127.0.0.1:9000", "b", "us-east-1", "ak", "sk", Addressing::Path).unwrap();
        let err = p.get("k", MAX_EXPIRY + Duration::from_secs(1), SystemTime::now()).unwrap_err();
        assert!(matches!(err, PresignError::ExpiryTooLong { secs: 604_801 }));
    }
}
