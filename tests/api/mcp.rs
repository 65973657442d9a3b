//! The MCP server, used the way an assistant's client uses it: rmcp's own
//! client over Streamable HTTP, on every protocol version it speaks.

use std::collections::HashMap;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use rstest_reuse::apply;
use serde_json::{Value, json};

use crate::backends;
use crate::helpers::{Backend, TestApp, TestUser, dapr_on, spawn_app, spawn_app_with};
use crate::support::dapr::Sidecar;
use crate::ws::Ws;

type Client = RunningService<RoleClient, ClientConfig>;

const WAIT: Duration = Duration::from_secs(10);

fn transport(
    app: &TestApp,
    token: &str,
    headers: &[(&'static str, &str)],
) -> StreamableHttpClientTransport<reqwest::Client> {
    let headers: HashMap<_, _> = headers
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect();
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(app.url("/mcp"))
            .auth_header(token)
            .custom_headers(headers),
    )
}

fn client_config(version: ProtocolVersion) -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("taskstream-tests", "1.0.0"),
    )
    .with_protocol_version(version)
}

/// A client that has initialised on `version`.
async fn connect_on(app: &TestApp, token: &str, version: ProtocolVersion) -> Client {
    if version == ProtocolVersion::V_2026_07_28 {
        client_config(version.clone())
            .serve_with_lifecycle(
                transport(app, token, &[]),
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![version],
                },
            )
            .await
            .expect("discovers")
    } else {
        client_config(version)
            .serve(transport(app, token, &[]))
            .await
            .expect("initialises")
    }
}

async fn connect(app: &TestApp, user: &TestUser) -> Client {
    connect_on(app, &user.token, ProtocolVersion::V_2025_06_18).await
}

/// Calls a tool; the result, successful or not.
async fn call(client: &Client, name: &'static str, arguments: Value) -> CallToolResult {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    client
        .call_tool(CallToolRequestParams::new(name).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A call that must succeed: its structured result.
async fn ok(client: &Client, name: &'static str, arguments: Value) -> Value {
    let result = call(client, name, arguments).await;
    assert_eq!(result.is_error, Some(false), "{name}: {result:?}");
    let value = result
        .structured_content
        .clone()
        .expect("structured result");
    // The text block says the same, for clients that read only text.
    let text = result.content[0].as_text().expect("a text block");
    assert_eq!(serde_json::from_str::<Value>(&text.text).unwrap(), value);
    value
}

/// A call that must fail as a tool error: its error object.
async fn refused(client: &Client, name: &'static str, arguments: Value) -> Value {
    let result = call(client, name, arguments).await;
    assert_eq!(result.is_error, Some(true), "{name}: {result:?}");
    result.structured_content.expect("structured error")["error"].clone()
}

fn tool_names(tools: &[rmcp::model::Tool]) -> Vec<String> {
    tools.iter().map(|t| t.name.to_string()).collect()
}

const ALL_TOOLS: [&str; 26] = [
    "add_task",
    "quick_add",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "uncomplete_task",
    "delete_task",
    "clear_completed",
    "skip_occurrence",
    "list_tags",
    "create_tag",
    "rename_tag",
    "delete_tag",
    "tag_task",
    "untag_task",
    "set_reminder",
    "cancel_reminder",
    "list_reminders",
    "activity_log",
    "list_webhooks",
    "add_webhook",
    "update_webhook",
    "delete_webhook",
    "test_webhook",
    "webhook_deliveries",
];

#[actix_web::test]
async fn every_protocol_version_gets_the_tools() {
    let app = spawn_app(Backend::Sqlite).await;
    let user = app.signup().await;
    for version in [
        ProtocolVersion::V_2025_03_26,
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
        ProtocolVersion::V_2026_07_28,
    ] {
        let client = connect_on(&app, &user.token, version.clone()).await;
        let info = client.peer_info().expect("server info");
        assert_eq!(info.protocol_version, version);
        let implementation = info.server_info.clone().expect("implementation");
        assert_eq!(implementation.name, "taskstream");
        assert!(info.capabilities.tools.is_some());
        let tools = client.list_all_tools().await.expect("tools/list");
        assert_eq!(tool_names(&tools), ALL_TOOLS, "{version}");
        for tool in &tools {
            assert!(tool.description.as_deref().is_some_and(|d| d.len() > 20));
            assert_eq!(tool.input_schema["type"], "object");
            assert!(!tool.input_schema.contains_key("$ref"));
            assert!(
                !Value::Object((*tool.input_schema).clone())
                    .to_string()
                    .contains("$ref")
            );
        }
        // A call works on every version.
        let task = ok(
            &client,
            "add_task",
            json!({"title": format!("on {version}")}),
        )
        .await;
        assert_eq!(task["title"], format!("on {version}"));
        client.cancel().await.expect("closes");
    }
    let page = app.get("/api/v1/tasks", &user.token).await.expect(200);
    assert_eq!(page.body["total"], 4);
}

#[apply(backends)]
#[actix_web::test]
async fn the_tools_do_what_rest_does(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let client = connect(&app, &user).await;

    // add, get, list
    let task = ok(
        &client,
        "add_task",
        json!({"title": "Write report", "priority": "high", "tags": ["work"],
               "due_at": "2030-01-07T09:00:00Z"}),
    )
    .await;
    let id = task["id"].as_str().unwrap().to_owned();
    assert_eq!(task["version"], 1);
    assert_eq!(task["tags"], json!(["work"]));
    let rest = app
        .get(&format!("/api/v1/tasks/{id}"), &user.token)
        .await
        .expect(200);
    assert_eq!(
        rest.body,
        ok(&client, "get_task", json!({"task_id": id})).await
    );
    ok(
        &client,
        "add_task",
        json!({"title": "Buy milk", "priority": "low"}),
    )
    .await;
    let page = ok(
        &client,
        "list_tasks",
        json!({"priority": "high,urgent", "limit": 10}),
    )
    .await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id.as_str());
    let page = ok(&client, "list_tasks", json!({"search": "milk"})).await;
    assert_eq!(page["items"][0]["title"], "Buy milk");

    // update, with and without a stale version
    let updated = ok(
        &client,
        "update_task",
        json!({"task_id": id, "expected_version": 1, "title": "Write the report", "description": "by Friday"}),
    )
    .await;
    assert_eq!(
        (updated["title"].as_str(), updated["version"].as_i64()),
        (Some("Write the report"), Some(2))
    );
    assert_eq!(
        updated["priority"], "high",
        "fields not given keep their value"
    );
    let stale = refused(
        &client,
        "update_task",
        json!({"task_id": id, "expected_version": 1, "title": "x"}),
    )
    .await;
    assert_eq!(stale["code"], "precondition_failed");
    assert_eq!(stale["details"]["current_version"], 2);
    let cleared = ok(
        &client,
        "update_task",
        json!({"task_id": id, "description": null}),
    )
    .await;
    assert!(cleared["description"].is_null());

    // bad input names the field, as REST does
    let bad = refused(
        &client,
        "add_task",
        json!({"title": "", "priority": "soon"}),
    )
    .await;
    assert_eq!(bad["code"], "validation_failed");
    let rest_bad = app
        .post(
            "/api/v1/tasks",
            &user.token,
            json!({"title": "", "priority": "soon"}),
        )
        .await
        .expect(422);
    assert_eq!(bad, rest_bad.body["error"], "the same error either way");
    let unknown = refused(&client, "get_task", json!({"task_id": id, "verbose": true})).await;
    assert!(unknown["details"]["verbose"].is_string(), "{unknown}");
    let missing = refused(&client, "get_task", json!({})).await;
    assert!(missing["details"]["task_id"].is_string(), "{missing}");
    let typed = refused(&client, "list_tasks", json!({"limit": "many"})).await;
    assert!(typed["details"]["limit"].is_string(), "{typed}");
    let nowhere = refused(
        &client,
        "get_task",
        json!({"task_id": uuid::Uuid::now_v7().to_string()}),
    )
    .await;
    assert_eq!(nowhere["code"], "not_found");

    // tags
    let tagged = ok(
        &client,
        "tag_task",
        json!({"task_id": id, "tag": "urgent-ish"}),
    )
    .await;
    assert_eq!(tagged["tags"], json!(["urgent-ish", "work"]));
    let tags = ok(&client, "list_tags", json!({})).await["tags"].clone();
    assert_eq!(tags.as_array().unwrap().len(), 2);
    let work = tags
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "work")
        .unwrap()
        .clone();
    let untagged = ok(
        &client,
        "untag_task",
        json!({"task_id": id, "tag_id": work["id"]}),
    )
    .await;
    assert_eq!(untagged["tags"], json!(["urgent-ish"]));
    let home = ok(
        &client,
        "create_tag",
        json!({"name": "home", "color": "#00aa00"}),
    )
    .await;
    let taken = refused(&client, "create_tag", json!({"name": "HOME"})).await;
    assert_eq!(
        taken["code"],
        rest_code(&app, &user, "/api/v1/tags", json!({"name": "Home"})).await
    );
    let renamed = ok(
        &client,
        "rename_tag",
        json!({"tag_id": home["id"], "name": "house"}),
    )
    .await;
    assert_eq!(renamed["name"], "house");
    assert_eq!(
        ok(&client, "delete_tag", json!({"tag_id": home["id"]})).await["deleted"],
        home["id"]
    );
    assert_eq!(
        refused(&client, "delete_tag", json!({"tag_id": home["id"]})).await["code"],
        "not_found"
    );

    // reminders
    let reminder = ok(
        &client,
        "set_reminder",
        json!({"task_id": id, "offset_minutes": 30}),
    )
    .await;
    assert_eq!(reminder["state"], "pending");
    assert_eq!(reminder["remind_at"], "2030-01-07T08:30:00Z");
    let both = refused(
        &client,
        "set_reminder",
        json!({"task_id": id, "offset_minutes": 30, "remind_at": "2030-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(both["code"], "validation_failed");
    let pending = ok(&client, "list_reminders", json!({"state": "pending"})).await;
    assert_eq!(pending["reminders"].as_array().unwrap().len(), 1);
    ok(&client, "cancel_reminder", json!({"task_id": id})).await;
    let pending = ok(&client, "list_reminders", json!({"state": "pending"})).await;
    assert_eq!(pending["reminders"], json!([]));

    // recurrence: completing creates the next occurrence; skipping moves it
    let weekly = ok(
        &client,
        "add_task",
        json!({"title": "Team meeting", "due_at": "2030-01-07T10:00:00Z", "recurrence_pattern": "weekly"}),
    )
    .await;
    let skipped = ok(&client, "skip_occurrence", json!({"task_id": weekly["id"]})).await;
    assert_eq!(skipped["due_at"], "2030-01-14T10:00:00Z");
    let done = ok(&client, "complete_task", json!({"task_id": weekly["id"]})).await;
    assert_eq!(done["completed"], true);
    let next = wait_for_successor(&client, "Team meeting").await;
    assert_eq!(next["due_at"], "2030-01-21T10:00:00Z");
    let reopened = ok(&client, "uncomplete_task", json!({"task_id": weekly["id"]})).await;
    assert_eq!(reopened["completed"], false);
    let once = refused(&client, "skip_occurrence", json!({"task_id": id})).await;
    assert_eq!(once["code"], "not_recurring");

    // delete and clear
    ok(&client, "complete_task", json!({"task_id": weekly["id"]})).await;
    let cleared = ok(&client, "clear_completed", json!({})).await;
    assert_eq!(cleared["deleted"], 1);
    let gone = ok(
        &client,
        "delete_task",
        json!({"task_id": id, "expected_version": cleared_version(&client, &id).await}),
    )
    .await;
    assert_eq!(gone["id"], id.as_str());
    assert_eq!(
        refused(&client, "get_task", json!({"task_id": id})).await["code"],
        "not_found"
    );

    // everything is in the activity log, newest first
    let activity = ok(&client, "activity_log", json!({"limit": 100})).await;
    let kinds: Vec<&str> = activity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds.first(), Some(&"task.deleted"), "{kinds:?}");
    for kind in [
        "task.created",
        "task.updated",
        "task.completed",
        "reminder.scheduled",
        "reminder.cancelled",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    client.cancel().await.unwrap();
}

async fn rest_code(app: &TestApp, user: &TestUser, path: &str, body: Value) -> String {
    let res = app.post(path, &user.token, body).await;
    res.code().to_owned()
}

async fn cleared_version(client: &Client, id: &str) -> i64 {
    ok(client, "get_task", json!({"task_id": id})).await["version"]
        .as_i64()
        .unwrap()
}

/// The open task called `title` that a completion created.
async fn wait_for_successor(client: &Client, title: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let page = ok(
            client,
            "list_tasks",
            json!({"search": title, "status": "pending"}),
        )
        .await;
        if let Some(task) = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| !t["parent_task_id"].is_null())
        {
            return task.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no successor of {title}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An event with the fields that differ between two equal changes (ids,
/// times, sequence numbers, traces) taken out.
fn shape(event: &Value) -> Value {
    let mut event = event.clone();
    for key in [
        "id",
        "time",
        "subject",
        "traceid",
        "traceparent",
        "sequence",
    ] {
        event.as_object_mut().unwrap().remove(key);
    }
    let data = event["data"].as_object_mut().unwrap();
    for key in ["seq", "task_id", "timestamp"] {
        data.remove(key);
    }
    if let Some(task) = data.get_mut("task_data").and_then(Value::as_object_mut) {
        for key in ["id", "created_at", "updated_at"] {
            task.remove(key);
        }
    }
    event
}

#[apply(backends)]
#[actix_web::test]
async fn a_change_through_mcp_is_published_as_through_rest(#[case] backend: Backend) {
    let sidecar = Sidecar::start().await;
    let app = spawn_app_with(backend, dapr_on(&sidecar)).await;
    let user = app.signup().await;
    let mut ws = Ws::connect(&app, &user, "").await;
    let body = json!({"title": "Same either way", "priority": "medium", "tags": ["x"]});

    let rest = app
        .post("/api/v1/tasks", &user.token, body.clone())
        .await
        .expect(201);
    let transport = transport(&app, &user.token, &[("x-request-id", "mcp-call-1")]);
    let client = client_config(ProtocolVersion::V_2025_06_18)
        .serve(transport)
        .await
        .unwrap();
    let mcp = ok(&client, "add_task", body).await;

    let events = sidecar.wait_for("task-events", 2, WAIT).await;
    let updates = sidecar.wait_for("task-updates", 2, WAIT).await;
    let activity = sidecar.wait_for("activity-logs", 2, WAIT).await;
    for published in [&events, &updates, &activity] {
        assert_eq!(published.len(), 2);
        assert_eq!(published[0].body["subject"], rest.body["id"]);
        assert_eq!(published[1].body["subject"], mcp["id"]);
        assert_eq!(shape(&published[0].body), shape(&published[1].body));
        assert_eq!(published[0].query, published[1].query, "same partition key");
    }
    // The MCP call's request id is the event's trace id.
    assert_eq!(events[1].body["traceid"], "mcp-call-1");

    // Local WebSocket sessions get both alike.
    let first = ws.next_of("event").await;
    let second = ws.next_of("event").await;
    assert_eq!(first["task"]["id"], rest.body["id"], "{first}");
    assert_eq!(second["task"]["id"], mcp["id"], "{second}");
    let keys = |m: &Value| m.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&first), keys(&second));
    client.cancel().await.unwrap();
}

#[apply(backends)]
#[actix_web::test]
async fn a_read_token_sees_and_calls_only_reading_tools(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "mine"})).await;
    let read = app
        .post(
            "/api/auth/tokens",
            &user.token,
            json!({"name": "assistant", "scope": "read"}),
        )
        .await
        .expect(201);
    let secret = read.body["secret"].as_str().unwrap();
    let client = connect_on(&app, secret, ProtocolVersion::V_2025_11_25).await;
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(
        tool_names(&tools),
        [
            "list_tasks",
            "get_task",
            "list_tags",
            "list_reminders",
            "activity_log",
            "list_webhooks",
            "webhook_deliveries"
        ]
    );
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().unwrap().read_only_hint == Some(true))
    );
    let page = ok(&client, "list_tasks", json!({})).await;
    assert_eq!(page["total"], 1);
    // Calling a changing tool anyway is refused, and changes nothing.
    let denied = refused(&client, "complete_task", json!({"task_id": task["id"]})).await;
    assert_eq!(denied["code"], "forbidden");
    let denied = refused(&client, "add_task", json!({"title": "no"})).await;
    assert_eq!(denied["code"], "forbidden");
    let page = app.get("/api/v1/tasks", &user.token).await.expect(200);
    assert_eq!(page.body["total"], 1);
    assert_eq!(page.body["items"][0]["completed"], false);

    // A write token gets every tool; revoked, it gets nothing.
    let write = app
        .post(
            "/api/auth/tokens",
            &user.token,
            json!({"name": "rw", "scope": "write"}),
        )
        .await
        .expect(201);
    let client = connect_on(
        &app,
        write.body["secret"].as_str().unwrap(),
        ProtocolVersion::V_2025_11_25,
    )
    .await;
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        ALL_TOOLS.len()
    );
    ok(&client, "complete_task", json!({"task_id": task["id"]})).await;
    app.delete(
        &format!("/api/auth/tokens/{}", write.body["id"].as_str().unwrap()),
        &user.token,
    )
    .await
    .expect(204);
    assert!(
        client.list_all_tools().await.is_err(),
        "a revoked token is refused"
    );
}

#[apply(backends)]
#[actix_web::test]
async fn quick_add_reads_a_line_and_creates_the_task(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let client = connect(&app, &user).await;
    let text = "Submit report by friday 5pm #work p2 remind me 1 hour before";

    let only = ok(&client, "quick_add", json!({"text": text, "create": false})).await;
    assert!(only.get("task").is_none(), "{only}");
    let kinds: Vec<&str> = only["parse"]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["date", "time", "tag", "priority", "reminder"]);
    let page = ok(&client, "list_tasks", json!({})).await;
    assert_eq!(page["total"], 0, "reading creates nothing");

    let created = ok(&client, "quick_add", json!({"text": text})).await;
    let task = &created["task"];
    assert_eq!(task["title"], "Submit report");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["tags"], json!(["work"]));
    assert_eq!(task["reminder_offset_minutes"], 60);
    assert_eq!(task["due_at"], created["parse"]["due_at"]);
    assert_eq!(task["due_at"], only["parse"]["due_at"]);
    let rest = app
        .get(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            &user.token,
        )
        .await
        .expect(200);
    assert_eq!(&rest.body, task);

    // Nothing left for a title: refused as REST refuses it, naming `text`.
    let error = refused(&client, "quick_add", json!({"text": "tomorrow #work"})).await;
    assert_eq!(error["code"], "validation_failed");
    assert!(error["details"]["text"].is_string(), "{error}");
    assert_eq!(ok(&client, "list_tasks", json!({})).await["total"], 1);
}

#[apply(backends)]
#[actix_web::test]
async fn users_never_reach_each_others_tasks(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let alice = app.signup().await;
    let bob = app.signup().await;
    let task = app.create_task(&alice, json!({"title": "alice's"})).await;
    let client = connect(&app, &bob).await;
    for (tool, args) in [
        ("get_task", json!({"task_id": task["id"]})),
        (
            "update_task",
            json!({"task_id": task["id"], "title": "bob's now"}),
        ),
        ("complete_task", json!({"task_id": task["id"]})),
        ("delete_task", json!({"task_id": task["id"]})),
        (
            "set_reminder",
            json!({"task_id": task["id"], "remind_at": "2031-01-01T00:00:00Z"}),
        ),
    ] {
        assert_eq!(
            refused(&client, tool, args).await["code"],
            "not_found",
            "{tool}"
        );
    }
    assert_eq!(ok(&client, "list_tasks", json!({})).await["total"], 0);
    let untouched = app
        .get(
            &format!("/api/v1/tasks/{}", task["id"].as_str().unwrap()),
            &alice.token,
        )
        .await
        .expect(200);
    assert_eq!(untouched.body["version"], 1);
}

/// One raw JSON-RPC message to `/mcp`.
async fn post_raw(
    app: &TestApp,
    headers: &[(&str, &str)],
) -> (u16, awc::http::header::HeaderMap, Value) {
    let mut request = app.client.post(app.url("/mcp"));
    request = request
        .insert_header(("content-type", "application/json"))
        .insert_header(("accept", "application/json, text/event-stream"));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let mut res = request.send_json(&message).await.unwrap();
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, res.headers().clone(), body)
}

#[apply(backends)]
#[actix_web::test]
async fn the_endpoint_is_guarded_like_the_api(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let bearer = format!("Bearer {}", user.token);

    // No token: 401 pointing at the protected-resource metadata.
    let (status, headers, body) = post_raw(&app, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let challenge = headers.get("www-authenticate").unwrap().to_str().unwrap();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource", app.address);
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );
    for url in [metadata_url.clone(), format!("{metadata_url}/mcp")] {
        let mut res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let metadata: Value = res.json().await.unwrap();
        assert_eq!(metadata["resource"], app.url("/mcp"));
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
        assert!(
            metadata.get("authorization_servers").is_none(),
            "none configured"
        );
    }
    // A forged token too.
    let (status, _, _) = post_raw(&app, &[("authorization", "Bearer not-a-token")]).await;
    assert_eq!(status, 401);

    // With the token it answers.
    let (status, _, body) = post_raw(&app, &[("authorization", &bearer)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["serverInfo"]["name"], "taskstream");

    // A page from another origin is refused; the service's own is not.
    let (status, _, body) = post_raw(
        &app,
        &[
            ("authorization", &bearer),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let own = app.address.clone();
    let (status, _, _) = post_raw(&app, &[("authorization", &bearer), ("origin", &own)]).await;
    assert_eq!(status, 200);

    // A name the service is not known by (DNS rebinding) is refused.
    let (status, _, _) = post_raw(
        &app,
        &[("authorization", &bearer), ("host", "attacker.example")],
    )
    .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn a_configured_public_url_and_identity_provider_are_published() {
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |s| {
        s.public_url = "https://tasks.example.com/".into();
        s.oauth_authorization_servers = "https://id.example.com".into();
    })
    .await;
    let (status, headers, _) = post_raw(&app, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        headers.get("www-authenticate").unwrap(),
        "Bearer resource_metadata=\"https://tasks.example.com/.well-known/oauth-protected-resource\""
    );
    let metadata = app
        .get("/.well-known/oauth-protected-resource", "")
        .await
        .expect(200)
        .body;
    assert_eq!(metadata["resource"], "https://tasks.example.com/mcp");
    assert_eq!(
        metadata["authorization_servers"],
        json!(["https://id.example.com"])
    );
    // The public name is accepted as a Host, an unknown one still is not.
    let user = app.signup().await;
    let bearer = format!("Bearer {}", user.token);
    let (status, _, _) = post_raw(
        &app,
        &[("authorization", &bearer), ("host", "tasks.example.com")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = post_raw(
        &app,
        &[("authorization", &bearer), ("host", "other.example.com")],
    )
    .await;
    assert_eq!(status, 403);
    // So is a page from the public origin.
    let (status, _, _) = post_raw(
        &app,
        &[
            ("authorization", &bearer),
            ("origin", "https://tasks.example.com"),
        ],
    )
    .await;
    assert_eq!(status, 200);
}

/// Webhooks through the tools: the same endpoints, deliveries and refusals
/// as through REST.
#[apply(backends)]
#[actix_web::test]
async fn an_assistant_manages_webhooks(#[case] backend: Backend) {
    use crate::support::webhooks::Receiver;
    let app = crate::helpers::spawn_app_with(backend, crate::webhooks::webhooks_on).await;
    let user = app.signup().await;
    let client = connect(&app, &user).await;
    let receiver = Receiver::start().await;
    let created = ok(
        &client,
        "add_webhook",
        json!({"url": receiver.url(), "event_types": ["task.*"], "description": "from the assistant"}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    receiver.verify_with(&[secret]);
    let id = created["id"].as_str().unwrap().to_owned();
    ok(&client, "add_task", json!({"title": "hooked"})).await;
    let delivered = receiver
        .wait_for(1, std::time::Duration::from_secs(20))
        .await;
    assert_eq!(delivered[0].event_type(), "task.created");
    assert_eq!(delivered[0].verified_by, [0]);
    let tested = ok(&client, "test_webhook", json!({"webhook_id": id})).await;
    assert_eq!(tested["status"], 204);
    // Deliveries are recorded within a fraction of a second.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let kinds = loop {
        let attempts = ok(
            &client,
            "webhook_deliveries",
            json!({"webhook_id": id, "limit": 10}),
        )
        .await;
        let kinds: Vec<String> = attempts["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["event_type"].as_str().unwrap().to_owned())
            .collect();
        if kinds.len() >= 2 || tokio::time::Instant::now() > deadline {
            break kinds;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(kinds, ["webhook.test", "task.created"], "newest first");
    let listed = ok(&client, "list_webhooks", json!({})).await;
    assert_eq!(listed["webhooks"][0]["id"], id.as_str());
    assert_eq!(listed["webhooks"][0]["delivered_seq"], 1);
    assert!(listed["webhooks"][0].get("secret").is_none());
    let rest = app.get("/api/v1/webhooks", &user.token).await.expect(200);
    assert_eq!(rest.body, listed["webhooks"]);
    let paused = ok(
        &client,
        "update_webhook",
        json!({"webhook_id": id, "enabled": false}),
    )
    .await;
    assert_eq!(paused["enabled"], false);
    let bad = refused(
        &client,
        "add_webhook",
        json!({"url": "http://10.0.0.1/hook"}),
    )
    .await;
    assert_eq!(bad["code"], "validation_failed");
    assert!(bad["details"]["url"].is_string(), "{bad}");
    let deleted = ok(&client, "delete_webhook", json!({"webhook_id": id})).await;
    assert_eq!(deleted["deleted"], id.as_str());
    let gone = refused(&client, "test_webhook", json!({"webhook_id": id})).await;
    assert_eq!(gone["code"], "not_found");
}
