//! Flags of the stores: `storage` (the embedded store, with its event notifications) and the
//! hidden `minio-node` and `clamd-node` (the scanner the harness runs beside the store), with what
//! each turns into.

use super::servers::{CredentialArgs, TlsArgs, origin};
use crate::units::parse_duration;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `storage`.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Where objects are kept [default: a temporary directory removed on exit].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Time between two sweeps of abandoned temporary files (0s: never).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub sweep_every: Duration,
    /// Age (since the last write) above which a temporary file of an unfinished PUT is abandoned.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub orphan_grace: Duration,
    /// A web origin whose pages may PUT and GET objects with presigned URLs (CORS); repeatable.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = origin)]
    pub cors_origins: Vec<String>,
    /// Longest wait for a client to take the next piece of a response (a download it stopped
    /// reading); the connection is closed.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub send_timeout: Duration,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Send an S3 event notification to this URL (e.g. http://127.0.0.1:8080/v1/events) after
    /// each write that lands an object.
    #[arg(long, value_name = "URL", help_heading = "Event notifications")]
    pub notify_url: Option<http::Uri>,
    /// The bearer token sent with each event (the broker's --events-token).
    #[arg(
        long,
        env = "PRESIGN_BENCH_NOTIFY_TOKEN",
        hide_env_values = true,
        requires = "notify_url",
        help_heading = "Event notifications"
    )]
    pub notify_token: Option<String>,
    /// Where undelivered events wait [default: beside the data directory, `DATA_DIR.events`].
    #[arg(long, value_name = "DIR", requires = "notify_url", help_heading = "Event notifications")]
    pub notify_queue_dir: Option<PathBuf>,
    /// Most events waiting at once; beyond it new events are dropped (and counted).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Event notifications")]
    pub notify_queue_limit: u64,
    /// CA certificates (PEM) an https --notify-url is checked against.
    #[arg(long, value_name = "FILE", requires = "notify_url", help_heading = "Event notifications")]
    pub notify_ca: Option<PathBuf>,
    /// Only keys starting with this are notified (a bucket notification's prefix filter), e.g.
    /// `uploads/`, so the broker's own copies raise no events [default: every key].
    #[arg(
        long,
        value_name = "PREFIX",
        default_value = "",
        requires = "notify_url",
        help_heading = "Event notifications"
    )]
    pub notify_prefix: String,
    /// Deliveries in flight at once (each waits for the receiver's answer).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024), help_heading = "Event notifications")]
    pub notify_senders: u64,
    /// Exit when standard input closes (set by `run` for its child servers).
    #[arg(long, hide = true)]
    pub watch_stdin: bool,
}

impl StorageArgs {
    /// Where event notifications go (`None`: nowhere).
    ///
    /// # Errors
    /// A --notify-url that is not http(s), a missing token, or a CA file that cannot be read,
    /// named by its flag.
    pub fn notify(&self) -> anyhow::Result<Option<crate::storage::notify::NotifyConfig>> {
        use anyhow::Context;
        let Some(url) = &self.notify_url else { return Ok(None) };
        if !matches!(url.scheme_str(), Some("http" | "https")) || url.host().is_none() {
            anyhow::bail!("--notify-url {url}: not an http:// or https:// URL");
        }
        let Some(token) = self.notify_token.clone() else {
            anyhow::bail!("--notify-url needs --notify-token (or PRESIGN_BENCH_NOTIFY_TOKEN)");
        };
        let ca_pem = match &self.notify_ca {
            Some(path) => {
                Some(std::fs::read_to_string(path).with_context(|| format!("--notify-ca {}", path.display()))?)
            }
            None => None,
        };
        Ok(Some(crate::storage::notify::NotifyConfig {
            url: url.clone(),
            token,
            queue_dir: self.notify_queue_dir.clone(),
            queue_limit: usize::try_from(self.notify_queue_limit).unwrap_or(usize::MAX),
            ca_pem,
            prefix: self.notify_prefix.clone(),
            senders: usize::try_from(self.notify_senders).unwrap_or(16),
        }))
    }
}

/// Flags of the hidden `clamd-node` (started by `run`).
#[derive(Debug, Args)]
pub struct ClamdNodeArgs {
    /// Where its configuration, signature database and log go.
    #[arg(long)]
    pub dir: PathBuf,
    /// Exit when standard input closes.
    #[arg(long, hide = true)]
    pub watch_stdin: bool,
}

/// Flags of the hidden `cdn-node` (started by `run`): nginx as a cache in front of the store.
/// The cookie key and the store's credentials come from the environment only
/// (`PB_CDN_KEY`, `PB_ORIGIN_ACCESS_KEY`, `PB_ORIGIN_SECRET_KEY`).
#[derive(Debug, Args)]
pub struct CdnNodeArgs {
    /// Where its configuration, cache and log go.
    #[arg(long)]
    pub dir: PathBuf,
    /// The store, `http(s)://127.0.0.1:PORT`.
    #[arg(long)]
    pub origin: String,
    /// The store's bucket.
    #[arg(long)]
    pub bucket: String,
    /// The store's region.
    #[arg(long)]
    pub region: String,
    /// Store keys served to anyone at /public/ (none without it).
    #[arg(long)]
    pub public_prefix: Option<String>,
    /// Store keys served with signed cookies at /private/.
    #[arg(long)]
    pub private_prefix: String,
    /// The cache's size limit, bytes.
    #[arg(long)]
    pub max_bytes: u64,
    /// The port on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
    /// HTTPS: certificate chain (PEM).
    #[arg(long, requires_all = ["tls_key", "ca"])]
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: key (PEM).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// The CA of an https origin (PEM).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Exit when standard input closes.
    #[arg(long, hide = true)]
    pub watch_stdin: bool,
}

impl CdnNodeArgs {
    /// The cache these flags describe.
    #[must_use]
    pub fn cache(&self) -> crate::harness::cdn::Cache {
        let tls = match (&self.tls_cert, &self.tls_key, &self.ca) {
            (Some(cert), Some(key), Some(ca)) => {
                Some(crate::harness::cdn::CacheTls { cert: cert.clone(), key: key.clone(), ca: ca.clone() })
            }
            _ => None,
        };
        crate::harness::cdn::Cache {
            origin: self.origin.clone(),
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            public_prefix: self.public_prefix.clone(),
            private_prefix: self.private_prefix.clone(),
            max_bytes: self.max_bytes,
            port: self.port,
            tls,
        }
    }
}

/// Flags of the hidden `minio-node` (started by `run`).
#[derive(Debug, Args)]
pub struct MinioNodeArgs {
    /// The minio binary.
    #[arg(long)]
    pub minio_bin: PathBuf,
    /// API address, 127.0.0.1:PORT.
    #[arg(long)]
    pub address: String,
    /// Console address, 127.0.0.1:PORT.
    #[arg(long)]
    pub console_address: String,
    /// MinIO's certificates directory (`public.crt`, `private.key`, `CAs/`): serve HTTPS.
    #[arg(long)]
    pub certs_dir: Option<PathBuf>,
    /// A drive directory, or every `http://host:port/dir` endpoint of the cluster.
    #[arg(required = true)]
    pub endpoints: Vec<String>,
    /// Exit (stopping MinIO) when standard input closes.
    #[arg(long)]
    pub watch_stdin: bool,
}
