//! The dashboard's files, compiled into the binary from `hub/web/`, each
//! with its ETag and gzip body made once, on first use.

use std::io::Write as _;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    /// Its name under `/assets/`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub mime: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
    etag: OnceLock<String>,
    gz: OnceLock<Vec<u8>>,
}

impl Asset {
    const fn new(name: &'static str, mime: &'static str, body: &'static [u8]) -> Self {
        Self {
            name,
            mime,
            body,
            etag: OnceLock::new(),
            gz: OnceLock::new(),
        }
    }

    /// A quoted hash of the content.
    pub fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let d = Sha256::digest(self.body);
            format!("\"{}\"", pmr_shared::link::handshake::hex(&d[..12]))
        })
    }

    /// The content, gzip-compressed (best level: done once).
    pub fn gzipped(&self) -> &[u8] {
        self.gz.get_or_init(|| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            // Writing to a Vec cannot fail.
            let _ = e.write_all(self.body);
            e.finish().unwrap_or_default()
        })
    }
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! assets {
    ($($name:literal => $mime:expr),* $(,)?) => {
        /// Every file under `/assets/`.
        pub static ALL: [Asset; [$($name),*].len()] = [
            $(Asset::new($name, $mime, include_bytes!(concat!("../../web/", $name)))),*
        ];
    };
}

assets! {
    "app.css" => "text/css; charset=utf-8",
    "app.js" => JS,
    "api.js" => JS,
    "nav.js" => JS,
    "ui.js" => JS,
    "table.js" => JS,
    "live.js" => JS,
    "chart.js" => JS,
    "fleet.js" => JS,
    "processes.js" => JS,
    "process.js" => JS,
    "versions.js" => JS,
    "events.js" => JS,
    "logs.js" => JS,
    "admin.js" => JS,
    "alerts.js" => JS,
    "form.js" => JS,
    "rules.js" => JS,
    "receivers.js" => JS,
    "exceptions.js" => JS,
    "cluster.js" => JS,
    "login.js" => JS,
    "icon.svg" => "image/svg+xml",
}

/// The page every dashboard address answers.
pub static SHELL: Asset = Asset::new(
    "index.html",
    "text/html; charset=utf-8",
    include_bytes!("../../web/index.html"),
);

/// The asset named `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Asset> {
    ALL.iter().find(|a| a.name == name)
}

/// The shell for a browser without a session cookie: a `<meta
/// name="pmr-session" content="none">` tells the page that no one is
/// signed in, so it need not ask.
pub fn signed_out_shell() -> &'static Asset {
    static SIGNED_OUT: OnceLock<Asset> = OnceLock::new();
    SIGNED_OUT.get_or_init(|| {
        let html = String::from_utf8_lossy(SHELL.body).replacen(
            "<head>",
            "<head>\n<meta name=\"pmr-session\" content=\"none\">",
            1,
        );
        let body: &'static [u8] = Box::leak(html.into_bytes().into_boxed_slice());
        Asset::new("index.html", "text/html; charset=utf-8", body)
    })
}
