//! The link's TLS: system roots by default, a CA file, or a pinned
//! certificate fingerprint (for a hub with a self-signed certificate).
//!
//! Built once per [`super::LinkManager::start`], for `wss://` hubs only and
//! before anything connects, so a bad `--ca` or `--fingerprint` fails
//! `pmr link` itself, not a later reconnect.

use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

/// Parses `AA:BB:...` or plain hex into 32 bytes.
pub fn parse_fingerprint(text: &str) -> anyhow::Result<[u8; 32]> {
    let clean: String = text.chars().filter(|c| *c != ':').collect();
    let bytes = pmr_shared::link::handshake::unhex(&clean)
        .filter(|b| b.len() == 32)
        .with_context(|| {
            format!("--fingerprint {text}: expected a SHA-256 fingerprint (64 hex digits)")
        })?;
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// The `ring` provider, named explicitly rather than installed process-wide:
/// the link is the agent's only TLS user and sets no global default.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for the chosen trust. A fingerprint wins over a
/// CA file (the CLI forbids both; a hand-edited settings file may not); with
/// neither, system roots that fail to parse are skipped, and none at all is
/// an error rather than a link that can never connect.
pub fn client_config(
    ca: Option<&str>,
    fingerprint: Option<&str>,
) -> anyhow::Result<Arc<ClientConfig>> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let cfg = if let Some(fp) = fingerprint {
        let pin = parse_fingerprint(fp)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                pin,
                provider: provider(),
            }))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(path) => {
                let file =
                    std::fs::File::open(path).with_context(|| format!("cannot open {path}"))?;
                for cert in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
                    roots.add(cert.with_context(|| format!("{path} is not a PEM certificate"))?)?;
                }
                if roots.is_empty() {
                    bail!("{path} holds no certificate");
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                for cert in found.certs {
                    let _ = roots.add(cert);
                }
                if roots.is_empty() {
                    bail!(
                        "no system CA certificates found; give the hub's CA with --ca or pin it with --fingerprint"
                    );
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(cfg))
}

/// Accepts exactly one certificate, by its SHA-256; the handshake signature
/// is still checked, so only the holder of that certificate's key passes.
#[derive(Debug)]
struct Pinned {
    /// SHA-256 of the hub's DER certificate.
    pin: [u8; 32],
    /// Supplies the signature algorithms the handshake is checked with.
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The pin is the whole trust: no chain, name or validity period is
        // checked, as for an SSH host key.
        let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        // Fingerprints are public: a plain comparison leaks nothing.
        if got == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the hub's certificate does not match the pinned fingerprint".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
