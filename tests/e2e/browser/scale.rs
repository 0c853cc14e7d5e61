//! A benchmark, not a check (ignored; run by hand, figures in the notes):
//! the processes page against 1,000 simulated agents of 10 processes each
//! (`pmr-hub bench`, release build), timed in headless Chromium from the
//! start of navigation to the table's rows on screen.
//!
//!     cargo build --release -p pmr-hub
//!     cargo test -p pmr-tests --test e2e -- --ignored --nocapture processes_page_at_scale

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::cdp::Browser;

#[test]
#[ignore = "benchmark: needs a release build, prints figures"]
fn processes_page_at_scale() {
    let bin =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/pmr-hub");
    let agents = std::env::var("AGENTS").unwrap_or_else(|_| "1000".into());
    let mut bench = Command::new(bin)
        .args([
            "bench",
            "--agents",
            &agents,
            "--procs",
            "10",
            "--seconds",
            "5",
            "--hold",
            "20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(bench.stdout.take().unwrap());
    let mut line = String::new();
    let (url, password) = loop {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "bench ended early");
        print!("{line}");
        if let Some(rest) = line.strip_prefix("dashboard: ") {
            let url = rest.split_whitespace().next().unwrap().to_string();
            let pw = rest
                .split("password ")
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap();
            break (url, pw.to_string());
        }
    };
    // The API timings the bench prints next.
    for _ in 0..2 {
        line.clear();
        out.read_line(&mut line).unwrap();
        print!("{line}");
    }
    let mut b = Browser::launch(1280, 800);
    b.goto(&format!("{url}login"));
    b.fill("input[name=email]", "bench@example.com");
    b.fill("input[name=password]", &password);
    b.click("form button", "Sign in");
    b.wait("the fleet", "document.querySelector('main tbody tr')");
    let mut times = Vec::new();
    for _ in 0..5 {
        b.goto(&format!("{url}processes"));
        // Checked every frame in the page itself: the time rows showed.
        let ms = b.eval(
            "new Promise(done => { const f = () => document.querySelectorAll('main tbody tr').length >= 500 \
               ? done(performance.now() - performance.getEntriesByType('navigation')[0].startTime) \
               : requestAnimationFrame(f); f(); })",
        );
        times.push(ms.as_f64().unwrap());
    }
    println!("processes page, navigation to 500 rows of {agents}0 on screen: {times:.0?} ms");
    // The bench stops its hub once the hold is over.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::stdout()));
    assert!(bench.wait().unwrap().success());
}
