//! Tampering with a URL the broker signed: what a case changes ([`Tamper`]), one query
//! parameter replaced ([`replace_param`]), and the changed PUT sent to the store with a look for
//! what a refused one left ([`tampered_put`]).

use super::steps::{AUDITOR, Auditor, Observed, jpeg};
use crate::client::http::{chunks, full};
use bytes::Bytes;
use std::time::{Duration, SystemTime};

/// How a case changes a presigned PUT before sending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Flip the last character of `X-Amz-Signature`.
    Signature,
    /// Another key under the same user.
    Key,
    /// Another bucket.
    Bucket,
    /// A longer `X-Amz-Expires`.
    Expires,
    /// An `X-Amz-Date` a minute earlier.
    Date,
    /// `X-Amz-Credential` for another region.
    CredentialRegion,
    /// `X-Amz-Credential` for another service.
    CredentialService,
    /// `X-Amz-Credential` with another access key.
    CredentialKey,
    /// An extra, unsigned query parameter.
    ExtraParam,
    /// `X-Amz-Expires` twice.
    DuplicateParam,
    /// Content-Type `text/html`.
    OtherType,
    /// No Content-Type.
    NoType,
    /// One byte fewer than signed (and declared).
    Shorter,
    /// One byte more than signed (and declared).
    Longer,
    /// Chunked transfer instead of Content-Length.
    Chunked,
    /// An `x-amz-content-sha256` of other bytes.
    WrongSha256,
    /// A `Content-MD5` of other bytes.
    WrongMd5,
    /// A grant with the body's SHA-256 signed in; the `x-amz-checksum-sha256` header left out.
    ChecksumDropped,
    /// A grant with the body's SHA-256 signed in; the header of other bytes.
    ChecksumChanged,
    /// A grant with the body's SHA-256 signed in; the header moved to the query.
    ChecksumInQuery,
    /// A grant with the body's SHA-256 signed in; the header kept, one byte of the body changed.
    ChecksumOtherBytes,
    /// Nothing: the URL as the broker signed it (for method swaps and reuse).
    None,
}

/// `url` with the value of query parameter `name` replaced by `f(value)`. Hand-written, not
/// `form_urlencoded`: every other parameter must stay byte for byte as it was signed.
#[must_use]
pub fn replace_param(url: &str, name: &str, f: impl Fn(&str) -> String) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_owned() };
    let parts: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if k == name => format!("{k}={}", f(v)),
            _ => p.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// The SHA-256 of `bytes`, base64, as `x-amz-checksum-sha256` carries it.
fn sha256_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// A fresh grant for the 1 KiB JPEG, its SHA-256 declared when `tamper` is about checksums.
async fn grant_for(ctx: &Auditor, tamper: Tamper) -> Result<super::steps::Grant, String> {
    let summed = matches!(
        tamper,
        Tamper::ChecksumDropped | Tamper::ChecksumChanged | Tamper::ChecksumInQuery | Tamper::ChecksumOtherBytes
    );
    if !summed {
        return ctx.jpeg_grant(AUDITOR).await;
    }
    let request = serde_json::json!({
        "filename": "a.jpg", "content_type": "image/jpeg", "size": 1024, "checksum_sha256": sha256_base64(&jpeg()),
    });
    ctx.grant(AUDITOR, &request).await
}

/// A fresh grant for a 1 KiB JPEG, changed by `tamper`, sent to the store as `method`.
///
/// # Errors
/// When the broker refuses the grant or the store does not answer.
pub async fn tampered_put(ctx: &Auditor, tamper: Tamper, method: &str) -> Result<Observed, String> {
    use sha2::Digest;
    let g = grant_for(ctx, tamper).await?;
    let mut body = jpeg();
    let mut url = g.url.clone();
    let mut headers = g.headers.clone();
    let set = |headers: &mut Vec<(String, String)>, k: &str, v: Option<String>| {
        headers.retain(|(name, _)| name != k);
        if let Some(v) = v {
            headers.push((k.to_owned(), v));
        }
    };
    match tamper {
        Tamper::Signature => {
            url = replace_param(&url, "X-Amz-Signature", |s| {
                let last = if s.ends_with('0') { '1' } else { '0' };
                format!("{}{last}", &s[..s.len() - 1])
            });
        }
        Tamper::Key => url = url.replace(&g.key, &format!("{}.other", g.key)),
        Tamper::Bucket => url = url.replacen(&format!("/{}/", ctx.bucket), "/another-bucket/", 1),
        Tamper::Expires => url = replace_param(&url, "X-Amz-Expires", |_| "604800".to_owned()),
        Tamper::Date => {
            let earlier = crate::sigv4::x_amz_date(SystemTime::now() - Duration::from_secs(60));
            url = replace_param(&url, "X-Amz-Date", |_| earlier.clone());
        }
        Tamper::CredentialRegion => {
            url = replace_param(&url, "X-Amz-Credential", |c| {
                c.replace(&format!("%2F{}%2F", ctx.region), "%2Feu-north-9%2F")
            });
        }
        Tamper::CredentialService => {
            url = replace_param(&url, "X-Amz-Credential", |c| c.replace("%2Fs3%2F", "%2Fsts%2F"));
        }
        Tamper::CredentialKey => {
            url = replace_param(&url, "X-Amz-Credential", |c| {
                format!("AKIAOTHERKEY{}", &c[c.find("%2F").unwrap_or(0)..])
            });
        }
        Tamper::ExtraParam => url.push_str("&x-audit=1"),
        Tamper::DuplicateParam => url.push_str("&X-Amz-Expires=604800"),
        Tamper::OtherType => set(&mut headers, "content-type", Some("text/html".into())),
        Tamper::NoType => set(&mut headers, "content-type", None),
        Tamper::Shorter => {
            body.pop();
            set(&mut headers, "content-length", Some(body.len().to_string()));
        }
        Tamper::Longer => {
            body.push(0);
            set(&mut headers, "content-length", Some(body.len().to_string()));
        }
        Tamper::Chunked => {
            set(&mut headers, "content-length", None);
            let b = Bytes::from(body);
            return match ctx.send(method, &url, &headers, chunks(vec![b.slice(..512), b.slice(512..)])).await {
                Ok(o) => ctx.left_nothing(o.0, Some(&g.key)).await,
                // A store that refuses on the headers may close before the body is sent (the
                // second chunk then meets a reset, seen under load): refused all the same, if
                // nothing landed.
                Err(e) => {
                    let stored = ctx.exists(&g.key).await?;
                    Ok(Observed::judged(0, !stored, format!("connection closed without an answer ({e})")))
                }
            };
        }
        Tamper::WrongSha256 => {
            set(&mut headers, "x-amz-content-sha256", Some(const_hex::encode(sha2::Sha256::digest(b"other bytes"))));
        }
        Tamper::WrongMd5 => {
            use base64::Engine;
            let md5_of_other =
                [0x1bu8, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6, 0xd7, 0xe8, 0xf9, 0x0a];
            set(&mut headers, "content-md5", Some(base64::engine::general_purpose::STANDARD.encode(md5_of_other)));
        }
        Tamper::ChecksumDropped => set(&mut headers, "x-amz-checksum-sha256", None),
        Tamper::ChecksumChanged => set(&mut headers, "x-amz-checksum-sha256", Some(sha256_base64(b"other bytes"))),
        Tamper::ChecksumInQuery => {
            let value = headers.iter().find(|(k, _)| k == "x-amz-checksum-sha256").map(|(_, v)| v.clone());
            set(&mut headers, "x-amz-checksum-sha256", None);
            let encoded: String = form_urlencoded::byte_serialize(value.unwrap_or_default().as_bytes()).collect();
            url = format!("{url}&x-amz-checksum-sha256={encoded}");
        }
        Tamper::ChecksumOtherBytes => body[100] ^= 0xff,
        Tamper::None => {}
    }
    let body = if method == "PUT" { body } else { Vec::new() };
    if method != "PUT" {
        set(&mut headers, "content-length", None);
        set(&mut headers, "content-type", None);
    }
    let observed = ctx.send(method, &url, &headers, full(body)).await?.0;
    // The key a refused PUT would have written (another bucket's is not the audit's to read).
    let written = match tamper {
        _ if method != "PUT" => None,
        Tamper::Key => Some(format!("{}.other", g.key)),
        Tamper::Bucket => None,
        _ => Some(g.key.clone()),
    };
    ctx.left_nothing(observed, written.as_deref()).await
}
