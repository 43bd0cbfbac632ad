//! TLS as production runs it: certificates (loaded from PEM files, or a CA made for one run that
//! signs a certificate for 127.0.0.1 and localhost), and the rustls configurations of servers and
//! clients. A leaf: every server (`--tls-cert`, `--tls-key`, `--tls-self-signed`), the app tier's
//! S3 client and the harness's client take their TLS from here.
//!
//! - rustls 0.23 on *ring*: pure Rust and assembly, so it builds without cmake or a C++ toolchain
//!   on a 2-core CI machine (aws-lc-rs needs both and minutes); ring's AES-GCM and ChaCha20 use
//!   the CPU's AES-NI/AVX2 code paths, as aws-lc-rs does.
//! - Certificates are ECDSA P-256 (rcgen's default key), as most public CAs issue today.
//! - Servers offer ALPN `h2` and `http/1.1`, TLS 1.3 and 1.2, and send TLS 1.3 session tickets
//!   (rustls's rotating ChaCha20-Poly1305 ticketer); clients keep rustls's in-memory cache of 256
//!   sessions, so a new connection to a server it has met resumes (no certificate, no signature).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::path::Path;
use std::sync::Arc;

/// The ALPN protocol names, as browsers send them.
pub const ALPN_H2: &[u8] = b"h2";
/// HTTP/1.1's ALPN name.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The hosts every certificate made here is for.
pub const LOCAL_HOSTS: [&str; 2] = ["127.0.0.1", "localhost"];

/// Errors of certificates and TLS configuration, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file that cannot be read or holds nothing usable.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A certificate could not be made.
    #[error("cannot make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A certificate chain (leaf first) and its private key, as PEM.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The chain.
    pub cert_pem: String,
    /// The key (PKCS#8).
    pub key_pem: String,
}

impl Identity {
    /// Reads `cert` and `key` (PEM files) and checks that they hold a chain and a key.
    ///
    /// # Errors
    /// [`TlsError::File`] naming the file.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|e| TlsError::File { path: path.display().to_string(), message: e.to_string() })
        };
        let identity = Self { cert_pem: read(cert)?, key_pem: read(key)? };
        let chain = identity.chain().map_err(|message| TlsError::File { path: cert.display().to_string(), message })?;
        if chain.is_empty() {
            let message = "no CERTIFICATE in the file".to_owned();
            return Err(TlsError::File { path: cert.display().to_string(), message });
        }
        identity.key().map_err(|message| TlsError::File { path: key.display().to_string(), message })?;
        Ok(identity)
    }

    fn chain(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()).collect::<Result<_, _>>().map_err(|e| e.to_string())
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, String> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| format!("no usable private key: {e}"))
    }

    /// Writes the chain and the key as `dir/cert.pem` and `dir/key.pem` (the key readable by its
    /// owner only); returns both paths.
    ///
    /// # Errors
    /// A file that cannot be written, named.
    pub fn write(&self, dir: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf), TlsError> {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        write_file(&cert, &self.cert_pem, 0o644)?;
        write_file(&key, &self.key_pem, 0o600)?;
        Ok((cert, key))
    }
}

/// Writes `text` to `path` with `mode`.
///
/// # Errors
/// [`TlsError::File`] naming the file.
pub fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let fail = |e: std::io::Error| TlsError::File { path: path.display().to_string(), message: e.to_string() };
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path).map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)
}

/// A certificate authority made for one run: it signs the certificates of the run's servers, and
/// the run's clients trust it and nothing else.
pub struct Authority {
    cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

impl Authority {
    /// A new CA named `name`.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn new(name: &str) -> Result<Self, TlsError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self { cert_pem: cert.pem(), issuer: rcgen::Issuer::new(params, key) })
    }

    /// The CA's certificate, PEM: what clients trust.
    #[must_use]
    pub fn pem(&self) -> &str {
        &self.cert_pem
    }

    /// A server certificate for `hosts` (IP addresses or DNS names), valid from a day ago for a
    /// year.
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn issue(&self, hosts: &[&str]) -> Result<Identity, TlsError> {
        let now = std::time::SystemTime::now();
        let day = std::time::Duration::from_secs(86_400);
        self.issue_valid(hosts, now - day, now + 365 * day)
    }

    /// A server certificate for `hosts`, valid from `not_before` to `not_after` (an expired one,
    /// for tests).
    ///
    /// # Errors
    /// [`TlsError::Generate`].
    pub fn issue_valid(
        &self,
        hosts: &[&str],
        not_before: std::time::SystemTime,
        not_after: std::time::SystemTime,
    ) -> Result<Identity, TlsError> {
        let mut params = rcgen::CertificateParams::new(hosts.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, hosts.first().copied().unwrap_or("presign-bench"));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        let key = rcgen::KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server's TLS: `identity`, ALPN `h2` then `http/1.1`, session tickets.
///
/// # Errors
/// [`TlsError::Config`] when the key does not match the certificate.
pub fn server_config(identity: &Identity) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let file = |message: String| TlsError::File { path: "certificate".into(), message };
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(identity.chain().map_err(file)?, identity.key().map_err(file)?)?;
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}

/// A client's TLS: trusts the CA certificates in `ca_pem` and nothing else, offers `alpn`,
/// resumes sessions from an in-memory cache.
///
/// # Errors
/// [`TlsError::File`] when `ca_pem` holds no certificate (`what` names where it came from).
pub fn client_config(ca_pem: &str, what: &str, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| TlsError::File { path: what.to_owned(), message: e.to_string() })?;
        roots.add(cert)?;
    }
    if roots.is_empty() {
        return Err(TlsError::File { path: what.to_owned(), message: "no CERTIFICATE to trust".into() });
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// What a client trusts: one configuration per protocol it may offer by ALPN, each with its own
/// session cache, shared by every connection of a run.
#[derive(Clone, Debug)]
pub struct Trust {
    /// Offers `http/1.1` only.
    pub http1: Arc<rustls::ClientConfig>,
    /// Offers `h2` only.
    pub h2: Arc<rustls::ClientConfig>,
}

impl Trust {
    /// Trusts the CA certificates in `ca_pem` (`what` names where they came from).
    ///
    /// # Errors
    /// As [`client_config`].
    pub fn new(ca_pem: &str, what: &str) -> Result<Self, TlsError> {
        Ok(Self { http1: client_config(ca_pem, what, &[ALPN_HTTP1])?, h2: client_config(ca_pem, what, &[ALPN_H2])? })
    }
}

/// The name a client checks the certificate against: the URL's host.
///
/// # Errors
/// When `host` is neither an IP address nor a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|e| TlsError::File { path: host.to_owned(), message: format!("not a server name: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_ca_signs_a_certificate_its_clients_accept_and_no_other_ca_does() {
        use std::os::unix::fs::PermissionsExt;
        let ca = Authority::new("presign-bench test CA").unwrap();
        let leaf = ca.issue(&LOCAL_HOSTS).unwrap();
        server_config(&leaf).unwrap();
        client_config(ca.pem(), "ca.pem", &[ALPN_H2]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = leaf.write(dir.path()).unwrap();
        let loaded = Identity::load(&cert, &key).unwrap();
        assert_eq!(loaded.cert_pem, leaf.cert_pem);
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        // A key file given as the certificate: named.
        let err = Identity::load(&key, &key).unwrap_err().to_string();
        assert!(err.starts_with(&key.display().to_string()) && err.contains("no CERTIFICATE"), "{err}");
        let err = client_config("not pem", "ca.pem", &[]).unwrap_err().to_string();
        assert!(err.starts_with("ca.pem:"), "{err}");
    }
}
