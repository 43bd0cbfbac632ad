//! MinIO in a container (cargo feature `containers`): testcontainers starts the image the user
//! names, where a Docker engine answers, with the run's credentials, and stops it when dropped.
//! MinIO publishes no maintained image any more; `docker/Dockerfile.minio` builds one from the
//! binary `docker/install-minio.sh` installed.

use crate::storage::Credentials;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// The S3 port inside the container.
const API_PORT: u16 = 9000;

/// Errors of starting the container.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The image is not `name:tag`.
    #[error("container image {0:?}: expected name:tag")]
    Image(String),
    /// Docker (or the image) failed.
    #[error("container {image}: {message}")]
    Start {
        /// The image.
        image: String,
        /// What testcontainers said.
        message: String,
    },
}

/// A running MinIO container; stopped and removed when dropped.
pub struct Container {
    /// `http://HOST:PORT` of its S3 API.
    pub endpoint: String,
    _container: ContainerAsync<GenericImage>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Container").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// Starts `image` (`name:tag`) as `minio server /data` with `credentials`, and waits until it
/// serves.
///
/// # Errors
/// [`ContainerError`] when the image name is malformed or Docker cannot start it.
pub async fn start_minio(image: &str, credentials: &Credentials) -> Result<Container, ContainerError> {
    let (name, tag) = image.rsplit_once(':').ok_or_else(|| ContainerError::Image(image.to_owned()))?;
    let fail = |e: testcontainers::TestcontainersError| ContainerError::Start {
        image: image.to_owned(),
        message: e.to_string(),
    };
    let container = GenericImage::new(name, tag)
        .with_exposed_port(API_PORT.tcp())
        .with_wait_for(WaitFor::message_on_stdout("API:"))
        .with_env_var("MINIO_ROOT_USER", &credentials.access_key)
        .with_env_var("MINIO_ROOT_PASSWORD", &credentials.secret_key)
        .with_cmd(["server", "/data"])
        .start()
        .await
        .map_err(fail)?;
    let host = container.get_host().await.map_err(fail)?;
    let port = container.get_host_port_ipv4(API_PORT.tcp()).await.map_err(fail)?;
    Ok(Container { endpoint: format!("http://{host}:{port}"), _container: container })
}
