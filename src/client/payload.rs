//! Deterministic payloads: one shared block generated from the seed, sliced (never copied) into
//! every upload's body, behind a small per-upload head that starts with the content type's magic
//! bytes and names the upload, so every object's checksum differs.

use crate::scenario::ObjectSize;
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};

/// Size of the shared block; bodies repeat it.
pub const BLOCK: usize = 1 << 20;
/// Size of the per-upload head.
pub const HEAD: usize = 64;
/// The EICAR test file's 68 bytes: harmless, and detected by every scanner as a test. An
/// infected upload carries them right after its head.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Magic bytes that make `content_type`'s sniffing pass.
#[must_use]
pub fn magic(content_type: &str) -> &'static [u8] {
    match content_type {
        "image/jpeg" => &[0xFF, 0xD8, 0xFF, 0xE0],
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/webp" => b"RIFF\0\0\0\0WEBPVP8 ",
        "image/gif" => b"GIF89a",
        "application/pdf" => b"%PDF-1.7\n",
        "video/mp4" => b"\0\0\0\x18ftypisom",
        _ => b"",
    }
}

/// The payload generator of one run.
#[derive(Debug)]
pub struct Payload {
    block: Bytes,
    seed: u64,
    magic: &'static [u8],
    sizes: ObjectSize,
    /// The share of uploads that carry [`EICAR`].
    infected_share: f64,
}

/// SHA-256 of `seed` and `counter`: the generator of every deterministic value here.
/// Hand-written on purpose: a counter-mode hash is stable across crate versions, which seeded
/// PRNGs do not promise, and sha2 is already a dependency.
fn digest(seed: u64, domain: u8, counter: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update([domain]);
    h.update(counter.to_le_bytes());
    h.finalize().into()
}

impl Payload {
    /// Generates the shared block for `seed`.
    #[must_use]
    pub fn new(seed: u64, content_type: &str, sizes: ObjectSize) -> Self {
        let mut block = BytesMut::with_capacity(BLOCK);
        for i in 0..(BLOCK / 32) as u64 {
            block.extend_from_slice(&digest(seed, 0, i));
        }
        Self { block: block.freeze(), seed, magic: magic(content_type), sizes, infected_share: 0.0 }
    }

    /// The same payloads, `share` of them (drawn by the seed) carrying the EICAR test string.
    #[must_use]
    pub fn infected(mut self, share: f64) -> Self {
        self.infected_share = share;
        self
    }

    /// Whether upload `index` carries the EICAR test string.
    #[must_use]
    pub fn is_infected(&self, index: u64) -> bool {
        if self.infected_share <= 0.0 {
            return false;
        }
        let d = digest(self.seed, 3, index);
        let r = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
        #[allow(clippy::cast_precision_loss)] // a share, not a count
        let drawn = r as f64 / u64::MAX as f64;
        drawn < self.infected_share
    }

    /// The size of upload `index`: fixed, or drawn uniformly from the range by the seed.
    #[must_use]
    pub fn size(&self, index: u64) -> u64 {
        match self.sizes {
            ObjectSize::Fixed(s) => s,
            ObjectSize::Range { min, max } => {
                let d = digest(self.seed, 1, index);
                let r = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]);
                min + r % (max - min + 1)
            }
        }
    }

    /// The first [`HEAD`] bytes of upload `index`: magic bytes, then the upload's identity.
    fn head(&self, index: u64) -> Bytes {
        let mut head = BytesMut::with_capacity(HEAD);
        head.extend_from_slice(self.magic);
        head.extend_from_slice(format!(" presign-bench {:016x} {index:016x} ", self.seed).as_bytes());
        let fill = HEAD.saturating_sub(head.len());
        head.extend_from_slice(&self.block[..fill]);
        head.truncate(HEAD);
        head.freeze()
    }

    /// The body of upload `index` of `size` bytes, as refcounted slices of the shared block.
    #[must_use]
    pub fn chunks(&self, index: u64, size: u64) -> Vec<Bytes> {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let head = self.head(index);
        let mut chunks = vec![head.slice(..HEAD.min(size))];
        let mut pos = HEAD.min(size);
        if self.is_infected(index) && size > pos {
            let take = EICAR.len().min(size - pos);
            chunks.push(Bytes::from_static(&EICAR[..take]));
            pos += take;
        }
        while pos < size {
            let at = pos % BLOCK;
            let take = (BLOCK - at).min(size - pos);
            chunks.push(self.block.slice(at..at + take));
            pos += take;
        }
        chunks
    }

    /// Bytes `offset..offset + length` of the body of upload `index` (a part), as slices.
    #[must_use]
    pub fn range(&self, index: u64, size: u64, offset: u64, length: u64) -> Vec<Bytes> {
        let (mut at, end) = (offset, offset.saturating_add(length).min(size));
        let mut pos = 0u64;
        let mut out = Vec::new();
        for chunk in self.chunks(index, size) {
            let len = chunk.len() as u64;
            if pos + len > at && at < end {
                let from = usize::try_from(at - pos).unwrap_or(0);
                let to = usize::try_from(end.min(pos + len) - pos).unwrap_or(chunk.len());
                out.push(chunk.slice(from..to));
                at = pos + to as u64;
            }
            pos += len;
            if pos >= end {
                break;
            }
        }
        out
    }

    /// SHA-256 of the body of upload `index`.
    #[must_use]
    pub fn sha256(&self, index: u64, size: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        for c in self.chunks(index, size) {
            h.update(&c);
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_deterministic_distinct_and_sniffable() {
        let p = Payload::new(42, "image/jpeg", ObjectSize::Fixed(3 * BLOCK as u64 + 5));
        let size = p.size(0);
        let body: Vec<u8> = p.chunks(7, size).concat();
        assert_eq!(body.len() as u64, size);
        assert_eq!(body, Payload::new(42, "image/jpeg", ObjectSize::Fixed(size)).chunks(7, size).concat());
        assert_ne!(p.sha256(7, size), p.sha256(8, size));
        assert_ne!(p.sha256(7, size), Payload::new(43, "image/jpeg", ObjectSize::Fixed(size)).sha256(7, size));
        for ct in ["image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf", "video/mp4"] {
            let p = Payload::new(1, ct, ObjectSize::Fixed(4096));
            assert!(crate::app::check::check_magic(ct, &p.chunks(0, 4096).concat()[..512]).is_ok(), "{ct}");
        }
    }

    #[test]
    fn range_sizes_stay_in_range() {
        let p = Payload::new(1, "image/png", ObjectSize::Range { min: 100, max: 200 });
        let sizes: Vec<u64> = (0..500).map(|i| p.size(i)).collect();
        assert!(sizes.iter().all(|s| (100..=200).contains(s)));
        assert!(sizes.iter().any(|&s| s < 120) && sizes.iter().any(|&s| s > 180));
        assert_eq!(p.chunks(3, 100).concat().len(), 100);
    }

    #[test]
    fn ranges_are_the_bytes_of_the_body_they_cut() {
        let size = 3 * BLOCK as u64 + 77;
        let p = Payload::new(5, "image/png", ObjectSize::Fixed(size));
        let whole = p.chunks(2, size).concat();
        for (offset, length) in [(0, 10), (0, size), (60, 10), (BLOCK as u64 - 3, 7), (size - 5, 100), (size, 4)] {
            let end = usize::try_from((offset + length).min(size)).unwrap();
            let start = usize::try_from(offset.min(size)).unwrap();
            assert_eq!(p.range(2, size, offset, length).concat(), whole[start..end], "{offset}+{length}");
        }
    }
}
