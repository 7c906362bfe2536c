//! The `Model` trait that `#[derive(Model)]` implements.

use crate::row::FromRow;

/// A Rust struct mapped to a table.
///
/// Derive it with `#[derive(Model)]`: the table is the struct's name in
/// snake_case (`BlogPost` → `blog_post`, not pluralised) unless
/// `#[model(table = "…")]` says otherwise; each field is a column of the same
/// name unless `#[model(column = "…")]` renames it. Rows decode by column
/// position in field order, so select [`Model::COLUMNS`] in that order.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::Model;
///
/// #[derive(Debug, PartialEq, Model)]
/// #[model(table = "people")]
/// struct Person {
///     id: i64,
///     #[model(column = "full_name")]
///     name: String,
///     age: Option<i32>,
/// }
///
/// assert_eq!(Person::TABLE, "people");
/// assert_eq!(Person::COLUMNS, &["id", "full_name", "age"]);
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL, age INTEGER)", ()).await?;
/// db.execute("INSERT INTO people VALUES ($1, $2, $3)", (1, "Ada", None::<i32>)).await?;
/// let ada: Person = db.fetch_one("SELECT id, full_name, age FROM people", ()).await?;
/// assert_eq!(ada, Person { id: 1, name: "Ada".into(), age: None });
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub trait Model: FromRow {
    /// The table name.
    const TABLE: &'static str;
    /// Column names, in field order.
    const COLUMNS: &'static [&'static str];
}
