//! The task resource: create, read, replace, patch, complete, delete,
//! versions and If-Match, validation and malformed bodies.

use actix_web::http::Method;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{Backend, spawn_app};

#[apply(backends)]
#[actix_web::test]
async fn create_returns_the_task_with_location_and_etag(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let res = app
        .post(
            &format!("/api/{}/tasks", user.id),
            &user.token,
            json!({
                "title": "  Buy milk  ",
                "description": "Two litres",
                "priority": "high",
                "due_at": "2026-12-01T10:00:00+01:00",
                "tags": ["home", "Errands", "HOME"],
                "recurrence_pattern": "FREQ=WEEKLY;BYDAY=MO,WE",
                "recurrence_mode": "completion",
                "recurrence_end_date": "2027-06-30",
                "reminder_offset_minutes": 30
            }),
        )
        .await
        .expect(201);
    let task = &res.body;
    let id = task["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(
        res.header("location"),
        Some(format!("/api/{}/tasks/{id}", user.id).as_str())
    );
    assert_eq!(res.header("etag"), Some("\"1\""));
    assert_eq!(task["user_id"], user.id.as_str());
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "Two litres");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["due_at"], "2026-12-01T09:00:00Z");
    assert_eq!(task["tags"], json!(["Errands", "home"]));
    assert_eq!(task["recurrence_pattern"], "FREQ=WEEKLY;BYDAY=MO,WE");
    assert_eq!(task["recurrence_mode"], "completion");
    assert_eq!(task["recurrence_end_date"], "2027-06-30T23:59:59.999999Z");
    assert_eq!(task["reminder_offset_minutes"], 30);
    assert_eq!(task["completed"], false);
    assert_eq!(task["completed_at"], Value::Null);
    assert_eq!(task["parent_task_id"], Value::Null);
    assert_eq!(task["version"], 1);
    assert_eq!(task["created_at"], task["updated_at"]);

    let fetched = app
        .get(&format!("/api/{}/tasks/{id}", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(&fetched.body, task);
    assert_eq!(fetched.header("etag"), Some("\"1\""));
}

#[apply(backends)]
#[actix_web::test]
async fn defaults_apply_to_a_minimal_task(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "Minimal"})).await;
    assert_eq!(task["priority"], "none");
    assert_eq!(task["recurrence_mode"], "due");
    assert_eq!(task["tags"], json!([]));
    for field in [
        "description",
        "due_at",
        "recurrence_pattern",
        "recurrence_end_date",
        "reminder_offset_minutes",
    ] {
        assert_eq!(task[field], Value::Null, "{field}");
    }
}

#[apply(backends)]
#[actix_web::test]
async fn the_v1_alias_serves_the_tokens_own_user(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let res = app
        .post("/api/v1/tasks", &user.token, json!({"title": "via v1"}))
        .await
        .expect(201);
    let id = res.body["id"].as_str().unwrap();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/tasks/{id}").as_str())
    );
    let listed = app
        .get(&format!("/api/{}/tasks", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(listed.body["items"][0]["id"], id);
    app.get(&format!("/api/v1/tasks/{id}"), &user.token)
        .await
        .expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn put_replaces_every_field_and_resets_absent_ones(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app
        .create_task(&user, json!({"title": "Old", "description": "d", "priority": "urgent", "tags": ["a"], "due_at": "2026-01-01T00:00:00Z", "reminder_offset_minutes": 5}))
        .await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    let res = app
        .put(&path, &user.token, json!({"title": "New"}))
        .await
        .expect(200);
    assert_eq!(res.body["title"], "New");
    assert_eq!(res.body["priority"], "none");
    assert_eq!(res.body["description"], Value::Null);
    assert_eq!(res.body["due_at"], Value::Null);
    assert_eq!(res.body["reminder_offset_minutes"], Value::Null);
    assert_eq!(res.body["tags"], json!([]));
    assert_eq!(res.body["version"], 2);
    assert_eq!(res.header("etag"), Some("\"2\""));
    assert_eq!(res.body["created_at"], task["created_at"]);
    assert_ne!(res.body["updated_at"], task["updated_at"]);
    // PUT requires the title like create does.
    let res = app
        .put(&path, &user.token, json!({"priority": "low"}))
        .await
        .expect(422);
    assert!(res.body["error"]["details"]["title"].is_string());
}

#[apply(backends)]
#[actix_web::test]
async fn patch_changes_only_the_fields_given(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app
        .create_task(&user, json!({"title": "Keep", "description": "clear me", "priority": "low", "due_at": "2026-03-01T08:00:00Z", "tags": ["x"]}))
        .await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    let res = app
        .patch(
            &path,
            &user.token,
            json!({"description": null, "priority": "medium"}),
        )
        .await
        .expect(200);
    assert_eq!(res.body["title"], "Keep");
    assert_eq!(res.body["description"], Value::Null);
    assert_eq!(res.body["priority"], "medium");
    assert_eq!(res.body["due_at"], "2026-03-01T08:00:00Z");
    assert_eq!(res.body["tags"], json!(["x"]));
    assert_eq!(res.body["version"], 2);
    // null on a required field is refused, and nothing changes.
    let res = app
        .patch(
            &path,
            &user.token,
            json!({"title": null, "priority": "high"}),
        )
        .await
        .expect(422);
    assert!(res.body["error"]["details"]["title"].is_string());
    let now = app.get(&path, &user.token).await.expect(200);
    assert_eq!(now.body["priority"], "medium");
    assert_eq!(now.body["version"], 2);
    // Completion through PATCH stamps completed_at.
    let res = app
        .patch(&path, &user.token, json!({"completed": true}))
        .await
        .expect(200);
    assert_eq!(res.body["completed"], true);
    assert!(res.body["completed_at"].is_string());
}

#[apply(backends)]
#[actix_web::test]
async fn if_match_guards_put_patch_and_delete(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "Guarded"})).await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    let with_if_match = |method: Method, version: &str, body: Option<Value>| {
        let mut req = app
            .client
            .request(method, app.url(&path))
            .insert_header(("Authorization", format!("Bearer {}", user.token)));
        req = req.insert_header(("If-Match", version.to_owned()));
        async move {
            match body {
                Some(b) => req.send_json(&b).await.unwrap().status().as_u16(),
                None => req.send().await.unwrap().status().as_u16(),
            }
        }
    };
    assert_eq!(
        with_if_match(Method::PATCH, "\"1\"", Some(json!({"title": "v2"}))).await,
        200
    );
    assert_eq!(
        with_if_match(Method::PATCH, "\"1\"", Some(json!({"title": "stale"}))).await,
        412
    );
    assert_eq!(
        with_if_match(Method::PUT, "\"1\"", Some(json!({"title": "stale"}))).await,
        412
    );
    assert_eq!(with_if_match(Method::DELETE, "\"1\"", None).await, 412);
    let current = app.get(&path, &user.token).await.expect(200);
    assert_eq!(current.body["title"], "v2");
    assert_eq!(current.body["version"], 2);
    assert_eq!(
        with_if_match(Method::PUT, "W/\"2\"", Some(json!({"title": "v3"}))).await,
        200
    );
    assert_eq!(with_if_match(Method::DELETE, "\"3\"", None).await, 204);
    app.get(&path, &user.token).await.expect(404);
}

#[apply(backends)]
#[actix_web::test]
async fn complete_and_uncomplete_are_idempotent(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "Finish me"})).await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    let done = app
        .post(&format!("{path}/complete"), &user.token, json!({}))
        .await
        .expect(200);
    assert_eq!(done.body["completed"], true);
    assert_eq!(done.body["version"], 2);
    let completed_at = done.body["completed_at"].clone();
    assert!(completed_at.is_string());
    let again = app
        .post(&format!("{path}/complete"), &user.token, json!({}))
        .await
        .expect(200);
    assert_eq!(
        again.body["version"], 2,
        "completing a completed task is a no-op"
    );
    assert_eq!(again.body["completed_at"], completed_at);
    let undone = app
        .post(&format!("{path}/uncomplete"), &user.token, json!({}))
        .await
        .expect(200);
    assert_eq!(undone.body["completed"], false);
    assert_eq!(undone.body["completed_at"], Value::Null);
    assert_eq!(undone.body["version"], 3);
    let again = app
        .post(&format!("{path}/uncomplete"), &user.token, json!({}))
        .await
        .expect(200);
    assert_eq!(again.body["version"], 3);
}

#[apply(backends)]
#[actix_web::test]
async fn delete_and_clear_completed(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = app
            .create_task(&user, json!({"title": format!("t{i}"), "tags": ["shared"]}))
            .await;
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..3] {
        app.complete(&user, id).await;
    }
    let res = app
        .post(
            &format!("/api/{}/tasks/clear-completed", user.id),
            &user.token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(res.body, json!({"deleted": 3}));
    let list = app
        .get(&format!("/api/{}/tasks", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(list.body["total"], 2);
    let res = app
        .delete(&format!("/api/{}/tasks/{}", user.id, ids[3]), &user.token)
        .await
        .expect(204);
    assert_eq!(res.body, Value::Null);
    app.delete(&format!("/api/{}/tasks/{}", user.id, ids[3]), &user.token)
        .await
        .expect(404);
    let tags = app
        .get(&format!("/api/{}/tags", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(tags.body[0]["task_count"], 1);
    let res = app
        .post(
            &format!("/api/{}/tasks/clear-completed", user.id),
            &user.token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(res.body, json!({"deleted": 0}));
}

#[apply(backends)]
#[actix_web::test]
async fn unknown_or_malformed_ids_are_not_found(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for id in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_owned()] {
        let res = app
            .get(&format!("/api/{}/tasks/{id}", user.id), &user.token)
            .await
            .expect(404);
        assert_eq!(res.code(), "not_found");
        app.post(
            &format!("/api/{}/tasks/{id}/complete", user.id),
            &user.token,
            json!({}),
        )
        .await
        .expect(404);
    }
}

#[apply(backends)]
#[actix_web::test]
async fn validation_names_every_bad_field_and_writes_nothing(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let path = format!("/api/{}/tasks", user.id);
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({}), &["title"]),
        (json!({"title": "   "}), &["title"]),
        (json!({"title": long(501)}), &["title"]),
        (
            json!({"title": "ok", "description": long(10_001)}),
            &["description"],
        ),
        (
            json!({"title": "ok", "priority": "critical"}),
            &["priority"],
        ),
        (
            json!({"title": "ok", "due_at": "next tuesday"}),
            &["due_at"],
        ),
        (json!({"title": "ok", "due_at": 1_700_000_000}), &["due_at"]),
        (
            json!({"title": "ok", "recurrence_pattern": "fortnightly"}),
            &["recurrence_pattern"],
        ),
        (
            json!({"title": "ok", "recurrence_pattern": "FREQ=WEEKLY;BYDAY=XY"}),
            &["recurrence_pattern"],
        ),
        (
            json!({"title": "ok", "recurrence_mode": "sometimes"}),
            &["recurrence_mode"],
        ),
        (
            json!({"title": "ok", "recurrence_end_date": "soon"}),
            &["recurrence_end_date"],
        ),
        (
            json!({"title": "ok", "reminder_offset_minutes": -1}),
            &["reminder_offset_minutes"],
        ),
        (
            json!({"title": "ok", "reminder_offset_minutes": 525_601}),
            &["reminder_offset_minutes"],
        ),
        (json!({"title": "ok", "tags": [long(51)]}), &["tags"]),
        (
            json!({"title": "ok", "tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            &["tags"],
        ),
        (json!({"title": "ok", "colour": "red"}), &["colour"]),
        (
            json!({"title": "ok", "id": "00000000-0000-0000-0000-000000000000"}),
            &["id"],
        ),
        (json!({"title": ["a"]}), &["title"]),
        (
            json!({"title": "", "priority": "x", "due_at": "y"}),
            &["title", "priority", "due_at"],
        ),
    ];
    for (body, fields) in cases {
        let res = app.post(&path, &user.token, body.clone()).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert_eq!(res.code(), "validation_failed");
        for field in fields {
            assert!(
                res.body["error"]["details"].get(*field).is_some(),
                "{body}: `{field}` not named in {}",
                res.body
            );
        }
    }
    // Boundaries that are fine.
    app.post(&path, &user.token, json!({"title": long(500), "description": long(10_000), "reminder_offset_minutes": 525_600})).await.expect(201);
    let list = app.get(&path, &user.token).await.expect(200);
    assert_eq!(list.body["total"], 1, "refused requests wrote nothing");
}

#[apply(backends)]
#[actix_web::test]
async fn malformed_bodies_get_clear_errors(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let url = app.url(&format!("/api/{}/tasks", user.id));
    let auth = ("Authorization", format!("Bearer {}", user.token));
    let send = |content_type: &'static str, body: Vec<u8>| {
        let req = app
            .client
            .post(url.clone())
            .insert_header(auth.clone())
            .insert_header(("Content-Type", content_type));
        async move {
            let mut res = req.send_body(body).await.unwrap();
            let json: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
            (res.status().as_u16(), json)
        }
    };
    let (status, body) = send("application/json", b"{\"title\": ".to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, _) = send("application/json", b"{\"title\": \"a\"} trailing".to_vec()).await;
    assert_eq!(status, 400);
    let (status, body) = send("text/plain", b"{\"title\": \"a\"}".to_vec()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let big =
        serde_json::to_vec(&json!({"title": "big", "description": "x".repeat(70 * 1024)})).unwrap();
    let (status, body) = send("application/json", big).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, _) = send(
        "application/json; charset=utf-8",
        b"{\"title\": \"fine\"}".to_vec(),
    )
    .await;
    assert_eq!(status, 201);
    let list = app
        .get(&format!("/api/{}/tasks", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(list.body["total"], 1);
}

#[apply(backends)]
#[actix_web::test]
async fn a_refused_update_leaves_the_task_as_it_was(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app
        .create_task(
            &user,
            json!({"title": "Stable", "tags": ["a", "b"], "priority": "low"}),
        )
        .await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    app.put(
        &path,
        &user.token,
        json!({"title": "Changed", "tags": ["c"], "priority": "nope"}),
    )
    .await
    .expect(422);
    app.patch(
        &path,
        &user.token,
        json!({"tags": ["c"], "due_at": "never"}),
    )
    .await
    .expect(422);
    let now = app.get(&path, &user.token).await.expect(200);
    assert_eq!(now.body, task);
    let tags = app
        .get(&format!("/api/{}/tags", user.id), &user.token)
        .await
        .expect(200);
    let names: Vec<&str> = tags
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"], "no tag `c` was half-created");
}
