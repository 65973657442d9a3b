//! The use cases called directly, with no HTTP: a [`Context`] built over a
//! database of its own and a clock that stands still until moved, so
//! time-dependent behaviour is tested without sleeping.

use chrono::NaiveDateTime;
use cloudevents::AttributesReader;
use rstest_reuse::apply;
use serde_json::json;
use taskstream::domain::query::TaskListParams;
use taskstream::domain::task::{TaskId, TaskInput};
use taskstream::domain::user::UserId;
use taskstream::error::AppError;
use taskstream::events::cloudevent::{Projection, to_cloud_event};
use taskstream::events::{EventType, Trace};
use taskstream::service::reminders::ReminderListParams;
use taskstream::service::users::SignupInput;
use taskstream::service::{
    Context, activity, deliveries, reminders, retention, sessions, tasks, users,
};

use crate::backends;
use crate::helpers::{Backend, TestContext, context_on, test_context};

fn at(s: &str) -> NaiveDateTime {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .naive_utc()
}

fn trace() -> Trace {
    Trace::for_request("service-test", None)
}

/// Signs a user up through the use case; their id and token.
async fn sign_up(ctx: &Context) -> (UserId, String) {
    let input: SignupInput = serde_json::from_value(json!({
        "email": format!("svc-{}@example.com", uuid::Uuid::new_v4().simple()),
        "password": "correct horse battery",
    }))
    .expect("input");
    let (user, token) = users::signup(ctx, input, [127, 0, 0, 1].into())
        .await
        .expect("signup");
    (UserId::parse(&user.id).expect("id"), token)
}

fn task(body: serde_json::Value) -> TaskInput {
    serde_json::from_value(body).expect("task input")
}

/// Every event handed on after commit so far, in order: `(type, seq)`.
fn committed(t: &mut TestContext) -> Vec<(EventType, i64)> {
    let mut out = Vec::new();
    while let Ok(batch) = t.bus.try_recv() {
        out.extend(batch.iter().map(|e| (e.event_type, e.seq)));
    }
    out
}

#[apply(backends)]
#[actix_web::test]
async fn reminders_come_due_on_the_clock(#[case] backend: Backend) {
    let mut t = test_context(backend, at("2030-01-07T09:00:00Z")).await;
    let (user, _) = sign_up(&t.ctx).await;
    tasks::create(
        &t.ctx,
        &trace(),
        &user,
        task(json!({"title": "Stand up", "due_at": "2030-01-07T11:00:00Z", "reminder_offset_minutes": 60})),
    )
    .await
    .expect("created");
    assert_eq!(
        committed(&mut t),
        [
            (EventType::TaskCreated, 1),
            (EventType::ReminderScheduled, 2)
        ]
    );
    assert_eq!(reminders::fire_due(&t.ctx).await.expect("fire"), 0);
    t.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(
        reminders::fire_due(&t.ctx).await.expect("fire"),
        0,
        "not yet"
    );
    t.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(
        reminders::fire_due(&t.ctx).await.expect("fire"),
        1,
        "due now"
    );
    assert_eq!(reminders::fire_due(&t.ctx).await.expect("fire"), 0, "once");
    assert_eq!(committed(&mut t), [(EventType::ReminderTriggered, 3)]);
    let sent = reminders::list(
        &t.ctx,
        &user,
        ReminderListParams {
            state: Some("sent".into()),
        },
    )
    .await
    .expect("list");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].fired_at.map(|f| f.naive_utc()),
        Some(at("2030-01-07T10:00:00Z")),
        "fired at the clock's time"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn a_completion_counts_from_the_clock(#[case] backend: Backend) {
    // "daily" from completion: due Monday 08:00, completed Tuesday 15:00 →
    // next Wednesday 08:00.
    let mut t = test_context(backend, at("2030-01-08T15:00:00Z")).await;
    let (user, _) = sign_up(&t.ctx).await;
    let created = tasks::create(
        &t.ctx,
        &trace(),
        &user,
        task(
            json!({"title": "Water plants", "due_at": "2030-01-07T08:00:00Z",
            "recurrence_pattern": "daily", "recurrence_mode": "completion"}),
        ),
    )
    .await
    .expect("created");
    let done = tasks::complete(&t.ctx, &trace(), &user, TaskId(created.id))
        .await
        .expect("completed");
    assert_eq!(
        done.completed_at.map(|c| c.naive_utc()),
        Some(at("2030-01-08T15:00:00Z"))
    );
    let page = tasks::list(&t.ctx, &user, TaskListParams::default())
        .await
        .expect("list");
    let next = page
        .items
        .iter()
        .find(|t| t.parent_task_id == Some(created.id))
        .expect("a successor");
    assert_eq!(
        next.due_at.map(|d| d.naive_utc()),
        Some(at("2030-01-09T08:00:00Z"))
    );
    assert_eq!(
        committed(&mut t),
        [
            (EventType::TaskCreated, 1),
            (EventType::TaskCompleted, 2),
            (EventType::TaskCreated, 3)
        ]
    );
}

#[apply(backends)]
#[actix_web::test]
async fn list_parameters_are_refused_by_name(#[case] backend: Backend) {
    let t = test_context(backend, at("2030-01-01T00:00:00Z")).await;
    let (user, _) = sign_up(&t.ctx).await;
    // As another protocol passes them: JSON arguments.
    let params: TaskListParams = serde_json::from_value(json!({
        "status": "done", "limit": 0, "sort_by": "colour", "due_date_start": "soon"
    }))
    .expect("well-formed");
    let Err(AppError::Validation(fields)) = tasks::list(&t.ctx, &user, params).await else {
        panic!("refused")
    };
    let named: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(named, ["due_date_start", "limit", "sort_by", "status"]);
    let unknown = serde_json::from_value::<TaskListParams>(json!({"colour": "red"}));
    assert!(unknown.is_err(), "unknown parameters are refused");
}

#[apply(backends)]
#[actix_web::test]
async fn retention_follows_the_clock(#[case] backend: Backend) {
    let t = test_context(backend, at("2030-01-01T00:00:00Z")).await;
    let (user, _) = sign_up(&t.ctx).await;
    for n in 0..3 {
        tasks::create(
            &t.ctx,
            &trace(),
            &user,
            task(json!({"title": format!("t{n}")})),
        )
        .await
        .expect("created");
    }
    t.clock.advance(chrono::Duration::days(89));
    assert_eq!(retention::prune(&t.ctx).await.expect("prune").events, 0);
    t.clock.advance(chrono::Duration::days(2));
    assert_eq!(retention::prune(&t.ctx).await.expect("prune").events, 3);
    let page = activity::list(&t.ctx, &user, Default::default())
        .await
        .expect("activity");
    assert_eq!((page.total, page.oldest_seq), (0, None));
    assert_eq!(page.kept_since.naive_utc(), at("2030-01-02T00:00:00Z"));
}

#[apply(backends)]
#[actix_web::test]
async fn a_logout_ends_the_token_and_is_announced(#[case] backend: Backend) {
    let t = test_context(backend, at("2030-01-01T00:00:00Z")).await;
    let (user, token) = sign_up(&t.ctx).await;
    let credential = t.ctx.jwt.verify(&token).expect("valid");
    sessions::check(&t.ctx, &credential).await.expect("good");
    let mut announced = t.ctx.revocations.subscribe();
    sessions::logout(&t.ctx, &credential)
        .await
        .expect("logged out");
    assert!(matches!(
        sessions::check(&t.ctx, &credential).await,
        Err(AppError::Unauthorized("token has been revoked"))
    ));
    let notice = announced.try_recv().expect("announced");
    assert_eq!(notice.0, user.as_str());
}

#[apply(backends)]
#[actix_web::test]
async fn deliveries_are_acted_on_only_as_the_log_holds_them(#[case] backend: Backend) {
    let mut t = test_context(backend, at("2030-01-01T00:00:00Z")).await;
    // Another replica on the same database writes the event.
    let (elsewhere, mut elsewhere_bus) = context_on(t.database_url.clone(), t.clock.clone(), |s| {
        s.instance_id = "elsewhere".into();
    })
    .await;
    let (user, _) = sign_up(&elsewhere).await;
    tasks::create(
        &elsewhere,
        &trace(),
        &user,
        task(json!({"title": "made elsewhere"})),
    )
    .await
    .expect("created");
    let event = elsewhere_bus.try_recv().expect("committed")[0].clone();
    let genuine = serde_json::to_value(
        to_cloud_event(&event, Projection::TaskUpdates, "taskstream/api").expect("cloud event"),
    )
    .expect("json");
    let mut inbound = t.ctx.inbound.subscribe();
    let consume = |body: serde_json::Value| {
        let ctx = t.ctx.clone();
        async move {
            deliveries::consume(&ctx, "task-updates", &serde_json::to_vec(&body).unwrap()).await
        }
    };
    assert_eq!(
        consume(genuine.clone()).await,
        deliveries::Outcome::Consumed
    );
    assert_eq!(
        consume(genuine.clone()).await,
        deliveries::Outcome::Duplicate
    );
    let mut forged = genuine.clone();
    forged["id"] = json!(uuid::Uuid::now_v7().to_string());
    assert!(matches!(
        consume(forged).await,
        deliveries::Outcome::Dropped(_)
    ));
    assert_eq!(
        inbound.try_recv().expect("handed on").event.id(),
        genuine["id"].as_str().unwrap()
    );
    assert!(inbound.try_recv().is_err(), "once, and nothing forged");
    assert!(committed(&mut t).is_empty(), "consuming writes no event");
}

/// Takes the lease `name` for `holder` in one write transaction (which
/// locks it: SQLite's write lock, PostgreSQL's row), then does `meanwhile`
/// before committing.
async fn take_lease(
    db: &taskstream::db::Db,
    name: &str,
    holder: &str,
    meanwhile: impl Future<Output = ()> + Send,
) -> Result<bool, AppError> {
    use taskstream::db::leases;
    let until = at("2100-01-01T00:00:00Z");
    taskstream::transaction!(db, |conn| {
        leases::ensure(conn, &[name.to_owned()]).await?;
        let taken = leases::take(conn, name, holder, until).await?;
        meanwhile.await;
        Ok(taken)
    })
}

/// A transaction whose future is dropped midway (a task aborted at a
/// stop, a caller that stops waiting) is rolled back and its locks are
/// released at once: neither another instance on the database nor this one
/// waits on them.
#[apply(backends)]
#[actix_web::test]
async fn a_transaction_dropped_midway_holds_no_lock(#[case] backend: Backend) {
    const BOUND: std::time::Duration = std::time::Duration::from_secs(5);
    let t = test_context(backend, at("2030-01-01T00:00:00Z")).await;
    let (other, _) = context_on(t.database_url.clone(), t.clock.clone(), |_| {}).await;
    let (inside, entered) = tokio::sync::oneshot::channel();
    tokio::select! {
        _ = take_lease(&t.ctx.db, "dropped", "here", async {
            let _ = inside.send(());
            std::future::pending().await
        }) => unreachable!("the transaction waits for ever"),
        _ = entered => {}
    }
    let elsewhere = tokio::time::timeout(
        BOUND,
        take_lease(&other.db, "dropped", "elsewhere", async {}),
    )
    .await
    .expect("another instance does not wait for the dropped transaction");
    assert!(
        elsewhere.expect("taken elsewhere"),
        "the dropped take was rolled back"
    );
    let here = tokio::time::timeout(BOUND, take_lease(&t.ctx.db, "again", "here", async {}))
        .await
        .expect("this instance writes again");
    assert!(here.expect("taken here"));
}
