//! Podman for the container tests: its command line with this project's settings
//! (`tools/containers.conf`), the images `tools/build-images.sh` built (the test command builds
//! them), and its Docker API service on a socket of the test's own, stopped with the test.
//! Podman comes from Debian's packages (`tools/install-debian-packages.sh`); these tests fail,
//! naming what is missing, where it is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `tools/containers.conf`: runc, cgroupfs, rlimits this machine allows.
pub fn containers_conf() -> PathBuf {
    root().join("tools/containers.conf")
}

/// The MinIO image, tagged with the pinned version (as `tools/build-images.sh` tags it).
pub fn minio_image() -> String {
    let script = std::fs::read_to_string(root().join("docker/install-minio.sh")).unwrap();
    let version =
        script.lines().find_map(|l| l.strip_prefix("MINIO_VERSION=")).expect("MINIO_VERSION in install-minio.sh");
    format!("presign-bench/minio:{version}")
}

/// The project's image (docker/Containerfile.static).
pub const APP_IMAGE: &str = "presign-bench:local";

/// The container tests take turns: each tells the containers it started from others by what
/// existed before it began ([`Sweep`]).
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    static ENGINE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ENGINE.lock().await
}

/// `podman ARGS` with the project's settings; panics, naming the command, if it cannot start.
pub fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .env("CONTAINERS_CONF", containers_conf())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("podman {args:?}: {e} (tools/install-debian-packages.sh installs Podman)"))
}

/// `podman ARGS`, which must succeed; returns its stdout.
pub fn podman_ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(out.status.success(), "podman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panics unless `image` exists locally, saying how to build it.
pub fn require_image(image: &str) {
    let out = podman(&["image", "exists", image]);
    assert!(out.status.success(), "image {image} is missing: the test command builds it with tools/build-images.sh");
}

/// The ids of the containers (running or not) made from `image`. Podman names a locally built
/// image `localhost/NAME:TAG` (and its `ancestor` filter wants that spelling), so both spellings
/// match.
pub fn containers_of(image: &str) -> Vec<String> {
    podman_ok(&["ps", "--all", "--format", "{{.ID}} {{.Image}}"])
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, name)| *name == image || name.strip_prefix("localhost/") == Some(image))
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// `podman system service` answering the Docker API on a socket in a directory of its own;
/// stopped (and waited for) when dropped.
pub struct Service {
    child: std::process::Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Service {
    /// Starts the service and waits until its socket answers.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time=0", &format!("unix://{}", socket.display())])
            .env("CONTAINERS_CONF", containers_conf())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("podman system service: {e} (tools/install-debian-packages.sh installs Podman)")
            });
        let service = Self { child, socket, _dir: dir };
        let ping = || std::os::unix::net::UnixStream::connect(&service.socket).is_ok();
        assert!(
            super::eventually(Duration::from_secs(30), async || ping()).await,
            "podman system service did not open {}",
            service.socket.display()
        );
        service
    }

    /// `DOCKER_HOST` for clients of this service.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The socket's path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM lets it finish the requests in flight; it exits at once when idle.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The containers of an image that were not there when it was made: what a test started. When
/// dropped (a test that failed midway included) it removes any that are left.
pub struct Sweep {
    image: String,
    before: Vec<String>,
}

impl Sweep {
    /// Notes the containers of `image` that exist now.
    pub fn new(image: &str) -> Self {
        Self { image: image.to_owned(), before: containers_of(image) }
    }

    /// The containers of the image made since.
    pub fn new_containers(&self) -> Vec<String> {
        containers_of(&self.image).into_iter().filter(|c| !self.before.contains(c)).collect()
    }
}

impl Drop for Sweep {
    fn drop(&mut self) {
        for id in self.new_containers() {
            let _ = podman(&["rm", "--force", &id]);
        }
    }
}
