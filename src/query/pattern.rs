//! The text argument of the pattern lookups (`contains`, `like`, …).

use std::borrow::Cow;

/// Text a pattern lookup can take: `&str`, `String`, `&String`,
/// `Cow<str>` and `Box<str>`, the same text values
/// [`eq`](crate::Column::eq) takes on a `String` column.
///
/// ```
/// use sylvan::prelude::*;
///
/// #[derive(Model)]
/// struct Book {
///     #[model(primary_key)]
///     id: i64,
///     title: String,
/// }
///
/// let wanted = String::from("rust");
/// let a = Book::TITLE.icontains(&wanted);
/// let b = Book::TITLE.icontains(wanted.clone());
/// let c = Book::TITLE.icontains("rust");
/// assert_eq!(format!("{a:?}"), format!("{c:?}"));
/// assert_eq!(format!("{b:?}"), format!("{c:?}"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not text a pattern lookup can take",
    label = "expected `&str` or `String`",
    note = "pattern lookups (`contains`, `icontains`, `startswith`, `like`, …) take text: pass a `&str` or a `String` (for other values, `.to_string()` first)"
)]
pub trait PatternText {
    #[doc(hidden)]
    fn into_pattern(self) -> String;
}

impl PatternText for &str {
    fn into_pattern(self) -> String {
        self.to_owned()
    }
}

impl PatternText for String {
    fn into_pattern(self) -> String {
        self
    }
}

impl PatternText for &String {
    fn into_pattern(self) -> String {
        self.clone()
    }
}

impl PatternText for Cow<'_, str> {
    fn into_pattern(self) -> String {
        self.into_owned()
    }
}

impl PatternText for Box<str> {
    fn into_pattern(self) -> String {
        self.into_string()
    }
}
