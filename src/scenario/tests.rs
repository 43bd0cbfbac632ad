//! Unit tests of scenario resolution: the documented shape, scale, rates, ranges, sweeps,
//! overrides, and errors that name file, line and key.

use super::*;

const GOOD: &str = r#"
name = "t"
description = "d"
modes = ["proxied", "presigned"]
[target]
uploads = 50000
[run]
uploads = 200
concurrency = 32
object_size = "10MiB"
content_type = "image/jpeg"
users = 1000
seed = 42
verify = "all"
[storage]
kind = "embedded"
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse("s.toml", text, &Overrides::default())
}

#[test]
fn parses_the_documented_shape() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.uploads, 200);
    assert_eq!(s.target_uploads, 50_000);
    assert_eq!(s.pacing, Pacing::Closed { concurrency: 32 });
    assert_eq!(s.object_size, ObjectSize::Fixed(10 * 1024 * 1024));
    assert_eq!(s.modes, vec![Mode::Proxied, Mode::Presigned]);
    assert_eq!(s.storage, Storage::Embedded);
    assert_eq!(s.signing, Some(Signing { duration_ms: 5000, concurrency: 64 }));
    let off = parse(&format!("{GOOD}[signing]\nenabled = false\n")).unwrap();
    assert_eq!(off.signing, None);
    let short = parse(&format!("{GOOD}[signing]\nduration = \"1s\"\nconcurrency = 8\n")).unwrap();
    assert_eq!(short.signing, Some(Signing { duration_ms: 1000, concurrency: 8 }));
    let e = parse(&format!("{GOOD}[signing]\nduration = \"0s\"\n")).unwrap_err().to_string();
    assert!(e.contains("`signing.duration`"), "{e}");
}

#[test]
fn scale_rate_and_ranges() {
    let text = GOOD
        .replace("uploads = 200", "scale = 0.004")
        .replace("concurrency = 32", "concurrency = 8\nrate = \"600/min\"")
        .replace("object_size = \"10MiB\"", "object_size = { min = \"1MiB\", max = \"2MiB\" }")
        .replace("verify = \"all\"", "verify = { sample = 5 }");
    let s = parse(&text).unwrap();
    assert_eq!(s.uploads, 200);
    assert_eq!(s.pacing, Pacing::Open { rate_per_sec: 10.0, max_in_flight: 8 });
    assert_eq!(s.object_size, ObjectSize::Range { min: 1 << 20, max: 2 << 20 });
    assert_eq!(s.verify, Verify::Sample(5));
}

#[test]
fn sweeps() {
    let text = GOOD.replace("object_size = \"10MiB\"", "object_size = { sweep = [\"1MiB\", \"4KiB\", \"1MiB\"] }");
    let s = parse(&text).unwrap();
    assert_eq!(s.sweep, vec![4096, 1 << 20]);
    assert_eq!(s.object_size, ObjectSize::Fixed(4096));
    let e =
        parse(&GOOD.replace("object_size = \"10MiB\"", "object_size = { sweep = [\"4KiB\", \"2GiB\"] }")).unwrap_err();
    assert!(e.to_string().contains("maximum"), "{e}");
    let e = parse(&GOOD.replace("object_size = \"10MiB\"", "object_size = { sweep = [] }")).unwrap_err();
    assert!(e.to_string().contains("at least one size"), "{e}");
}

#[test]
fn overrides_win_and_bad_ones_name_the_flag() {
    let o = Overrides {
        uploads: Some(3),
        object_size: Some("1MiB".into()),
        modes: Some(vec![Mode::Presigned]),
        ..Overrides::default()
    };
    let s = Scenario::parse("s.toml", GOOD, &o).unwrap();
    assert_eq!((s.uploads, s.object_size, s.modes), (3, ObjectSize::Fixed(1 << 20), vec![Mode::Presigned]));
    let o = Overrides { rate: Some("fast".into()), ..Overrides::default() };
    let e = Scenario::parse("s.toml", GOOD, &o).unwrap_err().to_string();
    assert!(e.starts_with("--rate: "), "{e}");
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn errors_name_file_line_and_key() {
    let e = error(&GOOD.replace("concurrency = 32", "concurency = 32"));
    assert!(e.starts_with("s.toml:9:"), "{e}");
    assert!(e.contains("concurency"), "{e}");
    let e = error(&GOOD.replace("object_size = \"10MiB\"", "object_size = \"0\""));
    assert!(e.starts_with("s.toml:10:") && e.contains("`run.object_size`"), "{e}");
    let e = error(&GOOD.replace("object_size = \"10MiB\"", "object_size = \"1GiB\""));
    assert!(e.contains("`run.object_size`") && e.contains("maximum"), "{e}");
    let e = error(&GOOD.replace("concurrency = 32", "concurrency = \"many\""));
    assert!(e.starts_with("s.toml:9:") && e.contains("`run.concurrency`"), "{e}");
    let e = error(&GOOD.replace("modes = [\"proxied\", \"presigned\"]", "modes = [\"carrier-pigeon\"]"));
    assert!(e.starts_with("s.toml:4:") && e.contains("`modes`") && e.contains("carrier-pigeon"), "{e}");
    let e = error(&GOOD.replace("verify = \"all\"", "verify = \"some\""));
    assert!(e.contains("`run.verify`"), "{e}");
    let e = error(&GOOD.replace("kind = \"embedded\"", "kind = \"floppy\""));
    assert!(e.contains("`storage.kind`") && e.contains("floppy"), "{e}");
    let e = error(&GOOD.replace("users = 1000", "users = 0"));
    assert!(e.contains("`run.users`"), "{e}");
    let e = error(&GOOD.replace("users = 1000", "users = 1000\nclient_bandwidth = \"fast\""));
    assert!(e.contains("`run.client_bandwidth`") && e.contains("fast"), "{e}");
    let e = error(&GOOD.replace("users = 1000", "users = 1000\nrtt = \"soon\""));
    assert!(e.contains("`run.rtt`"), "{e}");
    let e = error("name = \"x\"\n[run\n");
    assert!(e.starts_with("s.toml:2:"), "{e}");
}

#[test]
fn cors_origins_are_web_origins() {
    let s =
        parse(&format!("{GOOD}[app_tier]\ncors_origins = [\"https://app.example.com\", \"http://127.0.0.1:8088\"]\n"))
            .unwrap();
    assert_eq!(s.cors_origins, ["https://app.example.com", "http://127.0.0.1:8088"]);
    assert!(parse(GOOD).unwrap().cors_origins.is_empty(), "none by default");
    let e = error(&format!("{GOOD}[app_tier]\ncors_origins = [\"https://ok.example\", \"*\"]\n"));
    assert!(e.starts_with("s.toml:18:") && e.contains("`app_tier.cors_origins`") && e.contains("\"*\""), "{e}");
}

#[test]
fn the_app_tier_http_version_is_1_1_or_2() {
    assert_eq!(parse(GOOD).unwrap().app_http, HttpVersion::Http1, "HTTP/1.1 by default");
    assert_eq!(parse(&format!("{GOOD}[app_tier]\nhttp = \"2\"\n")).unwrap().app_http, HttpVersion::Http2);
    let e = error(&format!("{GOOD}[app_tier]\nhttp = \"3\"\n"));
    assert!(e.starts_with("s.toml:18:") && e.contains("`app_tier.http`") && e.contains("`3`"), "{e}");
}

#[test]
fn minio_storage_and_its_errors() {
    let s = parse(&GOOD.replace("kind = \"embedded\"", "kind = \"minio\"\nnodes = 4\ndrives_per_node = 2")).unwrap();
    assert_eq!(s.storage, Storage::Minio { nodes: 4, drives_per_node: 2, data_dir: None });
    let s = parse(&GOOD.replace("kind = \"embedded\"", "kind = \"minio\"\ndata_dir = \"/d\"")).unwrap();
    assert_eq!(s.storage, Storage::Minio { nodes: 1, drives_per_node: 1, data_dir: Some("/d".into()) });
    let e = error(&GOOD.replace("kind = \"embedded\"", "kind = \"minio\"\nnodes = 2"));
    assert!(e.starts_with("s.toml:17:9:") && e.contains("`storage.nodes`") && e.contains("at least 4 drives"), "{e}");
    let e = error(&GOOD.replace("kind = \"embedded\"", "kind = \"minio\"\ndrives_per_node = 0"));
    assert!(e.contains("`storage.drives_per_node`") && e.contains("from 1 to 16"), "{e}");
    // `--storage minio` replaces the file's store: one node unless the file says more.
    let o = Overrides { storage: Some(StorageKind::Minio), ..Overrides::default() };
    let s = Scenario::parse("s.toml", GOOD, &o).unwrap();
    assert_eq!(s.storage, Storage::Minio { nodes: 1, drives_per_node: 1, data_dir: None });
}

#[test]
fn container_storage_needs_an_image() {
    let s = parse(&GOOD.replace("kind = \"embedded\"", "kind = \"container\"\nimage = \"minio-local:1\"")).unwrap();
    assert_eq!(s.storage, Storage::Container { image: "minio-local:1".into() });
    let e = error(&GOOD.replace("kind = \"embedded\"", "kind = \"container\""));
    assert!(e.contains("`storage.kind`") && e.contains("needs `image`"), "{e}");
}

#[test]
fn multipart_keys_resolve_and_their_errors_name_the_key() {
    let with = |keys: &str| parse(&GOOD.replace("verify = \"all\"", &format!("verify = \"all\"\n{keys}")));
    let s = with("multipart_threshold = \"8MiB\"\npart_size = \"5MiB\"\nparts_in_flight = 2").unwrap();
    let mib = 1024 * 1024;
    assert_eq!(s.multipart, Some(Multipart { threshold_bytes: 8 * mib, part_size_bytes: 5 * mib, parts_in_flight: 2 }));
    // Defaults: 16 MiB parts, 4 in flight.
    let s = with("multipart_threshold = \"8MiB\"").unwrap();
    assert_eq!(s.multipart.map(|m| (m.part_size_bytes, m.parts_in_flight)), Some((16 * mib, 4)));
    assert_eq!(parse(GOOD).unwrap().multipart, None);
    let message = |keys: &str| with(keys).unwrap_err().to_string();
    assert!(message("part_size = \"5MiB\"").contains("`run.part_size`: needs `multipart_threshold`"));
    assert!(message("multipart_threshold = \"8MiB\"\npart_size = \"1MiB\"").contains("`run.part_size`: part_size"));
    assert!(message("multipart_threshold = \"6GiB\"").contains("`run.multipart_threshold`"));
    assert!(
        message("multipart_threshold = \"8MiB\"\nparts_in_flight = 65").contains("`run.parts_in_flight`: at most 64")
    );
    // Above 5 GiB, one PUT cannot carry an object: the scenario must say how to cut it.
    let big = GOOD.replace("object_size = \"10MiB\"", "object_size = \"6GiB\"") + "[broker]\nmax_size = \"8GiB\"\n";
    let e = parse(&big).unwrap_err().to_string();
    assert!(e.starts_with("s.toml:10:") && e.contains("`run.object_size`") && e.contains("multipart_threshold"), "{e}");
}

#[test]
fn downloads_resolve_and_their_errors_name_the_key() {
    let s = parse(&format!("{GOOD}[downloads]\nper_object = 3\n")).unwrap();
    let plain =
        Downloads { per_object: 3, views: None, cdn: CdnReads::default(), cache_bytes: 1 << 30, cookie_ttl_s: 600 };
    assert_eq!(s.downloads, Some(plain));
    assert_eq!(parse(GOOD).unwrap().downloads, None);
    let e = parse(&format!("{GOOD}[downloads]\nper_object = 0\n")).unwrap_err().to_string();
    assert!(e.contains("`downloads.per_object`: must be from 1 to 1000"), "{e}");
    let e = parse(&format!("{GOOD}[downloads]\nper_object = 2\nrange = \"1MiB\"\n")).unwrap_err().to_string();
    assert!(e.contains("range"), "{e}");
}

#[test]
fn views_by_popularity_and_cdn_reads_resolve_and_their_errors_name_the_key() {
    let text = format!(
        "{GOOD}[downloads]\nviews = 5000\nviewers = 40\npopularity = {{ zipf = 1.1 }}\n\
         cdn = [\"public\", \"signed\"]\ncache_size = \"64MiB\"\ncookie_ttl = \"5m\"\n"
    );
    let d = parse(&text).unwrap().downloads.unwrap();
    assert_eq!(d.views, Some(Views { views: 5000, viewers: 40, zipf: Some(1.1) }));
    assert_eq!(d.cdn, CdnReads { public: true, signed: true, presigned: false });
    assert_eq!((d.cache_bytes, d.cookie_ttl_s), (64 << 20, 300));
    assert!((d.per_object(2000) - 2.5).abs() < 1e-9);
    let uniform = parse(&format!("{GOOD}[downloads]\nviews = 10\npopularity = \"uniform\"\n")).unwrap();
    assert_eq!(uniform.downloads.unwrap().views, Some(Views { views: 10, viewers: 100, zipf: None }));
    for (body, expect) in [
        ("per_object = 2\nviews = 3\n", "`downloads.per_object`: give either per_object or views"),
        ("viewers = 3\n", "`downloads.viewers`: applies to views"),
        ("views = 3\npopularity = { zipf = 0 }\n", "`downloads.popularity`: the zipf exponent"),
        ("views = 3\npopularity = \"long-tail\"\n", "`downloads.popularity`: expected"),
        ("views = 3\ncdn = [\"edge\"]\n", "`downloads.cdn`: `edge` is not a CDN read"),
        ("views = 3\ncookie_ttl = \"2h\"\n", "`downloads.cookie_ttl`: from 1s to 1h"),
        ("views = 3\ncache_size = \"1KiB\"\n", "`downloads.cache_size`: at least 1MiB"),
        ("cache_size = \"1GiB\"\n", "`downloads`: missing"),
    ] {
        let e = parse(&format!("{GOOD}[downloads]\n{body}")).unwrap_err().to_string();
        assert!(e.contains(expect), "{body}: {e}");
    }
}

#[test]
fn validation_by_events_needs_a_store_the_harness_starts() {
    assert_eq!(parse(GOOD).unwrap().validation.trigger, Trigger::Completion);
    let events = parse(&format!("{GOOD}[validation]\ntrigger = \"event\"\n")).unwrap();
    assert_eq!(events.validation.trigger, Trigger::Event);
    let bad = parse(&format!("{GOOD}[validation]\ntrigger = \"sometimes\"\n")).unwrap_err().to_string();
    assert!(bad.contains("s.toml:18") && bad.contains("validation.trigger"), "{bad}");
    assert!(bad.contains("\"completion\" or \"event\""), "{bad}");
    let endpoint = GOOD.replace(
        "kind = \"embedded\"",
        "kind = \"endpoint\"\nurl = \"http://127.0.0.1:9\"\nbucket = \"b\"\n[validation]\ntrigger = \"event\"",
    );
    let err = parse(&endpoint).unwrap_err().to_string();
    assert!(err.contains("validation.trigger") && err.contains("embedded or minio"), "{err}");
}
