//! The store's side of a multipart completion: CompleteMultipartUpload with the client's part
//! list, and what its refusal means (an assembly still under way after a crash, a wrong list, an
//! upload the store no longer has).

use crate::app::error::ApiError;
use crate::app::{App, policy};
use aws_sdk_s3::operation::head_object::HeadObjectError;
use serde::Deserialize;

/// One part of a completion.
#[derive(Debug, Deserialize)]
pub(super) struct CompletedPart {
    pub(super) part_number: u64,
    pub(super) etag: String,
}

/// Asks the store to assemble `parts` into `key` and returns the object's ETag. When the store
/// refuses because an earlier completion assembled it already (one cut off by a crash before its
/// row), the object at `key`, which no other upload writes, is that assembly: its ETag is
/// returned, and the caller checks it as any other.
///
/// # Errors
/// The store's refusal ([`refused`]); 410 `upload_lost` when the store dropped listed parts
/// without assembling them ([`lost_parts`]: the caller aborts the upload); 502 `storage_error` (retryable) while an object is
/// missing or not yet finished though the upload is still open here: another completion's
/// assembly may still be under way in the store.
pub(super) async fn assemble(
    app: &App,
    store_id: &str,
    key: &str,
    parts: &[CompletedPart],
) -> Result<String, ApiError> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart as Part};
    let listed = parts
        .iter()
        .map(|p| Part::builder().part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX)).e_tag(&p.etag).build());
    let assembled = CompletedMultipartUpload::builder().set_parts(Some(listed.collect())).build();
    let completed = app
        .s3
        .complete_multipart_upload()
        .bucket(&app.config.s3.bucket)
        .key(key)
        .upload_id(store_id)
        .multipart_upload(assembled)
        .customize()
        // Assembling a large object takes the store a while: the request timeout bounds it,
        // not the store timeout of one ordinary call.
        .config_override(
            aws_sdk_s3::config::Builder::default().timeout_config(
                aws_smithy_types::timeout::TimeoutConfig::builder()
                    .operation_timeout(app.config.limits.request_timeout)
                    .build(),
            ),
        )
        .send()
        .await;
    let e = match completed {
        Ok(c) => return Ok(c.e_tag().unwrap_or_default().trim_matches('"').to_owned()),
        Err(e) => e,
    };
    let still_assembling =
        || ApiError::Storage("the store is still assembling this upload, or has lost it; retry the completion".into());
    match assembled_etag(app, key).await? {
        // A multipart ETag ends in `-<parts>`; s3s-fs moves the object into place before it
        // records that ETag, so a plain one is an assembly that has not finished.
        Some(etag) if etag.contains('-') || policy::multipart_etag(parts.iter().map(|p| p.etag.as_str())).is_none() => {
            Ok(etag)
        }
        Some(_) => Err(still_assembling()),
        None if matches!(refused(&e), ApiError::UploadExpired | ApiError::Storage(_)) => Err(still_assembling()),
        None => {
            // After a broker died mid-completion, the store may still be assembling that
            // completion: it has taken the parts, so it refuses this one's list (MinIO:
            // InvalidPart), and the object appears a moment later. Look again for 2 s before
            // answering that the list is wrong.
            for _ in 0..10 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if let Some(etag) = assembled_etag(app, key).await?
                    && etag.contains('-')
                {
                    return Ok(etag);
                }
            }
            match lost_parts(app, key, store_id, parts).await {
                lost if lost.is_empty() => Err(refused(&e)),
                lost => Err(ApiError::UploadLost { parts: lost }),
            }
        }
    }
}

/// The parts of `parts` the store no longer lists for the upload. MinIO, when the client of a
/// completion dies mid-assembly, can drop the parts without writing the object (seen in about
/// 1 of 1,000 completions cut off by `kill -9`): the upload stays open with no parts, and even
/// parts uploaded again are refused (seen once), so only a new upload can finish. Empty when the
/// store cannot list them.
async fn lost_parts(app: &App, key: &str, store_id: &str, parts: &[CompletedPart]) -> Vec<u64> {
    let listed = app.s3.list_parts().bucket(&app.config.s3.bucket).key(key).upload_id(store_id).send();
    let Ok(Ok(listed)) = tokio::time::timeout(app.config.store_timeouts.operation, listed).await else {
        return Vec::new();
    };
    let held: std::collections::BTreeSet<u64> =
        listed.parts().iter().filter_map(|p| p.part_number().and_then(|n| u64::try_from(n).ok())).collect();
    parts.iter().map(|p| p.part_number).filter(|n| !held.contains(n)).collect()
}

/// The ETag of the object at `key`, if there is one.
async fn assembled_etag(app: &App, key: &str) -> Result<Option<String>, ApiError> {
    let head = app.s3.head_object().bucket(&app.config.s3.bucket).key(key).send();
    let head = tokio::time::timeout(app.config.store_timeouts.operation, head)
        .await
        .map_err(|_| ApiError::StorageTimeout("looking for an assembled object".into()))?;
    match head {
        Ok(object) => Ok(Some(object.e_tag().unwrap_or_default().trim_matches('"').to_owned())),
        Err(e) if e.as_service_error().is_some_and(HeadObjectError::is_not_found) => Ok(None),
        Err(e) => Err(ApiError::storage(&e)),
    }
}

/// What a refused CompleteMultipartUpload means for the client.
fn refused(
    e: &aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
        aws_smithy_runtime_api::http::Response,
    >,
) -> ApiError {
    let code = e.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
    match code {
        Some("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall") => {
            ApiError::InvalidParts(format!("the store refused the part list ({})", code.unwrap_or_default()))
        }
        Some("NoSuchUpload") => ApiError::UploadExpired,
        _ => ApiError::storage(e),
    }
}
