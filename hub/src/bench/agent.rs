//! One simulated agent: the real handshake, a snapshot a second, events
//! kept until acknowledged and replayed after an outage, as a pmr agent
//! does; some (probes) also time how soon the API shows their snapshot,
//! and make one of their apps crash every 5 s for the dashboards to time.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::messages::{
    AgentMsg, Event, EventKind, Host, HubMsg, LINK_PROTOCOL, Proc, Snapshot,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use super::{Shared, now_ms};

async fn http_get(api: SocketAddr, path: &str, token: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(api).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.ok()?;
    Some(buf)
}

/// The processes of one snapshot; `marker` (in app-0's memory) tells a
/// probe its snapshot is in the API; `crashed` sets app-1 errored.
fn procs(n: usize, marker: u32, crashed: bool, storm: bool) -> Vec<Proc> {
    (0..n)
        .map(|i| Proc {
            pm_id: i as u32,
            name: format!("app-{i}"),
            namespace: "default".into(),
            status: if (crashed && i == 1) || (storm && i == 2) {
                "errored"
            } else {
                "online"
            }
            .into(),
            pid: 1000 + i as u32,
            restart_time: 0,
            unstable_restarts: 0,
            pm_uptime: 1_700_000_000_000,
            cpu: (marker % 100) as f32 / 10.0,
            memory: if i == 0 {
                50_000_000 + u64::from(marker)
            } else {
                50_000_000
            },
            exec_mode: "fork_mode".into(),
            metrics: Default::default(),
            versioning: None,
            actions: Vec::new(),
        })
        .collect()
}

/// The agent's side of the handshake on an upgraded socket.
pub(super) async fn authenticate<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    sh: &Shared,
    name: &str,
) -> anyhow::Result<(
    tokio_tungstenite::WebSocketStream<S>,
    pmr_shared::link::messages::Resume,
    Option<i64>,
)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        anyhow::bail!("no hello")
    };
    let HubMsg::Hello { hub_id, nonce, .. } = serde_json::from_str(&t)? else {
        anyhow::bail!("not hello")
    };
    let nonce_b: [u8; 32] = handshake::unhex(&nonce)
        .and_then(|b| b.try_into().ok())
        .context("nonce")?;
    let ts = now_ms();
    let f = AuthFields {
        hub_id: &hub_id,
        nonce: &nonce_b,
        proto: LINK_PROTOCOL,
        public_key: &sh.public,
        machine_id: name,
        machine_name: name,
        agent_version: "bench",
        ts,
    };
    let auth = AgentMsg::Auth {
        proto: LINK_PROTOCOL,
        public_key: sh.public.clone(),
        machine_id: name.into(),
        machine_name: name.into(),
        agent_version: "bench".into(),
        ts,
        nonce,
        sig: handshake::hex(&handshake::sign(&sh.secret, &f)),
    };
    ws.send(Message::Text(serde_json::to_string(&auth)?.into()))
        .await?;
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        anyhow::bail!("refused")
    };
    let HubMsg::Welcome { resume, session_id } = serde_json::from_str(&t)? else {
        anyhow::bail!("no welcome")
    };
    // pmr-hub's session ids begin with the server id.
    let server_id = session_id.split('-').next().and_then(|id| id.parse().ok());
    Ok((ws, resume, server_id))
}

/// One simulated agent, forever (until the run ends).
pub(super) async fn agent(i: usize, sh: Arc<Shared>, procs_n: usize, probe: bool) {
    let name = format!("bench-{i:05}");
    let src = Ipv4Addr::new(127, 1 + (i / 250) as u8, (i % 250) as u8 + 1, 1);
    let mut next_event: u64 = 1;
    let mut queued: Vec<Event> = vec![Event {
        seq: 0,
        at: now_ms(),
        kind: EventKind::Online,
        pm_id: 0,
        name: "app-0".into(),
        namespace: None,
        code: None,
        signal: None,
        detail: None,
    }];
    let mut attempt = 0u32;
    let mut marker: u32 = 0;
    loop {
        let result: anyhow::Result<()> = async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(SocketAddr::new(src.into(), 0))?;
            let stream = sock.connect(sh.api).await?;
            let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(4096);
            let (ws, _) = tokio_tungstenite::client_async_with_config(&sh.url, stream, Some(config)).await?;
            let (mut ws, resume, server_id) = authenticate(ws, &sh, &name).await?;
            sh.handshakes.fetch_add(1, Ordering::Relaxed);
            sh.connected.fetch_add(1, Ordering::Relaxed);
            attempt = 0;
            // Replay what the hub lacks, as a real agent does.
            queued.retain(|e| e.seq == 0 || e.seq > resume.events);
            for e in queued.iter_mut() {
                if e.seq == 0 {
                    e.seq = next_event.max(resume.events + 1);
                    next_event = e.seq + 1;
                }
                ws.send(Message::Text(serde_json::to_string(&AgentMsg::Event(e.clone()))?.into())).await?;
            }
            // Spread the agents' ticks over the second.
            tokio::time::sleep(Duration::from_millis((i as u64 * 7919) % 1000)).await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut seq = 0;
            let r: anyhow::Result<()> = loop {
                tokio::select! {
                    _ = tick.tick() => {
                        seq += 1;
                        marker += 1;
                        let crashed = probe && procs_n > 1 && seq % 5 == 0;
                        let snap = Snapshot { seq, full: seq % 30 == 1, at: now_ms(), host: Host::default(), processes: procs(procs_n, marker, crashed, sh.storm.load(Ordering::Relaxed)), removed: vec![] };
                        let sent = Instant::now();
                        if let (true, Some(id)) = (crashed, server_id) {
                            sh.crashes.lock().await.insert(id, sent);
                        }
                        if crashed {
                            sh.crash_names.lock().await.insert(name.clone(), sent);
                        }
                        if let Err(e) = ws.send(Message::Text(serde_json::to_string(&AgentMsg::Snapshot(snap))?.into())).await {
                            break Err(e.into());
                        }
                        if probe && !sh.outage.load(Ordering::Relaxed) {
                            let (api, token, sh2, want) = (sh.api, sh.token.clone(), sh.clone(), marker);
                            let path = format!("/api/v1/processes?server={name}&app=app-0");
                            tokio::spawn(async move {
                                while sent.elapsed() < Duration::from_secs(10) {
                                    if let Some(body) = http_get(api, &path, &token).await
                                        && body.contains(&format!("\"memory\":{},", 50_000_000 + u64::from(want)))
                                    {
                                        sh2.delays.lock().await.push(sent.elapsed().as_secs_f64() * 1000.0);
                                        return;
                                    }
                                    tokio::time::sleep(Duration::from_millis(5)).await;
                                }
                            });
                        }
                    }
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            if let Ok(HubMsg::Ack { seq, .. }) = serde_json::from_str::<HubMsg>(&t) {
                                queued.retain(|e| e.seq > seq);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break Ok(()),
                    }
                }
            };
            sh.connected.fetch_sub(1, Ordering::Relaxed);
            r
        }
        .await;
        let _ = result;
        if sh.outage.load(Ordering::Relaxed) && !queued.iter().any(|e| e.kind == EventKind::Exit) {
            // Something "crashes" while the hub is away: it must arrive later, once.
            queued.push(Event {
                seq: 0,
                at: now_ms(),
                kind: EventKind::Exit,
                pm_id: 0,
                name: "app-0".into(),
                namespace: None,
                code: Some(1),
                signal: None,
                detail: None,
            });
        }
        let ceiling = 60_000u64.min(1000u64 << attempt.min(16));
        attempt += 1;
        let mut b = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        tokio::time::sleep(Duration::from_millis(u64::from_le_bytes(b) % ceiling + 100)).await;
    }
}
