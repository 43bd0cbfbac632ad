//! The yardstick: the same presigned URLs through the `aws-sigv4` crate, which the hand-written
//! presigner is tested against (byte-identical URLs) and measured against (`sign-bench`).

use super::{PresignError, Presigner};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_sigv4::sign::v4;
use std::time::{Duration, SystemTime};

/// Presigns `method key` with `headers` (lowercase names) the way the broker would, using
/// aws-sigv4.
///
/// # Errors
/// [`PresignError`] when aws-sigv4 refuses (or the expiry exceeds seven days).
pub fn aws_sigv4_url(
    p: &Presigner,
    method: &str,
    key: &str,
    headers: &[(&str, &str)],
    expires_in: Duration,
    now: SystemTime,
) -> Result<String, PresignError> {
    if expires_in > super::MAX_EXPIRY {
        return Err(PresignError::ExpiryTooLong { secs: expires_in.as_secs() });
    }
    let url = p.object_url(key);
    let identity = Credentials::new(&p.access_key, &p.secret_key, None, None, "presign-bench").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires_in);
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&p.region)
        .name("s3")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| PresignError::Sign(e.to_string()))?
        .into();
    let signable = SignableRequest::new(method, &url, headers.iter().copied(), SignableBody::UnsignedPayload)
        .map_err(|e| PresignError::Sign(e.to_string()))?;
    let (instructions, _) = sign(signable, &params).map_err(|e| PresignError::Sign(e.to_string()))?.into_parts();
    let mut request =
        http::Request::builder().method(method).uri(&url).body(()).map_err(|e| PresignError::Sign(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}
