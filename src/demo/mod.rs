//! The `demo` command: the stakeholder demo in a browser. Starts the embedded store, the broker
//! and the proxy (each its own process and origin, CORS open to the page's origin only), and
//! serves one page, embedded in the binary, where a person uploads a file both ways and watches
//! the bytes each app server carries, live, side by side with their ratio.
//!
//! The page reads the servers' counters from this server's `/api/bytes`, which scrapes their
//! `/metrics` on connections of its own: a browser scraping them directly would reuse the
//! connections its uploads use, and the servers would count the scrapes as app traffic.

use crate::harness::certs::RunTls;
use crate::harness::children::Server;
use anyhow::Context;
use axum::Router;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The page, with `/*CONFIG*/null` standing for its configuration.
const PAGE: &str = include_str!("page.html");

/// What `demo` needs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the page is served (port 0 picks one).
    pub listen: SocketAddr,
    /// Origins the broker, the proxy and the store allow; empty: the page's own.
    pub cors_origins: Vec<String>,
    /// Largest upload the broker and the proxy take.
    pub max_size: u64,
    /// Content types they take.
    pub allowed_types: Vec<String>,
    /// Everything over HTTPS (the page, the store, the broker, the proxy), with a CA made at start.
    pub tls: bool,
    /// Where to write that CA's certificate, for a browser to trust.
    pub tls_ca_out: Option<std::path::PathBuf>,
}

/// What the page is told: where the servers are and the token it uploads with.
#[derive(serde::Serialize)]
struct PageConfig {
    broker: String,
    proxy: String,
    store: String,
    token: String,
    max_size: u64,
    allowed_types: Vec<String>,
}

/// The counters the page shows, per app server.
#[derive(serde::Serialize)]
struct Bytes {
    client_in: u64,
    client_out: u64,
    storage_in: u64,
    storage_out: u64,
}

/// The user the page uploads as.
const USER: &str = "demo";
/// How long the page's token lasts: a long demo, never a day.
const TOKEN_TTL: Duration = Duration::from_secs(12 * 3600);

/// Runs `demo` until `stop` is cancelled, then stops the servers.
///
/// # Errors
/// A server that does not start, or an address that cannot be bound.
pub async fn command(o: &Options, stop: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(o.listen).await.with_context(|| format!("--listen {}", o.listen))?;
    let work = tempfile::Builder::new().prefix("presign-bench-demo").tempdir().context("a temporary directory")?;
    let tls = if o.tls { Some(RunTls::make(&work.path().join("tls"))?) } else { None };
    if let (Some(tls), Some(out)) = (&tls, &o.tls_ca_out) {
        std::fs::copy(&tls.ca, out).with_context(|| format!("--tls-ca-out {}", out.display()))?;
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let page_origin = format!("{scheme}://{}", listener.local_addr()?);
    let origins = if o.cors_origins.is_empty() { vec![page_origin.clone()] } else { o.cors_origins.clone() };
    let (servers, secret) = start_servers(o, &origins, work.path(), tls.as_ref()).await?;
    let [store, broker, proxy] = [&servers[0].url, &servers[1].url, &servers[2].url].map(String::clone);
    let token = crate::app::auth::Tokens::new(secret.as_bytes()).mint(USER, TOKEN_TTL).map_err(anyhow::Error::msg)?;
    let config = PageConfig {
        broker: broker.clone(),
        proxy: proxy.clone(),
        store: store.clone(),
        token,
        max_size: o.max_size,
        allowed_types: o.allowed_types.clone(),
    };
    // `</` cannot end the script it is inlined into.
    let json = serde_json::to_string(&config)?.replace("</", "<\\/");
    let page: Arc<str> = PAGE.replacen("/*CONFIG*/null", &json, 1).into();
    let trust = tls.as_ref().map(|t| t.trust.clone());
    let app = Router::new()
        .route("/", get(move || async move { Html(page.to_string()) }))
        .route("/api/bytes", get(move || bytes(broker.clone(), proxy.clone(), trust.clone())));
    println!("presign-bench demo: open {page_origin}/");
    println!("  broker {}  proxy {}  store {}", servers[1].url, servers[2].url, servers[0].url);
    if let Some(tls) = &tls {
        println!("  HTTPS with a CA made at start: {} (trust it in the browser)", tls.ca.display());
    }
    println!("  CORS allows {}; logs in {}", origins.join(", "), work.path().display());
    println!("  Ctrl-C stops everything.");
    let served = match &tls {
        // The page over HTTPS through the same accept loop as every server (axum::serve speaks
        // no TLS).
        Some(tls) => {
            let config = crate::tls::server_config(&tls.identity).context("the page's certificate")?;
            let meter = crate::metrics::Meter::new();
            let limits = crate::server::Limits::default();
            crate::server::serve_router(listener, app, meter, limits, Some(config), stop.cancelled_owned()).await;
            Ok(())
        }
        None => axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await,
    };
    futures_util::future::join_all(servers.into_iter().map(Server::stop)).await;
    served.context("serving the page")
}

/// Starts the store, the broker and the proxy (in that order in the result) with a fresh token
/// secret, which it returns.
async fn start_servers(
    o: &Options,
    origins: &[String],
    work: &std::path::Path,
    tls: Option<&RunTls>,
) -> anyhow::Result<(Vec<Server>, String)> {
    let mut store: Vec<String> = origins.iter().flat_map(|o| ["--cors-origin".to_owned(), o.clone()]).collect();
    let mut app = store.clone();
    if let Some(tls) = tls {
        store.extend(tls.serve_args());
        app.extend(tls.serve_args());
        app.extend(["--storage-ca".to_owned(), tls.ca.display().to_string()]);
    }
    app.extend([
        "--allowed-types".to_owned(),
        o.allowed_types.join(","),
        "--max-size".to_owned(),
        o.max_size.to_string(),
    ]);
    let apps = [("broker", app.clone()), ("proxy", app)];
    let (servers, _, secret) = crate::harness::local::start(work, "presign-bench-demo", &store, &apps).await?;
    Ok((servers, secret))
}

/// `GET /api/bytes`: both app servers' socket counters, each scraped on a fresh connection.
async fn bytes(broker: String, proxy: String, trust: Option<crate::tls::Trust>) -> axum::response::Response {
    let trust = trust.as_ref();
    let (b, p) = tokio::join!(crate::client::once::scrape(&broker, trust), crate::client::once::scrape(&proxy, trust));
    match (b, p) {
        (Ok(b), Ok(p)) => axum::Json(serde_json::json!({ "broker": of(&b), "proxy": of(&p) })).into_response(),
        (Err(e), _) | (_, Err(e)) => {
            let body = serde_json::json!({ "error": { "code": "scrape_failed", "message": e } });
            (http::StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}

fn of(s: &crate::metrics::Snapshot) -> Bytes {
    Bytes {
        client_in: s.client.bytes_in,
        client_out: s.client.bytes_out,
        storage_in: s.storage.bytes_in,
        storage_out: s.storage.bytes_out,
    }
}
