//! Upload ids: self-describing, HMAC-signed tokens carrying what was authorised.
//!
//! Presigning therefore writes nothing to the database and the broker scales like a stateless
//! service; completion trusts only what this broker signed. The key is derived from the token
//! secret with a fixed label, so an upload id can never pass as a bearer token or vice versa.
//!
//! An id travels twice per upload (in the presign answer and in the completion's path), so it is
//! compact: the fields in postcard's varint encoding (the object key as the 16 bytes of its UUID,
//! rebuilt with [`policy::key`]), then HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows
//! truncation to half the output), all in unpadded base64url: about 100 characters, where the
//! HS256 JWT it replaced took 350.

use crate::app::error::ApiError;
use crate::app::policy;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Label of the key derivation (v2: the compact format).
const LABEL: &[u8] = b"presign-bench/upload-id/v2";

/// Bytes of the truncated MAC.
const MAC_BYTES: usize = 16;

/// Longest id opened: anything longer is refused before decoding.
const MAX_ID_CHARS: usize = 1024;

/// What an upload id authorises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The user the upload belongs to.
    pub sub: String,
    /// The object key generated for it (under [`policy::UPLOAD_PREFIX`]).
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
    /// The file's SHA-256, when the client declared it: signed into the PUT as
    /// `x-amz-checksum-sha256`, so the store refuses other bytes.
    pub sha256: Option<[u8; 32]>,
}

/// The signed fields, as encoded.
#[derive(Serialize, Deserialize)]
struct Wire {
    sub: String,
    id: [u8; 16],
    ct: String,
    size: u64,
    name: String,
    iat: u64,
    /// Seconds from `iat` to the end of the completion window.
    valid_for: u64,
    /// The declared SHA-256 (one byte when there is none).
    sha256: Option<[u8; 32]>,
}

/// Signs and opens upload ids (HMAC-SHA256/128 under a key derived from the token secret).
#[derive(Clone, Debug)]
pub struct UploadIds {
    mac: Hmac<Sha256>,
}

impl UploadIds {
    /// Upload ids keyed from the broker's token secret.
    #[must_use]
    pub fn new(token_secret: &[u8]) -> Self {
        Self::keyed(token_secret, LABEL)
    }

    /// Ids under a key derived from `token_secret` with `label`: ids of different labels never
    /// open as each other (a single upload's id is not a multipart upload's).
    ///
    /// # Panics
    /// Never: HMAC-SHA256 accepts keys of any length.
    #[must_use]
    pub fn keyed(token_secret: &[u8], label: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token_secret).expect("HMAC takes keys of any length");
        mac.update(label);
        let key = mac.finalize().into_bytes();
        Self { mac: <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes keys of any length") }
    }

    /// A UUID derived from `name` under this key: the same on every call, unguessable without
    /// the token secret (used with its own label: the id of the file an upload becomes, so a
    /// completion retried after a crash finds the copy an earlier attempt made).
    #[must_use]
    pub fn derive_uuid(&self, name: &[u8]) -> uuid::Uuid {
        let mut mac = self.mac.clone();
        mac.update(name);
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// `fields` (postcard-encoded) with their truncated MAC, in unpadded base64url.
    ///
    /// # Errors
    /// 500 when the fields do not encode.
    pub fn seal<T: Serialize>(&self, fields: &T) -> Result<String, ApiError> {
        let mut bytes = postcard::to_allocvec(fields).map_err(|e| ApiError::Internal(e.to_string()))?;
        let mut mac = self.mac.clone();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The fields of an id [`Self::seal`] made with this key.
    ///
    /// # Errors
    /// 400 `invalid_upload_id` when forged or malformed.
    pub fn unseal<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<T, ApiError> {
        if id.len() > MAX_ID_CHARS {
            return Err(ApiError::InvalidUploadId);
        }
        let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| ApiError::InvalidUploadId)?;
        let split = bytes.len().checked_sub(MAC_BYTES).ok_or(ApiError::InvalidUploadId)?;
        let (fields, tag) = bytes.split_at(split);
        let mut mac = self.mac.clone();
        mac.update(fields);
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(tag).map_err(|_| ApiError::InvalidUploadId)?;
        postcard::from_bytes(fields).map_err(|_| ApiError::InvalidUploadId)
    }

    /// Signs `upload`, whose key must be one [`policy::key`] made for its user and type.
    ///
    /// # Errors
    /// 500 when the key is not of that form (a bug, not a client's doing).
    pub fn sign(&self, upload: &Upload) -> Result<String, ApiError> {
        let id = uuid_of(upload).ok_or_else(|| ApiError::Internal(format!("not an upload key: {}", upload.key)))?;
        let wire = Wire {
            sub: upload.sub.clone(),
            id: *id.as_bytes(),
            ct: upload.ct.clone(),
            size: upload.size,
            name: upload.name.clone(),
            iat: upload.iat,
            valid_for: upload.exp.saturating_sub(upload.iat),
            sha256: upload.sha256,
        };
        self.seal(&wire)
    }

    /// Checks an upload id.
    ///
    /// # Errors
    /// 400 `invalid_upload_id` when forged or malformed, 410 `upload_expired` past its window.
    pub fn open(&self, id: &str) -> Result<Upload, ApiError> {
        let upload = self.open_landed(id)?;
        if crate::app::auth::unix_now() >= upload.exp {
            return Err(ApiError::UploadExpired);
        }
        Ok(upload)
    }

    /// Checks the upload id of an object that has landed (read from the object's metadata): its
    /// window may have closed since, because the store refuses a PUT once its URL expires.
    ///
    /// # Errors
    /// 400 `invalid_upload_id` when forged or malformed.
    pub fn open_landed(&self, id: &str) -> Result<Upload, ApiError> {
        let wire: Wire = self.unseal(id)?;
        let exp = wire.iat.saturating_add(wire.valid_for);
        Ok(Upload {
            key: policy::key(policy::UPLOAD_PREFIX, &wire.sub, uuid::Uuid::from_bytes(wire.id), &wire.ct),
            sub: wire.sub,
            ct: wire.ct,
            size: wire.size,
            name: wire.name,
            iat: wire.iat,
            exp,
            sha256: wire.sha256,
        })
    }
}

/// The UUID of an upload key made by [`policy::key`] for the upload's user and type.
fn uuid_of(upload: &Upload) -> Option<uuid::Uuid> {
    let rest = upload.key.strip_prefix(policy::UPLOAD_PREFIX)?.strip_prefix(upload.sub.as_str())?.strip_prefix('/')?;
    let id = uuid::Uuid::parse_str(rest.split_once('.')?.0).ok()?;
    (policy::key(policy::UPLOAD_PREFIX, &upload.sub, id, &upload.ct) == upload.key).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::auth::unix_now;

    fn upload(exp: u64) -> Upload {
        Upload {
            sub: "u".into(),
            key: policy::new_key(policy::UPLOAD_PREFIX, "u", "image/jpeg"),
            ct: "image/jpeg".into(),
            size: 3,
            name: "a.jpg".into(),
            iat: 0,
            exp,
            sha256: None,
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
        // Every single changed character is refused, and so is a shortened id.
        for i in 0..id.len() {
            let mut forged = id.clone().into_bytes();
            forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            assert!(ids.open(&forged).is_err(), "changed at {i}: {forged}");
        }
        assert!(matches!(ids.open(&id[..id.len() - 2]), Err(ApiError::InvalidUploadId)));
        assert!(matches!(ids.open(""), Err(ApiError::InvalidUploadId)));
        assert!(matches!(ids.open(&"A".repeat(5000)), Err(ApiError::InvalidUploadId)));
    }

    #[test]
    fn ids_are_compact_and_keys_not_of_the_upload_form_are_not_signed() {
        let ids = UploadIds::new(b"secret");
        let u = Upload {
            sub: "user-17".into(),
            name: "upload-17.png".into(),
            ct: "image/png".into(),
            key: policy::new_key(policy::UPLOAD_PREFIX, "user-17", "image/png"),
            size: 10 * 1024 * 1024,
            iat: unix_now(),
            exp: unix_now() + 900,
            sha256: None,
        };
        let id = ids.sign(&u).unwrap();
        // 16 (UUID) + 16 (MAC) + 7 + 9 + 13 (strings) + 4 lengths + size, times, no checksum,
        // in base64.
        assert!(id.len() <= 106, "{} characters: {id}", id.len());
        assert_eq!(ids.open(&id).unwrap(), u);
        // A declared SHA-256 travels in the id: 32 bytes more.
        let summed = Upload { sha256: Some([7; 32]), ..u.clone() };
        let with_sum = ids.sign(&summed).unwrap();
        assert_eq!(ids.open(&with_sum).unwrap(), summed);
        assert!(with_sum.len() <= id.len() + 44, "{} characters", with_sum.len());
        let other_user = Upload { key: policy::new_key(policy::UPLOAD_PREFIX, "someone", "image/png"), ..u.clone() };
        assert!(matches!(ids.sign(&other_user), Err(ApiError::Internal(_))));
        let file_key = Upload { key: policy::new_key(policy::FILE_PREFIX, "user-17", "image/png"), ..u };
        assert!(matches!(ids.sign(&file_key), Err(ApiError::Internal(_))));
    }
}
