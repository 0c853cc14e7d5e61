//! A headless Chromium (Debian's `chromium`) driven over the DevTools
//! protocol: a page, its navigation, JavaScript evaluated in it, and
//! screenshots. Only the handful of commands the dashboard tests use, over
//! a blocking websocket: chromiumoxide would bring hundreds of generated
//! protocol types to build for these six commands.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::WebSocket;

/// Where Debian's package puts the browser; `CHROMIUM` overrides.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// A running headless browser with one page open, killed on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Uncaught exceptions and console errors the page reported.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts the browser with a fresh profile and a page `width` × `height`.
    pub fn launch(width: u32, height: u32) -> Browser {
        Self::launch_with(width, height, &[])
    }

    /// The same, with extra command-line flags.
    pub fn launch_with(width: u32, height: u32, flags: &[&str]) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium_path())
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
            ])
            .args(flags)
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromium_path().display()));
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let url = loop {
            line.clear();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "chromium exited before listening"
            );
            if let Some(u) = line.trim().strip_prefix("DevTools listening on ") {
                break u.to_string();
            }
        };
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        let hostport = url.trim_start_matches("ws://").split('/').next().unwrap();
        let stream = TcpStream::connect(hostport).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let (ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_string();
        b.call("Page.enable", json!({}));
        b.call("Runtime.enable", json!({}));
        // Browser-side errors too: a CSP refusal, a failed load.
        b.call("Log.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        );
        b
    }

    /// Sends one command (to the page once attached) and waits for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let frame = self
                .ws
                .read()
                .unwrap_or_else(|e| panic!("{method}: no answer from the browser: {e}"));
            let tungstenite::Message::Text(text) = frame else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            self.note_event(&v);
        }
    }

    fn note_event(&mut self, v: &Value) {
        if std::env::var_os("CDP_TRACE").is_some() {
            eprintln!("cdp event {}", v["method"]);
        }
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let d = &v["params"]["exceptionDetails"];
                let text = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str())
                    .unwrap_or("exception");
                self.errors.push(text.to_string());
            }
            Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => {
                let e = &v["params"]["entry"];
                let text = e["text"].as_str().unwrap_or_default();
                self.errors.push(format!("{}: {text}", e["source"]));
            }
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => {
                self.errors.push(v["params"]["args"].to_string());
            }
            _ => {}
        }
    }

    /// Opens `url` and waits for its load event.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait("the page to load", "document.readyState === 'complete'");
    }

    /// The value of a JavaScript expression (awaited if a promise).
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expr}: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits (up to 15 s) until `expr` is truthy; panics with `what`.
    pub fn wait(&mut self, what: &str, expr: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.eval(&format!(
                "(() => {{ try {{ return {expr}; }} catch {{ return null; }} }})()"
            ));
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if Instant::now() > until {
                let body = self.eval("document.body ? document.body.innerText.slice(0, 2000) : ''");
                panic!("waited 15 s for {what}; the page says:\n{body}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of the page's `<main>`.
    pub fn text(&mut self) -> String {
        self.eval("document.querySelector('main').innerText")
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Types `value` into the input matched by `selector` as a user would
    /// (the input's value, then its `input` and `change` events).
    pub fn fill(&mut self, selector: &str, value: &str) {
        let js = format!(
            "(() => {{ const e = document.querySelector({s}); e.value = {v}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); \
             e.dispatchEvent(new Event('change', {{bubbles: true}})); return true; }})()",
            s = json!(selector),
            v = json!(value)
        );
        self.wait(
            &format!("an input {selector}"),
            &format!("document.querySelector({})", json!(selector)),
        );
        self.eval(&js);
    }

    /// Clicks the first element matching `selector` whose text contains `text`.
    pub fn click(&mut self, selector: &str, text: &str) {
        let find = format!(
            "[...document.querySelectorAll({s})].find(e => e.textContent.includes({t}) && !e.disabled)",
            s = json!(selector),
            t = json!(text)
        );
        self.wait(&format!("{selector} with text {text:?}"), &find);
        self.eval(&format!("{find}.click()"));
    }

    /// Saves a PNG of the whole page to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
