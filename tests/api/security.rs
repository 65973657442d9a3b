//! Abuse meets bounded cost: password guessing and sign-up floods are
//! throttled (429 with Retry-After), password hashing is bounded (503 with
//! Retry-After past its queue), control characters are refused alike on both
//! backends, request limits hold with JSON errors, and every response
//! carries the security headers; CORS stays closed unless configured.

use std::time::Duration;

use actix_web::http::Method;
use rstest_reuse::apply;
use serde_json::{Value, json};
use taskstream::settings::Settings;

use crate::backends;
use crate::helpers::{Backend, Resp, TestApp, spawn_app, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

/// Logins throttled with short waits, and 127.0.0.1 trusted as a proxy so
/// that `X-Forwarded-For` stands for the client address.
fn throttled(s: &mut Settings) {
    s.trusted_proxies = "127.0.0.1".into();
    s.login_attempts_per_pair = 3;
    s.login_attempts_per_account = 6;
    s.login_attempts_per_address = 8;
    s.login_lockout_base = 1.0;
    s.login_lockout_max = 2.0;
}

fn retry_after(res: &Resp) -> u64 {
    res.header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After on {}: {:?}", res.status, res.headers))
}

#[track_caller]
fn assert_throttled(res: &Resp) -> u64 {
    assert_eq!(res.status, 429, "{}", res.body);
    assert_eq!(res.code(), "too_many_requests");
    let wait = retry_after(res);
    assert_eq!(res.body["error"]["details"]["retry_after"], wait);
    wait
}

#[apply(backends)]
#[actix_web::test]
async fn guessing_a_password_is_slowed_down_and_the_lock_ends(#[case] backend: Backend) {
    let app = spawn_app_with(backend, throttled).await;
    let email = format!("guess-{}@example.com", uuid::Uuid::new_v4().simple());
    app.signup_as(&email, json!({})).await;
    let attacker = Some("203.0.113.5");
    for n in 0..3 {
        let res = app.login(&email, &format!("guess {n}"), attacker).await;
        assert_eq!(res.status, 401, "attempt {n}: {}", res.body);
    }
    // Locked: even the right password is refused without being checked.
    let wait = assert_throttled(&app.login(&email, PASSWORD, attacker).await);
    assert!((1..=2).contains(&wait), "{wait}");
    // The account owner, elsewhere, is not affected by this pair's lock.
    app.login(&email, PASSWORD, Some("198.51.100.20"))
        .await
        .expect(200);
    // No lock outlasts LOGIN_LOCKOUT_MAX: after it the right password works.
    actix_rt::time::sleep(Duration::from_millis(2100)).await;
    app.login(&email, PASSWORD, attacker).await.expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn a_distributed_guess_locks_the_account_but_never_its_owner(#[case] backend: Backend) {
    let app = spawn_app_with(backend, throttled).await;
    let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
    app.signup_as(&email, json!({})).await;
    let home = Some("198.51.100.1");
    app.login(&email, PASSWORD, home).await.expect(200);
    // Six addresses, one wrong guess each: the account-wide allowance.
    for n in 0..6 {
        let ip = format!("203.0.113.{}", 10 + n);
        app.login(&email, "wrong", Some(&ip)).await.expect(401);
    }
    assert_throttled(&app.login(&email, PASSWORD, Some("203.0.113.99")).await);
    // From the address it has logged in from, the owner gets in.
    app.login(&email, PASSWORD, home).await.expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn one_address_spraying_many_accounts_is_throttled(#[case] backend: Backend) {
    let app = spawn_app_with(backend, throttled).await;
    let sprayer = Some("203.0.113.77");
    for n in 0..8 {
        app.login(&format!("victim{n}@example.com"), "Winter2026!", sprayer)
            .await
            .expect(401);
    }
    assert_throttled(
        &app.login("victim9@example.com", "Winter2026!", sprayer)
            .await,
    );
    app.login("victim9@example.com", "Winter2026!", Some("203.0.113.78"))
        .await
        .expect(401);
}

#[apply(backends)]
#[actix_web::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy(#[case] backend: Backend) {
    // Not trusted: X-Forwarded-For is ignored, so a client cannot dodge its
    // lock by making addresses up.
    let app = spawn_app_with(backend, |s| {
        throttled(s);
        s.trusted_proxies = String::new();
    })
    .await;
    let email = format!("spoof-{}@example.com", uuid::Uuid::new_v4().simple());
    app.signup_as(&email, json!({})).await;
    for n in 0..3 {
        let ip = format!("192.0.2.{n}");
        app.login(&email, "wrong", Some(&ip)).await.expect(401);
    }
    assert_throttled(&app.login(&email, PASSWORD, Some("192.0.2.200")).await);
}

#[apply(backends)]
#[actix_web::test]
async fn sign_ups_per_address_are_limited(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| s.signup_per_address_per_hour = 3).await;
    for _ in 0..3 {
        app.signup().await;
    }
    let res = app
        .call(
            Method::POST,
            "/api/auth/signup",
            None,
            Some(json!({"email": "one-too-many@example.com", "password": PASSWORD})),
        )
        .await;
    let wait = assert_throttled(&res);
    assert!(
        wait >= 600,
        "an hourly allowance of 3 refills one in 20 minutes: {wait}"
    );
    // Nothing was created.
    app.login("one-too-many@example.com", PASSWORD, None)
        .await
        .expect(401);
}

#[apply(backends)]
#[actix_web::test]
async fn hashing_past_its_queue_answers_503_with_retry_after(#[case] backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.password_hash_workers = 1;
        s.password_hash_queue = 1;
    })
    .await;
    let email = format!("busy-{}@example.com", uuid::Uuid::new_v4().simple());
    app.signup_as(&email, json!({})).await;
    let logins = (0..12).map(|_| app.login(&email, PASSWORD, None));
    let results = futures_util::future::join_all(logins).await;
    let busy: Vec<&Resp> = results.iter().filter(|r| r.status == 503).collect();
    assert!(
        results.iter().all(|r| [200, 503].contains(&r.status)),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(results.iter().any(|r| r.status == 200));
    assert!(
        !busy.is_empty(),
        "one hashing, one queued: the rest are turned away"
    );
    for res in busy {
        assert_eq!(res.code(), "server_busy");
        assert_eq!(retry_after(res), 1);
    }
    // Afterwards the service answers as usual.
    app.login(&email, PASSWORD, None).await.expect(200);
}

#[apply(backends)]
#[actix_web::test]
async fn control_characters_are_refused_alike_on_both_backends(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for (body, field) in [
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": "bell\u{7}"}), "title"),
        (json!({"title": "two\nlines"}), "title"),
        (
            json!({"title": "ok", "description": "nul \u{0} here"}),
            "description",
        ),
        (
            json!({"title": "ok", "description": "esc \u{1b}[31m"}),
            "description",
        ),
        (json!({"title": "ok", "tags": ["t\u{0}"]}), "tags"),
        (
            json!({"title": "ok", "recurrence_pattern": "daily\u{0}"}),
            "recurrence_pattern",
        ),
    ] {
        let res = app.post("/api/v1/tasks", &user.token, body.clone()).await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert!(
            res.body["error"]["details"].get(field).is_some(),
            "{body}: {}",
            res.body
        );
    }
    // Tabs and line breaks belong in a description.
    let task = app
        .create_task(
            &user,
            json!({"title": "ok", "description": "line one\n\tline two\r\n"}),
        )
        .await;
    assert_eq!(task["description"], "line one\n\tline two\r\n");
    let res = app
        .patch(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            &user.token,
            json!({"title": "x\u{0}"}),
        )
        .await
        .expect(422);
    assert!(res.body["error"]["details"].get("title").is_some());
    let res = app
        .get("/api/v1/tasks?search=%00", &user.token)
        .await
        .expect(422);
    assert!(res.body["error"]["details"].get("search").is_some());
    let res = app
        .call(
            Method::POST,
            "/api/auth/signup",
            None,
            Some(json!({"email": "nul@example.com", "password": PASSWORD, "name": "a\u{0}b"})),
        )
        .await
        .expect(422);
    assert!(res.body["error"]["details"].get("name").is_some());
    app.patch("/api/auth/me", &user.token, json!({"name": "x\u{0}"}))
        .await
        .expect(422);
    // Nothing was written.
    let list = app.get("/api/v1/tasks", &user.token).await.expect(200);
    assert_eq!(list.body["total"], 1);
}

/// A body sent in chunks of 8 KiB, with no Content-Length.
async fn post_chunked(app: &TestApp, token: &str, bytes: usize) -> (u16, Value) {
    let chunk = vec![b' '; 8 * 1024];
    let mut parts: Vec<Result<actix_web::web::Bytes, std::io::Error>> = vec![Ok(
        actix_web::web::Bytes::from_static(b"{\"title\": \"padded\""),
    )];
    for _ in 0..bytes / chunk.len() {
        parts.push(Ok(actix_web::web::Bytes::from(chunk.clone())));
    }
    parts.push(Ok(actix_web::web::Bytes::from_static(b"}")));
    let mut res = app
        .client
        .post(app.url("/api/v1/tasks"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/json"))
        .send_stream(futures_util::stream::iter(parts))
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[apply(backends)]
#[actix_web::test]
async fn request_limits_hold_and_answer_in_json(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    // Chunked bodies are held to the same 64 KiB as announced ones.
    let (status, body) = post_chunked(&app, &user.token, 100 * 1024).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let (status, _) = post_chunked(&app, &user.token, 32 * 1024).await;
    assert_eq!(status, 201, "under the limit is fine");
    // An oversized request target.
    let long = format!("/api/v1/tasks?search={}", "a".repeat(10 * 1024));
    let res = app.get(&long, &user.token).await;
    assert_eq!(
        (res.status, res.code()),
        (414, "uri_too_long"),
        "{}",
        res.body
    );
    // Oversized headers.
    let big = "x".repeat(20 * 1024);
    let res = app
        .call_with(Method::GET, "/healthz", &[("X-Padding", &big)], None)
        .await;
    assert_eq!(
        (res.status, res.code()),
        (431, "headers_too_large"),
        "{}",
        res.body
    );
    // Both still carry the request id and the security headers.
    assert!(res.header("x-request-id").is_some());
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    // Only one task was created.
    let list = app.get("/api/v1/tasks", &user.token).await.expect(200);
    assert_eq!(list.body["total"], 1);
}

#[apply(backends)]
#[actix_web::test]
async fn every_response_carries_the_security_headers(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    for (path, page) in [
        ("/", true),
        ("/docs/", true),
        ("/app.js", false),
        ("/healthz", false),
        ("/api/v1/tasks", false),
        ("/no/such/route", false),
    ] {
        let res = app.call(Method::GET, path, None, None).await;
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(res.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(res.header("x-frame-options"), Some("DENY"), "{path}");
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if page {
            assert_eq!(res.status, 200, "{path}");
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        } else {
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        }
    }
}

#[apply(backends)]
#[actix_web::test]
async fn cors_is_closed_unless_an_origin_is_configured(#[case] backend: Backend) {
    let preflight = |app: &TestApp, origin: &'static str| {
        let app_url = app.url("/api/v1/tasks");
        let client = app.client.clone();
        async move {
            client
                .request(Method::OPTIONS, app_url)
                .insert_header(("Origin", origin))
                .insert_header(("Access-Control-Request-Method", "POST"))
                .insert_header((
                    "Access-Control-Request-Headers",
                    "authorization, content-type",
                ))
                .send()
                .await
                .unwrap()
        }
    };
    let closed = spawn_app(backend).await;
    let res = preflight(&closed, "https://evil.example").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let user = closed.signup().await;
    let res = closed
        .call_with(
            Method::GET,
            "/api/v1/tasks",
            &[
                ("Origin", "https://evil.example"),
                ("Authorization", &format!("Bearer {}", user.token)),
            ],
            None,
        )
        .await;
    assert!(res.header("access-control-allow-origin").is_none());

    let open = spawn_app_with(backend, |s| {
        s.cors_allowed_origins = "https://app.example.com".into();
    })
    .await;
    let res = preflight(&open, "https://app.example.com").await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    let res = preflight(&open, "https://evil.example").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
}
