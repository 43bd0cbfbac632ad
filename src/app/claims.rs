//! HS256-signed claims (JWTs): the one codec behind bearer tokens ([`super::auth::Tokens`]) and
//! the broker's upload ids. Both require `sub` and `exp`; they differ in key and clock leeway,
//! never in how they sign.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Signs and checks claims with one HMAC key.
#[derive(Clone)]
pub struct Codec {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Codec").field("leeway", &self.validation.leeway).finish_non_exhaustive()
    }
}

impl Codec {
    /// A codec keyed by `key` that accepts `exp` up to `leeway_secs` in the past and `nbf` up to
    /// `leeway_secs` in the future.
    #[must_use]
    pub fn new(key: &[u8], leeway_secs: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = leeway_secs;
        // A token that is not valid yet is refused too (jsonwebtoken checks `nbf` only when asked).
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key), validation }
    }

    /// Signs `claims`.
    ///
    /// # Errors
    /// When the claims cannot be serialised.
    pub fn encode(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// Checks `token`'s signature, algorithm and expiry, and returns its claims.
    ///
    /// # Errors
    /// jsonwebtoken's error; its kind says expired, forged or malformed.
    pub fn decode<C: DeserializeOwned>(&self, token: &str) -> Result<C, jsonwebtoken::errors::Error> {
        jsonwebtoken::decode::<C>(token, &self.decoding, &self.validation).map(|data| data.claims)
    }
}
