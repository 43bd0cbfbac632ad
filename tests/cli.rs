//! The binary as users run it: readiness line, one-line errors, graceful shutdown, and the
//! proxy's memory bound measured in its own process.

// Tests compare small counters as f64 and build byte patterns by truncation on purpose.
#![allow(clippy::cast_possible_truncation, clippy::cast_precision_loss, clippy::float_cmp)]
#![allow(clippy::case_sensitive_file_extension_comparisons, clippy::unused_self)]

use crate::common;

use common::*;
use std::time::Duration;

/// Runs the binary to completion (at most a minute) and returns (success, stdout, stderr).
async fn run(args: &[&str]) -> (bool, String, String) {
    run_bin(args, Duration::from_secs(60)).await
}

fn error_line(stderr: &str) -> &str {
    stderr.lines().find(|l| l.starts_with("error")).unwrap_or_else(|| panic!("no error line in {stderr:?}"))
}

#[tokio::test]
async fn port_in_use_is_a_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for cmd in ["storage", "broker", "proxy"] {
        let (ok, _, stderr) = run(&[cmd, "--listen", &addr]).await;
        assert!(!ok, "{cmd}");
        assert!(error_line(&stderr).contains(&format!("cannot listen on {addr}")), "{cmd}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn unreachable_store_names_the_url() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (ok, _, stderr) = run(&["broker", "--listen", "127.0.0.1:0", "--s3-endpoint", &url]).await;
    assert!(!ok);
    assert!(error_line(&stderr).contains(&url), "{stderr}");
}

#[tokio::test]
async fn expiry_limits_are_enforced_at_start() {
    let (ok, _, stderr) = run(&["broker", "--listen", "127.0.0.1:0", "--put-expiry", "20m"]).await;
    assert!(!ok);
    assert!(error_line(&stderr).contains("--put-expiry"), "{stderr}");
    let (ok, _, stderr) = run(&["proxy", "--listen", "127.0.0.1:0", "--get-expiry", "2h"]).await;
    assert!(!ok);
    assert!(error_line(&stderr).contains("--get-expiry"), "{stderr}");
    let (ok, _, stderr) = run(&["broker", "--max-size", "ten"]).await;
    assert!(!ok);
    assert!(stderr.contains("--max-size") && stderr.contains("\"ten\""), "{stderr}");
}

#[tokio::test]
async fn token_command() {
    let (ok, stdout, _) = run(&["token", "--user", "alice", "--ttl", "5m"]).await;
    assert!(ok);
    let token = stdout.trim();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let user = presign_bench::app::auth::Tokens::new(presign_bench::app::DEV_TOKEN_SECRET.as_bytes())
        .user(Some(&http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap()))
        .unwrap();
    assert_eq!(user, "alice");
    let (ok, _, stderr) = run(&["token", "--user", "../etc"]).await;
    assert!(!ok);
    assert!(error_line(&stderr).contains("--user"), "{stderr}");
}

#[tokio::test]
async fn servers_shut_down_gracefully_on_sigterm() {
    let mut store = spawn_bin(&["storage", "--listen", "127.0.0.1:0"]).await;
    assert!(reqwest::get(format!("{}/", store.url)).await.is_ok());
    signal(store.child.id().unwrap(), nix::sys::signal::Signal::SIGTERM);
    let status = exit_status(&mut store.child).await;
    assert!(status.success(), "{status}");
}

/// A 64 MiB proxied upload, generated as it is sent, raises the proxy's peak RSS by less than
/// 64 MiB: the body is streamed, not buffered.
#[tokio::test]
async fn proxy_memory_is_bounded_while_streaming() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let creds = ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY];
    let store = spawn_bin(&[&["storage", "--listen", "127.0.0.1:0", "--data-dir", dir][..], &creds].concat()).await;
    let proxy =
        spawn_bin(&[&["proxy", "--listen", "127.0.0.1:0", "--s3-endpoint", &store.url][..], &creds].concat()).await;
    let token =
        presign_bench::app::auth::Tokens::new(SECRET.as_bytes()).mint("alice", Duration::from_secs(600)).unwrap();
    let http = client();
    let upload = async |len: usize| {
        let chunk = 64 * 1024;
        let chunks = (0..len / chunk).map(move |i| {
            let mut c = vec![(i % 251) as u8; chunk];
            if i == 0 {
                c[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
            }
            Ok::<_, std::io::Error>(bytes::Bytes::from(c))
        });
        let r = http
            .put(format!("{}/v1/proxy/uploads", proxy.url))
            .bearer_auth(&token)
            .header("content-type", "image/jpeg")
            .header("content-length", len)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    };
    upload(1024 * 1024).await; // warm up allocator and connection pools
    let idle = metrics(&proxy.url).await.peak_rss_bytes as f64;
    upload(64 * 1024 * 1024).await;
    let peak = metrics(&proxy.url).await.peak_rss_bytes as f64;
    let grew = peak - idle;
    assert!(grew < 64.0 * 1024.0 * 1024.0, "peak RSS grew by {grew} bytes (idle {idle}, peak {peak})");
    eprintln!("proxy peak RSS: idle {idle} B, after 64 MiB upload {peak} B, grew {grew} B");
}

#[tokio::test]
async fn sign_bench_reports_every_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "sign-bench",
        "--threads",
        "1,2",
        "--duration",
        "100ms",
        "--repeats",
        "2",
        "--format",
        "json",
        "--out",
        dir.path().to_str().unwrap(),
    ];
    let (ok, stdout, stderr) = run(&args).await;
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let rows = report["results"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    for name in ["presign-bench", "aws-sigv4", "aws-sdk-s3", "crypto-floor", "crypto-floor-full-chain"] {
        for threads in [1, 2] {
            let row = rows
                .iter()
                .find(|r| r["impl"] == name && r["threads"] == threads)
                .unwrap_or_else(|| panic!("{name}/{threads}"));
            let s = &row["urls_per_sec"];
            let (min, median, max) =
                (s["min"].as_f64().unwrap(), s["median"].as_f64().unwrap(), s["max"].as_f64().unwrap());
            assert!(min > 0.0 && min <= median && median <= max, "{row}");
        }
    }
    assert!(report["ratio_vs_aws_sdk_s3"].as_f64().unwrap() > 0.0);
    for fraction in ["fraction_of_crypto_floor", "fraction_of_full_chain_floor"] {
        assert!(report[fraction].as_f64().unwrap() > 0.0, "{fraction}");
    }
    for f in ["sign-bench.json", "signing.svg", "signing.png"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let (ok, _, stderr) = run(&["sign-bench", "--threads", "0"]).await;
    assert!(!ok);
    assert!(stderr.contains("--threads"), "{stderr}");
}

#[tokio::test]
async fn plan_names_every_input_and_its_source() {
    let args = [
        "plan",
        "--uploads",
        "50000",
        "--object-size",
        "10MB",
        "--window",
        "60s",
        "--nic",
        "10Gbit/s",
        "--format",
        "json",
    ];
    let (ok, stdout, stderr) = run(&args).await;
    assert!(ok, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let input = |name: &str| {
        plan["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    assert_eq!(input("uploads")["source"], "flag");
    assert_eq!(input("object_size")["value"], 10_000_000.0);
    assert_eq!(input("cores")["source"], "default");
    assert_eq!(input("proxied.cpu_per_gb")["source"], "default");
    for i in plan["inputs"].as_array().unwrap() {
        assert!(i["unit"].as_str().is_some_and(|u| !u.is_empty()), "{i}");
    }
    // 500 GB each way in 60 s over 10 Gbit/s: 7 servers for the bytes alone.
    let proxied = &plan["modes"]["proxied"];
    assert_eq!(proxied["by_constraint"]["nic"], 7);
    assert_eq!(proxied["binding"], "nic");
    for k in ["nic", "cpu", "memory", "connections"] {
        assert!(proxied["by_constraint"][k].is_u64() && plan["modes"]["presigned"]["by_constraint"][k].is_u64());
    }
    assert_eq!(plan["modes"]["presigned"]["servers"], 1);

    // Measured costs from a real run's results.
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/results.json");
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(&["plan", fixture, "--out", dir.path().to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    let cpu = stdout.lines().find(|l| l.starts_with("proxied.cpu_per_gb")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(cpu.contains("CPU-s/GB") && cpu.ends_with("measured"), "{stdout}");
    // Inputs in human units: the NIC as a link is sold, sizes in SI bytes, never e-notation.
    assert!(stdout.contains("10 Gbit/s per direction"), "{stdout}");
    assert!(!stdout.contains("e9") && !stdout.contains("e7") && !stdout.contains("e-"), "{stdout}");
    for f in ["capacity.json", "capacity.svg", "capacity.png"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let (ok, _, stderr) = run(&["plan", "--nic", "lots"]).await;
    assert!(!ok);
    assert!(stderr.contains("--nic"), "{stderr}");
}
