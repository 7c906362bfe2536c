//! The write path: bulk inserts chunked under each backend's bind limit,
//! and upserts (`ON CONFLICT … DO UPDATE / DO NOTHING`).

use super::column::Column;
use super::field::FieldType;
use super::render::SqlWriter;
use crate::error::Result;
use crate::executor::private::Origin;
use crate::executor::Executor;
use crate::model::Model;
use crate::row::Cardinality;
use crate::value::Value;
use std::marker::PhantomData;

/// What to do when an insert hits a unique constraint.
///
/// ```
/// use sylvan::{Model, OnConflict};
/// # #[derive(Model)] struct User { #[model(primary_key, auto)] id: i64, #[model(unique)] email: String, name: String }
/// // Keep the existing row:
/// let skip = OnConflict::<User>::do_nothing();
/// // Overwrite `name` of the row with the same email:
/// let merge = OnConflict::columns(User::EMAIL).do_update(User::NAME);
/// # let _ = (skip, merge);
/// ```
pub struct OnConflict<M> {
    target: Vec<&'static str>,
    update: Option<Vec<&'static str>>,
    _marker: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for OnConflict<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnConflict")
            .field("target", &self.target)
            .field("update", &self.update)
            .finish()
    }
}

impl<M: Model> OnConflict<M> {
    /// Skip rows that conflict with any unique constraint.
    pub fn do_nothing() -> Self {
        OnConflict {
            target: Vec::new(),
            update: None,
            _marker: PhantomData,
        }
    }

    /// Conflicts on these columns (a unique constraint or index over
    /// exactly them); follow with `do_update` or `do_nothing_on`.
    pub fn columns(columns: impl ColumnList<M>) -> ConflictTarget<M> {
        ConflictTarget {
            target: columns.names(),
            _marker: PhantomData,
        }
    }
}

/// The conflict columns of an upsert, waiting for its action.
pub struct ConflictTarget<M> {
    target: Vec<&'static str>,
    _marker: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for ConflictTarget<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConflictTarget")
            .field("target", &self.target)
            .finish()
    }
}

impl<M: Model> ConflictTarget<M> {
    /// Overwrite these columns of the existing row with the new values.
    pub fn do_update(self, columns: impl ColumnList<M>) -> OnConflict<M> {
        OnConflict {
            target: self.target,
            update: Some(columns.names()),
            _marker: PhantomData,
        }
    }

    /// Overwrite every column but the primary key and the conflict columns.
    pub fn do_update_all(self) -> OnConflict<M> {
        let update = M::COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, c)| *i != M::PRIMARY_KEY_INDEX && !self.target.contains(c))
            .map(|(_, c)| *c)
            .collect();
        OnConflict {
            target: self.target,
            update: Some(update),
            _marker: PhantomData,
        }
    }

    /// Keep the existing row when these columns conflict.
    pub fn do_nothing(self) -> OnConflict<M> {
        OnConflict {
            target: self.target,
            update: None,
            _marker: PhantomData,
        }
    }
}

/// Columns of model `M`: one column or a tuple of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a list of this model's columns",
    label = "expected a column of the model, or a tuple of them"
)]
pub trait ColumnList<M> {
    #[doc(hidden)]
    fn names(self) -> Vec<&'static str>;
}

impl<M, T: FieldType> ColumnList<M> for Column<M, T> {
    fn names(self) -> Vec<&'static str> {
        vec![self.name()]
    }
}

macro_rules! tuple_columns {
    ($($name:ident $idx:tt)+) => {
        impl<M, $($name: ColumnList<M>),+> ColumnList<M> for ($($name,)+) {
            fn names(self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(out.extend(self.$idx.names());)+
                out
            }
        }
    };
}

tuple_columns!(A 0);
tuple_columns!(A 0 B 1);
tuple_columns!(A 0 B 1 C 2);
tuple_columns!(A 0 B 1 C 2 D 3);
tuple_columns!(A 0 B 1 C 2 D 3 E 4);
tuple_columns!(A 0 B 1 C 2 D 3 E 4 F 5);

/// Which columns an insert writes: all, or all but an `auto` key.
fn insert_columns<M: Model>() -> Vec<usize> {
    let auto = M::FIELDS[M::PRIMARY_KEY_INDEX].auto;
    (0..M::COLUMNS.len())
        .filter(|&i| !(auto && i == M::PRIMARY_KEY_INDEX))
        .collect()
}

/// Renders `INSERT INTO t (…) VALUES (…), (…) [ON CONFLICT …] RETURNING *cols`.
fn render_insert<M: Model>(
    w: &mut SqlWriter,
    rows: Vec<Vec<Value>>,
    columns: &[usize],
    conflict: Option<&OnConflict<M>>,
    returning: Returning,
) {
    w.push_sql("INSERT INTO ");
    w.push_identifier(M::TABLE);
    w.push_sql(" (");
    if columns.is_empty() {
        // Only a generated key: name it and let the database fill it in
        // (`DEFAULT VALUES` has no multi-row form and, on SQLite, no
        // ON CONFLICT).
        w.push_identifier(M::COLUMNS[M::PRIMARY_KEY_INDEX]);
        w.push_sql(") VALUES ");
        let generated = match w.dialect() {
            crate::backend::Dialect::Postgres => "(DEFAULT)",
            crate::backend::Dialect::Sqlite => "(NULL)",
        };
        for r in 0..rows.len() {
            if r > 0 {
                w.push_sql(", ");
            }
            w.push_sql(generated);
        }
    } else {
        let names: Vec<&str> = columns.iter().map(|&i| M::COLUMNS[i]).collect();
        w.push_identifiers(&names);
        w.push_sql(") VALUES ");
        let mut inserted = vec![false; M::COLUMNS.len()];
        for &i in columns {
            inserted[i] = true;
        }
        for (r, row) in rows.into_iter().enumerate() {
            w.push_sql(if r == 0 { "(" } else { ", (" });
            let values = row.into_iter().zip(&inserted).filter(|(_, &keep)| keep);
            for (n, (value, _)) in values.enumerate() {
                if n > 0 {
                    w.push_sql(", ");
                }
                w.push_bind(value);
            }
            w.push_sql(")");
        }
    }
    if let Some(conflict) = conflict {
        w.push_sql(" ON CONFLICT");
        if !conflict.target.is_empty() {
            w.push_sql(" (");
            w.push_identifiers(&conflict.target);
            w.push_sql(")");
        }
        match &conflict.update {
            Some(update) if !update.is_empty() => {
                w.push_sql(" DO UPDATE SET ");
                for (i, c) in update.iter().enumerate() {
                    if i > 0 {
                        w.push_sql(", ");
                    }
                    w.push_identifier(c);
                    w.push_sql(" = excluded.");
                    w.push_identifier(c);
                }
            }
            _ => w.push_sql(" DO NOTHING"),
        }
    }
    match returning {
        Returning::Nothing => {}
        Returning::Key => {
            w.push_sql(" RETURNING ");
            w.push_identifier(M::COLUMNS[M::PRIMARY_KEY_INDEX]);
        }
        Returning::Row => {
            w.push_sql(" RETURNING ");
            w.push_identifiers(M::COLUMNS);
        }
    }
}

/// What an INSERT gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Returning {
    Nothing,
    Key,
    Row,
}

/// Inserts `objects` in as few statements as the backend's bind limit
/// allows, returning the stored rows (with generated keys) in order.
///
/// # How generated keys find their objects
///
/// A plain insert with an `auto` key sends `INSERT … VALUES (…), (…), …
/// RETURNING key` and gives the n-th key back to the n-th object. That
/// relies on what both servers do for a multi-row `VALUES` into a plain
/// table, though neither documents it as a promise: the rows are
/// processed in `VALUES` order, and `RETURNING` yields them in processing
/// order. (PostgreSQL's executor scans the `VALUES` list in order and
/// returns each row as it is inserted; SQLite inserts in order and
/// replays its RETURNING rows in that order.)
///
/// What is checked at run time, cheaply: auto keys come from a sequence or
/// from SQLite's `max(rowid) + 1`, so inside one statement they grow with
/// processing order. The keys must therefore come back strictly
/// increasing; if they do not (RETURNING reordered, or a sequence that
/// counts down or cycles), the insert fails with [`Error::Database`]
/// rather than hand an object another row's key. The rows stay inserted
/// unless the caller's transaction rolls back.
///
/// Upserts return whole rows, so each returned object carries its own
/// row's key whatever the order of RETURNING.
///
/// [`Error::Database`]: crate::Error::Database
pub(crate) async fn insert_many<M: Model + Send, E: Executor>(
    objects: Vec<M>,
    conflict: Option<&OnConflict<M>>,
    executor: &E,
) -> Result<Vec<M>> {
    let dialect = executor.dialect();
    let columns = insert_columns::<M>();
    let auto = M::FIELDS[M::PRIMARY_KEY_INDEX].auto;
    // A plain insert stores the objects as given, so only a generated key
    // needs to come back; an upsert may store (or skip) something else, so
    // the rows come back whole.
    let returning = match (conflict, auto) {
        (Some(_), _) => Returning::Row,
        (None, true) => Returning::Key,
        (None, false) => Returning::Nothing,
    };
    let rows_per_statement = rows_per_statement(dialect, &columns);
    let mut objects = objects;
    let mut stored: Vec<M> = Vec::with_capacity(objects.len());
    let mut start = 0;
    while start < objects.len() {
        let end = (start + rows_per_statement).min(objects.len());
        let mut chunk = Vec::with_capacity(end - start);
        for object in &objects[start..end] {
            chunk.push(object.to_values()?);
        }
        let mut w = SqlWriter::new(dialect);
        render_insert::<M>(&mut w, chunk, &columns, conflict, returning);
        let (sql, binds) = w.finish();
        match returning {
            Returning::Row => {
                let rows: Vec<M> = executor
                    .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
                    .await?;
                stored.extend(rows);
            }
            Returning::Key => {
                let keys: Vec<M::PrimaryKey> = executor
                    .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
                    .await?;
                if keys.len() != end - start {
                    return Err(crate::Error::Database {
                        code: None,
                        message: format!("{} keys came back for {} rows", keys.len(), end - start),
                        sql,
                    });
                }
                check_keys_increase(&keys, &sql)?;
                for (object, key) in objects[start..end].iter_mut().zip(keys) {
                    object.set_primary_key(key);
                }
            }
            Returning::Nothing => {
                executor
                    .run_execute(&sql, Ok(binds), Origin::Rendered)
                    .await?;
            }
        }
        start = end;
    }
    if returning == Returning::Row {
        Ok(stored)
    } else {
        Ok(objects)
    }
}

/// Inserts `objects` without reading anything back (no `RETURNING`),
/// chunked like [`insert_many`]; returns the number of rows stored.
pub(crate) async fn bulk_insert<M: Model, E: Executor>(objects: &[M], executor: &E) -> Result<u64> {
    let dialect = executor.dialect();
    let columns = insert_columns::<M>();
    let rows_per_statement = rows_per_statement(dialect, &columns);
    let mut stored = 0;
    for chunk in objects.chunks(rows_per_statement) {
        let rows = chunk.iter().map(M::to_values).collect::<Result<Vec<_>>>()?;
        let mut w = SqlWriter::new(dialect);
        render_insert::<M>(&mut w, rows, &columns, None, Returning::Nothing);
        let (sql, binds) = w.finish();
        stored += executor
            .run_execute(&sql, Ok(binds), Origin::Rendered)
            .await?;
    }
    Ok(stored)
}

/// Rows per INSERT statement: as many as the backend's bind limit allows,
/// up to [`MAX_ROWS_PER_STATEMENT`].
fn rows_per_statement(dialect: crate::Dialect, columns: &[usize]) -> usize {
    let per_row = columns.len().max(1);
    (dialect.max_binds() / per_row).clamp(1, MAX_ROWS_PER_STATEMENT)
}

/// Checks that the auto keys of one INSERT came back strictly increasing
/// (see [`insert_many`]): otherwise they cannot be matched to the objects
/// by position.
fn check_keys_increase<K: crate::value::ToValue>(keys: &[K], sql: &str) -> Result<()> {
    let mut previous: Option<i64> = None;
    for (i, key) in keys.iter().enumerate() {
        let n = match key.to_value()? {
            crate::value::Value::I16(n) => i64::from(n),
            crate::value::Value::I32(n) => i64::from(n),
            crate::value::Value::I64(n) => n,
            // Auto keys are integers (`AutoKey`); nothing to check otherwise.
            _ => return Ok(()),
        };
        if previous.is_some_and(|p| p >= n) {
            return Err(crate::Error::Database {
                code: None,
                message: format!(
                    "generated keys came back out of order (key {n} after {} at row {}): \
                     they cannot be matched to the objects, so none was assigned",
                    previous.unwrap_or_default(),
                    i + 1
                ),
                sql: sql.to_owned(),
            });
        }
        previous = Some(n);
    }
    Ok(())
}

/// Rows per INSERT at most, whatever the bind limit allows: past this,
/// bigger statements stop paying for themselves.
const MAX_ROWS_PER_STATEMENT: usize = 10_000;

#[cfg(test)]
mod tests {
    #[test]
    fn chunk_sizes_respect_bind_limits() {
        use crate::backend::Dialect;
        assert_eq!(Dialect::Postgres.max_binds() / 3, 21_845);
        assert_eq!(Dialect::Sqlite.max_binds() / 3, 10_922);
    }

    #[test]
    fn generated_keys_must_increase() {
        use super::check_keys_increase;
        assert!(check_keys_increase::<i64>(&[], "s").is_ok());
        assert!(check_keys_increase(&[1_i64, 2, 7], "s").is_ok());
        assert!(check_keys_increase(&[1_i32, 3, 2], "s").is_err());
        assert!(check_keys_increase(&[5_i16, 5], "s").is_err());
        let e = check_keys_increase(&[2_i64, 1], "INSERT …").unwrap_err();
        assert!(matches!(e, crate::Error::Database { .. }), "{e:?}");
        assert!(e.to_string().contains("out of order"), "{e}");
    }
}
