//! Inside GitHub Actions: the step summary (`GITHUB_STEP_SUMMARY`) and `::error::` annotations.
//! Outside, nothing.

use std::path::Path;

/// Inside GitHub Actions: appends `markdown` to the step summary (`GITHUB_STEP_SUMMARY`) and
/// prints one `::error::` annotation per failure (`GITHUB_ACTIONS`). Outside, does nothing.
pub fn publish(markdown: &str, failures: &[String]) {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        use std::io::Write as _;
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(format!("{markdown}\n").as_bytes()));
        if let Err(e) = appended {
            tracing::warn!("cannot append to GITHUB_STEP_SUMMARY {}: {e}", Path::new(&path).display());
        }
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        for f in failures {
            // Workflow commands end at a newline; `%` and newlines are escaped as GitHub documents.
            let escaped = f.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
            println!("::error title=presign-bench::{escaped}");
        }
    }
}
