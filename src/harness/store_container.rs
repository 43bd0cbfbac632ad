//! The run's store container, whether or not the binary has the `containers` feature: starting
//! it (or the one-line error saying the feature is missing) and waiting for it to exit, so the
//! stack and the load's guard need no feature switches of their own.

use super::HarnessError;
use crate::storage::Credentials;

/// The store's container (the `containers` feature); without it, a store that cannot exist.
#[cfg(feature = "containers")]
pub(super) type StoreContainer = super::container::Container;
/// The store's container (the `containers` feature); without it, a store that cannot exist.
#[cfg(not(feature = "containers"))]
pub(super) type StoreContainer = std::convert::Infallible;

/// Resolves when the run's store container stops, with one line saying so; never when the run
/// has none.
pub(super) async fn container_exit(container: Option<&StoreContainer>) -> String {
    match container {
        #[cfg(feature = "containers")]
        Some(c) => c.exited().await,
        #[cfg(not(feature = "containers"))]
        Some(never) => match *never {},
        None => std::future::pending().await,
    }
}

/// Starts MinIO from `image` with testcontainers and keeps it in `slot`; returns its endpoint.
#[cfg(feature = "containers")]
pub(super) async fn start(
    image: &str,
    credentials: &Credentials,
    slot: &mut Option<StoreContainer>,
) -> Result<String, HarnessError> {
    let started =
        super::container::start_minio(image, credentials).await.map_err(|e| HarnessError::Container(e.to_string()))?;
    let endpoint = started.endpoint.clone();
    *slot = Some(started);
    Ok(endpoint)
}

/// Without the `containers` feature there is no container runtime to ask.
#[cfg(not(feature = "containers"))]
#[allow(clippy::unused_async)] // the same signature as with the feature
pub(super) async fn start(
    image: &str,
    _: &Credentials,
    _: &mut Option<StoreContainer>,
) -> Result<String, HarnessError> {
    Err(HarnessError::Container(format!(
        "[storage] kind = \"container\" ({image}) needs a build with `--features containers` and a Docker API (Docker, or `podman system service` with DOCKER_HOST)"
    )))
}
