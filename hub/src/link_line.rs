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

/// Called by `serve` once it listens: `port`, TLS or not, and the
/// fingerprint of a self-signed certificate.
pub fn record(
    store: &dyn Store,
    cfg: &Config,
    port: u16,
    tls: bool,
    self_signed_fp: Option<&str>,
) -> anyhow::Result<()> {
    let scheme = if tls { "wss" } else { "ws" };
    let url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}:{port}", host_name()));
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

/// `--hub URL` and ` --fingerprint FP` (or "") for the printed line, and
/// whether they come from a hub that ran (not a guess).
pub fn target(store: &dyn Store, cfg: &Config) -> (String, String, bool) {
    let pin = |fp: &str| {
        if fp.is_empty() {
            String::new()
        } else {
            format!(" --fingerprint {fp}")
        }
    };
    if let (Ok(Some(url)), Ok(Some(fp))) = (store.meta(URL_KEY), store.meta(PIN_KEY)) {
        let url = cfg.public_url.clone().unwrap_or(url);
        return (url, pin(&fp), true);
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
    (url, pin(&fp), false)
}
