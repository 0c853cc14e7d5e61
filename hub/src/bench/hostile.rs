//! Hostile load for `pmr-hub bench --hostile N`: N source addresses, each
//! holding its whole allowance — every pending-handshake slot as an upgrade
//! that never answers `hello`, and the rest of its connection share as idle
//! TCP connections — reopened as soon as the hub closes them. Also times a
//! fresh agent's handshake from an address of its own while that goes on.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::AsyncReadExt;

/// What the hostile side holds right now.
#[derive(Default)]
pub(super) struct Held {
    /// Upgrades waiting for `auth` that will never come.
    pub(super) pending: AtomicUsize,
    /// Idle TCP connections that never send a request.
    pub(super) idle: AtomicUsize,
}

fn source(addr: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 200 + (addr / 250) as u8, (addr % 250) as u8 + 1, 1)
}

async fn connect(src: Ipv4Addr, hub: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind(SocketAddr::new(src.into(), 0))?;
    sock.connect(hub).await
}

async fn idle_upgrade(src: Ipv4Addr, hub: SocketAddr, held: Arc<Held>) {
    let url = format!("ws://{hub}/agent/v1");
    loop {
        if let Ok(tcp) = connect(src, hub).await
            && let Ok((mut ws, _)) = tokio_tungstenite::client_async(&url, tcp).await
        {
            held.pending.fetch_add(1, Ordering::Relaxed);
            while let Some(Ok(_)) = ws.next().await {}
            held.pending.fetch_sub(1, Ordering::Relaxed);
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn idle_tcp(src: Ipv4Addr, hub: SocketAddr, held: Arc<Held>) {
    let mut buf = [0u8; 64];
    loop {
        match connect(src, hub).await {
            Ok(mut tcp) => {
                held.idle.fetch_add(1, Ordering::Relaxed);
                while matches!(tcp.read(&mut buf).await, Ok(n) if n > 0) {}
                held.idle.fetch_sub(1, Ordering::Relaxed);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Starts `addrs` hostile addresses, each with `pending` idle upgrades and
/// `idle` idle connections.
pub(super) fn start(addrs: usize, pending: usize, idle: usize, hub: SocketAddr) -> Arc<Held> {
    let held = Arc::new(Held::default());
    for a in 0..addrs {
        let src = source(a);
        for _ in 0..pending {
            tokio::spawn(idle_upgrade(src, hub, held.clone()));
        }
        for _ in 0..idle {
            tokio::spawn(idle_tcp(src, hub, held.clone()));
        }
    }
    held
}

/// Milliseconds from connect to `welcome` for a fresh agent from its own
/// address (`n`-th of the run), or `None` if it was refused.
pub(super) async fn fresh_link(n: usize, sh: &super::Shared) -> Option<f64> {
    let src = Ipv4Addr::new(127, 250, (n / 250) as u8, (n % 250) as u8 + 1);
    let start = Instant::now();
    let tcp = connect(src, sh.api).await.ok()?;
    let (ws, _) = tokio_tungstenite::client_async(&sh.url, tcp).await.ok()?;
    let name = format!("fresh-{n:04}");
    super::agent::authenticate(ws, sh, &name).await.ok()?;
    Some(start.elapsed().as_secs_f64() * 1000.0)
}
