//! Listing tasks: search, every filter, every sort in both directions, paging,
//! and refusal of unknown or out-of-range parameters by name.

use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app};

/// Seeds a known set of tasks (created in this order) and returns the app.
async fn seeded(backend: Backend) -> (TestApp, TestUser) {
    let app = spawn_app(backend).await;
    let user = app
        .signup_as(
            &format!("list-{}@example.com", uuid::Uuid::new_v4().simple()),
            json!({"timezone": "America/New_York"}),
        )
        .await;
    let tasks = [
        json!({"title": "alpha report", "priority": "low", "due_at": "2026-05-03T12:00:00Z", "tags": ["work"]}),
        json!({"title": "Bravo groceries", "description": "Milk and ÄPFEL", "priority": "high", "tags": ["home", "errands"]}),
        json!({"title": "charlie call", "priority": "urgent", "due_at": "2026-05-01T03:30:00Z", "tags": ["work", "errands"]}),
        json!({"title": "Delta 50% off_sale", "priority": "none", "due_at": "2026-05-02T04:30:00Z"}),
        json!({"title": "echo milk run", "priority": "medium", "due_at": "2026-05-10T00:00:00Z", "tags": ["home"]}),
    ];
    for t in tasks {
        app.create_task(&user, t).await;
    }
    let list = titles(&app, &user, "sort_by=title&sort_order=asc").await;
    assert_eq!(list.len(), 5);
    for done in ["charlie call", "echo milk run"] {
        let found = app
            .get(
                &format!("/api/{}/tasks?search={}", user.id, urlencode(done)),
                &user.token,
            )
            .await
            .expect(200);
        let id = found.body["items"][0]["id"].as_str().unwrap().to_owned();
        app.complete(&user, &id).await;
    }
    (app, user)
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("v", s)]).unwrap()[2..].to_owned()
}

async fn list(app: &TestApp, user: &TestUser, query: &str) -> Value {
    app.get(&format!("/api/{}/tasks?{query}", user.id), &user.token)
        .await
        .expect(200)
        .body
}

async fn titles(app: &TestApp, user: &TestUser, query: &str) -> Vec<String> {
    list(app, user, query).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[apply(backends)]
#[actix_web::test]
async fn search_filters_and_sorts(#[case] backend: Backend) {
    let (app, user) = seeded(backend).await;
    let cases: &[(&str, &[&str])] = &[
        // Default: newest first.
        (
            "",
            &[
                "echo milk run",
                "Delta 50% off_sale",
                "charlie call",
                "Bravo groceries",
                "alpha report",
            ],
        ),
        // Search: case-insensitive, title or description, Unicode case folding, literal wildcards.
        (
            "search=MILK&sort_by=title&sort_order=asc",
            &["Bravo groceries", "echo milk run"],
        ),
        ("search=%C3%A4pfel", &["Bravo groceries"]),
        ("search=50%25", &["Delta 50% off_sale"]),
        ("search=f_s", &["Delta 50% off_sale"]),
        ("search=f%25s", &[]),
        ("search=nothing-like-this", &[]),
        // Status.
        (
            "status=completed&sort_by=title&sort_order=asc",
            &["charlie call", "echo milk run"],
        ),
        (
            "status=pending&sort_by=title&sort_order=asc",
            &["alpha report", "Bravo groceries", "Delta 50% off_sale"],
        ),
        (
            "status=all&sort_by=title&sort_order=asc&limit=1",
            &["alpha report"],
        ),
        // Priority lists.
        (
            "priority=high,urgent&sort_by=title&sort_order=asc",
            &["Bravo groceries", "charlie call"],
        ),
        ("priority=none", &["Delta 50% off_sale"]),
        // Tags: a task must carry all of them, names case-insensitive.
        (
            "tags=errands&sort_by=title&sort_order=asc",
            &["Bravo groceries", "charlie call"],
        ),
        ("tags=WORK,errands", &["charlie call"]),
        ("tags=work,home", &[]),
        ("tags=unknown", &[]),
        // Due range: RFC 3339 bounds are inclusive.
        (
            "due_date_start=2026-05-02T04:30:00Z&due_date_end=2026-05-03T12:00:00Z&sort_by=due_at&sort_order=asc",
            &["Delta 50% off_sale", "alpha report"],
        ),
        // Dates are days in the user's zone (New York, UTC-4 in May): 04:30Z on
        // May 2 is 00:30 local on May 2; 03:30Z on May 1 is still April 30.
        (
            "due_date_start=2026-05-02&due_date_end=2026-05-02",
            &["Delta 50% off_sale"],
        ),
        ("due_date_start=2026-05-01&due_date_end=2026-05-01", &[]),
        ("due_date_end=2026-04-30", &["charlie call"]),
        // Sorts, both directions; no due date sorts last either way.
        (
            "sort_by=due_at&sort_order=asc",
            &[
                "charlie call",
                "Delta 50% off_sale",
                "alpha report",
                "echo milk run",
                "Bravo groceries",
            ],
        ),
        (
            "sort_by=due_at&sort_order=desc",
            &[
                "echo milk run",
                "alpha report",
                "Delta 50% off_sale",
                "charlie call",
                "Bravo groceries",
            ],
        ),
        (
            "sort_by=priority&sort_order=desc",
            &[
                "charlie call",
                "Bravo groceries",
                "echo milk run",
                "alpha report",
                "Delta 50% off_sale",
            ],
        ),
        (
            "sort_by=priority&sort_order=asc",
            &[
                "Delta 50% off_sale",
                "alpha report",
                "echo milk run",
                "Bravo groceries",
                "charlie call",
            ],
        ),
        (
            "sort_by=title&sort_order=asc",
            &[
                "alpha report",
                "Bravo groceries",
                "charlie call",
                "Delta 50% off_sale",
                "echo milk run",
            ],
        ),
        (
            "sort_by=title&sort_order=desc",
            &[
                "echo milk run",
                "Delta 50% off_sale",
                "charlie call",
                "Bravo groceries",
                "alpha report",
            ],
        ),
        (
            "sort_by=created_at&sort_order=asc",
            &[
                "alpha report",
                "Bravo groceries",
                "charlie call",
                "Delta 50% off_sale",
                "echo milk run",
            ],
        ),
        // Completing touched charlie and echo last.
        (
            "sort_by=updated_at&sort_order=desc&limit=2",
            &["echo milk run", "charlie call"],
        ),
        // Filters combine.
        ("status=pending&tags=home&search=o", &["Bravo groceries"]),
        (
            "priority=low,urgent&status=pending&due_date_start=2026-05-01",
            &["alpha report"],
        ),
    ];
    for (query, expected) in cases {
        let got = titles(&app, &user, query).await;
        assert_eq!(got, *expected, "query: {query}");
    }
}

#[apply(backends)]
#[actix_web::test]
async fn paging_reports_the_total(#[case] backend: Backend) {
    let (app, user) = seeded(backend).await;
    let page = list(&app, &user, "sort_by=title&sort_order=asc&limit=2&offset=2").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 2);
    let got: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["charlie call", "Delta 50% off_sale"]);
    let past_end = list(&app, &user, "offset=10").await;
    assert_eq!(past_end["items"], json!([]));
    assert_eq!(past_end["total"], 5);
    let filtered = list(&app, &user, "status=pending&limit=1").await;
    assert_eq!(filtered["total"], 3);
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    assert_eq!(list(&app, &user, "").await["limit"], 50);
    // Items carry their tags.
    let bravo = list(&app, &user, "search=bravo").await;
    assert_eq!(bravo["items"][0]["tags"], json!(["errands", "home"]));
}

#[apply(backends)]
#[actix_web::test]
async fn bad_parameters_are_refused_by_name(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-5", "offset"),
        ("sort_by=color", "sort_by"),
        ("sort_order=sideways", "sort_order"),
        ("status=archived", "status"),
        ("priority=high,extreme", "priority"),
        ("due_date_start=31/12/2026", "due_date_start"),
        ("due_date_end=2026-13-01", "due_date_end"),
        ("due_date_end=2026-06-01%2010:00:00Z", "due_date_end"),
        ("due_date_start=9999-01-01", "due_date_start"),
        ("status=", "status"),
        ("limit=%2B5", "limit"),
        ("priority=high,,low", "priority"),
        ("q=milk", "q"),
        ("frobnicate=1", "frobnicate"),
    ] {
        let res = app
            .get(&format!("/api/{}/tasks?{query}", user.id), &user.token)
            .await;
        assert_eq!(res.status, 422, "{query}: {}", res.body);
        assert!(
            res.body["error"]["details"].get(param).is_some(),
            "{query}: `{param}` not named in {}",
            res.body
        );
    }
    app.get(
        &format!("/api/{}/tasks?limit=500&offset=0&sort_order=asc", user.id),
        &user.token,
    )
    .await
    .expect(200);
    // A due range that ends before it starts is empty, not an error.
    app.create_task(
        &user,
        json!({"title": "due", "due_at": "2026-06-01T12:00:00Z"}),
    )
    .await;
    let res = app
        .get(
            &format!(
                "/api/{}/tasks?due_date_start=2026-06-02&due_date_end=2026-06-01",
                user.id
            ),
            &user.token,
        )
        .await
        .expect(200);
    assert_eq!(res.body["total"], 0);
}
