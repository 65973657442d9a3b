//! Ending sessions: logout revokes the presented token, "log out
//! everywhere" every token of the user — on REST and on open WebSockets, at
//! once on the replica that handled it and within a second on the others;
//! other users and other tokens are untouched.

use std::time::Duration;

use actix_web::http::Method;
use rstest_reuse::apply;
use serde_json::json;

use crate::backends;
use crate::helpers::{Backend, TestUser, spawn_app, start_on, token_for};
use crate::ws::Ws;

const PASSWORD: &str = "correct horse battery";

#[apply(backends)]
#[actix_web::test]
async fn logout_ends_the_presented_token_everywhere_at_once(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let email = format!("out-{}@example.com", uuid::Uuid::new_v4().simple());
    let first = app.signup_as(&email, json!({})).await;
    let second = TestUser {
        id: first.id.clone(),
        token: app.login(&email, PASSWORD, None).await.expect(200).body["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    let bystander = app.signup().await;
    let mut ws_first = Ws::connect(&app, &first, "").await;
    let mut ws_second = Ws::connect(&app, &second, "").await;
    let mut ws_bystander = Ws::connect(&app, &bystander, "").await;
    for ws in [&mut ws_first, &mut ws_second, &mut ws_bystander] {
        assert_eq!(ws.next().await["type"], "hello");
    }

    app.post("/api/auth/logout", &first.token, json!({}))
        .await
        .expect(204);
    let res = app.get("/api/v1/tasks", &first.token).await.expect(401);
    assert_eq!(res.code(), "unauthorized");
    assert_eq!(res.body["error"]["message"], "token has been revoked");
    assert_eq!(
        ws_first.closed(Duration::from_secs(5)).await,
        Some(4001),
        "the socket of that token is closed"
    );
    // A revoked token cannot open a socket either.
    let refused = app
        .call_with(
            Method::GET,
            &format!("/api/ws/{}", first.id),
            &[
                ("Authorization", &format!("Bearer {}", first.token)),
                ("Connection", "Upgrade"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            None,
        )
        .await;
    assert_eq!(refused.status, 401);
    // Logging out twice is refused like any revoked token.
    app.post("/api/auth/logout", &first.token, json!({}))
        .await
        .expect(401);

    // The same user's other token and other users carry on.
    app.get("/api/v1/tasks", &second.token).await.expect(200);
    app.create_task(&second, json!({"title": "still here"}))
        .await;
    assert_eq!(
        ws_second.next_of("event").await["event_type"],
        "task.created"
    );
    app.create_task(&bystander, json!({"title": "me too"}))
        .await;
    assert_eq!(
        ws_bystander.next_of("event").await["event_type"],
        "task.created"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn logging_out_everywhere_ends_every_token_of_the_user(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let email = format!("all-{}@example.com", uuid::Uuid::new_v4().simple());
    let user = app.signup_as(&email, json!({})).await;
    let other_device = app.login(&email, PASSWORD, None).await.expect(200).body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A token an external identity provider issued before.
    let external = token_for(&user.id);
    app.get("/api/auth/me", &external).await.expect(200);
    let bystander = app.signup().await;
    let mut ws = Ws::connect(
        &app,
        &TestUser {
            id: user.id.clone(),
            token: other_device.clone(),
        },
        "",
    )
    .await;
    assert_eq!(ws.next().await["type"], "hello");

    app.post("/api/auth/logout-all", &user.token, json!({}))
        .await
        .expect(204);
    for (what, token) in [
        ("the token that asked", &user.token),
        ("another device's", &other_device),
        ("an external one", &external),
    ] {
        let res = app.get("/api/v1/tasks", token).await;
        assert_eq!(res.status, 401, "{what}: {}", res.body);
    }
    assert_eq!(ws.closed(Duration::from_secs(5)).await, Some(4001));
    app.get("/api/v1/tasks", &bystander.token).await.expect(200);

    // Logging in again works at once, and so does that new token.
    let fresh = app.login(&email, PASSWORD, None).await.expect(200);
    let fresh = fresh.body["token"].as_str().unwrap();
    app.get("/api/v1/tasks", fresh).await.expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn a_logout_on_one_replica_closes_sockets_on_another(#[case] backend: Backend) {
    let a = spawn_app(backend).await;
    let b = start_on(a.database_url.clone(), |s| {
        s.instance_id = "replica-b".into()
    })
    .await;
    let user = a.signup().await;
    // B has verified the token (and remembers that it is good).
    b.get("/api/v1/tasks", &user.token).await.expect(200);
    let mut on_b = Ws::connect(&b, &user, "").await;
    assert_eq!(on_b.next().await["type"], "hello");
    a.post("/api/auth/logout", &user.token, json!({}))
        .await
        .expect(204);
    a.get("/api/v1/tasks", &user.token).await.expect(401);
    // B learns of it from the shared database within a second or so: its
    // socket is closed and the token refused.
    let logged_out = std::time::Instant::now();
    assert_eq!(on_b.closed(Duration::from_secs(10)).await, Some(4001));
    b.get("/api/v1/tasks", &user.token).await.expect(401);
    assert!(
        logged_out.elapsed() < Duration::from_secs(3),
        "{:?}",
        logged_out.elapsed()
    );
}
