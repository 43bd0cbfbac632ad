//! CDN-signed cookies, in CloudFront's shape: a policy naming a path prefix of the CDN and an
//! expiry, and its signature, issued by the broker once per viewer session and checked by the
//! cache on every request (nginx's `cdn.js`, beside the harness's cache), so the cache serves a
//! private object to every authorised viewer from one cached copy without asking the broker.
//!
//! `CDN-Policy` is the base64url (no padding) of `{"resource":"/private/<prefix>*","expires":N}`
//! (N in Unix seconds); `CDN-Signature` is the base64url of HMAC-SHA256(key, the `CDN-Policy`
//! text). CloudFront signs with an RSA key pair; a shared HMAC key is what Fastly's and Akamai's
//! token authentication use, and what nginx's JavaScript verifies without a blocking call.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use std::time::{Duration, SystemTime};

/// The CDN path its private objects are served under (the store key follows it).
pub const PRIVATE_PATH: &str = "/private/";
/// Longest a cookie may live (a session; as a presigned GET, at most an hour).
pub const MAX_TTL: Duration = Duration::from_secs(3600);
/// Shortest cookie key accepted.
pub const MIN_KEY_BYTES: usize = 32;

/// How the broker signs cookies (`--cdn-key`, `--cdn-grant`, `--cdn-cookie-ttl`).
#[derive(Clone, PartialEq, Eq)]
pub struct CdnCookies {
    /// The key shared with the cache.
    pub key: String,
    /// Store key prefixes every signed-in user may view (a library all subscribers see), besides
    /// their own files.
    pub grants: Vec<String>,
    /// How long a cookie lives.
    pub ttl: Duration,
}

impl std::fmt::Debug for CdnCookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdnCookies").field("key", &"…").field("grants", &self.grants).field("ttl", &self.ttl).finish()
    }
}

/// A signed policy: the two cookies' values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The CDN path prefix it grants, ending in `*`.
    pub resource: String,
    /// When it stops working, Unix seconds.
    pub expires: u64,
    /// `CDN-Policy`.
    pub policy: String,
    /// `CDN-Signature`.
    pub signature: String,
}

/// Whether `prefix` is a store key prefix a cookie may name: non-empty, ending in `/`, of path
/// characters, no `..`, no leading `/`.
#[must_use]
pub fn valid_prefix(prefix: &str) -> bool {
    prefix.len() > 1
        && prefix.len() <= 512
        && prefix.ends_with('/')
        && !prefix.starts_with('/')
        && !prefix.split('/').any(|s| s == "." || s == "..")
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// Signs a policy for the store keys under `prefix` (served at [`PRIVATE_PATH`]`prefix`), valid
/// from `now` for `ttl`.
#[must_use]
pub fn sign(key: &[u8], prefix: &str, now: SystemTime, ttl: Duration) -> Signed {
    let expires = now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs() + ttl.as_secs();
    let resource = format!("{PRIVATE_PATH}{prefix}*");
    let json = serde_json::json!({ "resource": resource, "expires": expires }).to_string();
    let policy = URL_SAFE_NO_PAD.encode(json);
    let signature = signature(key, &policy);
    Signed { resource, expires, policy, signature }
}

/// The signature of a `CDN-Policy` text.
///
/// # Panics
/// Never: HMAC takes a key of any length.
#[must_use]
pub fn signature(key: &[u8], policy: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(policy.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_the_private_path_and_its_expiry_and_signs_its_own_text() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let s = sign(b"k", "files/", now, Duration::from_secs(600));
        assert_eq!((s.resource.as_str(), s.expires), ("/private/files/*", 1_600));
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&s.policy).unwrap()).unwrap();
        assert_eq!(json, r#"{"expires":1600,"resource":"/private/files/*"}"#);
        assert_eq!(s.signature, signature(b"k", &s.policy));
        assert_ne!(s.signature, signature(b"other", &s.policy));
        // HMAC-SHA256("k", "x"), checked with `printf x | openssl dgst -sha256 -hmac k -binary | basenc --base64url`, padding dropped.
        assert_eq!(signature(b"k", "x"), "w47ciBXISJ9kc4l49EAI-FljRVRfC6po72_PXFPlcYk");
    }

    #[test]
    fn prefixes_are_plain_store_paths() {
        for good in ["files/", "files/u1/", "a-b_c.d/"] {
            assert!(valid_prefix(good), "{good}");
        }
        for bad in ["", "/", "files", "/files/", "files/../", "./", "files/*/", "files/ a/", "fïles/"] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }
}
