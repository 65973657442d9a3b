//! Quick add: one line of text becomes a task, through REST (both
//! prefixes), the use case with a clock that stands still, and MCP's own
//! client.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc, Weekday};
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::domain::quick_add::QuickAddInput;
use taskstream::domain::user::UserId;
use taskstream::events::{EventType, Trace};
use taskstream::service::users::SignupInput;
use taskstream::service::{reminders, tasks, users};

use crate::backends;
use crate::helpers::{Backend, TestUser, spawn_app, test_context};

const DEMO: &str = "high priority weekly meeting for Monday 10 AM #work remind me 30 min before";

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("an RFC 3339 instant: {v}"))
        .with_timezone(&Utc)
}

async fn tasks_of(app: &crate::helpers::TestApp, user: &TestUser) -> i64 {
    app.get(&format!("/api/{}/tasks", user.id), &user.token)
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .expect("total")
}

#[apply(backends)]
#[actix_web::test]
async fn a_line_becomes_a_scheduled_task(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app
        .signup_as(
            &format!("qa-{}@example.com", uuid::Uuid::new_v4().simple()),
            json!({"timezone": "Europe/Berlin"}),
        )
        .await;
    let before = Utc::now();
    let res = app
        .post(
            &format!("/api/{}/tasks/quick-add", user.id),
            &user.token,
            json!({ "text": DEMO }),
        )
        .await
        .expect(201);
    let (parse, task) = (&res.body["parse"], &res.body["task"]);
    let id = task["id"].as_str().expect("task id");
    assert_eq!(
        res.header("location"),
        Some(format!("/api/{}/tasks/{id}", user.id).as_str())
    );
    assert_eq!(res.header("etag"), Some("\"1\""));

    // The task is what the parse says, and what GET returns.
    assert_eq!(task["title"], "meeting");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["recurrence_pattern"], "weekly");
    assert_eq!(task["tags"], json!(["work"]));
    assert_eq!(task["reminder_offset_minutes"], 30);
    for field in [
        "title",
        "priority",
        "due_at",
        "tags",
        "recurrence_pattern",
        "recurrence_mode",
        "reminder_offset_minutes",
    ] {
        assert_eq!(parse[field], task[field], "{field}");
    }
    let fetched = app
        .get(res.header("location").unwrap(), &user.token)
        .await
        .expect(200);
    assert_eq!(&fetched.body, task);

    // Due next Monday at 10:00 in the user's zone.
    let due = instant(&task["due_at"]).with_timezone(&chrono_tz::Europe::Berlin);
    assert_eq!(due.weekday(), Weekday::Mon);
    assert_eq!((due.hour(), due.minute()), (10, 0));
    assert!(due > before && due <= before + Duration::days(8), "{due}");

    // Each part, where it is and what it means.
    let parts: Vec<(String, String, usize, usize)> = parse["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["text"].as_str().unwrap().to_owned(),
                p["start"].as_u64().unwrap() as usize,
                p["end"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let kinds: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["priority", "recurrence", "date", "time", "tag", "reminder"]
    );
    for (_, text, start, end) in &parts {
        assert_eq!(&DEMO[*start..*end], text, "ASCII: characters are bytes");
    }
    assert_eq!(parse["notes"], json!([]));

    // The reminder was scheduled as for any create, and the change logged.
    let pending = app
        .get(&format!("/api/{}/reminders", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(pending.body[0]["task_id"], id);
    let log = app
        .get(&format!("/api/{}/activity-logs", user.id), &user.token)
        .await
        .expect(200);
    assert!(
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["task_id"] == id && e["type"] == "task.created"),
        "{}",
        log.body
    );
}

#[apply(backends)]
#[actix_web::test]
async fn create_false_only_reads(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let res = app
        .post(
            "/api/v1/tasks/quick-add",
            &user.token,
            json!({ "text": "Pay rent every 1st p1 \"for 5 times\"", "create": false }),
        )
        .await
        .expect(200);
    assert!(res.body.get("task").is_none(), "{}", res.body);
    assert_eq!(res.body["parse"]["title"], "Pay rent for 5 times");
    assert_eq!(
        res.body["parse"]["recurrence_pattern"],
        "FREQ=MONTHLY;BYMONTHDAY=1"
    );
    assert_eq!(res.body["parse"]["priority"], "urgent");
    let due = instant(&res.body["parse"]["due_at"]);
    assert_eq!(due.day(), 1, "the first instance, in UTC (no zone set)");
    assert_eq!(tasks_of(&app, &user).await, 0);

    // The same through /api/v1 with create: the task is there.
    let res = app
        .post(
            "/api/v1/tasks/quick-add",
            &user.token,
            json!({ "text": "Pay rent every 1st p1", "create": true }),
        )
        .await
        .expect(201);
    let id = res.body["task"]["id"].as_str().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/tasks/{id}").as_str())
    );
    assert_eq!(tasks_of(&app, &user).await, 1);
}

#[apply(backends)]
#[actix_web::test]
async fn bad_text_is_refused_and_nothing_is_written(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let path = format!("/api/{}/tasks/quick-add", user.id);
    let too_long = "a".repeat(501);
    for (body, field) in [
        (json!({"text": ""}), Some("text")),
        (json!({"text": "   "}), Some("text")),
        (json!({"text": too_long}), Some("text")),
        (
            json!({"text": format!("{} tomorrow", "ä".repeat(492))}),
            Some("text"),
        ),
        (json!({"text": "tomorrow 9am #work p1"}), Some("text")),
        (json!({"text": "tomorrow", "create": false}), Some("text")),
        (json!({"text": "bell\u{7}ring"}), Some("text")),
        (json!({"text": 5}), None),
        (json!({"text": "x", "create": "yes"}), None),
        (json!({"text": "x", "due_at": "tomorrow"}), None),
        (json!({}), None),
    ] {
        let res = app.post(&path, &user.token, body.clone()).await;
        assert!(
            (400..500).contains(&res.status),
            "{body}: {} {}",
            res.status,
            res.body
        );
        if let Some(field) = field {
            assert_eq!(res.status, 422, "{body}");
            assert_eq!(res.code(), "validation_failed");
            assert!(
                res.body["error"]["details"][field].is_string(),
                "{body}: {}",
                res.body
            );
        }
    }
    // The longest text accepted: 500 characters, as long as a title.
    let longest = format!("{}{}tomorrow", "ä".repeat(490), " ".repeat(2));
    assert_eq!(longest.chars().count(), 500);
    let res = app
        .post(&path, &user.token, json!({ "text": longest }))
        .await
        .expect(201);
    assert_eq!(res.body["task"]["title"], "ä".repeat(490));
    assert_eq!(tasks_of(&app, &user).await, 1);
}

fn at(s: &str) -> NaiveDateTime {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339")
        .naive_utc()
}

/// With the clock standing still: the exact instant, in the user's zone,
/// and the same events as a create.
#[apply(backends)]
#[actix_web::test]
async fn the_use_case_reads_in_the_users_zone_at_the_clocks_time(#[case] backend: Backend) {
    // Sunday 22 November 2026, 13:00 in New York.
    let mut t = test_context(backend, at("2026-11-22T18:00:00Z")).await;
    let input: SignupInput = serde_json::from_value(json!({
        "email": "qa@example.com", "password": "correct horse battery",
        "timezone": "America/New_York",
    }))
    .unwrap();
    let (user, _) = users::signup(&t.ctx, input, [127, 0, 0, 1].into())
        .await
        .expect("signup");
    let user = UserId::parse(&user.id).unwrap();
    let trace = Trace::for_request("quick-add-test", None);
    let read = |text: &str, create: bool| -> QuickAddInput {
        serde_json::from_value(json!({"text": text, "create": create})).unwrap()
    };

    let only = tasks::quick_add(&t.ctx, &trace, &user, read(DEMO, false))
        .await
        .expect("read");
    assert!(only.task.is_none());
    assert!(t.bus.try_recv().is_err(), "reading writes nothing");

    let created = tasks::quick_add(&t.ctx, &trace, &user, read(DEMO, true))
        .await
        .expect("created");
    let task = created.task.expect("a task");
    // Monday 23 November, 10:00 EST.
    assert_eq!(task.due_at, Some("2026-11-23T15:00:00Z".parse().unwrap()));
    assert_eq!(created.parse.due_at, task.due_at);
    assert_eq!(only.parse.due_at, task.due_at);
    let mut events = Vec::new();
    while let Ok(batch) = t.bus.try_recv() {
        events.extend(batch.iter().map(|e| e.event_type));
    }
    assert_eq!(
        events,
        [EventType::TaskCreated, EventType::ReminderScheduled]
    );
    let pending = reminders::list(&t.ctx, &user, Default::default())
        .await
        .expect("reminders");
    assert_eq!(pending.len(), 1);

    // An hour before midnight a time alone is tomorrow's.
    t.clock.advance(Duration::hours(10));
    let late = tasks::quick_add(&t.ctx, &trace, &user, read("Call at 7", false))
        .await
        .expect("read");
    assert_eq!(
        late.parse.due_at,
        Some("2026-11-23T12:00:00Z".parse().unwrap())
    );
}
