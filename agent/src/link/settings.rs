//! `$PMR_HOME/link.json`: where the hub is and the bucket keys, mode 0600.
//!
//! `pmr link` goes validate → start → save (`daemon::handlers::link`), so a
//! file on disk always held settings that once started; the daemon loads it
//! at start. Also the machine id, which outlives any one link.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pmr_shared::ipc::LinkSettings;
use pmr_shared::link::keys::{PublicKey, SecretKey};

/// Path of the settings file.
pub fn path(home: &Path) -> PathBuf {
    home.join("link.json")
}

/// Checks the keys and the URL before anything connects: a typo, swapped
/// keys or a secret that does not match the public key are named here.
pub fn validate(s: &LinkSettings) -> anyhow::Result<(SecretKey, PublicKey)> {
    let secret = SecretKey::parse(&s.secret_key).map_err(|e| anyhow::anyhow!("secret key: {e}"))?;
    let public = PublicKey::parse(&s.public_key).map_err(|e| anyhow::anyhow!("public key: {e}"))?;
    if secret.public() != public {
        bail!(
            "the secret key does not belong to this public key (were they copied from different buckets?)"
        );
    }
    let urls = hub_urls(&s.hub);
    for url in &urls {
        if !(url.starts_with("wss://") || url.starts_with("ws://")) {
            bail!("--hub {url:?}: use wss://host:port (or ws:// for a hub without TLS)");
        }
        check_hub_url(url)?;
    }
    let plain = urls.iter().filter(|u| u.starts_with("ws://")).count();
    if plain > 0 && plain < urls.len() {
        bail!(
            "--hub {}: every address of one hub takes the same scheme, use wss://host:port for all",
            s.hub
        );
    }
    if plain > 0 && (s.ca.is_some() || s.fingerprint.is_some()) {
        bail!(
            "--ca and --fingerprint secure wss:// links; {} is plain ws://, which nothing would verify",
            s.hub
        );
    }
    if s.machine_name.is_empty() || s.machine_name.len() > 128 {
        bail!("the machine name must have 1 to 128 characters");
    }
    if let Some(ca) = &s.ca
        && !Path::new(ca).is_file()
    {
        bail!("--ca {ca}: no such file");
    }
    if let Some(fp) = &s.fingerprint {
        super::tls::parse_fingerprint(fp)?;
    }
    Ok((secret, public))
}

/// The addresses of the hub's replicas, in the order the link tries them:
/// one, or several separated by commas (`wss://a:9615,wss://b:9615`).
pub fn hub_urls(hub: &str) -> Vec<&str> {
    hub.split(',').map(str::trim).collect()
}

/// Checks one hub address as the link will use it: `ws(s)://host[:port][/path]`
/// whose host is a name or an IP address, so `wss://a wss://b` or a stray
/// character fails here, not at the first connection.
fn check_hub_url(url: &str) -> anyhow::Result<()> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let bad = |why: &str| {
        anyhow::anyhow!("--hub {url:?}: {why}; use wss://host:port, or several separated by commas")
    };
    let rest = url
        .strip_prefix("wss://")
        .or_else(|| url.strip_prefix("ws://"))
        .ok_or_else(|| bad("not a ws:// or wss:// address"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it holds a space or a control character"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad(
            "a user name in the address is not used; the keys authenticate",
        ));
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: [::1]:9615.
        Some(v6) => {
            let (ip, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            ip.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("not an IPv6 address between [ ]"))?;
            (ip, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !authority.starts_with('[') && (host.len() > 253 || !host.split('.').all(label_ok)) {
        return Err(bad(&format!("{host:?} is not a host name or address")));
    }
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(bad(&format!("{p:?} is not a port (1-65535)")));
    }
    if rest.contains("://") {
        return Err(bad("it holds more than one address"));
    }
    // What the connection itself parses (the session dials `<hub>/agent/v1`).
    format!("{}/agent/v1", url.trim_end_matches('/'))
        .into_client_request()
        .map_err(|e| bad(&e.to_string()))?;
    Ok(())
}

/// Writes the settings with mode 0600 (it holds the secret key).
pub fn save(home: &Path, s: &LinkSettings) -> anyhow::Result<()> {
    let p = path(home);
    let tmp = home.join("link.json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(&serde_json::to_vec_pretty(s)?)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &p).with_context(|| format!("cannot replace {}", p.display()))?;
    Ok(())
}

/// Reads the settings, if a link is configured.
pub fn load(home: &Path) -> anyhow::Result<Option<LinkSettings>> {
    let p = path(home);
    match std::fs::read(&p) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not valid", p.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

/// The machine's stable id for this `$PMR_HOME`, created on first use.
/// The hub keys its server record on the bucket and this id, so a machine
/// linked again under a new name keeps its history and its resume point.
/// If the file cannot be written, the id lasts only for this daemon.
pub fn machine_id(home: &Path) -> String {
    let p = home.join("machine-id");
    if let Ok(id) = std::fs::read_to_string(&p) {
        let id = id.trim().to_string();
        if !id.is_empty() {
            return id;
        }
    }
    let mut raw = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let id = pmr_shared::link::handshake::hex(&raw);
    let _ = std::fs::write(&p, &id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &SecretKey, public: &str) -> LinkSettings {
        LinkSettings {
            secret_key: secret.to_text(),
            public_key: public.into(),
            machine_name: "web-1".into(),
            hub: "wss://hub:9615".into(),
            ca: None,
            fingerprint: None,
        }
    }

    #[test]
    fn mismatched_swapped_and_mistyped_keys_are_named() {
        let a = SecretKey::generate();
        let b = SecretKey::generate();
        assert!(validate(&settings(&a, &a.public().to_string())).is_ok());
        let e = validate(&settings(&a, &b.public().to_string()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not belong"), "{e}");
        let mut swapped = settings(&a, &a.public().to_string());
        std::mem::swap(&mut swapped.secret_key, &mut swapped.public_key);
        let e = validate(&swapped).unwrap_err().to_string();
        assert!(e.contains("secret key") && e.contains("public"), "{e}");
        let mut typo = settings(&a, &a.public().to_string());
        typo.public_key.replace_range(
            10..11,
            if &typo.public_key[10..11] == "A" {
                "B"
            } else {
                "A"
            },
        );
        let e = validate(&typo).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        let mut http = settings(&a, &a.public().to_string());
        http.hub = "http://hub".into();
        assert!(validate(&http).is_err());
    }
}
