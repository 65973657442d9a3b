//! Personal API tokens: created from a login session with their secret shown
//! once, listed without it, scoped read or write, accepted on REST and
//! WebSocket, revoked at once, another user's untouchable.

use std::time::Duration;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::db::schema::api_tokens;

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, database_of, spawn_app};
use crate::ws::Ws;

async fn create_token(app: &TestApp, user: &TestUser, body: Value) -> Value {
    app.post("/api/auth/tokens", &user.token, body)
        .await
        .expect(201)
        .body
}

fn as_user(user: &TestUser, secret: &Value) -> TestUser {
    TestUser {
        id: user.id.clone(),
        token: secret.as_str().unwrap().to_owned(),
    }
}

#[apply(backends)]
#[actix_web::test]
async fn tokens_are_created_listed_used_and_scoped(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let read = create_token(
        &app,
        &user,
        json!({"name": "assistant (read)", "scope": "read"}),
    )
    .await;
    let secret = read["secret"].as_str().unwrap();
    assert!(secret.starts_with("tsk_") && secret.len() == 68, "{secret}");
    assert!(secret[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(read["scope"], "read");
    assert!(read["expires_at"].is_null());
    let write = create_token(
        &app,
        &user,
        json!({"name": "script", "scope": "write", "expires_in_days": 30}),
    )
    .await;
    assert!(write["expires_at"].is_string());
    // Listed, never with the secret.
    let list = app.get("/api/auth/tokens", &user.token).await.expect(200);
    let items = list.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|t| t.get("secret").is_none()));
    assert!(!list.body.to_string().contains(secret));
    assert!(items[0]["last_used_at"].is_null());

    // A read token reads…
    let reader = as_user(&user, &read["secret"]);
    app.create_task(&user, json!({"title": "made by the owner"}))
        .await;
    let tasks = app.get("/api/v1/tasks", &reader.token).await.expect(200);
    assert_eq!(tasks.body["total"], 1);
    app.get(&format!("/api/{}/tags", user.id), &reader.token)
        .await
        .expect(200);
    // …and changes nothing.
    for res in [
        app.post("/api/v1/tasks", &reader.token, json!({"title": "no"}))
            .await,
        app.post("/api/v1/tags", &reader.token, json!({"name": "no"}))
            .await,
        app.patch("/api/auth/me", &reader.token, json!({"name": "no"}))
            .await,
    ] {
        assert_eq!(res.status, 403, "{}", res.body);
        assert_eq!(res.body["error"]["message"], "this token may only read");
    }
    // A write token changes things.
    let writer = as_user(&user, &write["secret"]);
    app.create_task(&writer, json!({"title": "made by a script"}))
        .await;
    let list = app.get("/api/auth/tokens", &user.token).await.expect(200);
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["last_used_at"].is_string()),
        "uses are recorded: {}",
        list.body
    );
    // API tokens manage no tokens and end no login sessions.
    for res in [
        app.get("/api/auth/tokens", &writer.token).await,
        app.post(
            "/api/auth/tokens",
            &writer.token,
            json!({"name": "x", "scope": "write"}),
        )
        .await,
        app.post("/api/auth/logout-all", &writer.token, json!({}))
            .await,
    ] {
        assert_eq!(res.status, 403, "{}", res.body);
    }
    app.get("/api/auth/me", &user.token).await.expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn revoking_a_token_ends_it_at_once(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let token = create_token(&app, &user, json!({"name": "assistant", "scope": "read"})).await;
    let holder = as_user(&user, &token["secret"]);
    app.get("/api/v1/tasks", &holder.token).await.expect(200);
    let mut ws = Ws::connect(&app, &holder, "").await;
    assert_eq!(ws.next().await["type"], "hello");
    app.delete(
        &format!("/api/auth/tokens/{}", token["id"].as_str().unwrap()),
        &user.token,
    )
    .await
    .expect(204);
    let res = app.get("/api/v1/tasks", &holder.token).await.expect(401);
    assert_eq!(res.body["error"]["message"], "token has been revoked");
    assert_eq!(ws.closed(Duration::from_secs(5)).await, Some(4001));
    assert_eq!(
        app.get("/api/auth/tokens", &user.token).await.body,
        json!([]),
        "gone from the list"
    );
    // Revoking again: no such active token.
    app.delete(
        &format!("/api/auth/tokens/{}", token["id"].as_str().unwrap()),
        &user.token,
    )
    .await
    .expect(404);
    // A token can end itself, even a read-only one; logging out everywhere
    // leaves API tokens alone.
    let other = create_token(&app, &user, json!({"name": "cli", "scope": "read"})).await;
    let kept = create_token(&app, &user, json!({"name": "kept", "scope": "read"})).await;
    app.post(
        "/api/auth/logout",
        other["secret"].as_str().unwrap(),
        json!({}),
    )
    .await
    .expect(204);
    app.get("/api/v1/tasks", other["secret"].as_str().unwrap())
        .await
        .expect(401);
    app.post("/api/auth/logout-all", &user.token, json!({}))
        .await
        .expect(204);
    app.get("/api/v1/tasks", kept["secret"].as_str().unwrap())
        .await
        .expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn another_users_tokens_are_out_of_reach(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    let token = create_token(&app, &alice, json!({"name": "alice's", "scope": "write"})).await;
    assert_eq!(
        app.get("/api/auth/tokens", &bob.token).await.body,
        json!([])
    );
    app.delete(
        &format!("/api/auth/tokens/{}", token["id"].as_str().unwrap()),
        &bob.token,
    )
    .await
    .expect(404);
    // Alice's token acts for Alice only.
    let holder = as_user(&alice, &token["secret"]);
    app.get(&format!("/api/{}/tasks", bob.id), &holder.token)
        .await
        .expect(403);
    app.get("/api/v1/tasks", &holder.token).await.expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn bad_input_and_expired_or_unknown_tokens_are_refused(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for (body, field) in [
        (json!({"name": "", "scope": "read"}), "name"),
        (json!({"name": "a\u{0}b", "scope": "read"}), "name"),
        (json!({"name": "x", "scope": "admin"}), "scope"),
        (
            json!({"name": "x", "scope": "read", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scope": "read", "expires_in_days": 3651}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scope": "read", "colour": "red"}),
            "body",
        ),
    ] {
        let res = app
            .post("/api/auth/tokens", &user.token, body.clone())
            .await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert!(
            res.body["error"]["details"]
                .as_object()
                .unwrap()
                .keys()
                .any(|k| k == field || field == "body"),
            "{body}: {}",
            res.body
        );
    }
    // An unknown secret with the prefix, and a token past its expiry.
    app.get("/api/v1/tasks", &format!("tsk_{}", "0".repeat(64)))
        .await
        .expect(401);
    let token = create_token(
        &app,
        &user,
        json!({"name": "short-lived", "scope": "read", "expires_in_days": 1}),
    )
    .await;
    let db = database_of(&app).await;
    let mut pooled = db.get().await.unwrap();
    taskstream::db_run!(&mut pooled.conn(), |c| diesel::update(
        api_tokens::table.filter(api_tokens::id.eq(token["id"].as_str().unwrap()))
    )
    .set(api_tokens::expires_at.eq(Some(
        chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1)
    )))
    .execute(c)
    .await
    .unwrap());
    let res = app
        .get("/api/v1/tasks", token["secret"].as_str().unwrap())
        .await
        .expect(401);
    assert_eq!(res.body["error"]["message"], "token has expired");
}
