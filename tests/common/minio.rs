//! A single-node MinIO process for the tests that need a real S3 implementation besides the
//! embedded one.

use super::{ACCESS_KEY, SECRET_KEY};

/// A single-node MinIO process with the tests' credentials; killed when dropped.
pub struct Minio {
    pub url: String,
    child: tokio::process::Child,
}

impl Minio {
    /// Starts MinIO on `data_dir` and waits until it is ready. Panics, naming the install command,
    /// when MinIO is not installed: a MinIO test never passes without MinIO.
    pub async fn start(data_dir: &std::path::Path) -> Self {
        Self::start_with(data_dir, &[]).await
    }

    /// [`Self::start`] with more environment variables (e.g. `MINIO_SITE_REGION`).
    pub async fn start_with(data_dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let bin = presign_bench::harness::minio::locate().unwrap_or_else(|e| panic!("{e}"));
        let ports: Vec<u16> = {
            let l: Vec<std::net::TcpListener> =
                (0..2).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
            l.iter().map(|l| l.local_addr().unwrap().port()).collect()
        };
        let address = format!("127.0.0.1:{}", ports[0]);
        let child = tokio::process::Command::new(bin)
            .args(["server", "--quiet", "--address", &address, "--console-address"])
            .arg(format!("127.0.0.1:{}", ports[1]))
            .arg(data_dir)
            .env("MINIO_ROOT_USER", ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", SECRET_KEY)
            .env("MINIO_UPDATE", "off")
            .env("MINIO_CI_CD", "1")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let url = format!("http://{address}");
        assert!(presign_bench::harness::minio::wait_ready(&url, "/minio/health/ready", None).await, "MinIO not ready");
        Self { url, child }
    }

    /// The process id, for tests that freeze or kill it.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }
}
