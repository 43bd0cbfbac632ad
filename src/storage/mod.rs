//! Object storage: the embedded S3-compatible store (its object layer in [`listing`]) and the S3 client of the app tier. (MinIO as
//! a store the harness starts is the harness's `minio` module.)

pub mod client;
pub mod digest;
pub mod embedded;
pub mod listing;
pub mod notify;

/// Access key used when neither a flag nor `AWS_ACCESS_KEY_ID` gives one (local runs only).
pub const DEFAULT_ACCESS_KEY: &str = "presign-bench";
/// Secret key used when neither a flag nor `AWS_SECRET_ACCESS_KEY` gives one (local runs only).
pub const DEFAULT_SECRET_KEY: &str = "presign-bench-secret";

/// A static S3 access key pair.
#[derive(Clone)]
pub struct Credentials {
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
}

impl Default for Credentials {
    /// The local defaults (`presign-bench` / `presign-bench-secret`).
    fn default() -> Self {
        Self { access_key: DEFAULT_ACCESS_KEY.to_owned(), secret_key: DEFAULT_SECRET_KEY.to_owned() }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}
