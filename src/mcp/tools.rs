//! The tools: what an assistant can do, each one service call. A change made
//! through a tool is the same use case as through REST, so it records the
//! same events, reminders and activity; a refusal carries the same `code`
//! and field details.

use std::sync::{Arc, LazyLock};

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::schema::{self, extended, fields, named, params};
use crate::domain::json;
use crate::domain::query::TaskListParams;
use crate::domain::task::TaskId;
use crate::domain::user::UserId;
use crate::error::AppError;
use crate::events::Trace;
use crate::service::activity::{self, ActivityParams};
use crate::service::reminders::{self, ReminderListParams};
use crate::service::webhooks::{self, AttemptsQuery};
use crate::service::{Context, tags, tasks};

/// Whether a tool only reads, or may change the user's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// One tool as offered, and what a caller needs to use it.
pub struct Entry {
    pub tool: Tool,
    pub access: Access,
}

/// How a changing tool behaves, for the assistant's client: whether it may
/// destroy something, whether repeating it changes nothing more.
#[derive(Clone, Copy)]
enum Effect {
    Reads,
    Adds,
    Changes { idempotent: bool },
    Destroys { idempotent: bool },
}

fn entry(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    effect: Effect,
    input: Value,
    output: Value,
) -> Entry {
    let annotations = ToolAnnotations::with_title(title).open_world(false);
    let (annotations, access) = match effect {
        Effect::Reads => (annotations.read_only(true), Access::Read),
        Effect::Adds => (
            annotations
                .read_only(false)
                .destructive(false)
                .idempotent(false),
            Access::Write,
        ),
        Effect::Changes { idempotent } => (
            annotations
                .read_only(false)
                .destructive(false)
                .idempotent(idempotent),
            Access::Write,
        ),
        Effect::Destroys { idempotent } => (
            annotations
                .read_only(false)
                .destructive(true)
                .idempotent(idempotent),
            Access::Write,
        ),
    };
    // The tool's description says what its input is; the REST body's own
    // description would only confuse.
    let mut input = input;
    if let Some(map) = input.as_object_mut() {
        map.remove("description");
    }
    let tool = Tool::new(name, description, object(schema::compact(&input, true)))
        .with_title(title)
        .with_raw_output_schema(object(schema::compact(&output, false)))
        .with_annotations(annotations);
    Entry { tool, access }
}

fn object(value: Value) -> Arc<JsonObject> {
    Arc::new(match value {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    })
}

fn task_id_schema() -> Value {
    json!({"type": "string", "format": "uuid", "description": "the task's id"})
}

fn tag_id_schema() -> Value {
    json!({"type": "string", "format": "uuid", "description": "the tag's id (see list_tags)"})
}

fn expected_version_schema() -> Value {
    json!({
        "type": "integer", "minimum": 1,
        "description": "the task's version this change is based on; if the task has changed since, \
            nothing happens and the error `precondition_failed` gives the current version"
    })
}

fn list_of(key: &str, item: &str) -> Value {
    fields(&[(key, json!({"type": "array", "items": named(item)}), true)])
}

/// Every tool, in the order they are listed.
pub fn catalog() -> &'static [Entry] {
    static CATALOG: LazyLock<Vec<Entry>> = LazyLock::new(build);
    &CATALOG
}

/// The tool called `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    catalog().iter().find(|e| e.tool.name == name)
}

fn build() -> Vec<Entry> {
    use Effect::{Adds, Changes, Destroys, Reads};
    let task_ref = || fields(&[("task_id", task_id_schema(), true)]);
    let task = || named("Task");
    vec![
        entry(
            "add_task",
            "Add a task",
            "Create a task. Only `title` is required. Times are RFC 3339 with an offset; a bare date \
             (where allowed) is read in the user's time zone. `recurrence_pattern` is daily, weekly, \
             weekdays, monthly, yearly or an RFC 5545 RRULE; `reminder_offset_minutes` reminds that long \
             before `due_at`. Tags are created as needed.",
            Adds,
            named("TaskInput"),
            task(),
        ),
        entry(
            "quick_add",
            "Quick add a task",
            "Create a task from one line of English, read in the user's time zone, e.g. \
             `high priority weekly meeting for Monday 10 AM #work remind me 30 min before`. \
             It reads dates (today, tomorrow, friday, next monday, in 3 days, Dec 3, 2026-12-03, end \
             of month), times (10am, 17:00, at 5, noon, evening), recurrence (daily, every weekday, \
             every mon and wed, every 2 weeks, every 15th, every! 3 days, until Dec 31, for 5 times), \
             priority (p1-p4, urgent, high priority), tags (#work, @home) and reminders (remind me \
             30 min before, remind me at 9am); the rest is the title. Text in double quotes is kept \
             as written. `parse.parts` says what was read where; `parse.notes` what could not apply. \
             With `create: false` nothing is created: use it to check the reading first.",
            Adds,
            named("QuickAddInput"),
            named("QuickAddResult"),
        ),
        entry(
            "list_tasks",
            "List tasks",
            "List the user's tasks, newest first unless sorted otherwise, one page at a time \
             (`limit`, `offset`; `total` counts every match). Filters combine: text search, \
             status, priorities, tags (all must match) and a due-date range.",
            Reads,
            params::<TaskListParams>(),
            named("TaskPage"),
        ),
        entry(
            "get_task",
            "Get a task",
            "One task by id, with its current `version`.",
            Reads,
            task_ref(),
            task(),
        ),
        entry(
            "update_task",
            "Update a task",
            "Change some fields of a task; fields not given keep their value, and `null` clears \
             an optional one. Give `expected_version` (the `version` you read) so a change made \
             meanwhile is not overwritten.",
            Changes { idempotent: true },
            extended(
                &[
                    ("task_id", task_id_schema(), true),
                    ("expected_version", expected_version_schema(), false),
                ],
                named("TaskPatch"),
            ),
            task(),
        ),
        entry(
            "complete_task",
            "Complete a task",
            "Mark a task done. A recurring task's next occurrence is created as a new task whose \
             `parent_task_id` is this task's id. Completing a completed task changes nothing.",
            Changes { idempotent: true },
            task_ref(),
            task(),
        ),
        entry(
            "uncomplete_task",
            "Reopen a task",
            "Mark a completed task as not done; an open task is left as it is.",
            Changes { idempotent: true },
            task_ref(),
            task(),
        ),
        entry(
            "delete_task",
            "Delete a task",
            "Delete a task for good (its reminder too). Returns the task as it was.",
            Destroys { idempotent: true },
            fields(&[
                ("task_id", task_id_schema(), true),
                ("expected_version", expected_version_schema(), false),
            ]),
            task(),
        ),
        entry(
            "clear_completed",
            "Delete completed tasks",
            "Delete all of the user's completed tasks; returns how many.",
            Destroys { idempotent: true },
            fields(&[]),
            fields(&[("deleted", json!({"type": "integer", "minimum": 0}), true)]),
        ),
        entry(
            "skip_occurrence",
            "Skip an occurrence",
            "Move a recurring task's due date to its following occurrence without completing it.",
            Changes { idempotent: false },
            task_ref(),
            task(),
        ),
        entry(
            "list_tags",
            "List tags",
            "The user's tags, with how many tasks carry each.",
            Reads,
            fields(&[]),
            list_of("tags", "Tag"),
        ),
        entry(
            "create_tag",
            "Create a tag",
            "Create a tag (names are unique per user, ignoring case), optionally with a colour.",
            Adds,
            named("TagInput"),
            named("Tag"),
        ),
        entry(
            "rename_tag",
            "Rename or recolour a tag",
            "Rename or recolour a tag; every task carrying it is updated.",
            Changes { idempotent: true },
            extended(&[("tag_id", tag_id_schema(), true)], named("TagInput")),
            named("Tag"),
        ),
        entry(
            "delete_tag",
            "Delete a tag",
            "Delete a tag and remove it from every task carrying it.",
            Destroys { idempotent: false },
            fields(&[("tag_id", tag_id_schema(), true)]),
            fields(&[("deleted", tag_id_schema(), true)]),
        ),
        entry(
            "tag_task",
            "Tag a task",
            "Attach a tag to a task by name (the tag is created if the user has none of that name).",
            Changes { idempotent: true },
            extended(&[("task_id", task_id_schema(), true)], named("TagRef")),
            task(),
        ),
        entry(
            "untag_task",
            "Untag a task",
            "Remove a tag from a task.",
            Changes { idempotent: true },
            fields(&[
                ("task_id", task_id_schema(), true),
                ("tag_id", tag_id_schema(), true),
            ]),
            task(),
        ),
        entry(
            "set_reminder",
            "Set a reminder",
            "Remind about a task at `remind_at` (RFC 3339, in the future) or `offset_minutes` \
             before its due date (kept in step when the due date moves). Give exactly one. \
             Replaces the task's pending reminder.",
            Changes { idempotent: true },
            extended(
                &[("task_id", task_id_schema(), true)],
                named("ReminderInput"),
            ),
            named("Reminder"),
        ),
        entry(
            "cancel_reminder",
            "Cancel a reminder",
            "Cancel the task's pending reminder; nothing pending is fine.",
            Changes { idempotent: true },
            task_ref(),
            fields(&[("cancelled", task_id_schema(), true)]),
        ),
        entry(
            "list_reminders",
            "List reminders",
            "The user's reminders, optionally only those in one state.",
            Reads,
            params::<ReminderListParams>(),
            list_of("reminders", "Reminder"),
        ),
        entry(
            "activity_log",
            "Activity log",
            "What happened to the user's tasks, newest first: every change, by any client.",
            Reads,
            params::<ActivityParams>(),
            named("ActivityPage"),
        ),
        entry(
            "list_webhooks",
            "List webhooks",
            "The user's webhook endpoints: where their events are POSTed as signed CloudEvents, \
             which event types each takes, and whether it is enabled (or why the service disabled it).",
            Reads,
            fields(&[]),
            list_of("webhooks", "Webhook"),
        ),
        entry(
            "add_webhook",
            "Add a webhook",
            "POST the user's events to `url` from now on (`event_types`: types such as \
             task.completed or families such as task.*; none: every type). Returns the signing \
             `secret` (Standard Webhooks) this once.",
            Adds,
            named("WebhookInput"),
            extended(
                &[(
                    "secret",
                    json!({"type": "string", "description": "whsec_…: shown this once"}),
                    true,
                )],
                named("Webhook"),
            ),
        ),
        entry(
            "update_webhook",
            "Update a webhook",
            "Change a webhook's URL, description, event types, or `enabled` (true re-enables a \
             disabled one: delivery resumes where it stopped).",
            Changes { idempotent: true },
            extended(
                &[("webhook_id", webhook_id_schema(), true)],
                named("WebhookPatch"),
            ),
            named("Webhook"),
        ),
        entry(
            "delete_webhook",
            "Delete a webhook",
            "Delete a webhook endpoint; nothing more is delivered to it.",
            Destroys { idempotent: false },
            fields(&[("webhook_id", webhook_id_schema(), true)]),
            fields(&[("deleted", webhook_id_schema(), true)]),
        ),
        entry(
            "test_webhook",
            "Test a webhook",
            "Send a `webhook.test` event to the endpoint now and return how it answered.",
            Adds,
            fields(&[("webhook_id", webhook_id_schema(), true)]),
            named("WebhookAttempt"),
        ),
        entry(
            "webhook_deliveries",
            "Webhook deliveries",
            "The endpoint's most recent delivery attempts, newest first: event, HTTP status, \
             latency, error, next retry.",
            Reads,
            extended(
                &[("webhook_id", webhook_id_schema(), true)],
                params::<AttemptsQuery>(),
            ),
            list_of("attempts", "WebhookAttempt"),
        ),
    ]
}

fn webhook_id_schema() -> Value {
    json!({"type": "string", "format": "uuid", "description": "the webhook's id (see list_webhooks)"})
}

/// Runs tool `name` for `user`; the result is the tool's structured output.
pub async fn call(
    ctx: &Context,
    trace: &Trace,
    user: &UserId,
    name: &str,
    arguments: JsonObject,
) -> Result<Value, AppError> {
    let mut args = Args(arguments);
    let value = match name {
        "add_task" => out(tasks::create(ctx, trace, user, args.rest()?).await?)?,
        "quick_add" => out(tasks::quick_add(ctx, trace, user, args.rest()?).await?)?,
        "list_tasks" => out(tasks::list(ctx, user, args.rest()?).await?)?,
        "get_task" => {
            let id = args.task_id()?;
            args.done()?;
            out(tasks::get(ctx, user, id).await?)?
        }
        "update_task" => {
            let id = args.task_id()?;
            let expected = args.optional("expected_version")?;
            let patch = args.rest()?;
            out(tasks::patch(ctx, trace, user, id, patch, expected).await?)?
        }
        "complete_task" => {
            let id = args.task_id()?;
            args.done()?;
            out(tasks::complete(ctx, trace, user, id).await?)?
        }
        "uncomplete_task" => {
            let id = args.task_id()?;
            args.done()?;
            out(tasks::uncomplete(ctx, trace, user, id).await?)?
        }
        "delete_task" => {
            let id = args.task_id()?;
            let expected = args.optional("expected_version")?;
            args.done()?;
            out(tasks::delete(ctx, trace, user, id, expected).await?)?
        }
        "clear_completed" => {
            args.done()?;
            json!({ "deleted": tasks::clear_completed(ctx, trace, user).await? })
        }
        "skip_occurrence" => {
            let id = args.task_id()?;
            args.done()?;
            out(tasks::skip_occurrence(ctx, trace, user, id).await?)?
        }
        "list_tags" => {
            args.done()?;
            json!({ "tags": tags::list(ctx, user).await? })
        }
        "create_tag" => out(tags::create(ctx, user, args.rest()?).await?)?,
        "rename_tag" => {
            let tag_id: String = args.required("tag_id")?;
            out(tags::update(ctx, trace, user, &tag_id, args.rest()?).await?)?
        }
        "delete_tag" => {
            let tag_id: String = args.required("tag_id")?;
            args.done()?;
            tags::delete(ctx, trace, user, &tag_id).await?;
            json!({ "deleted": tag_id })
        }
        "tag_task" => {
            let id = args.task_id()?;
            let tag: tasks::TagRef = args.rest()?;
            out(tasks::add_tag(ctx, trace, user, id, &tag.tag).await?)?
        }
        "untag_task" => {
            let id = args.task_id()?;
            let tag_id: String = args.required("tag_id")?;
            args.done()?;
            out(tasks::remove_tag(ctx, trace, user, id, &tag_id).await?)?
        }
        "set_reminder" => {
            let id = args.task_id()?;
            out(reminders::set(ctx, trace, user, id, args.rest()?).await?)?
        }
        "cancel_reminder" => {
            let id = args.task_id()?;
            args.done()?;
            reminders::remove(ctx, trace, user, id).await?;
            json!({ "cancelled": id.to_string() })
        }
        "list_reminders" => json!({ "reminders": reminders::list(ctx, user, args.rest()?).await? }),
        "activity_log" => out(activity::list(ctx, user, args.rest()?).await?)?,
        "list_webhooks" => {
            args.done()?;
            json!({ "webhooks": webhooks::list(ctx, user).await? })
        }
        "add_webhook" => out(webhooks::create(ctx, user, args.rest()?).await?)?,
        "update_webhook" => {
            let id = args.webhook_id()?;
            out(webhooks::update(ctx, user, id, args.rest()?).await?)?
        }
        "delete_webhook" => {
            let id = args.webhook_id()?;
            args.done()?;
            webhooks::delete(ctx, user, id).await?;
            json!({ "deleted": id.to_string() })
        }
        "test_webhook" => {
            let id = args.webhook_id()?;
            args.done()?;
            out(webhooks::test(ctx, user, id).await?)?
        }
        "webhook_deliveries" => {
            let id = args.webhook_id()?;
            json!({ "attempts": webhooks::attempts(ctx, user, id, args.rest()?).await? })
        }
        other => {
            return Err(AppError::invalid(
                "name",
                format!("no tool is called {other:?}"),
            ));
        }
    };
    Ok(value)
}

fn out<T: serde::Serialize>(value: T) -> Result<Value, AppError> {
    serde_json::to_value(value).map_err(AppError::internal)
}

/// A tool's arguments, taken apart field by field; every error names the
/// argument, as REST's would name the body field.
struct Args(Map<String, Value>);

impl Args {
    fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Result<Option<T>, AppError> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => json::from_value(value)
                .map(Some)
                .map_err(|err| renamed(err, name)),
        }
    }

    fn required<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, AppError> {
        self.optional(name)?
            .ok_or_else(|| AppError::invalid(name, format!("missing field `{name}`")))
    }

    fn task_id(&mut self) -> Result<TaskId, AppError> {
        let raw: String = self.required("task_id")?;
        TaskId::parse(&raw)
            .ok_or_else(|| AppError::invalid("task_id", "must be a task id (a UUID)"))
    }

    fn webhook_id(&mut self) -> Result<uuid::Uuid, AppError> {
        let raw: String = self.required("webhook_id")?;
        uuid::Uuid::parse_str(&raw)
            .map_err(|_| AppError::invalid("webhook_id", "must be a webhook id (a UUID)"))
    }

    /// The remaining arguments, as one input struct.
    fn rest<T: DeserializeOwned>(self) -> Result<T, AppError> {
        json::from_value(Value::Object(self.0)).map_err(|err| renamed(err, "arguments"))
    }

    /// Refuses any argument left over.
    fn done(self) -> Result<(), AppError> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(name) => Err(AppError::invalid(
                name.clone(),
                "unknown field: not an argument of this tool",
            )),
        }
    }
}

/// A field error from a value read on its own, named after the argument it
/// came from (serde calls the top level `body`).
fn renamed(err: AppError, name: &str) -> AppError {
    match err {
        AppError::Validation(fields) => AppError::Validation(
            fields
                .into_iter()
                .map(|(field, why)| match field.as_str() {
                    "body" => (name.to_owned(), why),
                    _ if name == "arguments" => (field, why),
                    _ => (format!("{name}.{field}"), why),
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_an_object_result() {
        for entry in catalog() {
            let tool = &entry.tool;
            assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
            let output = tool.output_schema.as_ref().expect("output schema");
            assert_eq!(output["type"], "object", "{}", tool.name);
            let annotations = tool.annotations.as_ref().expect("annotations");
            assert_eq!(
                annotations.read_only_hint == Some(true),
                entry.access == Access::Read,
                "{}",
                tool.name
            );
        }
        assert_eq!(catalog().len(), 26);
    }

    #[test]
    fn changing_a_task_takes_its_id_and_the_patch_fields() {
        let update = &find("update_task").expect("update_task").tool;
        let properties = update.input_schema["properties"]
            .as_object()
            .expect("props");
        for name in ["task_id", "expected_version", "title", "due_at", "tags"] {
            assert!(properties.contains_key(name), "{name}");
        }
        assert_eq!(update.input_schema["required"], json!(["task_id"]));
    }

    #[test]
    fn arguments_are_named_in_errors() {
        let mut args = Args(
            json!({"task_id": "nope", "expected_version": "x", "extra": 1})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let field = |e: AppError| match e {
            AppError::Validation(f) => f.into_keys().collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(args.task_id().unwrap_err()), ["task_id"]);
        assert_eq!(
            field(args.optional::<i32>("expected_version").unwrap_err()),
            ["expected_version"]
        );
        assert_eq!(field(args.done().unwrap_err()), ["extra"]);
    }
}
