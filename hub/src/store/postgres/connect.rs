//! From a `postgres://` URL to connections: libpq's `sslmode` and
//! `sslrootcert` read here, TLS through the workspace's rustls, and every
//! certificate verified (unlike libpq, `require` verifies too).

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::mask_passwords;

/// What connects to the database: the client settings and the TLS maker.
#[derive(Clone)]
pub struct Target {
    /// Host, port, user, database and the rest of the URL.
    pub config: tokio_postgres::Config,
    /// TLS for every connection that asks for it.
    pub tls: MakeRustlsConnect,
}

/// Reads a `postgres://` (or `postgresql://`) URL. `sslmode` is `disable`,
/// `prefer` (the default: TLS when the server offers it), `require`,
/// `verify-ca` or `verify-full` (the last three: TLS or no connection);
/// whenever TLS is used the server's certificate is checked against
/// `sslrootcert` (a PEM file) or the system's roots, host name included.
pub fn target(url: &str) -> anyhow::Result<Target> {
    let shown = mask_passwords(url);
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root) = (SslMode::Prefer, None);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = ssl_mode(v).with_context(|| format!("--database {shown}"))?
            }
            Some(("sslrootcert", v)) => root = Some(v.to_string()),
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let mut config = tokio_postgres::Config::from_str(&url)
        .map_err(|e| anyhow::anyhow!("--database {shown}: {}", mask_passwords(&e.to_string())))?;
    config.ssl_mode(mode);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    let roots = match root {
        Some(file) => roots_from(Path::new(&file))
            .with_context(|| format!("--database {shown}: sslrootcert"))?,
        None => system_roots(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Target {
        config,
        tls: MakeRustlsConnect::new(tls),
    })
}

impl Target {
    /// The settings for the synchronous client (the store's).
    pub fn sync_config(&self) -> postgres::Config {
        self.config.clone().into()
    }

    /// One new connection, its error naming the database without a password.
    pub fn connect(&self) -> anyhow::Result<postgres::Client> {
        self.sync_config().connect(self.tls.clone()).map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to the database {}: {}",
                describe(&self.config),
                mask_passwords(&error_text(&e))
            )
        })
    }
}

/// `user@host:port/db`, for messages (never the password).
pub fn describe(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",");
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

/// A driver error with its cause (the driver's own text is often just "error connecting").
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match (e.as_db_error(), std::error::Error::source(e)) {
        (Some(db), _) => format!("{} ({})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("{e}: {cause}"),
        (None, None) => e.to_string(),
    }
}

fn ssl_mode(v: &str) -> anyhow::Result<SslMode> {
    Ok(match v {
        "disable" => SslMode::Disable,
        "prefer" | "allow" => SslMode::Prefer,
        "require" | "verify-ca" | "verify-full" => SslMode::Require,
        other => anyhow::bail!(
            "sslmode={other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        ),
    })
}

fn roots_from(file: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let pem = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(cert.with_context(|| format!("{}: not a PEM certificate", file.display()))?)?;
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "{}: no certificate in it",
        file.display()
    );
    Ok(roots)
}

fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_settings_are_read_and_bad_ones_named() {
        let t = target("postgres://hub:pw@db.example:6543/pmr?sslmode=require&application_name=x")
            .unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Require);
        assert_eq!(describe(&t.config), "hub@db.example:6543/pmr");
        assert_eq!(t.config.get_application_name(), Some("x"));
        let t = target("postgres://hub@db/pmr").unwrap();
        assert_eq!(t.config.get_ssl_mode(), SslMode::Prefer);
        let err = target("postgres://hub:s3cret@db/pmr?sslmode=sometimes")
            .err()
            .unwrap();
        let text = format!("{err:#}");
        assert!(
            text.contains("sometimes") && !text.contains("s3cret"),
            "{text}"
        );
        let err = target("postgres://hub@db/pmr?sslrootcert=/nonexistent/ca.pem")
            .err()
            .unwrap();
        assert!(
            format!("{err:#}").contains("/nonexistent/ca.pem"),
            "{err:#}"
        );
    }
}
