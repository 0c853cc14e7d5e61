//! The `pmr link` line `pmr-hub keys create` prints: the address agents
//! reach this hub at, and the `--fingerprint` a self-signed hub needs. The
//! running hub records both in the store (`serve` knows its real port and
//! certificate, whatever flags or variables set them); a configured
//! `public_url` wins, and before any `serve` the settings are the best guess.

use crate::config::Config;
use crate::store::{Store, Write, write_one};

const URL_KEY: &str = "link_url";
const PIN_KEY: &str = "link_fingerprint";

/// The hub's host name, for addresses nobody configured.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "HOST".into())
}

/// Called by `serve` once it listens on `addr`: TLS or not, and the
/// fingerprint of a self-signed certificate. A hub bound to one address
/// is reached at that address; one bound to every address, at its host name.
pub fn record(
    store: &dyn Store,
    cfg: &Config,
    addr: std::net::SocketAddr,
    tls: bool,
    self_signed_fp: Option<&str>,
) -> anyhow::Result<()> {
    let scheme = if tls { "wss" } else { "ws" };
    let host = match addr.ip() {
        ip if ip.is_unspecified() => host_name(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{host}:{}", addr.port()));
    // At start-up, before the single writer runs: the only writer then.
    for (key, value) in [
        (URL_KEY, url.as_str()),
        (PIN_KEY, self_signed_fp.unwrap_or("")),
    ] {
        let w = Write::SetMeta {
            key: key.into(),
            value: value.into(),
        };
        write_one(store, w)?;
    }
    Ok(())
}

/// Where agents reach this hub and what they pin.
#[derive(Debug, Clone)]
pub struct Target {
    /// The `--hub` address.
    pub url: String,
    /// The self-signed certificate's SHA-256 fingerprint, if it is one.
    pub fingerprint: Option<String>,
    /// Whether both come from a hub that ran (not a guess).
    pub known: bool,
}

impl Target {
    /// ` --fingerprint FP`, or "" for a certificate the agent can verify.
    pub fn pin(&self) -> String {
        self.fingerprint
            .as_ref()
            .map_or(String::new(), |fp| format!(" --fingerprint {fp}"))
    }
}

/// The address and pin for a printed `pmr link` line.
pub fn target(store: &dyn Store, cfg: &Config) -> Target {
    let nonempty = |fp: String| (!fp.is_empty()).then_some(fp);
    if let (Ok(Some(url)), Ok(Some(fp))) = (store.meta(URL_KEY), store.meta(PIN_KEY)) {
        let url = cfg.public_url.clone().unwrap_or(url);
        return Target {
            url,
            fingerprint: nonempty(fp),
            known: true,
        };
    }
    let self_signed = cfg.data_dir.join("self-signed.crt");
    let fp = if cfg.tls_cert.is_none() && self_signed.exists() {
        crate::tls::load(&self_signed, &cfg.data_dir.join("self-signed.key"))
            .map(|(certs, _)| crate::tls::fingerprint(&certs[0]))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let url = cfg.public_url.clone().unwrap_or_else(|| {
        let port = cfg.listen.rsplit(':').next().unwrap_or("9615");
        let tls = cfg.tls_cert.is_some() || cfg.self_signed || self_signed.exists();
        let scheme = if tls { "wss" } else { "ws" };
        format!("{scheme}://{}:{port}", host_name())
    });
    Target {
        url,
        fingerprint: nonempty(fp),
        known: false,
    }
}
