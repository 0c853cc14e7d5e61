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
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    /// Starts a receiver answering as `answer`.
    pub fn start(answer: Answer) -> Receiver {
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let shared = got.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                port_tx.send(l.local_addr().unwrap().port()).unwrap();
                let app = axum::Router::new().route(
                    "/hook",
                    axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                        let (shared, answer) = (shared.clone(), answer.clone());
                        async move {
                            let n = {
                                let mut g = shared.lock().unwrap();
                                g.push(Got {
                                    headers: headers
                                        .iter()
                                        .map(|(k, v)| {
                                            (k.to_string(), v.to_str().unwrap_or("").to_string())
                                        })
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
                );
                axum::serve(l, app).await.unwrap();
            });
        });
        Receiver {
            port: port_rx.recv().unwrap(),
            got,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every request so far.
    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}
