//! Criterion benchmarks of presigning one PUT URL: the broker's presigner, the aws-sigv4 crate,
//! and aws-sdk-s3's `presigned()`. `cargo bench --bench presign`.

use criterion::{Criterion, criterion_group, criterion_main};
use presign_bench::sigv4::{Addressing, PUT_SIGNED_HEADERS, Presigner, yardstick};
use presign_bench::storage::{Credentials, client::S3Target};
use std::hint::black_box;
use std::time::{Duration, SystemTime};

const KEY: &str = "uploads/user-42/5f0c6e2a-1b7d-4c39-9a53-0d7f3c2b8e11.jpg";
const EXPIRY: Duration = Duration::from_secs(600);
const SIZE: u64 = 10 * 1024 * 1024;

fn presigner() -> Presigner {
    Presigner::new(
        "http://127.0.0.1:9000",
        "uploads",
        "us-east-1",
        "presign-bench",
        "presign-bench-secret",
        Addressing::Path,
    )
    .expect("valid endpoint")
}

fn presign(c: &mut Criterion) {
    let p = presigner();
    let mut group = c.benchmark_group("presign_put");
    group.bench_function("presign-bench", |b| {
        b.iter(|| p.put_url(black_box(KEY), "image/jpeg", SIZE, EXPIRY, SystemTime::now()).expect("signs"));
    });
    group.bench_function("presign-bench (with response headers)", |b| {
        b.iter(|| p.put(black_box(KEY), "image/jpeg", SIZE, EXPIRY, SystemTime::now()).expect("signs"));
    });
    let len = SIZE.to_string();
    group.bench_function("aws-sigv4", |b| {
        b.iter(|| {
            let [a, b, c] = PUT_SIGNED_HEADERS;
            let headers = [(a, len.as_str()), (b, "image/jpeg"), (c, "*")];
            yardstick::aws_sigv4_url(&p, "PUT", black_box(KEY), &headers, EXPIRY, SystemTime::now()).expect("signs")
        });
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let target = S3Target {
        endpoint: "http://127.0.0.1:9000".into(),
        region: "us-east-1".into(),
        bucket: "uploads".into(),
        credentials: Credentials::default(),
        ca_pem: None,
    };
    let client = aws_sdk_s3::Client::from_conf(presign_bench::storage::client::config(&target).build());
    group.bench_function("aws-sdk-s3 presigned()", |b| {
        b.iter(|| {
            rt.block_on(async {
                let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(EXPIRY).expect("valid expiry");
                let put = client.put_object().bucket("uploads").key(black_box(KEY)).content_type("image/jpeg");
                put.content_length(10 * 1024 * 1024).presigned(config).await.expect("signs")
            })
        });
    });
    group.finish();
}

criterion_group!(benches, presign);
criterion_main!(benches);
