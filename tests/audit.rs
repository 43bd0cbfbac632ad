//! `presign-bench audit` end to end with the real binary: the verdict table of each store is
//! pinned (a broker regression or a store upgrade shows up here), the broker holds every
//! broker-side case on every store, and a deliberately weakened broker fails the audit.

use crate::common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Runs `audit ARGS --format json` (with `env`), returns the exit code and the report.
async fn audit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let mut cmd = tokio::process::Command::new(common::BIN);
    cmd.arg("audit").args(args).args(["--format", "json"]).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out =
        tokio::time::timeout(Duration::from_secs(300), cmd.output()).await.expect("audit did not finish").unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code(), report)
}

fn verdicts(report: &Value) -> BTreeMap<String, String> {
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap().to_owned(), o["verdict"].as_str().unwrap().to_owned()))
        .collect()
}

/// The cases aimed at the CDN.
const CDN_CASES: [&str; 5] = [
    "cdn-cache-key-split-or-poisoned",
    "cdn-cached-private-without-cookie",
    "cdn-cookie-expired",
    "cdn-cookie-other-path",
    "cdn-cookie-tampered",
];

/// Every case held except `broken` and `not_applicable`, and every case ran; the broker's own
/// cases always hold (or do not apply).
fn pinned(report: &Value, broken: &[&str], not_applicable: &[&str]) {
    let v = verdicts(report);
    assert!(v.len() >= 36, "{} cases", v.len());
    for multipart in [
        "part-url-for-another-part",
        "part-url-for-another-upload",
        "part-above-signed-length",
        "completion-with-forged-etag",
        "multipart-id-as-upload-id",
        "multipart-other-user",
    ] {
        assert!(v.contains_key(multipart), "no case {multipart}");
    }
    let not_held: Vec<(&String, &String)> = v.iter().filter(|(_, verdict)| *verdict != "held").collect();
    let mut expected: Vec<(String, String)> = broken.iter().map(|b| ((*b).to_owned(), "broken".to_owned())).collect();
    expected.extend(not_applicable.iter().map(|n| ((*n).to_owned(), "not_applicable".to_owned())));
    expected.sort();
    let observed: Vec<(String, String)> = not_held.iter().map(|(n, v)| ((*n).clone(), (*v).clone())).collect();
    assert_eq!(observed, expected, "the verdict table changed");
    for o in report["outcomes"].as_array().unwrap() {
        if (o["target"] == "broker" || o["target"] == "config") && o["verdict"] != "not_applicable" {
            assert_eq!(o["verdict"], "held", "{o}");
        }
    }
    assert!(report["token_secret_bytes"].as_u64().unwrap() >= 32);
    assert!(!report.to_string().contains(common::SECRET));
}

#[tokio::test]
async fn the_embedded_store_and_the_broker_hold_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("audit.xml");
    let (code, report) = audit(&["--junit", xml.to_str().unwrap(), "--out", dir.path().to_str().unwrap()], &[]).await;
    assert_eq!(code, Some(0), "{report}");
    pinned(&report, &[], &[]);
    // A contradicted digest is refused as S3 refuses it (s3s alone answered 500 to the hash, and
    // s3s-fs stored the body it refused for its MD5), and nothing is left under the key.
    let outcome = |name: &str| {
        let o = report["outcomes"].as_array().unwrap().iter().find(|o| o["name"] == name).unwrap().clone();
        (o["status"].as_u64().unwrap(), o["code"].as_str().unwrap().to_owned())
    };
    assert_eq!(outcome("wrong-content-sha256"), (400, "XAmzContentSHA256Mismatch".to_owned()));
    assert_eq!(outcome("wrong-content-md5"), (400, "BadDigest".to_owned()));
    // The CDN in front of the store refuses every forged, expired or misused cookie, cached or
    // not, with its own error code; a poisoned request shares the one cached copy.
    for (name, code) in [
        ("cdn-cookie-other-path", "cdn_other_resource"),
        ("cdn-cookie-expired", "cdn_expired"),
        ("cdn-cookie-tampered", "cdn_bad_signature"),
        ("cdn-cached-private-without-cookie", "cdn_missing_cookie"),
    ] {
        assert_eq!(outcome(name), (403, code.to_owned()), "{name}");
    }
    assert_eq!(outcome("cdn-cache-key-split-or-poisoned").0, 200);
    let xml = std::fs::read_to_string(xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases = doc.descendants().filter(|n| n.has_tag_name("testcase")).count();
    assert_eq!(cases, report["outcomes"].as_array().unwrap().len());
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("failure")).count(), 0);
    assert!(dir.path().join("audit.json").exists() && dir.path().join("audit.md").exists());
}

#[tokio::test]
async fn minio_and_the_broker_hold_every_rule_but_one() {
    let (code, report) = audit(&["--storage", "minio"], &[]).await;
    // MinIO takes X-Amz-Expires given twice (medium: it reads the signed first value), so the
    // audit passes with one broken rule.
    assert_eq!(code, Some(0), "{report}");
    pinned(&report, &["duplicated-query-parameter"], &[]);
}

#[tokio::test]
async fn a_broker_that_stops_signing_content_type_fails_the_audit() {
    let (code, report) = audit(&[], &[("PRESIGN_BENCH_INSECURE_UNSIGNED_CONTENT_TYPE", "true")]).await;
    assert_eq!(code, Some(1), "exit 1: a high-severity rule is broken");
    pinned(&report, &["content-type-omitted", "other-content-type"], &[]);
}

#[tokio::test]
async fn a_storage_that_is_not_one_is_bad_usage() {
    let (ok, _, err) = common::run_bin(&["audit", "--storage", "floppy"], Duration::from_secs(30)).await;
    assert!(!ok && err.contains("--storage floppy: expected embedded, minio, or endpoint URL"), "{err}");
}

#[tokio::test]
async fn a_short_token_secret_is_refused_at_startup() {
    for server in ["broker", "proxy"] {
        let (ok, _, err) = common::run_bin(
            &[server, "--listen", "127.0.0.1:0", "--token-secret", "short", "--s3-endpoint", "http://127.0.0.1:1"],
            Duration::from_secs(30),
        )
        .await;
        assert!(!ok && err.contains("--token-secret: 5 bytes; use at least 32"), "{server}: {err}");
        assert!(!err.contains("short"), "the secret is never printed: {err}");
    }
}

#[tokio::test]
async fn an_endpoint_is_audited_and_left_clean() {
    let dir = tempfile::tempdir().unwrap();
    let creds = ["--access-key", "audit-key", "--secret-key", "audit-secret-key"];
    let store = common::spawn_bin(
        &[&["storage", "--listen", "127.0.0.1:0", "--data-dir", dir.path().to_str().unwrap()][..], &creds].concat(),
    )
    .await;
    let env = [("AWS_ACCESS_KEY_ID", "audit-key"), ("AWS_SECRET_ACCESS_KEY", "audit-secret-key")];
    let (code, report) = audit(&["--storage", "endpoint", &store.url], &env).await;
    assert_eq!(code, Some(0), "{report}");
    // The endpoint's CORS is its owner's: the audit configures no origin, so the allowed-origin
    // case does not apply (the foreign-origin cases still run).
    // Nor is a CDN: the audit puts one only in front of a store it starts (it holds the keys).
    pinned(&report, &[], &[&["cors-allowed-origin-works"][..], &CDN_CASES].concat());
    assert_eq!(report["store"], store.url.as_str());
    // Nothing the audit wrote is left in the bucket (presign-bench, the endpoint default).
    assert!(dir.path().join("presign-bench").is_dir(), "the audit used the endpoint's bucket");
    let left: Vec<_> = walk(&dir.path().join("presign-bench"));
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test]
async fn an_endpoint_in_another_region_is_audited_in_its_own_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let minio = common::Minio::start_with(dir.path(), &[("MINIO_SITE_REGION", "garage")]).await;
    let target = presign_bench::storage::client::S3Target {
        endpoint: minio.url.clone(),
        region: "garage".into(),
        bucket: "made-by-its-owner".into(),
        credentials: common::credentials(),
        ca_pem: None,
    };
    let s3 = common::bucket_client(&target).await;
    let buckets = async || {
        let listed = s3.list_buckets().send().await.unwrap();
        listed.buckets().iter().filter_map(|b| b.name().map(str::to_owned)).collect::<Vec<_>>()
    };
    let before = buckets().await;
    let env = [("AWS_ACCESS_KEY_ID", common::ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY)];
    let args = ["--storage", "endpoint", &minio.url, "--bucket", "made-by-its-owner"];
    // Signed for us-east-1, the store refuses; with its region (flag or AWS_REGION), it is audited.
    let out = tokio::process::Command::new(common::BIN).arg("audit").args(args).envs(env).output().await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, report) = audit(&args, &[env[0], env[1], ("AWS_REGION", "garage")]).await;
    assert_eq!(code, Some(0), "{report}");
    assert!(verdicts(&report).values().filter(|v| *v == "held").count() >= 36, "{report}");
    // No bucket made, none left changed: the owner's bucket is as empty as it was.
    assert_eq!(buckets().await, before);
    let left = s3.list_objects_v2().bucket("made-by-its-owner").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0), "left behind: {:?}", left.contents());
    // Nor was a lifecycle rule added to it.
    let lifecycle = s3.get_bucket_lifecycle_configuration().bucket("made-by-its-owner").send().await;
    let code = lifecycle.err().and_then(|e| e.as_service_error().and_then(|e| e.meta().code().map(str::to_owned)));
    assert_eq!(code.as_deref(), Some("NoSuchLifecycleConfiguration"), "the audit changed the bucket's lifecycle");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            out.push(p);
        }
    }
    out
}
