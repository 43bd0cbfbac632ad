//! Unit tests of the presigner: AWS's published example, signed headers, expiry limits, the
//! per-thread key and header-set caches.

use super::*;

fn example() -> Presigner {
    Presigner::new(
        "https://s3.amazonaws.com",
        "examplebucket",
        "us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        Addressing::VirtualHosted,
    )
    .unwrap()
}

/// AWS's published example: "Authenticating Requests: Using Query Parameters (AWS Signature
/// Version 4)", GET examplebucket/test.txt.
#[test]
fn aws_published_presign_example() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 20130524T000000Z
    let url = example().get("test.txt", Duration::from_secs(86400), t).unwrap().url;
    assert_eq!(
        url,
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}

#[test]
fn put_signs_type_and_length() {
    let p = Presigner::new("http://127.0.0.1:9000", "b", "us-east-1", "ak", "sk", Addressing::Path).unwrap();
    let now = SystemTime::now();
    let signed = p.put("uploads/u/x.jpg", "image/jpeg", 42, Duration::from_secs(600), now).unwrap();
    let names: Vec<&str> = signed.headers.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, PUT_SIGNED_HEADERS);
    assert_eq!(signed.headers[0].1, "42");
    assert!(signed.url.starts_with("http://127.0.0.1:9000/b/uploads/u/x.jpg?"));
    assert!(
        signed.url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match"),
        "{}",
        signed.url
    );
    assert_eq!(signed.expires_at, now + Duration::from_secs(600));
}

#[test]
fn refuses_expiry_above_seven_days() {
    let p = Presigner::new("http://127.0.0.1:9000", "b", "us-east-1", "ak", "sk", Addressing::Path).unwrap();
    let err = p.get("k", MAX_EXPIRY + Duration::from_secs(1), SystemTime::now()).unwrap_err();
    assert!(matches!(err, PresignError::ExpiryTooLong { secs: 604_801 }));
    assert!(p.get("k", MAX_EXPIRY, SystemTime::now()).is_ok());
}

#[test]
fn helpers() {
    assert_eq!(&amz_date(SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600)), b"20130524T000000Z");
    assert_eq!(canonical_value("  a  b   c "), "a b c");
}

#[test]
fn the_key_cache_follows_the_presigner_and_the_day() {
    let one = Presigner::new("http://h:1", "b", "us-east-1", "ak", "one", Addressing::Path).unwrap();
    let two = Presigner::new("http://h:1", "b", "us-east-1", "ak", "two", Addressing::Path).unwrap();
    let day = Duration::from_secs(86_400);
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let expiry = Duration::from_secs(60);
    for now in [t, t + day] {
        let (x, y) = (one.get("k", expiry, now).unwrap().url, two.get("k", expiry, now).unwrap().url);
        assert_ne!(x, y);
        assert_eq!(x, one.get("k", expiry, now).unwrap().url);
        assert_eq!(x, yardstick::aws_sigv4_url(&one, "GET", "k", &[], expiry, now).unwrap());
        assert_eq!(y, yardstick::aws_sigv4_url(&two, "GET", "k", &[], expiry, now).unwrap());
    }
}

#[test]
fn switching_header_sets_on_one_thread_keeps_every_url_right() {
    // The per-thread header-set cache must follow each URL's own headers.
    let p = Presigner::new("http://127.0.0.1:9000", "b", "us-east-1", "ak", "sk", Addressing::Path).unwrap();
    let (expiry, now) = (Duration::from_secs(60), SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let custom = [("x-amz-meta-a", "1"), ("content-type", "text/plain")];
    for _ in 0..2 {
        let get = p.get("k", expiry, now).unwrap().url;
        assert_eq!(get, yardstick::aws_sigv4_url(&p, "GET", "k", &[], expiry, now).unwrap());
        assert!(get.contains("X-Amz-SignedHeaders=host&"), "{get}");
        let put = p.put_url("k", "image/png", 5, expiry, now).unwrap();
        let [a, b, c] = PUT_SIGNED_HEADERS;
        let theirs = yardstick::aws_sigv4_url(&p, "PUT", "k", &[(a, "5"), (b, "image/png"), (c, "*")], expiry, now);
        assert_eq!(put, theirs.unwrap());
        let mine = p.sign("PUT", "k", &custom, expiry, now).unwrap();
        assert_eq!(mine, yardstick::aws_sigv4_url(&p, "PUT", "k", &custom, expiry, now).unwrap());
        assert!(mine.contains("X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-meta-a&"), "{mine}");
    }
    // A refused set does not poison the next URL.
    assert!(p.sign("PUT", "k", &[("Bad", "x")], expiry, now).is_err());
    assert_eq!(
        p.get("k", expiry, now).unwrap().url,
        yardstick::aws_sigv4_url(&p, "GET", "k", &[], expiry, now).unwrap()
    );
}

#[test]
fn x_amz_date_is_the_compact_utc_stamp() {
    // AWS's examples sign at 2013-05-24T00:00:00Z.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_369_353_600);
    assert_eq!(super::x_amz_date(t), "20130524T000000Z");
}
