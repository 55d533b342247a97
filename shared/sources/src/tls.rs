//! TLS for database sources, with rustls, asked for in the source URL as each
//! database's own clients ask for it:
//!
//! | PostgreSQL `sslmode` | MySQL `ssl-mode` | connection |
//! |---|---|---|
//! | `disable` | `DISABLED` (or absent) | plain |
//! | `prefer` (or absent) | `PREFERRED` | TLS when the server offers it, certificate not checked; plain otherwise (MySQL: TLS required) |
//! | `require` | `REQUIRED` | TLS or no connection; certificate not checked (as libpq and the MySQL client do) |
//! | `verify-ca`, `verify-full` | `VERIFY_CA`, `VERIFY_IDENTITY` | TLS, the certificate checked against the web PKI roots and `sslrootcert` / `ssl-ca` (a PEM file), and the host name against it |
//!
//! Checking the host name for `verify-ca` too is stricter than libpq: rustls has no
//! CA-only check, and a certificate for another host is not this server's.
//!
//! The TLS parameters are taken out of the URL here because the drivers refuse the
//! ones they do not know (`tokio-postgres` parses only `disable | prefer | require`).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How a source connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    Disable,
    /// TLS when the server offers it, without checking its certificate.
    Prefer,
    /// TLS or nothing, without checking the certificate.
    Require,
    /// TLS or nothing, the certificate checked; `ca` adds a PEM file of trusted roots.
    Verify {
        ca: Option<String>,
    },
}

/// A URL with its TLS parameters taken out, and what they asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsUrl {
    pub url: String,
    pub tls: Tls,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{param}={value:?} is not one of {expected}")]
    Mode { param: &'static str, value: String, expected: &'static str },
    #[error("reading the trusted roots {path}: {message}")]
    Roots { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Splits `key=value` query parameters off `url`: those in `take` come back by name,
/// the rest stay in the URL.
fn take_params(url: &str, take: &[&str]) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), Vec::new()) };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if take.contains(&key) {
            taken.push((key.to_owned(), value.to_owned()));
        } else {
            kept.push(pair);
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (url, taken)
}

fn last<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// PostgreSQL: `sslmode` (default `prefer`, as libpq) and `sslrootcert`.
pub fn postgres(url: &str) -> Result<TlsUrl, TlsError> {
    let (url, params) = take_params(url, &["sslmode", "sslrootcert"]);
    let ca = last(&params, "sslrootcert").map(str::to_owned);
    let tls = match last(&params, "sslmode").unwrap_or("prefer") {
        "disable" | "allow" => Tls::Disable,
        "prefer" => Tls::Prefer,
        "require" if ca.is_none() => Tls::Require,
        "require" | "verify-ca" | "verify-full" => Tls::Verify { ca },
        other => {
            return Err(TlsError::Mode {
                param: "sslmode",
                value: other.to_owned(),
                expected: "disable, allow, prefer, require, verify-ca, verify-full",
            })
        }
    };
    Ok(TlsUrl { url, tls })
}

/// MySQL and MariaDB: `ssl-mode` (default `DISABLED`, the driver's own default) and `ssl-ca`.
pub fn mysql(url: &str) -> Result<TlsUrl, TlsError> {
    let (url, params) = take_params(url, &["ssl-mode", "ssl-ca"]);
    let ca = last(&params, "ssl-ca").map(str::to_owned);
    let tls = match last(&params, "ssl-mode").map(str::to_ascii_uppercase).as_deref().unwrap_or("DISABLED") {
        "DISABLED" => Tls::Disable,
        // The driver has no fallback to plain: preferring TLS means requiring it.
        "PREFERRED" | "REQUIRED" => Tls::Require,
        "VERIFY_CA" | "VERIFY_IDENTITY" => Tls::Verify { ca },
        other => {
            return Err(TlsError::Mode {
                param: "ssl-mode",
                value: other.to_owned(),
                expected: "DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY",
            })
        }
    };
    Ok(TlsUrl { url, tls })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes the same provider the process default, for HTTP clients built without a TLS
/// configuration of ours (reqwest is built with `rustls-no-provider`, and a process
/// that links no other provider panics building such a client). Call once at start;
/// a provider installed before stays.
pub fn install_default_provider() {
    if rustls::crypto::ring::default_provider().install_default().is_err() {
        tracing::debug!("a default TLS provider was already installed");
    }
}

/// The rustls client configuration for `tls` (`None` for a plain connection).
pub fn client_config(tls: &Tls) -> Result<Option<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    Ok(match tls {
        Tls::Disable => None,
        Tls::Prefer | Tls::Require => Some(
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider())))
                .with_no_client_auth(),
        ),
        Tls::Verify { ca } => Some(builder.with_root_certificates(roots(ca.as_deref())?).with_no_client_auth()),
    })
}

/// The web PKI roots, and the certificates of `ca` (a PEM file) when given.
fn roots(ca: Option<&str>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca {
        let bad = |message: String| TlsError::Roots { path: path.to_owned(), message };
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// `require` as libpq and the MySQL client mean it: the connection is encrypted, the
/// server's certificate is not checked (only that it signed the handshake). Written by
/// hand: rustls offers no such verifier, on purpose.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url_and_say_what_they_ask() {
        let pg = postgres("postgres://u@h:5432/db?application_name=x&sslmode=require").unwrap();
        assert_eq!(pg, TlsUrl { url: "postgres://u@h:5432/db?application_name=x".into(), tls: Tls::Require });
        assert_eq!(postgres("postgres://u@h/db").unwrap().tls, Tls::Prefer, "libpq's default");
        assert_eq!(
            postgres("postgres://h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem").unwrap(),
            TlsUrl { url: "postgres://h/db".into(), tls: Tls::Verify { ca: Some("/etc/ca.pem".into()) } }
        );
        assert!(matches!(postgres("postgres://h/db?sslmode=sometimes"), Err(TlsError::Mode { .. })));
        assert_eq!(mysql("mysql://root@h:3306/test?ssl-mode=required").unwrap().tls, Tls::Require);
        assert_eq!(mysql("mysql://root@h:3306/test").unwrap().tls, Tls::Disable);
        assert_eq!(mysql("mysql://h/t?ssl-mode=VERIFY_IDENTITY").unwrap().tls, Tls::Verify { ca: None });
    }

    #[test]
    fn a_missing_roots_file_is_named() {
        let err = roots(Some("/nonexistent/ca.pem")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }
}
