//! The closed set of values an enum column may hold.

use super::ValueRef;

/// The values a column type allows, when it allows only some: what a
/// [`#[derive(FieldType)]`](derive@crate::FieldType) enum stores, one per
/// variant. [`create_table_sql`](crate::create_table_sql) turns it into the
/// column's `CHECK (… IN (…))` constraint, and decoding uses it to tell a
/// variant from an unknown value.
///
/// ```
/// use sylvan::{Allowed, ValueRef};
///
/// let status = Allowed::Text(&["draft", "published"]);
/// assert_eq!(status.position(ValueRef::Text(b"published"), "Status"), Ok(1));
/// assert_eq!(
///     status.position(ValueRef::Text(b"archived"), "Status").unwrap_err(),
///     r#"found "archived", which is not a `Status` (expected one of: "draft", "published")"#,
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Allowed {
    /// Text values, each stored as it is written here.
    Text(&'static [&'static str]),
    /// Integer values.
    Integer(&'static [i64]),
}

/// Unknown text longer than this is cut in error messages.
const SHOWN_MAX: usize = 64;

impl Allowed {
    /// The position of `value` in the list, or why it is not in it: an
    /// unknown value (shown, cut to 64 characters, with the valid ones) or a
    /// value of another kind. `type_name` is the Rust type, for the message.
    pub fn position(&self, value: ValueRef<'_>, type_name: &str) -> Result<usize, String> {
        let found = match (self, value) {
            (Allowed::Text(names), ValueRef::Text(text)) => {
                if let Some(i) = names.iter().position(|n| n.as_bytes() == text) {
                    return Ok(i);
                }
                shown_text(text)
            }
            (Allowed::Integer(values), ValueRef::Int(n)) => {
                if let Some(i) = values.iter().position(|v| *v == n) {
                    return Ok(i);
                }
                n.to_string()
            }
            (Allowed::Text(_), other) => return Err(format!("found {}, not text", other.kind())),
            (Allowed::Integer(_), other) => {
                return Err(format!("found {}, not an integer", other.kind()))
            }
        };
        Err(format!(
            "found {found}, which is not a `{type_name}` (expected one of: {})",
            self.listed()
        ))
    }

    /// The values, as SQL would spell them: `"a", "b"` or `1, 2`.
    fn listed(&self) -> String {
        match self {
            Allowed::Text(names) => names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            Allowed::Integer(values) => values
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// `text` quoted for a message, cut to [`SHOWN_MAX`] characters.
fn shown_text(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    if text.chars().count() > SHOWN_MAX {
        let cut: String = text.chars().take(SHOWN_MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_kinds() {
        let level = Allowed::Integer(&[1, 5]);
        assert_eq!(level.position(ValueRef::Int(5), "Level"), Ok(1));
        let e = level.position(ValueRef::Int(3), "Level").unwrap_err();
        assert_eq!(e, "found 3, which is not a `Level` (expected one of: 1, 5)");
        let e = level.position(ValueRef::Text(b"1"), "Level").unwrap_err();
        assert_eq!(e, "found text, not an integer");
        let e = Allowed::Text(&["a"])
            .position(ValueRef::Null, "A")
            .unwrap_err();
        assert_eq!(e, "found NULL, not text");
    }

    #[test]
    fn long_unknown_text_is_cut() {
        let long = "x".repeat(100);
        let e = Allowed::Text(&["a"])
            .position(ValueRef::Text(long.as_bytes()), "A")
            .unwrap_err();
        assert!(e.contains(&format!("\"{}\"…", "x".repeat(64))), "{e}");
        assert!(!e.contains(&"x".repeat(65)), "{e}");
    }
}
