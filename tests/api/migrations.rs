//! Upgrades: a database written by the previous release, opened by this one.

use std::time::Duration;

use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use rstest_reuse::apply;

use crate::backends;
use crate::helpers::{Backend, TestDb, dapr_on, start};
use crate::support::dapr::Sidecar;

/// The first migration this test does not apply itself: the per-user
/// publication watermark.
const WATERMARK: &str = "2026-12-06-000006";

/// Every migration before [`WATERMARK`], as the previous release left the
/// database (diesel's own bookkeeping included), then `sql`.
async fn previous_release(backend: Backend, url: &str, sql: &str) {
    let dir = match backend {
        Backend::Sqlite => "migrations/sqlite",
        Backend::Postgres => "migrations/postgres",
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.as_str() < WATERMARK)
        .collect();
    names.sort();
    let mut script = String::from(
        "CREATE TABLE __diesel_schema_migrations (\
           version VARCHAR(50) PRIMARY KEY NOT NULL, \
           run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);\n",
    );
    for name in &names {
        script += &std::fs::read_to_string(format!("{dir}/{name}/up.sql")).unwrap();
        let version = name.split('_').next().unwrap().replace('-', "");
        script +=
            &format!("\nINSERT INTO __diesel_schema_migrations (version) VALUES ('{version}');\n");
    }
    script += sql;
    match backend {
        Backend::Sqlite => {
            let path = url.trim_start_matches("sqlite://");
            let mut conn = diesel::SqliteConnection::establish(path).unwrap();
            conn.batch_execute(&script).unwrap();
        }
        Backend::Postgres => {
            let mut conn = AsyncPgConnection::establish(url).await.unwrap();
            conn.batch_execute(&script).await.unwrap();
        }
    }
}

/// A readable event of the previous release: `task.deleted`, no task.
fn event(user: &str, seq: i64, published: bool) -> String {
    let id = uuid::Uuid::now_v7();
    let payload = format!(
        r#"{{"id":"{id}","user_id":"{user}","seq":{seq},"type":"task.deleted","task_id":null,"time":"2026-11-30T10:00:00Z","task":null,"changes":{{}},"summary":"Deleted a task","trace":{{"traceid":"t","traceparent":"p"}},"instance_id":"old"}}"#
    );
    let published_at = if published {
        "'2026-11-30 10:00:01'"
    } else {
        "NULL"
    };
    format!(
        "INSERT INTO events (id, user_id, seq, event_type, payload, created_at, published_at) \
         VALUES ('{id}', '{user}', {seq}, 'task.deleted', '{payload}', '2026-11-30 10:00:00', {published_at});\n"
    )
}

fn user(id: &str, last_event_seq: i64) -> String {
    format!(
        "INSERT INTO users (id, timezone, last_event_seq, created_at, updated_at) \
         VALUES ('{id}', 'UTC', {last_event_seq}, '2026-11-30 09:00:00', '2026-11-30 09:00:00');\n"
    )
}

/// The previous release flagged each event published; this one keeps a
/// watermark per user. After the upgrade exactly what was not yet
/// published goes out, in order, and nothing already published again.
#[apply(backends)]
#[actix_web::test]
async fn an_upgrade_publishes_exactly_what_the_previous_release_had_not(#[case] backend: Backend) {
    let (db, url) = TestDb::create(backend).await;
    let mut data = user("ann", 4) + &user("bob", 2) + &user("cid", 0);
    for (who, seq, published) in [
        ("ann", 1, true),
        ("ann", 2, true),
        ("ann", 3, false),
        ("ann", 4, false),
        ("bob", 1, true),
        ("bob", 2, true),
    ] {
        data += &event(who, seq, published);
    }
    previous_release(backend, &url, &data).await;

    let sidecar = Sidecar::start().await;
    let app = start(db, url, dapr_on(&sidecar)).await;
    let delivered = sidecar
        .wait_for("task-events", 2, Duration::from_secs(30))
        .await;
    let published: Vec<(String, String)> = delivered
        .iter()
        .map(|m| {
            let at = |k: &str| m.body[k].as_str().unwrap().to_owned();
            (at("userid"), at("sequence"))
        })
        .collect();
    assert_eq!(
        published,
        [("ann".into(), "3".into()), ("ann".into(), "4".into())]
    );
    actix_rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sidecar.delivered().len(),
        6,
        "ann's two events on three topics each, nothing else"
    );

    let mut watermarks = Vec::new();
    let db = crate::helpers::database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    for id in ["ann", "bob", "cid"] {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use taskstream::db::schema::users;
        let seq: i64 = taskstream::db_run!(&mut pooled.conn(), |c| users::table
            .find(id)
            .select(users::published_seq)
            .first(c)
            .await
            .unwrap());
        watermarks.push(seq);
    }
    assert_eq!(watermarks, [4, 2, 0]);
}

/// During a rolling upgrade, replicas of the previous release still look
/// for events without `published_at`: this release's events must not look
/// unpublished to them (on SQLite one process owns the file and the column
/// is gone).
#[actix_web::test]
async fn events_of_this_release_look_published_to_the_previous_one() {
    let sidecar = Sidecar::start().await;
    let app = crate::helpers::spawn_app_with(Backend::Postgres, dapr_on(&sidecar)).await;
    sidecar.down().await;
    let user = app.signup().await;
    crate::helpers::create_concurrently(&[&app], &user, 1, "written by this release").await;
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let unpublished_in_their_eyes: i64 = {
        use diesel::sql_types::BigInt;
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT COUNT(*) AS n FROM events WHERE published_at IS NULL")
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n
    };
    assert_eq!(unpublished_in_their_eyes, 0);
    let db = crate::helpers::database_of(&app).await;
    let pending = taskstream::db::events::pending_count(&mut db.get().await.unwrap().conn())
        .await
        .unwrap();
    assert_eq!(pending, 1, "yet it waits for this release's publisher");
}
