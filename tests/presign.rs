//! The hand-written presigner against aws-sigv4 (byte-identical URLs over random inputs and
//! header sets), and against the embedded store (it accepts what each presigner signs).

use crate::common;

use common::*;
use presign_bench::sigv4::{Addressing, MAX_EXPIRY, PUT_SIGNED_HEADERS, PresignError, Presigner, yardstick};
use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn presigner() -> impl Strategy<Value = Presigner> {
    let endpoint = prop_oneof![
        (1u16..=65535).prop_map(|port| (format!("http://127.0.0.1:{port}"), Addressing::Path)),
        Just(("http://localhost:80".to_owned(), Addressing::Path)),
        Just(("https://s3.amazonaws.com".to_owned(), Addressing::VirtualHosted)),
        Just(("https://s3.eu-west-1.amazonaws.com:443".to_owned(), Addressing::VirtualHosted)),
    ];
    let access = prop_oneof!["[A-Z0-9]{16,20}", "[A-Za-z0-9+=/_.~-]{3,24}"];
    (endpoint, "[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", "[a-z]{2}-[a-z]{4,9}-[0-9]", access, "[A-Za-z0-9/+]{40}").prop_map(
        |((endpoint, addressing), bucket, region, ak, sk)| {
            Presigner::new(&endpoint, &bucket, &region, &ak, &sk, addressing).unwrap()
        },
    )
}

/// Header names a caller might sign (lowercase, as SigV4 wants them).
const HEADERS: [&str; 6] =
    ["content-type", "content-length", "if-none-match", "x-amz-meta-owner", "content-md5", "cache-control"];

/// Keys with unicode, spaces and the characters URLs care about.
const KEY: &str = "[a-zA-Z0-9 +=\\[\\]%~/?#&!$'()*,;:@é中😀_.-]{1,60}";
/// Content types, with the spaces and parameters clients send.
const CONTENT_TYPE: &str = " {0,2}[a-z]{1,11}/[a-z0-9.+-]{1,15}( ?; ? ?charset=[a-zA-Z0-9-]{1,8})? {0,2}";

fn time() -> impl Strategy<Value = SystemTime> {
    (946_684_800u64..4_102_444_800).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn put_urls_are_byte_identical_to_aws_sigv4(
        p in presigner(),
        key in KEY,
        content_type in CONTENT_TYPE,
        length in any::<u64>(),
        expiry in 1u64..=604_800,
        now in time(),
    ) {
        let expiry = Duration::from_secs(expiry);
        let ours = p.put(&key, &content_type, length, expiry, now).unwrap();
        let len = length.to_string();
        let [a, b, c] = PUT_SIGNED_HEADERS;
        let theirs = yardstick::aws_sigv4_url(&p, "PUT", &key, &[(a, &len), (b, &content_type), (c, "*")], expiry, now).unwrap();
        prop_assert_eq!(ours.url, theirs);
    }

    #[test]
    fn any_header_set_in_any_order_signs_as_aws_sigv4_does(
        p in presigner(),
        key in KEY,
        picked in proptest::sample::subsequence(&HEADERS[..], 0..=HEADERS.len()),
        values in proptest::collection::vec("[ -~]{0,20}", HEADERS.len()),
        reversed in any::<bool>(),
        now in time(),
    ) {
        let mut headers: Vec<(&'static str, &str)> = picked.iter().zip(&values).map(|(n, v)| (*n, v.as_str())).collect();
        if reversed {
            headers.reverse();
        }
        let expiry = Duration::from_secs(600);
        let ours = p.sign("PUT", &key, &headers, expiry, now).unwrap();
        let theirs = yardstick::aws_sigv4_url(&p, "PUT", &key, &headers, expiry, now).unwrap();
        prop_assert_eq!(&ours, &theirs);
        let mut names: Vec<&str> = headers.iter().map(|(n, _)| *n).chain(["host"]).collect();
        names.sort_unstable();
        let signed = names.join("%3B");
        let expected = format!("X-Amz-SignedHeaders={signed}&");
        prop_assert!(ours.contains(&expected), "{} lacks {}", ours, expected);
    }

    #[test]
    fn get_urls_are_byte_identical_to_aws_sigv4(p in presigner(), key in KEY, expiry in 1u64..=604_800, now in time()) {
        let expiry = Duration::from_secs(expiry);
        let ours = p.get(&key, expiry, now).unwrap();
        prop_assert_eq!(ours.url, yardstick::aws_sigv4_url(&p, "GET", &key, &[], expiry, now).unwrap());
    }

    #[test]
    fn expiries_beyond_seven_days_are_refused(p in presigner(), extra in 1u64..1_000_000) {
        let err = p.get("k", MAX_EXPIRY + Duration::from_secs(extra), SystemTime::now()).unwrap_err();
        let refused = matches!(err, PresignError::ExpiryTooLong { .. });
        prop_assert!(refused);
    }
}

/// PUTs `body` to a presigned URL with the headers the broker signs (type and create-only).
async fn put_jpeg(http: &reqwest::Client, url: &str, body: &[u8]) -> reqwest::Response {
    let request = http.put(url).header("content-type", "image/jpeg").header("if-none-match", "*");
    request.body(body.to_vec()).send().await.unwrap()
}

/// Keys the filesystem-backed store can hold (no empty, `.` or `..` segments).
const STORE_KEY: &str = "[a-zA-Z0-9 +=\\[\\]%~!é中_-]{1,12}(/[a-zA-Z0-9 +=~é_-]{1,12}){0,2}";

#[tokio::test]
async fn the_store_accepts_a_sample_of_presigned_urls() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let s = Stack::start().await;
    let p = Presigner::new(&s.storage, &s.bucket, "us-east-1", ACCESS_KEY, SECRET_KEY, Addressing::Path).unwrap();
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let keys = proptest::collection::hash_set(STORE_KEY, 25).new_tree(&mut runner).unwrap().current();
    for (i, key) in keys.iter().enumerate() {
        let body = jpeg(1000 + i, u8::try_from(i).unwrap());
        let now = SystemTime::now();
        let put = p.put(key, "image/jpeg", body.len() as u64, Duration::from_secs(300), now).unwrap();
        let r = put_jpeg(&s.http, &put.url, &body).await;
        assert_eq!(r.status(), 200, "PUT {key:?}: {}", r.text().await.unwrap());
        let get = p.get(key, Duration::from_secs(300), now).unwrap();
        let r = s.http.get(&get.url).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {key:?}");
        assert_eq!(r.bytes().await.unwrap().to_vec(), body, "{key:?}");
    }
}

#[test]
fn header_names_that_cannot_be_signed_are_refused() {
    let p = Presigner::new("http://127.0.0.1:9000", "b", "us-east-1", "ak", "sk", Addressing::Path).unwrap();
    let (expiry, now) = (Duration::from_secs(60), SystemTime::now());
    for headers in
        [vec![("Content-Type", "a/b")], vec![("host", "x")], vec![("content-type", "a/b"), ("content-type", "c/d")]]
    {
        let err = p.sign("PUT", "k", &headers, expiry, now).unwrap_err();
        assert!(matches!(err, PresignError::HeaderName { .. }), "{headers:?}: {err}");
    }
    let err = p.sign("PUT", "k", &[("content-type", "a\nb")], expiry, now).unwrap_err();
    assert!(matches!(err, PresignError::Header { .. }), "{err}");
}

/// What `sign-bench` measures is what a real store accepts: one URL from each implementation,
/// PUT with the signed headers, then read back.
#[tokio::test]
async fn every_sign_bench_implementation_signs_urls_the_store_accepts() {
    use presign_bench::signbench::{Impl, sign_one};
    let tmp = tempfile::tempdir().unwrap();
    let (storage, _stop) =
        start_storage_as(tmp.path().to_owned(), presign_bench::storage::Credentials::default()).await;
    let http = client();
    // sign-bench signs for bucket `uploads`; create it with a presigned-free admin call.
    let target = presign_bench::storage::client::S3Target {
        endpoint: storage.clone(),
        region: "us-east-1".into(),
        bucket: "uploads".into(),
        credentials: presign_bench::storage::Credentials::default(),
        ca_pem: None,
    };
    let s3 = common::bucket_client(&target).await;
    for which in Impl::ALL {
        let key = format!("sign-bench/{}/a b+c~é.jpg", which.name());
        let body = jpeg(2048, 9);
        let (endpoint, k) = (storage.clone(), key.clone());
        let url = tokio::task::spawn_blocking(move || sign_one(which, &endpoint, &k, 2048)).await.unwrap().unwrap();
        let r = put_jpeg(&http, &url, &body).await;
        assert_eq!(r.status(), 200, "{}: {}", which.name(), r.text().await.unwrap());
        let stored = s3.get_object().bucket("uploads").key(&key).send().await.unwrap();
        let bytes = stored.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.to_vec(), body, "{}", which.name());
        // A URL for another length is refused: the length is signed in.
        let (endpoint, k) = (storage.clone(), format!("{key}.2"));
        let url = tokio::task::spawn_blocking(move || sign_one(which, &endpoint, &k, 2049)).await.unwrap().unwrap();
        let r = http.put(&url).header("content-type", "image/jpeg").body(body.clone()).send().await.unwrap();
        assert_eq!(r.status(), 403, "{}: a 2,048-byte body on a 2,049-byte URL", which.name());
    }
}
