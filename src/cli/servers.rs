//! Flags of the app servers: `broker` and `proxy` (one set, so the two differ only in where the
//! bytes flow), `demo` and `token`, with what each turns into; and the credential and TLS flags
//! the stores share (their own flags: `stores`).

use crate::app::{AppConfig, DEV_TOKEN_SECRET, policy::Policy};
use crate::storage::client::S3Target;
use crate::storage::{Credentials, DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY};
use crate::units::{parse_duration, parse_size};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// S3 credentials: flags, else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else local defaults
/// (`presign-bench` / `presign-bench-secret`).
#[derive(Debug, Args)]
pub struct CredentialArgs {
    /// S3 access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", default_value = DEFAULT_ACCESS_KEY)]
    pub access_key: String,
    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", default_value = DEFAULT_SECRET_KEY, hide_env_values = true, hide_default_value = true)]
    pub secret_key: String,
}

impl CredentialArgs {
    pub(super) fn credentials(&self) -> Credentials {
        Credentials { access_key: self.access_key.clone(), secret_key: self.secret_key.clone() }
    }
}

/// HTTPS: `--tls-cert` and `--tls-key`, or `--tls-self-signed` (with `--tls-ca-out`).
#[derive(Debug, Args)]
#[allow(clippy::struct_field_names)] // each field is its flag, `--tls-*`
pub struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key", conflicts_with = "tls_self_signed", help_heading = "TLS")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate for 127.0.0.1 and localhost, signed at start by a new CA.
    #[arg(long, help_heading = "TLS")]
    pub tls_self_signed: bool,
    /// With --tls-self-signed: write that CA's certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "FILE", requires = "tls_self_signed", help_heading = "TLS")]
    pub tls_ca_out: Option<PathBuf>,
}

impl TlsArgs {
    /// The server's TLS configuration (`None`: plaintext).
    ///
    /// # Errors
    /// A certificate or key file that cannot be read or used, named with its flag; a CA file
    /// that cannot be written.
    pub fn server(&self) -> anyhow::Result<crate::server::Tls> {
        use anyhow::Context;
        let identity = match (&self.tls_cert, &self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => crate::tls::Identity::load(cert, key).context("--tls-cert/--tls-key")?,
            (_, _, true) => {
                let ca = crate::tls::Authority::new("presign-bench self-signed CA")?;
                if let Some(out) = &self.tls_ca_out {
                    crate::tls::write_file(out, ca.pem(), 0o644).context("--tls-ca-out")?;
                }
                ca.issue(&crate::tls::LOCAL_HOSTS)?
            }
            _ => return Ok(None),
        };
        Ok(Some(crate::tls::server_config(&identity).context("--tls-cert/--tls-key")?))
    }
}

/// Flags shared by `broker` and `proxy`, so the two differ only in where the bytes flow.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:8080 broker, 127.0.0.1:8081 proxy].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// S3 endpoint URL.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    pub s3_endpoint: String,
    /// For an https --s3-endpoint: the CA certificates (PEM) to check the store's certificate
    /// against, and nothing else.
    #[arg(long, value_name = "FILE")]
    pub storage_ca: Option<PathBuf>,
    /// Bucket for uploads (created at start if missing).
    #[arg(long, default_value = "uploads")]
    pub bucket: String,
    /// Region used in signatures.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// HMAC secret of bearer tokens [default: a fixed development secret, with a warning].
    #[arg(long, env = "PRESIGN_BENCH_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
    /// SQLite file for file metadata [default: a file in a temporary directory].
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Content types that may be uploaded, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "image/jpeg,image/png,image/webp,application/pdf,video/mp4")]
    pub allowed_types: Vec<String>,
    /// Largest upload.
    #[arg(long, default_value = "100MiB", value_parser = parse_size)]
    pub max_size: u64,
    /// The proxy stores larger uploads as multipart uploads, one part at a time (at most 5GiB).
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub multipart_threshold: u64,
    /// Size of the parts of multipart uploads when the client names none (5MiB to 5GiB; grown
    /// for objects that would need more than 10,000 parts).
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// How long a presigned multipart upload may take from start to completion; each part's URL
    /// still lives at most --put-expiry. Uploads still open after it are aborted [default:
    /// --put-expiry + --complete-grace].
    #[arg(long, value_parser = parse_duration)]
    pub multipart_window: Option<Duration>,
    /// Multipart uploads one user may have open at once; another start is answered 429
    /// too_many_uploads until one is completed or aborted.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_open_multipart: u64,
    /// Lifetime of presigned PUT URLs (at most 15m).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub put_expiry: Duration,
    /// Lifetime of presigned GET URLs (at most 1h).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub get_expiry: Duration,
    /// How long after its PUT URL expires an upload may still be completed.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub complete_grace: Duration,
    /// Emulate this server's NIC: all its sockets together move at most RATE per direction,
    /// e.g. 1Gbit/s (client and storage traffic share it, as on a real server).
    #[arg(long, value_parser = crate::units::parse_bandwidth)]
    pub nic: Option<f64>,
    /// Longest wait for a request's headers.
    #[arg(long, default_value = "30s", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub header_timeout: Duration,
    /// Longest pause between two pieces of a request body (answered 408 body_timeout).
    #[arg(long, default_value = "30s", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub body_idle_timeout: Duration,
    /// Longest time one request may take, body included (answered 408 request_timeout).
    #[arg(long, default_value = "10m", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub request_timeout: Duration,
    /// Longest wait for a client to take the next piece of a response (a download it stopped
    /// reading); the connection is closed and its store connection freed.
    #[arg(long, default_value = "30s", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub send_timeout: Duration,
    /// Client connections open at once; above it, 503 overloaded with Retry-After.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Timeouts and limits")]
    pub max_connections: u32,
    /// Requests handled at once (uploads, presigns, completions, downloads); above it, 503
    /// overloaded with Retry-After.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Timeouts and limits")]
    pub max_in_flight: u32,
    /// Longest wait for a TCP connection to the store.
    #[arg(long, default_value = "3s", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub store_connect_timeout: Duration,
    /// Longest wait for the store to answer a call, or to take or send the next piece of a
    /// streamed body (answered 504 storage_timeout).
    #[arg(long, default_value = "30s", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub store_timeout: Duration,
    /// Time between two passes of the orphan sweeper (0s: never).
    #[arg(long, default_value = "5m", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub sweep_every: Duration,
    /// Age above which a stored object without a metadata row is an orphan.
    #[arg(long, default_value = "5m", value_parser = parse_duration, help_heading = "Timeouts and limits")]
    pub orphan_grace: Duration,
    /// A web origin allowed to call this server from a browser (CORS), e.g.
    /// https://app.example.com; repeatable. None by default: browsers on other origins are refused.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// (broker) Never add the lifecycle rule that expires abandoned uploads to a bucket that has
    /// none (for a bucket that is not this service's, such as one being audited).
    #[arg(long)]
    pub no_lifecycle_rule: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// ClamAV's daemon (HOST:PORT): every upload is scanned before it is recorded, and an
    /// infected one deleted and answered 422 infected.
    #[arg(long, value_name = "HOST:PORT", help_heading = "Validation")]
    pub clamd: Option<String>,
    /// (broker) Take the store's event notifications at POST /v1/events, from senders presenting
    /// this bearer token (MinIO's webhook auth_token; `storage --notify-token`).
    #[arg(long, env = "PRESIGN_BENCH_EVENTS_TOKEN", hide_env_values = true, help_heading = "Store events")]
    pub events_token: Option<String>,
    /// (broker) Longest a completion waits for its upload's event before checking the upload
    /// itself. By default it does not wait: a completion that finds the event's check under way
    /// waits for it and answers from its verdict; one that comes first checks, and the event
    /// finds its verdict.
    #[arg(long, default_value = "0s", value_parser = parse_duration, help_heading = "Store events")]
    pub event_wait: Duration,
    /// (broker) Sign CDN cookies with this key, shared with the CDN that checks them
    /// (`POST /v1/cdn/cookies`; at least 32 bytes).
    #[arg(long, env = "PRESIGN_BENCH_CDN_KEY", hide_env_values = true, help_heading = "CDN")]
    pub cdn_key: Option<String>,
    /// (broker) A store key prefix every signed-in user may view through the CDN (a library all
    /// subscribers see), besides their own files; repeatable.
    #[arg(long = "cdn-grant", value_name = "PREFIX", help_heading = "CDN")]
    pub cdn_grants: Vec<String>,
    /// (broker) How long a CDN cookie lives (at most 1h).
    #[arg(long, default_value = "10m", value_parser = parse_duration, help_heading = "CDN")]
    pub cdn_cookie_ttl: Duration,
    /// Test only: leave Content-Type out of presigned PUT signatures (what `audit` must catch).
    #[arg(long, hide = true, env = "PRESIGN_BENCH_INSECURE_UNSIGNED_CONTENT_TYPE")]
    pub insecure_unsigned_content_type: bool,
    /// Exit when standard input closes (set by `run` for its child servers).
    #[arg(long, hide = true)]
    pub watch_stdin: bool,
}

impl ServerArgs {
    /// How the broker takes store events (`None`: it does not).
    ///
    /// # Errors
    /// An events token shorter than the token secret's minimum, named.
    pub fn events(&self) -> anyhow::Result<Option<crate::broker::events::EventsConfig>> {
        let Some(token) = &self.events_token else { return Ok(None) };
        if token.len() < crate::app::MIN_TOKEN_SECRET_BYTES {
            anyhow::bail!(
                "--events-token: {} bytes; use at least {} random bytes (e.g. `openssl rand -hex 32`)",
                token.len(),
                crate::app::MIN_TOKEN_SECRET_BYTES
            );
        }
        Ok(Some(crate::broker::events::EventsConfig { token: token.clone(), wait: self.event_wait }))
    }

    /// The app configuration these flags describe (validated when the app starts).
    ///
    /// # Errors
    /// A TLS file (`--tls-cert`, `--tls-key`, `--storage-ca`) that cannot be read or used,
    /// named.
    pub fn config(&self) -> anyhow::Result<AppConfig> {
        use anyhow::Context;
        let ca_pem = match &self.storage_ca {
            Some(path) => {
                Some(std::fs::read_to_string(path).with_context(|| format!("--storage-ca {}", path.display()))?)
            }
            None => None,
        };
        Ok(AppConfig {
            s3: S3Target {
                endpoint: self.s3_endpoint.trim_end_matches('/').to_owned(),
                region: self.region.clone(),
                bucket: self.bucket.clone(),
                credentials: self.credentials.credentials(),
                ca_pem,
            },
            tls: self.tls.server()?,
            token_secret: token_secret(self.token_secret.as_deref()),
            db_path: self.db.clone(),
            policy: Policy {
                allowed_types: self.allowed_types.iter().map(|t| crate::units::normalise_content_type(t)).collect(),
                max_size: self.max_size,
                multipart: crate::app::policy::MultipartPolicy {
                    threshold: self.multipart_threshold,
                    part_size: self.part_size,
                    window: self.multipart_window,
                    max_open_per_user: self.max_open_multipart,
                },
            },
            put_expiry: self.put_expiry,
            get_expiry: self.get_expiry,
            complete_grace: self.complete_grace,
            nic: self.nic,
            insecure_unsigned_content_type: self.insecure_unsigned_content_type,
            cors_origins: self.cors_origins.clone(),
            lifecycle_rule: !self.no_lifecycle_rule,
            clamd: self.clamd.clone(),
            cdn: self.cdn_key.as_ref().map(|key| crate::app::cdn::CdnCookies {
                key: key.clone(),
                grants: self.cdn_grants.clone(),
                ttl: self.cdn_cookie_ttl,
            }),
            limits: crate::server::Limits {
                header_timeout: self.header_timeout,
                body_idle_timeout: self.body_idle_timeout,
                request_timeout: self.request_timeout,
                send_timeout: self.send_timeout,
                max_connections: self.max_connections as usize,
                max_in_flight: self.max_in_flight as usize,
            },
            store_timeouts: crate::storage::client::Timeouts {
                connect: self.store_connect_timeout,
                operation: self.store_timeout,
            },
            sweep: crate::app::sweep::Sweep { every: self.sweep_every, grace: self.orphan_grace },
        })
    }
}

/// Flags of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of the page (port 0 picks a free port); the servers take ephemeral ports.
    #[arg(long, default_value = "127.0.0.1:8088")]
    pub listen: SocketAddr,
    /// An origin the servers allow (CORS), repeatable [default: the page's own origin].
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = origin)]
    pub cors_origins: Vec<String>,
    /// Largest upload.
    #[arg(long, default_value = "100MiB", value_parser = parse_size)]
    pub max_size: u64,
    /// Content types that may be uploaded, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "image/jpeg,image/png,image/webp,application/pdf,video/mp4")]
    pub allowed_types: Vec<String>,
    /// Serve the page, the store, the broker and the proxy over HTTPS, each with a certificate
    /// for 127.0.0.1 and localhost signed at start by a new CA.
    #[arg(long, help_heading = "TLS")]
    pub tls_self_signed: bool,
    /// With --tls-self-signed: write that CA's certificate (PEM) here, for the browser to trust.
    #[arg(long, value_name = "FILE", requires = "tls_self_signed", help_heading = "TLS")]
    pub tls_ca_out: Option<PathBuf>,
}

impl DemoArgs {
    pub(super) fn options(&self) -> crate::demo::Options {
        crate::demo::Options {
            listen: self.listen,
            cors_origins: self.cors_origins.clone(),
            max_size: self.max_size,
            allowed_types: self.allowed_types.clone(),
            tls: self.tls_self_signed,
            tls_ca_out: self.tls_ca_out.clone(),
        }
    }
}

/// Flags of `token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// User id (1-64 of A-Z a-z 0-9 _ -).
    #[arg(long)]
    pub user: String,
    /// How long the token is valid.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// HMAC secret, the broker's `--token-secret` [default: the development secret].
    #[arg(long, env = "PRESIGN_BENCH_TOKEN_SECRET", hide_env_values = true)]
    pub token_secret: Option<String>,
}

pub(super) fn origin(s: &str) -> Result<String, String> {
    crate::units::check_origin(s).map(|()| s.to_owned())
}

pub(super) fn token_secret(given: Option<&str>) -> String {
    given.map_or_else(
        || {
            tracing::warn!("no --token-secret or PRESIGN_BENCH_TOKEN_SECRET: using the development secret");
            DEV_TOKEN_SECRET.to_owned()
        },
        str::to_owned,
    )
}
