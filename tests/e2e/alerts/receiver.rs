//! A real HTTP receiver for webhooks: an axum server on a free loopback
//! port, answering each POST with the next status of its script (the last
//! one repeats), or never, and keeping every request it got.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    /// Its headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Its body, raw.
    pub raw: Vec<u8>,
}

impl Got {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These statuses in turn, the last one repeating.
    Script(Vec<u16>),
    /// Never: the request hangs.
    Never,
}

/// A running receiver; stops with the test process.
pub struct Receiver {
    /// Its port on 127.0.0.1.
    pub port: u16,
    https: bool,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    /// Starts a receiver answering as `answer`.
    pub fn start(answer: Answer) -> Receiver {
        Self::spawn(answer, None)
    }

    /// Starts an HTTPS receiver answering as `answer`, with the
    /// certificate and key of `tls` (a [`crate::tls::make_ca`] set).
    pub fn start_tls(answer: Answer, tls: &crate::harness::Tls) -> Receiver {
        let crate::harness::Tls::Ca { cert, key, .. } = tls else {
            panic!("an HTTPS receiver needs a CA-signed certificate");
        };
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        let certs = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let mut r = Self::spawn(answer, Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg))));
        r.https = true;
        r
    }

    fn spawn(answer: Answer, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let app = router(answer, got.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(l.local_addr().unwrap().port()).unwrap();
                match tls {
                    None => axum::serve(l, app).await.unwrap(),
                    Some(tls) => axum::serve(TlsListener { l, tls }, app).await.unwrap(),
                }
            });
        });
        Receiver {
            port: port_rx.recv().unwrap(),
            https: false,
            got,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        if self.https {
            format!("https://localhost:{}/hook", self.port)
        } else {
            format!("http://127.0.0.1:{}/hook", self.port)
        }
    }

    /// Every request so far.
    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

/// The receiver's one route: keeps each POST, answers as `answer` says.
fn router(answer: Answer, shared: Arc<Mutex<Vec<Got>>>) -> axum::Router {
    axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (shared, answer) = (shared.clone(), answer.clone());
            async move {
                let n = {
                    let mut g = shared.lock().unwrap();
                    g.push(Got {
                        headers: headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                        raw: body.to_vec(),
                    });
                    g.len()
                };
                match answer {
                    Answer::Never => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        StatusCode::OK
                    }
                    Answer::Script(s) => {
                        let code = s[(n - 1).min(s.len() - 1)];
                        StatusCode::from_u16(code).unwrap()
                    }
                }
            }
        }),
    )
}

/// Loopback TCP with a TLS handshake on each connection (failed
/// handshakes are dropped and the next connection awaited).
struct TlsListener {
    l: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.l.accept().await else {
                continue;
            };
            if let Ok(io) = self.tls.accept(tcp).await {
                return (io, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.l.local_addr()
    }
}
