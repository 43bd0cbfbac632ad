//! The `audit` command: attacks the presigned flow of a real stack (store and broker started by
//! the harness, or an external S3 endpoint) and says, rule by rule, what held.
//!
//! Each attack is a [`Case`]: data (name, rule, severity, what is sent, the expected refusal,
//! what the broker does about it) plus a short function that sends it as real HTTP, built from
//! the shared steps in [`steps`]. The runner ([`run_cases`]) and the report are shared: adding a
//! case is a few lines in [`cases`].
//!
//! Exit code 1 (`exit::CHECKS_FAILED`) when a rule of severity high or critical is broken.

pub mod cases;
pub mod steps;
pub mod tamper;

use crate::gate;
use crate::gate::ChecksFailed;
use anyhow::Context;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::PathBuf;
pub use steps::{Auditor, Observed};

/// How bad a broken rule is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Hygiene.
    Low,
    /// A weakness with limited reach.
    Medium,
    /// Lets a client store or read what the design forbids.
    High,
    /// Lets anyone in.
    Critical,
}

/// What the case expects the stack to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// A refusal: any status of 400 or above.
    Refused,
    /// This exact status.
    Status(u16),
    /// A success (2xx), and for a read-back, the same bytes.
    Accepted,
}

impl Expect {
    fn describe(self) -> String {
        match self {
            Self::Refused => "refused (4xx)".into(),
            Self::Status(s) => format!("HTTP {s}"),
            Self::Accepted => "accepted (2xx), bytes intact".into(),
        }
    }

    fn holds(self, o: &Observed) -> bool {
        if let Some(judged) = o.held {
            return judged;
        }
        match self {
            Self::Refused => o.status >= 400,
            Self::Status(s) => o.status == s,
            Self::Accepted => (200..300).contains(&o.status),
        }
    }
}

/// A case's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ruling {
    /// The stack answered as the rule requires.
    Held,
    /// It let the attack through.
    Broken,
    /// The case cannot run against this stack (the reason is in the row).
    NotApplicable,
}

/// One attack, as data.
pub struct Case {
    /// Short unique name.
    pub name: &'static str,
    /// Where it is aimed: `store` or `broker` or `config`.
    pub target: &'static str,
    /// The rule it tests.
    pub rule: &'static str,
    /// How bad it is when broken.
    pub severity: Severity,
    /// What is sent.
    pub sent: &'static str,
    /// The answer the rule requires.
    pub expect: Expect,
    /// What the broker does about it if the store lets it through.
    pub remedy: &'static str,
    /// Sends it.
    pub run: for<'a> fn(&'a Auditor) -> steps::BoxFuture<'a, Result<Observed, String>>,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// The case.
    pub name: String,
    /// `store`, `broker` or `config`.
    pub target: String,
    /// The rule.
    pub rule: String,
    /// Its severity.
    pub severity: Severity,
    /// What was sent.
    pub sent: String,
    /// What the rule requires.
    pub expected: String,
    /// Observed status (0: no HTTP answer).
    pub status: u16,
    /// Observed error code (S3 `<Code>` or the broker's `error.code`), or a note.
    pub code: String,
    /// The verdict.
    pub verdict: Ruling,
    /// What the broker does about it.
    pub remedy: String,
}

/// The whole audit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditReport {
    /// The store audited (`embedded`, `minio`, or the endpoint URL) and its version when known.
    pub store: String,
    /// Length of the broker's token secret in bytes (never the secret).
    pub token_secret_bytes: usize,
    /// Every case.
    pub outcomes: Vec<Outcome>,
}

impl AuditReport {
    /// Broken rules of severity high or above.
    #[must_use]
    pub fn serious(&self) -> Vec<&Outcome> {
        self.outcomes.iter().filter(|o| o.verdict == Ruling::Broken && o.severity >= Severity::High).collect()
    }
}

/// Runs every case against `ctx`, one after another (they share one bucket and one broker).
pub async fn run_cases(ctx: &Auditor, cases: &[Case]) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(cases.len());
    for c in cases {
        let (status, code, verdict) = match tokio::time::timeout(steps::CASE_LIMIT, (c.run)(ctx)).await {
            Ok(Ok(o)) if o.not_applicable => (o.status, o.code.clone(), Ruling::NotApplicable),
            Ok(Ok(o)) => {
                let verdict = if c.expect.holds(&o) { Ruling::Held } else { Ruling::Broken };
                (o.status, o.code.clone(), verdict)
            }
            Ok(Err(e)) => (0, format!("could not run: {e}"), Ruling::NotApplicable),
            Err(_) => (0, format!("no answer within {:?}", steps::CASE_LIMIT), Ruling::NotApplicable),
        };
        out.push(Outcome {
            name: c.name.into(),
            target: c.target.into(),
            rule: c.rule.into(),
            severity: c.severity,
            sent: c.sent.into(),
            expected: c.expect.describe(),
            status,
            code,
            verdict,
            remedy: c.remedy.into(),
        });
    }
    out
}

/// What `audit` was asked.
#[derive(Clone, Debug)]
pub struct Options {
    /// `embedded`, `minio`, or an endpoint URL (credentials from the `AWS_*` variables).
    pub storage: Storage,
    /// An endpoint's bucket (`None`: `presign-bench`); it may exist already.
    pub bucket: Option<String>,
    /// The region requests to an endpoint are signed for.
    pub region: String,
    /// How the report is printed.
    pub format: gate::Format,
    /// Also write JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Also write audit.json, audit.md and the servers' logs here.
    pub out: Option<PathBuf>,
    /// S3 credentials for an endpoint.
    pub credentials: crate::storage::Credentials,
}

/// The store to audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// The embedded s3s-fs store.
    Embedded,
    /// A single-node MinIO.
    Minio,
    /// An S3 endpoint URL.
    Endpoint(String),
}

/// Runs `audit`.
///
/// # Errors
/// Servers that do not start (exit 3), outputs that cannot be written (exit 3), or
/// [`ChecksFailed`] naming the broken high-severity rules (exit 1).
pub async fn command(o: &Options) -> anyhow::Result<()> {
    let work = tempfile::Builder::new().prefix("presign-bench-audit").tempdir().context("a temporary directory")?;
    let logs = o.out.clone().unwrap_or_else(|| work.path().to_owned()).join("logs");
    std::fs::create_dir_all(&logs).with_context(|| logs.display().to_string())?;
    let storage = match &o.storage {
        Storage::Embedded => "[storage]\nkind = \"embedded\"\n".to_owned(),
        Storage::Minio => "[storage]\nkind = \"minio\"\n".to_owned(),
        Storage::Endpoint(url) => {
            let bucket = o.bucket.as_deref().unwrap_or("presign-bench");
            let fields = [("url", url.as_str()), ("bucket", bucket), ("region", o.region.as_str())];
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {}", toml_string(v))).collect();
            format!("[storage]\nkind = \"endpoint\"\n{}\n", fields.join("\n"))
        }
    };
    // The stores the audit starts allow one origin, so the CORS cases see both sides; an
    // endpoint's CORS belongs to its owner and is audited as it is.
    let cors = match &o.storage {
        Storage::Endpoint(_) => String::new(),
        _ => format!("[app_tier]\ncors_origins = [\"{}\"]\n", cases::cors::ALLOWED),
    };
    // Likewise a CDN in front of the stores it starts (it needs their keys), public and private.
    let cdn = match &o.storage {
        Storage::Endpoint(_) => "",
        _ => "[downloads]\nper_object = 1\ncdn = [\"public\", \"signed\"]\ncache_size = \"64MiB\"\n",
    };
    let text = format!(
        "name = \"audit\"\ndescription = \"presign-bench audit\"\n[run]\nuploads = 1\nobject_size = \"1KiB\"\n[broker]\nmax_size = \"8MiB\"\n{storage}{cors}{cdn}"
    );
    let scenario = crate::scenario::Scenario::parse("(audit)", &text, &crate::scenario::Overrides::default())?;
    let stack = crate::harness::stack::Stack::start(&scenario, &o.credentials, work.path(), &logs, None).await?;
    let store = match &o.storage {
        Storage::Embedded => "embedded (s3s-fs 0.14)".to_owned(),
        Storage::Minio => format!("minio ({})", stack.store_version.clone().unwrap_or_default()),
        Storage::Endpoint(url) => url.clone(),
    };
    let mut ctx = Auditor::new(&stack)?;
    ctx.cors_origin = scenario.cors_origins.first().cloned();
    let outcomes = run_cases(&ctx, &cases::all()).await;
    // Leave nothing behind, even in someone's bucket: every key the audit wrote is under
    // `<prefix>presign-bench-audit…`, a user no one else has.
    let prefixes: Vec<String> = [crate::app::policy::UPLOAD_PREFIX, crate::app::policy::FILE_PREFIX]
        .iter()
        .map(|p| format!("{p}{}", steps::AUDIT_PREFIX))
        .collect();
    let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let left = crate::harness::verify::keys_under(&stack.verifier, &stack.target.bucket, &prefixes).await;
    crate::harness::verify::delete_keys(&stack.verifier, &stack.target.bucket, &left).await;
    let report = AuditReport { store, token_secret_bytes: stack.secret.len(), outcomes };
    stack.stop().await;
    let markdown = markdown(&report);
    match o.format {
        gate::Format::Table => print!("{}", table(&report)),
        gate::Format::Markdown => print!("{markdown}"),
        gate::Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let junit: Vec<gate::junit::Case> = report
        .outcomes
        .iter()
        .map(|r| gate::junit::Case {
            name: format!("{} ({})", r.name, r.rule),
            failure: (r.verdict == Ruling::Broken).then(|| {
                format!("{:?} severity: expected {}, observed HTTP {} {}", r.severity, r.expected, r.status, r.code)
            }),
            skipped: (r.verdict == Ruling::NotApplicable).then(|| r.code.clone()),
        })
        .collect();
    if let Some(path) = &o.junit {
        gate::junit::write(path, "presign-bench audit", &junit).with_context(|| path.display().to_string())?;
    }
    if let Some(dir) = &o.out {
        let json = dir.join("audit.json");
        std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| json.display().to_string())?;
        let md = dir.join("audit.md");
        std::fs::write(&md, &markdown).with_context(|| md.display().to_string())?;
    }
    let serious: Vec<String> = report.serious().iter().map(|o| format!("{} ({:?})", o.name, o.severity)).collect();
    gate::github::publish(&markdown, &serious);
    if !serious.is_empty() {
        return Err(
            ChecksFailed(format!("{} high-severity rule(s) broken: {}", serious.len(), serious.join(", "))).into()
        );
    }
    Ok(())
}

/// `value` as a TOML basic string: JSON's string escapes are a subset of TOML's.
fn toml_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

fn counts(r: &AuditReport) -> String {
    let n = |v: Ruling| r.outcomes.iter().filter(|o| o.verdict == v).count();
    format!("{} held, {} broken, {} not applicable", n(Ruling::Held), n(Ruling::Broken), n(Ruling::NotApplicable))
}

fn verdict_text(v: Ruling) -> &'static str {
    match v {
        Ruling::Held => "held",
        Ruling::Broken => "BROKEN",
        Ruling::NotApplicable => "n/a",
    }
}

/// The report as a plain-text table.
#[must_use]
pub fn table(r: &AuditReport) -> String {
    use crate::columns::{self, Align};
    let mut out = format!(
        "presign-bench audit of {}: {} ({} cases); token secret: {} bytes\n\n",
        r.store,
        counts(r),
        r.outcomes.len(),
        r.token_secret_bytes
    );
    let rows: Vec<Vec<String>> = r
        .outcomes
        .iter()
        .map(|o| {
            vec![
                verdict_text(o.verdict).to_owned(),
                format!("{:?}", o.severity).to_lowercase(),
                o.name.clone(),
                o.status.to_string(),
                cut(&o.code, 28),
                o.rule.clone(),
            ]
        })
        .collect();
    out.push_str(&columns::table(
        &[],
        &[Align::Left, Align::Left, Align::Left, Align::Right, Align::Left, Align::Left],
        &rows,
    ));
    for o in r.outcomes.iter().filter(|o| o.verdict == Ruling::Broken) {
        let _ = writeln!(out, "\n{} is broken: sent {}; expected {}.\n  {}", o.name, o.sent, o.expected, o.remedy);
    }
    out
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_owned() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

/// The report as Markdown.
#[must_use]
pub fn markdown(r: &AuditReport) -> String {
    let mut out = format!(
        "### presign-bench audit: {}\n\n{} ({} cases). Token secret: {} bytes.\n\n| verdict | severity | case | rule | sent | observed | broker |\n| --- | --- | --- | --- | --- | --- | --- |\n",
        r.store,
        counts(r),
        r.outcomes.len(),
        r.token_secret_bytes
    );
    for o in &r.outcomes {
        let _ = writeln!(
            out,
            "| {} | {:?} | `{}` | {} | {} | {} {} | {} |",
            verdict_text(o.verdict),
            o.severity,
            o.name,
            o.rule,
            o.sent.replace('|', "\\|"),
            o.status,
            o.code.replace('|', "\\|"),
            o.remedy.replace('|', "\\|")
        );
    }
    out
}
