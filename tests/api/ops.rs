//! Operations: health, readiness (and 503 when the database goes away),
//! OpenAPI and offline docs, request ids, JSON errors from the router, panics,
//! concurrent writers, the UI.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::{App, HttpResponse, web};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{
    Backend, TestDb, admin_exec, database_of, postgres_admin_url, spawn_app, start,
};

#[apply(backends)]
#[actix_web::test]
async fn health_and_readiness(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .call(Method::GET, "/healthz", None, None)
        .await
        .expect(200);
    assert_eq!(res.body["status"], "ok");
    let res = app
        .call(Method::GET, "/readyz", None, None)
        .await
        .expect(200);
    assert_eq!(res.body["database"], "ok");
}

#[actix_web::test]
async fn an_unreachable_database_answers_503_not_500() {
    let (db, url) = TestDb::create_pg_database().await;
    let TestDb::PgDatabase { database, .. } = &db else {
        unreachable!()
    };
    let database = database.clone();
    let app = start(db, url, |_| {}).await;
    let user = app.signup().await;
    app.call(Method::GET, "/readyz", None, None)
        .await
        .expect(200);
    admin_exec(
        &postgres_admin_url(),
        &format!("DROP DATABASE {database} WITH (FORCE)"),
    )
    .await;
    let res = app
        .call(Method::GET, "/readyz", None, None)
        .await
        .expect(503);
    assert_eq!(res.code(), "service_unavailable");
    for res in [
        app.get("/api/v1/tasks", &user.token).await,
        app.post("/api/v1/tasks", &user.token, json!({"title": "lost?"}))
            .await,
    ] {
        assert_eq!(res.status, 503, "{}", res.body);
        assert_eq!(res.code(), "service_unavailable");
    }
}

#[apply(backends)]
#[actix_web::test]
async fn openapi_document_and_offline_docs(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let spec = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .expect(200)
        .body;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/auth/signup",
        "/api/auth/logout",
        "/api/auth/logout-all",
        "/api/{user_id}/tasks",
        "/api/{user_id}/tasks/{task_id}",
        "/api/{user_id}/tags/{tag_id}",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}/reminder",
        "/readyz",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Every status an operation can answer is declared, with the error body.
    let put_reminder = &spec["paths"]["/api/v1/tasks/{task_id}/reminder"]["put"];
    for status in [
        "200", "400", "401", "404", "409", "413", "415", "422", "503",
    ] {
        assert!(
            put_reminder["responses"].get(status).is_some(),
            "PUT reminder does not declare {status}"
        );
    }
    assert_eq!(
        put_reminder["responses"]["422"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    let limit = spec["paths"]["/api/{user_id}/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (
            limit["schema"]["minimum"].as_i64(),
            limit["schema"]["maximum"].as_i64()
        ),
        (Some(1), Some(500))
    );
    // A method a route does not serve: 405, saying which it does.
    let res = app
        .call(Method::DELETE, "/api/v1/tasks", None, None)
        .await
        .expect(405);
    assert_eq!(res.header("allow"), Some("GET, POST"));
    assert_eq!(res.code(), "method_not_allowed");
    assert!(spec["components"]["schemas"].get("Task").is_some());
    assert!(
        spec["components"]["securitySchemes"]
            .get("bearer")
            .is_some()
    );
    let mut res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let html = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("swagger"), "docs page is Swagger UI");
    assert!(
        !html.contains("src=\"http"),
        "docs page loads nothing from the network"
    );
    assert!(
        !html.contains("href=\"http"),
        "docs page loads nothing from the network"
    );
    let no_redirects = awc::Client::builder().disable_redirects().finish();
    let res = no_redirects.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 308);
    assert_eq!(res.headers().get("location").unwrap(), "/docs/");
}

#[apply(backends)]
#[actix_web::test]
async fn request_ids_are_echoed_or_generated(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .insert_header(("x-request-id", "abc-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    let generated = res.headers().get("x-request-id").unwrap().to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok());
    let res = app
        .client
        .get(app.url("/healthz"))
        .insert_header(("x-request-id", "bad id with spaces"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.headers().get("x-request-id").unwrap(),
        "bad id with spaces"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn router_errors_are_json_too(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let res = app
        .call(Method::GET, "/api/auth/nothing-here", None, None)
        .await
        .expect(404);
    assert_eq!(res.code(), "not_found");
    let res = app
        .call(Method::DELETE, "/api/v1/tasks", Some(&user.token), None)
        .await
        .expect(405);
    assert_eq!(res.code(), "method_not_allowed");
    let res = app
        .call(Method::GET, "/no/such/page", None, None)
        .await
        .expect(404);
    assert!(res.body["error"].is_object(), "{}", res.body);
    let res = app
        .call(
            Method::GET,
            "/api/v1/tasks?limit=%zz",
            Some(&user.token),
            None,
        )
        .await;
    assert!(res.status == 400 || res.status == 422, "{}", res.status);
    assert!(res.body["error"].is_object());
}

#[actix_web::test]
async fn a_panicking_handler_becomes_a_500_json_body_with_the_request_id() {
    use taskstream::routes::middleware::request_context;
    let app = actix_web::test::init_service(
        App::new()
            .wrap(actix_web::middleware::from_fn(request_context))
            .route(
                "/boom",
                web::get().to(|| async { panic!("kaboom") as HttpResponse }),
            )
            .route(
                "/fine",
                web::get().to(|| async { HttpResponse::Ok().finish() }),
            ),
    )
    .await;
    let req = actix_web::test::TestRequest::get()
        .uri("/boom")
        .insert_header(("x-request-id", "req-42"))
        .to_request();
    let res = actix_web::test::try_call_service(&app, req).await;
    let res = match res {
        Ok(res) => res.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(res.headers().get("x-request-id").unwrap(), "req-42");
    let body: Value =
        serde_json::from_slice(&actix_web::body::to_bytes(res.into_body()).await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "internal_error");
    assert!(
        !body.to_string().contains("kaboom"),
        "panic details stay in the log"
    );
    // The worker survives and keeps serving.
    let req = actix_web::test::TestRequest::get()
        .uri("/fine")
        .to_request();
    assert_eq!(
        actix_web::test::call_service(&app, req)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[apply(backends)]
#[actix_web::test]
async fn sixty_four_concurrent_writers_all_succeed(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let writers = (0..64).map(|w| {
        let app = &app;
        let user = &user;
        async move {
            let mut statuses = Vec::new();
            for i in 0..4 {
                let res = app
                    .post(
                        "/api/v1/tasks",
                        &user.token,
                        json!({"title": format!("w{w}-{i}"), "tags": ["load", format!("w{w}")]}),
                    )
                    .await;
                statuses.push((res.status, res.body));
            }
            statuses
        }
    });
    let results: Vec<_> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let failures: Vec<_> = results.iter().filter(|(s, _)| *s != 201).collect();
    assert!(
        failures.is_empty(),
        "{} of {} writes failed, e.g. {:?}",
        failures.len(),
        results.len(),
        failures.first()
    );
    let list = app
        .get("/api/v1/tasks?tags=load&limit=1", &user.token)
        .await
        .expect(200);
    assert_eq!(list.body["total"], 256);
}

/// SQLite has one writer: this process's writers take turns in arrival
/// order, wait at most `DATABASE_TIMEOUT`, and the queue shows in
/// `/metrics`.
#[actix_web::test]
async fn sqlite_writers_take_turns_in_arrival_order() {
    let app = spawn_app(Backend::Sqlite).await;
    let db = std::rc::Rc::new(database_of(&app).await);
    let first = db.write_turn().await.expect("a free turn");
    assert!(first.is_some());
    let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut waiters = Vec::new();
    for n in 0..8 {
        let (mine, order) = (db.clone(), order.clone());
        waiters.push(actix_rt::spawn(async move {
            let turn = mine.write_turn().await.expect("a turn within the timeout");
            order.borrow_mut().push(n);
            // Hold it a moment, so that the next one really waits.
            actix_rt::time::sleep(Duration::from_millis(5)).await;
            drop(turn);
        }));
        // Arrive one after another.
        while db.writers_waiting() < n + 1 {
            actix_rt::task::yield_now().await;
        }
    }
    assert_eq!(db.writers_waiting(), 8);
    drop(first);
    for waiter in waiters {
        waiter.await.expect("waiter");
    }
    assert_eq!(*order.borrow(), (0..8).collect::<Vec<i64>>());
    assert_eq!(db.writers_waiting(), 0);

    // A turn that does not come within DATABASE_TIMEOUT is an error (503),
    // not a hang.
    let _held = db.write_turn().await.expect("a free turn");
    let err = db.write_turn().await.expect_err("no turn while held");
    assert!(err.to_string().contains("busy"), "{err}");
    let err: taskstream::error::AppError = err.into();
    assert_eq!(err.code(), "service_unavailable");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&metrics);
    assert!(
        text.contains("taskstream_db_writers_waiting 0"),
        "the queue depth is exported"
    );
}

/// SQLite's WAL is copied back into the database file in the background:
/// the commits themselves never checkpoint, yet what they wrote reaches the
/// file (read here with the WAL ignored) without another write to trigger it.
#[actix_web::test]
async fn sqlite_checkpoints_happen_beside_the_writer() {
    use diesel::{Connection, RunQueryDsl, sql_types::BigInt};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let app = spawn_app(Backend::Sqlite).await;
    let user = app.signup().await;
    for i in 0..20 {
        app.post(
            "/api/v1/tasks",
            &user.token,
            json!({"title": format!("checkpointed {i}")}),
        )
        .await
        .expect(201);
    }
    let path = app.database_url.trim_start_matches("sqlite://");
    // `immutable=1`: the file alone, as if the WAL were not there. Without
    // locks, so a read that meets a checkpoint copying pages in may see a
    // torn file ("malformed"): that read counts as not there yet.
    let in_file = || {
        let mut file = diesel::SqliteConnection::establish(&format!("file:{path}?immutable=1"))
            .expect("open the file");
        diesel::sql_query("SELECT COUNT(*) AS n FROM tasks WHERE title LIKE 'checkpointed %'")
            .get_result::<Count>(&mut file)
            .map_or(0, |c| c.n)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while in_file() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL was not checkpointed: {} of 20 tasks in the file",
            in_file()
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[apply(backends)]
#[actix_web::test]
async fn the_web_ui_is_served_at_the_root(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let mut res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let html = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(html.contains("<html") && html.contains("app.js"));
    let res = app.client.get(app.url("/app.js")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
}

/// A client that pauses between requests on one connection (as pooled HTTP
/// clients and proxies in front of the service do) finds the connection
/// still open: were the server to close idle connections first, a request
/// sent at that moment would be lost in flight.
#[actix_web::test]
async fn an_idle_keep_alive_connection_stays_open_past_common_client_pauses() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut answers = Vec::new();
    for pause in [Duration::ZERO, Duration::from_secs(6)] {
        actix_rt::time::sleep(pause).await;
        conn.write_all(request.as_bytes()).await.expect("write");
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("an answer")
            .expect("read");
        answers.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    for answer in answers {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
