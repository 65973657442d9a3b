//! Tags: per-user names unique case-insensitively, counts, rename and delete
//! rippling into tasks, attach and detach.

use rstest_reuse::apply;
use serde_json::json;

use crate::backends;
use crate::helpers::{Backend, spawn_app};

#[apply(backends)]
#[actix_web::test]
async fn tags_are_listed_with_counts_and_unique_per_user(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let base = format!("/api/{}/tags", user.id);
    let work = app
        .post(
            &base,
            &user.token,
            json!({"name": "Work", "color": "#FF0000"}),
        )
        .await
        .expect(201);
    assert_eq!(work.body["name"], "Work");
    assert_eq!(work.body["color"], "#ff0000");
    assert_eq!(work.body["task_count"], 0);
    let clash = app
        .post(&base, &user.token, json!({"name": "  wORK "}))
        .await
        .expect(409);
    assert_eq!(clash.code(), "tag_exists");
    app.create_task(&user, json!({"title": "a", "tags": ["work"]}))
        .await;
    app.create_task(&user, json!({"title": "b", "tags": ["WORK", "home"]}))
        .await;
    let list = app.get(&base, &user.token).await.expect(200);
    let got: Vec<(String, i64)> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["task_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("home".to_owned(), 1), ("Work".to_owned(), 2)]);
    // Another user may use the same name.
    let other = app.signup().await;
    app.post(
        &format!("/api/{}/tags", other.id),
        &other.token,
        json!({"name": "work"}),
    )
    .await
    .expect(201);
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(51)}), "name"),
        (json!({"name": "ok", "color": "blue"}), "color"),
        (json!({}), "name"),
    ] {
        let res = app.post(&base, &user.token, body.clone()).await.expect(422);
        assert!(
            res.body["error"]["details"].get(field).is_some(),
            "{body}: {}",
            res.body
        );
    }
}

#[apply(backends)]
#[actix_web::test]
async fn renaming_and_deleting_a_tag_changes_its_tasks(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app
        .create_task(&user, json!({"title": "tagged", "tags": ["old"]}))
        .await;
    let task_path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    let tags = app
        .get(&format!("/api/{}/tags", user.id), &user.token)
        .await
        .expect(200);
    let tag_id = tags.body[0]["id"].as_str().unwrap().to_owned();
    let tag_path = format!("/api/{}/tags/{tag_id}", user.id);
    app.post(
        &format!("/api/{}/tags", user.id),
        &user.token,
        json!({"name": "taken"}),
    )
    .await
    .expect(201);
    app.put(&tag_path, &user.token, json!({"name": "TAKEN"}))
        .await
        .expect(409);
    let renamed = app
        .put(
            &tag_path,
            &user.token,
            json!({"name": "New", "color": "#00ff00"}),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "New");
    assert_eq!(renamed.body["task_count"], 1);
    let now = app.get(&task_path, &user.token).await.expect(200);
    assert_eq!(now.body["tags"], json!(["New"]));
    assert_eq!(
        now.body["version"], 2,
        "a renamed tag is a change of the task"
    );
    let filtered = |tag: &'static str| {
        let app = &app;
        let user = &user;
        async move {
            app.get(&format!("/api/{}/tasks?tags={tag}", user.id), &user.token)
                .await
                .expect(200)
                .body["total"]
                .clone()
        }
    };
    assert_eq!(filtered("new").await, 1, "the filter follows the rename");
    assert_eq!(filtered("old").await, 0);
    // Renaming only the case is allowed (same key, same tag).
    app.put(&tag_path, &user.token, json!({"name": "NEW"}))
        .await
        .expect(200);
    app.delete(&tag_path, &user.token).await.expect(204);
    let now = app.get(&task_path, &user.token).await.expect(200);
    assert_eq!(now.body["tags"], json!([]));
    assert_eq!(now.body["version"], 4);
    assert_eq!(filtered("new").await, 0, "the filter follows the deletion");
    app.delete(&tag_path, &user.token).await.expect(404);
    app.put(&tag_path, &user.token, json!({"name": "ghost"}))
        .await
        .expect(404);
}

#[apply(backends)]
#[actix_web::test]
async fn attaching_and_detaching_tags(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.signup().await;
    let task = app.create_task(&user, json!({"title": "t"})).await;
    let path = format!("/api/{}/tasks/{}", user.id, task["id"].as_str().unwrap());
    let res = app
        .post(
            &format!("{path}/tags"),
            &user.token,
            json!({"tag": "Fresh"}),
        )
        .await
        .expect(200);
    assert_eq!(res.body["tags"], json!(["Fresh"]));
    assert_eq!(res.body["version"], 2);
    // Attaching again (any case) changes nothing.
    let res = app
        .post(
            &format!("{path}/tags"),
            &user.token,
            json!({"tag": "fresh"}),
        )
        .await
        .expect(200);
    assert_eq!(res.body["version"], 2);
    let tags = app
        .get(&format!("/api/{}/tags", user.id), &user.token)
        .await
        .expect(200);
    assert_eq!(
        tags.body.as_array().unwrap().len(),
        1,
        "the tag was created once"
    );
    let tag_id = tags.body[0]["id"].as_str().unwrap().to_owned();
    let res = app
        .delete(&format!("{path}/tags/{tag_id}"), &user.token)
        .await
        .expect(200);
    assert_eq!(res.body["tags"], json!([]));
    assert_eq!(res.body["version"], 3);
    let res = app
        .delete(&format!("{path}/tags/{tag_id}"), &user.token)
        .await
        .expect(200);
    assert_eq!(
        res.body["version"], 3,
        "detaching an absent tag changes nothing"
    );
    app.delete(
        &format!("{path}/tags/{}", uuid::Uuid::now_v7()),
        &user.token,
    )
    .await
    .expect(404);
    app.post(&format!("{path}/tags"), &user.token, json!({"tag": ""}))
        .await
        .expect(422);
    app.post(&format!("{path}/tags"), &user.token, json!({}))
        .await
        .expect(422);
    // At most 20 tags per task.
    for i in 0..20 {
        app.post(
            &format!("{path}/tags"),
            &user.token,
            json!({"tag": format!("t{i}")}),
        )
        .await
        .expect(200);
    }
    let res = app
        .post(
            &format!("{path}/tags"),
            &user.token,
            json!({"tag": "one-too-many"}),
        )
        .await
        .expect(409);
    assert_eq!(res.code(), "too_many_tags");
    assert_eq!(
        app.get(&path, &user.token).await.body["tags"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}
