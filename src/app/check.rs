//! Post-upload checks: the stored object must have the signed size and type, and its first bytes
//! must carry the declared type's magic numbers. What fails is deleted.
//!
//! A presigned upload is checked after [`copy_verified`] has copied it to a key only the broker
//! knows: the client's URL stays valid until it expires and a store may let it overwrite the
//! upload key (s3s-fs checks `If-None-Match: *` when a PUT starts, not when it commits), so the
//! file that is served is the copy, which no URL the client ever held can reach.

use super::error::ApiError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_smithy_types::error::display::DisplayErrorContext;

/// How many leading bytes are sniffed for magic numbers.
pub const SNIFF_LEN: usize = 512;

/// What an object must look like.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    /// Object key.
    pub key: &'a str,
    /// Signed size in bytes.
    pub size: u64,
    /// Signed content type.
    pub content_type: &'a str,
}

/// Checks that `head` (the first bytes of an object) matches `declared`'s magic numbers.
/// Types the `infer` crate has no matcher for are not sniffed.
///
/// # Errors
/// [`ApiError::ContentMismatch`] naming what was detected.
pub fn check_magic(declared: &str, head: &[u8]) -> Result<(), ApiError> {
    if !infer::is_mime_supported(declared) || infer::is_mime(head, declared) {
        return Ok(());
    }
    Err(ApiError::ContentMismatch {
        declared: declared.to_owned(),
        detected: infer::get(head).map_or("unknown", |t| t.mime_type()).to_owned(),
    })
}

/// Copies the object the client uploaded to `from` into `expected.key` (a key only the server
/// knows), verifies the copy with [`stored_object`], and deletes `from`. Returns the copy's ETag.
/// When the copy fails verification both objects are deleted.
///
/// # Errors
/// 409 when nothing was uploaded to `from`, 422 when the copy does not match, 502/504 when the
/// store fails or does not answer within `limit`.
pub async fn copy_verified(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    from: &str,
    expected: Expected<'_>,
    limit: std::time::Duration,
) -> Result<String, ApiError> {
    let copied = s3.copy_object().bucket(bucket).key(expected.key).copy_source(format!("{bucket}/{from}")).send().await;
    if let Err(e) = copied {
        let missing = e.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code) == Some("NoSuchKey");
        return Err(if missing { ApiError::ObjectMissing { key: from.to_owned() } } else { ApiError::storage(&e) });
    }
    let verdict = stored_object(s3, bucket, expected, limit).await;
    if matches!(
        verdict,
        Ok(_) | Err(ApiError::SizeMismatch { .. } | ApiError::TypeMismatch { .. } | ApiError::ContentMismatch { .. })
    ) {
        // Verified (the copy is what is served) or rejected (nothing is): either way the upload
        // key has no further use. A failed delete is left to the sweeper.
        if let Err(e) = s3.delete_object().bucket(bucket).key(from).send().await {
            tracing::warn!(key = from, "deleting a completed upload key failed: {}", DisplayErrorContext(&e));
        }
    }
    verdict
}

/// Checks that the object at `key` holds the SHA-256 `signed` into its PUT URL (HeadObject with
/// checksum mode on): a store that enforced the signed `x-amz-checksum-sha256` holds exactly
/// that one. A mismatch, or no checksum kept, deletes the object. A missing object passes: the
/// checks after this one say what its absence means.
///
/// # Errors
/// 422 `checksum_mismatch` (after deleting the object), 502/504 when the store fails or does
/// not answer within `limit`.
pub async fn stored_checksum(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    signed: [u8; 32],
    limit: std::time::Duration,
) -> Result<(), ApiError> {
    use base64::Engine;
    let head = s3.head_object().bucket(bucket).key(key).checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled).send();
    let head = tokio::time::timeout(limit, head)
        .await
        .map_err(|_| ApiError::StorageTimeout(format!("reading the checksum of {key}")))?;
    let object = match head {
        Ok(object) => object,
        Err(e)
            if e.as_service_error().is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found) =>
        {
            return Ok(());
        }
        Err(e) => return Err(ApiError::storage(&e)),
    };
    let expected = base64::engine::general_purpose::STANDARD.encode(signed);
    // A whole-object checksum; a composite one (`…-N`, of a multipart upload) is not this one.
    let actual = object.checksum_sha256().unwrap_or("none").to_owned();
    if actual == expected {
        return Ok(());
    }
    Err(reject(s3, bucket, key, ApiError::ChecksumMismatch { expected, actual }).await)
}

/// Verifies the stored object against `expected` with one ranged GET (size from `Content-Range`,
/// type from `Content-Type`, magic numbers from the first [`SNIFF_LEN`] bytes) and returns its
/// ETag. A mismatching object is deleted.
///
/// # Errors
/// 409 when the object is missing, 422 when it does not match (after deleting it), 502 when the
/// store fails, 504 when it does not answer within `limit`.
pub async fn stored_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    expected: Expected<'_>,
    limit: std::time::Duration,
) -> Result<String, ApiError> {
    let response = s3
        .get_object()
        .bucket(bucket)
        .key(expected.key)
        .range(format!("bytes=0-{}", SNIFF_LEN - 1))
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error().is_some_and(GetObjectError::is_no_such_key) {
                ApiError::ObjectMissing { key: expected.key.to_owned() }
            } else {
                ApiError::storage(&e)
            }
        })?;
    let size = response
        .content_range()
        .and_then(|r| r.rsplit('/').next()?.parse::<u64>().ok())
        .or_else(|| response.content_length().and_then(|l| u64::try_from(l).ok()))
        .unwrap_or(0);
    let content_type = response.content_type().unwrap_or_default().to_owned();
    let etag = response.e_tag().unwrap_or_default().trim_matches('"').to_owned();
    let mut body = response.body;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let read = async {
        while head.len() < SNIFF_LEN {
            match body.try_next().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Err(ApiError::Storage(format!("reading {}: {e}", expected.key))),
            }
        }
        Ok(())
    };
    tokio::time::timeout(limit, read)
        .await
        .map_err(|_| ApiError::StorageTimeout(format!("reading the head of {}", expected.key)))??;
    drop(body);
    let verdict = if size != expected.size {
        Err(ApiError::SizeMismatch { expected: expected.size, actual: size })
    } else if crate::units::normalise_content_type(&content_type) != expected.content_type {
        Err(ApiError::TypeMismatch { expected: expected.content_type.to_owned(), actual: content_type })
    } else {
        check_magic(expected.content_type, &head)
    };
    match verdict {
        Ok(()) => Ok(etag),
        Err(e) => Err(reject(s3, bucket, expected.key, e).await),
    }
}

/// Deletes `key` because of `why`, and returns `why`. When the store did not answer in time, the
/// delete runs in the background (bounded by the store timeout) so the client is answered now.
pub async fn reject(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, why: ApiError) -> ApiError {
    tracing::info!(key, "rejecting upload: {why}");
    let delete = s3.delete_object().bucket(bucket).key(key).send();
    let key = key.to_owned();
    let deleting = async move {
        if let Err(e) = delete.await {
            tracing::error!(key, "deleting a rejected object failed: {}", DisplayErrorContext(&e));
        }
    };
    if matches!(why, ApiError::StorageTimeout(_)) {
        tokio::spawn(deleting);
    } else {
        deleting.await;
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers() {
        assert!(check_magic("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]).is_ok());
        assert!(check_magic("image/png", b"\x89PNG\r\n\x1a\n....").is_ok());
        assert!(check_magic("application/pdf", b"%PDF-1.7\n").is_ok());
        assert!(check_magic("video/mp4", b"\0\0\0\x18ftypisom\0\0\0\0").is_ok());
        let err = check_magic("image/jpeg", b"%PDF-1.7\n").unwrap_err();
        assert!(matches!(err, ApiError::ContentMismatch { ref detected, .. } if detected == "application/pdf"));
        assert!(check_magic("image/png", b"hello").is_err());
        assert!(check_magic("text/plain", b"anything").is_ok());
    }
}
