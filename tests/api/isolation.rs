//! Isolation: a user never reads, changes or deletes another user's things,
//! whichever route they try, and learns nothing about their existence.

use actix_web::http::Method;
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app};

struct Victim {
    user: TestUser,
    task_id: String,
    tag_id: String,
    snapshot: Value,
}

async fn victim(app: &TestApp) -> Victim {
    let user = app.signup().await;
    let task = app
        .create_task(
            &user,
            json!({"title": "Alice's secret", "tags": ["private"]}),
        )
        .await;
    let done = app
        .create_task(&user, json!({"title": "Alice's done"}))
        .await;
    app.post(
        &format!(
            "/api/{}/tasks/{}/complete",
            user.id,
            done["id"].as_str().unwrap()
        ),
        &user.token,
        json!({}),
    )
    .await
    .expect(200);
    let tags = app
        .get(&format!("/api/{}/tags", user.id), &user.token)
        .await
        .expect(200);
    let snapshot = app
        .get(&format!("/api/{}/tasks", user.id), &user.token)
        .await
        .expect(200)
        .body;
    Victim {
        task_id: task["id"].as_str().unwrap().to_owned(),
        tag_id: tags.body[0]["id"].as_str().unwrap().to_owned(),
        user,
        snapshot,
    }
}

/// Every user-scoped route, with `{u}`, `{t}` and `{g}` for user, task and tag.
fn routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/api/{u}/tasks", None),
        (
            Method::POST,
            "/api/{u}/tasks",
            Some(json!({"title": "planted"})),
        ),
        (Method::GET, "/api/{u}/tasks/{t}", None),
        (
            Method::PUT,
            "/api/{u}/tasks/{t}",
            Some(json!({"title": "overwritten"})),
        ),
        (
            Method::PATCH,
            "/api/{u}/tasks/{t}",
            Some(json!({"title": "patched"})),
        ),
        (Method::DELETE, "/api/{u}/tasks/{t}", None),
        (Method::POST, "/api/{u}/tasks/{t}/complete", Some(json!({}))),
        (
            Method::POST,
            "/api/{u}/tasks/{t}/uncomplete",
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/{u}/tasks/{t}/tags",
            Some(json!({"tag": "planted"})),
        ),
        (Method::DELETE, "/api/{u}/tasks/{t}/tags/{g}", None),
        (
            Method::POST,
            "/api/{u}/tasks/clear-completed",
            Some(json!({})),
        ),
        (Method::GET, "/api/{u}/tags", None),
        (
            Method::POST,
            "/api/{u}/tags",
            Some(json!({"name": "planted"})),
        ),
        (
            Method::PUT,
            "/api/{u}/tags/{g}",
            Some(json!({"name": "renamed"})),
        ),
        (Method::DELETE, "/api/{u}/tags/{g}", None),
    ]
}

fn fill(path: &str, user: &str, task: &str, tag: &str) -> String {
    path.replace("{u}", user)
        .replace("{t}", task)
        .replace("{g}", tag)
}

async fn assert_untouched(app: &TestApp, alice: &Victim) {
    let now = app
        .get(&format!("/api/{}/tasks", alice.user.id), &alice.user.token)
        .await
        .expect(200);
    assert_eq!(now.body, alice.snapshot, "Alice's tasks changed");
    let tags = app
        .get(&format!("/api/{}/tags", alice.user.id), &alice.user.token)
        .await
        .expect(200);
    assert_eq!(tags.body.as_array().unwrap().len(), 1);
    assert_eq!(tags.body[0]["name"], "private");
}

#[apply(backends)]
#[actix_web::test]
async fn another_users_path_is_forbidden_on_every_route(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = victim(&app).await;
    let bob = app.signup().await;
    for (method, route, body) in routes() {
        let path = fill(route, &alice.user.id, &alice.task_id, &alice.tag_id);
        let res = app
            .call(method.clone(), &path, Some(&bob.token), body)
            .await;
        assert_eq!(res.status, 403, "{method} {route}: {}", res.body);
        assert_eq!(res.code(), "forbidden");
    }
    assert_untouched(&app, &alice).await;
}

#[apply(backends)]
#[actix_web::test]
async fn another_users_ids_under_your_own_path_are_not_found(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = victim(&app).await;
    let bob = app.signup().await;
    app.create_task(&bob, json!({"title": "Bob's own", "tags": ["mine"]}))
        .await;
    for prefix in [format!("/api/{}", bob.id), "/api/v1".to_owned()] {
        for (method, route, body) in routes() {
            if !route.contains("{t}") && !route.contains("{g}") {
                continue;
            }
            let path = fill(
                &route.replace("/api/{u}", &prefix),
                &bob.id,
                &alice.task_id,
                &alice.tag_id,
            );
            let res = app
                .call(method.clone(), &path, Some(&bob.token), body)
                .await;
            assert_eq!(res.status, 404, "{method} {path}: {}", res.body);
            // Indistinguishable from an id that exists nowhere.
            let nowhere = fill(
                &route.replace("/api/{u}", &prefix),
                &bob.id,
                &uuid::Uuid::now_v7().to_string(),
                &uuid::Uuid::now_v7().to_string(),
            );
            let body = routes()
                .into_iter()
                .find(|(m, r, _)| *m == method && *r == route)
                .and_then(|(_, _, b)| b);
            let missing = app
                .call(method.clone(), &nowhere, Some(&bob.token), body)
                .await;
            assert_eq!(res.body, missing.body, "{method} {route}");
        }
    }
    // Bob's lists never show Alice's things; his clear-completed leaves hers.
    let list = app
        .get(&format!("/api/{}/tasks", bob.id), &bob.token)
        .await
        .expect(200);
    assert_eq!(list.body["total"], 1);
    let tags = app.get("/api/v1/tags", &bob.token).await.expect(200);
    assert_eq!(tags.body.as_array().unwrap().len(), 1);
    assert_eq!(tags.body[0]["name"], "mine");
    app.post("/api/v1/tasks/clear-completed", &bob.token, json!({}))
        .await
        .expect(200);
    let search = app
        .get("/api/v1/tasks?search=secret", &bob.token)
        .await
        .expect(200);
    assert_eq!(search.body["total"], 0);
    let tagged = app
        .get("/api/v1/tasks?tags=private", &bob.token)
        .await
        .expect(200);
    assert_eq!(tagged.body["total"], 0);
    assert_untouched(&app, &alice).await;
}
