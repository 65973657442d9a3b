//! Sign-up, login, profile, and every way a token can be refused.

use rstest_reuse::apply;
use serde_json::json;
use taskstream::auth::JwtKeys;
use taskstream::domain::user::UserId;

use crate::backends;
use crate::helpers::{Backend, JWT_SECRET, b64url, spawn_app, token_for};

#[apply(backends)]
#[actix_web::test]
async fn signup_returns_the_user_and_a_working_token(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .call(
            actix_web::http::Method::POST,
            "/api/auth/signup",
            None,
            Some(json!({"email": "Ann@Example.com", "password": "correct horse", "name": "Ann", "timezone": "Europe/Berlin"})),
        )
        .await
        .expect(201);
    let user = &res.body["user"];
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["name"], "Ann");
    assert_eq!(user["timezone"], "Europe/Berlin");
    assert!(res.body.get("password").is_none() && user.get("password_hash").is_none());
    let id = user["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    let token = res.body["token"].as_str().unwrap();
    let me = app.get("/api/auth/me", token).await.expect(200);
    assert_eq!(me.body["id"], id);
}

#[apply(backends)]
#[actix_web::test]
async fn duplicate_email_is_a_conflict_whatever_its_case(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    app.signup_as("bob@example.com", json!({})).await;
    let res = app
        .call(
            actix_web::http::Method::POST,
            "/api/auth/signup",
            None,
            Some(json!({"email": "BOB@example.COM", "password": "another password"})),
        )
        .await
        .expect(409);
    assert_eq!(res.code(), "email_taken");
}

#[apply(backends)]
#[actix_web::test]
async fn signup_validation_names_each_bad_field(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "long enough"}),
            vec!["email"],
        ),
        (
            json!({"email": "a@example.com", "password": "short"}),
            vec!["password"],
        ),
        (
            json!({"email": "a@example.com", "password": "long enough", "timezone": "Mars/Olympus"}),
            vec!["timezone"],
        ),
        (
            json!({"email": "nope", "password": "x", "timezone": "Nowhere"}),
            vec!["email", "password", "timezone"],
        ),
        (
            json!({"email": "a@example.com", "password": "long enough", "role": "admin"}),
            vec!["role"],
        ),
        (json!({"email": "a@example.com"}), vec!["password"]),
    ];
    for (body, fields) in cases {
        let res = app
            .call(
                actix_web::http::Method::POST,
                "/api/auth/signup",
                None,
                Some(body.clone()),
            )
            .await;
        assert_eq!(res.status, 422, "{body}: {}", res.body);
        assert_eq!(res.code(), "validation_failed");
        for field in fields {
            assert!(
                res.body["error"]["details"].get(field).is_some(),
                "{body}: {field} not named in {}",
                res.body
            );
        }
    }
    // None of those created an account.
    let res = app
        .call(
            actix_web::http::Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "a@example.com", "password": "long enough"})),
        )
        .await;
    assert_eq!(res.status, 401);
}

#[apply(backends)]
#[actix_web::test]
async fn login_refuses_unknown_email_and_wrong_password_alike(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup_as("carol@example.com", json!({})).await;
    let login = |email: &str, password: &str| {
        app.call(
            actix_web::http::Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
    };
    let ok = login("CAROL@example.com", "correct horse battery")
        .await
        .expect(200);
    assert_eq!(ok.body["user"]["id"], user.id.as_str());
    app.get("/api/auth/me", ok.body["token"].as_str().unwrap())
        .await
        .expect(200);
    let wrong_password = login("carol@example.com", "wrong password")
        .await
        .expect(401);
    let unknown_email = login("nobody@example.com", "correct horse battery")
        .await
        .expect(401);
    assert_eq!(wrong_password.body, unknown_email.body);
    assert_eq!(wrong_password.code(), "unauthorized");
}

#[apply(backends)]
#[actix_web::test]
async fn profile_can_be_read_and_changed(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let res = app
        .patch(
            "/api/auth/me",
            &user.token,
            json!({"name": "Dee", "timezone": "America/New_York"}),
        )
        .await
        .expect(200);
    assert_eq!(res.body["name"], "Dee");
    assert_eq!(res.body["timezone"], "America/New_York");
    let res = app
        .patch(
            "/api/auth/me",
            &user.token,
            json!({"timezone": "Atlantis/Central"}),
        )
        .await
        .expect(422);
    assert!(res.body["error"]["details"]["timezone"].is_string());
    let me = app.get("/api/auth/me", &user.token).await.expect(200);
    assert_eq!(me.body["timezone"], "America/New_York");
    assert_eq!(me.body["name"], "Dee");
}

#[apply(backends)]
#[actix_web::test]
async fn external_identity_tokens_are_accepted_and_their_user_created(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let token = token_for("google-oauth2.12345_x");
    let me = app.get("/api/auth/me", &token).await.expect(200);
    assert_eq!(me.body["id"], "google-oauth2.12345_x");
    assert_eq!(me.body["timezone"], "UTC");
    let task = app
        .post(
            "/api/google-oauth2.12345_x/tasks",
            &token,
            json!({"title": "From elsewhere"}),
        )
        .await
        .expect(201);
    assert_eq!(task.body["user_id"], "google-oauth2.12345_x");
    // A first write also creates the user, without /me first.
    let other = token_for("ext-2");
    app.post("/api/v1/tasks", &other, json!({"title": "first"}))
        .await
        .expect(201);
}

#[apply(backends)]
#[actix_web::test]
async fn bad_tokens_are_refused_with_401(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let path = format!("/api/{}/tasks", user.id);
    let exp = chrono::Utc::now().timestamp() + 600;
    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(format!(r#"{{"sub":"{}","exp":{exp}}}"#, user.id).as_bytes())
    );
    let wrong_secret = JwtKeys::new(b"some other secret entirely!!", 60)
        .issue(&UserId::parse(&user.id).unwrap(), 0)
        .unwrap();
    let expired = JwtKeys::new(JWT_SECRET.as_bytes(), -10)
        .issue(&UserId::parse(&user.id).unwrap(), 0)
        .unwrap();
    let mut tampered = user.token.clone();
    tampered.pop();
    tampered.push(if user.token.ends_with('A') { 'B' } else { 'A' });
    for (what, token) in [
        ("alg none", alg_none),
        ("bad signature", wrong_secret),
        ("expired", expired),
        ("tampered", tampered),
        ("garbage", "abc".into()),
    ] {
        let res = app.get(&path, &token).await;
        assert_eq!(res.status, 401, "{what}: {}", res.body);
        assert_eq!(res.code(), "unauthorized", "{what}");
    }
    let res = app
        .call(actix_web::http::Method::GET, &path, None, None)
        .await
        .expect(401);
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    app.call(actix_web::http::Method::GET, "/api/auth/me", None, None)
        .await
        .expect(401);
}

#[apply(backends)]
#[actix_web::test]
async fn another_users_path_is_forbidden(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    let res = app
        .get(&format!("/api/{}/tasks", alice.id), &bob.token)
        .await
        .expect(403);
    assert_eq!(res.code(), "forbidden");
}
