//! Webhooks: every event of a user POSTed to their endpoints as signed
//! CloudEvents, in order, never lost; failures retried, dead endpoints
//! disabled, internal addresses refused. The receiver (`support::webhooks`)
//! verifies each signature with its own implementation of the Standard
//! Webhooks algorithm.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::settings::Settings;

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app_with, start_on};
use crate::support::tls::TestCa;
use crate::support::webhooks::{Answer, Delivery, Receiver};

const WAIT: Duration = Duration::from_secs(20);

/// Webhooks to loopback allowed, and a quick retry schedule.
pub(crate) fn webhooks_on(s: &mut Settings) {
    s.webhook_allowed_hosts = "127.0.0.1".into();
    s.webhook_retry_schedule = "50ms, 100ms, 200ms, 300ms, 400ms, 500ms, 500ms, 500ms".into();
    s.webhook_sweep_interval = 0.1;
    s.webhook_timeout = 2.0;
    s.webhook_connect_timeout = 1.0;
}

async fn app_with_webhooks(backend: Backend) -> TestApp {
    spawn_app_with(backend, webhooks_on).await
}

/// Registers an endpoint for `receiver`; returns its id and secret (and has
/// the receiver verify with it).
async fn subscribe(
    app: &TestApp,
    user: &TestUser,
    receiver: &Receiver,
    extra: Value,
) -> (String, String) {
    let mut body = json!({"url": receiver.url(), "description": "test receiver"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let res = app
        .post(&format!("/api/{}/webhooks", user.id), &user.token, body)
        .await
        .expect(201);
    let secret = res.body["secret"].as_str().unwrap().to_owned();
    receiver.verify_with(&[&secret]);
    (res.body["id"].as_str().unwrap().to_owned(), secret)
}

async fn create(app: &TestApp, user: &TestUser, title: &str) -> String {
    app.create_task(user, json!({"title": title})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn types(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .map(|d| d.event_type().to_owned())
        .collect()
}

fn sequences(deliveries: &[Delivery]) -> Vec<i64> {
    deliveries.iter().map(Delivery::sequence).collect()
}

async fn endpoint(app: &TestApp, user: &TestUser, id: &str) -> Value {
    app.get(&format!("/api/v1/webhooks/{id}"), &user.token)
        .await
        .expect(200)
        .body
}

async fn attempts(app: &TestApp, user: &TestUser, id: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/webhooks/{id}/deliveries"), &user.token)
        .await
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the endpoint's state satisfies `pred`.
async fn wait_endpoint(
    app: &TestApp,
    user: &TestUser,
    id: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = endpoint(app, user, id).await;
        if pred(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "endpoint never got there: {now}"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[apply(backends)]
#[actix_web::test]
async fn every_event_type_arrives_once_signed_and_in_order(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (_, secret) = subscribe(&app, &user, &receiver, json!({})).await;
    assert!(secret.starts_with("whsec_"));
    let task = create(&app, &user, "Water plants").await;
    let path = format!("/api/v1/tasks/{task}");
    app.patch(&path, &user.token, json!({"title": "Water the plants"}))
        .await
        .expect(200);
    let remind_at = (Utc::now() + chrono::Duration::milliseconds(1500))
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    app.post(
        &format!("{path}/reminder"),
        &user.token,
        json!({"remind_at": remind_at}),
    )
    .await
    .expect(200);
    let hours =
        |h| (Utc::now() + chrono::Duration::hours(h)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let fired = receiver
        .wait_until(WAIT, "the reminder to fire", |d| {
            d.iter().any(|d| d.event_type() == "reminder.triggered")
        })
        .await;
    assert!(fired.iter().all(|d| d.accepted));
    // Set after it fired (scheduled anew), then moved (rescheduled).
    for h in [2, 3] {
        app.put(
            &format!("{path}/reminder"),
            &user.token,
            json!({"remind_at": hours(h)}),
        )
        .await
        .expect(200);
    }
    app.delete(&format!("{path}/reminder"), &user.token)
        .await
        .expect(204);
    app.post(&format!("{path}/complete"), &user.token, json!({}))
        .await
        .expect(200);
    app.post(&format!("{path}/uncomplete"), &user.token, json!({}))
        .await
        .expect(200);
    app.delete(&path, &user.token).await.expect(204);

    let log = app
        .get("/api/v1/activity-logs?limit=100", &user.token)
        .await
        .expect(200)
        .body;
    let mut logged: Vec<(i64, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_i64().unwrap(),
                e["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    logged.sort();
    let delivered = receiver.wait_for(logged.len(), WAIT).await;
    assert_eq!(
        delivered
            .iter()
            .map(|d| (d.sequence(), d.event_type().to_owned()))
            .collect::<Vec<_>>(),
        logged,
        "each event once, in sequence order"
    );
    let kinds: HashSet<String> = types(&delivered).into_iter().collect();
    for kind in [
        "task.created",
        "task.updated",
        "task.completed",
        "task.uncompleted",
        "task.deleted",
        "reminder.scheduled",
        "reminder.rescheduled",
        "reminder.cancelled",
        "reminder.triggered",
    ] {
        assert!(kinds.contains(kind), "{kind} delivered: {logged:?}");
    }
    for d in &delivered {
        assert_eq!(d.verified_by, [0], "signature verifies: {}", d.signature);
        assert_eq!(d.content_type, "application/cloudevents+json");
        assert_eq!(d.body["specversion"], "1.0");
        assert_eq!(d.body["id"], d.id.as_str(), "webhook-id is the event id");
        assert_eq!(d.body["userid"], user.id.as_str());
    }
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), delivered.len(), "nothing twice");
    let ids: HashSet<&str> = delivered.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), delivered.len());
    let metrics = app
        .call(actix_web::http::Method::GET, "/metrics", None, None)
        .await;
    let text = metrics.body.as_str().unwrap();
    assert!(
        text.contains(r#"taskstream_webhook_deliveries_total{outcome="delivered"}"#),
        "{text}"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn a_receiver_down_for_a_while_gets_everything_in_order_once_it_is_back(
    #[case] backend: Backend,
) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    subscribe(&app, &user, &receiver, json!({})).await;
    receiver.down().await;
    for i in 0..6 {
        create(&app, &user, &format!("while away {i}")).await;
    }
    actix_rt::time::sleep(Duration::from_millis(400)).await;
    receiver.up().await;
    let delivered = receiver.wait_for(6, WAIT).await;
    assert_eq!(sequences(&delivered), (1..=6).collect::<Vec<_>>());
}

#[apply(backends)]
#[actix_web::test]
async fn a_500_is_retried_and_each_attempt_is_listed(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    receiver.answer(Answer::FailTimes(2));
    create(&app, &user, "flaky receiver").await;
    create(&app, &user, "behind it").await;
    let delivered = receiver.wait_for(2, WAIT).await;
    assert_eq!(
        sequences(&delivered),
        [1, 2],
        "the second waited for the first"
    );
    let all = receiver.received();
    assert_eq!(sequences(&all), [1, 1, 1, 2]);
    let listed = wait_until_listed(&app, &user, &id, 4).await;
    let first: Vec<(i64, i64, Value)> = listed
        .iter()
        .rev()
        .map(|a| {
            (
                a["seq"].as_i64().unwrap(),
                a["attempt"].as_i64().unwrap(),
                a["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        first,
        [
            (1, 1, json!(500)),
            (1, 2, json!(500)),
            (1, 3, json!(204)),
            (2, 1, json!(204))
        ]
    );
    let failed = &listed[3];
    assert!(
        failed["error"].as_str().unwrap().contains("500"),
        "{failed}"
    );
    assert!(failed["next_retry_at"].is_string());
    assert!(listed[0]["latency_ms"].as_f64().unwrap() >= 0.0);
    let state = endpoint(&app, &user, &id).await;
    assert_eq!(
        (state["failures"].clone(), state["enabled"].clone()),
        (json!(0), json!(true))
    );
}

/// A busy endpoint's attempts are written once in a while, not each as it
/// happens; its list still ends up with the newest ones, without a gap.
#[apply(backends)]
#[actix_web::test]
async fn a_busy_endpoints_list_ends_with_its_newest_attempts(#[case] backend: Backend) {
    const EVENTS: i64 = 130;
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    for i in 0..EVENTS {
        create(&app, &user, &format!("busy {i}")).await;
    }
    let delivered = receiver
        .wait_for(usize::try_from(EVENTS).unwrap(), WAIT)
        .await;
    assert_eq!(sequences(&delivered), (1..=EVENTS).collect::<Vec<_>>());
    let deadline = tokio::time::Instant::now() + WAIT;
    let kept = loop {
        let listed = app
            .get(
                &format!("/api/v1/webhooks/{id}/deliveries?limit=100"),
                &user.token,
            )
            .await
            .expect(200)
            .body;
        let seqs: Vec<i64> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["seq"].as_i64().unwrap())
            .collect();
        if seqs.first() == Some(&EVENTS) {
            break seqs;
        }
        assert!(tokio::time::Instant::now() < deadline, "{seqs:?}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    };
    // The newest 100, newest first, every one of them.
    assert_eq!(kept, (EVENTS - 99..=EVENTS).rev().collect::<Vec<_>>());
}

/// Deleting an endpoint takes its list along, attempts not yet written
/// included; recording everyone else's goes on.
#[apply(backends)]
#[actix_web::test]
async fn an_endpoint_deleted_with_attempts_held_holds_up_no_other_record(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let (ann, bob) = (app.signup().await, app.signup().await);
    let (to_ann, to_bob) = (Receiver::start().await, Receiver::start().await);
    let (ann_id, _) = subscribe(&app, &ann, &to_ann, json!({})).await;
    let (bob_id, _) = subscribe(&app, &bob, &to_bob, json!({})).await;
    // More than a quiet endpoint's share: Ann's attempts are held.
    for i in 0..30 {
        create(&app, &ann, &format!("busy {i}")).await;
    }
    to_ann.wait_for(30, WAIT).await;
    app.delete(&format!("/api/v1/webhooks/{ann_id}"), &ann.token)
        .await
        .expect(204);
    // Past the window Ann's attempts were held for: the next record would
    // write them.
    actix_rt::time::sleep(Duration::from_millis(5_500)).await;
    for i in 0..3 {
        create(&app, &bob, &format!("quiet {i}")).await;
    }
    to_bob.wait_for(3, WAIT).await;
    let listed = wait_until_listed(&app, &bob, &bob_id, 3).await;
    assert_eq!(listed.len(), 3);
    let state = wait_endpoint(&app, &bob, &bob_id, |e| e["delivered_seq"] == json!(3)).await;
    assert_eq!(state["failures"], json!(0));
}

/// The cursors of a flush move in one statement: each only forward, and
/// only in the epoch its run was in.
#[apply(backends)]
#[actix_web::test]
async fn cursors_move_together_forward_only_and_in_their_epoch(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    // Paused: the deliverer leaves them alone.
    let (a, _) = subscribe(&app, &user, &receiver, json!({"enabled": false})).await;
    let (b, _) = subscribe(&app, &user, &receiver, json!({"enabled": false})).await;
    let db = crate::helpers::database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    let conn = &mut pooled.conn();
    let cursors = async |conn: &mut taskstream::db::Conn<'_>| {
        let mut at = Vec::new();
        for id in [&a, &b] {
            let row = taskstream::db::webhooks::by_id(conn, id)
                .await
                .unwrap()
                .unwrap();
            at.push((row.delivered_seq, row.cursor_epoch));
        }
        at
    };
    assert_eq!(cursors(conn).await, [(0, 0), (0, 0)]);
    taskstream::db::webhooks::advance_all(conn, &[(a.as_str(), 0, 5), (b.as_str(), 1, 7)])
        .await
        .unwrap();
    assert_eq!(
        cursors(conn).await,
        [(5, 0), (0, 0)],
        "b's run was of another epoch"
    );
    taskstream::db::webhooks::advance_all(conn, &[(b.as_str(), 0, 7), (a.as_str(), 0, 3)])
        .await
        .unwrap();
    assert_eq!(cursors(conn).await, [(5, 0), (7, 0)], "a never moves back");
}

async fn wait_until_listed(app: &TestApp, user: &TestUser, id: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let listed = attempts(app, user, id).await;
        if listed.len() >= n {
            return listed;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed:?}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[apply(backends)]
#[actix_web::test]
async fn a_410_disables_the_endpoint_and_the_user_is_told(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    let mut ws = crate::ws::Ws::connect(&app, &user, "").await;
    ws.next().await;
    receiver.answer(Answer::Fail(410));
    create(&app, &user, "nobody wants this").await;
    let state = wait_endpoint(&app, &user, &id, |e| e["enabled"] == false).await;
    // The user's open pages hear of it at once, with the endpoint named.
    loop {
        let message = ws.next_of("event").await;
        if message["event_type"] == "webhook.disabled" {
            assert_eq!(message["webhook"]["endpoint_id"], id.as_str());
            assert_eq!(message["webhook"]["url"], receiver.url().as_str());
            assert!(
                message["webhook"]["reason"]
                    .as_str()
                    .unwrap()
                    .contains("410")
            );
            break;
        }
    }
    assert!(
        state["disabled_reason"].as_str().unwrap().contains("410"),
        "{state}"
    );
    assert!(state["disabled_at"].is_string());
    let log = app
        .get("/api/v1/activity-logs", &user.token)
        .await
        .expect(200)
        .body;
    let told = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "webhook.disabled")
        .cloned()
        .expect("a webhook.disabled event");
    assert!(told["summary"].as_str().unwrap().contains("410"), "{told}");
    // Nothing more goes to it.
    create(&app, &user, "after").await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1);
    // Enabled again, it resumes where it stopped: both tasks, in order.
    receiver.answer(Answer::Accept);
    app.patch(
        &format!("/api/v1/webhooks/{id}"),
        &user.token,
        json!({"enabled": true}),
    )
    .await
    .expect(200);
    let delivered = receiver.wait_for(3, WAIT).await;
    assert_eq!(
        types(&delivered),
        ["task.created", "webhook.disabled", "task.created"]
    );
}

/// Events committed while a run is delivering follow it as soon as it
/// ends, in order: not at the next sweep (here an hour away).
#[apply(backends)]
#[actix_web::test]
async fn events_committed_during_a_run_follow_it_without_a_sweep(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        webhooks_on(s);
        s.webhook_sweep_interval = 3600.0;
    })
    .await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    subscribe(&app, &user, &receiver, json!({})).await;
    receiver.answer(Answer::Slow(Duration::from_millis(400)));
    create(&app, &user, "first").await;
    // The first delivery is under way when the rest are committed.
    receiver
        .wait_until(WAIT, "the first delivery", |d| !d.is_empty())
        .await;
    for i in 2..=4 {
        create(&app, &user, &format!("during {i}")).await;
    }
    let delivered = receiver.wait_for(4, Duration::from_secs(5)).await;
    assert_eq!(sequences(&delivered), vec![1, 2, 3, 4]);
}

#[apply(backends)]
#[actix_web::test]
async fn an_endpoint_failing_the_whole_schedule_is_disabled(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        webhooks_on(s);
        s.webhook_retry_schedule = "50ms, 50ms".into();
    })
    .await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    receiver.answer(Answer::Fail(503));
    create(&app, &user, "never arrives").await;
    let state = wait_endpoint(&app, &user, &id, |e| e["enabled"] == false).await;
    let reason = state["disabled_reason"].as_str().unwrap();
    assert!(
        reason.contains("3 delivery attempts") && reason.contains("503"),
        "{reason}"
    );
    assert_eq!(
        receiver.received().len(),
        3,
        "the first try and two retries"
    );
    let metrics = app
        .call(actix_web::http::Method::GET, "/metrics", None, None)
        .await;
    assert!(
        metrics
            .body
            .as_str()
            .unwrap()
            .contains(r#"taskstream_webhook_endpoints_disabled_total{reason="failing"} 1"#)
    );
}

#[apply(backends)]
#[actix_web::test]
async fn a_hanging_receiver_holds_up_no_other_endpoint_or_user(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        webhooks_on(s);
        s.webhook_timeout = 10.0;
    })
    .await;
    let (ann, bob) = (app.signup().await, app.signup().await);
    let (hanging, fine, bobs) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    hanging.answer(Answer::Hang);
    subscribe(&app, &ann, &hanging, json!({})).await;
    subscribe(&app, &ann, &fine, json!({})).await;
    subscribe(&app, &bob, &bobs, json!({})).await;
    let started = tokio::time::Instant::now();
    for i in 0..3 {
        create(&app, &ann, &format!("ann {i}")).await;
        create(&app, &bob, &format!("bob {i}")).await;
    }
    assert_eq!(sequences(&fine.wait_for(3, WAIT).await), [1, 2, 3]);
    assert_eq!(sequences(&bobs.wait_for(3, WAIT).await), [1, 2, 3]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "well before the hanging delivery times out (10 s): {:?}",
        started.elapsed()
    );
    // Its first delivery may reach it only now (the others' went out
    // meanwhile); it hangs there, and nothing follows it.
    let deadline = started + Duration::from_secs(5);
    while hanging.received().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        hanging.received().len(),
        1,
        "the hanging one is still at its first"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn filters_take_only_the_types_asked_for(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let (done, all) = (Receiver::start().await, Receiver::start().await);
    subscribe(
        &app,
        &user,
        &done,
        json!({"event_types": ["task.completed", "reminder.*"]}),
    )
    .await;
    subscribe(&app, &user, &all, json!({"event_types": []})).await;
    let task = create(&app, &user, "filtered").await;
    app.patch(
        &format!("/api/v1/tasks/{task}"),
        &user.token,
        json!({"priority": "high"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/api/v1/tasks/{task}/complete"),
        &user.token,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(all.wait_for(3, WAIT).await.len(), 3);
    let only = done.wait_for(1, WAIT).await;
    assert_eq!(types(&only), ["task.completed"]);
    assert_eq!(sequences(&only), [3]);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(done.received().len(), 1);
    // Unknown types are refused by name.
    let res = app
        .post(
            "/api/v1/webhooks",
            &user.token,
            json!({"url": done.url(), "event_types": ["task.exploded"]}),
        )
        .await
        .expect(422);
    assert!(
        res.body["error"]["details"]["event_types"].is_string(),
        "{}",
        res.body
    );
}

#[apply(backends)]
#[actix_web::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_the_grace_period(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        webhooks_on(s);
        // 1.8 s of grace.
        s.webhook_secret_grace_hours = 0.0005;
    })
    .await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (id, old) = subscribe(&app, &user, &receiver, json!({})).await;
    let rotated = app
        .post(
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            &user.token,
            json!({}),
        )
        .await
        .expect(200)
        .body;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());
    receiver.verify_with(&[&old, &new]);
    create(&app, &user, "during the grace").await;
    let first = receiver.wait_for(1, WAIT).await;
    assert_eq!(
        first[0].verified_by,
        [0, 1],
        "both verify: {}",
        first[0].signature
    );
    assert_eq!(first[0].signature.split(' ').count(), 2);
    actix_rt::time::sleep(Duration::from_millis(2000)).await;
    create(&app, &user, "after the grace").await;
    let second = receiver.wait_for(2, WAIT).await;
    assert_eq!(
        second[1].verified_by,
        [1],
        "only the new one: {}",
        second[1].signature
    );
    let listed = endpoint(&app, &user, &id).await;
    assert!(listed["previous_secret_expires_at"].is_null());
    assert!(listed.get("secret").is_none(), "never shown again");
}

#[apply(backends)]
#[actix_web::test]
async fn a_test_delivery_and_replays(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    let tested = app
        .post(
            &format!("/api/v1/webhooks/{id}/test"),
            &user.token,
            json!({}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(tested["status"], 204, "{tested}");
    assert_eq!(tested["event_type"], "webhook.test");
    assert_eq!(tested["kind"], "test");
    let test = receiver.wait_for(1, WAIT).await;
    assert_eq!(test[0].event_type(), "webhook.test");
    assert_eq!(test[0].verified_by, [0]);
    assert_eq!(test[0].body["data"]["endpoint_id"], id.as_str());

    for i in 0..3 {
        create(&app, &user, &format!("replayed {i}")).await;
    }
    let delivered = receiver.wait_for(4, WAIT).await;
    assert_eq!(sequences(&delivered[1..]), [1, 2, 3]);
    wait_until_listed(&app, &user, &id, 4).await;
    let again = app
        .post(
            &format!("/api/v1/webhooks/{id}/replay"),
            &user.token,
            json!({"event_id": delivered[2].id}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            again["seq"].clone(),
            again["attempt"].clone(),
            again["kind"].clone()
        ),
        (json!(2), json!(2), json!("replay"))
    );
    let from = app
        .post(
            &format!("/api/v1/webhooks/{id}/replay"),
            &user.token,
            json!({"since_seq": 2}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(from, json!({"from_seq": 2}));
    let all = receiver.wait_for(7, WAIT).await;
    assert_eq!(
        sequences(&all[4..]),
        [2, 2, 3],
        "one replayed, then 2 and 3 again in order"
    );
    assert_eq!(
        all[5].id, delivered[2].id,
        "the same webhook-id: receivers dedupe"
    );
    // The attempts say what made each: newest first.
    let attempts = wait_until_listed(&app, &user, &id, 7).await;
    let kinds: Vec<(i64, &str)> = attempts
        .iter()
        .map(|a| (a["seq"].as_i64().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            (3, "scheduled"),
            (2, "scheduled"),
            (2, "replay"),
            (3, "scheduled"),
            (2, "scheduled"),
            (1, "scheduled"),
            (0, "test"),
        ]
    );
    for bad in [json!({"since_seq": 99}), json!({"since_seq": 0})] {
        let res = app
            .post(
                &format!("/api/v1/webhooks/{id}/replay"),
                &user.token,
                bad.clone(),
            )
            .await;
        assert!([409, 422].contains(&res.status), "{bad}: {}", res.status);
    }
    app.post(
        &format!("/api/v1/webhooks/{id}/replay"),
        &user.token,
        json!({}),
    )
    .await
    .expect(422);
    app.post(
        &format!("/api/v1/webhooks/{id}/replay"),
        &user.token,
        json!({"event_id": uuid::Uuid::now_v7()}),
    )
    .await
    .expect(404);
}

#[apply(backends)]
#[actix_web::test]
async fn internal_addresses_and_redirects_are_refused(#[case] backend: Backend) {
    let guarded = spawn_app_with(backend, |_| {}).await;
    let user = guarded.signup().await;
    let receiver = Receiver::start().await;
    for url in [
        receiver.url(),
        "http://localhost:9/hook".to_owned(),
        "http://[::1]:9/hook".to_owned(),
        "http://10.1.2.3/hook".to_owned(),
        "http://192.168.0.10/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://metadata.google.internal/".to_owned(),
        "ftp://example.com/hook".to_owned(),
        "https://user:secret@example.com/hook".to_owned(),
    ] {
        let res = guarded
            .post("/api/v1/webhooks", &user.token, json!({"url": url}))
            .await
            .expect(422);
        assert!(
            res.body["error"]["details"]["url"].is_string(),
            "{url}: {}",
            res.body
        );
    }
    assert_eq!(receiver.received().len(), 0);

    // Allowed to reach loopback, it still follows no redirect.
    let app = app_with_webhooks(backend).await;
    let user = app.signup().await;
    let target = Receiver::start().await;
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    receiver.answer(Answer::Redirect(target.url()));
    create(&app, &user, "redirected").await;
    let listed = wait_until_listed(&app, &user, &id, 1).await;
    assert_eq!(listed[0]["status"], 302);
    assert!(
        listed[0]["error"].as_str().unwrap().contains("redirect"),
        "{}",
        listed[0]
    );
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(target.received().len(), 0, "the redirect was not followed");
}

#[apply(backends)]
#[actix_web::test]
async fn https_receivers_are_verified_by_their_certificate(#[case] backend: Backend) {
    let ca = TestCa::new();
    let app = spawn_app_with(backend, |s| {
        webhooks_on(s);
        s.webhook_ca_file = ca.ca_file().display().to_string();
    })
    .await;
    let user = app.signup().await;
    let receiver = Receiver::start_tls(&ca).await;
    assert!(receiver.url().starts_with("https://127.0.0.1:"));
    let (id, _) = subscribe(&app, &user, &receiver, json!({})).await;
    create(&app, &user, "over TLS").await;
    let delivered = receiver.wait_for(1, WAIT).await;
    assert_eq!(types(&delivered), ["task.created"]);
    assert_eq!(delivered[0].verified_by, [0], "signed as over plain HTTP");
    let listed = wait_until_listed(&app, &user, &id, 1).await;
    assert_eq!(
        (listed[0]["status"].clone(), listed[0]["error"].clone()),
        (json!(204), Value::Null)
    );

    // A certificate no trusted CA issued: never delivered to, and the
    // attempt says why.
    let stranger = TestCa::new();
    let other = app.signup().await;
    let impostor = Receiver::start_tls(&stranger).await;
    let (id, _) = subscribe(&app, &other, &impostor, json!({})).await;
    create(&app, &other, "not to an impostor").await;
    let listed = wait_until_listed(&app, &other, &id, 1).await;
    let error = listed[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("certificate"), "{}", listed[0]);
    assert_eq!(listed[0]["status"], Value::Null);
    assert!(listed[0]["next_retry_at"].is_string(), "retried later");
    assert_eq!(impostor.received().len(), 0, "no request reached it");
}

#[apply(backends)]
#[actix_web::test]
async fn another_user_can_neither_see_nor_touch_your_endpoints(#[case] backend: Backend) {
    let app = app_with_webhooks(backend).await;
    let (ann, bob) = (app.signup().await, app.signup().await);
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &ann, &receiver, json!({})).await;
    let listed = app
        .get("/api/v1/webhooks", &bob.token)
        .await
        .expect(200)
        .body;
    assert_eq!(listed, json!([]));
    for (method, suffix, body) in [
        ("GET", "", None),
        ("PATCH", "", Some(json!({"enabled": false}))),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", Some(json!({}))),
        ("GET", "/deliveries", None),
        ("POST", "/test", Some(json!({}))),
        ("POST", "/replay", Some(json!({"since_seq": 1}))),
    ] {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let own = app
            .call(
                method.clone(),
                &format!("/api/v1/webhooks/{id}{suffix}"),
                Some(&bob.token),
                body.clone(),
            )
            .await;
        assert_eq!(
            own.status, 404,
            "{method} {suffix} as bob: no hint it exists"
        );
        let theirs = app
            .call(
                method.clone(),
                &format!("/api/{}/webhooks/{id}{suffix}", ann.id),
                Some(&bob.token),
                body,
            )
            .await;
        assert_eq!(theirs.status, 403, "{method} {suffix} on ann's path");
    }
    assert_eq!(endpoint(&app, &ann, &id).await["enabled"], true);
    assert_eq!(
        receiver.received().len(),
        0,
        "bob's test never went to ann's receiver"
    );
    // Bob's events never reach Ann's receiver.
    create(&app, &bob, "bob's").await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 0);
}

#[apply(backends)]
#[actix_web::test]
async fn endpoints_are_validated_listed_and_bounded(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        webhooks_on(s);
        s.webhook_max_endpoints = 3;
    })
    .await;
    let user = app.signup().await;
    let receiver = Receiver::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let res = app
            .post(
                "/api/v1/webhooks",
                &user.token,
                json!({"url": receiver.url(), "description": format!("number {i}")}),
            )
            .await
            .expect(201);
        let secret = res.body["secret"].as_str().unwrap();
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert!(key.len() >= 24, "at least 24 random bytes");
        ids.push(res.body["id"].as_str().unwrap().to_owned());
    }
    let res = app
        .post(
            "/api/v1/webhooks",
            &user.token,
            json!({"url": receiver.url()}),
        )
        .await
        .expect(409);
    assert_eq!(res.body["error"]["code"], "too_many_webhooks");
    let listed = app
        .get("/api/v1/webhooks", &user.token)
        .await
        .expect(200)
        .body;
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);
    let patched = app
        .patch(
            &format!("/api/v1/webhooks/{}", ids[0]),
            &user.token,
            json!({"description": "renamed", "event_types": ["task.*"], "enabled": false}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (
            patched["description"].clone(),
            patched["event_types"].clone(),
            patched["enabled"].clone()
        ),
        (json!("renamed"), json!(["task.*"]), json!(false))
    );
    assert!(patched["disabled_reason"].is_null(), "paused by the user");
    assert!(patched["disabled_at"].is_string(), "since when");
    for bad in [
        json!({"url": "not a url"}),
        json!({"url": receiver.url(), "surprise": 1}),
        json!({"url": receiver.url(), "description": "a\nb"}),
        json!({"url": receiver.url(), "event_types": "task.*"}),
    ] {
        let res = app.post("/api/v1/webhooks", &user.token, bad.clone()).await;
        assert_eq!(res.status, 422, "{bad}: {}", res.body);
    }
    app.delete(&format!("/api/v1/webhooks/{}", ids[1]), &user.token)
        .await
        .expect(204);
    app.delete(&format!("/api/v1/webhooks/{}", ids[1]), &user.token)
        .await
        .expect(404);
    app.get("/api/v1/webhooks/not-a-uuid", &user.token)
        .await
        .expect(404);
}

/// `kill -9` with deliveries pending: after a restart they all arrive, in
/// order (the binary itself, killed for real).
#[apply(backends)]
#[actix_web::test]
async fn deliveries_pending_at_a_kill_arrive_after_the_restart(#[case] backend: Backend) {
    let (db, url) = crate::helpers::TestDb::create(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", crate::helpers::JWT_SECRET),
        ("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1"),
        (
            "WEBHOOK_RETRY_SCHEDULE",
            "100ms, 200ms, 300ms, 400ms, 500ms, 500ms, 500ms, 500ms, 500ms, 500ms",
        ),
        ("WEBHOOK_SWEEP_INTERVAL", "0.1"),
        ("OUTBOX_LEASE_TTL", "2"),
    ];
    let (mut first, base) = crate::process::start_in(dir.path(), &env);
    let client = awc::Client::default();
    let signup: Value = client
        .post(format!("{base}/api/auth/signup"))
        .send_json(&json!({"email": "kill@example.com", "password": "correct horse battery"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");
    let created: Value = client
        .post(format!("{base}/api/v1/webhooks"))
        .insert_header(("Authorization", auth.as_str()))
        .send_json(&json!({"url": receiver.url()}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    receiver.verify_with(&[created["secret"].as_str().unwrap()]);
    receiver.down().await;
    for i in 0..5 {
        let res = client
            .post(format!("{base}/api/v1/tasks"))
            .insert_header(("Authorization", auth.as_str()))
            .send_json(&json!({"title": format!("pending {i}")}))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
    }
    first.kill().unwrap();
    first.wait().unwrap();
    receiver.up().await;
    let (mut second, _) = crate::process::start_in(dir.path(), &env);
    let delivered = receiver.wait_for(5, Duration::from_secs(30)).await;
    assert_eq!(sequences(&delivered), [1, 2, 3, 4, 5]);
    assert!(delivered.iter().all(|d| d.verified_by == [0]));
    let _ = second.kill();
    let _ = second.wait();
    drop(db);
}

/// Two replicas on one database: each endpoint is delivered to by one of
/// them at a time, so its events arrive once each and in order.
#[actix_web::test]
async fn two_replicas_deliver_each_event_once_in_order() {
    let first = app_with_webhooks(Backend::Postgres).await;
    let second = start_on(first.database_url.clone(), |s| {
        webhooks_on(s);
        s.instance_id = "second".into();
    })
    .await;
    let mut users = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..4 {
        let user = first.signup().await;
        let receiver = Receiver::start().await;
        subscribe(&first, &user, &receiver, json!({})).await;
        users.push(user);
        receivers.push(receiver);
    }
    for i in 0..5 {
        for user in &users {
            let app = if i % 2 == 0 { &first } else { &second };
            create(app, user, &format!("from either {i}")).await;
        }
    }
    for receiver in &receivers {
        assert_eq!(
            sequences(&receiver.wait_for(5, WAIT).await),
            [1, 2, 3, 4, 5]
        );
    }
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    for receiver in &receivers {
        assert_eq!(receiver.received().len(), 5, "none twice");
    }
}
