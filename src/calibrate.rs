//! The `calibrate` command: the ceiling of the harness's own HTTP client, measured against wrk
//! and oha (when they are on `PATH`; this command installs nothing) on the same targets in one
//! run: `GET /healthz` of a fresh broker, and 1 MiB PUTs to the embedded store through a
//! presigned URL. Rounds alternate between the clients, so a neighbour's load falls on all of
//! them; each row gives min/median/max requests per second and requests per client CPU-second.

use crate::harness::children::Server;
use crate::signbench::Spread;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// Length of each measurement.
    pub duration: Duration,
    /// Rounds (each runs every client once on each target).
    pub rounds: usize,
    /// Requests in flight.
    pub concurrency: u64,
    /// How the report is printed.
    pub format: crate::report::Format,
}

/// A client being measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Harness,
    Wrk,
    Oha,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Self::Harness => "presign-bench",
            Self::Wrk => "wrk",
            Self::Oha => "oha",
        }
    }
}

/// A target of the clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Healthz,
    /// The request the runs make most: a presign, POSTed with a JSON body and a bearer token.
    Presign,
    Put,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz (broker)",
            Self::Presign => "POST /v1/uploads (broker, presign)",
            Self::Put => "PUT 1 MiB (store, presigned)",
        }
    }
}

/// The presign request's body, as a run's upload sends it.
const PRESIGN_BODY: &str = r#"{"filename":"calibrate.jpg","content_type":"image/jpeg","size":1048576}"#;

/// The targets' requests: each URL, and the presign's bearer token.
struct Targets {
    healthz: String,
    presign: String,
    token: String,
    put: String,
}

/// Bytes of each PUT's body.
const PUT_BYTES: usize = 1024 * 1024;

/// One client on one target, over the rounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Row {
    /// What was requested.
    pub target: String,
    /// Which client.
    pub client: String,
    /// Successful requests per second.
    pub requests_per_sec: Spread,
    /// Successful requests per CPU-second of the client.
    pub requests_per_cpu_second: Spread,
    /// Failed requests over all rounds.
    pub failed: u64,
}

/// The whole measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Every client on every target.
    pub rows: Vec<Row>,
    /// Clients that were not measured, and why.
    pub missing: Vec<String>,
    /// presign-bench ÷ wrk on `/healthz`, medians (absent without wrk).
    pub healthz_vs_wrk: Option<f64>,
    /// presign-bench ÷ oha on `/healthz`, medians (absent without oha).
    pub healthz_vs_oha: Option<f64>,
    /// presign-bench ÷ wrk on the presign request, medians (absent without wrk).
    #[serde(default)]
    pub presign_vs_wrk: Option<f64>,
    /// presign-bench ÷ oha on the presign request, medians (absent without oha).
    #[serde(default)]
    pub presign_vs_oha: Option<f64>,
    /// Length of each measurement, milliseconds.
    pub duration_ms: u64,
    /// Rounds.
    pub rounds: usize,
    /// Requests in flight.
    pub concurrency: u64,
}

/// One measurement: successful and failed requests, wall and client CPU seconds.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    ok: u64,
    failed: u64,
    seconds: f64,
    cpu_seconds: f64,
}

/// `name` on `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// Runs `calibrate`.
///
/// # Errors
/// Servers that do not start, or a client that cannot be run.
pub async fn command(o: &Options) -> anyhow::Result<()> {
    let work = tempfile::Builder::new().prefix("presign-bench-calibrate").tempdir().context("a temporary directory")?;
    let (servers, targets) = start(work.path()).await?;
    let measured = measure(o, &targets, work.path()).await;
    futures_util::future::join_all(servers.into_iter().map(Server::stop)).await;
    let report = measured?;
    match o.format {
        crate::report::Format::Table => print!("{}", table(&report)),
        crate::report::Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(())
}

/// The store and the broker (in that order), and the targets: a presigned PUT URL that takes any
/// body (only `host` is signed, so the same URL overwrites one object, request after request),
/// and a token the broker takes for presigns.
async fn start(work: &Path) -> anyhow::Result<(Vec<Server>, Targets)> {
    let (servers, c, secret) = crate::harness::local::start(work, "calibrate", &[], &[("broker", Vec::new())]).await?;
    let token = crate::app::auth::Tokens::new(secret.as_bytes()).mint("calibrate", Duration::from_secs(3600));
    let signer = crate::sigv4::Presigner::new(
        &servers[0].url,
        "calibrate",
        "us-east-1",
        &c.access_key,
        &c.secret_key,
        crate::sigv4::Addressing::Path,
    );
    let url = signer.and_then(|s| s.sign("PUT", "calibrate/object", &[], Duration::from_secs(3600), SystemTime::now()));
    match (url, token) {
        (Ok(put), Ok(token)) => {
            let broker = &servers[1].url;
            let targets =
                Targets { healthz: format!("{broker}/healthz"), presign: format!("{broker}/v1/uploads"), token, put };
            Ok((servers, targets))
        }
        (Err(e), _) => {
            futures_util::future::join_all(servers.into_iter().map(Server::stop)).await;
            Err(e.into())
        }
        (_, Err(e)) => {
            futures_util::future::join_all(servers.into_iter().map(Server::stop)).await;
            Err(anyhow::anyhow!(e))
        }
    }
}

/// Every available client on every target, `rounds` times, alternating.
async fn measure(o: &Options, targets: &Targets, work: &Path) -> anyhow::Result<Report> {
    let mut tools = vec![Tool::Harness];
    let mut missing = Vec::new();
    for (tool, how) in [(Tool::Wrk, "apt-get install wrk"), (Tool::Oha, "cargo install oha")] {
        if on_path(tool.name()).is_some() {
            tools.push(tool);
        } else {
            missing.push(format!("{}: not on PATH ({how})", tool.name()));
        }
    }
    let body_file = work.join("body.bin");
    std::fs::write(&body_file, vec![b'x'; PUT_BYTES]).context("the PUT body file")?;
    let put_lua = work.join("put.lua");
    std::fs::write(&put_lua, format!("wrk.method = \"PUT\"\nwrk.body = string.rep(\"x\", {PUT_BYTES})\n"))
        .context("the wrk script")?;
    let presign_lua = work.join("presign.lua");
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = '{PRESIGN_BODY}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
        targets.token
    );
    std::fs::write(&presign_lua, script).context("the wrk script")?;
    let mut samples: Vec<((Target, Tool), Vec<Sample>)> = Vec::new();
    for _ in 0..o.rounds.max(1) {
        for target in [Target::Healthz, Target::Presign, Target::Put] {
            for &tool in &tools {
                let url = match target {
                    Target::Healthz => &targets.healthz,
                    Target::Presign => &targets.presign,
                    Target::Put => &targets.put,
                };
                let sample = match tool {
                    Tool::Harness => harness(o, target, url, &targets.token).await?,
                    Tool::Wrk | Tool::Oha => {
                        let how = External {
                            lua: if target == Target::Put { &put_lua } else { &presign_lua },
                            body: &body_file,
                            token: &targets.token,
                        };
                        external(o, tool, target, url, &how).await?
                    }
                };
                match samples.iter_mut().find(|(k, _)| *k == (target, tool)) {
                    Some((_, v)) => v.push(sample),
                    None => samples.push(((target, tool), vec![sample])),
                }
            }
        }
    }
    let rows: Vec<Row> = samples
        .into_iter()
        .map(|((target, tool), v)| {
            #[allow(clippy::cast_precision_loss)] // request counts
            let rate = |s: &Sample| s.ok as f64 / s.seconds.max(1e-9);
            #[allow(clippy::cast_precision_loss)]
            let per_cpu = |s: &Sample| if s.cpu_seconds > 0.0 { s.ok as f64 / s.cpu_seconds } else { 0.0 };
            Row {
                target: target.name().to_owned(),
                client: tool.name().to_owned(),
                requests_per_sec: Spread::of(v.iter().map(rate).collect()),
                requests_per_cpu_second: Spread::of(v.iter().map(per_cpu).collect()),
                failed: v.iter().map(|s| s.failed).sum(),
            }
        })
        .collect();
    let median = |tool: Tool, target: Target| {
        rows.iter().find(|r| r.client == tool.name() && r.target == target.name()).map(|r| r.requests_per_sec.median)
    };
    let versus = |tool, target| {
        median(Tool::Harness, target).zip(median(tool, target)).map(|(h, t)| if t > 0.0 { h / t } else { 0.0 })
    };
    Ok(Report {
        healthz_vs_wrk: versus(Tool::Wrk, Target::Healthz),
        healthz_vs_oha: versus(Tool::Oha, Target::Healthz),
        presign_vs_wrk: versus(Tool::Wrk, Target::Presign),
        presign_vs_oha: versus(Tool::Oha, Target::Presign),
        rows,
        missing,
        duration_ms: u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
        rounds: o.rounds,
        concurrency: o.concurrency,
    })
}

async fn harness(o: &Options, target: Target, url: &str, token: &str) -> anyhow::Result<Sample> {
    let mut headers = http::HeaderMap::new();
    let (method, body) = match target {
        Target::Healthz => (http::Method::GET, bytes::Bytes::new()),
        Target::Presign => {
            headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            let bearer = http::HeaderValue::from_str(&format!("Bearer {token}")).context("the token")?;
            headers.insert(http::header::AUTHORIZATION, bearer);
            (http::Method::POST, bytes::Bytes::from_static(PRESIGN_BODY.as_bytes()))
        }
        Target::Put => (http::Method::PUT, bytes::Bytes::from(vec![b'x'; PUT_BYTES])),
    };
    let uri: http::Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    let l = crate::client::load((method, uri, headers), body, o.concurrency, o.duration).await;
    Ok(Sample { ok: l.ok, failed: l.failed, seconds: l.seconds, cpu_seconds: l.cpu_seconds })
}

/// CPU seconds of the children this process has waited for.
fn children_cpu() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |u| {
        let s = |t: nix::sys::time::TimeVal| {
            #[allow(clippy::cast_precision_loss)] // seconds of CPU time
            let v = t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            v
        };
        s(u.user_time()) + s(u.system_time())
    })
}

/// What wrk and oha need beyond the URL: wrk's script for the target, the PUT's body file and the
/// presign's token.
struct External<'a> {
    lua: &'a Path,
    body: &'a Path,
    token: &'a str,
}

/// Runs wrk or oha once and reads its counts from its output.
async fn external(o: &Options, tool: Tool, target: Target, url: &str, how: &External<'_>) -> anyhow::Result<Sample> {
    let secs = format!("{}s", o.duration.as_secs());
    let connections = o.concurrency.to_string();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get).to_string();
    let mut cmd = tokio::process::Command::new(tool.name());
    if tool == Tool::Wrk {
        cmd.args(["-t", &threads, "-c", &connections, "-d", &secs, "--timeout", "30s"]);
        if target != Target::Healthz {
            cmd.arg("-s").arg(how.lua);
        }
    } else {
        cmd.args(["-z", &secs, "-c", &connections, "--no-tui", "--output-format", "json"]);
        match target {
            Target::Healthz => {}
            Target::Presign => {
                cmd.args(["-m", "POST", "-T", "application/json", "-d", PRESIGN_BODY]);
                cmd.args(["-H", &format!("Authorization: Bearer {}", how.token)]);
            }
            Target::Put => {
                cmd.args(["-m", "PUT", "-D"]).arg(how.body);
            }
        }
    }
    cmd.arg(url).kill_on_drop(true);
    let cpu = children_cpu();
    let limit = o.duration * 3 + Duration::from_secs(30);
    let out = tokio::time::timeout(limit, cmd.output())
        .await
        .with_context(|| format!("{} did not finish within {limit:?}", tool.name()))?
        .with_context(|| format!("running {}", tool.name()))?;
    let cpu_seconds = (children_cpu() - cpu).max(0.0);
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "{} failed: {}{}", tool.name(), text, String::from_utf8_lossy(&out.stderr));
    let (ok, failed, seconds) = match tool {
        Tool::Wrk => parse_wrk(&text),
        _ => parse_oha(&text),
    }
    .with_context(|| format!("reading {}'s output: {text}", tool.name()))?;
    Ok(Sample { ok, failed, seconds, cpu_seconds })
}

/// `(ok, failed, seconds)` from wrk's report: `N requests in 5.00s`, and its error lines.
fn parse_wrk(text: &str) -> anyhow::Result<(u64, u64, f64)> {
    let line = text.lines().find(|l| l.contains(" requests in ")).context("no `requests in` line")?;
    let mut words = line.split_whitespace();
    let total: u64 = words.next().context("no count")?.parse()?;
    let time = words.nth(2).context("no time")?.trim_end_matches(',');
    let seconds = humantime::parse_duration(time)
        .map(|d| d.as_secs_f64())
        .or_else(|_| time.trim_end_matches('s').parse::<f64>().map_err(|e| anyhow::anyhow!("{time}: {e}")))?;
    let number_after = |label: &str| -> u64 {
        text.lines().find_map(|l| l.trim().strip_prefix(label)).map_or(0, |rest| {
            rest.trim().split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).unwrap_or(0)
        })
    };
    let non_2xx = number_after("Non-2xx or 3xx responses:");
    let socket: u64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map_or(0, |rest| rest.split(',').filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok()).sum());
    Ok((total.saturating_sub(non_2xx), non_2xx + socket, seconds))
}

/// `(ok, failed, seconds)` from oha's JSON report.
fn parse_oha(text: &str) -> anyhow::Result<(u64, u64, f64)> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let seconds = v["summary"]["total"].as_f64().context("no summary.total")?;
    let mut ok = 0;
    let mut failed = 0;
    for (status, n) in v["statusCodeDistribution"].as_object().context("no statusCodeDistribution")? {
        let n = n.as_u64().unwrap_or(0);
        if status.starts_with('2') { ok += n } else { failed += n }
    }
    // Requests still in flight when the time is up are not failures (wrk does not count them).
    let errors = v["errorDistribution"].as_object();
    let counted = errors.into_iter().flatten().filter(|(what, _)| !what.contains("aborted due to deadline"));
    failed += counted.filter_map(|(_, n)| n.as_u64()).sum::<u64>();
    Ok((ok, failed, seconds))
}

/// The report as a table.
#[must_use]
pub fn table(r: &Report) -> String {
    use std::fmt::Write;
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let s = row.requests_per_sec;
            vec![
                row.target.clone(),
                row.client.clone(),
                format!("{:.0}", s.min),
                format!("{:.0}", s.median),
                format!("{:.0}", s.max),
                format!("{:.0}", row.requests_per_cpu_second.median),
                row.failed.to_string(),
            ]
        })
        .collect();
    let header = ["target", "client", "min req/s", "median", "max", "req/CPU-s (med)", "failed"];
    let mut out = crate::columns::table(&header, &[crate::columns::Align::Left, crate::columns::Align::Left], &rows);
    let ratios = [
        ("wrk", "/healthz", r.healthz_vs_wrk),
        ("oha", "/healthz", r.healthz_vs_oha),
        ("wrk", "the presign request", r.presign_vs_wrk),
        ("oha", "the presign request", r.presign_vs_oha),
    ];
    for (name, on, ratio) in ratios {
        if let Some(x) = ratio {
            let _ = writeln!(out, "\npresign-bench's client reaches {x:.2}x {name}'s rate on {on} (medians, this run)");
        }
    }
    for m in &r.missing {
        let _ = writeln!(out, "not measured: {m}");
    }
    let _ = writeln!(
        out,
        "({} rounds of {} ms, {} in flight, clients alternating)",
        r.rounds, r.duration_ms, r.concurrency
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_reports_are_read() {
        let text = "Running 1s test @ http://127.0.0.1:1/healthz\n  2 threads and 8 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency    95.42us   40.10us   1.26ms   88.95%\n  76543 requests in 1.00s, 9.34MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 40\nRequests/sec:  76500.12\nTransfer/sec:      9.33MB\n";
        assert_eq!(parse_wrk(text).unwrap(), (76503, 43, 1.0));
        let clean = "  100 requests in 2.50s, 1.00KB read\nRequests/sec: 40.0\n";
        assert_eq!(parse_wrk(clean).unwrap(), (100, 0, 2.5));
        assert!(parse_wrk("nothing").is_err());
    }

    #[test]
    fn oha_reports_are_read() {
        let text = r#"{"summary":{"successRate":0.99,"total":2.0,"requestsPerSec":50.0},"statusCodeDistribution":{"200":99,"503":1},"errorDistribution":{"connection closed":2,"aborted due to deadline":64}}"#;
        assert_eq!(parse_oha(text).unwrap(), (99, 3, 2.0));
        assert!(parse_oha("{}").is_err());
    }
}
