//! TLS as production runs it (issue 26): servers on 127.0.0.1 speaking HTTPS with certificates a
//! CA made for the test signed; handshakes counted below TLS (full and resumed), scrapes over TLS
//! still counted as scrapes, HTTP/2 chosen by ALPN, untrusted certificates refused in one line
//! naming the endpoint, plaintext on a TLS port closed at once; and whole runs of both modes with
//! TLS on the app tier and the store, on the embedded store and on MinIO.

// Tests compare byte counters as f64 on purpose.
#![allow(clippy::cast_precision_loss)]

use crate::common;

use presign_bench::client::http::{Http, full};
use presign_bench::scenario::HttpVersion;
use presign_bench::tls::{Authority, LOCAL_HOSTS, Trust, server_config};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The embedded store in process, serving HTTPS with `identity`; returns its `https://` URL.
async fn tls_store(identity: &presign_bench::tls::Identity, dir: &Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let serving =
        presign_bench::storage::embedded::Serving { tls: Some(server_config(identity).unwrap()), ..Default::default() };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::fs::create_dir_all(dir).unwrap();
    let dir = dir.to_owned();
    tokio::spawn(async move {
        let stop = async move {
            let _ = rx.await;
        };
        presign_bench::storage::embedded::serve(listener, &dir, &common::credentials(), &serving, stop).await.unwrap();
    });
    (url, tx)
}

async fn get(client: &Http, url: &str) -> u16 {
    let request = http::Request::get(url).body(full(bytes::Bytes::new())).unwrap();
    client.send(request).await.unwrap_or_else(|e| panic!("{url}: {e}")).0.as_u16()
}

#[tokio::test]
async fn a_tls_broker_counts_its_handshakes_resumes_sessions_and_speaks_h2_by_alpn() {
    let ca = Authority::new("test CA").unwrap();
    let identity = ca.issue(&LOCAL_HOSTS).unwrap();
    let trust = Trust::new(ca.pem(), "test CA").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("store")).unwrap();
    let (storage, _stop_store) = common::start_storage(tmp.path().join("store")).await;
    let mut config = common::config(&storage, "tls-bucket", tmp.path().join("broker.sqlite3"));
    config.tls = Some(server_config(&identity).unwrap());
    let state = Arc::new(presign_bench::broker::Broker::start(config, None).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broker = format!("https://{}", listener.local_addr().unwrap());
    let (_stop, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(presign_bench::broker::serve(listener, state, async move {
        let _ = stop.await;
    }));

    // Two clients sharing the trust (and its session cache): the second connection resumes. The
    // first sends a 64 KiB body right behind its handshake: none of it may count as handshake.
    let (first, second) = (Http::new(Duration::from_secs(10)), Http::new(Duration::from_secs(10)));
    let first = first.tls(Some(trust.clone()));
    let body = full(bytes::Bytes::from(vec![7u8; 64 * 1024]));
    let request = http::Request::post(format!("{broker}/v1/nothing")).body(body).unwrap();
    assert_eq!(first.send(request).await.unwrap().0.as_u16(), 404);
    assert_eq!(get(&second.tls(Some(trust.clone())), &format!("{broker}/v1/nothing")).await, 404);
    // HTTP/2, chosen by ALPN.
    let h2 = Http::new(Duration::from_secs(10)).version(HttpVersion::Http2).tls(Some(trust.clone()));
    assert_eq!(get(&h2, &format!("{broker}/v1/nothing")).await, 404);
    // A client that trusts another CA refuses the certificate: a failed handshake.
    let other = Trust::new(Authority::new("another CA").unwrap().pem(), "another CA").unwrap();
    let stranger = Http::new(Duration::from_secs(10)).tls(Some(other));
    let request = http::Request::get(format!("{broker}/healthz")).body(full(bytes::Bytes::new())).unwrap();
    assert!(stranger.send(request).await.is_err());

    let m = presign_bench::client::once::scrape(&broker, Some(&trust)).await.unwrap();
    let t = m.client_tls;
    // HTTP/1.1 first: full; the second HTTP/1.1 client and the scrape: resumed; HTTP/2 (its
    // own configuration, so its own session cache): full.
    assert_eq!((t.full, t.resumed), (2, 2), "{t:?}");
    assert_eq!(t.failed, 1, "the client that trusts another CA: {t:?}");
    assert!(t.bytes.bytes_in > 200 && t.bytes.bytes_out > 200, "a ClientHello and a ServerHello at least: {t:?}");
    // ClientHello (with a key share, and a ticket when resuming), Finished: well under 2 kB each.
    assert!(t.bytes.bytes_in < 4 * 2000, "only handshake records, no request bytes: {t:?}");
    // App bytes are what crossed the socket: the app connections' handshakes are in them, and
    // the scrape (over TLS too) is counted apart, as a scrape.
    assert!(m.client.bytes_in > t.bytes.bytes_in / 2, "{m:?}");
    assert!(m.admin.bytes_in > 0 && m.admin.bytes_out > 0, "the TLS scrape is an admin connection: {m:?}");
}

/// A broker in process on 127.0.0.1, over HTTPS with `identity` when given; returns its URL.
async fn broker(
    identity: Option<&presign_bench::tls::Identity>,
    dir: &Path,
) -> (String, Arc<presign_bench::metrics::Meter>, tokio::sync::oneshot::Sender<()>) {
    std::fs::create_dir_all(dir.join("store")).unwrap();
    let (storage, stop_store) = common::start_storage(dir.join("store")).await;
    std::mem::forget(stop_store); // the store lives as long as the test's runtime
    let mut config = common::config(&storage, "capture", dir.join("broker.sqlite3"));
    config.tls = identity.map(|i| server_config(i).unwrap());
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let state = Arc::new(presign_bench::broker::Broker::start(config, None).await.unwrap());
    let meter = state.app.meter.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("{scheme}://{}", listener.local_addr().unwrap());
    let (tx, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(presign_bench::broker::serve(listener, state, async move {
        let _ = stop.await;
    }));
    (url, meter, tx)
}

/// tcpdump capturing the TCP traffic of one port on loopback into a file, until stopped.
struct Capture {
    child: std::process::Child,
    file: PathBuf,
    port: u16,
}

impl Capture {
    fn tcpdump() -> &'static str {
        ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("tcpdump is missing: run tools/install-test-deps.sh (Debian's tcpdump)")
    }

    /// Starts capturing, and returns once a probe connection shows in the file.
    async fn start(port: u16, file: PathBuf) -> Self {
        let child = std::process::Command::new(Self::tcpdump())
            // Immediate mode: each packet handed over as it comes (the kernel otherwise holds
            // them in blocks for up to a second); with a 64 MiB buffer, or the kernel drops
            // packets that tcpdump has not taken yet (measured: 1,256 of 1,440 with the default).
            .args([
                "-i",
                "lo",
                "-nn",
                "-U",
                "--immediate-mode",
                "-B",
                "65536",
                "-w",
                file.to_str().unwrap(),
                &format!("tcp port {port}"),
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let capture = Self { child, file, port };
        let live = common::eventually(Duration::from_secs(20), async || {
            drop(tokio::net::TcpStream::connect(("127.0.0.1", port)).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::fs::metadata(&capture.file).is_ok_and(|m| m.len() > 24)
        })
        .await;
        assert!(live, "tcpdump captured nothing on lo (is this test run as root?)");
        // Settled: probes stop, the last one's packets are in.
        tokio::time::sleep(Duration::from_millis(500)).await;
        capture
    }

    /// The TCP payload bytes captured so far: sent to the port, and sent from it.
    fn totals(&self) -> (u64, u64) {
        let out = std::process::Command::new(Self::tcpdump())
            .args(["-r", self.file.to_str().unwrap(), "-nn", "-q"])
            .stderr(std::process::Stdio::null())
            .output()
            .unwrap();
        let (mut to, mut from) = (0, 0);
        let port = format!(".{}", self.port);
        // `10:06:17.204317 IP 127.0.0.1.49380 > 127.0.0.1.38557: tcp 11`
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (Some(src), Some(len)) = (words.get(2), words.last().and_then(|n| n.parse::<u64>().ok())) else {
                continue;
            };
            if src.ends_with(&port) { from += len } else { to += len }
        }
        (to, from)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// The broker's client-side byte counters against the TCP payload tcpdump saw on its port, with
/// and without TLS: exactly equal (TLS records and handshakes are in both).
#[tokio::test]
async fn byte_counters_equal_the_tcp_payload_of_a_packet_capture_with_and_without_tls() {
    let ca = Authority::new("test CA").unwrap();
    let identity = ca.issue(&LOCAL_HOSTS).unwrap();
    let trust = Trust::new(ca.pem(), "test CA").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (name, tls) in [("plaintext", None), ("TLS", Some(&identity))] {
        let (url, meter, _stop) = broker(tls, &tmp.path().join(name)).await;
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let capture = Capture::start(port, tmp.path().join(format!("{name}.pcap"))).await;
        // Three connections over HTTP/1.1 (a full handshake, then resumed ones) and one over
        // HTTP/2, several requests each; every connection closed before the capture stops.
        for version in [HttpVersion::Http1, HttpVersion::Http1, HttpVersion::Http1, HttpVersion::Http2] {
            let client = Http::new(Duration::from_secs(10)).version(version).tls(Some(trust.clone()));
            for i in 0..5 {
                assert_eq!(get(&client, &format!("{url}/v1/nothing-{i}")).await, 404);
            }
        }
        // The capture lags the sockets a little: compare until they agree, for at most 10 s.
        let counted = || {
            use std::sync::atomic::Ordering::Relaxed;
            (meter.client.bytes_in.load(Relaxed), meter.client.bytes_out.load(Relaxed))
        };
        let agreed = common::eventually(Duration::from_secs(10), async || capture.totals() == counted()).await;
        assert!(agreed, "{name}: counted {:?}, captured {:?}", counted(), capture.totals());
        assert!(counted().0 > 0 && counted().1 > 0, "{name}: {:?}", counted());
        drop(capture);
        if tls.is_some() {
            let m = presign_bench::metrics::Snapshot::of(&meter);
            assert!(m.client_tls.completed() >= 4 && m.client_tls.resumed >= 1, "{:?}", m.client_tls);
        }
    }
}

#[tokio::test]
async fn untrusted_expired_and_misnamed_certificates_fail_in_one_line_naming_the_endpoint() {
    let ca = Authority::new("test CA").unwrap();
    let other = Authority::new("another CA").unwrap();
    let trust = Trust::new(ca.pem(), "test CA").unwrap();
    let now = SystemTime::now();
    let year = Duration::from_secs(365 * 86_400);
    let cases = [
        ("another CA's", other.issue(&LOCAL_HOSTS).unwrap(), &["unknownissuer", "unknown issuer"][..]),
        ("expired", ca.issue_valid(&LOCAL_HOSTS, now - 2 * year, now - year).unwrap(), &["expired"][..]),
        ("for another host", ca.issue(&["example.com"]).unwrap(), &["notvalidforname", "not valid for name"][..]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, (what, identity, words)) in cases.iter().enumerate() {
        let (url, _stop) = tls_store(identity, &tmp.path().join(i.to_string())).await;
        let client = Http::new(Duration::from_secs(10)).tls(Some(trust.clone()));
        let err = client.probe(&url.parse().unwrap()).await.unwrap_err().to_string();
        let lower = err.to_lowercase();
        assert!(!err.contains('\n'), "one line: {err}");
        assert!(err.contains(&url), "{what}: names the endpoint: {err}");
        assert!(words.iter().any(|w| lower.contains(w)), "{what}: says why: {err}");
        // The certificate the client does trust is accepted on the same kind of server.
        if i == 0 {
            let good = ca.issue(&LOCAL_HOSTS).unwrap();
            let (url, _stop) = tls_store(&good, &tmp.path().join("good")).await;
            client.probe(&url.parse().unwrap()).await.unwrap();
        }
    }
}

#[tokio::test]
async fn plaintext_on_a_tls_port_is_closed_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = Authority::new("test CA").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (url, _stop) = tls_store(&ca.issue(&LOCAL_HOSTS).unwrap(), tmp.path()).await;
    let mut socket = tokio::net::TcpStream::connect(url.trim_start_matches("https://")).await.unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    // Bounded: a hang fails here (the server's header timeout is 30 s).
    let read = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer)).await;
    let read = read.expect("the TLS port closed a plaintext request instead of hanging");
    // Closed (EOF or reset), with no HTTP answer: at most a TLS alert record.
    assert!(read.is_err() || !answer.starts_with(b"HTTP/"), "{answer:?}");
}

fn scenario(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("tls.toml");
    let text = format!(
        "name = \"tls\"\ndescription = \"test\"\nmodes = [\"proxied\", \"presigned\"]\n[target]\nuploads = 50000\n[run]\nuploads = 10\nconcurrency = 3\nobject_size = \"256KiB\"\ncontent_type = \"image/jpeg\"\nusers = 3\nseed = 7\nverify = \"all\"\nmax_duration = \"120s\"\n[downloads]\nper_object = 1\n[signing]\nenabled = false\n{extra}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs both modes with TLS on the app tier and the store; checks every upload and download
/// went through and was verified, and that the handshakes and their bytes were counted.
async fn tls_run(extra: &str, more: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let s =
        scenario(dir.path(), &format!("[app_tier]\ntls = true\n{extra}\n[storage]\nkind = \"embedded\"\ntls = true\n"));
    let out = dir.path().join("report");
    let args = [&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap()][..], more].concat();
    let (ok, _, stderr) = common::run_bin(&args, Duration::from_secs(300)).await;
    assert!(ok, "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    common::validate_results(&r).unwrap_or_else(|e| panic!("results.json breaks the schema:\n{e}"));
    assert_eq!(r["complete"], true);
    assert_eq!(r["scenario"]["tls"], serde_json::json!({"app_tier": true, "storage": true}));
    for mode in ["proxied", "presigned"] {
        let m = &r["modes"][mode];
        assert_eq!(
            (m["uploads_ok"].as_u64(), m["verified"].as_u64(), m["corrupt"].as_u64()),
            (Some(10), Some(10), Some(0)),
            "{mode}: {m}"
        );
        let d = &m["downloads"];
        assert_eq!((d["downloads_ok"].as_u64(), d["verified"].as_u64()), (Some(10), Some(10)), "{mode}: {d}");
        let tls = &m["app_tier"]["tls"]["client"];
        let handshakes = tls["full"].as_u64().unwrap() + tls["resumed"].as_u64().unwrap();
        assert!(handshakes >= 1 && tls["bytes_in"].as_u64().unwrap() > 200, "{mode}: {tls}");
        assert_eq!(tls["failed"], 0, "{mode}: {tls}");
        // The connections the load opened: their handshakes timed, per upload that opened one.
        let phase = &m["latency_us"]["tls_handshake"];
        assert!(
            phase["count"].as_u64().is_some_and(|n| (1..=10).contains(&n)) && phase["p50"].as_u64() > Some(0),
            "{mode}: {phase}"
        );
        // The app tier's store connections speak TLS too, counted on the same sockets.
        let store = &m["app_tier"]["tls"]["storage"];
        assert!(store["full"].as_u64().unwrap() + store["resumed"].as_u64().unwrap() >= 1, "{mode}: {store}");
        let client_in = m["app_tier"]["client_bytes_in"].as_f64().unwrap();
        if mode == "proxied" {
            // Every object crossed the proxy, inside TLS records (each adds 22 bytes per 16 KiB).
            assert!(client_in > 10.0 * 256.0 * 1024.0, "{mode}: {client_in}");
        } else {
            assert!(client_in < 10.0 * 256.0 * 1024.0 / 10.0, "{mode}: {client_in}");
        }
    }
    r
}

#[tokio::test]
async fn both_modes_over_tls_on_the_embedded_store_over_http1() {
    tls_run("", &[]).await;
}

#[tokio::test]
async fn both_modes_over_tls_on_the_embedded_store_over_h2_by_alpn() {
    tls_run("http = \"2\"", &[]).await;
}

#[tokio::test]
async fn both_modes_over_tls_on_minio() {
    let r = tls_run("", &["--storage", "minio"]).await;
    assert!(r["environment"]["store"].as_str().is_some_and(|s| s.contains("minio")), "{}", r["environment"]);
}
