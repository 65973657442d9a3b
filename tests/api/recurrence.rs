//! Recurring tasks: successors on completion (exactly one, also when
//! completions race or repeat), end of series, skipping an occurrence, and
//! completions delivered by Dapr from another replica (and forged ones).

use std::time::Duration;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::db::schema::tasks;

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, database_of, other_replica, spawn_app};
use crate::support::dapr::Sidecar;

const WAIT: Duration = Duration::from_secs(30);

async fn all_tasks(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let list = app
        .get(
            "/api/v1/tasks?sort_by=created_at&sort_order=asc&limit=500",
            &user.token,
        )
        .await
        .expect(200);
    list.body["items"].as_array().unwrap().clone()
}

fn successors_of<'a>(tasks: &'a [Value], id: &str) -> Vec<&'a Value> {
    tasks.iter().filter(|t| t["parent_task_id"] == id).collect()
}

#[apply(backends)]
#[actix_web::test]
async fn completing_a_recurring_task_creates_exactly_one_successor(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .signup_as(
            &format!("r-{}@example.com", uuid::Uuid::now_v7().simple()),
            json!({"timezone": "Europe/Berlin"}),
        )
        .await;
    let task = app
        .create_task(
            &user,
            json!({
                "title": "Weekly meeting", "description": "room 4", "priority": "high", "tags": ["work"],
                "due_at": "2030-02-25T09:00:00Z", "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO",
                "reminder_offset_minutes": 15
            }),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    let done = app.complete(&user, id).await;
    assert_eq!(done["completed"], true);
    let tasks = all_tasks(&app, &user).await;
    let next = successors_of(&tasks, id);
    assert_eq!(next.len(), 1);
    let next = next[0];
    assert_eq!(
        next["due_at"], "2030-03-04T09:00:00Z",
        "next Monday, 10:00 Berlin"
    );
    assert_eq!(next["completed"], false);
    for field in [
        "title",
        "description",
        "priority",
        "tags",
        "recurrence_pattern",
        "recurrence_mode",
        "reminder_offset_minutes",
    ] {
        assert_eq!(next[field], task[field], "{field} copied");
    }
    // Events after the creation: its reminder scheduled; on completion
    // task.completed and that reminder cancelled, then task.created for the
    // successor with a reminder of its own.
    let log = app
        .get("/api/v1/activity-logs?since_seq=1", &user.token)
        .await
        .expect(200);
    let types: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "reminder.scheduled",
            "task.completed",
            "reminder.cancelled",
            "task.created",
            "reminder.scheduled"
        ]
    );
    // Uncomplete and complete again: the successor stays the only one.
    app.post(
        &format!("/api/v1/tasks/{id}/uncomplete"),
        &user.token,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(
        successors_of(&all_tasks(&app, &user).await, id).len(),
        1,
        "uncompleting leaves the successor"
    );
    app.complete(&user, id).await;
    app.patch(
        &format!("/api/v1/tasks/{id}"),
        &user.token,
        json!({"completed": false}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/api/v1/tasks/{id}"),
        &user.token,
        json!({"completed": true}),
    )
    .await
    .expect(200);
    assert_eq!(successors_of(&all_tasks(&app, &user).await, id).len(), 1);
    // The successor continues the series.
    let next_id = next["id"].as_str().unwrap().to_owned();
    app.complete(&user, &next_id).await;
    let third = all_tasks(&app, &user).await;
    let third = successors_of(&third, &next_id);
    assert_eq!(third[0]["due_at"], "2030-03-11T09:00:00Z");
}

#[apply(backends)]
#[actix_web::test]
async fn racing_completions_create_one_successor(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "Daily", "due_at": "2030-04-26T08:00:00Z", "recurrence_pattern": "daily"})).await;
    let id = task["id"].as_str().unwrap().to_owned();
    let racers = (0..16).map(|_| {
        let (app, user, id) = (&app, &user, &id);
        async move {
            app.post(
                &format!("/api/v1/tasks/{id}/complete"),
                &user.token,
                json!({}),
            )
            .await
            .status
        }
    });
    let statuses = futures_util::future::join_all(racers).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let tasks = all_tasks(&app, &user).await;
    assert_eq!(successors_of(&tasks, &id).len(), 1);
    assert_eq!(tasks.len(), 2);
}

#[apply(backends)]
#[actix_web::test]
async fn a_series_ends_at_its_count_or_end_date(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let counted = app.create_task(&user, json!({"title": "twice", "due_at": "2030-04-26T08:00:00Z", "recurrence_pattern": "FREQ=DAILY;COUNT=2"})).await;
    let first = counted["id"].as_str().unwrap().to_owned();
    app.complete(&user, &first).await;
    let second = successors_of(&all_tasks(&app, &user).await, &first)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.complete(&user, &second).await;
    assert!(
        successors_of(&all_tasks(&app, &user).await, &second).is_empty(),
        "no third occurrence"
    );
    let ending = app
        .create_task(&user, json!({"title": "until", "due_at": "2030-04-26T08:00:00Z", "recurrence_pattern": "daily", "recurrence_end_date": "2030-04-26T23:00:00Z"}))
        .await;
    let ending = ending["id"].as_str().unwrap().to_owned();
    app.complete(&user, &ending).await;
    assert!(
        successors_of(&all_tasks(&app, &user).await, &ending).is_empty(),
        "none past the end date"
    );
    let plain = app.create_task(&user, json!({"title": "once"})).await;
    app.complete(&user, plain["id"].as_str().unwrap()).await;
    assert!(successors_of(&all_tasks(&app, &user).await, plain["id"].as_str().unwrap()).is_empty());
}

#[apply(backends)]
#[actix_web::test]
async fn skipping_an_occurrence(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "standup", "due_at": "2030-03-01T09:00:00Z", "recurrence_pattern": "weekdays"})).await;
    let id = task["id"].as_str().unwrap();
    let skipped = app
        .post(
            &format!("/api/v1/tasks/{id}/skip-occurrence"),
            &user.token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(
        skipped.body["due_at"], "2030-03-04T09:00:00Z",
        "Friday → Monday"
    );
    assert_eq!(skipped.body["version"], 2);
    let log = app
        .get("/api/v1/activity-logs?limit=1", &user.token)
        .await
        .expect(200);
    assert_eq!(log.body["items"][0]["type"], "task.updated");
    let once = app
        .create_task(
            &user,
            json!({"title": "once", "due_at": "2030-03-01T09:00:00Z"}),
        )
        .await;
    let res = app
        .post(
            &format!(
                "/api/v1/tasks/{}/skip-occurrence",
                once["id"].as_str().unwrap()
            ),
            &user.token,
            json!({}),
        )
        .await
        .expect(409);
    assert_eq!(res.code(), "not_recurring");
    let last = app.create_task(&user, json!({"title": "last", "due_at": "2030-03-01T09:00:00Z", "recurrence_pattern": "FREQ=DAILY;COUNT=1"})).await;
    let res = app
        .post(
            &format!(
                "/api/v1/tasks/{}/skip-occurrence",
                last["id"].as_str().unwrap()
            ),
            &user.token,
            json!({}),
        )
        .await
        .expect(409);
    assert_eq!(res.code(), "series_ended");
    app.post(
        &format!("/api/v1/tasks/{}/skip-occurrence", uuid::Uuid::now_v7()),
        &user.token,
        json!({}),
    )
    .await
    .expect(404);
}

async fn deliver(app: &TestApp, topic: &str, event: &Value) -> Value {
    let mut res = app
        .client
        .post(app.url(&format!("/api/events/{topic}")))
        .insert_header(("Content-Type", "application/cloudevents+json"))
        .send_body(event.to_string())
        .await
        .unwrap();
    res.json::<Value>().await.unwrap()
}

/// Straight in the database: removes a task's successor and the record that
/// it was made, as if the completing replica had not made one.
async fn forget_successor(app: &TestApp, parent: &str) {
    let db = database_of(app).await;
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| {
        diesel::delete(tasks::table.filter(tasks::parent_task_id.eq(parent)))
            .execute(c)
            .await
            .unwrap();
        diesel::update(tasks::table.filter(tasks::id.eq(parent)))
            .set(tasks::successor_created.eq(false))
            .execute(c)
            .await
            .unwrap();
    });
}

#[apply(backends)]
#[actix_web::test]
async fn a_completion_delivered_from_another_replica_ensures_the_successor_once(
    #[case] backend: Backend,
) {
    let app = spawn_app(backend).await;
    let sidecar = Sidecar::start().await;
    let elsewhere = other_replica(&app, &sidecar).await;
    let user = elsewhere.signup().await;
    let task = elsewhere.create_task(&user, json!({"title": "elsewhere", "due_at": "2030-04-26T08:00:00Z", "recurrence_pattern": "daily"})).await;
    let id = task["id"].as_str().unwrap().to_owned();
    elsewhere.complete(&user, &id).await;
    let completed = sidecar
        .wait_until(WAIT, "the completion", |d| {
            d.iter().any(|m| m.body["type"] == "task.completed")
        })
        .await
        .into_iter()
        .find(|m| m.body["type"] == "task.completed")
        .unwrap()
        .body;
    forget_successor(&app, &id).await;
    assert!(successors_of(&all_tasks(&app, &user).await, &id).is_empty());
    for _ in 0..2 {
        assert_eq!(
            deliver(&app, "task-events", &completed).await["status"],
            "SUCCESS"
        );
    }
    let tasks = all_tasks(&app, &user).await;
    let next = successors_of(&tasks, &id);
    assert_eq!(next.len(), 1, "created once");
    assert_eq!(next[0]["due_at"], "2030-04-27T08:00:00Z");

    // The user deletes the successor; the completion delivered again (after
    // the deduplication window) does not bring it back.
    let successor = next[0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/tasks/{successor}"), &user.token)
        .await
        .expect(204);
    let db = database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| diesel::delete(
        taskstream::db::schema::processed_events::table
    )
    .execute(c)
    .await
    .unwrap());
    assert_eq!(
        deliver(&app, "task-events", &completed).await["status"],
        "SUCCESS"
    );
    assert!(successors_of(&all_tasks(&app, &user).await, &id).is_empty());

    // A made-up completion of a task completed without an event: the log
    // does not hold it, so nothing happens.
    let quiet = app.create_task(&user, json!({"title": "quiet", "due_at": "2030-04-26T08:00:00Z", "recurrence_pattern": "daily"})).await;
    let quiet_id = quiet["id"].as_str().unwrap().to_owned();
    taskstream::db_run!(&mut pooled.conn(), |c| diesel::update(
        tasks::table.filter(tasks::id.eq(&quiet_id))
    )
    .set((
        tasks::completed.eq(true),
        tasks::completed_at.eq(Some(chrono::Utc::now().naive_utc()))
    ))
    .execute(c)
    .await
    .unwrap());
    let mut forged = completed.clone();
    forged["id"] = json!(uuid::Uuid::now_v7().to_string());
    forged["subject"] = json!(quiet_id);
    assert_eq!(
        deliver(&app, "task-events", &forged).await["status"],
        "DROP"
    );
    assert!(successors_of(&all_tasks(&app, &user).await, &quiet_id).is_empty());
}
