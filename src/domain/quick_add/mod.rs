//! Quick add: one line of English becomes a fully scheduled task.
//!
//! [`parse`] is a pure function of the text, the current instant and the
//! user's time zone: no network, no randomness, so the web UI, the MCP tool
//! and scripts all get the same answer. It reads dates, times, recurrence,
//! priority, tags and a reminder, and reports each part it understood with
//! its character span, so a client can highlight them.
//!
//! Titles come first. A phrase is read only when the whole phrase matches a
//! rule at word boundaries ("The 5th Wave", "2nd Floor", "Room 101" and
//! "check money" stay as written); text in double quotes is never read; when
//! two readings start at the same word the longer phrase wins; a date that
//! does not exist ("Feb 30") and a part that cannot apply (a second date,
//! "until …" without a recurrence) stay in the title, with a note saying why.
//!
//! Conventions, where English leaves a choice:
//! * a date without a time of day is due at 23:59 local;
//! * "monday" is the next Monday after today, "this monday" the next one on
//!   or after today, "next monday" the Monday of next week (weeks start on
//!   Monday);
//! * a time without a date is today if still ahead, else tomorrow;
//! * "at 5" (an hour alone, after "at") is 17:00 for 1 to 6 and as written
//!   for 7 to 23;
//! * "sun", "sat" and "wed" are also English words: read as days only after
//!   "on", "by", "due", "for", "this", "next", "every" or "until";
//! * a recurrence without a date starts at its first matching time after
//!   now ("every 3 hours" at the next whole hour);
//! * local times that fall into a daylight-saving gap are read with the
//!   offset before the gap, ambiguous ones as the first (RFC 5545 §3.3.5).

use std::fmt::Write as _;

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::tag::{MAX_TAGS_PER_TASK, TagName};
use super::task::{
    MAX_REMINDER_OFFSET, Priority, Recurrence, RecurrenceMode, Task, TaskFields, parse_title,
};
use super::time::{DayEdge, Instant, YEARS, day_edge, rfc3339, to_utc};
use crate::error::AppError;

#[cfg(test)]
mod tests;

/// Longest quick-add text, in characters: a title's length, so that any text
/// short enough has a title short enough.
pub const MAX_TEXT: usize = 500;

/// What a date without a time of day is due at, local.
const END_OF_DAY: NaiveTime = hm(23, 59);
const MORNING: NaiveTime = hm(9, 0);
const AFTERNOON: NaiveTime = hm(14, 0);
const EVENING: NaiveTime = hm(19, 0);

const fn hm(h: u32, m: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(h, m, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

/// What a recognised part of the text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    Date,
    Time,
    Recurrence,
    Priority,
    Tag,
    Reminder,
}

/// One recognised part: where it is in the text and what it was read as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Part {
    pub kind: PartKind,
    /// First character of the part, counted in Unicode code points from 0.
    pub start: usize,
    /// One past its last character.
    pub end: usize,
    /// The part as written.
    pub text: String,
    /// Machine-readable: a date `2026-11-30` or date-time (RFC 3339), a
    /// time `10:00`, a recurrence rule, a priority, a tag name, a reminder
    /// offset in minutes or `at HH:MM`, `completion`, `COUNT=n`.
    pub value: String,
    /// For people: "Mon 30 Nov 2026", "every 2 weeks on Mon, Wed", …
    pub meaning: String,
}

/// What a line of text was read as.
#[derive(Debug, Clone, PartialEq)]
pub struct QuickAdd {
    /// What remains of the text; may be empty (callers refuse that).
    pub title: String,
    pub priority: Option<Priority>,
    pub due_at: Option<Instant>,
    pub tags: Vec<TagName>,
    pub recurrence: Option<Recurrence>,
    pub recurrence_mode: RecurrenceMode,
    pub recurrence_end_date: Option<Instant>,
    pub reminder_offset_minutes: Option<i32>,
    /// The parts that were applied, in text order, never overlapping.
    pub parts: Vec<Part>,
    /// Parts that were recognised but could not apply, and why; their text
    /// is part of the title.
    pub notes: Vec<String>,
}

/// Body of `POST …/tasks/quick-add`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuickAddInput {
    /// One line such as `high priority weekly meeting for Monday 10 AM #work`.
    #[schema(value_type = crate::domain::schema::QuickAddText)]
    pub text: String,
    /// Create the task (the default), or only say how the text reads.
    pub create: Option<bool>,
}

impl QuickAddInput {
    /// The text, checked: not empty, not over [`MAX_TEXT`] characters, no
    /// control characters.
    pub fn text(&self) -> Result<&str, AppError> {
        let invalid = |why: String| AppError::invalid("text", why);
        super::no_control_chars(&self.text).map_err(invalid)?;
        super::at_most(&self.text, MAX_TEXT).map_err(invalid)?;
        if self.text.trim().is_empty() {
            return Err(invalid("must not be empty".into()));
        }
        Ok(&self.text)
    }

    pub fn create(&self) -> bool {
        self.create.unwrap_or(true)
    }
}

/// How a quick-add text reads: the task's fields, and each part that was
/// understood, with where it is in the text.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuickAddParse {
    /// What remains of the text once the parts are taken out.
    pub title: String,
    pub priority: Priority,
    #[serde(serialize_with = "rfc3339::option::serialize")]
    #[schema(value_type = Option<crate::domain::schema::Timestamp>)]
    pub due_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub recurrence_pattern: Option<String>,
    pub recurrence_mode: RecurrenceMode,
    #[serde(serialize_with = "rfc3339::option::serialize")]
    #[schema(value_type = Option<crate::domain::schema::Timestamp>)]
    pub recurrence_end_date: Option<DateTime<Utc>>,
    pub reminder_offset_minutes: Option<i32>,
    /// The parts understood, in the order of the text.
    pub parts: Vec<Part>,
    /// Parts recognised but not applied (given twice, or missing what they
    /// need), and why; their text stays in the title.
    pub notes: Vec<String>,
}

/// The answer of `POST …/tasks/quick-add`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuickAddResult {
    pub parse: QuickAddParse,
    /// The task created; absent when `create` was false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
}

impl QuickAdd {
    /// The task's fields; refused (naming `text`) when no title is left.
    pub fn fields(&self) -> Result<TaskFields, AppError> {
        let title = parse_title(&self.title).map_err(|why| {
            let why = if self.title.trim().is_empty() {
                "nothing is left for the title once the date, time and other parts are taken out; \
                 put words in double quotes to keep them as written"
                    .to_owned()
            } else {
                format!("the title {why}")
            };
            AppError::invalid("text", why)
        })?;
        Ok(TaskFields {
            title,
            description: None,
            completed: false,
            priority: self.priority.unwrap_or_default(),
            due_at: self.due_at,
            recurrence: self.recurrence.clone(),
            recurrence_mode: self.recurrence_mode,
            recurrence_end_date: self.recurrence_end_date,
            reminder_offset_minutes: self.reminder_offset_minutes,
            tags: self.tags.clone(),
        })
    }

    /// As the API shows it.
    pub fn into_view(self) -> QuickAddParse {
        QuickAddParse {
            title: self.title,
            priority: self.priority.unwrap_or_default(),
            due_at: self.due_at.map(to_utc),
            tags: self.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            recurrence_pattern: self.recurrence.map(|r| r.as_str().to_owned()),
            recurrence_mode: self.recurrence_mode,
            recurrence_end_date: self.recurrence_end_date.map(to_utc),
            reminder_offset_minutes: self.reminder_offset_minutes,
            parts: self.parts,
            notes: self.notes,
        }
    }
}

/// Reads `text` at `now` in the user's time zone `tz`.
pub fn parse(text: &str, now: DateTime<Utc>, tz: Tz) -> QuickAdd {
    let p = Parser::new(text, now, tz);
    let found = p.scan();
    p.resolve(found)
}

// ---------------------------------------------------------------------------
// Tokens

#[derive(Debug)]
struct Token<'a> {
    text: &'a str,
    lower: String,
    bytes: std::ops::Range<usize>,
    /// Character offsets.
    start: usize,
    end: usize,
    /// No white space before it (and not the first token).
    glued: bool,
    /// A run of letters and digits; otherwise one punctuation character.
    word: bool,
    /// Inside double quotes (the marks included): never read.
    quoted: bool,
    /// One of a pair of quote marks: dropped from the title.
    mark: bool,
}

fn is_quote(s: &str) -> bool {
    matches!(s, "\"" | "\u{201c}" | "\u{201d}")
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens: Vec<Token<'_>> = Vec::new();
    let mut glued = false;
    let mut chars = text.char_indices().enumerate().peekable();
    while let Some((ci, (bi, c))) = chars.next() {
        if c.is_whitespace() {
            glued = false;
            continue;
        }
        let (mut end_b, mut end_c) = (bi + c.len_utf8(), ci + 1);
        let word = c.is_alphanumeric();
        if word {
            while let Some(&(cj, (bj, d))) = chars.peek() {
                if !d.is_alphanumeric() {
                    break;
                }
                (end_b, end_c) = (bj + d.len_utf8(), cj + 1);
                chars.next();
            }
        }
        let t = &text[bi..end_b];
        tokens.push(Token {
            text: t,
            lower: t.to_lowercase(),
            bytes: bi..end_b,
            start: ci,
            end: end_c,
            glued: glued && !tokens.is_empty(),
            word,
            quoted: false,
            mark: false,
        });
        glued = true;
    }
    let mut open = None;
    for k in 0..tokens.len() {
        if !is_quote(tokens[k].text) {
            continue;
        }
        match open.take() {
            None => open = Some(k),
            Some(o) => {
                for t in &mut tokens[o..=k] {
                    t.quoted = true;
                }
                tokens[o].mark = true;
                tokens[k].mark = true;
            }
        }
    }
    tokens
}

// ---------------------------------------------------------------------------
// Words

fn digits(s: &str, max_len: usize) -> Option<u32> {
    (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A count written in digits or as a word ("two" … "twelve").
fn number(s: &str) -> Option<u32> {
    const WORDS: [&str; 12] = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    digits(s, 4).or_else(|| {
        WORDS
            .iter()
            .position(|w| *w == s)
            .and_then(|i| u32::try_from(i + 1).ok())
    })
}

/// `3rd`, `15th`: a day of the month.
fn ordinal(s: &str) -> Option<u32> {
    let n = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|suffix| s.strip_suffix(suffix))?;
    digits(n, 2).filter(|d| (1..=31).contains(d))
}

/// A day name, and whether it is also an ordinary English word.
fn weekday(s: &str) -> Option<(Weekday, bool)> {
    Some(match s {
        "monday" | "mon" => (Weekday::Mon, false),
        "tuesday" | "tue" | "tues" => (Weekday::Tue, false),
        "wednesday" => (Weekday::Wed, false),
        "wed" => (Weekday::Wed, true),
        "thursday" | "thu" | "thur" | "thurs" => (Weekday::Thu, false),
        "friday" | "fri" => (Weekday::Fri, false),
        "saturday" => (Weekday::Sat, false),
        "sat" => (Weekday::Sat, true),
        "sunday" => (Weekday::Sun, false),
        "sun" => (Weekday::Sun, true),
        _ => return None,
    })
}

fn month(s: &str) -> Option<u32> {
    Some(match s {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "m" | "min" | "mins" | "minute" | "minutes" => Self::Minute,
            "h" | "hr" | "hrs" | "hour" | "hours" => Self::Hour,
            "d" | "day" | "days" => Self::Day,
            "w" | "wk" | "wks" | "week" | "weeks" => Self::Week,
            "month" | "months" => Self::Month,
            "y" | "yr" | "yrs" | "year" | "years" => Self::Year,
            _ => return None,
        })
    }

    /// The unit alone, as in "every week".
    fn singular(s: &str) -> Option<Self> {
        Some(match s {
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    fn minutes(self) -> Option<i64> {
        Some(match self {
            Self::Minute => 1,
            Self::Hour => 60,
            Self::Day => 1_440,
            Self::Week => 10_080,
            Self::Month | Self::Year => return None,
        })
    }

    fn word(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// "1 week", "3 days".
    fn name(self, n: u32) -> String {
        let plural = if n == 1 { "" } else { "s" };
        format!("{n} {}{plural}", self.word())
    }
}

// ---------------------------------------------------------------------------
// Recurrence rules

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freq {
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    freq: Freq,
    interval: u32,
    days: Vec<Weekday>,
    month_day: Option<u32>,
}

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

impl Rule {
    fn every(freq: Freq, interval: u32) -> Self {
        Self {
            freq,
            interval,
            days: Vec::new(),
            month_day: None,
        }
    }

    fn on_days(interval: u32, mut days: Vec<Weekday>) -> Self {
        days.sort_by_key(Weekday::num_days_from_monday);
        days.dedup();
        Self {
            days,
            ..Self::every(Freq::Weekly, interval)
        }
    }

    fn from_unit(unit: Unit, interval: u32) -> Option<Self> {
        let freq = match unit {
            Unit::Minute => return None,
            Unit::Hour => Freq::Hourly,
            Unit::Day => Freq::Daily,
            Unit::Week => Freq::Weekly,
            Unit::Month => Freq::Monthly,
            Unit::Year => Freq::Yearly,
        };
        (1..=999)
            .contains(&interval)
            .then(|| Self::every(freq, interval))
    }

    /// The rule as stored: a preset name where one says it, else an RRULE.
    fn pattern(&self, count: Option<u32>) -> String {
        let plain = self.interval == 1 && self.month_day.is_none() && count.is_none();
        if plain {
            let preset = match (self.freq, self.days.as_slice()) {
                (Freq::Daily, []) => Some("daily"),
                (Freq::Weekly, []) => Some("weekly"),
                (Freq::Weekly, days) if days == WEEKDAYS => Some("weekdays"),
                (Freq::Monthly, []) => Some("monthly"),
                (Freq::Yearly, []) => Some("yearly"),
                _ => None,
            };
            if let Some(p) = preset {
                return p.to_owned();
            }
        }
        let freq = match self.freq {
            Freq::Hourly => "HOURLY",
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        };
        let mut rule = format!("FREQ={freq}");
        if self.interval != 1 {
            let _ = write!(rule, ";INTERVAL={}", self.interval);
        }
        if !self.days.is_empty() {
            let days: Vec<&str> = self.days.iter().map(|d| rrule_day(*d)).collect();
            let _ = write!(rule, ";BYDAY={}", days.join(","));
        }
        if let Some(d) = self.month_day {
            let _ = write!(rule, ";BYMONTHDAY={d}");
        }
        if let Some(n) = count {
            let _ = write!(rule, ";COUNT={n}");
        }
        rule
    }

    fn describe(&self) -> String {
        let unit = match self.freq {
            Freq::Hourly => Unit::Hour,
            Freq::Daily => Unit::Day,
            Freq::Weekly => Unit::Week,
            Freq::Monthly => Unit::Month,
            Freq::Yearly => Unit::Year,
        };
        let mut s = match self.interval {
            1 => format!("every {}", unit.word()),
            n => format!("every {}", unit.name(n)),
        };
        if self.days == WEEKDAYS {
            s.push_str(" on weekdays");
        } else if !self.days.is_empty() {
            let days: Vec<String> = self.days.iter().map(ToString::to_string).collect();
            let _ = write!(s, " on {}", days.join(", "));
        }
        if let Some(d) = self.month_day {
            let _ = write!(s, " on day {d}");
        }
        s
    }

    /// Whether an instance of the rule may fall on `date`.
    fn allows(&self, date: NaiveDate) -> bool {
        (self.days.is_empty() || self.days.contains(&date.weekday()))
            && self.month_day.is_none_or(|d| date.day() == d)
    }
}

fn rrule_day(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

// ---------------------------------------------------------------------------
// What a phrase was read as

#[derive(Debug, Clone, PartialEq)]
enum Date {
    Day(NaiveDate),
    /// `in 2 hours`: a date and a time.
    Exact(DateTime<Utc>),
    /// Today, in the evening unless a time says otherwise.
    Tonight,
}

#[derive(Debug, Clone, PartialEq)]
enum Remind {
    Before(i64),
    At(NaiveTime),
}

#[derive(Debug, Clone, PartialEq)]
enum Found {
    Date(Date),
    Time(NaiveTime),
    Rule(Rule, bool),
    Completion,
    Until(NaiveDate),
    Count(u32),
    Priority(Priority),
    Tag(TagName),
    Remind(Remind),
}

/// A phrase and what it says, over tokens `start..end`.
#[derive(Debug)]
struct Phrase {
    start: usize,
    end: usize,
    found: Found,
}

/// The context a phrase is read in: after a preposition ("on", "by", …),
/// after "at".
#[derive(Debug, Clone, Copy, Default)]
struct Ctx {
    prep: bool,
    at: bool,
}

const PREP: Ctx = Ctx {
    prep: true,
    at: false,
};

/// Words that may stand before a date and go with it.
const DATE_FILLERS: [&str; 7] = ["on", "at", "by", "for", "due", "starting", "from"];
/// Words that may stand before a time and go with it.
const TIME_FILLERS: [&str; 5] = ["at", "by", "for", "due", "on"];

// ---------------------------------------------------------------------------
// The parser

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token<'a>>,
    now: DateTime<Utc>,
    tz: Tz,
    local: NaiveDateTime,
    today: NaiveDate,
}

type Match<T> = Option<(usize, T)>;

impl<'a> Parser<'a> {
    fn new(text: &'a str, now: DateTime<Utc>, tz: Tz) -> Self {
        let local = now.with_timezone(&tz).naive_local();
        Self {
            text,
            tokens: tokenize(text),
            now,
            tz,
            local,
            today: local.date(),
        }
    }

    // Token access: unquoted words and punctuation.

    fn word(&self, i: usize) -> Option<&str> {
        self.tokens
            .get(i)
            .filter(|t| t.word && !t.quoted)
            .map(|t| t.lower.as_str())
    }

    /// A word with white space before it.
    fn next_word(&self, i: usize) -> Option<&str> {
        self.word(i).filter(|_| !self.tokens[i].glued)
    }

    /// A word written straight after the token before it.
    fn glued_word(&self, i: usize) -> Option<&str> {
        self.word(i).filter(|_| self.tokens[i].glued)
    }

    fn punct(&self, i: usize, p: &str) -> bool {
        self.tokens
            .get(i)
            .is_some_and(|t| !t.word && !t.quoted && t.text == p)
    }

    fn glued_punct(&self, i: usize, p: &str) -> bool {
        self.punct(i, p) && self.tokens[i].glued
    }

    fn is(&self, i: usize, w: &str) -> bool {
        self.next_word(i) == Some(w)
    }

    /// A phrase may start at token `i`: at the start, after white space or
    /// after an opening bracket or separator.
    fn starts(&self, i: usize) -> bool {
        let Some(t) = self.tokens.get(i) else {
            return false;
        };
        !t.quoted
            && (i == 0
                || !t.glued
                || matches!(self.tokens[i - 1].text, "(" | "[" | "," | ";" | "/"))
    }

    /// A phrase may end before token `j`: at the end, before white space or
    /// a closing bracket or separator; `.`, `!`, `?` and `:` only where
    /// white space follows them.
    fn ends(&self, j: usize) -> bool {
        let Some(t) = self.tokens.get(j) else {
            return true;
        };
        if !t.glued {
            return true;
        }
        match t.text {
            "," | ";" | ")" | "]" => true,
            "." | "!" | "?" | ":" => self.tokens.get(j + 1).is_none_or(|n| !n.glued),
            _ => false,
        }
    }

    /// Every phrase, left to right; where several start at the same token
    /// the longest wins.
    fn scan(&self) -> Vec<Phrase> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.tokens.len() {
            if !self.starts(i) {
                i += 1;
                continue;
            }
            match self.longest(i) {
                Some((end, found)) => {
                    out.push(Phrase {
                        start: i,
                        end,
                        found,
                    });
                    i = end;
                }
                None => i += 1,
            }
        }
        out
    }

    fn longest(&self, i: usize) -> Match<Found> {
        let mut best: Match<Found> = None;
        let mut consider = |m: Match<Found>| {
            if let Some((end, found)) = m
                && self.ends(end)
                && best.as_ref().is_none_or(|(b, _)| end > *b)
            {
                best = Some((end, found));
            }
        };
        consider(self.tag(i));
        consider(self.priority(i));
        consider(self.reminder(i));
        consider(self.recurrence(i));
        consider(
            self.date(i, Ctx::default())
                .map(|(e, d)| (e, Found::Date(d))),
        );
        consider(
            self.time(i, Ctx::default())
                .map(|(e, t)| (e, Found::Time(t))),
        );
        if let Some(filler) = self.word(i) {
            let ctx = Ctx {
                prep: true,
                at: filler == "at",
            };
            if DATE_FILLERS.contains(&filler) {
                consider(self.date(i + 1, ctx).map(|(e, d)| (e, Found::Date(d))));
            }
            if TIME_FILLERS.contains(&filler) {
                consider(self.time(i + 1, ctx).map(|(e, t)| (e, Found::Time(t))));
            }
        }
        best
    }

    // Rules. Each reads a phrase starting at token `i` and returns the token
    // after it with what it says; the first word may follow anything (the
    // scanner checks boundaries), later ones follow white space.

    fn tag(&self, i: usize) -> Match<Found> {
        if !(self.punct(i, "#") || self.punct(i, "@")) {
            return None;
        }
        self.glued_word(i + 1)?;
        let mut end = i + 1;
        let mut name = String::new();
        while let Some(t) = self.tokens.get(end)
            && t.glued
            && !t.quoted
            && (t.word || t.text == "-" || t.text == "_")
        {
            name.push_str(t.text);
            end += 1;
        }
        let tag = TagName::parse(&name).ok()?;
        Some((end, Found::Tag(tag)))
    }

    fn priority(&self, i: usize) -> Match<Found> {
        let level = |s: &str| match s {
            "1" => Some(Priority::Urgent),
            "2" => Some(Priority::High),
            "3" => Some(Priority::Medium),
            "4" => Some(Priority::Low),
            _ => None,
        };
        let named = |s: &str| match s {
            "urgent" => Some(Priority::Urgent),
            "high" => Some(Priority::High),
            "medium" => Some(Priority::Medium),
            "low" => Some(Priority::Low),
            _ => None,
        };
        if self.punct(i, "!") {
            let p = level(self.glued_word(i + 1)?)?;
            return Some((i + 2, Found::Priority(p)));
        }
        let w = self.word(i)?;
        let p = if let Some(n) = w.strip_prefix('p')
            && let Some(p) = level(n)
        {
            (i + 1, p)
        } else if w == "urgent" {
            (i + 1, Priority::Urgent)
        } else if w == "priority" {
            (i + 2, named(self.next_word(i + 1)?)?)
        } else {
            let p = named(w).filter(|p| *p != Priority::Urgent)?;
            matches!(self.next_word(i + 1), Some("priority" | "prio")).then_some((i + 2, p))?
        };
        Some((p.0, Found::Priority(p.1)))
    }

    fn reminder(&self, i: usize) -> Match<Found> {
        if self.word(i)? != "remind" {
            return None;
        }
        let j = if self.is(i + 1, "me") { i + 2 } else { i + 1 };
        if self.is(j, "at") {
            let (end, t) = self.time(
                j + 1,
                Ctx {
                    prep: true,
                    at: true,
                },
            )?;
            return Some((end, Found::Remind(Remind::At(t))));
        }
        let (k, n, unit) = self.amount(j)?;
        if !matches!(self.next_word(k), Some("before" | "earlier" | "ahead")) {
            return None;
        }
        let minutes = unit.minutes()? * i64::from(n);
        Some((k + 1, Found::Remind(Remind::Before(minutes))))
    }

    /// `3 days`, `90 minutes`, `a week`, `2h`: a count and a unit.
    fn amount(&self, i: usize) -> Option<(usize, u32, Unit)> {
        let w = self.next_word(i)?;
        if let Some(n) = number(w).or_else(|| matches!(w, "a" | "an").then_some(1))
            && let Some(unit) = self.next_word(i + 1).and_then(Unit::parse)
        {
            return Some((i + 2, n, unit));
        }
        let split = w.find(|c: char| !c.is_ascii_digit())?;
        let n = digits(&w[..split], 4)?;
        Some((i + 1, n, Unit::parse(&w[split..])?))
    }

    fn recurrence(&self, i: usize) -> Match<Found> {
        let w = self.word(i)?;
        let rule = |freq, interval| Some((i + 1, Found::Rule(Rule::every(freq, interval), false)));
        match w {
            "hourly" => rule(Freq::Hourly, 1),
            "daily" => rule(Freq::Daily, 1),
            "weekly" => rule(Freq::Weekly, 1),
            "fortnightly" => rule(Freq::Weekly, 2),
            "monthly" => rule(Freq::Monthly, 1),
            "yearly" | "annually" => rule(Freq::Yearly, 1),
            "every" => {
                let completion = self.glued_punct(i + 1, "!");
                let j = if completion { i + 2 } else { i + 1 };
                let (end, rule) = self.every(j)?;
                Some((end, Found::Rule(rule, completion)))
            }
            "after" if self.is(i + 1, "completion") => Some((i + 2, Found::Completion)),
            "until" => {
                let (end, date) = self.date(i + 1, PREP)?;
                let day = match date {
                    Date::Day(d) => d,
                    Date::Exact(t) => t.with_timezone(&self.tz).date_naive(),
                    Date::Tonight => self.today,
                };
                Some((end, Found::Until(day)))
            }
            "for" => {
                let n = number(self.next_word(i + 1)?).filter(|n| (1..=1000).contains(n))?;
                self.is(i + 2, "times").then_some((i + 3, Found::Count(n)))
            }
            _ => None,
        }
    }

    /// What follows "every".
    fn every(&self, j: usize) -> Match<Rule> {
        let w = self.next_word(j)?;
        match w {
            "weekday" | "weekdays" => return Some((j + 1, Rule::on_days(1, WEEKDAYS.to_vec()))),
            "weekend" | "weekends" => {
                return Some((j + 1, Rule::on_days(1, vec![Weekday::Sat, Weekday::Sun])));
            }
            "other" => {
                if let Some(unit) = self.next_word(j + 1).and_then(Unit::singular) {
                    let rule = Rule::from_unit(unit, 2)?;
                    return Some(self.month_day(j + 2, rule));
                }
                let (end, days) = self.day_list(j + 1)?;
                return Some((end, Rule::on_days(2, days)));
            }
            _ => {}
        }
        if let Some(unit) = Unit::singular(w) {
            let rule = Rule::from_unit(unit, 1)?;
            return Some(self.month_day(j + 1, rule));
        }
        if let Some(d) = ordinal(w) {
            let mut end = j + 1;
            if self.is(end, "of")
                && matches!(self.next_word(end + 1), Some("the" | "each" | "every"))
                && self.is(end + 2, "month")
            {
                end += 3;
            }
            let rule = Rule {
                month_day: Some(d),
                ..Rule::every(Freq::Monthly, 1)
            };
            return Some((end, rule));
        }
        if let Some(n) = number(w)
            && let Some(unit) = self.next_word(j + 1).and_then(Unit::parse)
        {
            let rule = Rule::from_unit(unit, n)?;
            return Some(self.month_day(j + 2, rule));
        }
        let (end, days) = self.day_list(j)?;
        Some((end, Rule::on_days(1, days)))
    }

    /// "… on the 15th" after a monthly rule.
    fn month_day(&self, j: usize, rule: Rule) -> (usize, Rule) {
        if rule.freq == Freq::Monthly && self.is(j, "on") {
            let k = if self.is(j + 1, "the") { j + 2 } else { j + 1 };
            if let Some(w) = self.next_word(k)
                && let Some(d) =
                    ordinal(w).or_else(|| digits(w, 2).filter(|d| (1..=31).contains(d)))
            {
                return (
                    k + 1,
                    Rule {
                        month_day: Some(d),
                        ..rule
                    },
                );
            }
        }
        (j, rule)
    }

    /// `mon, wed and fri`: day names joined by commas, "and" or "&".
    fn day_list(&self, j: usize) -> Match<Vec<Weekday>> {
        let (first, _) = weekday(self.next_word(j)?)?;
        let mut days = vec![first];
        let mut end = j + 1;
        loop {
            let mut k = end;
            if self.glued_punct(k, ",") {
                k += 1;
                if self.is(k, "and") {
                    k += 1;
                }
            } else if self.is(k, "and") || (self.punct(k, "&") && !self.tokens[k].glued) {
                k += 1;
            } else {
                break;
            }
            let Some((day, _)) = self.next_word(k).and_then(weekday) else {
                break;
            };
            days.push(day);
            end = k + 1;
        }
        Some((end, days))
    }

    fn date(&self, i: usize, ctx: Ctx) -> Match<Date> {
        let w = self.word(i)?;
        if ctx.prep && self.tokens[i].glued {
            return None;
        }
        let today = self.today;
        let day = |end, d: NaiveDate| Some((end, Date::Day(d)));
        match w {
            "today" => return day(i + 1, today),
            "tonight" => return Some((i + 1, Date::Tonight)),
            "tomorrow" | "tmrw" => return day(i + 1, today + Days::new(1)),
            "day" if self.is(i + 1, "after") && self.is(i + 2, "tomorrow") => {
                return day(i + 3, today + Days::new(2));
            }
            "this" => {
                if self.is(i + 1, "weekend") {
                    return day(i + 2, on_or_after(today, Weekday::Sat));
                }
                let (wd, _) = weekday(self.next_word(i + 1)?)?;
                return day(i + 2, on_or_after(today, wd));
            }
            "next" => {
                let monday = week_start(today) + Days::new(7);
                return match self.next_word(i + 1)? {
                    "week" => day(i + 2, monday),
                    "weekend" => day(i + 2, monday + Days::new(5)),
                    "month" => day(
                        i + 2,
                        first_of_month(today).checked_add_months(Months::new(1))?,
                    ),
                    "year" => day(i + 2, NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)?),
                    other => {
                        let (wd, _) = weekday(other)?;
                        day(
                            i + 2,
                            monday + Days::new(u64::from(wd.num_days_from_monday())),
                        )
                    }
                };
            }
            "in" => {
                let (end, n, unit) = self.amount(i + 1)?;
                let d = match unit {
                    Unit::Minute | Unit::Hour => {
                        let minutes = unit.minutes()? * i64::from(n);
                        return Some((
                            end,
                            Date::Exact(self.now.checked_add_signed(Duration::minutes(minutes))?),
                        ));
                    }
                    Unit::Day => today.checked_add_days(Days::new(u64::from(n)))?,
                    Unit::Week => today.checked_add_days(Days::new(7 * u64::from(n)))?,
                    Unit::Month => today.checked_add_months(Months::new(n))?,
                    Unit::Year => today.checked_add_months(Months::new(n.checked_mul(12)?))?,
                };
                return YEARS.contains(&d.year()).then_some((end, Date::Day(d)));
            }
            "end" if self.is(i + 1, "of") => {
                let k = if self.is(i + 2, "the") { i + 3 } else { i + 2 };
                if self.is(k, "month") {
                    let next = first_of_month(today).checked_add_months(Months::new(1))?;
                    return day(k + 1, next.pred_opt()?);
                }
                return None;
            }
            "the" if self.is(i + 1, "end") => return self.date(i + 1, PREP),
            "the" => return self.day_month(i + 1),
            _ => {}
        }
        if let Some((wd, ambiguous)) = weekday(w) {
            if ambiguous && !ctx.prep {
                return None;
            }
            return day(i + 1, on_or_after(today + Days::new(1), wd));
        }
        if let Some(m) = month(w) {
            let dw = self.next_word(i + 1)?;
            let d = ordinal(dw).or_else(|| digits(dw, 2))?;
            let (end, year) = self.year(i + 2);
            return day(end, self.calendar(year, m, d)?);
        }
        if w.len() == 4
            && let Some(iso) = self.iso(i)
        {
            return Some(iso);
        }
        self.day_month(i)
    }

    /// `3 December`, `3rd of Dec 2027`.
    fn day_month(&self, i: usize) -> Match<Date> {
        let w = self.word(i)?;
        let d = ordinal(w).or_else(|| digits(w, 2))?;
        let k = if self.is(i + 1, "of") { i + 2 } else { i + 1 };
        let m = month(self.next_word(k)?)?;
        let (end, year) = self.year(k + 1);
        Some((end, Date::Day(self.calendar(year, m, d)?)))
    }

    /// An optional year after a day and month: `, 2027` or `2027`.
    fn year(&self, j: usize) -> (usize, Option<i32>) {
        let k = if self.glued_punct(j, ",") { j + 1 } else { j };
        match self
            .next_word(k)
            .and_then(|w| (w.len() == 4).then(|| digits(w, 4)).flatten())
        {
            Some(y) => (k + 1, i32::try_from(y).ok()),
            None => (j, None),
        }
    }

    /// `2026-12-03`.
    fn iso(&self, i: usize) -> Match<Date> {
        let parts = [
            self.word(i)?,
            self.glued_word(i + 2)?,
            self.glued_word(i + 4)?,
        ];
        if !(self.glued_punct(i + 1, "-") && self.glued_punct(i + 3, "-")) {
            return None;
        }
        let text = format!("{}-{}-{}", parts[0], parts[1], parts[2]);
        let d = super::time::parse_date(&text)?;
        Some((i + 5, Date::Day(d)))
    }

    /// A day of a month: in the given year, or the next one on or after
    /// today (within eight years: February 29). `None` where it does not
    /// exist.
    fn calendar(&self, year: Option<i32>, m: u32, d: u32) -> Option<NaiveDate> {
        match year {
            Some(y) => NaiveDate::from_ymd_opt(y, m, d).filter(|d| YEARS.contains(&d.year())),
            None => (0..8)
                .filter_map(|k| NaiveDate::from_ymd_opt(self.today.year() + k, m, d))
                .find(|date| *date >= self.today),
        }
    }

    fn time(&self, i: usize, ctx: Ctx) -> Match<NaiveTime> {
        let w = self.word(i)?;
        if ctx.prep && self.tokens[i].glued {
            return None;
        }
        match w {
            "noon" | "midday" => return Some((i + 1, hm(12, 0))),
            "midnight" => return Some((i + 1, NaiveTime::MIN)),
            "morning" => return Some((i + 1, MORNING)),
            "afternoon" => return Some((i + 1, AFTERNOON)),
            "evening" => return Some((i + 1, EVENING)),
            "in" if self.is(i + 1, "the") => {
                let t = match self.next_word(i + 2)? {
                    "morning" => MORNING,
                    "afternoon" => AFTERNOON,
                    "evening" => EVENING,
                    _ => return None,
                };
                return Some((i + 3, t));
            }
            _ => {}
        }
        // 10am
        if let Some((h, pm)) = split_meridiem(w) {
            return Some((i + 1, twelve_hour(digits(h, 2)?, 0, pm)?));
        }
        let h = digits(w, 2)?;
        // 10 am
        if let Some(pm) = self.next_word(i + 1).and_then(meridiem) {
            return Some((i + 2, twelve_hour(h, 0, pm)?));
        }
        // 10:30, 10:30pm, 10.30 pm
        let colon = self.glued_punct(i + 1, ":");
        if colon || self.glued_punct(i + 1, ".") {
            return self.minutes(i + 2, h, colon || ctx.at);
        }
        // at 5
        if ctx.at && h <= 23 {
            let h = if (1..=6).contains(&h) { h + 12 } else { h };
            return Some((i + 1, NaiveTime::from_hms_opt(h, 0, 0)?));
        }
        None
    }

    /// The minutes of `h:mm` from token `j` on, with an optional am/pm;
    /// without one the hour is read on the 24-hour clock if `bare` allows.
    fn minutes(&self, j: usize, h: u32, bare: bool) -> Match<NaiveTime> {
        let mw = self.glued_word(j)?;
        let (mins, glued_pm) = match split_meridiem(mw) {
            Some((m, pm)) => (m, Some(pm)),
            None => (mw, None),
        };
        let m = digits(mins, 2).filter(|_| mins.len() == 2)?;
        let (end, pm) = match glued_pm {
            Some(pm) => (j + 1, Some(pm)),
            None => match self.next_word(j + 1).and_then(meridiem) {
                Some(pm) => (j + 2, Some(pm)),
                None => (j + 1, None),
            },
        };
        let t = match pm {
            Some(pm) => twelve_hour(h, m, pm),
            None if bare => NaiveTime::from_hms_opt(h, m, 0),
            None => None,
        };
        t.map(|t| (end, t))
    }

    // -----------------------------------------------------------------------
    // From phrases to fields

    fn resolve(&self, found: Vec<Phrase>) -> QuickAdd {
        let mut notes = Vec::new();
        // The first of each kind applies; later ones stay in the title.
        let mut kept: Vec<&Phrase> = Vec::new();
        let mut date = None;
        let mut time = None;
        let mut rule: Option<(Rule, bool)> = None;
        let mut completion = false;
        let mut until = None;
        let mut count = None;
        let mut priority = None;
        let mut remind = None;
        let mut tags: Vec<TagName> = Vec::new();
        for phrase in &found {
            let taken = match &phrase.found {
                Found::Date(d) => take(&mut date, d.clone()),
                Found::Time(t) => take(&mut time, *t),
                Found::Rule(r, c) => take(&mut rule, (r.clone(), *c)),
                Found::Completion => !std::mem::replace(&mut completion, true),
                Found::Until(d) => take(&mut until, *d),
                Found::Count(n) => take(&mut count, *n),
                Found::Priority(p) => take(&mut priority, *p),
                Found::Remind(r) => take(&mut remind, r.clone()),
                Found::Tag(tag) => {
                    if tags.iter().any(|t| t.key() == tag.key()) {
                        true
                    } else if tags.len() < MAX_TAGS_PER_TASK {
                        tags.push(tag.clone());
                        true
                    } else {
                        notes.push(format!(
                            "{}: at most {MAX_TAGS_PER_TASK} tags",
                            self.quote(phrase)
                        ));
                        continue;
                    }
                }
            };
            if taken {
                kept.push(phrase);
            } else {
                notes.push(format!(
                    "{}: given twice; the first one applies",
                    self.quote(phrase)
                ));
            }
        }
        // Takes a kept part back out: its text returns to the title, with a note.
        let mut unapply = |kept: &mut Vec<&Phrase>, which: fn(&Found) -> bool, why: &str| {
            if let Some(k) = kept.iter().position(|p| which(&p.found)) {
                notes.push(format!("{}: {why}", self.quote(kept[k])));
                kept.remove(k);
            }
        };

        if rule.is_none() {
            let why = "needs a recurrence such as \"every week\"";
            unapply(&mut kept, |f| matches!(f, Found::Until(_)), why);
            unapply(&mut kept, |f| matches!(f, Found::Count(_)), why);
            unapply(&mut kept, |f| matches!(f, Found::Completion), why);
            (until, count, completion) = (None, None, false);
        }
        if matches!(date, Some(Date::Exact(_))) && time.is_some() {
            unapply(
                &mut kept,
                |f| matches!(f, Found::Time(_)),
                "the date already gives a time",
            );
            time = None;
        }

        let mut due = match (&date, &rule) {
            (Some(Date::Exact(t)), _) => Some(*t),
            (Some(Date::Day(d)), _) => Some(self.at(*d, time.unwrap_or(END_OF_DAY))),
            (Some(Date::Tonight), _) => {
                let t = time.map_or(EVENING, |t| {
                    if t.hour() < 12 {
                        t + Duration::hours(12)
                    } else {
                        t
                    }
                });
                Some(self.at(self.today, t))
            }
            (None, Some((r, _))) => self.first_instance(r, time),
            (None, None) => time.map(|t| self.next_at(t)),
        };

        let mut offset = None;
        match remind {
            Some(Remind::Before(m)) => match due {
                Some(_) if m <= i64::from(MAX_REMINDER_OFFSET) => offset = i32::try_from(m).ok(),
                Some(_) => unapply(
                    &mut kept,
                    |f| matches!(f, Found::Remind(_)),
                    "reminders are at most a year before",
                ),
                None => unapply(
                    &mut kept,
                    |f| matches!(f, Found::Remind(_)),
                    "needs a due date",
                ),
            },
            Some(Remind::At(t)) => match due {
                Some(d) => {
                    let local = d.with_timezone(&self.tz).date_naive();
                    let mut at = self.at(local, t);
                    if at > d {
                        at = self.at(local.pred_opt().unwrap_or(local), t);
                    }
                    let m = (d - at).num_minutes();
                    if m <= i64::from(MAX_REMINDER_OFFSET) {
                        offset = i32::try_from(m).ok();
                    }
                }
                None => {
                    due = Some(self.next_at(t));
                    offset = Some(0);
                }
            },
            None => {}
        }

        let mut recurrence = None;
        if let Some((r, every_bang)) = &rule {
            completion |= every_bang;
            recurrence = Recurrence::parse(&r.pattern(count)).ok();
        }

        let mut parts: Vec<Part> = kept.iter().map(|p| self.part(p, count)).collect();
        parts.sort_by_key(|p| p.start);
        QuickAdd {
            title: title(self.text, &self.tokens, &parts),
            priority,
            due_at: due.map(|d| d.naive_utc()),
            tags,
            recurrence,
            recurrence_mode: if completion {
                RecurrenceMode::Completion
            } else {
                RecurrenceMode::Due
            },
            recurrence_end_date: until.map(|d| day_edge(d, self.tz, DayEdge::End)),
            reminder_offset_minutes: offset,
            parts,
            notes,
        }
    }

    /// A local date and time as an instant (RFC 5545 §3.3.5: the earlier of
    /// two, and the offset before a gap for a time that does not exist).
    fn at(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => {
                let before = self
                    .tz
                    .offset_from_utc_datetime(&(local - Duration::hours(6)));
                let seconds = before.fix().local_minus_utc();
                DateTime::from_naive_utc_and_offset(
                    local - Duration::seconds(i64::from(seconds)),
                    Utc,
                )
            }
        }
    }

    /// The time today if still ahead, else tomorrow.
    fn next_at(&self, time: NaiveTime) -> DateTime<Utc> {
        let today = self.at(self.today, time);
        if today > self.now {
            today
        } else {
            self.at(self.today + Days::new(1), time)
        }
    }

    /// The first time after now that the rule allows.
    fn first_instance(&self, rule: &Rule, time: Option<NaiveTime>) -> Option<DateTime<Utc>> {
        if rule.freq == Freq::Hourly && time.is_none() {
            let hour = self.local.date().and_hms_opt(self.local.hour(), 0, 0)?;
            let next = hour + Duration::hours(1);
            return Some(self.at(next.date(), next.time()));
        }
        let time = time.unwrap_or(END_OF_DAY);
        (0..800)
            .map(|k| self.today + Days::new(k))
            .filter(|d| rule.allows(*d))
            .map(|d| self.at(d, time))
            .find(|t| *t > self.now)
    }

    /// The phrase as written, quoted, for a note.
    fn quote(&self, p: &Phrase) -> String {
        format!("{:?}", self.written(p))
    }

    fn written(&self, p: &Phrase) -> &'a str {
        let (first, last) = (&self.tokens[p.start], &self.tokens[p.end - 1]);
        &self.text[first.bytes.start..last.bytes.end]
    }

    fn part(&self, p: &Phrase, count: Option<u32>) -> Part {
        let (start, end) = (self.tokens[p.start].start, self.tokens[p.end - 1].end);
        let (kind, value, meaning) = match &p.found {
            Found::Date(Date::Day(d)) => (
                PartKind::Date,
                d.to_string(),
                d.format("%a %-d %b %Y").to_string(),
            ),
            Found::Date(Date::Exact(t)) => (
                PartKind::Date,
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                t.with_timezone(&self.tz)
                    .format("%a %-d %b %Y %H:%M")
                    .to_string(),
            ),
            Found::Date(Date::Tonight) => (
                PartKind::Date,
                self.today.to_string(),
                format!("{}, evening", self.today.format("%a %-d %b %Y")),
            ),
            Found::Time(t) => {
                let v = t.format("%H:%M").to_string();
                (PartKind::Time, v.clone(), v)
            }
            Found::Rule(r, completion) => {
                let mut meaning = r.describe();
                if *completion {
                    meaning.push_str(", counted from completion");
                }
                (PartKind::Recurrence, r.pattern(count), meaning)
            }
            Found::Completion => (
                PartKind::Recurrence,
                "completion".into(),
                "the next one counts from completion".into(),
            ),
            Found::Until(d) => (
                PartKind::Recurrence,
                d.to_string(),
                format!("until {}", d.format("%a %-d %b %Y")),
            ),
            Found::Count(n) => (
                PartKind::Recurrence,
                format!("COUNT={n}"),
                format!("{n} times"),
            ),
            Found::Priority(pr) => (
                PartKind::Priority,
                pr.as_str().into(),
                format!("priority {}", pr.as_str()),
            ),
            Found::Tag(t) => (
                PartKind::Tag,
                t.as_str().into(),
                format!("tag {}", t.as_str()),
            ),
            Found::Remind(Remind::Before(m)) => {
                let meaning = if m % 1440 == 0 {
                    format!(
                        "{} before",
                        Unit::Day.name(u32::try_from(m / 1440).unwrap_or(0))
                    )
                } else if m % 60 == 0 {
                    format!(
                        "{} before",
                        Unit::Hour.name(u32::try_from(m / 60).unwrap_or(0))
                    )
                } else {
                    format!(
                        "{} before",
                        Unit::Minute.name(u32::try_from(*m).unwrap_or(0))
                    )
                };
                (PartKind::Reminder, m.to_string(), meaning)
            }
            Found::Remind(Remind::At(t)) => {
                let v = format!("at {}", t.format("%H:%M"));
                (PartKind::Reminder, v.clone(), v)
            }
        };
        Part {
            kind,
            start,
            end,
            text: self.written(p).to_owned(),
            value,
            meaning,
        }
    }
}

fn take<T>(slot: &mut Option<T>, value: T) -> bool {
    if slot.is_some() {
        return false;
    }
    *slot = Some(value);
    true
}

fn meridiem(s: &str) -> Option<bool> {
    match s {
        "am" => Some(false),
        "pm" => Some(true),
        _ => None,
    }
}

/// `10pm` → (`10`, true).
fn split_meridiem(s: &str) -> Option<(&str, bool)> {
    let (n, pm) = s
        .strip_suffix("am")
        .map(|n| (n, false))
        .or_else(|| s.strip_suffix("pm").map(|n| (n, true)))?;
    (!n.is_empty()).then_some((n, pm))
}

fn twelve_hour(h: u32, m: u32, pm: bool) -> Option<NaiveTime> {
    if !(1..=12).contains(&h) {
        return None;
    }
    let h = match (h, pm) {
        (12, false) => 0,
        (12, true) => 12,
        (h, false) => h,
        (h, true) => h + 12,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

fn week_start(d: NaiveDate) -> NaiveDate {
    d - Days::new(u64::from(d.weekday().num_days_from_monday()))
}

fn on_or_after(d: NaiveDate, wd: Weekday) -> NaiveDate {
    let ahead = (7 + wd.num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
    d + Days::new(u64::from(ahead))
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// The text without the parts and quote marks, white space normalised,
/// separators a removed part left doubled dropped and those at either end
/// trimmed.
fn title(text: &str, tokens: &[Token<'_>], parts: &[Part]) -> String {
    let mut raw = String::with_capacity(text.len());
    let mut parts = parts.iter().peekable();
    let mut marks = tokens.iter().filter(|t| t.mark).map(|t| t.start).peekable();
    for (i, c) in text.chars().enumerate() {
        while parts.peek().is_some_and(|p| p.end <= i) {
            parts.next();
        }
        if parts.peek().is_some_and(|p| p.start <= i) {
            raw.push(' ');
        } else if marks.peek() == Some(&i) {
            marks.next();
        } else {
            raw.push(c);
        }
    }
    let mut out = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if word.chars().all(|c| SEPARATORS.contains(&c)) {
            if !out.is_empty() && !out.ends_with(SEPARATORS) {
                out.push_str(word);
            }
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.trim_matches(|c: char| c.is_whitespace() || TRIMMED.contains(&c))
        .to_owned()
}

/// Punctuation that a removed part may leave on its own.
pub const SEPARATORS: [char; 6] = [',', ';', ':', '.', '!', '?'];
/// What is trimmed from either end of a title.
pub const TRIMMED: [char; 6] = [',', ';', ':', '-', '\u{2013}', '\u{2014}'];
