//! What may be uploaded and under which key: type and size checks, server-side keys, filenames.

use super::error::ApiError;
pub use crate::parts::{MAX_MULTIPART_OBJECT, MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, Parts, multipart_etag};

/// Longest filename kept as metadata, in bytes.
pub const MAX_FILENAME_BYTES: usize = 255;

/// The upload rules of one deployment.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Content types that may be uploaded, lowercase.
    pub allowed_types: Vec<String>,
    /// Largest object, in bytes.
    pub max_size: u64,
    /// How objects are cut into parts.
    pub multipart: MultipartPolicy,
}

/// When and how objects travel in parts (`--multipart-threshold`, `--part-size`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultipartPolicy {
    /// The proxy stores objects above this size as multipart uploads (at most 5 GiB, the largest
    /// single PUT).
    pub threshold: u64,
    /// The part size when the client names none (grown when the object would need more than
    /// [`MAX_PARTS`] parts).
    pub part_size: u64,
    /// How long a presigned multipart upload may take from start to completion
    /// (`--multipart-window`); `None`: the PUT expiry plus the completion grace, as a single PUT.
    pub window: Option<std::time::Duration>,
    /// Multipart uploads one user may have open at once (`--max-open-multipart`): each holds a
    /// store upload and a row until completed, aborted or swept.
    pub max_open_per_user: u64,
}

impl Default for MultipartPolicy {
    fn default() -> Self {
        Self {
            threshold: 64 * 1024 * 1024,
            part_size: crate::parts::DEFAULT_PART_SIZE,
            window: None,
            max_open_per_user: 100,
        }
    }
}

impl MultipartPolicy {
    /// The parts of an object of `size`: of `requested` bytes if the client names a size, else of
    /// the policy's part size, grown to the next MiB that fits [`MAX_PARTS`] parts.
    ///
    /// # Errors
    /// 400 `invalid_part_size` for a requested size outside S3's bounds.
    pub fn parts(self, size: u64, requested: Option<u64>) -> Result<Parts, ApiError> {
        let part_size = requested.unwrap_or_else(|| crate::parts::fit(size, self.part_size));
        Parts::new(size, part_size).map_err(ApiError::InvalidPartSize)
    }
}

impl Policy {
    /// Checks a declared content type and size, in the order clients fix them: type, then size.
    ///
    /// Returns the normalised type (lowercase, parameters dropped) that is signed and stored.
    ///
    /// # Errors
    /// 415 for a type not allowed, 400 for size 0, 413 above the maximum.
    pub fn check(&self, content_type: &str, size: u64) -> Result<String, ApiError> {
        let normalised = crate::units::normalise_content_type(content_type);
        if !self.allowed_types.contains(&normalised) {
            return Err(ApiError::UnsupportedType {
                content_type: content_type.to_owned(),
                allowed: self.allowed_types.join(","),
            });
        }
        if size == 0 {
            return Err(ApiError::InvalidSize);
        }
        if size > self.max_size {
            return Err(ApiError::TooLarge { size, max: self.max_size });
        }
        Ok(normalised)
    }
}

/// The file extension used in keys for a content type.
#[must_use]
pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        "video/mp4" => "mp4",
        "text/plain" => "txt",
        _ => "bin",
    }
}

/// Where presigned PUTs land: the client holds a URL to these keys until it expires.
pub const UPLOAD_PREFIX: &str = "uploads/";
/// Where the broker keeps verified files: copies no client URL can reach.
pub const FILE_PREFIX: &str = "files/";
/// Where the proxy stores what it streamed (the client never holds a URL to these).
pub const PROXIED_PREFIX: &str = "proxied/";

/// A fresh object key, generated here and never taken from the client:
/// `<prefix><user-id>/<uuid>.<ext>`, `prefix` one of [`UPLOAD_PREFIX`], [`FILE_PREFIX`],
/// [`PROXIED_PREFIX`]. `user` must have passed [`super::auth::valid_user_id`].
#[must_use]
pub fn new_key(prefix: &str, user: &str, content_type: &str) -> String {
    key(prefix, user, uuid::Uuid::new_v4(), content_type)
}

/// The key of object `id`: `<prefix><user-id>/<id>.<ext>` (see [`new_key`]).
#[must_use]
pub fn key(prefix: &str, user: &str, id: uuid::Uuid, content_type: &str) -> String {
    format!("{prefix}{user}/{id}.{}", extension(content_type))
}

/// Unicode bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069): invisible, and able to make `gpj.exe` read as `exe.jpg`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The filename kept as metadata: its last path component, without control or bidirectional
/// formatting characters, trimmed, at most [`MAX_FILENAME_BYTES`]; `upload` when nothing is left.
#[must_use]
pub fn sanitise_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base.chars().filter(|c| !c.is_control() && !is_bidi_control(*c)).collect();
    let mut cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    if cleaned.len() > MAX_FILENAME_BYTES {
        let mut cut = MAX_FILENAME_BYTES;
        while !cleaned.is_char_boundary(cut) {
            cut -= 1;
        }
        cleaned.truncate(cut);
    }
    if cleaned.is_empty() { "upload".to_owned() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            allowed_types: vec!["image/jpeg".into(), "application/pdf".into()],
            max_size: 100,
            multipart: MultipartPolicy::default(),
        }
    }

    #[test]
    fn bidi_controls_are_stripped_from_filenames() {
        assert_eq!(sanitise_filename("photo\u{202E}gpj.exe"), "photogpj.exe");
        assert_eq!(sanitise_filename("\u{2066}a\u{2069}\u{200F}.jpg"), "a.jpg");
        assert_eq!(sanitise_filename("日本語.jpg"), "日本語.jpg");
    }

    #[test]
    fn checks_type_then_size() {
        assert_eq!(policy().check("Image/JPEG; q=1", 10).unwrap(), "image/jpeg");
        assert!(matches!(policy().check("text/html", 10), Err(ApiError::UnsupportedType { .. })));
        assert!(matches!(policy().check("image/jpeg", 0), Err(ApiError::InvalidSize)));
        assert!(matches!(policy().check("image/jpeg", 101), Err(ApiError::TooLarge { size: 101, max: 100 })));
    }

    #[test]
    fn the_default_part_size_grows_to_fit_ten_thousand_parts() {
        const MIB: u64 = 1024 * 1024;
        // 5,242,880 MiB / 525 MiB = 9,986.4: 9,987 parts.
        let grown = MultipartPolicy::default().parts(MAX_MULTIPART_OBJECT, None).unwrap();
        assert_eq!((grown.part_size, grown.count()), (525 * MIB, 9987));
        assert_eq!(MultipartPolicy::default().parts(100 * MIB, None).unwrap().part_size, 16 * MIB);
        assert!(matches!(MultipartPolicy::default().parts(100 * MIB, Some(MIB)), Err(ApiError::InvalidPartSize(_))));
    }

    #[test]
    fn keys_are_server_side() {
        let key = new_key(UPLOAD_PREFIX, "u1", "image/jpeg");
        let rest = key.strip_prefix("uploads/u1/").unwrap();
        let (id, ext) = rest.split_once('.').unwrap();
        assert_eq!(ext, "jpg");
        assert!(uuid::Uuid::parse_str(id).is_ok());
    }

    #[test]
    fn filenames_are_sanitised() {
        assert_eq!(sanitise_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_filename("a\\b\\c.jpg"), "c.jpg");
        assert_eq!(sanitise_filename("x\0y\n.png"), "xy.png");
        assert_eq!(sanitise_filename(".."), "upload");
        assert_eq!(sanitise_filename(""), "upload");
        let long = "é".repeat(300);
        let s = sanitise_filename(&long);
        assert!(s.len() <= MAX_FILENAME_BYTES && s.chars().all(|c| c == 'é'));
    }
}
