//! Hub settings: built-in defaults, then a TOML file, then `PMR_HUB_*`
//! variables and flags (clap reads both; a flag wins over its variable).

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Every setting of `pmr-hub serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// Directory for the database and generated certificates.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` (default `<data_dir>/hub.db`) or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…&sslrootcert=…]`.
    pub database: Option<String>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Generate (once) and use a self-signed certificate.
    pub self_signed: bool,
    /// Handshakes allowed per second per client address (burst: 10x).
    pub handshakes_per_ip: f64,
    /// Handshakes allowed per second per bucket key (burst: 10x).
    pub handshakes_per_key: f64,
    /// Days of events kept.
    pub retention_events_days: u32,
    /// Days of 10-second rollups kept.
    pub retention_rollups_days: u32,
    /// Days of 5-minute rollups kept.
    pub retention_coarse_days: u32,
    /// Most process series in one `/metrics` answer.
    pub max_series: usize,
    /// Most open connections in all (also held under the open-file limit).
    pub max_connections: usize,
    /// Most connections from one address (IPv6: one /64) that are not
    /// authenticated agents; 0 for no limit (a hub behind a proxy).
    pub max_connections_per_ip: usize,
    /// Most websocket upgrades waiting for `auth` at once.
    pub max_pending_handshakes: usize,
    /// Most of those from one address (IPv6: one /64).
    pub pending_handshakes_per_ip: usize,
    /// Seconds a client has for its TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Seconds a client has to send a whole request head; also how long an
    /// idle keep-alive connection stays open.
    pub header_timeout_secs: u64,
    /// Seconds a request (its body included) may take before a 408.
    pub request_timeout_secs: u64,
    /// Seconds a write to a client may make no progress before the
    /// connection is closed (a client that stops reading its response).
    pub write_timeout_secs: u64,
    /// A file holding the key receiver secrets are sealed with (32 bytes, or
    /// 64 hex digits), the same for every replica of one database; none:
    /// `secrets.key` in the data directory. `PMR_HUB_SECRETS_KEY` wins.
    pub secrets_key_file: Option<PathBuf>,
    /// Bearer token `/metrics` asks for; none: open, as Prometheus exporters are.
    pub metrics_token: Option<String>,
    /// Serve `/metrics` on this address (plain HTTP) instead of the main port.
    pub metrics_listen: Option<String>,
    /// The address agents reach the hub at (`wss://hub.example.com:9615`),
    /// printed in the `pmr link` line of `keys create`.
    pub public_url: Option<String>,
    /// Addresses of reverse proxies in front of the hub: from these, the
    /// client is the last address of `X-Forwarded-For` that is not a proxy
    /// (for sign-in and handshake limits, logs and the audit log).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A TOML file of alert rules (`[[rule]]` tables), for teams that keep
    /// configuration in git; read at start and whenever it changes.
    pub alert_rules_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:9615".into(),
            data_dir: PathBuf::from("./pmr-hub-data"),
            database: None,
            tls_cert: None,
            tls_key: None,
            self_signed: false,
            handshakes_per_ip: 20.0,
            handshakes_per_key: 200.0,
            retention_events_days: 30,
            retention_rollups_days: 7,
            retention_coarse_days: 90,
            max_series: 50_000,
            max_connections: 16_384,
            max_connections_per_ip: 256,
            max_pending_handshakes: 1024,
            pending_handshakes_per_ip: 16,
            tls_handshake_timeout_secs: 10,
            header_timeout_secs: 10,
            request_timeout_secs: 45,
            write_timeout_secs: 30,
            secrets_key_file: None,
            metrics_token: None,
            metrics_listen: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            alert_rules_file: None,
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys and wrong types are errors naming the line.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The defaults as TOML, for `pmr-hub serve --print-config`.
    pub fn default_toml() -> String {
        let mut text = toml::to_string(&Config::default()).unwrap_or_default();
        // Settings with no default are shown commented, so every name appears.
        text.push_str(concat!(
            "# database = \"sqlite://./pmr-hub-data/hub.db\"\n",
            "# tls_cert = \"/etc/pmr-hub/cert.pem\"\n",
            "# tls_key = \"/etc/pmr-hub/key.pem\"\n",
            "# secrets_key_file = \"/etc/pmr-hub/secrets.key\"\n",
            "# metrics_token = \"a long random string\"\n",
            "# metrics_listen = \"127.0.0.1:9616\"\n",
            "# public_url = \"wss://hub.example.com:9615\"\n",
            "# trusted_proxies = [\"127.0.0.1\"]\n",
            "# alert_rules_file = \"/etc/pmr-hub/alerts.toml\"\n",
        ));
        text
    }

    /// Where the data lives, from `database` (default: SQLite in the data
    /// directory).
    pub fn store(&self) -> anyhow::Result<Database> {
        let Some(url) = &self.database else {
            return Ok(Database::Sqlite(self.data_dir.join("hub.db")));
        };
        if let Some(p) = url.strip_prefix("sqlite://") {
            return Ok(Database::Sqlite(PathBuf::from(p)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.clone()));
        }
        anyhow::bail!(
            "--database {}: not sqlite://PATH or postgres://USER@HOST/DB",
            mask_passwords(url)
        )
    }
}

/// The backend a `database` URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded default: one file.
    Sqlite(PathBuf),
    /// A PostgreSQL server, shared by every replica (the URL as given).
    Postgres(String),
}

/// `text` with the password of every URL in it replaced by `****`
/// (`postgres://u:s3cret@db/x` → `postgres://u:****@db/x`), so that no
/// error message or log line shows one. Masks generously: from the first
/// `:` after `scheme://` to the last `@` before the next space or quote.
pub fn mask_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (before, after) = rest.split_at(i + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(after.len());
        let url = &after[..end];
        match (url.rfind('@'), url.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&url[..=colon]);
                out.push_str("****");
                out.push_str(&url[at..]);
            }
            _ => out.push_str(url),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        let cases = [
            ("postgres://u:s3cret@db/x", "postgres://u:****@db/x"),
            (
                "--database postgres://u:s3:c@r@db:5432/x?a=b: no",
                "--database postgres://u:****@db:5432/x?a=b: no",
            ),
            (
                "x = \"postgres://u:p/w@db\"\n",
                "x = \"postgres://u:****@db\"\n",
            ),
            (
                "a https://u@h/p and sqlite:///tmp/x.db",
                "a https://u@h/p and sqlite:///tmp/x.db",
            ),
            (
                "wss://h:9615 then http://a:b@c",
                "wss://h:9615 then http://a:****@c",
            ),
            ("no url at all: u:p@h", "no url at all: u:p@h"),
        ];
        for (raw, masked) in cases {
            assert_eq!(mask_passwords(raw), masked, "{raw}");
        }
    }

    #[test]
    fn default_toml_round_trips_and_unknown_keys_fail() {
        let text = Config::default_toml();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.listen, "0.0.0.0:9615");
        let err = toml::from_str::<Config>("listen = \"x\"\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        let err = toml::from_str::<Config>("max_series = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
