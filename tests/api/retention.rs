//! Retention: published events past `EVENT_RETENTION_DAYS` are deleted in
//! batches (unpublished ones never), remembered delivery ids past
//! `DEDUP_RETENTION_HOURS` and revoked tokens past their expiry are
//! forgotten; a WebSocket resuming from before what is kept is told to
//! resync, and the activity log says how far back it reaches.

use std::time::Duration;

use chrono::Utc;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::db::schema::{events, processed_events, revoked_tokens};

use crate::backends;
use crate::helpers::{
    Backend, TestApp, TestUser, create_concurrently, dapr_on, database_of, processed_ids,
    spawn_app_with,
};
use crate::support::dapr::Sidecar;
use crate::ws::Ws;

fn short_retention(s: &mut taskstream::settings::Settings) {
    s.event_retention_days = 1;
    s.dedup_retention_hours = 1;
    s.retention_interval = 0.2;
}

/// Moves the user's events up to `seq` three days into the past.
async fn age_events(app: &TestApp, user: &TestUser, up_to_seq: i64) {
    let old = Utc::now().naive_utc() - chrono::Duration::days(3);
    let db = database_of(app).await;
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| diesel::update(
        events::table
            .filter(events::user_id.eq(&user.id))
            .filter(events::seq.le(up_to_seq))
    )
    .set(events::created_at.eq(old))
    .execute(c)
    .await
    .unwrap());
}

async fn activity(app: &TestApp, user: &TestUser) -> Value {
    app.get("/api/v1/activity-logs?limit=500", &user.token)
        .await
        .expect(200)
        .body
}

/// Polls the activity log until `pred` holds.
async fn wait_for_log(app: &TestApp, user: &TestUser, what: &str, pred: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let log = activity(app, user).await;
        if pred(&log) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {log}"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[apply(backends)]
#[actix_web::test]
async fn old_published_events_are_deleted_in_batches(#[case] backend: Backend) {
    let app = spawn_app_with(backend, short_retention).await;
    let user = app.signup().await;
    let other = app.signup().await;
    // More than one batch of old events, then a few recent ones.
    create_concurrently(&[&app], &user, 520, "old").await;
    create_concurrently(&[&app], &user, 3, "new").await;
    create_concurrently(&[&app], &other, 2, "other's").await;
    age_events(&app, &user, 520).await;
    wait_for_log(&app, &user, "the old events to go", |log| log["total"] == 3).await;
    let log = activity(&app, &user).await;
    assert_eq!(log["oldest_seq"], 521);
    let seqs: Vec<i64> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [523, 522, 521]);
    // The log says how far back it reaches: about a day.
    let kept_since: chrono::DateTime<Utc> = log["kept_since"].as_str().unwrap().parse().unwrap();
    let age = Utc::now() - kept_since;
    assert!(
        (age - chrono::Duration::days(1)).num_seconds().abs() < 60,
        "{kept_since}"
    );
    // Other users' recent events are untouched, and so are the tasks.
    assert_eq!(activity(&app, &other).await["total"], 2);
    let tasks = app
        .get("/api/v1/tasks?limit=1", &user.token)
        .await
        .expect(200);
    assert_eq!(tasks.body["total"], 523);
}

#[apply(backends)]
#[actix_web::test]
async fn unpublished_events_are_kept_however_old(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    sidecar.down().await;
    let dapr = dapr_on(&sidecar);
    let app = spawn_app_with(backend, move |s| {
        dapr(s);
        short_retention(s);
    })
    .await;
    let user = app.signup().await;
    create_concurrently(&[&app], &user, 3, "waiting").await;
    age_events(&app, &user, 3).await;
    actix_rt::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(activity(&app, &user).await["total"], 3, "not yet published");
    // Once published they age out like any other.
    sidecar.up().await;
    sidecar
        .wait_for("task-events", 3, Duration::from_secs(30))
        .await;
    wait_for_log(&app, &user, "the published events to go", |log| {
        log["total"] == 0 && log["oldest_seq"].is_null()
    })
    .await;
}

#[apply(backends)]
#[actix_web::test]
async fn a_resume_from_before_what_is_kept_is_told_to_resync(#[case] backend: Backend) {
    let app = spawn_app_with(backend, short_retention).await;
    let user = app.signup().await;
    create_concurrently(&[&app], &user, 5, "task").await;
    age_events(&app, &user, 3).await;
    wait_for_log(&app, &user, "events 1-3 to go", |log| {
        log["oldest_seq"] == 4
    })
    .await;
    for (since, newest) in [("since=0", 5), ("since=2", 6)] {
        let mut ws = Ws::connect(&app, &user, since).await;
        assert_eq!(
            ws.next().await,
            json!({"type": "hello", "user_id": user.id, "last_seq": newest})
        );
        assert_eq!(
            ws.next().await,
            json!({"type": "resync_required", "last_seq": newest}),
            "{since}"
        );
        // Live events continue after the newest.
        app.create_task(&user, json!({"title": "after the resync"}))
            .await;
        let event = ws.next_of("event").await;
        assert_eq!(event["task"]["title"], "after the resync");
    }
    // A resume that the log can still serve is served exactly.
    let mut ws = Ws::connect(&app, &user, "since=3").await;
    ws.next().await;
    let replayed: Vec<i64> = [
        ws.next().await,
        ws.next().await,
        ws.next().await,
        ws.next().await,
    ]
    .iter()
    .map(|m| m["seq"].as_i64().unwrap_or(-1))
    .collect();
    assert_eq!(replayed, [4, 5, 6, 7]);
    assert_eq!(ws.next().await["type"], "replay_done");
}

#[apply(backends)]
#[actix_web::test]
async fn delivery_ids_and_revoked_tokens_are_forgotten_in_time(#[case] backend: Backend) {
    let app = spawn_app_with(backend, short_retention).await;
    let now = Utc::now().naive_utc();
    let db = database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    for (id, age) in [
        ("old-delivery", chrono::Duration::hours(2)),
        ("recent-delivery", chrono::Duration::minutes(10)),
    ] {
        taskstream::db_run!(&mut pooled.conn(), |c| diesel::insert_into(
            processed_events::table
        )
        .values((
            processed_events::id.eq(id),
            processed_events::topic.eq("task-updates"),
            processed_events::received_at.eq(now - age),
        ))
        .execute(c)
        .await
        .unwrap());
    }
    for (hash, expires_in) in [
        ("expired-token", chrono::Duration::minutes(-1)),
        ("live-token", chrono::Duration::hours(1)),
    ] {
        taskstream::db_run!(&mut pooled.conn(), |c| diesel::insert_into(
            revoked_tokens::table
        )
        .values((
            revoked_tokens::token_hash.eq(hash),
            revoked_tokens::user_id.eq("u"),
            revoked_tokens::expires_at.eq(now + expires_in),
            revoked_tokens::revoked_at.eq(now),
        ))
        .execute(c)
        .await
        .unwrap());
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ids = processed_ids(&app).await;
        let tokens: Vec<String> =
            taskstream::db_run!(&mut pooled.conn(), |c| revoked_tokens::table
                .select(revoked_tokens::token_hash)
                .load(c)
                .await
                .unwrap());
        if ids == 1 && tokens == ["live-token"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ids} ids, tokens {tokens:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    let kept: Vec<String> = taskstream::db_run!(&mut pooled.conn(), |c| processed_events::table
        .select(processed_events::id)
        .load(c)
        .await
        .unwrap());
    assert_eq!(kept, ["recent-delivery"]);
}
