//! MinIO in a container (cargo feature `containers`): testcontainers starts the image the user
//! names, wherever a Docker API answers (Docker, or Podman's `podman system service`), with the
//! run's credentials, on the host's network at a free 127.0.0.1 port; it watches the container
//! for the run, and stops and removes it when dropped. MinIO publishes no maintained image any
//! more: `tools/build-images.sh` builds one `FROM scratch` with the pinned binary.

use crate::storage::Credentials;
use std::time::Duration;
use testcontainers::core::{Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// How long an image may take to start and log that it serves (a cold Podman is slow).
const STARTUP: Duration = Duration::from_secs(120);
/// The cap of the in-memory drive: memory is used only as objects are written; without a size,
/// Podman's API gives the tmpfs one MinIO counts as full ("minimum free drive threshold").
const DRIVE: &str = "8g";
/// How often the watch asks the engine whether the container still runs.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Errors of starting the container.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The image is not `name:tag`.
    #[error("container image {0:?}: expected name:tag")]
    Image(String),
    /// The engine (or the image) failed.
    #[error("container {image}: {message}")]
    Start {
        /// The image.
        image: String,
        /// What testcontainers said.
        message: String,
    },
}

/// A running MinIO container; stopped and removed when dropped (testcontainers needs no reaper
/// container for that, so nothing has to be pulled).
pub struct Container {
    /// `http://127.0.0.1:PORT` of its S3 API.
    pub endpoint: String,
    image: String,
    running: ContainerAsync<GenericImage>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// Starts `image` (`name:tag`) as `minio server /data` with `credentials` on the host's network,
/// listening on a free port of 127.0.0.1 only, with its drive in memory (tmpfs), and waits until
/// it serves.
///
/// The host's network, not a bridge: a bridge's addresses are private ranges this tool never
/// targets, and the bytes the run measures stay on loopback, as with every other store.
///
/// # Errors
/// [`ContainerError`] when the image name is malformed or the engine cannot start it.
pub async fn start_minio(image: &str, credentials: &Credentials) -> Result<Container, ContainerError> {
    let (name, tag) = image.rsplit_once(':').ok_or_else(|| ContainerError::Image(image.to_owned()))?;
    let fail = |message: String| ContainerError::Start { image: image.to_owned(), message };
    let port = super::children::free_port().map_err(|e| fail(format!("no free port on 127.0.0.1: {e}")))?;
    let address = format!("127.0.0.1:{port}");
    let container = GenericImage::new(name, tag)
        .with_wait_for(WaitFor::message_on_either_std("API:"))
        .with_env_var("MINIO_ROOT_USER", &credentials.access_key)
        .with_env_var("MINIO_ROOT_PASSWORD", &credentials.secret_key)
        .with_env_var("MINIO_UPDATE", "off")
        .with_mount(Mount::tmpfs_mount("/data").with_size(DRIVE).with_mode(0o1777))
        .with_mount(Mount::tmpfs_mount("/tmp").with_mode(0o1777))
        .with_cmd(["server", "/data", "--address", &address, "--console-address", "127.0.0.1:0"])
        .with_startup_timeout(STARTUP)
        // Not `with_network("host")`: Podman's Docker API does not list the host network, and
        // testcontainers would then try to create a network of that name.
        .with_host_config_modifier(|host| host.network_mode = Some("host".into()))
        .start()
        .await
        .map_err(|e| fail(e.to_string()))?;
    Ok(Container { endpoint: format!("http://{address}"), image: image.to_owned(), running: container })
}

impl Container {
    /// Resolves when the container no longer runs, with one line saying so (its exit code, or
    /// why the engine could not tell): for the run, a store that died.
    pub async fn exited(&self) -> String {
        let id = &self.running.id()[..12.min(self.running.id().len())];
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            match self.running.is_running().await {
                Ok(true) => {}
                Ok(false) => {
                    let code = self.running.exit_code().await.ok().flatten();
                    let code = code.map_or_else(|| "an unknown status".to_owned(), |c| format!("code {c}"));
                    return format!("the MinIO container {id} ({}) exited with {code}", self.image);
                }
                Err(e) => return format!("the MinIO container {id} ({}) is gone: {e}", self.image),
            }
        }
    }
}
