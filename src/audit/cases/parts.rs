//! Cases aimed at presigned multipart uploads: a part URL used for another part or another
//! upload, a part longer than its signed length, a completion with a forged ETag, and a multipart
//! id passed off as a single upload's. Each case aborts the uploads it started, leaving no parts.

use super::super::steps::{AUDITOR, Auditor, BoxFuture, MALLORY, Observed, jpeg};
use super::super::tamper::replace_param;
use super::super::{Case, Expect, Severity};
use crate::client::http::full;
use serde_json::{Value, json};

const SIGNED: &str = "the store checks the SigV4 signature, which covers partNumber, uploadId and Content-Length";

/// The smallest part S3 takes, and the size of the audit's uploads: one whole part and a last
/// part of 1 KiB, so the length cases send only a kilobyte.
const PART: usize = 5 * 1024 * 1024;
const SIZE: usize = PART + 1024;

/// A multipart case.
const fn case(
    name: &'static str,
    target: &'static str,
    rule: &'static str,
    sent: &'static str,
    remedy: &'static str,
    run: for<'a> fn(&'a Auditor) -> BoxFuture<'a, Result<Observed, String>>,
) -> Case {
    Case { name, target, rule, severity: Severity::High, sent, expect: Expect::Refused, remedy, run }
}

/// A multipart upload of `SIZE` bytes of JPEG started for the auditor; its id.
async fn start(c: &Auditor) -> Result<String, String> {
    let request = json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": SIZE, "part_size": PART});
    let (o, v) = c.broker("POST", "/v1/multipart", Some(&c.token(AUDITOR)), Some(&request)).await?;
    if o.status != 201 {
        return Err(format!("multipart start refused: {} {}", o.status, o.code));
    }
    Ok(v["upload_id"].as_str().unwrap_or_default().to_owned())
}

/// The URL of part `n` of upload `id`.
async fn part_url(c: &Auditor, id: &str, n: u64) -> Result<String, String> {
    let (o, v) = c.broker("POST", &format!("/v1/multipart/{id}/parts/{n}"), Some(&c.token(AUDITOR)), None).await?;
    if o.status != 200 {
        return Err(format!("part URL refused: {} {}", o.status, o.code));
    }
    Ok(v["url"].as_str().unwrap_or_default().to_owned())
}

/// Part `n` of the audit's object: the JPEG head, then filler.
fn part_bytes(n: u64) -> Vec<u8> {
    if n == 1 {
        let mut v = jpeg();
        v.resize(PART, 0x5A);
        v
    } else {
        vec![0xA5; SIZE - PART]
    }
}

/// PUTs `body` to `url`; the status and the part's ETag.
async fn put(c: &Auditor, url: &str, body: Vec<u8>) -> Result<(Observed, String), String> {
    let (o, headers, _) = c.exchange("PUT", url, &[], full(body)).await?;
    let etag = headers.get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().trim_matches('"').to_owned();
    Ok((o, etag))
}

/// Aborts upload `id` (best effort: the broker's sweeper aborts what this misses).
async fn abort(c: &Auditor, id: &str) {
    let _ = c.broker("DELETE", &format!("/v1/multipart/{id}"), Some(&c.token(AUDITOR)), None).await;
}

/// The value of query parameter `name` in `url`, still percent-encoded. Hand-written, not
/// `form_urlencoded`: the value goes back into another signed URL exactly as it was signed.
fn param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap_or_default().to_owned()
}

/// Part 2's URL used to send part 1.
async fn other_part_number(c: &Auditor) -> Result<Observed, String> {
    let id = start(c).await?;
    let url = replace_param(&part_url(c, &id, 2).await?, "partNumber", |_| "1".to_owned());
    let sent = put(c, &url, part_bytes(2)).await;
    abort(c, &id).await;
    sent.map(|(o, _)| o)
}

/// A part URL of one upload pointed at another upload of the same user.
async fn other_upload(c: &Auditor) -> Result<Observed, String> {
    let (a, b) = (start(c).await?, start(c).await?);
    let url_a = part_url(c, &a, 2).await;
    let url_b = part_url(c, &b, 2).await;
    let sent = match (url_a, url_b) {
        (Ok(url_a), Ok(url_b)) => {
            let other = param(&url_b, "uploadId");
            put(c, &replace_param(&url_a, "uploadId", |_| other.clone()), part_bytes(2)).await.map(|(o, _)| o)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    abort(c, &a).await;
    abort(c, &b).await;
    sent
}

/// The last part's URL (1 KiB signed) with one byte more.
async fn longer_part(c: &Auditor) -> Result<Observed, String> {
    let id = start(c).await?;
    let url = part_url(c, &id, 2).await?;
    let mut body = part_bytes(2);
    body.push(0);
    let sent = put(c, &url, body).await;
    abort(c, &id).await;
    sent.map(|(o, _)| o)
}

/// Both parts uploaded, then a completion that lists part 2 with the ETag of other bytes.
async fn forged_etag(c: &Auditor) -> Result<Observed, String> {
    use md5::Digest;
    let id = start(c).await?;
    let mut etags = Vec::new();
    for n in 1..=2 {
        let (o, etag) = put(c, &part_url(c, &id, n).await?, part_bytes(n)).await?;
        if o.status != 200 {
            abort(c, &id).await;
            return Err(format!("the store refused part {n} of the broker's URLs: {} {}", o.status, o.code));
        }
        etags.push(etag);
    }
    etags[1] = const_hex::encode(md5::Md5::digest(b"other bytes"));
    let parts: Vec<Value> = etags.iter().zip(1..).map(|(etag, n)| json!({"part_number": n, "etag": etag})).collect();
    let path = format!("/v1/multipart/{id}/complete");
    let (o, v) = c.broker("POST", &path, Some(&c.token(AUDITOR)), Some(&json!({ "parts": parts }))).await?;
    abort(c, &id).await;
    if o.status < 400 {
        return Ok(Observed::judged(o.status, false, format!("completed as file {}", v["file_id"])));
    }
    Ok(o)
}

/// A multipart upload's id sent to the single upload's completion.
async fn id_as_single(c: &Auditor) -> Result<Observed, String> {
    let id = start(c).await?;
    let sent = c.broker("POST", &format!("/v1/uploads/{id}/complete"), Some(&c.token(AUDITOR)), None).await;
    abort(c, &id).await;
    sent.map(|(o, _)| o)
}

/// Another user asks for a part URL of the auditor's upload.
async fn other_user(c: &Auditor) -> Result<Observed, String> {
    let id = start(c).await?;
    let sent = c.broker("POST", &format!("/v1/multipart/{id}/parts/1"), Some(&c.token(MALLORY)), None).await;
    abort(c, &id).await;
    sent.map(|(o, _)| o)
}

/// The multipart cases, in report order.
pub(super) fn all() -> Vec<Case> {
    vec![
        case(
            "part-url-for-another-part",
            "store",
            "a part URL writes only its own part",
            "part 2's presigned URL with partNumber=1",
            SIGNED,
            run!(|c| other_part_number(c).await),
        ),
        case(
            "part-url-for-another-upload",
            "store",
            "a part URL writes only its own upload",
            "a part URL with the uploadId of another of the user's uploads",
            SIGNED,
            run!(|c| other_upload(c).await),
        ),
        case(
            "part-above-signed-length",
            "store",
            "a part's length is signed",
            "1025 bytes to the URL of a 1024-byte last part",
            "completion checks the object's size and deletes a mismatch",
            run!(|c| longer_part(c).await),
        ),
        case(
            "completion-with-forged-etag",
            "broker",
            "a file is made only of the parts uploaded",
            "both parts uploaded, then a completion listing part 2 with the ETag of other bytes",
            "the broker compares the object's ETag with the one the listed parts make, and deletes a mismatch",
            run!(|c| forged_etag(c).await),
        ),
        case(
            "multipart-id-as-upload-id",
            "broker",
            "a multipart id is no single upload's id",
            "a multipart upload's id sent to POST /v1/uploads/{id}/complete",
            "ids of each kind are signed under their own key",
            run!(|c| id_as_single(c).await),
        ),
        case(
            "multipart-other-user",
            "broker",
            "parts are signed for the upload's owner only",
            "another user asks for a part URL of the auditor's upload",
            "enforced by the broker itself",
            run!(|c| other_user(c).await),
        ),
    ]
}
