//! Cases aimed at the store: URLs the broker signed, tampered one way each, and keys that break
//! naive signers, uploaded and read back through the broker's signer.

use super::super::steps::{AUDITOR, Auditor, BoxFuture, Observed, jpeg};
use super::super::tamper::{Tamper, tampered_put};
use super::super::{Case, Expect, Severity};
use super::{Run, file_of, header_pairs};
use std::time::{Duration, SystemTime};

const SIGNED: &str = "the store checks the SigV4 signature; the broker cannot (the PUT never reaches it)";
const VERIFIED: &str = "completion verifies size, type and magic bytes, and deletes what fails";

/// A case aimed at the store with a tampered broker-signed PUT.
const fn store(
    name: &'static str,
    rule: &'static str,
    severity: Severity,
    sent: &'static str,
    remedy: &'static str,
    run: for<'a> fn(&'a Auditor) -> BoxFuture<'a, Result<Observed, String>>,
) -> Case {
    Case { name, target: "store", rule, severity, sent, expect: Expect::Refused, remedy, run }
}

/// A PUT signed by the store's keys for `key` at `now`, sent with its headers.
async fn signed_put(
    c: &Auditor,
    key: &str,
    body: Vec<u8>,
    expires: Duration,
    now: SystemTime,
) -> Result<Observed, String> {
    let s = c.presigner.put(key, "image/jpeg", body.len() as u64, expires, now).map_err(|e| e.to_string())?;
    let headers: Vec<(String, String)> = s.headers.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    c.put(&s.url, &headers, body).await
}

/// Uploads under `key` with the broker's signer and reads it back with a presigned GET.
async fn round_trip(c: &Auditor, key: &str) -> Result<Observed, String> {
    let body = jpeg();
    let put = signed_put(c, key, body.clone(), Duration::from_secs(300), SystemTime::now()).await?;
    if put.status != 200 {
        return Ok(Observed::judged(put.status, false, format!("PUT refused: {}", put.code)));
    }
    let get = c.presigner.get(key, Duration::from_secs(300), SystemTime::now()).map_err(|e| e.to_string())?;
    let (o, bytes) = c.send("GET", &get.url, &[], crate::client::http::full(Vec::new())).await?;
    let same = o.status == 200 && bytes.as_ref() == body.as_slice();
    Ok(Observed::judged(
        o.status,
        same,
        if same { "read back intact".into() } else { format!("read back: {}", o.code) },
    ))
}

/// A presigned PUT with an `X-Amz-Expires` of eight days, signed with the store's key by
/// aws-sigv4 (this project's signer refuses to).
fn overlong_url(c: &Auditor, key: &str) -> Result<String, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    let (access, secret) = c.presigner.keys();
    let identity = aws_credential_types::Credentials::new(access, secret, None, None, "audit").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(8 * 24 * 3600));
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&c.region)
        .name("s3")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let url = c.presigner.object_url(key);
    let headers = [("content-type", "image/jpeg"), ("content-length", "1024")];
    let req = SignableRequest::new("PUT", &url, headers.into_iter(), SignableBody::UnsignedPayload)
        .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(req, &params).map_err(|e| e.to_string())?.into_parts();
    let mut http_req = http::Request::builder().method("PUT").uri(&url).body(()).map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut http_req);
    Ok(http_req.uri().to_string())
}

/// A key-encoding case: upload to `key` and read it back, both signed by the broker's signer.
const fn key_case(name: &'static str, key: &'static str, run: Run) -> Case {
    Case {
        name,
        target: "store",
        rule: "keys are encoded as S3 canonicalises them",
        severity: Severity::Low,
        sent: key,
        expect: Expect::Accepted,
        remedy: "the broker's signer percent-encodes keys as SigV4 requires",
        run,
    }
}

/// The store cases, in report order.
#[allow(clippy::too_many_lines)] // one entry per case: the list is the point
pub(super) fn all() -> Vec<Case> {
    use Severity::{Critical, High, Low, Medium};
    vec![
        // At the store, against a URL the broker signed.
        store(
            "tampered-signature",
            "the signature covers the request",
            Critical,
            "PUT with the last hex digit of X-Amz-Signature changed",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::Signature, "PUT").await),
        ),
        store(
            "changed-key",
            "the key is signed",
            Critical,
            "PUT to another key with the same signature",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::Key, "PUT").await),
        ),
        store(
            "changed-bucket",
            "the bucket is signed",
            Critical,
            "PUT to another bucket with the same signature",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::Bucket, "PUT").await),
        ),
        store(
            "changed-expires",
            "the expiry is signed",
            High,
            "X-Amz-Expires raised to 7 days",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::Expires, "PUT").await),
        ),
        store(
            "changed-date",
            "the signing time is signed",
            High,
            "X-Amz-Date moved a minute back",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::Date, "PUT").await),
        ),
        store(
            "credential-other-region",
            "the credential scope is signed",
            High,
            "X-Amz-Credential for another region",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::CredentialRegion, "PUT").await),
        ),
        store(
            "credential-other-service",
            "the credential scope is signed",
            High,
            "X-Amz-Credential for service sts",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::CredentialService, "PUT").await),
        ),
        store(
            "credential-other-key",
            "the access key is signed",
            Critical,
            "X-Amz-Credential with another access key",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::CredentialKey, "PUT").await),
        ),
        store(
            "extra-query-parameter",
            "the whole query is signed",
            Medium,
            "an unsigned &x-audit=1 appended",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::ExtraParam, "PUT").await),
        ),
        store(
            "duplicated-query-parameter",
            "the whole query is signed",
            Medium,
            "X-Amz-Expires=604800 appended a second time",
            "a store that takes it reads one value; the broker cannot see the PUT, and still verifies what was stored",
            run!(|c| tampered_put(c, Tamper::DuplicateParam, "PUT").await),
        ),
        store(
            "put-url-used-for-get",
            "the method is signed",
            Medium,
            "GET with a presigned PUT URL",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::None, "GET").await),
        ),
        store(
            "put-url-used-for-delete",
            "the method is signed",
            High,
            "DELETE with a presigned PUT URL",
            SIGNED,
            run!(|c| tampered_put(c, Tamper::None, "DELETE").await),
        ),
        store(
            "get-url-used-for-put",
            "the method is signed",
            Critical,
            "PUT to the presigned GET URL of a completed file",
            SIGNED,
            run!(|c| {
                let id = file_of(c, AUDITOR).await?;
                let url = c.download_url(AUDITOR, &id).await?;
                c.put(&url, &header_pairs(&[("content-type", "image/jpeg")]), jpeg()).await
            }),
        ),
        store(
            "other-content-type",
            "Content-Type is signed",
            High,
            "the PUT with Content-Type: text/html",
            "completion checks the stored type and deletes a mismatch",
            run!(|c| tampered_put(c, Tamper::OtherType, "PUT").await),
        ),
        store(
            "content-type-omitted",
            "Content-Type is signed",
            High,
            "the PUT without Content-Type",
            "completion checks the stored type and deletes a mismatch",
            run!(|c| tampered_put(c, Tamper::NoType, "PUT").await),
        ),
        store(
            "body-shorter",
            "Content-Length is signed",
            High,
            "1023 bytes declared and sent for a 1024-byte URL",
            VERIFIED,
            run!(|c| tampered_put(c, Tamper::Shorter, "PUT").await),
        ),
        store(
            "body-longer",
            "Content-Length is signed",
            High,
            "1025 bytes declared and sent for a 1024-byte URL",
            VERIFIED,
            run!(|c| tampered_put(c, Tamper::Longer, "PUT").await),
        ),
        store(
            "chunked-transfer",
            "Content-Length is signed",
            High,
            "the body as chunked transfer, no Content-Length",
            VERIFIED,
            run!(|c| tampered_put(c, Tamper::Chunked, "PUT").await),
        ),
        store(
            "wrong-content-sha256",
            "the store checks a declared payload hash",
            Medium,
            "x-amz-content-sha256 of other bytes",
            "completion verifies size, type and magic bytes, not the hash: a hash the client declares is its own",
            run!(|c| tampered_put(c, Tamper::WrongSha256, "PUT").await),
        ),
        store(
            "wrong-content-md5",
            "the store checks a declared Content-MD5",
            Medium,
            "Content-MD5 of other bytes",
            "completion verifies size, type and magic bytes, not the hash",
            run!(|c| tampered_put(c, Tamper::WrongMd5, "PUT").await),
        ),
        store(
            "checksum-header-dropped",
            "a signed SHA-256 is part of the signature",
            High,
            "a URL signed with x-amz-checksum-sha256, sent without that header",
            "the broker signs the declared SHA-256 as a header: a PUT without it no longer matches the signature",
            run!(|c| tampered_put(c, Tamper::ChecksumDropped, "PUT").await),
        ),
        store(
            "checksum-header-changed",
            "a signed SHA-256 is part of the signature",
            High,
            "a URL signed with x-amz-checksum-sha256, sent with the SHA-256 of other bytes",
            "the broker signs the declared SHA-256 as a header: another value breaks the signature",
            run!(|c| tampered_put(c, Tamper::ChecksumChanged, "PUT").await),
        ),
        store(
            "checksum-in-query",
            "a signed SHA-256 stays a header",
            High,
            "a URL signed with x-amz-checksum-sha256, the header moved to the query",
            "S3 ignores a checksum in the query: it must be a signed header (and a query parameter not signed breaks the signature)",
            run!(|c| tampered_put(c, Tamper::ChecksumInQuery, "PUT").await),
        ),
        store(
            "checksum-other-bytes",
            "the store enforces a signed SHA-256",
            High,
            "a URL signed with x-amz-checksum-sha256, the header kept, one byte of the body changed",
            "the store compares the body with the signed SHA-256 and refuses it (400 BadDigest) before it lands",
            run!(|c| tampered_put(c, Tamper::ChecksumOtherBytes, "PUT").await),
        ),
        store(
            "expired-url",
            "URLs expire",
            High,
            "a URL signed an hour ago for 60 s",
            SIGNED,
            run!(|c| {
                signed_put(
                    c,
                    "uploads/presign-bench-audit/expired.jpg",
                    jpeg(),
                    Duration::from_secs(60),
                    SystemTime::now() - Duration::from_secs(3600),
                )
                .await
            }),
        ),
        store(
            "url-used-twice",
            "a presigned PUT creates, never overwrites",
            High,
            "the same URL and headers a second time",
            "completion copies the verified object to a key no URL reaches",
            run!(|c| {
                let g = c.jpeg_grant(AUDITOR).await?;
                let first = c.put(&g.url, &g.headers, jpeg()).await?;
                if first.status != 200 {
                    return Err(format!("first PUT refused: {} {}", first.status, first.code));
                }
                c.put(&g.url, &g.headers, jpeg()).await
            }),
        ),
        Case {
            name: "date-a-minute-ahead",
            target: "store",
            rule: "small clock skew is tolerated",
            severity: Low,
            sent: "a URL whose X-Amz-Date is a minute in the future",
            expect: Expect::Accepted,
            remedy: "the broker signs with its own clock",
            run: run!(|c| signed_put(
                c,
                "uploads/presign-bench-audit/skew-1m.jpg",
                jpeg(),
                Duration::from_secs(600),
                SystemTime::now() + Duration::from_secs(60)
            )
            .await),
        },
        store(
            "date-an-hour-ahead",
            "a URL is not valid before it is issued",
            Medium,
            "a URL whose X-Amz-Date is an hour in the future",
            SIGNED,
            run!(|c| {
                signed_put(
                    c,
                    "uploads/presign-bench-audit/skew-1h.jpg",
                    jpeg(),
                    Duration::from_secs(600),
                    SystemTime::now() + Duration::from_secs(3600),
                )
                .await
            }),
        ),
        store(
            "expiry-above-seven-days",
            "URLs live at most seven days",
            Medium,
            "a PUT URL with X-Amz-Expires of 8 days, signed with the right key",
            "the broker signs at most 15 minutes (--put-expiry)",
            run!(|c| {
                let url = overlong_url(c, "uploads/presign-bench-audit/overlong.jpg")?;
                c.put(&url, &header_pairs(&[("content-type", "image/jpeg")]), jpeg()).await
            }),
        ),
        store(
            "anonymous-put",
            "the bucket is private",
            Critical,
            "an unsigned PUT to the bucket",
            "none: the bucket's policy is the store's",
            run!(|c| {
                c.put(
                    &c.presigner.object_url("uploads/anonymous.jpg"),
                    &header_pairs(&[("content-type", "image/jpeg")]),
                    jpeg(),
                )
                .await
            }),
        ),
        store(
            "response-header-override",
            "a presigned GET serves the stored type",
            Medium,
            "response-content-type=text/html appended to a presigned GET URL",
            "the query is signed, so the store refuses the added parameter",
            run!(|c| {
                let id = file_of(c, AUDITOR).await?;
                let url = c.download_url(AUDITOR, &id).await?;
                c.send(
                    "GET",
                    &format!("{url}&response-content-type=text%2Fhtml"),
                    &[],
                    crate::client::http::full(Vec::new()),
                )
                .await
                .map(|(o, _)| o)
            }),
        ),
        // Keys that break naive signers, through the broker's signer.
        key_case(
            "key-with-space",
            "uploads/presign-bench-audit/with space.jpg",
            run!(|c| round_trip(c, "uploads/presign-bench-audit/with space.jpg").await),
        ),
        key_case(
            "key-with-plus",
            "uploads/presign-bench-audit/a+b.jpg",
            run!(|c| round_trip(c, "uploads/presign-bench-audit/a+b.jpg").await),
        ),
        key_case(
            "key-with-equals",
            "uploads/presign-bench-audit/a=b.jpg",
            run!(|c| round_trip(c, "uploads/presign-bench-audit/a=b.jpg").await),
        ),
        key_case(
            "key-with-unicode",
            "uploads/presign-bench-audit/été-日本.jpg",
            run!(|c| round_trip(c, "uploads/presign-bench-audit/été-日本.jpg").await),
        ),
        key_case(
            "key-with-tilde",
            "uploads/presign-bench-audit/~a~.jpg",
            run!(|c| round_trip(c, "uploads/presign-bench-audit/~a~.jpg").await),
        ),
        key_case(
            "key-with-percent",
            "uploads/presign-bench-audit/100%25.jpg",
            run!(|c| round_trip(c, "uploads/presign-bench-audit/100%25.jpg").await),
        ),
    ]
}
