//! The event pipeline against a stand-in Dapr sidecar: every change becomes
//! CloudEvents on the right topics, in per-user order, and none is lost
//! whatever happens to the sidecar, the channel or the process.

use std::collections::HashMap;
use std::time::Duration;

use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, Publishing, TestApp, TestUser, create_concurrently, dapr_on, other_replica,
    processed_ids, publishing_through, spawn_app, spawn_app_with, start_on,
};
use crate::support::dapr::{Mode, Received, Sidecar};
use crate::{backends, backends_and_publishing};

const WAIT: Duration = Duration::from_secs(30);

/// `(seq, type)` of each message, in arrival order.
fn seqs(messages: &[Received]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m.body["sequence"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Each message's sequence number once, in order of first arrival.
fn first_seen(messages: &[Received]) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    seqs(messages)
        .into_iter()
        .filter(|s| seen.insert(*s))
        .collect()
}

fn of_user(messages: &[Received], user: &TestUser) -> Vec<Received> {
    messages
        .iter()
        .filter(|m| m.body["userid"] == user.id.as_str())
        .cloned()
        .collect()
}

async fn create(app: &TestApp, user: &TestUser, title: &str) -> String {
    app.create_task(user, json!({"title": title})).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn every_mutation_is_published_as_cloud_events_in_order(
    #[case] backend: Backend,
    #[case] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let app = spawn_app_with(backend, publishing_through(&sidecar, publishing)).await;
    let user = app.signup().await;
    let base = format!("/api/{}/tasks", user.id);
    let incoming_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut res = app
        .client
        .post(app.url(&base))
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .insert_header(("x-request-id", "req-create-1"))
        .insert_header((
            "traceparent",
            format!("00-{incoming_trace}-00f067aa0ba902b7-01"),
        ))
        .send_json(&json!({"title": "Buy milk"}))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let task: Value = res.json().await.unwrap();
    let path = format!("{base}/{}", task["id"].as_str().unwrap());
    app.patch(&path, &user.token, json!({"title": "Buy oat milk"}))
        .await
        .expect(200);
    app.post(&format!("{path}/complete"), &user.token, json!({}))
        .await
        .expect(200);
    app.post(&format!("{path}/complete"), &user.token, json!({}))
        .await
        .expect(200); // no-op: no event
    app.post(&format!("{path}/uncomplete"), &user.token, json!({}))
        .await
        .expect(200);
    app.put(&path, &user.token, json!({"title": "Buy oat milk"}))
        .await
        .expect(200); // changes nothing
    app.post(
        &format!("{path}/tags"),
        &user.token,
        json!({"tag": "errands"}),
    )
    .await
    .expect(200);
    app.delete(&path, &user.token).await.expect(204);

    let expected = [
        "task.created",
        "task.updated",
        "task.completed",
        "task.uncompleted",
        "task.updated",
        "task.updated",
        "task.deleted",
    ];
    let events = sidecar.wait_for("task-events", expected.len(), WAIT).await;
    let updates = sidecar.wait_for("task-updates", expected.len(), WAIT).await;
    let activity = sidecar
        .wait_for("activity-logs", expected.len(), WAIT)
        .await;
    assert_eq!(seqs(&events), (1..=7).collect::<Vec<_>>());
    assert_eq!(seqs(&updates), (1..=7).collect::<Vec<_>>());
    assert_eq!(seqs(&activity), (1..=7).collect::<Vec<_>>());
    let types: Vec<&str> = events
        .iter()
        .map(|m| m.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, expected);

    for (i, m) in events.iter().chain(&updates).chain(&activity).enumerate() {
        let ce = &m.body;
        assert_eq!(
            (m.method.as_str(), m.pubsub.as_str()),
            ("POST", "pubsub-kafka")
        );
        let single = format!("/v1.0/publish/pubsub-kafka/{}", m.topic);
        let bulk = format!("/v1.0-alpha1/publish/bulk/pubsub-kafka/{}", m.topic);
        assert_eq!(m.path, if m.bulk { bulk } else { single });
        assert!(publishing == Publishing::Bulk || !m.bulk);
        assert_eq!(m.headers["content-type"], "application/cloudevents+json");
        assert_eq!(
            m.query["metadata.partitionKey"], user.id,
            "partitioned by user"
        );
        assert_eq!(ce["specversion"], "1.0");
        assert!(uuid::Uuid::parse_str(ce["id"].as_str().unwrap()).is_ok());
        assert_eq!(ce["source"], "taskstream/api");
        assert_eq!(ce["subject"], task["id"], "subject is the task id");
        assert_eq!(ce["datacontenttype"], "application/json");
        assert!(
            chrono::DateTime::parse_from_rfc3339(ce["time"].as_str().unwrap()).is_ok(),
            "{i}: time"
        );
        assert_eq!(ce["userid"], user.id.as_str());
        assert!(ce["traceid"].as_str().is_some_and(|t| !t.is_empty()));
        let traceparent: Vec<&str> = ce["traceparent"].as_str().unwrap().split('-').collect();
        assert_eq!((traceparent.len(), traceparent[1].len()), (4, 32));
    }
    // The first change carries its request's correlation id and trace.
    assert_eq!(events[0].body["traceid"], "req-create-1");
    assert!(
        events[0].body["traceparent"]
            .as_str()
            .unwrap()
            .contains(incoming_trace)
    );

    // task-events data: snapshot and changes.
    let created = &events[0].body["data"];
    assert_eq!(created["event_type"], "task.created");
    assert_eq!(created["task_data"]["title"], "Buy milk");
    assert_eq!(created["seq"], 1);
    let renamed = &events[1].body["data"];
    assert_eq!(
        renamed["changes"],
        json!({"title": {"old": "Buy milk", "new": "Buy oat milk"}})
    );
    assert_eq!(renamed["task_data"]["version"], 2);
    assert_eq!(
        events[4].body["data"]["changes"],
        json!({}),
        "an update that changes nothing"
    );
    assert_eq!(
        events[5].body["data"]["changes"]["tags"],
        json!({"old": [], "new": ["errands"]})
    );
    assert_eq!(
        events[6].body["data"]["task_data"]["title"], "Buy oat milk",
        "last snapshot of the deleted task"
    );

    // Projections: their own ids, derived from the event's, stable.
    for (e, (u, a)) in events.iter().zip(updates.iter().zip(&activity)) {
        let id = uuid::Uuid::parse_str(e.body["id"].as_str().unwrap()).unwrap();
        assert_eq!(
            u.body["id"],
            uuid::Uuid::new_v5(&id, b"task-updates").to_string()
        );
        assert_eq!(
            a.body["id"],
            uuid::Uuid::new_v5(&id, b"activity-logs").to_string()
        );
        assert_eq!(u.body["type"], "sync.task");
        assert_eq!(a.body["type"], "activity.logged");
        assert_eq!(u.body["sequence"], e.body["sequence"]);
    }
    let actions: Vec<&str> = updates
        .iter()
        .map(|m| m.body["data"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "updated",
            "completed",
            "uncompleted",
            "updated",
            "updated",
            "deleted"
        ]
    );
    assert_eq!(updates[2].body["data"]["version"], 3);
    let summaries: Vec<&str> = activity
        .iter()
        .map(|m| m.body["data"]["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries[0], "Created 'Buy milk'");
    assert_eq!(summaries[1], "Updated 'Buy oat milk': title");
    assert_eq!(summaries[2], "Completed 'Buy oat milk'");
    assert_eq!(summaries[6], "Deleted 'Buy oat milk'");
    // Nothing more than that (the no-op wrote nothing).
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sidecar.delivered().len(), 21);
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn nothing_is_lost_while_the_sidecar_is_down(
    #[case] backend: Backend,
    #[case] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let app = spawn_app_with(backend, publishing_through(&sidecar, publishing)).await;
    let user = app.signup().await;
    sidecar.down().await;
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(create(&app, &user, &format!("offline {i}")).await);
    }
    for id in &ids {
        app.complete(&user, id).await;
    }
    assert!(sidecar.delivered().is_empty());
    sidecar.up().await;
    for topic in ["task-events", "task-updates", "activity-logs"] {
        let messages = sidecar.wait_for(topic, 200, WAIT).await;
        assert_eq!(
            first_seen(&messages),
            (1..=200).collect::<Vec<_>>(),
            "{topic}: every event, in order"
        );
        assert_eq!(messages.len(), 200, "{topic}: none twice");
        let requests: std::collections::HashSet<u64> = messages.iter().map(|m| m.request).collect();
        match publishing {
            Publishing::Single => assert_eq!(requests.len(), 200, "{topic}: a call per event"),
            Publishing::Bulk => assert!(
                requests.len() <= 10,
                "{topic}: the backlog in a few bulk calls, not {}",
                requests.len()
            ),
        }
    }
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn a_failing_or_hanging_sidecar_is_retried(
    #[case] backend: Backend,
    #[case] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let publish = publishing_through(&sidecar, publishing);
    // A request that waited for the hanging sidecar would take this long:
    // well above what a request takes on a loaded machine.
    let timeout = Duration::from_secs(3);
    let app = spawn_app_with(backend, move |s| {
        publish(s);
        s.dapr_publish_timeout = timeout.as_secs_f64();
    })
    .await;
    let user = app.signup().await;
    for mode in [Mode::Fail(500), Mode::Fail(404), Mode::Hang] {
        sidecar.set_mode(mode);
        let before = sidecar.delivered().len();
        let t = std::time::Instant::now();
        create(&app, &user, &format!("{mode:?}")).await;
        assert!(
            t.elapsed() < timeout / 2,
            "the request does not wait for the sidecar"
        );
        actix_rt::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            sidecar.delivered().len(),
            before,
            "{mode:?}: nothing accepted yet"
        );
        assert!(sidecar.received().len() > before, "{mode:?}: it was tried");
        sidecar.set_mode(Mode::Accept);
        let all = sidecar
            .wait_until(WAIT, "recovery", |d| d.len() >= before + 3)
            .await;
        assert_eq!(
            first_seen(&all).last(),
            Some(&(first_seen(&all).len() as i64))
        );
    }
    let events = sidecar.wait_for("task-events", 3, WAIT).await;
    assert_eq!(first_seen(&events), [1, 2, 3]);
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn one_users_failures_do_not_hold_up_another(
    #[case] backend: Backend,
    #[case] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let app = spawn_app_with(backend, publishing_through(&sidecar, publishing)).await;
    let blocked = app.signup().await;
    let flowing = app.signup().await;
    sidecar.fail_partition(&blocked.id, Some(500));
    for i in 0..5 {
        create(&app, &blocked, &format!("b{i}")).await;
        create(&app, &flowing, &format!("f{i}")).await;
    }
    let delivered = sidecar
        .wait_until(WAIT, "the other user's events", |d| {
            of_user(d, &flowing).len() >= 15
        })
        .await;
    assert!(of_user(&delivered, &blocked).is_empty());
    sidecar.fail_partition(&blocked.id, None);
    let delivered = sidecar
        .wait_until(WAIT, "the blocked user's events", |d| {
            of_user(d, &blocked).len() >= 15
        })
        .await;
    let theirs: Vec<Received> = of_user(&delivered, &blocked)
        .into_iter()
        .filter(|m| m.topic == "task-events")
        .collect();
    assert_eq!(first_seen(&theirs), [1, 2, 3, 4, 5], "in order once healed");
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let delivered = sidecar.delivered();
    assert_eq!(of_user(&delivered, &flowing).len(), 15, "never sent twice");
    assert_eq!(of_user(&delivered, &blocked).len(), 15, "never sent twice");
}

/// The stand-in as the benchmarks run it: it keeps nothing but answers as
/// before, failures included, and counts what it accepted.
#[apply(backends)]
#[actix_web::test]
async fn a_counting_sidecar_answers_as_before_and_keeps_only_the_count(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    sidecar.count_only();
    let app = spawn_app_with(backend, publishing_through(&sidecar, Publishing::Bulk)).await;
    let (blocked, flowing) = (app.signup().await, app.signup().await);
    sidecar.fail_partition(&blocked.id, Some(500));
    for i in 0..5 {
        create(&app, &blocked, &format!("b{i}")).await;
        create(&app, &flowing, &format!("f{i}")).await;
    }
    sidecar.wait_for_count(15, WAIT).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sidecar.accepted(), 15, "the refused ones are not counted");
    assert!(sidecar.received().is_empty(), "nothing kept");
    sidecar.fail_partition(&blocked.id, None);
    sidecar.wait_for_count(30, WAIT).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sidecar.accepted(), 30, "each accepted once");
}

/// `(sequence, topic)` of the user's events the log marks published.
/// How often the user's event `seq` was offered on task-events, accepted or not.
fn tries(sidecar: &Sidecar, seq: i64) -> usize {
    let seq = seq.to_string();
    sidecar
        .received()
        .iter()
        .filter(|m| m.topic == "task-events" && m.body["sequence"] == seq.as_str())
        .count()
}

async fn published_seqs(app: &TestApp, user: &TestUser) -> Vec<i64> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use taskstream::db::schema::{events, users};
    let db = crate::helpers::database_of(app).await;
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| events::table
        .inner_join(users::table)
        .filter(events::user_id.eq(&user.id))
        .filter(events::seq.le(users::published_seq))
        .order(events::seq.asc())
        .select(events::seq)
        .load::<i64>(c)
        .await
        .unwrap())
}

#[apply(backends)]
#[actix_web::test]
async fn a_retry_reads_each_users_oldest_unpublished_event_alone(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let app = spawn_app_with(backend, publishing_through(&sidecar, Publishing::Bulk)).await;
    let (ann, bob) = (app.signup().await, app.signup().await);
    sidecar.down().await;
    for user in [&ann, &bob] {
        for i in 0..3 {
            create(&app, user, &format!("pending {i}")).await;
        }
    }
    let db = crate::helpers::database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    let conn = &mut pooled.conn();
    let heads = |rows: Vec<taskstream::db::events::EventRow>| {
        let mut heads: Vec<(String, i64)> = rows.into_iter().map(|r| (r.user_id, r.seq)).collect();
        heads.sort();
        heads
    };
    let users = [ann.id.as_str(), bob.id.as_str(), "nobody"];
    let rows = taskstream::db::events::oldest_pending(conn, &users)
        .await
        .unwrap();
    let mut expected = vec![(ann.id.clone(), 1), (bob.id.clone(), 1)];
    expected.sort();
    assert_eq!(heads(rows), expected, "one event per user with any pending");

    // Once Ann's oldest is out, her next one is the head.
    let first = taskstream::db::events::pending_for_users(conn, &[ann.id.as_str()], 1)
        .await
        .unwrap();
    taskstream::db::events::mark_published(conn, &[(ann.id.as_str(), first[0].seq)])
        .await
        .unwrap();
    let rows = taskstream::db::events::oldest_pending(conn, &[ann.id.as_str()])
        .await
        .unwrap();
    assert_eq!(heads(rows), [(ann.id.clone(), 2)]);

    // Several users' watermarks move at once, and never back.
    taskstream::db::events::mark_published(
        conn,
        &[(bob.id.as_str(), 1), (ann.id.as_str(), first[0].seq - 1)],
    )
    .await
    .unwrap();
    let rows = taskstream::db::events::oldest_pending(conn, &[ann.id.as_str(), bob.id.as_str()])
        .await
        .unwrap();
    let mut expected = vec![(ann.id.clone(), 2), (bob.id.clone(), 2)];
    expected.sort();
    assert_eq!(heads(rows), expected);
}

#[apply(backends)]
#[actix_web::test]
async fn a_failed_bulk_entry_alone_is_retried_and_holds_its_users_later_events(
    #[case] backend: Backend,
) {
    let sidecar = Sidecar::start().await;
    let publishing = publishing_through(&sidecar, Publishing::Bulk);
    let app = spawn_app_with(backend, move |s| {
        publishing(s);
        s.dapr_publish_timeout = 10.0;
    })
    .await;
    let user = app.signup().await;
    // The first event's call takes a while, so the next four are written
    // meanwhile and go out together, in one bulk call per topic, in the
    // next round; the broker refuses the third on task-events.
    sidecar.fail_message("task-events", &user.id, 3, u32::MAX);
    sidecar.set_latency(Duration::from_secs(3));
    create(&app, &user, "backlog 0").await;
    // The first round is under way (it starts within a few milliseconds).
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    for i in 1..5 {
        create(&app, &user, &format!("backlog {i}")).await;
    }
    sidecar.set_latency(Duration::ZERO);
    let tried = |sidecar: &Sidecar| tries(sidecar, 3);

    // Everything else arrives, in bulk; event 3 on task-events does not.
    let delivered = sidecar
        .wait_until(WAIT, "all but one message", |d| d.len() >= 14)
        .await;
    assert!(
        delivered
            .iter()
            .filter(|m| m.body["sequence"] != "1")
            .all(|m| m.bulk),
        "the four sent in bulk"
    );
    let on = |topic: &str| -> Vec<i64> {
        let messages: Vec<Received> = sidecar
            .delivered()
            .into_iter()
            .filter(|m| m.topic == topic)
            .collect();
        seqs(&messages)
    };
    assert_eq!(on("task-events"), [1, 2, 4, 5]);
    assert_eq!(on("task-updates"), [1, 2, 3, 4, 5]);
    // Retried, alone; the later events are not published before it.
    let refused = tried(&sidecar);
    sidecar
        .wait_until(WAIT, "retries of the failed entry", |_| {
            tried(&sidecar) >= refused + 3
        })
        .await;

    assert_eq!(published_seqs(&app, &user).await, [1, 2]);
    assert_eq!(
        on("task-events"),
        [1, 2, 4, 5],
        "4 and 5 are not sent again"
    );

    sidecar.fail_message("task-events", &user.id, 3, 0);
    sidecar.wait_for("task-events", 5, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    while published_seqs(&app, &user).await.len() < 5 {
        assert!(std::time::Instant::now() < deadline, "all marked published");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(on("task-events"), [1, 2, 4, 5, 3]);
    for topic in ["task-updates", "activity-logs"] {
        assert_eq!(on(topic), [1, 2, 3, 4, 5], "{topic}: each once");
    }
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn a_retry_sends_the_oldest_event_alone_and_the_rest_follows_at_once(
    #[case] backend: Backend,
    #[case] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let dapr = publishing_through(&sidecar, publishing);
    // No sweep comes to the rescue: what follows a retry that went through
    // goes out because the publisher goes on at once.
    let app = spawn_app_with(backend, move |s| {
        dapr(s);
        s.outbox_sweep_interval = 3600.0;
    })
    .await;
    let user = app.signup().await;
    sidecar.set_mode(Mode::Fail(500));
    for i in 0..10 {
        create(&app, &user, &format!("backlog {i}")).await;
    }
    let first_tries = |sidecar: &Sidecar| tries(sidecar, 1);
    let later = |sidecar: &Sidecar| {
        sidecar
            .received()
            .iter()
            .filter(|m| m.body["sequence"] != "1")
            .count()
    };
    sidecar
        .wait_until(WAIT, "a retry", |_| first_tries(&sidecar) >= 2)
        .await;
    let tried_later = later(&sidecar);
    let retried = first_tries(&sidecar);
    sidecar
        .wait_until(WAIT, "more retries", |_| {
            first_tries(&sidecar) >= retried + 3
        })
        .await;
    assert_eq!(
        later(&sidecar),
        tried_later,
        "while the oldest event fails, the ones behind it are not built and sent again"
    );

    sidecar.set_mode(Mode::Accept);
    for topic in ["task-events", "task-updates", "activity-logs"] {
        let messages = sidecar.wait_for(topic, 10, WAIT).await;
        assert_eq!(seqs(&messages), (1..=10).collect::<Vec<_>>(), "{topic}");
    }
}

#[apply(backends)]
#[actix_web::test]
async fn what_piles_up_behind_a_slow_sidecar_goes_out_in_one_call_per_topic(
    #[case] backend: Backend,
) {
    let sidecar = Sidecar::start().await;
    sidecar.set_latency(Duration::from_millis(300));
    let app = spawn_app_with(backend, publishing_through(&sidecar, Publishing::Bulk)).await;
    let user = app.signup().await;
    create_concurrently(&[&app], &user, 30, "burst").await;
    let events = sidecar.wait_for("task-events", 30, WAIT).await;
    assert_eq!(first_seen(&events), (1..=30).collect::<Vec<_>>());
    assert_eq!(events.len(), 30, "each once");
    let requests: std::collections::HashSet<u64> = events.iter().map(|m| m.request).collect();
    assert!(
        requests.len() <= 4,
        "30 events in {} calls: what waits during one call goes out in the next",
        requests.len()
    );
}

#[rstest::rstest]
#[actix_web::test]
async fn a_sidecar_without_bulk_publish_gets_one_call_per_event(
    #[values(Backend::Sqlite, Backend::Postgres)] backend: Backend,
    #[values(404, 405, 501)] status: u16,
) {
    let sidecar = Sidecar::start().await;
    sidecar.without_bulk(status);
    let app = spawn_app_with(backend, publishing_through(&sidecar, Publishing::Bulk)).await;
    let user = app.signup().await;
    let bulk_calls = || sidecar.received().iter().filter(|m| m.bulk).count();
    for round in 1..=2 {
        sidecar.down().await;
        for i in 0..5 {
            create(&app, &user, &format!("round {round}, task {i}")).await;
        }
        sidecar.up().await;
        let events = sidecar.wait_for("task-events", 5 * round, WAIT).await;
        assert_eq!(seqs(&events), (1..=5 * round as i64).collect::<Vec<_>>());
        assert!(events.iter().all(|m| !m.bulk));
        assert!(
            (1..=3).contains(&bulk_calls()),
            "bulk tried in the first round only, then remembered: {}",
            bulk_calls()
        );
    }
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn pending_events_are_published_after_a_restart(
    #[case] backend: Backend,
    #[case] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let mut first = spawn_app_with(backend, publishing_through(&sidecar, publishing)).await;
    let user = first.signup().await;
    sidecar.down().await;
    for i in 0..10 {
        create(&first, &user, &format!("before restart {i}")).await;
    }
    first.stop().await;
    sidecar.up().await;
    let _second = start_on(
        first.database_url.clone(),
        publishing_through(&sidecar, publishing),
    )
    .await;
    let events = sidecar.wait_for("task-events", 10, WAIT).await;
    assert_eq!(first_seen(&events), (1..=10).collect::<Vec<_>>());
}

/// With Dapr off the event log is no outbox: what is written then is never
/// published, not even once publishing is switched on.
#[apply(backends)]
#[actix_web::test]
async fn events_written_with_dapr_off_are_not_published_later(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let mut first = spawn_app(backend).await;
    let user = first.signup().await;
    create(&first, &user, "while Dapr is off").await;
    first.stop().await;
    let second = start_on(first.database_url.clone(), dapr_on(&sidecar)).await;
    create(&second, &user, "with Dapr on").await;
    let events = sidecar.wait_for("task-events", 1, WAIT).await;
    assert_eq!(seqs(&events), [2]);
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let all: Vec<Received> = sidecar
        .delivered()
        .into_iter()
        .filter(|m| m.topic == "task-events")
        .collect();
    assert_eq!(seqs(&all), [2], "nothing else, later either");
}

/// Switching publishing off with a backlog skips nothing: the backlog, and
/// what follows it meanwhile, go out in order once publishing is back.
#[apply(backends)]
#[actix_web::test]
async fn a_backlog_waits_while_dapr_is_switched_off(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let mut first = spawn_app_with(backend, dapr_on(&sidecar)).await;
    let user = first.signup().await;
    sidecar.down().await;
    for i in 0..2 {
        create(&first, &user, &format!("backlog {i}")).await;
    }
    first.stop().await;
    let mut off = start_on(first.database_url.clone(), |_| {}).await;
    create(&off, &user, "while Dapr is off").await;
    off.stop().await;
    sidecar.up().await;
    let on = start_on(first.database_url.clone(), dapr_on(&sidecar)).await;
    let watch = actix_rt::spawn(say_what_the_publisher_saw(
        on.client.clone(),
        on.url("/metrics"),
        sidecar.endpoint(),
    ));
    let events = sidecar.wait_for("task-events", 3, WAIT).await;
    watch.abort();
    assert_eq!(first_seen(&events), [1, 2, 3]);
}

/// Shortly before a wait for the sidecar would time out, prints what the
/// instance's metrics say of publishing and whether the sidecar's port
/// takes connections (shown with the test's failure).
async fn say_what_the_publisher_saw(client: awc::Client, metrics: String, sidecar: String) {
    actix_rt::time::sleep(WAIT - Duration::from_secs(3)).await;
    let reachable = sidecar
        .trim_start_matches("http://")
        .parse::<std::net::SocketAddr>()
        .map(|addr| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok());
    eprintln!("sidecar {sidecar} takes connections: {reachable:?}");
    match client.get(&metrics).send().await {
        Ok(mut res) => {
            let text = res.body().await.map(|b| b.to_vec()).unwrap_or_default();
            for line in String::from_utf8_lossy(&text)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter(|l| {
                    ["outbox", "publish", "shard", "dapr"]
                        .iter()
                        .any(|w| l.contains(w))
                })
            {
                eprintln!("{line}");
            }
        }
        Err(e) => eprintln!("metrics unreadable: {e}"),
    }
}

/// More than a round takes (2 000 events): the rest follows at once, not at
/// the next sweep.
#[apply(backends)]
#[actix_web::test]
async fn a_backlog_larger_than_a_round_goes_out_in_rounds_one_after_another(
    #[case] backend: Backend,
) {
    const BACKLOG: usize = 2_100;
    let sidecar = Sidecar::start().await;
    let mut first = spawn_app_with(backend, publishing_through(&sidecar, Publishing::Bulk)).await;
    let user = first.signup().await;
    sidecar.down().await;
    create_concurrently(&[&first], &user, BACKLOG, "backlog").await;
    first.stop().await;
    sidecar.up().await;
    let publishing = publishing_through(&sidecar, Publishing::Bulk);
    // The sweep at start reads one full round; no later sweep comes.
    let _second = start_on(first.database_url.clone(), move |s| {
        publishing(s);
        s.outbox_sweep_interval = 3600.0;
    })
    .await;
    // A bulk request that outlasts the publish timeout on a loaded machine
    // is sent again (at least once): wait for every event, not a count.
    let all = sidecar
        .wait_until(WAIT, "every event of the backlog", |d| {
            let seqs = d.iter().filter(|m| m.topic == "task-events");
            seqs.map(|m| &m.body["sequence"])
                .collect::<std::collections::HashSet<_>>()
                .len()
                >= BACKLOG
        })
        .await;
    let events: Vec<Received> = all
        .into_iter()
        .filter(|m| m.topic == "task-events")
        .collect();
    assert_eq!(
        first_seen(&events),
        (1..=BACKLOG as i64).collect::<Vec<_>>()
    );
}

#[apply(backends_and_publishing)]
#[actix_web::test]
async fn a_full_channel_loses_nothing(#[case] backend: Backend, #[case] publishing: Publishing) {
    let sidecar = Sidecar::start().await;
    let configure = publishing_through(&sidecar, publishing);
    let app = spawn_app_with(backend, |s| {
        configure(s);
        s.event_channel_capacity = 1;
    })
    .await;
    let user = app.signup().await;
    create_concurrently(&[&app], &user, 48, "burst").await;
    let events = sidecar.wait_for("task-events", 48, WAIT).await;
    assert_eq!(first_seen(&events), (1..=48).collect::<Vec<_>>());
}

#[apply(backends)]
#[actix_web::test]
async fn concurrent_writers_get_a_gapless_sequence_in_commit_order(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = create(&app, &user, "contended").await;
    let path = format!("/api/{}/tasks/{task}", user.id);
    let writers = (0..32).map(|i| {
        let (app, user, path) = (&app, &user, &path);
        async move {
            if i % 2 == 0 {
                app.patch(
                    path,
                    &user.token,
                    json!({"description": format!("edit {i}")}),
                )
                .await
                .status
            } else {
                app.post(
                    "/api/v1/tasks",
                    &user.token,
                    json!({"title": format!("new {i}")}),
                )
                .await
                .status
            }
        }
    });
    let statuses = futures_util::future::join_all(writers).await;
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 201),
        "{statuses:?}"
    );
    let log = app
        .get(
            &format!("/api/{}/activity-logs?limit=500", user.id),
            &user.token,
        )
        .await
        .expect(200);
    let items = log.body["items"].as_array().unwrap();
    let mut seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    seqs.reverse();
    assert_eq!(seqs, (1..=33).collect::<Vec<_>>(), "gapless, each once");
    // Commit order: each edit of the contended task saw the one before it
    // (its "old" is the previous "new"), in sequence order.
    let edits: Vec<&Value> = items
        .iter()
        .rev()
        .filter(|e| e["task_id"] == task.as_str() && e["type"] == "task.updated")
        .map(|e| &e["changes"]["description"])
        .collect();
    assert_eq!(edits.len(), 16);
    assert_eq!(edits[0]["old"], Value::Null);
    for pair in edits.windows(2) {
        assert_eq!(
            pair[1]["old"], pair[0]["new"],
            "edits out of sequence order"
        );
    }
}

#[apply(backends)]
#[actix_web::test]
async fn with_dapr_disabled_nothing_is_published_but_everything_is_logged(
    #[case] backend: Backend,
) {
    let sidecar = Sidecar::start().await;
    let endpoint = sidecar.endpoint();
    let app = spawn_app_with(backend, move |s| {
        s.dapr_http_endpoint = Some(endpoint);
        s.outbox_sweep_interval = 0.1;
    })
    .await;
    let user = app.signup().await;
    let id = create(&app, &user, "local only").await;
    app.complete(&user, &id).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert!(sidecar.received().is_empty(), "no HTTP call to the sidecar");
    let log = app
        .get("/api/v1/activity-logs", &user.token)
        .await
        .expect(200);
    assert_eq!(log.body["total"], 2);
}

#[apply(backends)]
#[actix_web::test]
async fn the_dapr_api_token_is_sent(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    sidecar.require_token("sidecar-token");
    let configure = dapr_on(&sidecar);
    let app = spawn_app_with(backend, |s| {
        configure(s);
        s.dapr_api_token = Some("sidecar-token".into());
    })
    .await;
    let user = app.signup().await;
    create(&app, &user, "authorised").await;
    let events = sidecar.wait_for("task-events", 1, WAIT).await;
    assert_eq!(events[0].headers["dapr-api-token"], "sidecar-token");
}

#[rstest::rstest]
#[actix_web::test]
async fn replicas_sharing_postgres_publish_each_event_once_in_order(
    #[values(Publishing::Single, Publishing::Bulk)] publishing: Publishing,
) {
    let sidecar = Sidecar::start().await;
    let a_config = publishing_through(&sidecar, publishing);
    let a = spawn_app_with(Backend::Postgres, |s| {
        a_config(s);
        s.instance_id = "replica-a".into();
    })
    .await;
    let b_config = publishing_through(&sidecar, publishing);
    let b = start_on(a.database_url.clone(), |s| {
        b_config(s);
        s.instance_id = "replica-b".into();
    })
    .await;
    let user = a.signup().await;
    create_concurrently(&[&a, &b], &user, 40, "r").await;
    sidecar.wait_for("task-events", 40, WAIT).await;
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    let events: Vec<Received> = sidecar
        .delivered()
        .into_iter()
        .filter(|m| m.topic == "task-events")
        .collect();
    assert_eq!(
        seqs(&events),
        (1..=40).collect::<Vec<_>>(),
        "once each, in order"
    );
    let producers: std::collections::HashSet<&str> = events
        .iter()
        .map(|m| m.body["instanceid"].as_str().unwrap())
        .collect();
    assert_eq!(producers.len(), 2, "both replicas wrote events");
}

#[apply(backends)]
#[actix_web::test]
async fn the_activity_log_is_the_users_own_newest_first(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let other = app.signup().await;
    let id = create(&app, &user, "Water plants").await;
    app.complete(&user, &id).await;
    create(&app, &other, "Someone else's").await;
    let log = app
        .get(&format!("/api/{}/activity-logs", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(log.body["total"], 2);
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items[0]["seq"], 2);
    assert_eq!(items[0]["type"], "task.completed");
    assert_eq!(items[0]["summary"], "Completed 'Water plants'");
    assert_eq!(
        items[0]["changes"]["completed"],
        json!({"old": false, "new": true})
    );
    assert_eq!(items[1]["summary"], "Created 'Water plants'");
    assert!(items[0]["time"].is_string() && items[0]["id"].is_string());
    let newer = app
        .get("/api/v1/activity-logs?since_seq=1", &user.token)
        .await
        .expect(200);
    assert_eq!(newer.body["total"], 1);
    app.get(&format!("/api/{}/activity-logs", user.id), &other.token)
        .await
        .expect(403);
    let theirs = app
        .get("/api/v1/activity-logs", &other.token)
        .await
        .expect(200);
    assert_eq!(theirs.body["total"], 1);
    for bad in ["limit=0", "offset=-1", "since_seq=x", "colour=red"] {
        app.get(&format!("/api/v1/activity-logs?{bad}"), &user.token)
            .await
            .expect(422);
    }
}

/// A CloudEvent as Dapr delivers it (with the fields Dapr adds), made up:
/// no event log holds it.
fn made_up_event(id: &str, instance: &str) -> Value {
    json!({
        "specversion": "1.0", "id": id, "source": "taskstream/api", "type": "sync.task",
        "datacontenttype": "application/json", "subject": "t1", "time": "2026-01-01T00:00:00Z",
        "data": {"task_id": "t1", "user_id": "u1", "action": "updated", "seq": 3, "version": 2},
        "instanceid": instance, "userid": "u1", "sequence": "3",
        "topic": "task-updates", "pubsubname": "pubsub-kafka",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    })
}

/// A genuine `sync.task` event: another replica on `app`'s database made a
/// change and published it through `sidecar`, as Dapr would deliver it.
async fn genuine_event(app: &TestApp, sidecar: &Sidecar) -> (TestApp, TestUser, Value) {
    let elsewhere = other_replica(app, sidecar).await;
    let user = elsewhere.signup().await;
    create(&elsewhere, &user, "made elsewhere").await;
    create(&elsewhere, &user, "and another").await;
    let body = sidecar
        .wait_for("task-updates", 2, WAIT)
        .await
        .into_iter()
        .find(|m| m.body["sequence"] == "1")
        .unwrap()
        .body;
    assert_eq!(body["instanceid"], "elsewhere");
    (elsewhere, user, body)
}

async fn deliver(app: &TestApp, topic: &str, body: Value, token: Option<&str>) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/events/{topic}")))
        .insert_header(("Content-Type", "application/cloudevents+json"));
    if let Some(token) = token {
        req = req.insert_header(("dapr-api-token", token));
    }
    let mut res = req.send_body(body.to_string()).await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// With several replicas, `task-updates` is subscribed on the per-replica
/// component (every replica sees every sync message), the rest on the
/// shared consumer group.
#[apply(backends)]
#[actix_web::test]
async fn task_updates_are_subscribed_on_the_broadcast_component_when_one_is_named(
    #[case] backend: Backend,
) {
    let app = spawn_app_with(backend, |s| {
        s.dapr_updates_pubsub_name = "pubsub-kafka-broadcast".into();
    })
    .await;
    let subs = app
        .call(actix_web::http::Method::GET, "/dapr/subscribe", None, None)
        .await
        .expect(200);
    let components: HashMap<String, String> = subs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["topic"].as_str().unwrap().to_owned(),
                s["pubsubname"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(components["task-updates"], "pubsub-kafka-broadcast");
    assert_eq!(components["task-events"], "pubsub-kafka");
    assert_eq!(components["reminders"], "pubsub-kafka");
}

#[apply(backends)]
#[actix_web::test]
async fn dapr_deliveries_are_deduped_and_answered_in_dapr_terms(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let subs = app
        .call(actix_web::http::Method::GET, "/dapr/subscribe", None, None)
        .await
        .expect(200);
    let routes: HashMap<String, String> = subs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["pubsubname"], "pubsub-kafka");
            (
                s["topic"].as_str().unwrap().to_owned(),
                s["route"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(routes.len(), 3);
    assert_eq!(routes["task-events"], "/api/events/task-events");
    assert_eq!(routes["reminders"], "/api/events/reminders");
    assert_eq!(routes["task-updates"], "/api/events/task-updates");

    let sidecar = Sidecar::start().await;
    let (_elsewhere, _, genuine) = genuine_event(&app, &sidecar).await;
    let success = (200, json!({"status": "SUCCESS"}));
    assert_eq!(
        deliver(&app, "task-updates", genuine.clone(), None).await,
        success
    );
    assert_eq!(
        deliver(&app, "task-updates", genuine.clone(), None).await,
        success,
        "a redelivery is acknowledged"
    );
    let mut own = genuine.clone();
    own["instanceid"] = json!("test-instance");
    own["id"] = json!(uuid::Uuid::now_v7().to_string());
    assert_eq!(deliver(&app, "task-updates", own, None).await, success);
    assert_eq!(
        deliver(&app, "task-updates", json!({"not": "a cloud event"}), None).await,
        (200, json!({"status": "DROP"}))
    );
    assert_eq!(
        deliver(&app, "task-events", json!("garbage"), None).await,
        (200, json!({"status": "DROP"}))
    );
    assert_eq!(
        deliver(&app, "no-such-topic", genuine.clone(), None).await,
        (200, json!({"status": "DROP"})),
        "never a 404"
    );
    let metrics = app
        .call(actix_web::http::Method::GET, "/metrics", None, None)
        .await;
    let text = metrics.body.as_str().unwrap().to_owned();
    for line in [
        "taskstream_events_received_total{outcome=\"consumed\",topic=\"task-updates\"} 1",
        "taskstream_events_received_total{outcome=\"duplicate\",topic=\"task-updates\"} 1",
        "taskstream_events_received_total{outcome=\"dropped\",topic=\"task-updates\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[apply(backends)]
#[actix_web::test]
async fn events_the_log_does_not_hold_are_dropped_without_a_trace(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let sidecar = Sidecar::start().await;
    let (_elsewhere, _, genuine) = genuine_event(&app, &sidecar).await;
    let other = app.signup().await;
    let forge = |field: &str, value: Value| {
        let mut event = genuine.clone();
        event[field] = value;
        event
    };
    let mut anonymous = genuine.clone();
    anonymous.as_object_mut().unwrap().remove("userid");
    for (what, forged) in [
        (
            "made up",
            made_up_event(&uuid::Uuid::now_v7().to_string(), "x"),
        ),
        (
            "another id",
            forge("id", json!(uuid::Uuid::now_v7().to_string())),
        ),
        (
            "the sequence of another event",
            forge("sequence", json!("2")),
        ),
        ("a sequence not yet written", forge("sequence", json!("99"))),
        ("another type", forge("type", json!("task.deleted"))),
        (
            "another task",
            forge("subject", json!(uuid::Uuid::now_v7().to_string())),
        ),
        ("another user", forge("userid", json!(other.id))),
        ("no user", anonymous),
    ] {
        assert_eq!(
            deliver(&app, "task-updates", forged, None).await,
            (200, json!({"status": "DROP"})),
            "{what}"
        );
    }
    // As a task event (its id is the event's own): the projection must
    // match the topic too.
    assert_eq!(
        deliver(&app, "task-events", genuine.clone(), None).await,
        (200, json!({"status": "DROP"})),
        "a sync.task is not a task event"
    );
    assert_eq!(processed_ids(&app).await, 0, "nothing forged is remembered");
    assert_eq!(
        deliver(&app, "task-updates", genuine, None).await,
        (200, json!({"status": "SUCCESS"}))
    );
    assert_eq!(processed_ids(&app).await, 1);
}

#[apply(backends)]
#[actix_web::test]
async fn deliveries_require_the_app_api_token_when_set(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| s.app_api_token = Some("from-dapr".into())).await;
    let sidecar = Sidecar::start().await;
    let (_elsewhere, _, event) = genuine_event(&app, &sidecar).await;
    let (status, body) = deliver(&app, "task-updates", event.clone(), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        deliver(&app, "task-updates", event.clone(), Some("wrong"))
            .await
            .0,
        401
    );
    assert_eq!(
        deliver(&app, "task-updates", event, Some("from-dapr")).await,
        (200, json!({"status": "SUCCESS"}))
    );
    // The job callback is guarded the same way.
    let mut res = app
        .client
        .post(app.url("/job/reminder-00000000-0000-0000-0000-000000000000"))
        .send_body("{}")
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

#[actix_web::test]
async fn deliveries_ask_for_a_retry_while_the_database_is_away() {
    let (db, url) = crate::helpers::TestDb::create_pg_database().await;
    let crate::helpers::TestDb::PgDatabase { database, .. } = &db else {
        unreachable!()
    };
    let database = database.clone();
    let app = crate::helpers::start(db, url, |_| {}).await;
    crate::helpers::admin_exec(
        &crate::helpers::postgres_admin_url(),
        &format!("DROP DATABASE {database} WITH (FORCE)"),
    )
    .await;
    let event = made_up_event(&uuid::Uuid::now_v7().to_string(), "elsewhere");
    assert_eq!(
        deliver(&app, "task-updates", event, None).await,
        (200, json!({"status": "RETRY"}))
    );
}

#[apply(backends)]
#[actix_web::test]
async fn metrics_count_events_and_requests(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let app = spawn_app_with(backend, dapr_on(&sidecar)).await;
    let user = app.signup().await;
    create(&app, &user, "measured").await;
    sidecar.wait_for("activity-logs", 1, WAIT).await;
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    let mut res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    for needle in [
        "taskstream_events_written_total 1",
        "taskstream_events_published_total{topic=\"task-events\"} 1",
        "taskstream_outbox_pending 0",
        "taskstream_publish_duration_seconds_count 3",
        "taskstream_http_requests_total{method=\"POST\",route=\"/api/{user_id}/tasks\",status=\"201\"} 1",
        "taskstream_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
}

#[apply(backends)]
#[actix_web::test]
async fn tag_changes_and_bulk_deletes_record_one_event_per_task_and_refusals_none(
    #[case] backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let a = app
        .create_task(&user, json!({"title": "a", "tags": ["old"]}))
        .await;
    let b = app
        .create_task(&user, json!({"title": "b", "tags": ["old", "keep"]}))
        .await;
    app.create_task(&user, json!({"title": "c"})).await;
    let log = |query: &'static str| {
        let (app, user) = (&app, &user);
        async move {
            app.get(&format!("/api/v1/activity-logs?{query}"), &user.token)
                .await
                .expect(200)
                .body
        }
    };
    assert_eq!(log("").await["total"], 3);
    // Refused changes write no event (validation inside the transaction, a stale If-Match).
    let a_path = format!("/api/v1/tasks/{}", a["id"].as_str().unwrap());
    app.put(
        &a_path,
        &user.token,
        json!({"title": "a", "priority": "bogus"}),
    )
    .await
    .expect(422);
    let stale = app
        .client
        .patch(app.url(&a_path))
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .insert_header(("If-Match", "\"9\""))
        .send_json(&json!({"title": "x"}))
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 412);
    assert_eq!(
        log("").await["total"],
        3,
        "nothing recorded for refused changes"
    );

    // Renaming a tag: one task.updated per task carrying it.
    let tags = app.get("/api/v1/tags", &user.token).await.expect(200).body;
    let old = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "old")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.put(
        &format!("/api/v1/tags/{old}"),
        &user.token,
        json!({"name": "new"}),
    )
    .await
    .expect(200);
    let renamed = log("since_seq=3").await;
    assert_eq!(renamed["total"], 2);
    let mut touched: Vec<&str> = renamed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["task_id"].as_str().unwrap())
        .collect();
    touched.sort_unstable();
    let mut expected = vec![a["id"].as_str().unwrap(), b["id"].as_str().unwrap()];
    expected.sort_unstable();
    assert_eq!(touched, expected);
    for e in renamed["items"].as_array().unwrap() {
        assert_eq!(e["type"], "task.updated");
        assert!(
            e["changes"]["tags"]["new"]
                .as_array()
                .unwrap()
                .contains(&json!("new"))
        );
    }
    // Deleting it: again one per task.
    app.delete(&format!("/api/v1/tags/{old}"), &user.token)
        .await
        .expect(204);
    assert_eq!(log("since_seq=5").await["total"], 2);
    // Clearing completed tasks: one task.deleted each.
    app.complete(&user, a["id"].as_str().unwrap()).await;
    app.complete(&user, b["id"].as_str().unwrap()).await;
    app.post("/api/v1/tasks/clear-completed", &user.token, json!({}))
        .await
        .expect(200);
    let cleared = log("since_seq=9").await;
    let types: Vec<&str> = cleared["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["task.deleted", "task.deleted"]);
    assert_eq!(log("").await["total"], 11);
}
