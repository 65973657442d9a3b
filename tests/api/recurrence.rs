//! Recurring tasks: successors on completion (exactly one, also when
//! completions race or repeat), end of series, skipping an occurrence, and
//! completions delivered by Dapr from another producer.

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::db::Db;
use taskstream::db::schema::tasks;

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app, test_settings};

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
                "due_at": "2026-03-02T09:00:00Z", "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO",
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
        next["due_at"], "2026-03-09T09:00:00Z",
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
    // Events: task.completed, then task.created for the successor.
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
    assert_eq!(types, ["task.completed", "task.created"]);
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
    assert_eq!(third[0]["due_at"], "2026-03-16T09:00:00Z");
}

#[apply(backends)]
#[actix_web::test]
async fn racing_completions_create_one_successor(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "Daily", "due_at": "2026-05-01T08:00:00Z", "recurrence_pattern": "daily"})).await;
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
    let counted = app.create_task(&user, json!({"title": "twice", "due_at": "2026-05-01T08:00:00Z", "recurrence_pattern": "FREQ=DAILY;COUNT=2"})).await;
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
        .create_task(&user, json!({"title": "until", "due_at": "2026-05-01T08:00:00Z", "recurrence_pattern": "daily", "recurrence_end_date": "2026-05-01T23:00:00Z"}))
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
    let task = app.create_task(&user, json!({"title": "standup", "due_at": "2026-03-06T09:00:00Z", "recurrence_pattern": "weekdays"})).await;
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
        skipped.body["due_at"], "2026-03-09T09:00:00Z",
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
            json!({"title": "once", "due_at": "2026-03-06T09:00:00Z"}),
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
    let last = app.create_task(&user, json!({"title": "last", "due_at": "2026-03-06T09:00:00Z", "recurrence_pattern": "FREQ=DAILY;COUNT=1"})).await;
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

#[apply(backends)]
#[actix_web::test]
async fn a_completion_delivered_from_another_producer_ensures_the_successor(
    #[case] backend: Backend,
) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "elsewhere", "due_at": "2026-05-01T08:00:00Z", "recurrence_pattern": "daily"})).await;
    let id = task["id"].as_str().unwrap().to_owned();
    // Another producer completed it (straight in the shared database).
    let db = Db::connect(&test_settings(app.database_url.clone()))
        .await
        .unwrap();
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| diesel::update(
        tasks::table.filter(tasks::id.eq(&id))
    )
    .set((
        tasks::completed.eq(true),
        tasks::completed_at.eq(Some(chrono::Utc::now().naive_utc()))
    ))
    .execute(c)
    .await
    .unwrap());
    let event = json!({
        "specversion": "1.0", "id": uuid::Uuid::now_v7().to_string(), "source": "other/producer",
        "type": "task.completed", "subject": id, "datacontenttype": "application/json",
        "userid": user.id, "instanceid": "another-producer", "sequence": "2",
        "data": {"event_type": "task.completed", "task_id": id, "user_id": user.id}
    });
    for _ in 0..2 {
        let mut res = app
            .client
            .post(app.url("/api/events/task-events"))
            .insert_header(("Content-Type", "application/cloudevents+json"))
            .send_body(event.to_string())
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "SUCCESS");
    }
    let tasks = all_tasks(&app, &user).await;
    let next = successors_of(&tasks, &id);
    assert_eq!(next.len(), 1, "created once");
    assert_eq!(next[0]["due_at"], "2026-05-02T08:00:00Z");
}
