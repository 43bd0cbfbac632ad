//! The embedded store's check of a write's declared digests (`Content-MD5`, a hex
//! `x-amz-content-sha256`, a base64 `x-amz-checksum-sha256`) before the write lands.
//!
//! s3s-fs 0.14 moves a PUT's temporary file into place first and compares `Content-MD5` after,
//! (and `x-amz-checksum-sha256` too), so a PUT it answers `400 BadDigest` still leaves its
//! object; and s3s answers a body that
//! contradicts its `x-amz-content-sha256` with `500 InternalError`. [`Checked`] hashes the body
//! as it streams and, when the last declared byte arrives and a digest differs, fails the body
//! instead of handing that byte on: s3s-fs's write then fails and removes its temporary file, so
//! nothing lands, and [`Verdict`] tells the store to answer the 400 S3 answers.

use bytes::Bytes;
use md5::Digest as _;
use sha2::Digest as _;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

/// Which declared digest the body contradicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// `Content-MD5` (S3: `400 BadDigest`).
    Md5,
    /// `x-amz-content-sha256` (S3: `400 XAmzContentSHA256Mismatch`).
    Sha256,
    /// `x-amz-checksum-sha256` (S3: `400 BadDigest`).
    ChecksumSha256,
}

impl Mismatch {
    /// The S3 error code and message of this refusal.
    #[must_use]
    pub fn code_and_message(self) -> (&'static str, &'static str) {
        match self {
            Self::Md5 => ("BadDigest", "The Content-MD5 you specified did not match what we received."),
            Self::Sha256 => (
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ),
            Self::ChecksumSha256 => ("BadDigest", "The SHA256 you specified did not match the calculated checksum."),
        }
    }
}

/// What [`Checked`] found, once the body has been read far enough to know.
pub type Verdict = Arc<OnceLock<Mismatch>>;

/// The error a contradicted body ends with.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The body does not have the declared digest.
    #[error("the body does not match its declared {0:?} digest")]
    Mismatch(Mismatch),
    /// The body itself broke off.
    #[error(transparent)]
    Body(#[from] hyper::Error),
}

/// The digests a request declares, decoded: `None` when it declares none worth checking
/// (no `Content-MD5` nor `x-amz-checksum-sha256`, and `x-amz-content-sha256` absent or
/// `UNSIGNED-PAYLOAD`), and for a body
/// sent in aws-chunked encoding (`STREAMING-…`), whose bytes on the wire are not the object's.
#[must_use]
pub fn declared(headers: &http::HeaderMap) -> Option<Declared> {
    use base64::Engine;
    let streaming = headers.get("x-amz-content-sha256").is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"))
        || headers
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("aws-chunked")));
    if streaming {
        return None;
    }
    let md5 = headers
        .get("content-md5")
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.as_bytes()).ok())
        .and_then(|v| <[u8; 16]>::try_from(v).ok());
    let sha256 =
        headers.get("x-amz-content-sha256").and_then(|v| const_hex::decode_to_array::<_, 32>(v.as_bytes()).ok());
    let checksum_sha256 = headers
        .get("x-amz-checksum-sha256")
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v.as_bytes()).ok())
        .and_then(|v| <[u8; 32]>::try_from(v).ok());
    let length = headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
    (md5.is_some() || sha256.is_some() || checksum_sha256.is_some()).then_some(Declared {
        md5,
        sha256,
        checksum_sha256,
        length,
    })
}

/// A request's declared digests and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Declared {
    /// `Content-MD5`, decoded.
    pub md5: Option<[u8; 16]>,
    /// `x-amz-content-sha256` as 32 bytes.
    pub sha256: Option<[u8; 32]>,
    /// `x-amz-checksum-sha256`, decoded.
    pub checksum_sha256: Option<[u8; 32]>,
    /// `Content-Length`: where the body ends, so the check runs before its last byte is handed on.
    pub length: Option<u64>,
}

pin_project_lite::pin_project! {
    /// A request body checked against its declared digests (see the module's header).
    pub struct Checked<B> {
        #[pin]
        inner: B,
        declared: Declared,
        md5: Option<md5::Md5>,
        sha256: Option<sha2::Sha256>,
        seen: u64,
        verdict: Verdict,
        compared: bool,
    }
}

impl<B> Checked<B> {
    /// `inner` checked against `declared`; the verdict is written to the returned cell.
    pub fn new(inner: B, declared: Declared) -> (Self, Verdict) {
        let verdict = Verdict::default();
        let body = Self {
            inner,
            declared,
            md5: declared.md5.map(|_| md5::Md5::new()),
            sha256: (declared.sha256.is_some() || declared.checksum_sha256.is_some()).then(sha2::Sha256::new),
            seen: 0,
            verdict: verdict.clone(),
            compared: false,
        };
        (body, verdict)
    }
}

impl<B> http_body::Body for Checked<B>
where
    B: http_body::Body<Data = Bytes, Error = hyper::Error>,
{
    type Data = Bytes;
    type Error = DigestError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, DigestError>>> {
        let mut this = self.project();
        let frame = match std::task::ready!(this.inner.as_mut().poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            None if *this.compared => return Poll::Ready(None),
            // No Content-Length: the end of the body is where the check runs.
            None => {
                *this.compared = true;
                return Poll::Ready(mismatch(this.declared, this.md5, this.sha256, this.verdict).map(Err));
            }
        };
        if let Some(data) = frame.data_ref() {
            if let Some(h) = this.md5.as_mut() {
                h.update(data);
            }
            if let Some(h) = this.sha256.as_mut() {
                h.update(data);
            }
            *this.seen += data.len() as u64;
            if !*this.compared && this.declared.length == Some(*this.seen) {
                *this.compared = true;
                if let Some(e) = mismatch(this.declared, this.md5, this.sha256, this.verdict) {
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.compared && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Compares what was hashed with what was declared; a difference is written to `verdict`.
fn mismatch(
    declared: &Declared,
    md5: &mut Option<md5::Md5>,
    sha256: &mut Option<sha2::Sha256>,
    verdict: &Verdict,
) -> Option<DigestError> {
    let md5_differs = md5.take().is_some_and(|h| Some(<[u8; 16]>::from(h.finalize())) != declared.md5);
    let sha = sha256.take().map(|h| <[u8; 32]>::from(h.finalize()));
    let differs = |want: Option<[u8; 32]>| want.is_some() && sha.is_some() && want != sha;
    let which = if md5_differs {
        Mismatch::Md5
    } else if differs(declared.sha256) {
        Mismatch::Sha256
    } else if differs(declared.checksum_sha256) {
        Mismatch::ChecksumSha256
    } else {
        return None;
    };
    let _ = verdict.set(which);
    Some(DigestError::Mismatch(which))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_digests_are_decoded() {
        let mut h = http::HeaderMap::new();
        assert_eq!(declared(&h), None);
        h.insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        assert_eq!(declared(&h), None);
        // MD5 of the empty string.
        h.insert("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==".parse().unwrap());
        h.insert("content-length", "0".parse().unwrap());
        let d = declared(&h).unwrap();
        assert_eq!(d.md5.map(const_hex::encode), Some("d41d8cd98f00b204e9800998ecf8427e".to_owned()));
        assert_eq!((d.sha256, d.length), (None, Some(0)));
        // An aws-chunked body is the SDK's framing, not the object: not checked here.
        h.insert("content-encoding", "aws-chunked".parse().unwrap());
        assert_eq!(declared(&h), None);
        h.remove("content-encoding");
        h.insert("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().unwrap());
        assert_eq!(declared(&h), None);
    }

    #[test]
    fn mismatch_names_the_digest_and_fills_the_verdict() {
        let declared = Declared { md5: Some([0; 16]), sha256: None, checksum_sha256: None, length: None };
        let verdict = Verdict::default();
        let mut md5 = Some(md5::Md5::new());
        assert!(matches!(
            mismatch(&declared, &mut md5, &mut None, &verdict),
            Some(DigestError::Mismatch(Mismatch::Md5))
        ));
        assert_eq!(verdict.get(), Some(&Mismatch::Md5));
        let empty_md5 = const_hex::decode_to_array("d41d8cd98f00b204e9800998ecf8427e").unwrap();
        let declared = Declared { md5: Some(empty_md5), sha256: None, checksum_sha256: None, length: None };
        assert!(mismatch(&declared, &mut Some(md5::Md5::new()), &mut None, &Verdict::default()).is_none());
    }

    #[test]
    fn the_sha256_of_the_empty_body_is_accepted() {
        let sha =
            const_hex::decode_to_array("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
        let hex = Declared { md5: None, sha256: Some(sha), checksum_sha256: None, length: None };
        assert!(mismatch(&hex, &mut None, &mut Some(sha2::Sha256::new()), &Verdict::default()).is_none());
        // The same digest as a checksum header, base64; and another one, refused.
        let mut h = http::HeaderMap::new();
        h.insert("x-amz-checksum-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".parse().unwrap());
        let d = declared(&h).unwrap();
        assert_eq!(d.checksum_sha256, Some(sha));
        assert!(mismatch(&d, &mut None, &mut Some(sha2::Sha256::new()), &Verdict::default()).is_none());
        let other = Declared { checksum_sha256: Some([1; 32]), ..d };
        let verdict = Verdict::default();
        assert!(matches!(
            mismatch(&other, &mut None, &mut Some(sha2::Sha256::new()), &verdict),
            Some(DigestError::Mismatch(Mismatch::ChecksumSha256))
        ));
        assert_eq!(verdict.get().map(|m| m.code_and_message().0), Some("BadDigest"));
    }
}
