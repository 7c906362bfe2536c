//! Newtypes as columns: what a type stored as its one field inherits from
//! that field's type (text lookups, `auto` keys, `min` / `max`).

use super::field::{AutoKey, NonNull, Ordered, Text};

/// A column type stored exactly as its one field, of type
/// [`Newtype::Inner`]: `struct BookId(i64)` is a `BIGINT` column holding
/// the `i64`. [`#[derive(FieldType)]`](derive@crate::FieldType) on a tuple
/// struct with one field implements it.
///
/// A newtype gets the capabilities of its inner type: an `auto` key when
/// the inner type is an integer ([`AutoKey`]), `min` / `max` ([`Ordered`]),
/// and the pattern lookups (`contains`, …) over a `String` ([`Text`]). It
/// does not get arithmetic or `sum` / `avg` ([`Numeric`](crate::Numeric));
/// keep a quantity that needs them as its inner type.
///
/// ```
/// use sylvan::{FieldType, Model};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, FieldType)]
/// struct BookId(i64);
///
/// #[derive(Debug, Clone, PartialEq, FieldType)]
/// struct Title(String);
///
/// #[derive(Model)]
/// struct Book {
///     #[model(primary_key, auto)]
///     id: BookId,
///     title: Title,
/// }
///
/// let _q = Book::objects()
///     .filter(Book::ID.gt(BookId(10)))
///     .filter(Book::TITLE.icontains("rust"));
/// ```
///
/// Its implementations of the capability traits are not offered as hints
/// in compiler errors (`#[diagnostic::do_not_recommend]`), so a missing
/// capability of a built-in type is reported as that trait, not as a
/// missing `Newtype`.
pub trait Newtype: NonNull {
    /// The type of the one field.
    type Inner: NonNull;
}

#[diagnostic::do_not_recommend]
impl<T: Newtype> AutoKey for T where T::Inner: AutoKey {}

#[diagnostic::do_not_recommend]
impl<T: Newtype> Ordered for T where T::Inner: Ordered {}

#[diagnostic::do_not_recommend]
impl<T: Newtype> Text for T where T::Inner: Text {}

#[diagnostic::do_not_recommend]
impl<T: Newtype> Text for Option<T> where T::Inner: Text {}
