//! What Rust types a column can hold, and which lookups each allows.

use crate::value::{Allowed, Decode, SqlType, ToValue};

/// A Rust type a model field (and so a column) can have: the scalar types
/// of the [value table](crate::Value), your own enums and newtypes with
/// [`#[derive(FieldType)]`](derive@crate::FieldType), and `Option` of them
/// for nullable columns.
///
/// A type of your own written by hand implements [`ToValue`], [`Decode`],
/// `FieldType` (with `Base = Self`) and [`NonNull`]; its values are then
/// usable in filters and assignments like a built-in type's. Its
/// `to_value` must not fail: a filter has nowhere to report the error and
/// would compare with NULL.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of a model field",
    label = "not a column type",
    note = "column types: bool, i16, i32, i64, f32, f64, String, Vec<u8>, the chrono / uuid / json types behind features, and Option of any of them",
    note = "for an enum of unit variants or a newtype such as `struct BookId(i64);`, add `#[derive(sylvan::FieldType)]`"
)]
pub trait FieldType: Decode + ToValue + Clone + Send + Sync + 'static {
    /// The non-null type underneath (`i32` for both `i32` and `Option<i32>`).
    type Base: FieldType;
    /// True for `Option<_>`.
    const NULLABLE: bool;
    /// The SQL type.
    const SQL_TYPE: SqlType;
    /// The only values the column may hold, if the type restricts them (an
    /// enum's variants): the column's `CHECK` constraint.
    const ALLOWED: Option<Allowed> = None;
}

/// An integer type a database can generate as a key: `#[model(auto)]`
/// needs one.
#[diagnostic::on_unimplemented(
    message = "`auto` keys must be integers (i16, i32 or i64), not `{Self}`",
    label = "the database cannot generate this key",
    note = "drop `auto` and set the key yourself, or make the field an integer (or a `#[derive(FieldType)]` newtype of one, such as `struct BookId(i64);`)"
)]
pub trait AutoKey: FieldType {}

impl AutoKey for i16 {}
impl AutoKey for i32 {}
impl AutoKey for i64 {}

/// A type `min` and `max` apply to on both backends (PostgreSQL has no
/// `min(boolean)`, `min(bytea)`, `min(uuid)` or `min(jsonb)`).
#[diagnostic::on_unimplemented(
    message = "`min` / `max` need an ordered column type, not `{Self}`",
    label = "PostgreSQL has no min/max for this type",
    note = "ordered types: integers, floats, String and the chrono types"
)]
pub trait Ordered: FieldType {}

macro_rules! ordered {
    ($($t:ty),*) => {$(impl Ordered for $t {})*};
}

ordered!(i16, i32, i64, f32, f64, String);

#[cfg(feature = "chrono")]
ordered!(
    chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc>,
    chrono::NaiveDate,
    chrono::NaiveTime
);

/// A column type that is not `Option`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a non-null column type, so `Option<{Self}>` cannot be a column type",
    label = "not a column type",
    note = "`Option<T>` is a nullable column of `T`, where `T` is one of bool, i16, i32, i64, f32, f64, String, Vec<u8>, or the chrono / uuid / json types behind features (not another `Option`); an enum or newtype of your own becomes one with `#[derive(sylvan::FieldType)]`"
)]
pub trait NonNull: FieldType {}

/// A nullable column type: `is_null` and `is_not_null` need one.
#[diagnostic::on_unimplemented(
    message = "`is_null` / `is_not_null` need a nullable column, but this column holds `{Self}`",
    label = "this column cannot be NULL",
    note = "declare the field as `Option<{Self}>` to make the column nullable"
)]
pub trait Nullable: FieldType {}

/// A text column type: the pattern lookups (`contains`, `like`, …) need one.
#[diagnostic::on_unimplemented(
    message = "this lookup needs a text column, but this column holds `{Self}`",
    label = "not a text column",
    note = "`contains`, `icontains`, `startswith`, `endswith`, `like` and `ilike` apply to String columns, `#[derive(FieldType)]` newtypes of String, and Option of them",
    note = "to match a `#[derive(FieldType)]` enum column, compare whole variants with `eq` or `in_`"
)]
pub trait Text: FieldType {}

/// A numeric column type: arithmetic and `sum` / `avg` need one.
#[diagnostic::on_unimplemented(
    message = "arithmetic and sum/avg need a numeric column, but this column holds `{Self}`",
    label = "not a numeric column"
)]
pub trait Numeric: FieldType {
    /// The type `sum` returns (before `Option`): `i64` for integers, `f64`
    /// for floats.
    type Sum: FieldType + NonNull;
}

macro_rules! field_types {
    ($($t:ty => $sql:ident),* $(,)?) => {$(
        impl FieldType for $t {
            type Base = $t;
            const NULLABLE: bool = false;
            const SQL_TYPE: SqlType = SqlType::$sql;
        }
        impl NonNull for $t {}
    )*};
}

field_types!(
    bool => Bool,
    i16 => I16,
    i32 => I32,
    i64 => I64,
    f32 => F32,
    f64 => F64,
    String => Text,
    Vec<u8> => Blob,
);

#[cfg(feature = "chrono")]
field_types!(
    chrono::NaiveDateTime => Timestamp,
    chrono::DateTime<chrono::Utc> => TimestampTz,
    chrono::NaiveDate => Date,
    chrono::NaiveTime => Time,
);

#[cfg(feature = "uuid")]
field_types!(uuid::Uuid => Uuid);

#[cfg(feature = "json")]
field_types!(serde_json::Value => Json);

impl<T: NonNull> FieldType for Option<T> {
    type Base = T;
    const NULLABLE: bool = true;
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const ALLOWED: Option<Allowed> = T::ALLOWED;
}

impl<T: NonNull> Nullable for Option<T> {}

impl Text for String {}
impl Text for Option<String> {}

macro_rules! numeric {
    ($($t:ty => $sum:ty),*) => {$(
        impl Numeric for $t {
            type Sum = $sum;
        }
        impl Numeric for Option<$t> {
            type Sum = $sum;
        }
    )*};
}

numeric!(i16 => i64, i32 => i64, i64 => i64, f32 => f64, f64 => f64);
