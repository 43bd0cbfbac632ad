//! The crypto floor of one presigned URL: the SHA-256 of a canonical request and the HMAC-SHA256
//! of a string to sign, of the lengths a real URL has, with no formatting; with the signing key
//! derived once ([`Floor::CachedKey`]) or per URL ([`Floor::FullChain`]).

use super::{CONTENT_TYPE, ENDPOINT, EXPIRY, REGION, SIZE, keys, presigner};
use std::hint::black_box;
use std::time::{Instant, SystemTime};

/// The arithmetic a presigned URL cannot avoid, measured as if it were a presigner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// SHA-256 of the canonical request and one HMAC of the string to sign with the day's
    /// signing key, derived once: the work of a signer that caches the key, as presign-bench does.
    CachedKey,
    /// The same plus the four HMACs that derive the signing key, per URL (a signer without a
    /// cache, as aws-sigv4 is called here).
    FullChain,
}

impl Floor {
    /// Both.
    pub const ALL: [Self; 2] = [Self::CachedKey, Self::FullChain];

    /// The name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::CachedKey => "crypto-floor",
            Self::FullChain => "crypto-floor-full-chain",
        }
    }
}

/// Does the crypto floor's work of one URL, over and over, until `deadline`; returns how many.
pub(super) fn floor_until(floor: Floor, deadline: Instant) -> u64 {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hmac = |key: &[u8], data: &[u8]| -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    };
    // The lengths of a real URL's canonical request and string to sign.
    let Ok(signer) = presigner(ENDPOINT) else { return 0 };
    let keys = keys();
    if signer.put_url(&keys[0], CONTENT_TYPE, SIZE, EXPIRY, SystemTime::now()).is_err() {
        return 0;
    }
    let (canonical_len, string_len) = signer.last_lengths();
    let (canonical, mut string_to_sign) = (vec![b'c'; canonical_len], vec![b's'; string_len.max(32)]);
    let secret = format!("AWS4{}", crate::storage::DEFAULT_SECRET_KEY);
    let derive = || {
        let k = hmac(secret.as_bytes(), b"20261128");
        let k = hmac(&k, REGION.as_bytes());
        let k = hmac(&k, b"s3");
        hmac(&k, b"aws4_request")
    };
    let cached = <Hmac<Sha256> as Mac>::new_from_slice(&derive()).expect("HMAC takes keys of any length");
    let mut count = 0u64;
    loop {
        for _ in 0..1024 {
            // The string to sign holds the canonical request's hash, so the HMAC waits for the
            // hash as in a real signer (the floor must not count on the CPU overlapping work a
            // signer cannot overlap; on this machine it made no measurable difference).
            let digest = Sha256::digest(black_box(&canonical));
            let end = string_to_sign.len();
            string_to_sign[end - 32..].copy_from_slice(&digest);
            let mut mac = match floor {
                Floor::CachedKey => cached.clone(),
                Floor::FullChain => <Hmac<Sha256> as Mac>::new_from_slice(&derive()).expect("any length"),
            };
            mac.update(black_box(&string_to_sign));
            black_box(mac.finalize().into_bytes());
        }
        count += 1024;
        if Instant::now() >= deadline {
            return count;
        }
    }
}
