//! Certificates and keys of trapline's TLS servers (HTTPS on the web port, syslog over TLS),
//! rustls with the ring provider.
//!
//! [`CertResolver`] reads a PEM certificate chain and key and checks that the key belongs to
//! the certificate, at start-up (`trapline run` refuses to start, `check-config` reports it)
//! and again on SIGHUP, so a renewed certificate is picked up without a restart; a reload that
//! fails keeps the certificate in use. [`client_verifier`] reads the CA bundle that senders'
//! certificates are checked against (syslog TLS with `client_ca`).
//!
//! Every error names the config key and the file, as config errors do. This module knows
//! neither HTTP nor syslog: `web::tls` and `listen::tls` build their servers from it.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

use crate::config::TlsFiles;

/// Why a certificate, key or CA file cannot be used. Each names the config key and the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{key} {path}: {source}")]
    Read {
        key: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{key} {path}: no certificate in the file (expected PEM \"-----BEGIN CERTIFICATE-----\")"
    )]
    NoCertificate { key: &'static str, path: String },
    #[error("{key} {path}: {detail}")]
    BadCertificate {
        key: &'static str,
        path: String,
        detail: String,
    },
    #[error(
        "{key} {path}: no usable private key (expected PEM \"-----BEGIN PRIVATE KEY-----\", RSA or EC): {detail}"
    )]
    BadKey {
        key: &'static str,
        path: String,
        detail: String,
    },
    #[error("{key_name} {key} does not belong to {cert_name} {cert}: {detail}")]
    Mismatch {
        key_name: &'static str,
        key: String,
        cert_name: &'static str,
        cert: String,
        detail: String,
    },
}

/// The crypto provider of every TLS object trapline makes: ring (aws-lc-rs, rustls' default,
/// needs cmake and nasm to build).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate of a PEM file, in file order; an empty file is an error.
fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        key,
        path: shown.clone(),
        source,
    })?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::BadCertificate {
            key,
            path: shown.clone(),
            detail: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { key, path: shown });
    }
    Ok(certificates)
}

/// The first private key of a PEM file.
fn read_key(key: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| TlsError::Read {
        key,
        path: shown.clone(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| TlsError::BadKey {
        key,
        path: shown,
        detail: error.to_string(),
    })
}

/// Reads and checks the files: the chain parses, the key loads, and the key is the leaf's.
pub fn load_certified_key(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let chain = read_certificates(files.keys.cert, &files.cert)?;
    let key = read_key(files.keys.key, &files.key)?;
    let signing_key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|error| TlsError::BadKey {
            key: files.keys.key,
            path: files.key.display().to_string(),
            detail: error.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // ring can always tell; "unknown" would only come from a provider that cannot.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(error) => Err(TlsError::Mismatch {
            key_name: files.keys.key,
            key: files.key.display().to_string(),
            cert_name: files.keys.cert,
            cert: files.cert.display().to_string(),
            detail: error.to_string(),
        }),
    }
}

/// The CAs of the PEM bundle at `ca` (config key `key`): whom a verifier trusts, for client
/// certificates of syslog senders and for the upstreams trapline forwards to.
pub fn ca_roots(key: &'static str, ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(key, ca)? {
        roots
            .add(certificate)
            .map_err(|error| TlsError::BadCertificate {
                key,
                path: ca.display().to_string(),
                detail: format!("not a usable CA certificate: {error}"),
            })?;
    }
    Ok(roots)
}

/// Checks senders' certificates against the CAs of the PEM bundle at `ca` (config key
/// `key`); with `required`, a client without a certificate fails the handshake, otherwise it
/// may stay anonymous (but one that shows a certificate must show a good one).
pub fn client_verifier(
    key: &'static str,
    ca: &Path,
    required: bool,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let bad = |detail: String| TlsError::BadCertificate {
        key,
        path: ca.display().to_string(),
        detail,
    };
    let roots = ca_roots(key, ca)?;
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder.build().map_err(|error| bad(error.to_string()))
}

/// A server's certificate, swappable at run time (SIGHUP) without touching open connections.
#[derive(Debug)]
pub struct CertResolver {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// Loads the files; fails as [`load_certified_key`] does.
    pub fn load(files: &TlsFiles) -> Result<Arc<CertResolver>, TlsError> {
        let key = load_certified_key(files)?;
        Ok(Arc::new(CertResolver {
            files: files.clone(),
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again; new handshakes use the new certificate. On error the one in use
    /// stays (an operator's typo must not take a listener down).
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = Arc::new(load_certified_key(&self.files)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
        Ok(())
    }

    /// A rustls configuration serving this certificate: TLS 1.2 and 1.3, client certificates
    /// as `client_auth` says (`WebPkiClientVerifier::no_client_auth()` for none).
    pub fn server_config(
        self: &Arc<Self>,
        client_auth: Arc<dyn ClientCertVerifier>,
    ) -> ServerConfig {
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_client_cert_verifier(client_auth)
            .with_cert_resolver(self.clone())
    }

    #[cfg(test)]
    fn leaf(&self) -> CertificateDer<'static> {
        self.current.read().unwrap().cert[0].clone()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TlsKeys;

    /// A self-signed certificate and its key as PEM files in `dir`.
    fn write_pair(dir: &Path, name: &str, keys: TlsKeys) -> TlsFiles {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
            keys,
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap();
        std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn loads_a_pair_and_names_the_key_and_file_of_each_problem() {
        let dir = tempfile::tempdir().unwrap();
        let good = write_pair(dir.path(), "a", TlsKeys::HTTP);
        assert!(load_certified_key(&good).is_ok());

        let missing = TlsFiles {
            cert: dir.path().join("nope.crt"),
            ..good.clone()
        };
        let err = load_certified_key(&missing).unwrap_err().to_string();
        assert!(err.starts_with("http.tls_cert "), "{err}");
        assert!(
            err.contains("nope.crt") && err.contains("No such file"),
            "{err}"
        );

        let not_pem = dir.path().join("junk.crt");
        std::fs::write(&not_pem, "hello\n").unwrap();
        let err = load_certified_key(&TlsFiles {
            cert: not_pem,
            ..good.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("no certificate in the file"), "{err}");

        let err = load_certified_key(&TlsFiles {
            key: good.cert.clone(),
            ..good.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("http.tls_key "), "{err}");

        let other = write_pair(dir.path(), "b", TlsKeys::HTTP);
        let err = load_certified_key(&TlsFiles {
            key: other.key,
            ..good
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("http.tls_key ") && err.contains("does not belong to http.tls_cert "),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_syslog_keys_for_the_syslog_listener() {
        let dir = tempfile::tempdir().unwrap();
        let good = write_pair(dir.path(), "s", TlsKeys::SYSLOG);
        let err = load_certified_key(&TlsFiles {
            cert: dir.path().join("gone.crt"),
            ..good.clone()
        })
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("syslog_tls.cert "), "{err}");
        let other = write_pair(dir.path(), "t", TlsKeys::SYSLOG);
        let err = load_certified_key(&TlsFiles {
            key: other.key,
            ..good
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("syslog_tls.key ")
                && err.contains("does not belong to syslog_tls.cert"),
            "{err}"
        );
    }

    #[test]
    fn a_client_ca_bundle_must_hold_a_ca_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pair = write_pair(dir.path(), "ca", TlsKeys::SYSLOG);
        for required in [true, false] {
            assert!(client_verifier("syslog_tls.client_ca", &pair.cert, required).is_ok());
        }
        let err = client_verifier("syslog_tls.client_ca", &pair.key, true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.starts_with("syslog_tls.client_ca ") && err.contains("no certificate in the file"),
            "{err}"
        );
        let err = client_verifier("syslog_tls.client_ca", &dir.path().join("none.pem"), false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("none.pem") && err.contains("No such file"),
            "{err}"
        );
    }

    #[test]
    fn reload_swaps_the_certificate_and_keeps_it_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "a", TlsKeys::HTTP);
        let resolver = CertResolver::load(&files).unwrap();
        let before = resolver.leaf();
        write_pair(dir.path(), "a", TlsKeys::HTTP);
        resolver.reload().unwrap();
        let renewed = resolver.leaf();
        assert_ne!(before, renewed);
        std::fs::write(&files.key, "broken").unwrap();
        assert!(resolver.reload().is_err());
        assert_eq!(resolver.leaf(), renewed);
    }
}
