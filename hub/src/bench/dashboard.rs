//! One simulated dashboard tab on the fleet page: it follows the change
//! feed as the page does (every kind, and each server's figures every
//! 5 s), refetches the server list every 30 s (changes are applied in the
//! page), and times how long each crash of a probe agent took to reach it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::Shared;

/// Follows the feed until the run ends.
pub(super) async fn dashboard(sh: Arc<Shared>) {
    tokio::spawn(refetch(sh.clone()));
    loop {
        let _ = follow(&sh).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn follow(sh: &Arc<Shared>) -> anyhow::Result<()> {
    let mut s = tokio::net::TcpStream::connect(sh.api).await?;
    // What `web/live.js` asks for on the fleet-wide pages; with
    // PMR_BENCH_NO_FIGURES=1, the changes only (the page before figures).
    let query = if std::env::var_os("PMR_BENCH_NO_FIGURES").is_some() {
        String::new()
    } else {
        let kinds = crate::ingest::feed::Change::KINDS.join(",");
        format!("?kinds={kinds}&every=5")
    };
    let req = format!(
        "GET /api/v1/changes{query} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        sh.token
    );
    s.write_all(req.as_bytes()).await?;
    let mut lines = BufReader::new(s).lines();
    while let Some(line) = lines.next_line().await? {
        if line == "event: resync" {
            // Behind: the page refetches; so does this tab, and a crash it
            // shows counts from then.
            tokio::spawn(caught_up(sh.clone()));
            continue;
        }
        // Only crashes are timed: other lines are read, not parsed.
        let Some(data) = line
            .strip_prefix("data: ")
            .filter(|d| d.starts_with("{\"type\":\"process_status\""))
        else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(data) else {
            continue;
        };
        if v["type"] != "process_status" || v["status"] != "errored" {
            continue;
        }
        let Some(id) = v["server_id"].as_i64() else {
            continue;
        };
        let sent = sh.crashes.lock().await.get(&id).copied();
        if let Some(sent) = sent {
            let ms = sent.elapsed().as_secs_f64() * 1000.0;
            sh.crash_delays.lock().await.push(ms);
        }
    }
    Ok(())
}

/// After a `resync`: the errored probe apps the refetched list shows are
/// crashes seen now.
async fn caught_up(sh: Arc<Shared>) {
    let Some(body) = get(&sh, "/api/v1/processes?app=app-1&status=errored").await else {
        return;
    };
    let Some(list) = body
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(b).ok())
    else {
        return;
    };
    let ids: Vec<i64> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["server_id"].as_i64())
        .collect();
    let crashes = sh.crashes.lock().await.clone();
    let mut delays = sh.crash_delays.lock().await;
    for id in ids {
        if let Some(sent) = crashes.get(&id) {
            delays.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

/// Refetches `/api/v1/servers` as the fleet page does; records each time.
async fn refetch(sh: Arc<Shared>) {
    // Tabs opened at different moments.
    let spread = rand_core::RngCore::next_u64(&mut rand_core::OsRng) % 30_000;
    tokio::time::sleep(Duration::from_millis(spread)).await;
    loop {
        let t = Instant::now();
        if fetch(&sh, "/api/v1/servers").await.is_some() {
            sh.fetches
                .lock()
                .await
                .push(t.elapsed().as_secs_f64() * 1000.0);
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// One GET with the token; the whole answer, head and body.
async fn get(sh: &Shared, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(sh.api).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        sh.token
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).await.ok()?;
    body.starts_with("HTTP/1.1 200").then_some(body)
}

/// One GET with the token; the answer's length.
pub(super) async fn fetch(sh: &Shared, path: &str) -> Option<usize> {
    get(sh, path).await.map(|a| a.len())
}
