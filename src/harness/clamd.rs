//! ClamAV's daemon for a run (`[validation] scan = "clamav"`): Debian's `clamd`
//! (`clamav-daemon`, installed by `tools/install-debian-packages.sh`), run by the hidden
//! `clamd-node` subcommand like a MinIO node, with a signature database made here: freshclam
//! cannot download ClamAV's own on this machine, so the one signature is the EICAR test string
//! anywhere in a file (`presign-bench.ndb`), which is what a run's infected uploads carry.

use super::children::{Server, Spec};
use crate::client::payload::EICAR;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Where Debian installs clamd.
pub const CLAMD_BIN: &str = "/usr/sbin/clamd";
/// How to install it.
pub const INSTALL_COMMAND: &str = "tools/install-debian-packages.sh";
/// The name clamd gives it with this database (clamd adds `.UNOFFICIAL`).
pub const SIGNATURE: &str = "PresignBench.EICAR-Test-File";
/// How long clamd may take to load its database and answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of running clamd.
#[derive(Debug, thiserror::Error)]
pub enum ClamdError {
    /// clamd is not installed.
    #[error("ClamAV's clamd is not installed at {CLAMD_BIN}: run {INSTALL_COMMAND}")]
    Missing,
    /// It did not start or answer.
    #[error("clamd at {address}: {message}")]
    Start {
        /// Its address.
        address: String,
        /// What went wrong.
        message: String,
    },
}

/// The signature database: one body signature (`.ndb`: name, any file type, any offset, hex).
#[must_use]
pub fn database() -> String {
    format!("{SIGNATURE}:0:*:{}\n", const_hex::encode(EICAR))
}

/// clamd's configuration: in the foreground, TCP on `address`'s port on 127.0.0.1, the database
/// and temporary files in `dir`, streams and files up to 4 GiB scanned whole.
#[must_use]
pub fn config(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "Foreground yes\nTCPSocket {port}\nTCPAddr 127.0.0.1\nDatabaseDirectory {d}/db\nTemporaryDirectory {d}\n\
         LogFile {d}/clamd.log\nLogTime yes\nStreamMaxLength 4000M\nMaxFileSize 4000M\nMaxScanSize 4000M\n\
         MaxThreads 4\nSelfCheck 0\n"
    )
}

/// Runs clamd with a database and configuration written to `dir`, on a free port of 127.0.0.1,
/// until `shutdown` or until clamd exits; announces `listening on clamd://127.0.0.1:PORT` once
/// it answers `PING`.
///
/// # Errors
/// [`ClamdError`] when clamd is missing, cannot start, or does not answer in time.
pub async fn run_node(dir: &Path, shutdown: impl Future<Output = ()>) -> Result<(), ClamdError> {
    if !Path::new(CLAMD_BIN).exists() {
        return Err(ClamdError::Missing);
    }
    let port = super::children::free_port()
        .map_err(|e| ClamdError::Start { address: "127.0.0.1:0".into(), message: e.to_string() })?;
    let address = format!("127.0.0.1:{port}");
    let fail = |message: String| ClamdError::Start { address: address.clone(), message };
    let conf: PathBuf = dir.join("clamd.conf");
    let written = std::fs::create_dir_all(dir.join("db"))
        .and_then(|()| std::fs::write(dir.join("db").join("presign-bench.ndb"), database()))
        .and_then(|()| std::fs::write(&conf, config(dir, port)));
    written.map_err(|e| fail(format!("writing {}: {e}", dir.display())))?;
    let mut child = tokio::process::Command::new(CLAMD_BIN)
        .arg(format!("--config-file={}", conf.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot start {CLAMD_BIN}: {e}")))?;
    let scanner = crate::app::scan::Scanner::new(&address, crate::metrics::Meter::new());
    let ready = async {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if scanner.ping().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    tokio::select! {
        ok = ready => if !ok {
            let _ = child.kill().await;
            return Err(fail(format!("no PONG after {} s", READY_TIMEOUT.as_secs())));
        },
        status = child.wait() => {
            return Err(fail(format!("exited before it was ready ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string()))));
        }
    }
    crate::server::announce_url(&format!("clamd://{address}")).map_err(|e| fail(format!("cannot announce: {e}")))?;
    super::children::supervise(&mut child, shutdown, Duration::from_secs(10)).await.map_err(fail)
}

/// The subcommand of this binary that runs clamd.
pub const NODE_COMMAND: &str = "clamd-node";

/// Starts clamd (`presign-bench clamd-node`) as one of the run's servers with its files in `work/clamd`, when the scenario
/// scans with ClamAV.
pub async fn start(
    scenario: &crate::scenario::Scenario,
    work: &Path,
    logs: &Path,
) -> Result<Option<Server>, super::HarnessError> {
    if scenario.validation.scan != crate::scenario::Scan::Clamav {
        return Ok(None);
    }
    let dir = work.join("clamd");
    std::fs::create_dir_all(&dir).map_err(super::io_error(&dir))?;
    let args = ["--dir".to_owned(), dir.display().to_string()];
    Server::start(Spec {
        name: "clamd".into(),
        command: NODE_COMMAND,
        args: &args,
        envs: &[],
        log: logs.join("clamd.log"),
        expendable: false,
    })
    .await
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_eicar_string_in_hex() {
        let db = database();
        assert!(db.starts_with("PresignBench.EICAR-Test-File:0:*:58354f2150254041505b345c"), "{db}");
        assert_eq!(EICAR.len(), 68);
        assert!(config(Path::new("/x"), 3310).contains("TCPSocket 3310\nTCPAddr 127.0.0.1\n"));
    }
}
