//! A real `pmr-hub` on a free port, spoken to over raw HTTP/1.1, for the
//! API's contract and role tests.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A hub on a free port with one API token, killed on drop.
pub struct Hub {
    child: Child,
    pub port: u16,
    pub token: String,
    pub dir: tempfile::TempDir,
}

impl Hub {
    pub fn start() -> Hub {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_pmr-hub"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["tokens", "create", "--name", "contract"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pmr-hub"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut port = None;
        let mut line = String::new();
        while port.is_none() && out.read_line(&mut line).unwrap() > 0 {
            port = line
                .trim()
                .strip_prefix("pmr-hub listening on http://127.0.0.1:")
                .and_then(|p| p.parse().ok());
            line.clear();
        }
        // Keep draining stdout so the hub never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = port.expect("the hub prints its port");
        Hub {
            child,
            port,
            token,
            dir,
        }
    }

    /// Runs `pmr-hub ARGS` on this hub's data; returns what it printed.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_pmr-hub"))
            .arg("--data-dir")
            .arg(self.dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "pmr-hub {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// One request on a fresh connection; `headers` are extra header lines.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        // The hub may answer (413) and close before reading all of a large
        // body; the answer is still there to read.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
            // A stream of events never ends: its head is the answer.
            let text = String::from_utf8_lossy(&raw).to_ascii_lowercase();
            if let Some((head, _)) = text.split_once("\r\n\r\n")
                && head.contains("content-type: text/event-stream")
            {
                break;
            }
        }
        Reply::parse(&String::from_utf8_lossy(&raw))
    }

    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[("Authorization", &self.auth())], b"")
    }

    pub fn post_json(&self, path: &str, body: &str) -> Reply {
        let auth = self.auth();
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        self.request("POST", path, &headers, body.as_bytes())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed response: status, headers (names lower-case) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn parse(raw: &str) -> Reply {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, tail)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 || tail.len() < n {
                    break;
                }
                out.push_str(&tail[..n]);
                rest = tail[n..].trim_start_matches("\r\n");
            }
            out
        } else {
            body.to_string()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Asserts the one error shape with `status`; returns the message.
    pub fn error(&self, status: u16, what: &str) -> String {
        assert_eq!(self.status, status, "{what}: {self:?}");
        let ct = self.header("content-type").unwrap_or_default();
        assert!(ct.starts_with("application/json"), "{what}: {self:?}");
        let v = self.json();
        assert_eq!(v["status"], status, "{what}: {v}");
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error string in {v}"))
            .to_string()
    }
}
