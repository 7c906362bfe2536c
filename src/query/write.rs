//! The write path: bulk inserts chunked under each backend's bind limit,
//! and upserts (`ON CONFLICT … DO UPDATE / DO NOTHING`).

use super::column::Column;
use super::field::FieldType;
use super::render::SqlWriter;
use crate::error::Result;
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
) {
    w.push_sql("INSERT INTO ");
    w.push_identifier(M::TABLE);
    w.push_sql(" (");
    for (n, &i) in columns.iter().enumerate() {
        if n > 0 {
            w.push_sql(", ");
        }
        w.push_identifier(M::COLUMNS[i]);
    }
    w.push_sql(") VALUES ");
    for (r, row) in rows.into_iter().enumerate() {
        w.push_sql(if r == 0 { "(" } else { ", (" });
        let mut first = true;
        for (i, value) in row.into_iter().enumerate() {
            if !columns.contains(&i) {
                continue;
            }
            if !first {
                w.push_sql(", ");
            }
            first = false;
            w.push_bind(value);
        }
        w.push_sql(")");
    }
    if let Some(conflict) = conflict {
        w.push_sql(" ON CONFLICT");
        if !conflict.target.is_empty() {
            w.push_sql(" (");
            for (i, c) in conflict.target.iter().enumerate() {
                if i > 0 {
                    w.push_sql(", ");
                }
                w.push_identifier(c);
            }
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
    w.push_sql(" RETURNING ");
    for (i, c) in M::COLUMNS.iter().enumerate() {
        if i > 0 {
            w.push_sql(", ");
        }
        w.push_identifier(c);
    }
}

/// Inserts `objects` in as few statements as the backend's bind limit
/// allows, returning the stored rows (with generated keys) in order.
pub(crate) async fn insert_many<M: Model + Send, E: Executor>(
    objects: Vec<M>,
    conflict: Option<&OnConflict<M>>,
    executor: &E,
) -> Result<Vec<M>> {
    let dialect = executor.dialect();
    let columns = insert_columns::<M>();
    if columns.is_empty() && conflict.is_none() {
        // Only a generated key: no multi-row form exists for DEFAULT VALUES.
        let mut stored = Vec::with_capacity(objects.len());
        for object in objects {
            stored.push(object.insert(executor).await?);
        }
        return Ok(stored);
    }
    let per_row = columns.len().max(1);
    let rows_per_statement = (dialect.max_binds() / per_row).clamp(1, MAX_ROWS_PER_STATEMENT);
    let mut stored = Vec::with_capacity(objects.len());
    let mut values = Vec::with_capacity(objects.len());
    for object in &objects {
        values.push(object.to_values()?);
    }
    drop(objects);
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        let chunk: Vec<Vec<Value>> = values.by_ref().take(rows_per_statement).collect();
        let mut w = SqlWriter::new(dialect);
        render_insert::<M>(&mut w, chunk, &columns, conflict);
        let (sql, binds) = w.finish();
        let rows: Vec<M> = executor
            .run_query(&sql, Ok(binds), Cardinality::All)
            .await?;
        stored.extend(rows);
    }
    Ok(stored)
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
}
