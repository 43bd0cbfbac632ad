//! Bearer tokens: HS256 JWTs whose `sub` is the user id.

use super::claims::Codec;
use super::error::ApiError;
use jsonwebtoken::errors::ErrorKind;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest user id accepted; it becomes part of object keys.
const MAX_USER_ID_LEN: usize = 64;

/// The claims of a bearer token.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

/// Clock leeway of `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// Tokens remembered as verified, at most: about 300 bytes each with their user id.
const VERIFIED_CAPACITY: usize = 10_000;

/// Mints and checks bearer tokens (HS256, keyed by the token secret, 5 s of clock leeway).
#[derive(Clone)]
pub struct Tokens {
    codec: Codec,
    /// Tokens whose signature and claims were checked, by their whole text: their user id and
    /// `exp`. A client sends the same token with every request until it expires; checking it
    /// again (base64, two JSON documents, HMAC) took 11% of the broker's CPU per presign
    /// (`perf record --call-graph dwarf` of the broker under presign load). Only an exact copy
    /// of a verified token hits, and its expiry is checked on every request.
    verified: std::sync::Arc<quick_cache::sync::Cache<String, (String, u64)>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("Tokens").field("codec", &self.codec).finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Whether `user` is safe to embed in an object key: 1–64 of `[A-Za-z0-9_-]`.
#[must_use]
pub fn valid_user_id(user: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&user.len())
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Tokens {
    /// Tokens signed with `secret`.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            codec: Codec::new(secret, LEEWAY_SECS),
            verified: std::sync::Arc::new(quick_cache::sync::Cache::new(VERIFIED_CAPACITY)),
        }
    }

    /// Mints a token for `user` valid for `ttl`.
    ///
    /// # Errors
    /// When `user` is not a valid user id.
    pub fn mint(&self, user: &str, ttl: Duration) -> Result<String, String> {
        if !valid_user_id(user) {
            return Err(format!("invalid user id {user:?}: use 1-64 of A-Z a-z 0-9 _ -"));
        }
        let iat = unix_now();
        let claims = Claims { sub: user.to_owned(), iat, exp: iat + ttl.as_secs() };
        self.codec.encode(&claims).map_err(|e| e.to_string())
    }

    /// Checks an `Authorization` header value and returns the user id.
    ///
    /// # Errors
    /// 401 errors: missing, invalid or expired token.
    pub fn user(&self, authorization: Option<&http::HeaderValue>) -> Result<String, ApiError> {
        let value = authorization.ok_or(ApiError::MissingToken)?;
        let value = value.to_str().map_err(|_| ApiError::InvalidToken("not ASCII".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(ApiError::MissingToken)?
            .trim();
        if let Some((user, exp)) = self.verified.get(token) {
            // As the codec checks it: expired once `exp` is more than the leeway in the past.
            return if exp.saturating_add(LEEWAY_SECS) < unix_now() { Err(ApiError::TokenExpired) } else { Ok(user) };
        }
        let claims: Claims = self.codec.decode(token).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::TokenExpired,
            _ => ApiError::InvalidToken(e.to_string()),
        })?;
        if !valid_user_id(&claims.sub) {
            return Err(ApiError::InvalidToken("sub is not a valid user id".into()));
        }
        self.verified.insert(token.to_owned(), (claims.sub.clone(), claims.exp));
        Ok(claims.sub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Authorization` value that carries `token`.
    fn bearer(token: &str) -> http::HeaderValue {
        http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap()
    }

    #[test]
    fn round_trip_and_refusals() {
        let tokens = Tokens::new(b"secret");
        let t = tokens.mint("user-1", Duration::from_secs(60)).unwrap();
        let header = bearer(&t);
        assert_eq!(tokens.user(Some(&header)).unwrap(), "user-1");
        assert!(matches!(tokens.user(None), Err(ApiError::MissingToken)));
        let other = Tokens::new(b"other");
        assert!(matches!(other.user(Some(&header)), Err(ApiError::InvalidToken(_))));
        assert!(tokens.mint("../etc", Duration::from_secs(60)).is_err());
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        #[derive(Serialize)]
        struct WithNbf {
            sub: String,
            iat: u64,
            exp: u64,
            nbf: u64,
        }
        let tokens = Tokens::new(b"secret");
        let later = WithNbf { sub: "u".into(), iat: unix_now(), exp: unix_now() + 7200, nbf: unix_now() + 3600 };
        let t = tokens.codec.encode(&later).unwrap();
        let header = bearer(&t);
        let refused = tokens.user(Some(&header));
        assert!(matches!(&refused, Err(ApiError::InvalidToken(m)) if m.contains("ImmatureSignature")), "{refused:?}");
        let now = WithNbf { nbf: unix_now(), ..later };
        let t = tokens.codec.encode(&now).unwrap();
        let header = bearer(&t);
        assert_eq!(tokens.user(Some(&header)).unwrap(), "u");
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_changed_copy_is_checked_again() {
        let tokens = Tokens::new(b"secret");
        let t = tokens.mint("user-1", Duration::from_secs(60)).unwrap();
        let header = bearer(&t);
        assert_eq!(tokens.user(Some(&header)).unwrap(), "user-1");
        assert_eq!(tokens.verified.get(t.as_str()).map(|(user, _)| user).as_deref(), Some("user-1"));
        // The remembered answer, then the same token once its `exp` is past the leeway.
        assert_eq!(tokens.user(Some(&header)).unwrap(), "user-1");
        tokens.verified.insert(t.clone(), ("user-1".into(), unix_now() - LEEWAY_SECS - 1));
        assert!(matches!(tokens.user(Some(&header)), Err(ApiError::TokenExpired)));
        // A copy with one signature character changed is not the remembered token.
        let at = t.len() - 10;
        let other = if &t[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{other}{}", &t[..at], &t[at + 1..]);
        let header = bearer(&forged);
        assert!(matches!(tokens.user(Some(&header)), Err(ApiError::InvalidToken(_))));
    }

    #[test]
    fn expired_token_is_refused() {
        let tokens = Tokens::new(b"secret");
        let claims = Claims { sub: "u".into(), iat: 0, exp: unix_now() - 3600 };
        let t = tokens.codec.encode(&claims).unwrap();
        let header = bearer(&t);
        assert!(matches!(tokens.user(Some(&header)), Err(ApiError::TokenExpired)));
    }
}
