//! Malware scanning with a real ClamAV daemon (Debian's clamd, signature database made locally):
//! an upload carrying the EICAR test string is caught and deleted on both stores, through the
//! presigned flow and through the proxy; a clean one is not; and a run counts what it caught.

use crate::common;

use common::{Stack, Store, jpeg};
use presign_bench::client::payload::EICAR;
use serde_json::Value;
use std::time::Duration;

const SIZE: usize = 64 * 1024;

/// Debian's clamd with the database and configuration `run` gives it, started directly (killed
/// when dropped: a SIGKILLed `clamd-node` would leave its clamd behind), and its address.
async fn clamd(dir: &std::path::Path) -> (tokio::process::Child, String) {
    use presign_bench::harness::clamd;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::create_dir_all(dir.join("db")).unwrap();
    std::fs::write(dir.join("db").join("presign-bench.ndb"), clamd::database()).unwrap();
    std::fs::write(dir.join("clamd.conf"), clamd::config(dir, port)).unwrap();
    let child = tokio::process::Command::new(clamd::CLAMD_BIN)
        .arg(format!("--config-file={}", dir.join("clamd.conf").display()))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{} (run tools/install-debian-packages.sh): {e}", clamd::CLAMD_BIN));
    let address = format!("127.0.0.1:{port}");
    let scanner = presign_bench::app::scan::Scanner::new(&address, presign_bench::metrics::Meter::new());
    let ready = common::eventually(Duration::from_secs(60), async || scanner.ping().await.is_ok()).await;
    assert!(ready, "clamd at {address} did not answer PING (log: {})", dir.join("clamd.log").display());
    (child, address)
}

/// A JPEG with the EICAR test string right after its first bytes.
fn infected(seed: u8) -> Vec<u8> {
    let mut body = jpeg(SIZE, seed);
    body[64..64 + EICAR.len()].copy_from_slice(EICAR);
    body
}

async fn presigned(s: &Stack, token: &str, body: Vec<u8>) -> (u16, Value) {
    let g = common::raw::grant(s, token, SIZE).await;
    let mut put = s.http.put(g["url"].as_str().unwrap());
    for (k, v) in g["headers"].as_object().unwrap() {
        put = put.header(k, v.as_str().unwrap());
    }
    assert_eq!(put.body(body).send().await.unwrap().status(), 200);
    let id = g["upload_id"].as_str().unwrap();
    let r = s.http.post(format!("{}/v1/uploads/{id}/complete", s.broker)).bearer_auth(token).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn proxied(s: &Stack, token: &str, body: Vec<u8>) -> (u16, Value) {
    let r = s
        .http
        .put(format!("{}/v1/proxy/uploads", s.proxy))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn eicar_is_caught(store: Store) {
    let dir = tempfile::tempdir().unwrap();
    let (_clamd, address) = clamd(dir.path()).await;
    let s = Stack::start_on(store, |c| c.clamd = Some(address.clone())).await;
    let token = s.token("erin");
    for (flow, path) in [("presigned", "files/"), ("proxied", "proxied/")] {
        let send = async |body| {
            if flow == "presigned" { presigned(&s, &token, body).await } else { proxied(&s, &token, body).await }
        };
        let (status, answer) = send(infected(1)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (422, Some("infected")), "{store:?} {flow}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("PresignBench.EICAR-Test-File"), "{answer}");
        let kept: Vec<String> =
            s.objects().await.into_iter().filter(|k| !k.starts_with("files/") || flow == "presigned").collect();
        assert!(kept.iter().all(|k| !k.starts_with(path) && !k.starts_with("uploads/")), "{store:?} {flow}: {kept:?}");
        let (status, answer) = send(jpeg(SIZE, 2)).await;
        assert!(status == 200 || status == 201, "{store:?} {flow}: a clean upload: {answer}");
    }
    let m = common::metrics(&s.broker).await;
    assert_eq!((m.scans.clean, m.scans.infected, m.scans.failed), (1, 1, 0), "{:?}", m.scans);
    assert!(m.scans.bytes >= 2 * SIZE as u64, "{:?}", m.scans);
    let m = common::metrics(&s.proxy).await;
    assert_eq!((m.scans.clean, m.scans.infected), (1, 1), "{:?}", m.scans);
}

#[tokio::test]
async fn eicar_is_caught_and_deleted_on_the_embedded_store() {
    eicar_is_caught(Store::Embedded).await;
}

#[tokio::test]
async fn eicar_is_caught_and_deleted_on_minio() {
    eicar_is_caught(Store::Minio).await;
}

#[tokio::test]
async fn a_run_scans_and_counts_what_it_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.toml");
    let text = "name = \"scan\"\ndescription = \"test\"\nmodes = [\"proxied\", \"presigned\"]\n[target]\nuploads = 100\n[run]\nuploads = 20\nconcurrency = 4\nobject_size = \"256KiB\"\ncontent_type = \"image/jpeg\"\nusers = 2\nseed = 5\nverify = \"all\"\ninfected_share = 0.25\n[signing]\nenabled = false\n[validation]\ntrigger = \"event\"\nscan = \"clamav\"\n[storage]\nkind = \"embedded\"\n";
    std::fs::write(&path, text).unwrap();
    let out = dir.path().join("report");
    let (ok, _, stderr) =
        common::run_bin(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()], Duration::from_secs(300))
            .await;
    assert!(ok || stderr.contains("failed"), "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    common::validate_results(&r).unwrap_or_else(|e| panic!("results.json breaks the schema:\n{e}"));
    for mode in ["proxied", "presigned"] {
        let m = &r["modes"][mode];
        let scan = &m["scan"];
        let sent = scan["infected_sent"].as_u64().unwrap();
        assert!(sent >= 1, "{mode}: the seed draws some of 20 uploads at 25%: {scan}");
        assert_eq!((scan["caught"].as_u64(), scan["missed"].as_u64()), (Some(sent), Some(0)), "{mode}: {scan}");
        assert_eq!(scan["infected"].as_u64(), Some(sent), "{mode}: {scan}");
        assert_eq!(m["uploads_ok"].as_u64().unwrap() + sent, 20, "{mode}: {m}");
        assert_eq!(
            m["errors"]["422"].as_u64().or(m["errors"]["http_422"].as_u64()),
            Some(sent),
            "{mode}: {}",
            m["errors"]
        );
        assert!(scan["scanner"]["peak_rss_bytes"].as_u64().unwrap() > 0, "{mode}: {scan}");
        assert!(scan["bytes"].as_u64().unwrap() >= 20 * 256 * 1024, "{mode}: {scan}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Malware scanning"));
}
