//! Reminders: kept in step with their task, set explicitly, fired once and on
//! time (to the WebSocket and to Dapr), late after downtime, once across
//! instances.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app, spawn_app_with, start_on};
use crate::support::dapr::Sidecar;
use crate::ws::Ws;

fn in_future(d: chrono::Duration) -> String {
    (Utc::now() + d).to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn reminders(app: &TestApp, user: &TestUser, state: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/reminders?state={state}"), &user.token)
        .await
        .expect(200)
        .body
        .as_array()
        .unwrap()
        .clone()
}

async fn log_types(app: &TestApp, user: &TestUser) -> Vec<String> {
    let log = app
        .get("/api/v1/activity-logs?limit=500", &user.token)
        .await
        .expect(200);
    log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[apply(backends)]
#[actix_web::test]
async fn a_reminder_follows_its_task(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let due = Utc::now() + chrono::Duration::hours(2);
    let task = app
        .create_task(
            &user,
            json!({"title": "Call mum", "due_at": due.to_rfc3339(), "reminder_offset_minutes": 30}),
        )
        .await;
    let id = task["id"].as_str().unwrap().to_owned();
    let pending = reminders(&app, &user, "pending").await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["task_id"], id.as_str());
    let remind_at =
        chrono::DateTime::parse_from_rfc3339(pending[0]["remind_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - remind_at.with_timezone(&Utc)).num_minutes(), 30);
    // Moving the due date moves the reminder.
    let later = due + chrono::Duration::hours(1);
    app.patch(
        &format!("/api/v1/tasks/{id}"),
        &user.token,
        json!({"due_at": later.to_rfc3339()}),
    )
    .await
    .expect(200);
    let moved = reminders(&app, &user, "pending").await;
    assert_eq!(moved.len(), 1);
    assert_eq!(
        moved[0]["id"], pending[0]["id"],
        "the same reminder, rescheduled"
    );
    assert_ne!(moved[0]["remind_at"], pending[0]["remind_at"]);
    // Completing cancels it.
    app.complete(&user, &id).await;
    assert!(reminders(&app, &user, "pending").await.is_empty());
    assert_eq!(reminders(&app, &user, "cancelled").await.len(), 1);
    let types = log_types(&app, &user).await;
    assert_eq!(
        types,
        [
            "task.created",
            "reminder.scheduled",
            "task.updated",
            "reminder.rescheduled",
            "task.completed",
            "reminder.cancelled"
        ]
    );
    // Deleting a task with a reminder cancels it too.
    let other = app
        .create_task(&user, json!({"title": "Dentist", "due_at": later.to_rfc3339(), "reminder_offset_minutes": 60}))
        .await;
    app.delete(
        &format!("/api/v1/tasks/{}", other["id"].as_str().unwrap()),
        &user.token,
    )
    .await
    .expect(204);
    assert_eq!(reminders(&app, &user, "cancelled").await.len(), 2);
    app.get("/api/v1/reminders?state=lost", &user.token)
        .await
        .expect(422);
}

#[apply(backends)]
#[actix_web::test]
async fn reminders_can_be_set_explicitly(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app
        .create_task(
            &user,
            json!({"title": "Pay rent", "due_at": in_future(chrono::Duration::hours(5))}),
        )
        .await;
    let path = format!("/api/v1/tasks/{}/reminder", task["id"].as_str().unwrap());
    let at = in_future(chrono::Duration::hours(1));
    let set = app
        .post(&path, &user.token, json!({"remind_at": at}))
        .await
        .expect(200);
    assert_eq!(set.body["state"], "pending");
    let moved = app
        .put(&path, &user.token, json!({"offset_minutes": 10}))
        .await
        .expect(200);
    assert_eq!(moved.body["id"], set.body["id"]);
    let current = app
        .get(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            &user.token,
        )
        .await
        .expect(200);
    assert_eq!(current.body["reminder_offset_minutes"], 10);
    for (body, field) in [
        (
            json!({"remind_at": in_future(chrono::Duration::hours(-1))}),
            "remind_at",
        ),
        (json!({}), "body"),
        (json!({"remind_at": at, "offset_minutes": 5}), "body"),
        (json!({"remind_at": "tomorrow"}), "remind_at"),
    ] {
        let res = app.post(&path, &user.token, body.clone()).await.expect(422);
        assert!(
            res.body["error"]["details"].get(field).is_some(),
            "{body}: {}",
            res.body
        );
    }
    // The offset is fine; the task makes it impossible: a conflict.
    let res = app
        .post(&path, &user.token, json!({"offset_minutes": 600}))
        .await
        .expect(409);
    assert_eq!(res.code(), "reminder_in_past");
    let undated = app.create_task(&user, json!({"title": "someday"})).await;
    let res = app
        .post(
            &format!("/api/v1/tasks/{}/reminder", undated["id"].as_str().unwrap()),
            &user.token,
            json!({"offset_minutes": 5}),
        )
        .await
        .expect(409);
    assert_eq!(res.code(), "no_due_date");
    // Cancelling is idempotent.
    app.delete(&path, &user.token).await.expect(204);
    app.delete(&path, &user.token).await.expect(204);
    assert_eq!(reminders(&app, &user, "cancelled").await.len(), 1);
}

#[apply(backends)]
#[actix_web::test]
async fn a_reminder_fires_on_time_to_the_websocket_and_to_dapr(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let endpoint = sidecar.endpoint();
    let app = spawn_app_with(backend, move |s| {
        s.dapr_enabled = true;
        s.dapr_http_endpoint = Some(endpoint);
        s.outbox_sweep_interval = 0.1;
    })
    .await;
    let user = app.signup().await;
    let task = app
        .create_task(
            &user,
            json!({"title": "Stretch", "due_at": in_future(chrono::Duration::hours(1))}),
        )
        .await;
    let mut ws = Ws::connect(&app, &user, "").await;
    ws.next().await;
    let at = Utc::now() + chrono::Duration::milliseconds(1500);
    app.post(
        &format!("/api/v1/tasks/{}/reminder", task["id"].as_str().unwrap()),
        &user.token,
        json!({"remind_at": at.to_rfc3339_opts(SecondsFormat::Millis, true)}),
    )
    .await
    .expect(200);
    let message = ws.next_of("reminder").await;
    let arrived = Utc::now();
    assert_eq!(message["task_id"], task["id"]);
    assert_eq!(message["title"], "Stretch");
    assert_eq!(message["late"], false);
    assert!(
        message["fired_at"].is_string()
            && message["remind_at"].is_string()
            && message["due_at"].is_string()
    );
    let lateness = arrived - at;
    assert!(
        lateness < chrono::Duration::seconds(1) && lateness > chrono::Duration::milliseconds(-50),
        "fired {lateness} after its time"
    );
    assert_eq!(reminders(&app, &user, "sent").await.len(), 1);
    let published = sidecar
        .wait_for("reminders", 2, Duration::from_secs(10))
        .await;
    let types: Vec<&str> = published
        .iter()
        .map(|m| m.body["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["reminder.scheduled", "reminder.triggered"]);
    let data = &published[1].body["data"];
    assert_eq!(data["title"], "Stretch");
    assert_eq!(data["late"], false);
    assert!(data["fired_at"].is_string());
}

#[apply(backends)]
#[actix_web::test]
async fn a_reminder_due_during_downtime_fires_once_late_at_start(#[case] backend: Backend) {
    let mut first = spawn_app(backend).await;
    let user = first.signup().await;
    let task = first
        .create_task(
            &user,
            json!({"title": "Water plants", "due_at": in_future(chrono::Duration::hours(1))}),
        )
        .await;
    first
        .post(
            &format!("/api/v1/tasks/{}/reminder", task["id"].as_str().unwrap()),
            &user.token,
            json!({"remind_at": in_future(chrono::Duration::milliseconds(1200))}),
        )
        .await
        .expect(200);
    first.stop().await;
    actix_rt::time::sleep(Duration::from_millis(2500)).await;
    let second = start_on(first.database_url.clone(), |_| {}).await;
    let mut fired = Vec::new();
    for _ in 0..50 {
        fired = reminders(&second, &user, "sent").await;
        if !fired.is_empty() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(fired.len(), 1, "fired at start");
    let log = second
        .get("/api/v1/activity-logs", &user.token)
        .await
        .expect(200);
    let triggered: Vec<&Value> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "reminder.triggered")
        .collect();
    assert_eq!(triggered.len(), 1, "once");
    let mut ws = Ws::connect(&second, &user, "since=0").await;
    let message = ws.next_of("reminder").await;
    assert_eq!(message["late"], true);
}

#[actix_web::test]
async fn two_instances_on_one_postgres_fire_each_reminder_once() {
    let a = spawn_app(Backend::Postgres).await;
    let b = start_on(a.database_url.clone(), |s| {
        s.instance_id = "replica-b".into()
    })
    .await;
    let user = a.signup().await;
    for i in 0..20 {
        let task = a
            .create_task(
                &user,
                json!({"title": format!("r{i}"), "due_at": in_future(chrono::Duration::hours(1))}),
            )
            .await;
        let app = if i % 2 == 0 { &a } else { &b };
        app.post(
            &format!("/api/v1/tasks/{}/reminder", task["id"].as_str().unwrap()),
            &user.token,
            json!({"remind_at": in_future(chrono::Duration::milliseconds(1500))}),
        )
        .await
        .expect(200);
    }
    actix_rt::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(reminders(&a, &user, "sent").await.len(), 20);
    let log = a
        .get("/api/v1/activity-logs?limit=500", &user.token)
        .await
        .expect(200);
    let triggered = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "reminder.triggered")
        .count();
    assert_eq!(triggered, 20, "each fired once");
}

#[apply(backends)]
#[actix_web::test]
async fn the_next_occurrence_gets_its_own_reminder(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let due = Utc::now() + chrono::Duration::hours(3);
    let task = app
        .create_task(&user, json!({"title": "Daily review", "due_at": due.to_rfc3339(), "recurrence_pattern": "daily", "reminder_offset_minutes": 15}))
        .await;
    app.complete(&user, task["id"].as_str().unwrap()).await;
    let pending = reminders(&app, &user, "pending").await;
    assert_eq!(pending.len(), 1);
    assert_ne!(
        pending[0]["task_id"], task["id"],
        "the successor's reminder"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn with_dapr_jobs_reminders_are_scheduled_there_and_fired_by_its_callback(
    #[case] backend: Backend,
    #[values("v1.0", "v1.0-alpha1")] api_version: &str,
) {
    let sidecar = Sidecar::start().await;
    let endpoint = sidecar.endpoint();
    let app = spawn_app_with(backend, move |s| {
        s.reminder_scheduler = "dapr-jobs".into();
        s.dapr_jobs_api_version = api_version.into();
        s.dapr_http_endpoint = Some(endpoint);
    })
    .await;
    let user = app.signup().await;
    let task = app
        .create_task(
            &user,
            json!({"title": "Stand up", "due_at": in_future(chrono::Duration::hours(2))}),
        )
        .await;
    let path = format!("/api/v1/tasks/{}/reminder", task["id"].as_str().unwrap());
    let soon = Utc::now() + chrono::Duration::milliseconds(800);
    let reminder = app
        .post(
            &path,
            &user.token,
            json!({"remind_at": soon.to_rfc3339_opts(SecondsFormat::Millis, true)}),
        )
        .await
        .expect(200);
    let name = format!("reminder-{}", reminder.body["id"].as_str().unwrap());
    let jobs = sidecar
        .wait_until(Duration::from_secs(10), "the job", |d| {
            d.iter().any(|r| r.topic == name)
        })
        .await;
    let scheduled = jobs.iter().find(|r| r.topic == name).unwrap();
    assert_eq!(
        (scheduled.method.as_str(), scheduled.path.as_str()),
        ("POST", format!("/{api_version}/jobs/{name}").as_str())
    );
    assert_eq!(scheduled.body["data"]["reminder_id"], reminder.body["id"]);
    let due_time =
        chrono::DateTime::parse_from_rfc3339(scheduled.body["dueTime"].as_str().unwrap()).unwrap();
    assert!(
        (due_time.with_timezone(&Utc) - soon)
            .num_milliseconds()
            .abs()
            < 2
    );
    // Past its time, the service leaves firing to Dapr (within the grace).
    actix_rt::time::sleep(Duration::from_millis(1500)).await;
    assert!(reminders(&app, &user, "sent").await.is_empty());
    // Dapr calls back: fired once; a repeated call is done, not fired again.
    let mut ws = Ws::connect(&app, &user, "").await;
    ws.next().await;
    assert_eq!(
        job_call(&app, &name).await,
        (200, json!({"status": "fired"}))
    );
    assert_eq!(
        job_call(&app, &name).await,
        (200, json!({"status": "done"}))
    );
    assert_eq!(ws.next_of("reminder").await["title"], "Stand up");
    assert_eq!(reminders(&app, &user, "sent").await.len(), 1);
    // Cancelling deletes the job.
    let other = app
        .create_task(
            &user,
            json!({"title": "Later", "due_at": in_future(chrono::Duration::hours(3))}),
        )
        .await;
    let other_path = format!("/api/v1/tasks/{}/reminder", other["id"].as_str().unwrap());
    let r = app
        .post(&other_path, &user.token, json!({"offset_minutes": 30}))
        .await
        .expect(200);
    app.delete(&other_path, &user.token).await.expect(204);
    let other_name = format!("reminder-{}", r.body["id"].as_str().unwrap());
    let calls = sidecar
        .wait_until(Duration::from_secs(10), "the job deletion", |d| {
            d.iter()
                .any(|r| r.topic == other_name && r.method == "DELETE")
        })
        .await;
    assert!(
        calls
            .iter()
            .any(|r| r.topic == other_name && r.method == "POST")
    );
}

#[apply(backends)]
#[actix_web::test]
async fn a_reminder_fired_on_another_replica_reaches_this_ones_sessions_once(
    #[case] backend: Backend,
) {
    let sidecar = Sidecar::start().await;
    let endpoint = sidecar.endpoint();
    let a = spawn_app_with(backend, move |s| {
        s.dapr_enabled = true;
        s.dapr_http_endpoint = Some(endpoint);
        s.outbox_sweep_interval = 0.1;
        s.instance_id = "replica-a".into();
    })
    .await;
    let b = start_on(a.database_url.clone(), |s| {
        s.instance_id = "replica-b".into()
    })
    .await;
    let user = a.signup().await;
    let mut on_b = Ws::connect(&b, &user, "").await;
    on_b.next().await;
    let task = a
        .create_task(
            &user,
            json!({"title": "Across", "due_at": in_future(chrono::Duration::hours(1))}),
        )
        .await;
    a.post(
        &format!("/api/v1/tasks/{}/reminder", task["id"].as_str().unwrap()),
        &user.token,
        json!({"remind_at": in_future(chrono::Duration::milliseconds(700))}),
    )
    .await
    .expect(200);
    // Whichever replica fires it, B's session gets it once; A's messages on
    // the reminders topic are delivered to B as Dapr would.
    sidecar
        .wait_for("reminders", 1, Duration::from_secs(10))
        .await;
    // Let it fire (on either replica) and A publish what it has.
    actix_rt::time::sleep(Duration::from_millis(2000)).await;
    let published: Vec<_> = sidecar
        .delivered()
        .into_iter()
        .filter(|m| m.topic == "reminders")
        .collect();
    for message in published
        .iter()
        .filter(|m| m.body["instanceid"] == "replica-a")
    {
        for _ in 0..2 {
            let mut res = b
                .client
                .post(b.url("/api/events/reminders"))
                .insert_header(("Content-Type", "application/cloudevents+json"))
                .send_body(message.body.to_string())
                .await
                .unwrap();
            assert_eq!(res.json::<Value>().await.unwrap()["status"], "SUCCESS");
        }
    }
    let reminder = on_b.next_of("reminder").await;
    assert_eq!(reminder["title"], "Across");
    let mut extra = 0;
    while let Some(message) = on_b.try_next(Duration::from_millis(800)).await {
        if message["type"] == "reminder" {
            extra += 1;
        }
    }
    assert_eq!(extra, 0, "once");
}

#[apply(backends)]
#[actix_web::test]
async fn skipping_an_occurrence_moves_its_reminder(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let due = Utc::now() + chrono::Duration::hours(2);
    let task = app
        .create_task(&user, json!({"title": "Gym", "due_at": due.to_rfc3339(), "recurrence_pattern": "daily", "reminder_offset_minutes": 30}))
        .await;
    let before = reminders(&app, &user, "pending").await;
    app.post(
        &format!(
            "/api/v1/tasks/{}/skip-occurrence",
            task["id"].as_str().unwrap()
        ),
        &user.token,
        json!({}),
    )
    .await
    .expect(200);
    let after = reminders(&app, &user, "pending").await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"], before[0]["id"]);
    let moved =
        |r: &Value| chrono::DateTime::parse_from_rfc3339(r["remind_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        (moved(&after[0]) - moved(&before[0])).num_hours(),
        24,
        "a day later, with the task"
    );
    let types = log_types(&app, &user).await;
    assert_eq!(
        types.last().map(String::as_str),
        Some("reminder.rescheduled")
    );
}

async fn job_call(app: &TestApp, name: &str) -> (u16, Value) {
    let mut res = app
        .client
        .post(app.url(&format!("/job/{name}")))
        .send_body("{}")
        .await
        .unwrap();
    (res.status().as_u16(), res.json::<Value>().await.unwrap())
}

#[apply(backends)]
#[actix_web::test]
async fn a_job_call_before_the_reminders_time_fires_nothing(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    app.create_task(
        &user,
        json!({"title": "In a fortnight", "due_at": in_future(chrono::Duration::days(14)), "reminder_offset_minutes": 60}),
    )
    .await;
    let pending = reminders(&app, &user, "pending").await;
    assert_eq!(pending.len(), 1);
    let name = format!("reminder-{}", pending[0]["id"].as_str().unwrap());
    let (status, body) = job_call(&app, &name).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_due")),
        "{body}"
    );
    let after = reminders(&app, &user, "pending").await;
    assert_eq!(after, pending, "still pending, unchanged");
    assert!(reminders(&app, &user, "sent").await.is_empty());
    assert!(
        !log_types(&app, &user)
            .await
            .contains(&"reminder.triggered".to_owned())
    );
    // Names that are no reminder of ours are done, never an error loop.
    assert_eq!(
        job_call(&app, &format!("reminder-{}", uuid::Uuid::now_v7())).await,
        (200, json!({"status": "done"}))
    );
    assert_eq!(
        job_call(&app, "something-else").await,
        (200, json!({"status": "ignored"}))
    );
}
