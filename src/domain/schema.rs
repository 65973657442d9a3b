//! JSON Schemas of the values whose rules the Rust types alone do not carry
//! (lengths, patterns, formats, enums), built from the same constants the
//! validators use. The OpenAPI document refers to them; so can any other
//! protocol that describes its inputs.

use serde_json::json;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::domain;

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// Declares a string schema `$name` with the given builder steps.
macro_rules! string_schema {
    ($(#[$doc:meta])* $name:ident => $build:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let build: fn(ObjectBuilder) -> ObjectBuilder = $build;
                build(string()).into()
            }
        }

        impl ToSchema for $name {}
    };
}

string_schema!(
    /// A task title.
    Title => |s| s
        .min_length(Some(1))
        .max_length(Some(domain::task::MAX_TITLE))
        .pattern(Some(domain::LINE_PATTERN))
        .description(Some(
            "at most 500 characters, not only white space (trimmed), no control characters",
        ))
);

string_schema!(
    /// A quick-add line (`format: quick-add`: words to read, and at least
    /// one that is left for the title).
    QuickAddText => |s| s
        .min_length(Some(1))
        .max_length(Some(domain::quick_add::MAX_TEXT))
        .pattern(Some(domain::LINE_PATTERN))
        .format(Some(utoipa::openapi::SchemaFormat::Custom("quick-add".into())))
        .description(Some(
            "one line of at most 500 characters, no control characters; what is not read as a \
             date, time, recurrence, priority, tag or reminder is the title, which must not be empty",
        ))
);

string_schema!(
    /// A task description.
    Description => |s| s
        .max_length(Some(domain::task::MAX_DESCRIPTION))
        .pattern(Some(domain::TEXT_PATTERN))
        .description(Some(
            "at most 10 000 characters; tabs and line breaks but no other control characters",
        ))
);

string_schema!(
    /// An API token's name.
    TokenName => |s| s
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(domain::LINE_PATTERN))
        .description(Some("at most 100 characters, not only white space, no control characters"))
);

string_schema!(
    /// A webhook receiver's URL (`format: webhook-url`: http(s), a host
    /// outside the service's network unless the operator allows it, no
    /// credentials, no fragment).
    WebhookUrl => |s| s
        .min_length(Some(8))
        .max_length(Some(domain::webhook::MAX_URL))
        .pattern(Some("^https?://[^\\s#@]+$"))
        .format(Some(utoipa::openapi::SchemaFormat::Custom("webhook-url".into())))
        .description(Some(
            "an http or https URL without credentials or fragment, not pointing at a loopback, \
             private, link-local or metadata address (unless allowed by WEBHOOK_ALLOWED_HOSTS)",
        ))
);

string_schema!(
    /// A webhook endpoint's description.
    WebhookDescription => |s| s
        .max_length(Some(domain::webhook::MAX_DESCRIPTION))
        .pattern(Some(domain::NO_CONTROL_PATTERN))
        .description(Some("at most 200 characters, no control characters"))
);

/// An event type or family a webhook endpoint takes.
pub struct EventTypePattern;

impl PartialSchema for EventTypePattern {
    fn schema() -> RefOr<Schema> {
        let mut values: Vec<String> = Vec::new();
        for t in crate::events::EventType::ALL {
            let family = format!("{}.*", t.as_str().split('.').next().unwrap_or_default());
            if !values.contains(&family) {
                values.push(family);
            }
            values.push(t.as_str().to_owned());
        }
        string()
            .enum_values(Some(values))
            .description(Some("an event type, or a family of them such as `task.*`"))
            .into()
    }
}

impl ToSchema for EventTypePattern {}

string_schema!(
    /// A display name.
    DisplayName => |s| s
        .max_length(Some(domain::user::MAX_NAME))
        .pattern(Some(domain::NO_CONTROL_PATTERN))
        .description(Some("at most 100 characters, no control characters; empty: none"))
);

string_schema!(
    /// An e-mail address to sign up with.
    EmailAddress => |s| s
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Email,
        )))
        .max_length(Some(domain::user::MAX_EMAIL))
        .description(Some("an e-mail address with a dot in its domain; unique, case-insensitively"))
);

string_schema!(
    /// A new password.
    NewPassword => |s| s
        .min_length(Some(8))
        .max_length(Some(1024))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Password,
        )))
);

string_schema!(
    /// A tag colour.
    Color => |s| s
        .pattern(Some(domain::tag::COLOR_PATTERN))
        .description(Some("`#rrggbb`"))
);

string_schema!(
    /// Search text.
    SearchText => |s| s
        .max_length(Some(domain::query::MAX_SEARCH))
        .pattern(Some(domain::NO_CONTROL_PATTERN))
);

string_schema!(
    /// A comma-separated list of priorities.
    PriorityList => |s| s.pattern(Some(domain::query::PRIORITY_LIST_PATTERN))
);

string_schema!(
    /// A comma-separated list of tag names.
    TagList => |s| s.pattern(Some(domain::query::TAG_LIST_PATTERN))
);

string_schema!(
    /// The version a change expects.
    EntityTag => |s| s.pattern(Some(domain::task::VERSION_TAG_PATTERN))
);

string_schema!(
    /// A user id (ours are UUIDs; an external identity provider's may be
    /// any URL-safe string).
    UserIdPath => |s| s.pattern(Some("^[A-Za-z0-9._~-]{1,128}$"))
);

/// Declares a string enum schema `$name`.
macro_rules! enum_schema {
    ($(#[$doc:meta])* $name:ident => [$($value:literal),+ $(,)?]) => {
        string_schema!($(#[$doc])* $name => |s| s.enum_values(Some([$($value),+])));
    };
}

enum_schema!(
    /// Which tasks by completion.
    StatusFilter => ["all", "pending", "completed"]
);
enum_schema!(
    /// What a task list is ordered by.
    SortField => ["created_at", "updated_at", "due_at", "priority", "title"]
);
enum_schema!(
    /// Which way.
    SortDirection => ["asc", "desc"]
);
enum_schema!(
    /// Where a reminder stands.
    ReminderState => ["pending", "sent", "cancelled"]
);

/// A tag name.
pub struct TagName;

impl PartialSchema for TagName {
    fn schema() -> RefOr<Schema> {
        string()
            .min_length(Some(1))
            .max_length(Some(domain::tag::MAX_TAG_NAME))
            .pattern(Some(domain::tag::TAG_NAME_PATTERN))
            .description(Some(
                "1-50 characters, no control characters, commas or `|`; \
                 surrounding white space is trimmed",
            ))
            .into()
    }
}

impl ToSchema for TagName {}

/// A recurrence rule.
pub struct RecurrenceRule;

impl PartialSchema for RecurrenceRule {
    fn schema() -> RefOr<Schema> {
        string()
            .format(Some(utoipa::openapi::SchemaFormat::Custom("rrule".into())))
            .max_length(Some(500))
            .description(Some(
                "`daily`, `weekly`, `monthly`, `yearly`, `weekdays`, or an RFC 5545 RRULE \
                 (`FREQ=WEEKLY;BYDAY=MO,WE`, optionally prefixed `RRULE:`), at least hourly",
            ))
            .into()
    }
}

impl ToSchema for RecurrenceRule {}

fn date_time() -> ObjectBuilder {
    string()
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .pattern(Some(domain::time::YEARS_PATTERN))
}

string_schema!(
    /// An RFC 3339 date-time.
    Timestamp => |_| date_time().description(Some(
        "an RFC 3339 date-time such as `2026-05-01T09:00:00Z`, in the years 1000 to 9998",
    ))
);

/// An RFC 3339 date-time, or a calendar date read in the user's zone.
pub struct DateOrDateTime;

impl PartialSchema for DateOrDateTime {
    fn schema() -> RefOr<Schema> {
        let date_time = date_time();
        let date = string()
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Date,
            )))
            .pattern(Some(domain::time::YEARS_PATTERN));
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(date_time)
            .item(date)
            .description(Some(
                "an RFC 3339 date-time, or a `YYYY-MM-DD` date read in the user's time zone \
                 (years 1000 to 9998)",
            ))
            .into()
    }
}

impl ToSchema for DateOrDateTime {}

/// An IANA time zone name.
pub struct TimeZone;

impl PartialSchema for TimeZone {
    fn schema() -> RefOr<Schema> {
        string()
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
            .description(Some("an IANA time zone name such as `Europe/Berlin`"))
            .into()
    }
}

impl ToSchema for TimeZone {}

impl PartialSchema for crate::service::reminders::ReminderInput {
    fn schema() -> RefOr<Schema> {
        let at = json!({
            "type": "object", "additionalProperties": false, "required": ["remind_at"],
            "properties": {
                "remind_at": {"type": "string", "format": "date-time",
                    "pattern": domain::time::YEARS_PATTERN,
                    "description": "an RFC 3339 date-time in the future"},
                "offset_minutes": {"type": "null"},
            },
        });
        let offset = json!({
            "type": "object", "additionalProperties": false, "required": ["offset_minutes"],
            "properties": {
                "offset_minutes": {"type": "integer", "minimum": 0,
                    "maximum": domain::task::MAX_REMINDER_OFFSET,
                    "description": "minutes before the task's due date (kept in step with it)"},
                "remind_at": {"type": "null"},
            },
        });
        let schema = json!({
            "description": "exactly one of `remind_at` and `offset_minutes`",
            "oneOf": [at, offset],
        });
        serde_json::from_value(schema).unwrap_or_default()
    }
}

impl ToSchema for crate::service::reminders::ReminderInput {}

impl PartialSchema for crate::service::webhooks::ReplayInput {
    fn schema() -> RefOr<Schema> {
        let one = json!({
            "type": "object", "additionalProperties": false, "required": ["event_id"],
            "properties": {
                "event_id": {"type": "string", "format": "uuid",
                    "description": "one of the user's events: delivered again, now"},
                "since_seq": {"type": "null"},
            },
        });
        let since = json!({
            "type": "object", "additionalProperties": false, "required": ["since_seq"],
            "properties": {
                "since_seq": {"type": "integer", "minimum": 1,
                    "description": "everything from this sequence number on is delivered again, in order"},
                "event_id": {"type": "null"},
            },
        });
        let schema = json!({
            "description": "exactly one of `event_id` and `since_seq`",
            "oneOf": [one, since],
        });
        serde_json::from_value(schema).unwrap_or_default()
    }
}

impl ToSchema for crate::service::webhooks::ReplayInput {}
