//! A run's TLS material: a CA made for the run and the one certificate it signs for every server
//! the run starts (127.0.0.1 and localhost), as files the servers are given (`--tls-cert`,
//! `--tls-key`, `--storage-ca`, MinIO's `--certs-dir`), and the trust every client of the run
//! uses. Shared by `run` and `demo`.

use super::HarnessError;
use std::path::{Path, PathBuf};

/// A run's TLS: a CA made for the run, and the certificate (for 127.0.0.1 and localhost) it
/// signed for every server the run starts, as files in the run's work directory.
pub struct RunTls {
    /// The CA's certificate.
    pub ca: PathBuf,
    /// The servers' chain.
    pub cert: PathBuf,
    /// The servers' key.
    pub key: PathBuf,
    /// What the run's clients trust: the CA.
    pub trust: crate::tls::Trust,
    /// The CA's certificate, PEM.
    pub ca_pem: String,
    /// The servers' chain and key, as written to `cert` and `key`.
    pub identity: crate::tls::Identity,
}

impl RunTls {
    /// Makes the CA and the servers' certificate in `dir`.
    ///
    /// # Errors
    /// [`HarnessError`] when a file cannot be written or a certificate made.
    pub fn make(dir: &Path) -> Result<Self, HarnessError> {
        let fail = |e: crate::tls::TlsError| HarnessError::Tls(e.to_string());
        std::fs::create_dir_all(dir).map_err(|source| HarnessError::Io { path: dir.display().to_string(), source })?;
        let authority = crate::tls::Authority::new("presign-bench run CA").map_err(fail)?;
        let ca = dir.join("ca.pem");
        crate::tls::write_file(&ca, authority.pem(), 0o644).map_err(fail)?;
        let identity = authority.issue(&crate::tls::LOCAL_HOSTS).map_err(fail)?;
        let (cert, key) = identity.write(dir).map_err(fail)?;
        let trust = crate::tls::Trust::new(authority.pem(), &ca.display().to_string()).map_err(fail)?;
        Ok(Self { ca, cert, key, trust, ca_pem: authority.pem().to_owned(), identity })
    }

    /// MinIO's certificates directory in `dir`: `public.crt`, `private.key`, and the run's CA in
    /// `CAs/` (the nodes of a cluster check each other with it).
    ///
    /// # Errors
    /// [`HarnessError::Io`] when a file cannot be copied.
    pub fn minio_certs(&self, dir: &Path) -> Result<PathBuf, HarnessError> {
        let cas = dir.join("CAs");
        std::fs::create_dir_all(&cas).map_err(super::io_error(&cas))?;
        for (from, to) in
            [(&self.cert, dir.join("public.crt")), (&self.key, dir.join("private.key")), (&self.ca, cas.join("ca.pem"))]
        {
            std::fs::copy(from, &to).map_err(super::io_error(&to))?;
        }
        Ok(dir.to_owned())
    }

    /// `--tls-cert FILE --tls-key FILE`.
    #[must_use]
    pub fn serve_args(&self) -> [String; 4] {
        ["--tls-cert".into(), self.cert.display().to_string(), "--tls-key".into(), self.key.display().to_string()]
    }
}
