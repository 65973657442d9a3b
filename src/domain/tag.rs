//! Tags: per-user names, unique case-insensitively, with an optional colour.

use serde::Serialize;
use utoipa::ToSchema;

use super::fold_case;

/// Most tags one task may carry.
pub const MAX_TAGS_PER_TASK: usize = 20;

/// Longest tag name, in characters.
pub const MAX_TAG_NAME: usize = 50;

/// What a tag name may be: no control characters, commas or `|` (list and
/// filter delimiters), something besides white space.
pub const TAG_NAME_PATTERN: &str = concat!(
    r"^[^\x00-\x1F\x7F-\x9F,|]*",
    r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000,|]",
    r"[^\x00-\x1F\x7F-\x9F,|]*$"
);

/// A tag name: at most 50 characters, no control characters, commas or `|`,
/// not only white space (which is trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName {
    name: String,
    key: String,
}

impl TagName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.chars().any(char::is_control) {
            return Err("tag names must not contain control characters".into());
        }
        if s.contains([',', '|']) {
            return Err("tag names must not contain commas or |".into());
        }
        let name = s.trim();
        if name.is_empty() || s.chars().count() > MAX_TAG_NAME {
            return Err(format!("tag names are 1-{MAX_TAG_NAME} characters"));
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

/// Parses a list of at most 20 tag names, dropping case-insensitive
/// duplicates.
pub fn parse_tag_list(names: &[String]) -> Result<Vec<TagName>, String> {
    if names.len() > MAX_TAGS_PER_TASK {
        return Err(format!("a task has at most {MAX_TAGS_PER_TASK} tags"));
    }
    let mut out: Vec<TagName> = Vec::with_capacity(names.len());
    for name in names {
        let tag = TagName::parse(name)?;
        if !out.iter().any(|t| t.key == tag.key) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// What a colour may be.
pub const COLOR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";

/// A colour as `#rrggbb`.
pub fn parse_color(s: &str) -> Result<String, String> {
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
