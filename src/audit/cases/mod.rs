//! Every audit case, as data: where it is aimed, the rule, its severity, what is sent, the answer
//! the rule requires, what the broker does about it, and a few lines that send it. By target:
//! [`store`] (URLs the broker signed, tampered; keys that break naive signers) and [`broker`]
//! (tokens, ownership, filenames, lying content, configuration), `parts` (presigned multipart
//! uploads: part URLs used for other parts or uploads, lengths, forged ETags), [`cors`] (pages
//! on foreign origins) and `cdn` (signed cookies and the cache key of the CDN in front of the
//! store).

use super::Case;
use super::steps::{Auditor, BoxFuture, Observed, jpeg};
use serde_json::json;

/// A case's sending function: `run!(|c| async body using c)`.
macro_rules! run {
    (|$c:ident| $body:expr) => {{
        fn f($c: &Auditor) -> BoxFuture<'_, Result<Observed, String>> {
            Box::pin(async move { $body })
        }
        f
    }};
}

mod broker;
mod cdn;
pub mod cors;
mod parts;
mod store;

/// A case's sending function.
pub type Run = for<'a> fn(&'a Auditor) -> BoxFuture<'a, Result<Observed, String>>;

/// Every case, in report order.
#[must_use]
pub fn all() -> Vec<Case> {
    let mut cases = store::all();
    cases.extend(broker::all());
    cases.extend(parts::all());
    cases.extend(cors::all());
    cases.extend(cdn::all());
    cases
}

/// A file of `owner`, completed; returns its id.
pub(super) async fn file_of(c: &Auditor, owner: &str) -> Result<String, String> {
    let (o, record) =
        c.upload(owner, &json!({"filename": "a.jpg", "content_type": "image/jpeg", "size": 1024}), jpeg()).await?;
    if o.status != 200 {
        return Err(format!("completion refused: {} {}", o.status, o.code));
    }
    Ok(record["file_id"].as_str().unwrap_or_default().to_owned())
}

pub(super) fn header_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}
