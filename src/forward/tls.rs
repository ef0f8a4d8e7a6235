//! The TLS client of a `protocol = "tls"` forward (RFC 5425): rustls with the ring provider,
//! the upstream's certificate checked against `ca_file` (only those CAs) or the system's CA
//! store, an optional client certificate for mutual TLS.
//!
//! Built once at start-up (and by `check-config`), so a missing or unreadable file is a
//! configuration error, not a failure at the first connection. Knows no sockets.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::ClientConfig;
use rustls::pki_types::ServerName;
use rustls::sign::SingleCertAndKey;

use super::ForwardError;
use crate::config::ForwardTls;

/// What a connection needs: the client configuration and the name to verify.
#[derive(Clone)]
pub struct TlsClient {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// Reads the files of `tls` and builds the client; errors name the forward and the key.
pub fn client(forward: &str, tls: &ForwardTls) -> Result<TlsClient, ForwardError> {
    let error = |detail: String| ForwardError::Tls {
        forward: forward.to_string(),
        detail,
    };
    let server_name = ServerName::try_from(tls.server_name.clone())
        .map_err(|e| error(format!("server_name {:?}: {e}", tls.server_name)))?;
    let roots = match &tls.ca_file {
        Some(path) => crate::tls::ca_roots("ca_file", path).map_err(|e| error(e.to_string()))?,
        None => system_roots().map_err(error)?,
    };
    let builder = ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| error(e.to_string()))?
        .with_root_certificates(roots);
    let config = match &tls.client {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let certified =
                crate::tls::load_certified_key(files).map_err(|e| error(e.to_string()))?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
    };
    Ok(TlsClient {
        config: Arc::new(config),
        server_name,
    })
}

/// The system's CA store (`/etc/ssl/certs` and friends); unreadable entries are skipped.
fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(
            "no CA certificate in the system's store; set ca_file to the upstream's CA".into(),
        );
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::{TlsFiles, TlsKeys};

    fn tls(ca_file: Option<PathBuf>, client: Option<TlsFiles>) -> ForwardTls {
        ForwardTls {
            ca_file,
            client,
            server_name: "siem.example.net".into(),
        }
    }

    #[test]
    fn files_are_checked_when_the_client_is_built() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("c.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        let files = TlsFiles {
            cert: cert_path.clone(),
            key: key_path.clone(),
            keys: TlsKeys::FORWARD,
        };
        client("siem", &tls(Some(cert_path.clone()), Some(files))).unwrap();

        let message = |tls: ForwardTls| client("siem", &tls).err().unwrap().to_string();
        let e = message(tls(Some(dir.path().join("missing.pem")), None));
        assert!(
            e.starts_with("forward \"siem\": ca_file ") && e.contains("missing.pem"),
            "{e}"
        );
        let e = message(tls(Some(key_path.clone()), None));
        assert!(e.contains("no certificate in the file"), "{e}");
        let swapped = TlsFiles {
            cert: cert_path.clone(),
            key: cert_path.clone(),
            keys: TlsKeys::FORWARD,
        };
        let e = message(tls(Some(cert_path), Some(swapped)));
        assert!(
            e.contains("client_key") && e.contains("no usable private key"),
            "{e}"
        );
        let mut bad_name = tls(None, None);
        bad_name.server_name = "not a name".into();
        assert!(message(bad_name).contains("server_name"));
    }
}
