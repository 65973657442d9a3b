//! Tags: per-user names, unique case-insensitively, with an optional colour.

use serde::Serialize;
use utoipa::ToSchema;

use super::fold_case;

/// Most tags one task may carry.
pub const MAX_TAGS_PER_TASK: usize = 20;

/// A tag name: trimmed, 1–50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName {
    name: String,
    key: String,
}

impl TagName {
    pub fn parse(s: &str) -> Result<Self, String> {
        let name = s.trim();
        let len = name.chars().count();
        if !(1..=50).contains(&len) {
            return Err("tag names are 1-50 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("tag names must not contain control characters".into());
        }
        if name.contains([',', '|']) {
            return Err("tag names must not contain commas or |".into());
        }
        Ok(Self {
            name: name.to_owned(),
            key: fold_case(name),
        })
    }

    /// The name as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The case-folded name that uniqueness is checked on.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// Parses a list of tag names, dropping case-insensitive duplicates.
pub fn parse_tag_list(names: &[String]) -> Result<Vec<TagName>, String> {
    let mut out: Vec<TagName> = Vec::with_capacity(names.len());
    for name in names {
        let tag = TagName::parse(name)?;
        if !out.iter().any(|t| t.key == tag.key) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS_PER_TASK {
        return Err(format!("a task has at most {MAX_TAGS_PER_TASK} tags"));
    }
    Ok(out)
}

/// A colour as `#rrggbb`.
pub fn parse_color(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err("colours are written #rrggbb".into())
    }
}

/// A tag as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    pub id: uuid::Uuid,
    pub name: String,
    pub color: Option<String>,
    /// How many of the user's tasks carry it.
    pub task_count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(TagName::parse("  Work ").unwrap().as_str(), "Work");
        assert_eq!(TagName::parse("Work").unwrap().key(), "work");
        assert!(TagName::parse("   ").is_err());
        assert!(TagName::parse(&"x".repeat(51)).is_err());
        assert!(TagName::parse("a,b").is_err());
    }

    #[test]
    fn lists_drop_duplicates_and_cap_at_twenty() {
        let names: Vec<String> = vec!["Work".into(), "work".into(), "home".into()];
        assert_eq!(parse_tag_list(&names).unwrap().len(), 2);
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert!(parse_tag_list(&many).is_err());
    }

    #[test]
    fn colours_are_hex() {
        assert_eq!(parse_color("#A0B1C2").unwrap(), "#a0b1c2");
        assert!(parse_color("red").is_err());
    }
}
