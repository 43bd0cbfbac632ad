//! Cases aimed at the broker: forged tokens, other users' uploads and files, hostile filenames,
//! content that lies about its type, and the token secret's strength.

use super::super::steps::{ALICE, AUDITOR, Auditor, BoxFuture, MALLORY, Observed, jpeg};
use super::super::{Case, Expect, Severity};
use super::file_of;
use serde_json::json;
use std::time::Duration;

/// A case aimed at the broker.
const fn broker(
    name: &'static str,
    rule: &'static str,
    severity: Severity,
    sent: &'static str,
    expect: Expect,
    run: for<'a> fn(&'a Auditor) -> BoxFuture<'a, Result<Observed, String>>,
) -> Case {
    Case { name, target: "broker", rule, severity, sent, expect, remedy: "enforced by the broker itself", run }
}

/// Uploads with `filename` and judges the name the file was recorded with.
async fn filename(c: &Auditor, name: &str) -> Result<Observed, String> {
    let (o, record) =
        c.upload(AUDITOR, &json!({"filename": name, "content_type": "image/jpeg", "size": 1024}), jpeg()).await?;
    let kept = record["filename"].as_str().unwrap_or_default().to_owned();
    let safe = o.status == 200
        && !kept.contains(['/', '\\', '\0', '\r', '\n'])
        && !kept.starts_with('.')
        && kept.len() <= crate::app::policy::MAX_FILENAME_BYTES;
    Ok(Observed::judged(o.status, safe, format!("recorded as {:?}", kept.chars().take(24).collect::<String>())))
}

/// Uploads `body` declared as `content_type` and returns the completion's answer.
async fn declared_as(c: &Auditor, content_type: &str, body: Vec<u8>) -> Result<Observed, String> {
    let request = json!({"filename": "x", "content_type": content_type, "size": body.len()});
    c.upload(AUDITOR, &request, body).await.map(|(o, _)| o)
}

fn padded(mut v: Vec<u8>) -> Vec<u8> {
    v.resize(1024, b' ');
    v
}

/// A bearer token with the given header and claims, signed with `key` (`None`: no signature).
fn forged(header: &serde_json::Value, claims: &serde_json::Value, key: Option<&[u8]>) -> String {
    use base64::Engine;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let signing_input = format!("{}.{}", b64(header), b64(claims));
    let signature = key.map_or_else(String::new, |k| {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(k).expect("HMAC takes any key length");
        mac.update(signing_input.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    });
    format!("{signing_input}.{signature}")
}

async fn with_token(c: &Auditor, token: &str) -> Result<Observed, String> {
    let body = json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1024});
    c.broker("POST", "/v1/uploads", Some(token), Some(&body)).await.map(|(o, _)| o)
}

async fn with_json(c: &Auditor, body: &serde_json::Value) -> Result<Observed, String> {
    c.broker("POST", "/v1/uploads", Some(&c.token(AUDITOR)), Some(body)).await.map(|(o, _)| o)
}

fn unix_now() -> u64 {
    crate::app::auth::unix_now()
}

/// The broker and configuration cases, in report order.
#[allow(clippy::too_many_lines)] // one entry per case: the list is the point
pub(super) fn all() -> Vec<Case> {
    use Severity::{Critical, High, Low, Medium};
    vec![
        // At the broker.
        broker(
            "token-alg-none",
            "tokens are verified",
            Critical,
            "a token with alg: none and no signature",
            Expect::Status(401),
            run!(|c| {
                let claims = json!({"sub": AUDITOR, "iat": unix_now(), "exp": unix_now() + 600});
                with_token(c, &forged(&json!({"alg": "none", "typ": "JWT"}), &claims, None)).await
            }),
        ),
        broker(
            "token-expired",
            "tokens expire",
            High,
            "a token signed with the right secret that expired an hour ago",
            Expect::Status(401),
            run!(|c| {
                let claims = json!({"sub": AUDITOR, "iat": unix_now() - 7200, "exp": unix_now() - 3600});
                with_token(c, &forged(&json!({"alg": "HS256", "typ": "JWT"}), &claims, Some(c.secret.as_bytes()))).await
            }),
        ),
        broker(
            "token-other-secret",
            "tokens are verified",
            Critical,
            "a token signed with another secret",
            Expect::Status(401),
            run!(|c| {
                let claims = json!({"sub": AUDITOR, "iat": unix_now(), "exp": unix_now() + 600});
                with_token(
                    c,
                    &forged(
                        &json!({"alg": "HS256", "typ": "JWT"}),
                        &claims,
                        Some(b"another-secret-of-thirty-two-bytes!!"),
                    ),
                )
                .await
            }),
        ),
        broker(
            "complete-other-users-upload",
            "only the uploader completes",
            High,
            "mallory completes alice's upload",
            Expect::Status(403),
            run!(|c| {
                let g = c.jpeg_grant(ALICE).await?;
                c.put(&g.url, &g.headers, jpeg()).await?;
                c.complete(MALLORY, &g).await.map(|(o, _)| o)
            }),
        ),
        broker(
            "client-supplied-key",
            "keys are generated server-side",
            High,
            "\"key\": \"uploads/victim/evil.jpg\" in the presign request",
            Expect::Accepted,
            run!(|c| {
                let g = c.grant(AUDITOR, &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1024, "key": "uploads/victim/evil.jpg"})).await?;
                let own = g.key.starts_with("uploads/presign-bench-audit/") && !g.key.contains("victim");
                Ok(Observed::judged(201, own, format!("key {}", g.key)))
            }),
        ),
        broker(
            "filename-dot-dot",
            "filenames are sanitised",
            Medium,
            "filename ../../etc/passwd",
            Expect::Accepted,
            run!(|c| filename(c, "../../etc/passwd").await),
        ),
        broker(
            "filename-encoded-dot-dot",
            "filenames are sanitised",
            Medium,
            "filename %2e%2e/%2e%2e/passwd",
            Expect::Accepted,
            run!(|c| filename(c, "%2e%2e/%2e%2e/passwd").await),
        ),
        broker(
            "filename-nul",
            "filenames are sanitised",
            Medium,
            "filename with a NUL byte",
            Expect::Accepted,
            run!(|c| filename(c, "a\u{0}.jpg").await),
        ),
        broker(
            "filename-crlf",
            "filenames are sanitised",
            Medium,
            "filename with CR/LF (header injection)",
            Expect::Accepted,
            run!(|c| filename(c, "a.jpg\r\nSet-Cookie: x=1").await),
        ),
        broker(
            "filename-300-chars",
            "filenames are sanitised",
            Low,
            "a 300-character filename",
            Expect::Accepted,
            run!(|c| filename(c, &"a".repeat(300)).await),
        ),
        broker(
            "type-not-allowed",
            "only allowed types are signed",
            High,
            "content_type application/x-msdownload",
            Expect::Status(415),
            run!(|c| {
                with_json(c, &json!({"filename": "a.exe", "content_type": "application/x-msdownload", "size": 1024}))
                    .await
            }),
        ),
        broker(
            "html-as-image",
            "content must match its type (stored XSS)",
            High,
            "<html><script> uploaded as image/jpeg",
            Expect::Status(422),
            run!(|c| declared_as(c, "image/jpeg", padded(b"<html><script>alert(1)</script>".to_vec())).await),
        ),
        broker(
            "svg-as-image",
            "content must match its type (stored XSS)",
            High,
            "an SVG with a script uploaded as image/jpeg",
            Expect::Status(422),
            run!(|c| {
                declared_as(
                    c,
                    "image/jpeg",
                    padded(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec()),
                )
                .await
            }),
        ),
        broker(
            "size-above-limit",
            "sizes are limited",
            Medium,
            "size 9 MiB with --max-size 8MiB",
            Expect::Status(413),
            run!(|c| {
                with_json(c, &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 9 * 1024 * 1024})).await
            }),
        ),
        broker(
            "magic-bytes-contradict-type",
            "content must match its type",
            High,
            "a PDF uploaded as image/jpeg",
            Expect::Status(422),
            run!(|c| declared_as(c, "image/jpeg", padded(b"%PDF-1.7\n".to_vec())).await),
        ),
        broker(
            "download-other-users-file",
            "downloads are for the owner",
            High,
            "mallory asks for alice's file",
            Expect::Status(404),
            run!(|c| {
                let id = file_of(c, ALICE).await?;
                let token = c.token(MALLORY);
                c.broker("GET", &format!("/v1/files/{id}"), Some(&token), None).await.map(|(o, _)| o)
            }),
        ),
        // Configuration.
        Case {
            name: "short-token-secret-refused",
            target: "config",
            rule: "token secrets have at least 32 bytes",
            severity: High,
            sent: "presign-bench broker --token-secret x",
            expect: Expect::Refused,
            remedy: "the broker and the proxy refuse to start",
            run: run!(|c| {
                let exe = std::env::current_exe().map_err(|e| e.to_string())?;
                let run = tokio::process::Command::new(exe)
                    .args(["broker", "--listen", "127.0.0.1:0", "--token-secret", "x", "--s3-endpoint", &c.store])
                    .stdin(std::process::Stdio::null())
                    .kill_on_drop(true)
                    .output();
                let out = tokio::time::timeout(Duration::from_secs(20), run)
                    .await
                    .map_err(|_| "the broker started".to_owned())?
                    .map_err(|e| e.to_string())?;
                let said = String::from_utf8_lossy(&out.stderr);
                let refused = !out.status.success() && said.contains("--token-secret");
                Ok(Observed::judged(
                    if refused { 400 } else { 200 },
                    refused,
                    format!("exit {}", out.status.code().unwrap_or(-1)),
                ))
            }),
        },
        Case {
            name: "token-secret-strength",
            target: "config",
            rule: "token secrets have at least 32 bytes",
            severity: High,
            sent: "(the running broker's secret, measured, never printed)",
            expect: Expect::Accepted,
            remedy: "the broker refuses to start with less",
            run: run!(|c| Ok(Observed::judged(200, c.secret.len() >= 32, format!("{} bytes", c.secret.len())))),
        },
    ]
}
