//! The hand-written presigner against aws-sigv4 (byte-identical URLs over random inputs), and
//! against the embedded store (it accepts what the presigner signs).

mod common;

use common::*;
use presign_bench::broker::presign::{Addressing, MAX_EXPIRY, PresignError, Presigner, reference};
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
        let theirs = reference::presign(&p, "PUT", &key, &[("content-length", &len), ("content-type", &content_type), ("if-none-match", "*")], expiry, now).unwrap();
        prop_assert_eq!(ours.url, theirs);
    }

    #[test]
    fn get_urls_are_byte_identical_to_aws_sigv4(p in presigner(), key in KEY, expiry in 1u64..=604_800, now in time()) {
        let expiry = Duration::from_secs(expiry);
        let ours = p.get(&key, expiry, now).unwrap();
        prop_assert_eq!(ours.url, reference::presign(&p, "GET", &key, &[], expiry, now).unwrap());
    }

    #[test]
    fn expiries_beyond_seven_days_are_refused(p in presigner(), extra in 1u64..1_000_000) {
        let err = p.get("k", MAX_EXPIRY + Duration::from_secs(extra), SystemTime::now()).unwrap_err();
        let refused = matches!(err, PresignError::ExpiryTooLong { .. });
        prop_assert!(refused);
    }
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
        let r = s
            .http
            .put(&put.url)
            .header("content-type", "image/jpeg")
            .header("if-none-match", "*")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "PUT {key:?}: {}", r.text().await.unwrap());
        let get = p.get(key, Duration::from_secs(300), now).unwrap();
        let r = s.http.get(&get.url).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {key:?}");
        assert_eq!(r.bytes().await.unwrap().to_vec(), body, "{key:?}");
    }
}
