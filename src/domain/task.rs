//! Tasks: the validated fields of a task, the JSON a task is shown as, and the
//! request bodies that create, replace and patch one.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::tag::{TagName, parse_tag_list};
use super::time::{DayEdge, Instant, parse_instant, parse_instant_or_date, rfc3339};
use super::{Problems, fold_case};
use crate::error::AppError;

/// A task id. Any path segment that is not a UUID names no task at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskId(pub Uuid);

impl TaskId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// `None` for anything that is not a UUID: callers answer 404.
    pub fn parse(s: &str) -> Option<Self> {
        Uuid::parse_str(s).ok().map(Self)
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// How urgent a task is; sorts urgent > high > medium > low > none.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 5] = [
        Self::None,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Urgent,
    ];

    /// The stored rank (0 none … 4 urgent), which is also the sort key.
    pub fn rank(self) -> i16 {
        self as i16
    }

    pub fn from_rank(rank: i16) -> Self {
        Self::ALL[usize::try_from(rank).unwrap_or(0).min(4)]
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }
}

impl FromStr for Priority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority {s:?}: use none, low, medium, high or urgent"))
    }
}

/// What the next occurrence of a recurring task counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecurrenceMode {
    /// The next rule instance after the current due date.
    #[default]
    Due,
    /// The first rule instance after the completion time.
    Completion,
}

impl RecurrenceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Due => "due",
            Self::Completion => "completion",
        }
    }
}

impl FromStr for RecurrenceMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "due" => Ok(Self::Due),
            "completion" => Ok(Self::Completion),
            other => Err(format!(
                "unknown recurrence_mode {other:?}: use due or completion"
            )),
        }
    }
}

/// A recurrence rule: a preset (`daily`, `weekly`, `monthly`, `yearly`,
/// `weekdays`) or an RFC 5545 RRULE such as `FREQ=WEEKLY;BYDAY=MO,WE`,
/// validated by the `rrule` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence(String);

const PRESETS: [(&str, &str); 5] = [
    ("daily", "FREQ=DAILY"),
    ("weekly", "FREQ=WEEKLY"),
    ("monthly", "FREQ=MONTHLY"),
    ("yearly", "FREQ=YEARLY"),
    ("weekdays", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"),
];

impl Recurrence {
    pub fn parse(s: &str) -> Result<Self, String> {
        super::no_control_chars(s)?;
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if PRESETS.iter().any(|(name, _)| *name == lower) {
            return Ok(Self(lower));
        }
        if s.len() > 500 {
            return Err("recurrence rules are at most 500 characters".into());
        }
        let rule = s
            .strip_prefix("RRULE:")
            .or_else(|| s.strip_prefix("rrule:"))
            .unwrap_or(s)
            .to_ascii_uppercase();
        let parsed = rule
            .parse::<rrule::RRule<rrule::Unvalidated>>()
            .map_err(|e| {
                format!(
                    "must be daily, weekly, monthly, yearly, weekdays or an RFC 5545 RRULE: {e}"
                )
            })?;
        if matches!(
            parsed.get_freq(),
            rrule::Frequency::Secondly | rrule::Frequency::Minutely
        ) {
            return Err("tasks cannot recur more often than hourly".into());
        }
        // Validated against an early start so that a rule's UNTIL is never
        // "before DTSTART"; the real anchor is each occurrence's due date.
        let start = chrono::DateTime::<Utc>::UNIX_EPOCH.with_timezone(&rrule::Tz::UTC);
        parsed
            .validate(start)
            .map_err(|e| format!("invalid recurrence rule: {e}"))?;
        Ok(Self(rule))
    }

    /// As stored and shown: the preset name or the RRULE without `RRULE:`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The RRULE this stands for (presets expanded).
    pub fn rrule(&self) -> &str {
        PRESETS
            .iter()
            .find(|(name, _)| *name == self.0)
            .map_or(&self.0, |(_, rule)| rule)
    }
}

/// What a version may be asked for with (`If-Match`): `*`, an entity tag
/// `"3"` (weak `W/"3"` too), or a bare version `3`.
pub const VERSION_TAG_PATTERN: &str = r#"^(\*|(W/)?"[0-9]{1,9}"|[0-9]{1,9})$"#;

/// Largest reminder offset: one year, in minutes.
pub const MAX_REMINDER_OFFSET: i32 = 525_600;

/// A task title: at most 500 characters, no control characters, not only
/// white space (which is trimmed).
pub fn parse_title(s: &str) -> Result<String, String> {
    super::no_control_chars(s)?;
    super::at_most(s, MAX_TITLE)?;
    match s.trim() {
        "" => Err("must not be empty".into()),
        t => Ok(t.to_owned()),
    }
}

/// Longest title, in characters.
pub const MAX_TITLE: usize = 500;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;

/// A description: at most 10 000 characters, no control characters but tabs
/// and line breaks; empty means none.
pub fn parse_description(s: &str) -> Result<Option<String>, String> {
    super::no_control_chars_in_text(s)?;
    super::at_most(s, MAX_DESCRIPTION)?;
    Ok((!s.trim().is_empty()).then(|| s.to_owned()))
}

pub fn parse_reminder_offset(m: i64) -> Result<i32, String> {
    i32::try_from(m)
        .ok()
        .filter(|m| (0..=MAX_REMINDER_OFFSET).contains(m))
        .ok_or_else(|| format!("must be between 0 and {MAX_REMINDER_OFFSET} minutes"))
}

/// Every editable field of a task, validated. Create and PUT build one
/// directly; PATCH builds one from the current task plus the patch.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFields {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub priority: Priority,
    pub due_at: Option<Instant>,
    pub recurrence: Option<Recurrence>,
    pub recurrence_mode: RecurrenceMode,
    pub recurrence_end_date: Option<Instant>,
    pub reminder_offset_minutes: Option<i32>,
    pub tags: Vec<TagName>,
}

impl TaskFields {
    /// Case-folded title, the sort key.
    pub fn title_key(&self) -> String {
        fold_case(&self.title)
    }

    /// Case-folded title and description, what search matches against.
    pub fn search_key(&self) -> String {
        let mut key = fold_case(&self.title);
        if let Some(d) = &self.description {
            key.push('\n');
            key.push_str(&fold_case(d));
        }
        key
    }
}

/// Body of `POST …/tasks` and `PUT …/tasks/{id}`: absent optional fields take
/// their defaults.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    #[schema(value_type = crate::domain::schema::Title)]
    pub title: String,
    #[schema(value_type = Option<crate::domain::schema::Description>)]
    pub description: Option<String>,
    pub completed: Option<bool>,
    #[schema(value_type = Option<Priority>)]
    pub priority: Option<String>,
    #[schema(value_type = Option<crate::domain::schema::Timestamp>)]
    pub due_at: Option<String>,
    /// At most 20 tag names (created as needed; duplicates ignored).
    #[schema(value_type = Option<Vec<crate::domain::schema::TagName>>, max_items = 20)]
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Option<crate::domain::schema::RecurrenceRule>)]
    pub recurrence_pattern: Option<String>,
    #[schema(value_type = Option<RecurrenceMode>)]
    pub recurrence_mode: Option<String>,
    /// The series ends after this instant (a date: the end of that day in the
    /// user's time zone).
    #[schema(value_type = Option<crate::domain::schema::DateOrDateTime>)]
    pub recurrence_end_date: Option<String>,
    /// Minutes before `due_at` to remind (0 to 525 600).
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 525600)]
    pub reminder_offset_minutes: Option<super::Integer>,
}

impl TaskInput {
    /// Validates every field, reporting all problems at once.
    pub fn validate(self, tz: Tz) -> Result<TaskFields, AppError> {
        let mut p = Problems::new();
        let title = p.check("title", parse_title(&self.title));
        let description = self
            .description
            .as_deref()
            .map(|d| p.check("description", parse_description(d)).flatten())
            .unwrap_or_default();
        let priority = self
            .priority
            .as_deref()
            .map(|s| p.check("priority", s.parse()))
            .unwrap_or(Some(Priority::None));
        let due_at = opt(&mut p, "due_at", self.due_at.as_deref(), parse_instant);
        let tags = self
            .tags
            .as_deref()
            .map(|t| p.check("tags", parse_tag_list(t)))
            .unwrap_or(Some(Vec::new()));
        let recurrence = opt(
            &mut p,
            "recurrence_pattern",
            self.recurrence_pattern.as_deref(),
            Recurrence::parse,
        );
        let recurrence_mode = self
            .recurrence_mode
            .as_deref()
            .map(|s| p.check("recurrence_mode", s.parse()))
            .unwrap_or(Some(RecurrenceMode::Due));
        let recurrence_end_date = opt(
            &mut p,
            "recurrence_end_date",
            self.recurrence_end_date.as_deref(),
            |s| parse_instant_or_date(s, tz, DayEdge::End),
        );
        let reminder = self
            .reminder_offset_minutes
            .map(|m| p.check("reminder_offset_minutes", parse_reminder_offset(m.0)));
        p.finish()?;
        Ok(TaskFields {
            title: title.unwrap_or_default(),
            description,
            completed: self.completed.unwrap_or(false),
            priority: priority.unwrap_or_default(),
            due_at: due_at.flatten(),
            recurrence: recurrence.flatten(),
            recurrence_mode: recurrence_mode.unwrap_or_default(),
            recurrence_end_date: recurrence_end_date.flatten(),
            reminder_offset_minutes: reminder.flatten(),
            tags: tags.unwrap_or_default(),
        })
    }
}

/// Parses an optional field; the outer `Option` is `None` only on error.
fn opt<T>(
    p: &mut Problems,
    field: &str,
    value: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<Option<T>> {
    match value {
        None => Some(None),
        Some(s) => p.check(field, parse(s)).map(Some),
    }
}

/// A field of a PATCH body: absent, `null`, or a value.
#[derive(Debug, Default, Clone, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<V> Patch<V> {
    /// Applies the patch of a field that may not be null.
    fn apply_required<T>(
        self,
        p: &mut Problems,
        field: &str,
        slot: &mut T,
        parse: impl FnOnce(V) -> Result<T, String>,
    ) {
        match self {
            Self::Absent => {}
            Self::Null => p.add(field, "must not be null"),
            Self::Value(v) => {
                if let Some(v) = p.check(field, parse(v)) {
                    *slot = v;
                }
            }
        }
    }

    /// Applies the patch of a nullable field: `null` clears it.
    fn apply_nullable<T>(
        self,
        p: &mut Problems,
        field: &str,
        slot: &mut Option<T>,
        parse: impl FnOnce(V) -> Result<T, String>,
    ) {
        match self {
            Self::Absent => {}
            Self::Null => *slot = None,
            Self::Value(v) => {
                if let Some(v) = p.check(field, parse(v)) {
                    *slot = Some(v);
                }
            }
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Null,
            Some(v) => Self::Value(v),
        })
    }
}

/// Body of `PATCH …/tasks/{id}`: only the fields given change; `null` clears a
/// nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    #[serde(default)]
    #[schema(value_type = crate::domain::schema::Title)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::schema::Description>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub completed: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Priority)]
    pub priority: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::schema::Timestamp>)]
    pub due_at: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::domain::schema::TagName>>, max_items = 20)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::schema::RecurrenceRule>)]
    pub recurrence_pattern: Patch<String>,
    #[serde(default)]
    #[schema(value_type = RecurrenceMode)]
    pub recurrence_mode: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<crate::domain::schema::DateOrDateTime>)]
    pub recurrence_end_date: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 525600)]
    pub reminder_offset_minutes: Patch<super::Integer>,
}

impl TaskPatch {
    /// The task's fields after applying this patch to `current`.
    pub fn apply(self, mut f: TaskFields, tz: Tz) -> Result<TaskFields, AppError> {
        let mut p = Problems::new();
        self.title
            .apply_required(&mut p, "title", &mut f.title, |t| parse_title(&t));
        match self.description {
            Patch::Absent => {}
            Patch::Null => f.description = None,
            Patch::Value(d) => {
                if let Some(d) = p.check("description", parse_description(&d)) {
                    f.description = d;
                }
            }
        }
        self.completed
            .apply_required(&mut p, "completed", &mut f.completed, Ok);
        self.priority
            .apply_required(&mut p, "priority", &mut f.priority, |s| s.parse());
        self.due_at
            .apply_nullable(&mut p, "due_at", &mut f.due_at, |s| parse_instant(&s));
        match self.tags {
            Patch::Absent => {}
            Patch::Null => f.tags.clear(),
            Patch::Value(t) => {
                if let Some(t) = p.check("tags", parse_tag_list(&t)) {
                    f.tags = t;
                }
            }
        }
        self.recurrence_pattern.apply_nullable(
            &mut p,
            "recurrence_pattern",
            &mut f.recurrence,
            |s| Recurrence::parse(&s),
        );
        self.recurrence_mode.apply_required(
            &mut p,
            "recurrence_mode",
            &mut f.recurrence_mode,
            |s| s.parse(),
        );
        self.recurrence_end_date.apply_nullable(
            &mut p,
            "recurrence_end_date",
            &mut f.recurrence_end_date,
            |s| parse_instant_or_date(&s, tz, DayEdge::End),
        );
        self.reminder_offset_minutes.apply_nullable(
            &mut p,
            "reminder_offset_minutes",
            &mut f.reminder_offset_minutes,
            |m| parse_reminder_offset(m.0),
        );
        p.finish()?;
        Ok(f)
    }
}

/// A task as the API shows it (and as event payloads carry it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(serialize_with = "rfc3339::option::serialize")]
    pub completed_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    #[serde(serialize_with = "rfc3339::option::serialize")]
    pub due_at: Option<DateTime<Utc>>,
    /// Tag names, sorted case-insensitively.
    pub tags: Vec<String>,
    pub recurrence_pattern: Option<String>,
    pub recurrence_mode: RecurrenceMode,
    #[serde(serialize_with = "rfc3339::option::serialize")]
    pub recurrence_end_date: Option<DateTime<Utc>>,
    pub reminder_offset_minutes: Option<i32>,
    /// The previous occurrence of a recurring task.
    pub parent_task_id: Option<Uuid>,
    /// Starts at 1 and grows by one on every change; the `ETag`.
    pub version: i32,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339::serialize")]
    pub updated_at: DateTime<Utc>,
}

impl Task {
    pub fn id(&self) -> TaskId {
        TaskId(self.id)
    }

    /// The editable fields, as a starting point for PATCH.
    pub fn fields(&self) -> TaskFields {
        TaskFields {
            title: self.title.clone(),
            description: self.description.clone(),
            completed: self.completed,
            priority: self.priority,
            due_at: self.due_at.map(|t| t.naive_utc()),
            recurrence: self.recurrence_pattern.clone().map(Recurrence),
            recurrence_mode: self.recurrence_mode,
            recurrence_end_date: self.recurrence_end_date.map(|t| t.naive_utc()),
            reminder_offset_minutes: self.reminder_offset_minutes,
            tags: self
                .tags
                .iter()
                .filter_map(|t| TagName::parse(t).ok())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_rrules_are_accepted() {
        for ok in [
            "daily",
            "Weekly",
            "weekdays",
            "FREQ=WEEKLY;BYDAY=MO,WE",
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=31",
            "freq=yearly;count=3",
        ] {
            assert!(Recurrence::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Recurrence::parse("Weekly").unwrap().as_str(), "weekly");
        assert_eq!(
            Recurrence::parse("weekdays").unwrap().rrule(),
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
        );
        for bad in [
            "fortnightly",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=MINUTELY",
            "BYDAY=MO",
        ] {
            assert!(Recurrence::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn priorities_round_trip_through_their_rank() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), p);
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), p);
        }
        assert!(Priority::Urgent > Priority::High);
    }

    #[test]
    fn input_reports_every_bad_field() {
        let input = TaskInput {
            title: "  ".into(),
            priority: Some("critical".into()),
            due_at: Some("tomorrow".into()),
            reminder_offset_minutes: Some(crate::domain::Integer(-5)),
            ..Default::default()
        };
        let AppError::Validation(fields) = input.validate(Tz::UTC).unwrap_err() else {
            panic!("expected a validation error")
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["due_at", "priority", "reminder_offset_minutes", "title"]
        );
    }

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let base = TaskInput {
            title: "Buy milk".into(),
            description: Some("2 litres".into()),
            due_at: Some("2026-01-01T10:00:00Z".into()),
            ..Default::default()
        }
        .validate(Tz::UTC)
        .unwrap();
        let patch: TaskPatch = serde_json::from_str(r#"{"description": null}"#).unwrap();
        let after = patch.apply(base.clone(), Tz::UTC).unwrap();
        assert_eq!(after.description, None);
        assert_eq!(after.due_at, base.due_at);
        let patch: TaskPatch = serde_json::from_str(r#"{"title": null}"#).unwrap();
        assert!(patch.apply(base, Tz::UTC).is_err());
    }
}
