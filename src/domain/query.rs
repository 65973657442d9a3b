//! The task list query: search, filters, sort and paging. REST's query
//! string and MCP's arguments both fill [`TaskListParams`]; parsing it into a
//! [`TaskQuery`] refuses unknown parameters and out-of-range values by name
//! rather than ignoring them.

use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::IntoParams;

use super::Problems;
use super::fold_case;
use super::schema;
use super::tag::TagName;
use super::task::Priority;
use super::time::{DayEdge, Instant, parse_instant_or_date};
use crate::error::AppError;

/// Which tasks by completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    All,
    Pending,
    Completed,
}

/// What a task list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    #[default]
    CreatedAt,
    UpdatedAt,
    DueAt,
    Priority,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// A parsed `GET …/tasks` query.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskQuery {
    /// Case-folded substring of title or description.
    pub search: Option<String>,
    pub status: Status,
    /// Any of these priorities (empty: any).
    pub priorities: Vec<Priority>,
    /// Case-folded tag names a task must all carry.
    pub tags: Vec<String>,
    pub due_start: Option<Instant>,
    pub due_end: Option<Instant>,
    pub sort_by: SortBy,
    pub sort_order: SortOrder,
    pub limit: i64,
    pub offset: i64,
}

impl Default for TaskQuery {
    fn default() -> Self {
        Self {
            search: None,
            status: Status::All,
            priorities: Vec::new(),
            tags: Vec::new(),
            due_start: None,
            due_end: None,
            sort_by: SortBy::CreatedAt,
            sort_order: SortOrder::Desc,
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// What `priority` may be: a comma-separated list of priorities (empty: any).
pub const PRIORITY_LIST_PATTERN: &str =
    "^((none|low|medium|high|urgent)(,(none|low|medium|high|urgent))*)?$";
/// What `tags` may be: a comma-separated list of tag names of 1–50
/// characters (surrounding white space is ignored; empty: any).
pub const TAG_LIST_PATTERN: &str = concat!(
    r"^([^\x00-\x1F\x7F-\x9F,|]{1,50}",
    r"(,[^\x00-\x1F\x7F-\x9F,|]{1,50})*)?$"
);
/// Longest search text, in characters.
pub const MAX_SEARCH: usize = 200;

/// The parameters of a task list, as given: strings to be parsed, so that
/// every problem is reported by name. Their documentation (REST's query
/// parameters, MCP's `list_tasks` arguments) is derived from here.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// case-insensitive substring of title or description
    #[param(value_type = Option<schema::SearchText>)]
    pub search: Option<String>,
    #[param(value_type = Option<schema::StatusFilter>)]
    pub status: Option<String>,
    /// comma list of priorities: any of them
    #[param(value_type = Option<schema::PriorityList>)]
    pub priority: Option<String>,
    /// comma list of tag names: a task must carry all
    #[param(value_type = Option<schema::TagList>)]
    pub tags: Option<String>,
    /// inclusive; a date starts at 00:00 in the user's zone
    #[param(value_type = Option<schema::DateOrDateTime>)]
    pub due_date_start: Option<String>,
    /// inclusive; a date ends at 24:00 in the user's zone (a range that ends before it starts matches nothing)
    #[param(value_type = Option<schema::DateOrDateTime>)]
    pub due_date_end: Option<String>,
    /// default created_at; due dates sort tasks without one last
    #[param(value_type = Option<schema::SortField>)]
    pub sort_by: Option<String>,
    /// default desc
    #[param(value_type = Option<schema::SortDirection>)]
    pub sort_order: Option<String>,
    /// default 50
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<QueryInteger>,
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: Option<QueryInteger>,
}

/// An integer parameter: in a query string exactly as JSON Schema's
/// `integer` writes it (an optional minus and digits — no `+`, no spaces, no
/// `5.0`), or a JSON integer where arguments are JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryInteger(pub i64);

impl<'de> Deserialize<'de> for QueryInteger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(super::IntegerVisitor {
            whole_floats: false,
            text: true,
        })
        .map(Self)
    }
}

impl TaskQuery {
    /// Parses the given parameters; dates without a time are read in `tz`.
    /// Every value must be exactly what the OpenAPI document allows: nothing
    /// is trimmed or guessed. A due range whose start is after its end
    /// matches nothing.
    pub fn parse(params: TaskListParams, tz: Tz) -> Result<Self, AppError> {
        let mut q = Self::default();
        let mut p = Problems::new();
        if let Some(value) = params.search {
            let checked =
                super::no_control_chars(&value).and_then(|()| super::at_most(&value, MAX_SEARCH));
            if let Some(()) = p.check("search", checked) {
                let trimmed = value.trim();
                q.search = (!trimmed.is_empty()).then(|| fold_case(trimmed));
            }
        }
        if let Some(value) = params.status {
            match value.as_str() {
                "all" => q.status = Status::All,
                "pending" => q.status = Status::Pending,
                "completed" => q.status = Status::Completed,
                _ => p.add("status", "must be all, pending or completed"),
            }
        }
        if let Some(value) = params.priority {
            for item in list(&value) {
                if let Some(pr) = p.check("priority", item.parse::<Priority>()) {
                    q.priorities.push(pr);
                }
            }
        }
        if let Some(value) = params.tags {
            for item in list(&value) {
                // A filter item of white space only matches nothing in
                // particular: it is ignored.
                let parsed = TagName::parse(item).map(Some).or_else(|why| {
                    let blank = !item.is_empty()
                        && item.chars().count() <= 50
                        && item.trim().is_empty()
                        && !item.chars().any(char::is_control);
                    if blank { Ok(None) } else { Err(why) }
                });
                if let Some(Some(tag)) = p.check("tags", parsed) {
                    q.tags.push(tag.key().to_owned());
                }
            }
        }
        if let Some(value) = params.due_date_start {
            q.due_start = p.check(
                "due_date_start",
                parse_instant_or_date(&value, tz, DayEdge::Start),
            );
        }
        if let Some(value) = params.due_date_end {
            q.due_end = p.check(
                "due_date_end",
                parse_instant_or_date(&value, tz, DayEdge::End),
            );
        }
        if let Some(value) = params.sort_by {
            match value.as_str() {
                "created_at" => q.sort_by = SortBy::CreatedAt,
                "updated_at" => q.sort_by = SortBy::UpdatedAt,
                "due_at" => q.sort_by = SortBy::DueAt,
                "priority" => q.sort_by = SortBy::Priority,
                "title" => q.sort_by = SortBy::Title,
                _ => p.add(
                    "sort_by",
                    "must be created_at, updated_at, due_at, priority or title",
                ),
            }
        }
        if let Some(value) = params.sort_order {
            match value.as_str() {
                "asc" => q.sort_order = SortOrder::Asc,
                "desc" => q.sort_order = SortOrder::Desc,
                _ => p.add("sort_order", "must be asc or desc"),
            }
        }
        match params.limit {
            Some(QueryInteger(n)) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
            Some(_) => p.add("limit", format!("must be an integer from 1 to {MAX_LIMIT}")),
            None => {}
        }
        match params.offset {
            Some(QueryInteger(n)) if n >= 0 => q.offset = n,
            Some(_) => p.add("offset", "must be a non-negative integer"),
            None => {}
        }
        p.finish()?;
        q.priorities.sort();
        q.priorities.dedup();
        q.tags.sort();
        q.tags.dedup();
        Ok(q)
    }
}

/// An integer as JSON Schema's `integer` writes it in a query string: an
/// optional minus and digits, nothing else (no `+`, no spaces, no `5.0`).
pub fn parse_integer(value: &str) -> Option<i64> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The items of a comma-separated list; an empty value is an empty list,
/// an empty item is refused by the item's own parser.
fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').filter(move |_| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<TaskQuery, AppError> {
        // As REST reads a query string (see `routes::extract::parse_query`).
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        let params: TaskListParams = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            let field = message.split('`').nth(1).map_or(path, str::to_owned);
            AppError::invalid(field, message)
        })?;
        TaskQuery::parse(params, Tz::UTC)
    }

    #[test]
    fn defaults() {
        assert_eq!(parse("").unwrap(), TaskQuery::default());
    }

    #[test]
    fn refuses_unknown_and_out_of_range_by_name() {
        for (q, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("offset=-1", "offset"),
            ("sort_by=colour", "sort_by"),
            ("sort_order=up", "sort_order"),
            ("status=done", "status"),
            ("priority=high,extreme", "priority"),
            ("due_date_start=soon", "due_date_start"),
            ("colour=red", "colour"),
        ] {
            let Err(AppError::Validation(fields)) = parse(q) else {
                panic!("{q} should be refused")
            };
            assert!(fields.contains_key(field), "{q}: {fields:?}");
        }
    }

    #[test]
    fn values_must_be_exact() {
        for (q, field) in [
            ("status=", "status"),
            ("status= pending", "status"),
            ("limit=+5", "limit"),
            ("limit=5.0", "limit"),
            ("limit= 5", "limit"),
            ("priority=high,,low", "priority"),
            ("priority=high, low", "priority"),
            ("tags=a,,b", "tags"),
            ("due_date_start=2026-3-1", "due_date_start"),
            ("due_date_start=2026-03-01 10:00:00Z", "due_date_start"),
            ("q=milk", "q"),
        ] {
            let Err(AppError::Validation(fields)) = parse(q) else {
                panic!("{q} should be refused")
            };
            assert!(fields.contains_key(field), "{q}: {fields:?}");
        }
        let q = parse("priority=&tags=&search=").unwrap();
        assert_eq!(q, TaskQuery::default());
        let q = parse("tags= work ,   ,home").unwrap();
        assert_eq!(q.tags, ["home", "work"]);
    }

    #[test]
    fn a_reversed_due_range_is_not_an_error() {
        // It simply matches nothing (start <= due_at <= end).
        let q = parse("due_date_start=2026-03-02&due_date_end=2026-03-01").unwrap();
        assert!(q.due_start > q.due_end);
    }

    #[test]
    fn lists_are_split_and_folded() {
        let q = parse("priority=high,urgent&tags=Work,home&search=MILK").unwrap();
        assert_eq!(q.priorities, [Priority::High, Priority::Urgent]);
        assert_eq!(q.tags, ["home", "work"]);
        assert_eq!(q.search.as_deref(), Some("milk"));
    }
}
