//! The canonical pieces of a SigV4 request, each a small pure function: the encoding sets of keys
//! and query values, the `YYYYMMDDTHHMMSSZ` stamp, canonical header values and the sorted header
//! list with `host`, and the HMAC step of key derivation.

use super::{MAX_HEADERS, PresignError};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;
use std::time::SystemTime;

/// Characters of a key segment left as they are (RFC 3986 unreserved).
pub(super) const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Characters encoded in query values: the set aws-smithy-http (and so aws-sigv4) uses.
pub(super) const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'/')
    .add(b':')
    .add(b',')
    .add(b'?')
    .add(b'#')
    .add(b'[')
    .add(b']')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'@')
    .add(b'!')
    .add(b'$')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b'+')
    .add(b';')
    .add(b'=')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'"')
    .add(b'^')
    .add(b'`')
    .add(b'\\');

pub(super) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `YYYYMMDDTHHMMSSZ` of `t` (UTC).
pub(super) fn amz_date(t: SystemTime) -> [u8; 16] {
    // humantime renders RFC 3339 (`2013-05-24T00:00:00Z`) without allocating; pick the digits.
    let mut rfc = [0u8; 20];
    let mut w: &mut [u8] = &mut rfc;
    let _ = std::io::Write::write_fmt(&mut w, format_args!("{}", humantime::format_rfc3339_seconds(t)));
    let mut out = *b"00000000T000000Z";
    out[..4].copy_from_slice(&rfc[..4]);
    out[4..6].copy_from_slice(&rfc[5..7]);
    out[6..8].copy_from_slice(&rfc[8..10]);
    out[9..11].copy_from_slice(&rfc[11..13]);
    out[11..13].copy_from_slice(&rfc[14..16]);
    out[13..15].copy_from_slice(&rfc[17..19]);
    out
}

/// Trims spaces and collapses runs of spaces, as SigV4 canonical header values require.
#[inline]
pub(super) fn canonical_value(value: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = value.trim_matches(' ');
    // A byte loop, not `contains("  ")`: the substring searcher's setup costs more than these
    // short values, and this runs for every signed header of every URL.
    if !trimmed.as_bytes().windows(2).any(|pair| pair == b"  ") {
        return std::borrow::Cow::Borrowed(trimmed);
    }
    let mut out = String::with_capacity(trimmed.len());
    let mut prev_space = false;
    for c in trimmed.chars() {
        if !(c == ' ' && prev_space) {
            out.push(c);
        }
        prev_space = c == ' ';
    }
    std::borrow::Cow::Owned(out)
}

/// The signed-header set of the last URL a thread signed: the caller's header names, their
/// canonical order with `host`, and the `SignedHeaders` list. Rebuilt (and the names checked)
/// only when a URL signs other names than the last, so the hot path only compares a few names.
#[derive(Default)]
pub(super) struct HeaderSet {
    /// The caller's names, in the caller's order.
    names: Vec<&'static str>,
    /// Canonical order: indexes into the caller's headers; `names.len()` stands for `host`.
    order: Vec<usize>,
    /// `content-length;content-type;host;...`
    pub(super) signed: String,
    /// The same with `;` encoded, for the URL.
    pub(super) signed_encoded: String,
}

impl HeaderSet {
    /// Makes this the set of `headers` (checking names only when they changed) and checks the
    /// values for control characters.
    #[inline]
    pub(super) fn prepare(&mut self, headers: &[(&'static str, &str)]) -> Result<(), PresignError> {
        // `order` always holds `host` once built; empty means never built.
        let same = !self.order.is_empty()
            && headers.len() == self.names.len()
            && headers.iter().zip(&self.names).all(|((n, _), m)| n == m);
        if !same {
            self.rebuild(headers)?;
        }
        for &(name, value) in headers {
            let control = if value.is_ascii() {
                value.bytes().any(|b| b.is_ascii_control())
            } else {
                value.chars().any(char::is_control)
            };
            if control {
                return Err(PresignError::Header { name, value: value.to_owned() });
            }
        }
        Ok(())
    }

    fn rebuild(&mut self, headers: &[(&'static str, &str)]) -> Result<(), PresignError> {
        self.names.clear();
        self.order.clear();
        if let Some(&(name, _)) = headers.get(MAX_HEADERS) {
            return Err(PresignError::HeaderName { name });
        }
        for (i, &(name, _)) in headers.iter().enumerate() {
            let repeated = headers[..i].iter().any(|(n, _)| *n == name);
            if repeated || name == "host" || name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(PresignError::HeaderName { name });
            }
        }
        let name = |i: usize| headers.get(i).map_or("host", |h| h.0);
        self.order.clear();
        self.order.extend(0..=headers.len());
        self.order.sort_unstable_by_key(|&i| name(i));
        self.signed.clear();
        self.signed_encoded.clear();
        for (k, &i) in self.order.iter().enumerate() {
            if k > 0 {
                self.signed.push(';');
                self.signed_encoded.push_str("%3B");
            }
            self.signed.push_str(name(i));
            self.signed_encoded.push_str(name(i));
        }
        self.names.extend(headers.iter().map(|h| h.0));
        Ok(())
    }

    /// `(name, value)` of `headers` and `host` in canonical order (after [`Self::prepare`]).
    #[inline]
    pub(super) fn canonical<'a>(
        &'a self,
        headers: &'a [(&'static str, &'a str)],
        host: &'a str,
    ) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        self.order.iter().map(move |&i| headers.get(i).copied().unwrap_or(("host", host)))
    }
}

/// The encoded key, piece by piece: segments encoded, `/` kept.
#[inline]
pub(super) fn key_chunks(key: &str) -> impl Iterator<Item = &str> {
    key.split('/').enumerate().flat_map(|(i, segment)| {
        let sep = if i == 0 { None } else { Some("/") };
        sep.into_iter().chain(utf8_percent_encode(segment, KEY_SEGMENT))
    })
}

#[inline]
pub(super) fn push_key(url: &mut String, key: &str) {
    // Keys the broker makes are all unreserved characters and `/`, which encode to themselves:
    // one scan instead of the encoder's iterator (measured by `sign-bench`).
    if key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')) {
        url.push_str(key);
        return;
    }
    for chunk in key_chunks(key) {
        url.push_str(chunk);
    }
}
