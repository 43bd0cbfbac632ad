//! Reads through a real CDN cache (Debian's nginx with its JavaScript module, as `run` starts
//! it) in front of the embedded store: public objects miss once and hit after, whatever query
//! or header a viewer adds; private ones need the broker's signed cookies, and a cached private
//! object is never served without valid ones; presigned GET URLs through the cache do not hit.

use crate::common;

use common::{Stack, jpeg};
use presign_bench::app::cdn::{CdnCookies, sign};
use presign_bench::harness::cdn::{self, Cache, Secrets};
use presign_bench::harness::{cdn_log, children};
use sha2::Digest;
use std::time::{Duration, SystemTime};

const KEY: &str = "cdn-cookie-key-for-tests-0123456789abcdef";

/// The cache in front of `s`'s store, run in this process (nginx killed when the guard drops),
/// and its URL.
struct Running {
    url: String,
    dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn cache(s: &Stack) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let port = children::free_port().unwrap();
    let cache = Cache {
        origin: s.storage.clone(),
        bucket: s.bucket.clone(),
        region: "us-east-1".into(),
        public_prefix: Some("files/".into()),
        private_prefix: "files/".into(),
        max_bytes: 64 << 20,
        port,
        tls: None,
    };
    let secrets = Secrets { cookie_key: KEY.into(), origin: common::credentials() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let path = dir.path().to_owned();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(e) = cdn::run_node(&cache, &secrets, &path, shutdown).await {
            eprintln!("cdn: {e}");
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let ready = common::eventually(Duration::from_secs(20), async || {
        reqwest::get(format!("{url}/cdn-health")).await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(
        ready,
        "nginx did not start (run tools/install-debian-packages.sh); log: {}",
        dir.path().join("error.log").display()
    );
    Running { url, dir, _stop: stop }
}

async fn stack() -> Stack {
    Stack::start_with(|c| {
        c.cdn = Some(CdnCookies { key: KEY.into(), grants: Vec::new(), ttl: Duration::from_secs(600) });
    })
    .await
}

/// Uploads `len` bytes as `user` through the presigned flow: the stored key, the bytes and the
/// file id.
async fn upload(s: &Stack, user: &str, len: usize, seed: u8) -> (String, Vec<u8>, String) {
    let bytes = jpeg(len, seed);
    let up = common::presigned_upload(s, &s.token(user), "image/jpeg", bytes.clone()).await;
    assert_eq!(up.status, 200, "{}", up.body);
    let record = common::stored(s, &up).await;
    (record["key"].as_str().unwrap().to_owned(), bytes, record["file_id"].as_str().unwrap().to_owned())
}

struct Read {
    status: u16,
    cache: String,
    body: Vec<u8>,
}

async fn read(s: &Stack, url: &str, headers: &[(&str, &str)]) -> Read {
    let mut request = s.http.get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let r = request.send().await.unwrap();
    let cache = r.headers().get(cdn::CACHE_HEADER).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    Read { status: r.status().as_u16(), cache, body: r.bytes().await.unwrap().to_vec() }
}

/// The access log's lines for `uri`.
fn logged(c: &Running, uri: &str) -> Vec<cdn_log::Logged> {
    let text = std::fs::read_to_string(c.dir.path().join(cdn::ACCESS_LOG)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.ends_with(&format!("|{uri}"))).collect();
    cdn_log::parse_log(&lines.join("\n"))
}

#[tokio::test]
async fn public_objects_miss_once_then_hit_and_no_query_or_header_splits_or_reaches_the_key() {
    let s = stack().await;
    let c = cache(&s).await;
    let (key, bytes, _) = upload(&s, "u1", 300_000, 7).await;
    let url = format!("{}/public/{key}", c.url);
    let first = read(&s, &url, &[]).await;
    assert_eq!(
        (first.status, first.cache.as_str()),
        (200, "MISS"),
        "{} {}",
        String::from_utf8_lossy(&first.body),
        std::fs::read_to_string(c.dir.path().join("error.log")).unwrap_or_default()
    );
    assert_eq!(sha2::Sha256::digest(&first.body), sha2::Sha256::digest(&bytes));
    for (suffix, headers) in [
        ("", vec![]),
        ("?v=2", vec![]),
        ("?X-Amz-Signature=x", vec![]),
        ("", vec![("x-forwarded-host", "evil.example"), ("cookie", "a=b"), ("accept-encoding", "gzip")]),
    ] {
        let again = read(&s, &format!("{url}{suffix}"), &headers).await;
        assert_eq!((again.status, again.cache.as_str()), (200, "HIT"), "{suffix} {headers:?}");
        assert_eq!(again.body, bytes, "{suffix} {headers:?}");
    }
    // One fill: the origin saw one request for the object, carrying at least its bytes.
    let lines = logged(&c, &format!("/public/{key}"));
    assert_eq!(lines.len(), 5);
    let origin: Vec<&cdn_log::Logged> = lines.iter().filter(|l| l.origin_received > 0).collect();
    assert_eq!(origin.len(), 1, "{lines:?}");
    assert!(origin[0].origin_received >= bytes.len() as u64, "{lines:?}");
    // Outside the public prefix, nothing.
    assert_eq!(read(&s, &format!("{}/public/uploads/x.jpg", c.url), &[]).await.status, 404);
}

async fn cookies(s: &Stack, user: &str, prefix: Option<&str>) -> (u16, String) {
    let mut r = s.http.post(format!("{}/v1/cdn/cookies", s.broker)).bearer_auth(s.token(user));
    if let Some(p) = prefix {
        r = r.json(&serde_json::json!({ "prefix": p }));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let set: Vec<String> = r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    if status == 200 {
        assert!(set.iter().all(|c| c.contains("Path=/private/; Max-Age=600; HttpOnly")), "{set:?}");
    }
    let pairs: Vec<&str> = set.iter().map(|c| c.split(';').next().unwrap()).collect();
    (status, pairs.join("; "))
}

#[tokio::test]
async fn private_objects_need_valid_cookies_for_their_path_even_when_cached() {
    let s = stack().await;
    let c = cache(&s).await;
    let (mine, bytes, _) = upload(&s, "u1", 200_000, 1).await;
    let (theirs, _, _) = upload(&s, "u2", 200_000, 2).await;
    let (status, cookie) = cookies(&s, "u1", None).await;
    assert_eq!(status, 200);
    let url = format!("{}/private/{mine}", c.url);
    let first = read(&s, &url, &[("cookie", &cookie)]).await;
    assert_eq!((first.status, first.cache.as_str(), first.body == bytes), (200, "MISS", true));
    let second = read(&s, &url, &[("cookie", &cookie)]).await;
    assert_eq!((second.status, second.cache.as_str(), second.body == bytes), (200, "HIT", true));

    // The object is cached now; without valid cookies the cache still refuses it.
    let now = SystemTime::now();
    let expired = sign(KEY.as_bytes(), "files/u1/", now - Duration::from_secs(7200), Duration::from_secs(600));
    let other_key = sign(b"another key of thirty-two bytes or more!!", "files/u1/", now, Duration::from_secs(600));
    let at = cookie.find("CDN-Signature=").unwrap() + "CDN-Signature=".len();
    let mut tampered = cookie.clone();
    tampered.replace_range(at..=at, if &cookie[at..=at] == "A" { "B" } else { "A" });
    let whole = sign(KEY.as_bytes(), "files/", now, Duration::from_secs(600));
    let forged =
        format!("CDN-Policy={}; CDN-Signature={}", whole.policy, cookie.split("CDN-Signature=").nth(1).unwrap());
    let cases = [
        ("", "cdn_missing_cookie"),
        (&*format!("CDN-Policy={}; CDN-Signature={}", expired.policy, expired.signature), "cdn_expired"),
        (&*format!("CDN-Policy={}; CDN-Signature={}", other_key.policy, other_key.signature), "cdn_bad_signature"),
        (&*tampered, "cdn_bad_signature"),
        (&*forged, "cdn_bad_signature"),
    ];
    for (cookie, code) in cases {
        let r = read(&s, &url, &[("cookie", cookie)]).await;
        assert_eq!(r.status, 403, "{code}");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"]["code"], code);
    }
    // A valid cookie for u1's files does not open u2's.
    let r = read(&s, &format!("{}/private/{theirs}", c.url), &[("cookie", &cookie)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["error"]["code"], "cdn_other_resource");
    // The broker signs only what the viewer may see.
    assert_eq!(cookies(&s, "u1", Some("files/u2/")).await.0, 403);
    assert_eq!(cookies(&s, "u1", Some("files/")).await.0, 403);
    assert_eq!(cookies(&s, "u1", Some("../")).await.0, 400);
    assert_eq!(cookies(&s, "u1", Some("files/u1/")).await.0, 200);
    let anonymous = s.http.post(format!("{}/v1/cdn/cookies", s.broker)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    // Only the first read went to the origin.
    let origin = logged(&c, &format!("/private/{mine}")).iter().filter(|l| l.origin_received > 0).count();
    assert_eq!(origin, 1);
}

#[tokio::test]
async fn presigned_get_urls_through_the_cache_do_not_hit() {
    let s = stack().await;
    let c = cache(&s).await;
    let (_, bytes, file_id) = upload(&s, "u1", 100_000, 3).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = s
            .http
            .get(format!("{}/v1/files/{file_id}", s.broker))
            .bearer_auth(s.token("u1"))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let answer: serde_json::Value = r.json().await.unwrap();
        let presigned = answer["url"].as_str().unwrap();
        let through = format!("{}/presigned{}", c.url, presigned.strip_prefix(&s.storage).unwrap());
        let r = read(&s, &through, &[]).await;
        assert_eq!((r.status, r.body == bytes), (200, true));
        statuses.push(r.cache);
        // Each URL carries its signing second: a new second, a new URL, a new cache entry.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(statuses, ["MISS", "MISS", "MISS"]);
}

#[tokio::test]
async fn a_run_reports_every_read_architecture_with_its_cache_and_origin_figures() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("cdn.toml");
    std::fs::write(
        &scenario,
        "name = \"cdn\"\ndescription = \"reads through the CDN\"\nmodes = [\"proxied\", \"presigned\"]\n\
         [run]\nuploads = 24\nconcurrency = 8\nobject_size = \"64KiB\"\nusers = 6\nseed = 3\n\
         [downloads]\nviews = 600\nviewers = 15\npopularity = { zipf = 1.1 }\ncdn = [\"presigned\", \"public\", \"signed\"]\n\
         cache_size = \"16MiB\"\n[signing]\nenabled = false\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = ["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (ok, _, stderr) = common::run_bin(&args, Duration::from_secs(300)).await;
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    common::validate_results(&results).unwrap();
    let presigned = &results["modes"]["presigned"];
    let reads = &presigned["cdn_reads"];
    // The views' plan is the same for every architecture: the objects a cache must fill.
    let plan = presign_bench::loadgen::popularity::plan(24, 600, Some(1.1), 0x7669_6577);
    let distinct = presign_bench::loadgen::popularity::distinct(&plan) as u64;
    for name in ["presigned-cdn", "cdn-public", "cdn-signed"] {
        let r = &reads[name];
        assert_eq!((r["downloads_ok"].as_u64(), r["corrupt"].as_u64()), (Some(600), Some(0)), "{name}");
        let cache = &r["cache"];
        let (hits, misses) = (cache["hits"].as_u64().unwrap(), cache["misses"].as_u64().unwrap());
        assert_eq!(hits + misses, 600, "{name}: every view answered HIT or MISS");
        assert_eq!(cache["hit_ratio_course"].as_array().unwrap().len(), 20, "{name}");
        assert!(
            cache["origin_bytes"].as_u64().unwrap() >= cache["origin_requests"].as_u64().unwrap() * 65_536,
            "{name}"
        );
    }
    // Public and signed views fill each viewed object once (the cache holds them all), and the
    // misses are those fills; signed views ask the broker once per viewer.
    for name in ["cdn-public", "cdn-signed"] {
        let cache = &reads[name]["cache"];
        assert_eq!(cache["origin_requests"].as_u64(), Some(distinct), "{name}: {cache}");
        assert_eq!(cache["misses"].as_u64(), Some(distinct), "{name}");
    }
    assert_eq!(reads["cdn-public"]["app_tier"]["requests"].as_u64(), Some(0), "no app server in a public view");
    assert_eq!(reads["cdn-signed"]["cache"]["sessions"].as_u64(), Some(15));
    assert_eq!(reads["cdn-signed"]["app_tier"]["requests"].as_u64(), Some(15));
    assert_eq!(reads["presigned-cdn"]["app_tier"]["requests"].as_u64(), Some(600), "a URL per view");
    // A URL misses on its first view only (the cache holds them all): a presigned URL is shared
    // only by views of one object signed in the same second, so it has at least as many URLs,
    // and as many misses, as the public path has objects.
    let distinct_urls = |name: &str| reads[name]["cache"]["distinct_urls"].as_u64().unwrap();
    for name in ["presigned-cdn", "cdn-public", "cdn-signed"] {
        assert_eq!(reads[name]["cache"]["misses"].as_u64(), Some(distinct_urls(name)), "{name}: {reads}");
    }
    assert_eq!(distinct_urls("cdn-public"), distinct);
    assert!(distinct_urls("presigned-cdn") >= distinct, "{reads}");
    // The report answers which architecture for which content, with the capacity for reads.
    let report = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(report.contains("Reads at CDN scale"), "{report}");
    assert!(report.contains("Which architecture for which content"));
    assert!(results["capacity"]["cdn_reads"]["cdn-public"]["servers"].is_null());
    assert!(results["capacity"]["cdn_reads"]["cdn-signed"]["origin_bytes"].as_f64().unwrap() > 0.0);
}

/// Runs a small scenario reading through the CDN with `storage` (a `[storage]` and maybe an
/// `[app_tier]` table) and asserts every view of every CDN architecture returned the object.
async fn every_cdn_view_reads(name: &str, storage: &str) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &scenario,
        format!(
            "name = \"{name}\"\ndescription = \"reads through the CDN\"\nmodes = [\"presigned\"]\n\
             [run]\nuploads = 6\nconcurrency = 4\nobject_size = \"64KiB\"\nusers = 3\nseed = 3\n\
             [downloads]\nviews = 60\nviewers = 4\ncdn = [\"presigned\", \"public\", \"signed\"]\ncache_size = \"16MiB\"\n\
             {storage}[signing]\nenabled = false\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let args = ["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()];
    let (ok, _, stderr) = common::run_bin(&args, Duration::from_secs(300)).await;
    assert!(ok, "{stderr}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let reads = &results["modes"]["presigned"]["cdn_reads"];
    for via in ["presigned-cdn", "cdn-public", "cdn-signed"] {
        assert_eq!(reads[via]["downloads_ok"].as_u64(), Some(60), "{via}: {}", reads[via]["errors"]);
        assert!(reads[via]["cache"]["origin_requests"].as_u64().unwrap() >= 1, "{via}");
    }
}

#[tokio::test]
async fn a_run_over_tls_reads_through_the_cdn_with_https_on_both_sides() {
    // Viewers reach the cache over HTTPS with the run's CA; the cache checks the store's.
    every_cdn_view_reads("tls-cdn", "[storage]\nkind = \"embedded\"\ntls = true\n[app_tier]\ntls = true\n").await;
}

#[tokio::test]
async fn a_run_on_minio_reads_through_the_cdn_with_minio_checking_its_signatures() {
    every_cdn_view_reads("minio-cdn", "[storage]\nkind = \"minio\"\n").await;
}
