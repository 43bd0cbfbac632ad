//! The servers of a run, each a child process of this same binary, so their CPU and memory are
//! their own. They listen on port 0 and announce their address on stdout; their logs go to
//! `logs/<name>.log` in the report directory. They watch their stdin: if the harness dies in any
//! way (even SIGKILL) the pipe closes and they exit, so no server outlives its run.

use super::HarnessError;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long a server may take to print its readiness line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to drain after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Free ports on 127.0.0.1, each found by binding port 0 (held until all are found, so they
/// differ), for the servers that cannot report a port they picked themselves (MinIO, clamd,
/// nginx, a container). A port could in principle be taken before the server binds it, which
/// fails that server's start.
///
/// # Errors
/// The bind's.
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners: Vec<std::net::TcpListener> =
        (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>()?;
    listeners.iter().map(|l| l.local_addr().map(|a| a.port())).collect()
}

/// One free port on 127.0.0.1 (see [`free_ports`]).
///
/// # Errors
/// The bind's.
pub fn free_port() -> std::io::Result<u16> {
    free_ports(1).map(|ports| ports[0])
}

/// The structured readiness line `run` writes to stderr as each server comes up:
/// `presign-bench-ready {"server":"proxy","url":"http://127.0.0.1:PORT","log":"...","pid":1234}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ready {
    /// `storage`, `broker` or `proxy`.
    pub server: String,
    /// Its base URL.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
    /// Its process id (a MinIO node's is its supervisor's: stopping that stops the node).
    pub pid: u32,
}

impl Ready {
    /// What starts the line.
    pub const PREFIX: &'static str = "presign-bench-ready ";

    /// The line, without its newline.
    ///
    /// # Panics
    /// Never: the fields are plain strings.
    #[must_use]
    pub fn line(&self) -> String {
        format!("{}{}", Self::PREFIX, serde_json::to_string(self).expect("plain strings serialise"))
    }

    /// The readiness announced by `line`, if it is one.
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        serde_json::from_str(line.trim_end().strip_prefix(Self::PREFIX)?).ok()
    }
}

/// How to start one server.
pub struct Spec<'a> {
    /// The name in logs, readiness lines and reports: `storage`, `broker`, `proxy`, `minio-2`.
    pub name: String,
    /// The subcommand of this binary that runs it: `storage`, `broker`, `proxy`, `minio-node`.
    pub command: &'static str,
    /// Its flags.
    pub args: &'a [String],
    /// Its environment, beyond ours.
    pub envs: &'a [(&'static str, String)],
    /// Its log file.
    pub log: PathBuf,
    /// A node of a replicated store: the run reports its exit and goes on.
    pub expendable: bool,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// `storage`, `broker`, `proxy` or `minio-N`.
    pub name: String,
    /// Whether the run survives its exit (a node of a replicated store).
    pub expendable: bool,
    /// The subcommand it runs: `storage`, `minio-node`, `broker` or `proxy`.
    pub command: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
    child: Child,
    _stdout: Lines<BufReader<ChildStdout>>,
    /// Held apart from `child`, whose `wait` would close it: the server exits when it closes.
    _stdin: ChildStdin,
}

impl Server {
    /// Starts `presign-bench COMMAND ARGS --watch-stdin`, logging to `log`, and waits for
    /// `listening on http://ADDR`.
    ///
    /// # Errors
    /// [`HarnessError::ServerStart`] with the server's own last error line.
    pub async fn start(spec: Spec<'_>) -> Result<Self, HarnessError> {
        let Spec { name, command, args, envs, log, expendable } = spec;
        let fail = |message: String| HarnessError::ServerStart { name: name.clone(), message };
        let log_file =
            std::fs::File::create(&log).map_err(|e| fail(format!("cannot create {}: {e}", log.display())))?;
        let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find this executable: {e}")))?;
        let mut child = Command::new(exe)
            .arg(command)
            .args(args)
            .arg("--watch-stdin")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            // Its own process group: a terminal's Ctrl-C reaches the harness only, which then
            // scrapes the servers one last time before stopping them.
            .process_group(0)
            .spawn()
            .map_err(|e| fail(format!("cannot start: {e}")))?;
        let stdout = child.stdout.take().ok_or_else(|| fail("no stdout".into()))?;
        let stdin = child.stdin.take().ok_or_else(|| fail("no stdin".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await;
        let url = match first {
            Ok(Ok(Some(line))) => line.strip_prefix("listening on ").map(str::to_owned),
            _ => None,
        };
        let Some(url) = url else {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(fail(last_error(&log)));
        };
        // At info level so that a user can scrape `<url>/metrics` while the run goes on; and as a
        // structured line for scripts and tests.
        tracing::info!("{name} ready at {url} (log: {})", log.display());
        let pid = child.id().unwrap_or(0);
        eprintln!("{}", Ready { server: name.clone(), url: url.clone(), log: log.clone(), pid }.line());
        Ok(Self { name, expendable, command, url, log, child, _stdout: lines, _stdin: stdin })
    }

    /// Whether it is an app server (broker or proxy) rather than part of the store.
    #[must_use]
    pub fn is_app(&self) -> bool {
        matches!(self.command, "broker" | "proxy")
    }

    /// The process id, while it runs.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resolves when the process exits.
    pub async fn exited(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// SIGTERM, a bounded wait for the drain, then SIGKILL; then SIGKILL to what is left of its
    /// process group (a MinIO or clamd its node command started and could not stop).
    pub async fn stop(mut self) {
        use nix::sys::signal::{Signal, kill, killpg};
        let pid = self.child.id().and_then(|p| i32::try_from(p).ok()).map(nix::unistd::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = kill(pid, Signal::SIGTERM);
        }
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await.is_err() {
            tracing::warn!(name = %self.name, "did not exit after SIGTERM; killing");
            let _ = self.child.kill().await;
        }
        // Its own group (`process_group(0)` above): the group id is its pid.
        if let Some(pid) = pid {
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }
}

/// The last line of a log that looks like an error, or its last line.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find(|l| l.starts_with("error"))
        .or(lines.last())
        .map_or_else(|| format!("exited before it was ready (log: {})", log.display()), |l| (*l).to_owned())
}

/// Resolves with the index and a description (name, status, log) of the first server in
/// `servers` to exit.
pub async fn first_exit(servers: &mut [Server]) -> (usize, String) {
    if servers.is_empty() {
        return std::future::pending().await;
    }
    let waits = servers.iter_mut().map(|s| {
        Box::pin(async move {
            let status = s.exited().await;
            let status = status.map_or_else(|e| e.to_string(), |st| st.to_string());
            format!("{} exited ({status}; log: {})", s.name, s.log.display())
        })
    });
    let (description, index, _) = futures_util::future::select_all(waits).await;
    (index, description)
}

/// The rest of a node command's life (`minio-node`, `clamd-node`) once its server is ready:
/// waits for `shutdown`, then SIGTERM, up to `grace` for the exit, SIGKILL.
///
/// # Errors
/// How the server exited, when it exited before `shutdown`.
pub async fn supervise(child: &mut Child, shutdown: impl Future<Output = ()>, grace: Duration) -> Result<(), String> {
    tokio::select! {
        () = shutdown => {}
        status = child.wait() => {
            return Err(format!("exited ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string())));
        }
    }
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_lines_round_trip() {
        let ready =
            Ready { server: "proxy".into(), url: "http://127.0.0.1:1".into(), log: "l/proxy.log".into(), pid: 7 };
        let line = ready.line();
        let expected =
            r#"presign-bench-ready {"server":"proxy","url":"http://127.0.0.1:1","log":"l/proxy.log","pid":7}"#;
        assert_eq!(line, expected);
        assert_eq!(Ready::parse(&line), Some(ready));
        assert_eq!(Ready::parse("proxy ready at http://127.0.0.1:1"), None);
    }
}
