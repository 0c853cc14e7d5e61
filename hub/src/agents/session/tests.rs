//! The session without sockets: channels stand in for the websocket's two
//! halves, a real store and ingest stand behind it, so its limits and the
//! way it ends are checked in milliseconds.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Message;
use pmr_shared::link::messages::{AgentMsg, HubMsg, Stream, close};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{End, Limits, serve};
use crate::agents::handshake::Authed;
use crate::config::Config;
use crate::live::ServerView;
use crate::state::Hub;
use crate::store::Store;
use crate::store::sqlite::SqliteStore;

/// What an agent holds of a session under test: its side of the channels.
struct Agent {
    hub: Arc<Hub>,
    server_id: i64,
    to_hub: mpsc::UnboundedSender<Result<Message, axum::Error>>,
    from_hub: mpsc::UnboundedReceiver<Message>,
    session: JoinHandle<anyhow::Result<End>>,
    _dir: tempfile::TempDir,
}

impl Agent {
    /// A welcomed session of machine `m-1` on a fresh hub.
    async fn start(limits: Limits) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("hub.db")).unwrap());
        let key = store.create_key("prod", "PKEY").unwrap();
        let config = Config {
            data_dir: dir.path().into(),
            ..Config::default()
        };
        let hub = Hub::new(config, store).unwrap();
        let authed = Authed {
            key_id: key.id,
            bucket_id: key.bucket_id,
            bucket: "prod".into(),
            machine_id: "m-1".into(),
            machine_name: "web-1".into(),
            agent_version: "test".into(),
        };
        let (to_hub, mut inbox) = mpsc::unbounded_channel();
        let (outbox, mut from_hub) = mpsc::unbounded_channel();
        let session = tokio::spawn({
            let hub = hub.clone();
            async move {
                let mut stream = futures_util::stream::poll_fn(move |cx| inbox.poll_recv(cx));
                let mut sink = Box::pin(futures_util::sink::unfold(
                    outbox,
                    |outbox, m: Message| async move {
                        outbox.send(m).map_err(axum::Error::new)?;
                        Ok::<_, axum::Error>(outbox)
                    },
                ));
                serve(&hub, (&mut sink, &mut stream), authed, limits).await
            }
        });
        let welcome = from_hub.recv().await.expect("a welcome");
        let Message::Text(text) = &welcome else {
            panic!("{welcome:?}")
        };
        let Ok(HubMsg::Welcome { session_id, .. }) = serde_json::from_str(text) else {
            panic!("{text}")
        };
        let server_id = session_id.split('-').next().unwrap().parse().unwrap();
        Self {
            hub,
            server_id,
            to_hub,
            from_hub,
            session,
            _dir: dir,
        }
    }

    fn send(&self, msg: Message) {
        self.to_hub.send(Ok(msg)).unwrap();
    }

    fn event(&self, seq: u64) {
        let e = crate::store::tests::event(seq);
        let text = serde_json::to_string(&AgentMsg::Event(e)).unwrap();
        self.send(Message::Text(text.into()));
    }

    /// The next message that is not a ping.
    async fn next(&mut self) -> Option<HubMsg> {
        loop {
            match self.from_hub.recv().await? {
                Message::Ping(_) => continue,
                Message::Text(t) => return Some(serde_json::from_str(&t).unwrap()),
                other => panic!("{other:?}"),
            }
        }
    }

    /// How the session ended.
    async fn end(self) -> End {
        self.session.await.unwrap().unwrap()
    }
}

fn code(code: u16, detail: &str) -> End {
    End::Code(code, detail.into())
}

// The paused clock runs the protocol's real 30 s in no time: the hub's own
// pings go out every 15 s but do not keep a silent session alive.
#[tokio::test(start_paused = true)]
async fn a_silent_session_is_closed_with_4411_despite_the_hubs_pings() {
    let mut agent = Agent::start(Limits::default()).await;
    let started = tokio::time::Instant::now();
    let mut pings = 0;
    while let Some(m) = agent.from_hub.recv().await {
        assert!(matches!(m, Message::Ping(_)), "{m:?}");
        pings += 1;
    }
    let waited = started.elapsed();
    assert_eq!(agent.end().await, code(close::IDLE, ""));
    assert!(pings >= 1, "the hub pinged {pings} times");
    let limit = Duration::from_secs(30);
    assert!(
        waited >= limit && waited < limit * 2,
        "closed after {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_frame_pushes_the_idle_deadline_back() {
    let mut agent = Agent::start(Limits::default()).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        agent.send(Message::Pong(Default::default()));
    }
    // 40 s in, past the first deadline: still open, an event is acked.
    agent.event(1);
    let ack = agent.next().await;
    assert!(
        matches!(
            ack,
            Some(HubMsg::Ack {
                stream: Stream::Events,
                seq: 1
            })
        ),
        "{ack:?}"
    );
    assert_eq!(agent.end().await, code(close::IDLE, ""));
}

#[tokio::test]
async fn an_event_is_stored_once_and_acked_each_time_it_is_sent() {
    let mut agent = Agent::start(Limits::default()).await;
    for _ in 0..2 {
        agent.event(7);
        let ack = agent.next().await;
        assert!(
            matches!(
                ack,
                Some(HubMsg::Ack {
                    stream: Stream::Events,
                    seq: 7
                })
            ),
            "{ack:?}"
        );
    }
    let store = agent.hub.store.clone();
    assert_eq!(store.resume(agent.server_id).unwrap().events, 7);
    agent.send(Message::Close(None));
    assert_eq!(agent.end().await, End::Gone);
}

#[tokio::test]
async fn frames_over_the_injected_rate_close_the_session_with_its_code() {
    let limits = Limits {
        frame_rate: 0.001,
        frame_burst: 2.0,
        ..Limits::default()
    };
    let mut agent = Agent::start(limits).await;
    for seq in 1..=3 {
        agent.event(seq);
    }
    assert!(matches!(
        agent.next().await,
        Some(HubMsg::Ack { seq: 1, .. })
    ));
    assert!(matches!(
        agent.next().await,
        Some(HubMsg::Ack { seq: 2, .. })
    ));
    let why = "more than 0.001 frames/s on average";
    assert_eq!(agent.end().await, code(close::RATE_LIMITED, why));
}

#[tokio::test]
async fn a_binary_or_unreadable_frame_closes_with_bad_frame() {
    let agent = Agent::start(Limits::default()).await;
    agent.send(Message::Binary(vec![1, 2, 3].into()));
    assert_eq!(agent.end().await, code(close::BAD_FRAME, "binary frame"));

    let agent = Agent::start(Limits::default()).await;
    agent.send(Message::Text("{\"t\":\"nonsense\"}".into()));
    let End::Code(c, why) = agent.end().await else {
        panic!("no close code")
    };
    assert_eq!(c, close::BAD_FRAME);
    assert!(why.starts_with("not a message: "), "{why}");
}

#[tokio::test]
async fn a_second_session_of_the_machine_closes_the_first_with_4412() {
    let agent = Agent::start(Limits::default()).await;
    let view = ServerView {
        id: agent.server_id,
        ..Default::default()
    };
    let _second = agent.hub.ingest.attach(view, 1);
    assert_eq!(agent.end().await, code(close::REPLACED, ""));
}
