//! Real-time sync over WebSocket, with awc's WebSocket client: auth paths,
//! live pushes, exact replay (also racing writers), isolation, heartbeats,
//! slow consumers, and events from another replica.

use std::time::Duration;

use actix_codec::Framed;
use actix_web::http::StatusCode;
use awc::BoxedSocket;
use awc::ws::{Codec, Frame, Message};
use futures_util::{SinkExt, StreamExt};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{
    Backend, TestApp, TestUser, create_concurrently, spawn_app, spawn_app_with, start_on,
};
use crate::support::dapr::Sidecar;

const WAIT: Duration = Duration::from_secs(15);

/// A connected WebSocket client.
pub struct Ws {
    framed: Framed<BoxedSocket, Codec>,
}

/// How a client presents its token.
#[derive(Clone, Copy)]
enum Auth {
    Header,
    Query,
    Subprotocol,
}

impl Ws {
    async fn open(
        app: &TestApp,
        user_id: &str,
        token: Option<&str>,
        auth: Auth,
        query: &str,
    ) -> Result<(Self, awc::ClientResponse), (StatusCode, Value)> {
        let mut url = app.url(&format!("/api/ws/{user_id}"));
        let mut params = Vec::new();
        if let (Some(token), Auth::Query) = (token, auth) {
            params.push(format!("token={token}"));
        }
        if !query.is_empty() {
            params.push(query.to_owned());
        }
        if !params.is_empty() {
            url = format!("{url}?{}", params.join("&"));
        }
        let mut request = awc::Client::new().ws(url).max_frame_size(4 * 1024 * 1024);
        match (token, auth) {
            (Some(token), Auth::Header) => request = request.bearer_auth(token),
            (Some(token), Auth::Subprotocol) => request = request.protocols(["bearer", token]),
            _ => {}
        }
        match request.connect().await {
            Ok((response, framed)) => Ok((Self { framed }, response)),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => {
                Err((status, Value::Null))
            }
            Err(e) => panic!("WebSocket connect failed: {e}"),
        }
    }

    pub async fn connect(app: &TestApp, user: &TestUser, query: &str) -> Self {
        let (ws, _) = Self::open(app, &user.id, Some(&user.token), Auth::Header, query)
            .await
            .expect("connects");
        ws
    }

    /// The next JSON message (answering pings on the way).
    pub async fn next(&mut self) -> Value {
        self.try_next(WAIT).await.expect("a message in time")
    }

    pub async fn try_next(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.framed.next())
                .await
                .ok()??;
            match frame.expect("a valid frame") {
                Frame::Text(bytes) => return Some(serde_json::from_slice(&bytes).expect("JSON")),
                Frame::Ping(bytes) => self.framed.send(Message::Pong(bytes)).await.expect("pong"),
                Frame::Close(reason) => panic!("closed unexpectedly: {reason:?}"),
                _ => {}
            }
        }
    }

    /// The next message of type `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let message = self.next().await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// `n` event messages.
    async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let message = self.next().await;
            if message["type"] == "event" {
                out.push(message);
            }
        }
        out
    }

    async fn send(&mut self, value: Value) {
        self.framed
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("send");
    }

    /// Reads until the server closes; returns the close code.
    pub async fn closed(&mut self, within: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(1006),
                Ok(Some(Ok(Frame::Close(reason)))) => {
                    return Some(reason.map_or(1005, |r| u16::from(r.code)));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) => return Some(1006),
            }
        }
    }
}

fn seq(message: &Value) -> i64 {
    message["seq"].as_i64().unwrap()
}

async fn create(app: &TestApp, user: &TestUser, title: &str) -> String {
    app.create_task(user, json!({"title": title})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[apply(backends)]
#[actix_web::test]
async fn each_way_of_presenting_the_token_connects(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    create(&app, &user, "before").await;
    for auth in [Auth::Header, Auth::Query, Auth::Subprotocol] {
        let (mut ws, response) = Ws::open(&app, &user.id, Some(&user.token), auth, "")
            .await
            .expect("connects");
        if let Auth::Subprotocol = auth {
            assert_eq!(
                response.headers().get("sec-websocket-protocol").unwrap(),
                "bearer",
                "the bearer subprotocol is echoed"
            );
        }
        let hello = ws.next().await;
        assert_eq!(
            hello,
            json!({"type": "hello", "user_id": user.id, "last_seq": 1})
        );
    }
}

#[apply(backends)]
#[actix_web::test]
async fn refusals_happen_before_the_upgrade(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    for (who, token, expected) in [
        ("no token", None, 401),
        ("bad token", Some("not.a.token"), 401),
        ("someone else's path", Some(bob.token.as_str()), 403),
    ] {
        let Err((status, _)) = Ws::open(&app, &alice.id, token, Auth::Header, "").await else {
            panic!("{who}: upgraded");
        };
        assert_eq!(status.as_u16(), expected, "{who}");
    }
    // The refusal is the usual JSON error (asked as a plain HTTP request).
    let res = app
        .client
        .get(app.url(&format!("/api/ws/{}", alice.id)))
        .insert_header(("Authorization", format!("Bearer {}", bob.token)))
        .insert_header(("Connection", "Upgrade"))
        .insert_header(("Upgrade", "websocket"))
        .insert_header(("Sec-WebSocket-Version", "13"))
        .insert_header(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="))
        .send()
        .await;
    let mut res = res.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let Err((status, _)) = Ws::open(
        &app,
        &alice.id,
        Some(&alice.token),
        Auth::Header,
        "since=-1",
    )
    .await
    else {
        panic!("bad since upgraded");
    };
    assert_eq!(status.as_u16(), 422);
}

#[apply(backends)]
#[actix_web::test]
async fn every_change_is_pushed_live(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let mut ws = Ws::connect(&app, &user, "").await;
    assert_eq!(ws.next().await["type"], "hello");
    let id = create(&app, &user, "Live").await;
    let path = format!("/api/{}/tasks/{id}", user.id);
    app.patch(&path, &user.token, json!({"priority": "high"}))
        .await
        .expect(200);
    app.complete(&user, &id).await;
    app.post(&format!("{path}/uncomplete"), &user.token, json!({}))
        .await
        .expect(200);
    app.delete(&path, &user.token).await.expect(204);
    let events = ws.events(5).await;
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "task.created",
            "task.updated",
            "task.completed",
            "task.uncompleted",
            "task.deleted"
        ]
    );
    assert_eq!(events.iter().map(seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(events[0]["task"]["title"], "Live");
    assert_eq!(events[0]["task_id"], id.as_str());
    assert!(uuid::Uuid::parse_str(events[0]["event_id"].as_str().unwrap()).is_ok());
    assert!(events[0]["time"].is_string());
    assert_eq!(
        events[1]["changes"],
        json!({"priority": {"old": "none", "new": "high"}})
    );
    assert_eq!(
        events[4]["task"],
        Value::Null,
        "no snapshot for a deleted task"
    );
    // Client messages.
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await, json!({"type": "pong"}));
    ws.send(json!({"type": "shout"})).await;
    let error = ws.next().await;
    assert_eq!(error["type"], "error");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(
        ws.next().await,
        json!({"type": "pong"}),
        "the connection stays open after an error"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn replay_from_the_start_the_middle_and_the_newest(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for i in 0..6 {
        create(&app, &user, &format!("t{i}")).await;
    }
    let mut newest = 6;
    for since in [0, 3, 6] {
        let mut ws = Ws::connect(&app, &user, &format!("since={since}")).await;
        assert_eq!(ws.next().await["last_seq"], newest);
        let mut got = Vec::new();
        loop {
            let message = ws.next().await;
            match message["type"].as_str().unwrap() {
                "event" => got.push(seq(&message)),
                "replay_done" => {
                    assert_eq!(message["last_seq"], newest);
                    break;
                }
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(
            got,
            (since + 1..=newest).collect::<Vec<_>>(),
            "since={since}"
        );
        create(&app, &user, "after the replay").await;
        newest += 1;
        let live = ws.next_of("event").await;
        assert_eq!(seq(&live), newest, "live continues without a gap");
    }
    // Resume on an open connection, and a since beyond the log.
    let mut ws = Ws::connect(&app, &user, "").await;
    let hello = ws.next().await;
    let newest = hello["last_seq"].as_i64().unwrap();
    ws.send(json!({"type": "resume", "since": newest - 2}))
        .await;
    let replayed = ws.events(2).await;
    assert_eq!(
        replayed.iter().map(seq).collect::<Vec<_>>(),
        [newest - 1, newest]
    );
    assert_eq!(ws.next().await["type"], "replay_done");
    let mut ahead = Ws::connect(&app, &user, &format!("since={}", newest + 100)).await;
    ahead.next().await;
    assert_eq!(
        ahead.next().await,
        json!({"type": "resync_required", "last_seq": newest})
    );
}

#[apply(backends)]
#[actix_web::test]
async fn replay_racing_concurrent_writes_has_no_gap_and_no_duplicate(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for i in 0..30 {
        create(&app, &user, &format!("early {i}")).await;
    }
    let writer = async {
        for i in 0..40 {
            create(&app, &user, &format!("during {i}")).await;
        }
    };
    let reader = async {
        let mut ws = Ws::connect(&app, &user, "since=0").await;
        ws.next().await; // hello
        let mut seqs = Vec::new();
        while seqs.len() < 70 {
            let message = ws.next().await;
            if message["type"] == "event" {
                seqs.push(seq(&message));
            }
        }
        seqs
    };
    let ((), seqs) = futures_util::join!(writer, reader);
    assert_eq!(seqs, (1..=70).collect::<Vec<_>>());
}

#[apply(backends)]
#[actix_web::test]
async fn several_sessions_each_get_every_event_once_in_order(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| s.event_channel_capacity = 1).await;
    let user = app.signup().await;
    let mut tabs = Vec::new();
    for _ in 0..3 {
        let mut ws = Ws::connect(&app, &user, "").await;
        ws.next().await;
        tabs.push(ws);
    }
    create_concurrently(&[&app], &user, 30, "burst").await;
    for ws in &mut tabs {
        let got: Vec<i64> = ws.events(30).await.iter().map(seq).collect();
        assert_eq!(
            got,
            (1..=30).collect::<Vec<_>>(),
            "an overflowing channel is filled from the log"
        );
        assert!(
            ws.try_next(Duration::from_millis(300)).await.is_none(),
            "nothing twice"
        );
    }
}

#[apply(backends)]
#[actix_web::test]
async fn a_session_only_sees_its_own_users_events(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    let mut bobs = Ws::connect(&app, &bob, "since=0").await;
    bobs.next().await;
    assert_eq!(bobs.next().await["type"], "replay_done");
    for i in 0..5 {
        create(&app, &alice, &format!("alice {i}")).await;
    }
    create(&app, &bob, "bob's").await;
    let event = bobs.next_of("event").await;
    assert_eq!(event["task"]["title"], "bob's");
    assert_eq!(seq(&event), 1);
    assert!(bobs.try_next(Duration::from_millis(300)).await.is_none());
}

#[apply(backends)]
#[actix_web::test]
async fn silent_clients_are_dropped(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.ws_ping_interval = 0.2;
        s.ws_client_timeout = 1.0;
    })
    .await;
    let user = app.signup().await;
    let (mut ws, _) = Ws::open(&app, &user.id, Some(&user.token), Auth::Header, "")
        .await
        .unwrap();
    // Never answers pings.
    let code = ws.closed(Duration::from_secs(5)).await;
    assert_eq!(code, Some(1008), "closed for silence");
    // A client that answers stays.
    let mut lively = Ws::connect(&app, &user, "").await;
    lively.next().await;
    assert!(
        lively.try_next(Duration::from_millis(1800)).await.is_none(),
        "still open"
    );
    lively.send(json!({"type": "ping"})).await;
    assert_eq!(lively.next().await["type"], "pong");
}

#[apply(backends)]
#[actix_web::test]
async fn oversized_frames_close_with_1009(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let mut ws = Ws::connect(&app, &user, "").await;
    ws.next().await;
    let huge = "x".repeat(70 * 1024);
    let frame = json!({"type": "ping", "pad": huge}).to_string();
    ws.framed.send(Message::Text(frame.into())).await.unwrap();
    assert_eq!(ws.closed(WAIT).await, Some(1009));
}

#[apply(backends)]
#[actix_web::test]
async fn a_client_that_stops_reading_is_closed_and_others_carry_on(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| s.ws_session_queue = 8).await;
    let user = app.signup().await;
    let (mut slow, _) = Ws::open(&app, &user.id, Some(&user.token), Auth::Header, "")
        .await
        .unwrap();
    let mut fast = Ws::connect(&app, &user, "").await;
    fast.next().await;
    // Big events fill the slow client's socket buffers, then its queue.
    let description = "d".repeat(9_000);
    let total = 700;
    let writer = async {
        for i in 0..total {
            app.create_task(
                &user,
                json!({"title": format!("big {i}"), "description": description}),
            )
            .await;
        }
    };
    let reader = async {
        let mut got = Vec::new();
        while got.len() < total {
            let message = fast.next().await;
            if message["type"] == "event" {
                got.push(seq(&message));
            }
        }
        got
    };
    let ((), got) = futures_util::join!(writer, reader);
    assert_eq!(
        got,
        (1..=total as i64).collect::<Vec<_>>(),
        "the reading client got everything"
    );
    // The slow one, once it reads, finds itself told to resume.
    assert_eq!(slow.closed(Duration::from_secs(20)).await, Some(4000));
}

#[apply(backends)]
#[actix_web::test]
async fn a_change_on_another_replica_reaches_this_ones_sessions_once(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let endpoint = sidecar.endpoint();
    let replica_a = spawn_app_with(backend, move |s| {
        s.dapr_enabled = true;
        s.dapr_http_endpoint = Some(endpoint);
        s.outbox_sweep_interval = 0.1;
        s.instance_id = "replica-a".into();
    })
    .await;
    let replica_b = start_on(replica_a.database_url.clone(), |s| {
        s.instance_id = "replica-b".into()
    })
    .await;
    let user = replica_a.signup().await;
    let mut on_b = Ws::connect(&replica_b, &user, "").await;
    on_b.next().await;
    create(&replica_a, &user, "made on A").await;
    // A publishes; Dapr delivers A's task-updates message to B.
    let update = sidecar.wait_for("task-updates", 1, WAIT).await.remove(0);
    assert_eq!(update.body["instanceid"], "replica-a");
    for _ in 0..2 {
        let mut res = replica_b
            .client
            .post(replica_b.url("/api/events/task-updates"))
            .insert_header(("Content-Type", "application/cloudevents+json"))
            .send_body(update.body.to_string())
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "SUCCESS");
    }
    let event = on_b.next_of("event").await;
    assert_eq!(
        (seq(&event), event["task"]["title"].as_str()),
        (1, Some("made on A"))
    );
    assert!(
        on_b.try_next(Duration::from_millis(500)).await.is_none(),
        "delivered once"
    );
    // B's own changes are not pushed twice when they come back from Dapr.
    create(&replica_b, &user, "made on B").await;
    assert_eq!(seq(&on_b.next_of("event").await), 2);
    assert!(on_b.try_next(Duration::from_millis(300)).await.is_none());
}

#[apply(backends)]
#[actix_web::test]
async fn an_unreadable_event_in_the_log_is_stepped_over(#[case] backend: Backend) {
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::RunQueryDsl;
    use taskstream::db::schema::events;
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for title in ["one", "two", "three"] {
        create(&app, &user, title).await;
    }
    // Seq 2 becomes unreadable (as if written by a later release).
    let db = crate::helpers::database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| diesel::update(
        events::table
            .filter(events::user_id.eq(&user.id))
            .filter(events::seq.eq(2))
    )
    .set(events::payload.eq(r#"{"schema_version": 99}"#))
    .execute(c)
    .await
    .unwrap());
    let mut ws = Ws::connect(&app, &user, "since=0").await;
    assert_eq!(ws.next().await["type"], "hello");
    let first = ws.next().await;
    let third = ws.next().await;
    assert_eq!((seq(&first), seq(&third)), (1, 3), "seq 2 is stepped over");
    assert_eq!(
        ws.next().await,
        json!({"type": "replay_done", "last_seq": 3})
    );
    create(&app, &user, "four").await;
    assert_eq!(
        seq(&ws.next_of("event").await),
        4,
        "and live events carry on"
    );
    let log = app
        .get("/api/v1/activity-logs", &user.token)
        .await
        .expect(200);
    let seqs: Vec<i64> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(seq)
        .collect();
    assert_eq!(seqs, [4, 3, 1]);
    let metrics = app
        .call(actix_web::http::Method::GET, "/metrics", None, None)
        .await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .lines()
            .any(|l| l.starts_with("taskstream_events_unreadable_total ") && !l.ends_with(" 0")),
        "counted"
    );
}
