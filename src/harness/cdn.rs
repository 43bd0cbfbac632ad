//! The run's CDN: Debian's nginx (with `libnginx-mod-http-js`, installed by
//! `tools/install-debian-packages.sh`) as a caching reverse proxy in front of the store, run by
//! the hidden `cdn-node` subcommand like clamd and MinIO nodes, with its configuration, cache and
//! log in a directory of the run.
//!
//! Why nginx: its `proxy_cache` is a disk cache with a size limit and a lock that sends one
//! request per object to the origin however many viewers miss at once; it speaks TLS on both
//! sides; and its JavaScript module verifies a signed cookie and signs the origin request with
//! SigV4 (`cdn.js`). Varnish's open-source build has no TLS at all and no HMAC in its stock
//! modules; Traffic Server is not one of Debian's packages here.
//!
//! What it serves (each object by the store key after the prefix):
//! - `/public/<key>`: anyone, for keys under `public_prefix`;
//! - `/private/<key>`: keys under `private_prefix`, to a viewer whose signed cookies
//!   ([`crate::app::cdn`]) name the path; else 403 with a JSON error `cdn_<reason>`;
//! - `/presigned/<bucket>/<key>?<presigned query>`: a presigned GET URL passed through, query and
//!   all, as a CDN must to let the store check it (so every URL is its own cache entry).
//!
//! The cache key of the first two is the path alone: no cookie, query string or header of the
//! viewer reaches the key or the origin, so one cached copy serves every authorised viewer and no
//! viewer can split or poison it. Each response carries `X-Cache` (nginx's cache status), and
//! each request is a line of `access.log`: `msec|status|cache-status|origin-bytes-received|
//! origin-bytes-sent|bytes-sent|uri`.

use super::children::{Server, Spec};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Where Debian installs nginx.
pub const NGINX_BIN: &str = "/usr/sbin/nginx";
/// Where Debian installs nginx's JavaScript module.
pub const NJS_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_js_module.so";
/// How to install them.
pub const INSTALL_COMMAND: &str = "tools/install-debian-packages.sh";
/// The subcommand of this binary that runs nginx.
pub const NODE_COMMAND: &str = "cdn-node";
pub use super::cdn_log::ACCESS_LOG;
pub use crate::client::download::CACHE_HEADER;
/// The signed cookies' names.
pub const POLICY_COOKIE: &str = "CDN-Policy";
/// See [`POLICY_COOKIE`].
pub const SIGNATURE_COOKIE: &str = "CDN-Signature";
/// The environment variable that carries the cookie key to nginx.
pub const KEY_ENV: &str = "PB_CDN_KEY";
/// The environment variables that carry the store credentials to nginx.
pub const ORIGIN_KEY_ENVS: [&str; 2] = ["PB_ORIGIN_ACCESS_KEY", "PB_ORIGIN_SECRET_KEY"];
const SCRIPT: &str = include_str!("cdn.js");
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// What the cache fronts and how.
#[derive(Clone, Debug)]
pub struct Cache {
    /// The store, `http(s)://127.0.0.1:PORT`.
    pub origin: String,
    /// Its bucket and region.
    pub bucket: String,
    /// See `bucket`.
    pub region: String,
    /// Keys served to anyone at `/public/` (`None`: nothing is public).
    pub public_prefix: Option<String>,
    /// Keys served with signed cookies at `/private/`.
    pub private_prefix: String,
    /// The cache's size limit, bytes.
    pub max_bytes: u64,
    /// The port it listens on, 127.0.0.1.
    pub port: u16,
    /// Its certificate and key (HTTPS to viewers), and the CA the origin's certificate is checked against.
    pub tls: Option<CacheTls>,
}

/// The cache's TLS files.
#[derive(Clone, Debug)]
pub struct CacheTls {
    /// Its certificate chain, PEM.
    pub cert: PathBuf,
    /// Its key, PEM.
    pub key: PathBuf,
    /// The CA of an `https` origin.
    pub ca: PathBuf,
}

/// Errors of running the cache.
#[derive(Debug, thiserror::Error)]
pub enum CdnError {
    /// nginx or its JavaScript module is not installed.
    #[error("nginx with its JavaScript module is not installed ({NGINX_BIN}, {NJS_MODULE}): run {INSTALL_COMMAND}")]
    Missing,
    /// A prefix would not be a plain path.
    #[error("cdn prefix {0:?}: must be letters, digits, '-', '_', '.' and '/', ending in '/'")]
    Prefix(String),
    /// A secret is missing from the environment.
    #[error("{0} is not set: the cache's secrets come from the environment")]
    Env(&'static str),
    /// It did not start or answer.
    #[error("nginx at 127.0.0.1:{port}: {message}")]
    Start {
        /// Its port.
        port: u16,
        /// What went wrong.
        message: String,
    },
}

fn check_prefix(prefix: &str) -> Result<(), CdnError> {
    let plain = prefix.ends_with('/')
        && !prefix.starts_with('/')
        && !prefix.contains("..")
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if plain { Ok(()) } else { Err(CdnError::Prefix(prefix.to_owned())) }
}

/// The location block of one cached path.
fn cached(location: &str, prefix: &str, check: &str) -> String {
    format!(
        "        location ~ ^/{location}/(?<object>{prefix}.+)$ {{\n{check}\
         \x20           proxy_cache cdn;\n            proxy_cache_key $uri;\n\
         \x20           proxy_pass $origin_base$origin;\n        }}\n"
    )
}

/// nginx's configuration for `cache`, its files in `dir`; `root` when nginx starts as root (its
/// workers then run as root too, to write `dir`).
///
/// # Errors
/// [`CdnError::Prefix`] for a prefix that is not a plain path.
pub fn config(cache: &Cache, dir: &Path, root: bool) -> Result<String, CdnError> {
    if let Some(p) = &cache.public_prefix {
        check_prefix(p)?;
    }
    check_prefix(&cache.private_prefix)?;
    let d = dir.display();
    let origin_host = cache.origin.split("://").nth(1).unwrap_or_default();
    let (listen, origin_tls) = match &cache.tls {
        Some(t) => (
            format!(
                "listen 127.0.0.1:{} ssl;\n        ssl_certificate {};\n        ssl_certificate_key {};",
                cache.port,
                t.cert.display(),
                t.key.display()
            ),
            // nginx checks a name against the certificate's DNS names only, never an IP address:
            // the run's certificate names localhost beside 127.0.0.1.
            format!(
                "proxy_ssl_trusted_certificate {};\n    proxy_ssl_verify on;\n    proxy_ssl_name localhost;\n",
                t.ca.display()
            ),
        ),
        None => (format!("listen 127.0.0.1:{};", cache.port), String::new()),
    };
    let private_check = "            if ($cdn_access != ok) {\n                return 403 \
         '{\"error\":{\"code\":\"cdn_$cdn_access\",\"message\":\"a valid signed cookie for this path is required\"}}';\n            }\n";
    let user = if root { "user root root;\n" } else { "" };
    let envs =
        std::iter::once(KEY_ENV).chain(ORIGIN_KEY_ENVS).map(|e| format!("env {e};\n")).collect::<Vec<_>>().concat();
    Ok(format!(
        "load_module {NJS_MODULE};\n{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         {envs}\
         events {{ worker_connections 4096; }}\n\
         http {{\n    client_body_temp_path {d}/tmp/body;\n    proxy_temp_path {d}/tmp/proxy;\n    fastcgi_temp_path {d}/tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n    scgi_temp_path {d}/tmp/scgi;\n\
         \x20   log_format cdn '$msec|$status|$upstream_cache_status|$upstream_bytes_received|$upstream_bytes_sent|$bytes_sent|$uri';\n\
         \x20   access_log {d}/{ACCESS_LOG} cdn;\n    default_type application/octet-stream;\n\
         \x20   js_import cdn from {d}/cdn.js;\n    js_set $cdn_access cdn.access;\n    js_set $origin cdn.origin;\n\
         \x20   proxy_cache_path {d}/cache levels=1:2 keys_zone=cdn:16m max_size={max} inactive=1d use_temp_path=off;\n\
         \x20   proxy_cache_valid 200 1h;\n    proxy_cache_lock on;\n    proxy_cache_lock_timeout 120s;\n    proxy_cache_lock_age 120s;\n\
         \x20   proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;\n    proxy_hide_header Set-Cookie;\n\
         \x20   proxy_pass_request_headers off;\n    proxy_set_header Host {origin_host};\n    proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n\
         \x20   proxy_read_timeout 120s;\n    {origin_tls}\
         \x20   server {{\n        {listen}\n        set $origin_base {origin};\n        set $origin_host {origin_host};\n\
         \x20       set $origin_bucket {bucket};\n        set $origin_region {region};\n\
         \x20       add_header X-Cache $upstream_cache_status always;\n\
         \x20       location = /cdn-health {{ return 200 'ok'; }}\n{public}{private}\
         \x20       location /presigned/ {{\n            proxy_cache cdn;\n            proxy_cache_key $request_uri;\n\
         \x20           proxy_pass {origin}/;\n        }}\n\
         \x20       location / {{ return 404 '{{\"error\":{{\"code\":\"not_found\",\"message\":\"no such path on this cache\"}}}}'; }}\n\
         \x20   }}\n}}\n",
        bucket = cache.bucket,
        region = cache.region,
        max = cache.max_bytes,
        origin = cache.origin,
        public = cache.public_prefix.as_deref().map(|p| cached("public", p, "")).unwrap_or_default(),
        private = cached("private", &cache.private_prefix, private_check),
    ))
}

/// The cache's secrets: given to nginx in its environment ([`KEY_ENV`], [`ORIGIN_KEY_ENVS`]),
/// never written to a file.
#[derive(Clone)]
pub struct Secrets {
    /// The key of the viewers' signed cookies.
    pub cookie_key: String,
    /// The store's credentials (the cache's origin access).
    pub origin: crate::storage::Credentials,
}

impl Secrets {
    /// The secrets in this process's environment (how `cdn-node` gets them).
    ///
    /// # Errors
    /// The variable that is missing.
    pub fn from_env() -> Result<Self, CdnError> {
        let var = |name: &'static str| std::env::var(name).map_err(|_| CdnError::Env(name));
        let origin =
            crate::storage::Credentials { access_key: var(ORIGIN_KEY_ENVS[0])?, secret_key: var(ORIGIN_KEY_ENVS[1])? };
        Ok(Self { cookie_key: var(KEY_ENV)?, origin })
    }

    fn envs(&self) -> [(&'static str, String); 3] {
        [
            (KEY_ENV, self.cookie_key.clone()),
            (ORIGIN_KEY_ENVS[0], self.origin.access_key.clone()),
            (ORIGIN_KEY_ENVS[1], self.origin.secret_key.clone()),
        ]
    }
}

/// Runs nginx for `cache` with its files in `dir` until `shutdown` or until nginx exits;
/// announces its URL once it listens.
///
/// # Errors
/// [`CdnError`] when nginx is missing, cannot start, or does not answer in time.
pub async fn run_node(
    cache: &Cache,
    secrets: &Secrets,
    dir: &Path,
    shutdown: impl Future<Output = ()>,
) -> Result<(), CdnError> {
    if !Path::new(NGINX_BIN).exists() || !Path::new(NJS_MODULE).exists() {
        return Err(CdnError::Missing);
    }
    let fail = |message: String| CdnError::Start { port: cache.port, message };
    // The effective user owns /proc/self; nginx honours `user` only when started as root.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let conf = dir.join("nginx.conf");
    let written = std::fs::create_dir_all(dir.join("tmp"))
        .and_then(|()| std::fs::create_dir_all(dir.join("cache")))
        .and_then(|()| std::fs::write(dir.join("cdn.js"), SCRIPT))
        .map_err(|e| fail(format!("writing {}: {e}", dir.display())));
    written?;
    std::fs::write(&conf, config(cache, dir, root)?).map_err(|e| fail(format!("writing {}: {e}", conf.display())))?;
    let mut child = tokio::process::Command::new(NGINX_BIN)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(dir.join("error.log"))
        .envs(secrets.envs())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start {NGINX_BIN}: {e}")))?;
    let _group = Group(child.id().and_then(|p| i32::try_from(p).ok()).map(nix::unistd::Pid::from_raw));
    let scheme = if cache.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://127.0.0.1:{}", cache.port);
    let ready = async {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", cache.port)).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    };
    let log_tail =
        || std::fs::read_to_string(dir.join("error.log")).unwrap_or_default().lines().last().unwrap_or("").to_owned();
    tokio::select! {
        ok = ready => if !ok {
            let _ = child.kill().await;
            return Err(fail(format!("not listening after {} s: {}", READY_TIMEOUT.as_secs(), log_tail())));
        },
        status = child.wait() => {
            let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
            return Err(fail(format!("exited before it was ready ({status}): {}", log_tail())));
        }
    }
    crate::server::announce_url(&url).map_err(|e| fail(format!("cannot announce: {e}")))?;
    super::children::supervise(&mut child, shutdown, Duration::from_secs(10)).await.map_err(fail)
}

/// nginx's process group (its own: the master's pid), killed whole when dropped: nginx's workers
/// outlive a killed master, so killing the master alone (`kill_on_drop`) would leave them serving.
struct Group(Option<nix::unistd::Pid>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Starts the cache (`presign-bench cdn-node`) as one of the run's servers, its files in
/// `work/cdn`.
///
/// # Errors
/// A [`super::HarnessError`] when it cannot start.
pub async fn start(cache: &Cache, secrets: &Secrets, work: &Path, logs: &Path) -> Result<Server, super::HarnessError> {
    let dir = work.join("cdn");
    std::fs::create_dir_all(&dir).map_err(super::io_error(&dir))?;
    let public = cache.public_prefix.iter().flat_map(|p| ["--public-prefix".to_owned(), p.clone()]);
    let mut args: Vec<String> = public.collect();
    args.extend([
        "--dir".to_owned(),
        dir.display().to_string(),
        "--origin".into(),
        cache.origin.clone(),
        "--bucket".into(),
        cache.bucket.clone(),
        "--region".into(),
        cache.region.clone(),
        "--private-prefix".into(),
        cache.private_prefix.clone(),
        "--max-bytes".into(),
        cache.max_bytes.to_string(),
        "--port".into(),
        cache.port.to_string(),
    ]);
    if let Some(t) = &cache.tls {
        for (flag, path) in [("--tls-cert", &t.cert), ("--tls-key", &t.key), ("--ca", &t.ca)] {
            args.extend([flag.to_owned(), path.display().to_string()]);
        }
    }
    let envs = secrets.envs();
    Server::start(Spec {
        name: "cdn".into(),
        command: NODE_COMMAND,
        args: &args,
        envs: &envs,
        log: logs.join("cdn.log"),
        expendable: false,
    })
    .await
}

/// The run's CDN, once started: where viewers reach it, where its log is, and the cookie key
/// the broker shares with it.
#[derive(Clone, Debug)]
pub struct RunCdn {
    /// `http(s)://127.0.0.1:PORT`.
    pub url: String,
    /// Its directory (the access log is [`ACCESS_LOG`] there).
    pub dir: PathBuf,
    /// The cookie key.
    pub key: String,
    /// The store key prefix the broker lets every viewer see (`--cdn-grant`).
    pub grant: String,
    /// How long the broker's cookies live.
    pub cookie_ttl_s: u64,
}

impl RunCdn {
    /// The broker's flags and environment for this CDN.
    #[must_use]
    pub fn broker_args(&self) -> (Vec<String>, (&'static str, String)) {
        let args = [
            "--cdn-grant".to_owned(),
            self.grant.clone(),
            "--cdn-cookie-ttl".into(),
            format!("{}s", self.cookie_ttl_s),
        ];
        (args.to_vec(), ("PRESIGN_BENCH_CDN_KEY", self.key.clone()))
    }
}

/// Starts the run's CDN in front of `target` when the scenario reads through it: its files in
/// `work/cdn`, HTTPS to viewers and to the store when the store speaks it (`tls`). The run's
/// verified files (`files/`) are its content: public when the scenario reads `public`.
///
/// # Errors
/// A [`super::HarnessError`] when it cannot start.
pub async fn start_for(
    scenario: &crate::scenario::Scenario,
    target: &crate::storage::client::S3Target,
    tls: Option<&super::certs::RunTls>,
    (work, logs): (&Path, &Path),
) -> Result<Option<(Server, RunCdn)>, super::HarnessError> {
    let Some(d) = scenario.downloads.filter(|d| d.cdn.any()) else { return Ok(None) };
    let content = crate::app::policy::FILE_PREFIX.to_owned();
    let port = super::children::free_port()
        .map_err(|e| super::HarnessError::ServerStart { name: "cdn".into(), message: format!("no free port: {e}") })?;
    let cache = Cache {
        origin: target.endpoint.clone(),
        bucket: target.bucket.clone(),
        region: target.region.clone(),
        public_prefix: d.cdn.public.then(|| content.clone()),
        private_prefix: content.clone(),
        max_bytes: d.cache_bytes,
        port,
        tls: tls.map(|t| CacheTls { cert: t.cert.clone(), key: t.key.clone(), ca: t.ca.clone() }),
    };
    let key = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let secrets = Secrets { cookie_key: key.clone(), origin: target.credentials.clone() };
    let server = start(&cache, &secrets, work, logs).await?;
    let run =
        RunCdn { url: server.url.clone(), dir: work.join("cdn"), key, grant: content, cookie_ttl_s: d.cookie_ttl_s };
    Ok(Some((server, run)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> Cache {
        Cache {
            origin: "http://127.0.0.1:9000".into(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            public_prefix: Some("files/".into()),
            private_prefix: "files/".into(),
            max_bytes: 1 << 30,
            port: 8443,
            tls: None,
        }
    }

    #[test]
    fn the_config_keys_the_cache_by_path_and_checks_cookies_on_private_paths_only() {
        let c = config(&cache(), Path::new("/d"), false).unwrap();
        assert!(c.contains("location ~ ^/public/(?<object>files/.+)$ {\n            proxy_cache cdn;\n            proxy_cache_key $uri;"), "{c}");
        assert!(c.contains("location ~ ^/private/(?<object>files/.+)$ {\n            if ($cdn_access != ok)"), "{c}");
        assert!(c.contains("proxy_pass_request_headers off;"));
        assert!(c.contains("set $origin_host 127.0.0.1:9000;"));
        assert!(c.contains("max_size=1073741824"));
        assert!(!c.contains("user root"));
        let private_only = config(&Cache { public_prefix: None, ..cache() }, Path::new("/d"), false).unwrap();
        assert!(!private_only.contains("/public/"));
        assert!(config(&cache(), Path::new("/d"), true).unwrap().contains("user root root;"));
        for bad in ["files", "/files/", "a/../b/", "files/$x/", "files/ /"] {
            let c = Cache { private_prefix: bad.into(), ..cache() };
            assert!(matches!(config(&c, Path::new("/d"), false), Err(CdnError::Prefix(_))), "{bad}");
        }
    }
}
