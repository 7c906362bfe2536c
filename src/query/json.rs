//! Lookups into JSON columns (feature `json`): a value by key path, typed
//! (`json_get::<i64>(["a", "b"])`), key existence and containment.
//!
//! PostgreSQL uses `->`, `->>`, `?` and `@>` on `jsonb`; SQLite uses its
//! JSON functions, and spells containment out: an object contains each of
//! the needle's keys, recursively; an array contains, for each element of
//! the needle's, some element (`json_each`); scalars compare by JSON type
//! and value.

use super::operand::Operand;
use super::render::SqlWriter;
use crate::backend::Dialect;
use crate::value::Value;

/// One step of a JSON path: an object key or an array index. `&str` and
/// `String` convert to keys, `i32` to indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonKey {
    /// An object member.
    Key(String),
    /// An array element, from 0.
    Index(i32),
}

impl From<&str> for JsonKey {
    fn from(key: &str) -> Self {
        JsonKey::Key(key.to_owned())
    }
}

impl From<String> for JsonKey {
    fn from(key: String) -> Self {
        JsonKey::Key(key)
    }
}

impl From<i32> for JsonKey {
    fn from(index: i32) -> Self {
        JsonKey::Index(index)
    }
}

/// What a JSON value is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
#[cfg_attr(not(feature = "json"), allow(dead_code))]
pub enum JsonAs {
    Json,
    Text,
    I64,
    F64,
    Bool,
}

/// The value at `path` in the JSON `operand`.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub struct JsonGet {
    pub(crate) operand: Operand,
    pub(crate) path: Vec<JsonKey>,
    pub(crate) as_: JsonAs,
}

/// `path` as an SQLite JSON path (`$."a"[0]`). SQLite's quoted labels
/// cannot hold a `"`.
fn sqlite_path(path: &[JsonKey]) -> String {
    let mut out = String::from("$");
    for step in path {
        match step {
            JsonKey::Key(k) => {
                out.push_str(".\"");
                out.push_str(k);
                out.push('"');
            }
            JsonKey::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

impl SqlWriter {
    pub(crate) fn push_json_get(&mut self, get: &JsonGet) {
        let cast = match (get.as_, self.dialect()) {
            (JsonAs::I64, Dialect::Postgres) => Some("BIGINT"),
            (JsonAs::F64, Dialect::Postgres) => Some("DOUBLE PRECISION"),
            (JsonAs::Bool, Dialect::Postgres) => Some("BOOLEAN"),
            (JsonAs::F64, Dialect::Sqlite) => Some("REAL"),
            _ => None,
        };
        if cast.is_some() {
            self.push_sql("CAST(");
        }
        self.push_sql("(");
        self.push_operand(&get.operand);
        match self.dialect() {
            Dialect::Postgres => {
                if get.path.is_empty() && get.as_ != JsonAs::Json {
                    self.push_sql(" #>> '{}'");
                }
                for (i, step) in get.path.iter().enumerate() {
                    let last = i + 1 == get.path.len();
                    self.push_sql(if last && get.as_ != JsonAs::Json {
                        " ->> "
                    } else {
                        " -> "
                    });
                    match step {
                        JsonKey::Key(k) => self.push_bind(Value::Text(k.clone())),
                        JsonKey::Index(n) => {
                            self.push_sql("CAST(");
                            self.push_bind(Value::I32(*n));
                            self.push_sql(" AS INTEGER)");
                        }
                    }
                }
            }
            Dialect::Sqlite => {
                self.push_sql(if get.as_ == JsonAs::Json {
                    " -> "
                } else {
                    " ->> "
                });
                self.push_bind(Value::Text(sqlite_path(&get.path)));
            }
        }
        self.push_sql(")");
        if let Some(ty) = cast {
            self.push_sql(" AS ");
            self.push_sql(ty);
            self.push_sql(")");
        }
    }
}

#[cfg(feature = "json")]
pub use typed::JsonScalar;

#[cfg(feature = "json")]
mod typed {
    use super::{JsonAs, JsonGet, JsonKey};
    use crate::backend::Dialect;
    use crate::query::column::Column;
    use crate::query::condition::{Condition, Node};
    use crate::query::field::FieldType;
    use crate::query::operand::{Expr, Operand};
    use crate::query::render::SqlWriter;
    use crate::value::Value;

    /// A type [`json_get`](crate::Column::json_get) reads a JSON value as:
    /// `serde_json::Value` (any JSON), `String`, `i64`, `f64` or `bool`.
    #[diagnostic::on_unimplemented(
        message = "a JSON value cannot be read as `{Self}`",
        label = "not a JSON read type",
        note = "read JSON values as serde_json::Value, String, i64, f64 or bool"
    )]
    pub trait JsonScalar: crate::query::field::NonNull {
        #[doc(hidden)]
        const AS: JsonAs;
    }

    impl JsonScalar for serde_json::Value {
        const AS: JsonAs = JsonAs::Json;
    }
    impl JsonScalar for String {
        const AS: JsonAs = JsonAs::Text;
    }
    impl JsonScalar for i64 {
        const AS: JsonAs = JsonAs::I64;
    }
    impl JsonScalar for f64 {
        const AS: JsonAs = JsonAs::F64;
    }
    impl JsonScalar for bool {
        const AS: JsonAs = JsonAs::Bool;
    }

    macro_rules! json_lookups {
        ($ty:ident, $self_:ident => $operand:expr) => {
            impl<M, J: FieldType<Base = serde_json::Value>> $ty<M, J> {
                /// The value at `path` (keys, or indexes for arrays) read as
                /// `T`; NULL (`None`) where the path is missing. A value of
                /// another JSON type fails the cast on PostgreSQL and does
                /// not decode on SQLite (read it as `serde_json::Value`).
                ///
                /// ```
                /// use sylvan::{Dialect, Model};
                /// #[derive(Model)]
                /// struct Event { #[model(primary_key, auto)] id: i64, data: serde_json::Value }
                /// let q = Event::objects().filter(Event::DATA.json_get::<i64>(["user", "age"]).ge(18));
                /// assert_eq!(
                ///     q.to_sql(Dialect::Postgres).0,
                ///     r#"SELECT "event"."id", "event"."data" FROM "event" WHERE ((CAST(("event"."data" -> $1 ->> $2) AS BIGINT) >= $3))"#
                /// );
                /// assert_eq!(
                ///     q.to_sql(Dialect::Sqlite).0,
                ///     r#"SELECT "event"."id", "event"."data" FROM "event" WHERE ((("event"."data" ->> ?1) >= ?2))"#
                /// );
                /// ```
                pub fn json_get<T: JsonScalar>(
                    &$self_,
                    path: impl IntoIterator<Item = impl Into<JsonKey>>,
                ) -> Expr<M, Option<T>> {
                    Expr::new(Operand::JsonGet(Box::new(JsonGet {
                        operand: $operand,
                        path: path.into_iter().map(Into::into).collect(),
                        as_: T::AS,
                    })))
                }

                /// The JSON object has `key` at its top level (PostgreSQL's
                /// `?`, which also matches a string element of an array;
                /// SQLite's `json_type(…) IS NOT NULL`).
                pub fn has_key(&$self_, key: impl Into<String>) -> Condition<M> {
                    Condition::new(Node::JsonHasKey($operand, key.into()))
                }

                /// The JSON value contains `needle` (PostgreSQL's `@>`): an
                /// object contains an object whose members it contains, an
                /// array contains an array each of whose elements one of
                /// its own contains, scalars contain equal scalars.
                pub fn json_contains(&$self_, needle: serde_json::Value) -> Condition<M> {
                    Condition::new(Node::JsonContains($operand, needle))
                }
            }
        };
    }

    json_lookups!(Column, self => self.operand());
    json_lookups!(Expr, self => self.operand.clone());

    /// Where a SQLite containment check reads: a path from the root, or
    /// one below an element `json_each` (aliased) is at.
    struct Path<'a> {
        each: Option<&'a str>,
        suffix: String,
    }

    impl Path<'_> {
        fn child(&self, step: &str) -> Path<'_> {
            Path {
                each: self.each,
                suffix: format!("{}{step}", self.suffix),
            }
        }
    }

    impl SqlWriter {
        pub(crate) fn push_json_has_key(&mut self, operand: &Operand, key: &str) {
            self.push_sql("(");
            match self.dialect() {
                Dialect::Postgres => {
                    self.push_operand(operand);
                    self.push_sql(" ? ");
                    self.push_bind(Value::Text(key.to_owned()));
                }
                Dialect::Sqlite => {
                    self.push_sql("json_type(");
                    self.push_operand(operand);
                    self.push_sql(", ");
                    let path = super::sqlite_path(&[JsonKey::Key(key.to_owned())]);
                    self.push_bind(Value::Text(path));
                    self.push_sql(") IS NOT NULL");
                }
            }
            self.push_sql(")");
        }

        pub(crate) fn push_json_contains(&mut self, operand: &Operand, needle: &serde_json::Value) {
            match self.dialect() {
                Dialect::Postgres => {
                    self.push_sql("(");
                    self.push_operand(operand);
                    self.push_sql(" @> ");
                    self.push_bind(Value::Json(needle.clone()));
                    self.push_sql(")");
                }
                Dialect::Sqlite => {
                    let root = Path {
                        each: None,
                        suffix: String::new(),
                    };
                    self.push_sqlite_contains(operand, &root, needle, 0);
                }
            }
        }

        fn push_sqlite_path(&mut self, path: &Path<'_>) {
            match path.each {
                Some(alias) => {
                    self.push_column(alias, "fullkey");
                    if !path.suffix.is_empty() {
                        self.push_sql(" || ");
                        self.push_bind(Value::Text(path.suffix.clone()));
                    }
                }
                None => self.push_bind(Value::Text(format!("${}", path.suffix))),
            }
        }

        fn push_sqlite_json_fn(&mut self, function: &str, operand: &Operand, path: &Path<'_>) {
            self.push_sql(function);
            self.push_sql("(");
            self.push_operand(operand);
            self.push_sql(", ");
            self.push_sqlite_path(path);
            self.push_sql(")");
        }

        fn push_sqlite_type_is(&mut self, operand: &Operand, path: &Path<'_>, types: &str) {
            self.push_sqlite_json_fn("json_type", operand, path);
            self.push_sql(types);
        }

        fn push_sqlite_contains(
            &mut self,
            operand: &Operand,
            path: &Path<'_>,
            needle: &serde_json::Value,
            depth: usize,
        ) {
            use serde_json::Value as J;
            self.push_sql("(");
            match needle {
                J::Null => self.push_sqlite_type_is(operand, path, " = 'null'"),
                J::Bool(true) => self.push_sqlite_type_is(operand, path, " = 'true'"),
                J::Bool(false) => self.push_sqlite_type_is(operand, path, " = 'false'"),
                J::String(s) => {
                    self.push_sqlite_type_is(operand, path, " = 'text' AND ");
                    self.push_sqlite_json_fn("json_extract", operand, path);
                    self.push_sql(" = ");
                    self.push_bind(Value::Text(s.clone()));
                }
                J::Number(n) => {
                    self.push_sqlite_type_is(operand, path, " IN ('integer', 'real') AND ");
                    self.push_sqlite_json_fn("json_extract", operand, path);
                    self.push_sql(" = ");
                    self.push_bind(match n.as_i64() {
                        Some(i) => Value::I64(i),
                        None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
                    });
                }
                J::Object(map) => {
                    self.push_sqlite_type_is(operand, path, " = 'object'");
                    for (key, value) in map {
                        self.push_sql(" AND ");
                        let step = super::sqlite_path(&[JsonKey::Key(key.clone())]);
                        let child = path.child(&step[1..]);
                        self.push_sqlite_contains(operand, &child, value, depth);
                    }
                }
                J::Array(items) => {
                    self.push_sqlite_type_is(operand, path, " = 'array'");
                    let alias = format!("sylvan_j{depth}");
                    for item in items {
                        self.push_sql(" AND EXISTS (SELECT 1 FROM ");
                        self.push_sqlite_json_fn("json_each", operand, path);
                        self.push_sql(" AS ");
                        self.push_identifier(&alias);
                        self.push_sql(" WHERE ");
                        let element = Path {
                            each: Some(&alias),
                            suffix: String::new(),
                        };
                        self.push_sqlite_contains(operand, &element, item, depth + 1);
                        self.push_sql(")");
                    }
                }
            }
            self.push_sql(")");
        }
    }
}
