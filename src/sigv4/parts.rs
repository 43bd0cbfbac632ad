//! Part URLs of multipart uploads: [`Presigner::sign_query`] with the part's number and the
//! store's upload id signed in, and the part's exact length.

use super::{PresignError, Presigner};
use std::time::{Duration, SystemTime};

impl Presigner {
    /// A PUT URL for part `part_number` of multipart upload `upload_id` of `key`, exactly
    /// `content_length` bytes long (signed: the store refuses another length).
    ///
    /// # Errors
    /// As [`Self::sign`].
    pub fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u64,
        content_length: u64,
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<String, PresignError> {
        let (mut length, mut number) = (itoa::Buffer::new(), itoa::Buffer::new());
        let query = [("partNumber", number.format(part_number)), ("uploadId", upload_id)];
        self.sign_query("PUT", key, &[("content-length", length.format(content_length))], &query, expires_in, now)
    }
}
