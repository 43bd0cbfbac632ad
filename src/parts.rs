//! S3's size bounds (the largest single PUT, parts, multipart objects) and how an object is cut
//! into parts: pure arithmetic that the scenario, the broker, the proxy and the harness share.

/// The part size when none is given: large enough that a part's request overhead is noise, small
/// enough that a failed part is cheap to send again.
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;

/// Largest object one PUT (and one CopyObject) may carry in S3.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// S3's bounds on multipart uploads: a part is 5 MiB to 5 GiB (the last may be smaller), an
/// upload has at most 10,000 parts and an object at most 5 TiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// See [`MIN_PART_SIZE`].
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// See [`MIN_PART_SIZE`].
pub const MAX_PARTS: u64 = 10_000;
/// See [`MIN_PART_SIZE`].
pub const MAX_MULTIPART_OBJECT: u64 = 5 * 1024 * 1024 * 1024 * 1024;

/// How an object of `size` bytes is cut into parts of `part_size` (the last takes the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// The whole object, bytes.
    pub size: u64,
    /// Every part but the last, bytes.
    pub part_size: u64,
}

impl Parts {
    /// The cut of `size` into `part_size` parts, within S3's bounds.
    ///
    /// # Errors
    /// A message naming the bound that is broken.
    pub fn new(size: u64, part_size: u64) -> Result<Self, String> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(format!("part_size {part_size} is outside {MIN_PART_SIZE}..={MAX_PART_SIZE} bytes"));
        }
        let parts = Self { size, part_size };
        if parts.count() > MAX_PARTS {
            return Err(format!(
                "{} parts of {part_size} bytes; at most {MAX_PARTS} (use larger parts)",
                parts.count()
            ));
        }
        Ok(parts)
    }

    /// How many parts.
    #[must_use]
    pub fn count(self) -> u64 {
        self.size.div_ceil(self.part_size.max(1)).max(1)
    }

    /// Offset and length of part `number` (1-based), if the object has it.
    #[must_use]
    pub fn range(self, number: u64) -> Option<(u64, u64)> {
        if number == 0 || number > self.count() {
            return None;
        }
        let start = (number - 1) * self.part_size;
        Some((start, self.part_size.min(self.size - start)))
    }
}

/// The ETag S3 gives an object completed from parts with `etags` (hex MD5s, quoted or not): the
/// MD5 of their binary digests, then `-` and their count. `None` when one is not a hex MD5.
#[must_use]
pub fn multipart_etag<'a>(etags: impl IntoIterator<Item = &'a str>) -> Option<String> {
    use md5::Digest;
    let mut hash = md5::Md5::new();
    let mut count = 0;
    for etag in etags {
        let mut digest = [0u8; 16];
        const_hex::decode_to_slice(etag.trim_matches('"'), &mut digest).ok()?;
        hash.update(digest);
        count += 1;
    }
    Some(format!("{}-{count}", const_hex::encode(hash.finalize())))
}

/// `part_size`, grown to the next MiB that cuts an object of `size` into at most [`MAX_PARTS`].
#[must_use]
pub fn fit(size: u64, part_size: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    part_size.max(size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cut_an_object_within_s3_bounds() {
        const MIB: u64 = 1024 * 1024;
        let p = Parts::new(12 * MIB + 1, 5 * MIB).unwrap();
        assert_eq!(p.count(), 3);
        assert_eq!(p.range(1), Some((0, 5 * MIB)));
        assert_eq!(p.range(3), Some((10 * MIB, 2 * MIB + 1)));
        assert_eq!((p.range(0), p.range(4)), (None, None));
        assert_eq!(Parts::new(5 * MIB, 5 * MIB).unwrap().count(), 1);
        assert!(Parts::new(10 * MIB, 5 * MIB - 1).unwrap_err().contains("outside"));
        assert!(Parts::new(MAX_MULTIPART_OBJECT, MIN_PART_SIZE).unwrap_err().contains("at most 10000"));
        assert_eq!(Parts::new(MAX_MULTIPART_OBJECT, 1024 * MIB).unwrap().count(), 5120);
        // 5 TiB / 10,000 = 524.3 MiB: parts grow to 525 MiB.
        assert_eq!(fit(MAX_MULTIPART_OBJECT, 16 * MIB), 525 * MIB);
        assert_eq!(fit(100 * MIB, 16 * MIB), 16 * MIB);
    }

    #[test]
    fn multipart_etags_are_the_md5_of_the_part_md5s() {
        use md5::Digest;
        // md5(md5("a") ++ md5("b")), the two digests as bytes, then the count.
        let a = "0cc175b9c0f1b6a831c399e269772661"; // md5("a")
        let b = "92eb5ffee6ae2fec3ad71c777531578f"; // md5("b")
        let both = multipart_etag([a, &format!("\"{b}\"")]).unwrap();
        assert!(both.ends_with("-2"), "{both}");
        let mut raw = const_hex::decode(a).unwrap();
        raw.extend(const_hex::decode(b).unwrap());
        assert_eq!(both, format!("{}-2", const_hex::encode(md5::Md5::digest(&raw))));
        assert_eq!(multipart_etag(["not hex"]), None);
    }
}
