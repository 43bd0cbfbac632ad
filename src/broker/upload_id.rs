//! Upload ids: self-describing, HMAC-signed tokens (an HS256 JWT) carrying what was authorised.
//!
//! Presigning therefore writes nothing to the database and the broker scales like a stateless
//! service; completion trusts only what this broker signed. The key is derived from the token
//! secret with a fixed label, so an upload id can never pass as a bearer token or vice versa.

use crate::app::claims::Codec;
use crate::app::error::ApiError;
use hmac::{Hmac, Mac};
use jsonwebtoken::errors::ErrorKind;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Label of the key derivation.
const LABEL: &[u8] = b"presign-bench/upload-id/v1";

/// What an upload id authorises.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Upload {
    /// The user the upload belongs to.
    pub sub: String,
    /// The object key generated for it.
    pub key: String,
    /// The signed content type.
    pub ct: String,
    /// The signed size in bytes.
    pub size: u64,
    /// The sanitised filename.
    pub name: String,
    /// When it was authorised (Unix seconds).
    pub iat: u64,
    /// Until when it may be completed (Unix seconds).
    pub exp: u64,
}

/// Signs and checks upload ids.
/// Signs and opens upload ids (HS256 under a key derived from the token secret, no leeway).
#[derive(Clone, Debug)]
pub struct UploadIds {
    codec: Codec,
}

impl UploadIds {
    /// Upload ids keyed from the broker's token secret.
    ///
    /// # Panics
    /// Never: HMAC-SHA256 accepts keys of any length.
    #[must_use]
    pub fn new(token_secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token_secret).expect("HMAC takes keys of any length");
        mac.update(LABEL);
        let key = mac.finalize().into_bytes();
        Self { codec: Codec::new(&key, 0) }
    }

    /// Signs `upload`.
    ///
    /// # Errors
    /// Only if JSON encoding fails, which it does not for these claims.
    pub fn sign(&self, upload: &Upload) -> Result<String, ApiError> {
        self.codec.encode(upload).map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Checks an upload id.
    ///
    /// # Errors
    /// 400 `invalid_upload_id` when forged or malformed, 410 `upload_expired` past its window.
    pub fn open(&self, id: &str) -> Result<Upload, ApiError> {
        self.codec.decode(id).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::UploadExpired,
            _ => ApiError::InvalidUploadId,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::auth::unix_now;

    fn upload(exp: u64) -> Upload {
        Upload {
            sub: "u".into(),
            key: "uploads/u/x.jpg".into(),
            ct: "image/jpeg".into(),
            size: 3,
            name: "a.jpg".into(),
            iat: 0,
            exp,
        }
    }

    #[test]
    fn signed_ids_round_trip_and_forgeries_fail() {
        let ids = UploadIds::new(b"secret");
        let u = upload(unix_now() + 60);
        let id = ids.sign(&u).unwrap();
        assert_eq!(ids.open(&id).unwrap(), u);
        assert!(matches!(UploadIds::new(b"other").open(&id), Err(ApiError::InvalidUploadId)));
        // A bearer token made with the raw secret is not an upload id.
        let bearer = crate::app::auth::Tokens::new(b"secret").mint("u", std::time::Duration::from_secs(60)).unwrap();
        assert!(matches!(ids.open(&bearer), Err(ApiError::InvalidUploadId)));
        let expired = ids.sign(&upload(unix_now() - 10)).unwrap();
        assert!(matches!(ids.open(&expired), Err(ApiError::UploadExpired)));
    }
}
