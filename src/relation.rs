//! Foreign keys between models, and loading related rows with a fixed
//! number of queries. Users' documentation: `docs/guide/relations.md`,
//! rendered as `sylvan::docs::relations`.

use crate::error::{Error, Result};
use crate::executor::private::Origin;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{Column, Condition, FieldType, QuerySet, SqlWriter};
use crate::row::{Cardinality, FromRow, Row};
use crate::value::Value;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;

/// What a foreign key does when its target row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnDelete {
    /// Refuse the delete (the default).
    Restrict,
    /// Delete the referencing rows too.
    Cascade,
    /// Set the referencing column to NULL (nullable keys only).
    SetNull,
}

impl OnDelete {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

/// The target of a foreign key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct References {
    /// The referenced table.
    pub table: &'static str,
    /// The referenced column (its primary key).
    pub column: &'static str,
    /// The delete action.
    pub on_delete: OnDelete,
}

/// A foreign key field type pointing at a key of type `P`: `P` itself, or
/// `Option<P>` for a nullable key.
pub trait ForeignKeyType<P>: FieldType {
    /// What loading the related row gives: `R`, or `Option<R>` for a
    /// nullable key.
    type Joined<R>;
    /// The key, if set.
    fn key(&self) -> Option<P>;
    /// Wraps a related row that may be missing.
    fn joined<R>(related: Option<R>) -> Result<Self::Joined<R>>;
}

impl<P: FieldType + Clone> ForeignKeyType<P> for P {
    type Joined<R> = R;
    fn key(&self) -> Option<P> {
        Some(self.clone())
    }
    fn joined<R>(related: Option<R>) -> Result<R> {
        related.ok_or(Error::NotFound)
    }
}

impl<P: crate::query::NonNull + Clone> ForeignKeyType<P> for Option<P> {
    type Joined<R> = Option<R>;
    fn key(&self) -> Option<P> {
        self.clone()
    }
    fn joined<R>(related: Option<R>) -> Result<Option<R>> {
        Ok(related)
    }
}

/// A foreign key of model `M` (column type `K`) to model `R`, as generated
/// by `#[model(foreign_key = R)]`.
pub struct Relation<M, R, K> {
    column: Column<M, K>,
    get: fn(&M) -> K,
    _marker: PhantomData<fn() -> R>,
}

impl<M, R, K> Clone for Relation<M, R, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, R, K> Copy for Relation<M, R, K> {}

impl<M, R, K> std::fmt::Debug for Relation<M, R, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relation")
            .field("column", &self.column)
            .finish()
    }
}

impl<M, R, K> Relation<M, R, K> {
    /// The relation through `column`, read from an object by `get` (used by
    /// the derive).
    pub const fn new(column: Column<M, K>, get: fn(&M) -> K) -> Self {
        Relation {
            column,
            get,
            _marker: PhantomData,
        }
    }

    /// The foreign key column.
    pub const fn column(&self) -> Column<M, K> {
        self.column
    }
}

impl<M, R, K> Relation<M, R, K>
where
    M: Model + Send,
    R: Model + Send,
    R::PrimaryKey: Hash + Eq,
    K: ForeignKeyType<R::PrimaryKey>,
{
    /// Rows of `M` whose related `R` row matches `condition` (a subquery:
    /// `fk IN (SELECT key FROM r WHERE …)`).
    pub fn has(self, condition: Condition<R>) -> Condition<M> {
        Condition::new(crate::query::Node::InSubquery {
            operand: self.column.operand(),
            table: R::TABLE,
            column: R::COLUMNS[R::PRIMARY_KEY_INDEX],
            filter: Box::new(condition.node),
        })
    }

    /// The related row of `object` (one query).
    pub async fn get_for<E: Executor>(&self, object: &M, executor: &E) -> Result<K::Joined<R>> {
        match (self.get)(object).key() {
            None => K::joined(None),
            Some(key) => {
                let related = R::objects()
                    .filter(R::primary_key_column().eq_value(key))
                    .get(executor)
                    .await;
                match related {
                    Ok(r) => K::joined(Some(r)),
                    Err(Error::NotFound) => K::joined(None),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// The `M` rows pointing at each of `parents`, in the parents' order,
    /// each list ordered by `M`'s primary key: one query whatever the number
    /// of parents (the keys travel as one JSON array past 1,000 of them).
    pub async fn load_for<E: Executor>(&self, parents: &[R], executor: &E) -> Result<Vec<Vec<M>>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<R::PrimaryKey> = parents.iter().map(R::primary_key).collect();
        let mut unique: Vec<R::PrimaryKey> = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::with_capacity(keys.len());
        for k in &keys {
            if seen.insert(k.clone()) {
                unique.push(k.clone());
            }
        }
        let children = M::objects()
            .filter(self.column.in_values(unique))
            .order_by(M::primary_key_column().asc())
            .all(executor)
            .await?;
        let mut by_key: HashMap<R::PrimaryKey, Vec<M>> = HashMap::with_capacity(keys.len());
        for child in children {
            if let Some(k) = (self.get)(&child).key() {
                by_key.entry(k).or_default().push(child);
            }
        }
        // A key listed twice among the parents gets its children once, at
        // its first place.
        Ok(keys
            .iter()
            .map(|k| by_key.remove(k).unwrap_or_default())
            .collect())
    }

    /// `parents` each with their `M` rows (see [`Relation::load_for`]).
    pub async fn attach<E: Executor>(
        &self,
        parents: Vec<R>,
        executor: &E,
    ) -> Result<Vec<(R, Vec<M>)>> {
        let children = self.load_for(&parents, executor).await?;
        Ok(parents.into_iter().zip(children).collect())
    }
}

/// A query for `M` rows each with its related `R` row, in one JOIN query:
/// made by [`QuerySet::select_related`].
#[must_use = "a query does nothing until .all() runs it"]
pub struct SelectRelated<M, R, K> {
    query: QuerySet<M>,
    relation: Relation<M, R, K>,
}

impl<M, R, K> std::fmt::Debug for SelectRelated<M, R, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectRelated")
            .field("query", &self.query)
            .field("relation", &self.relation)
            .finish()
    }
}

/// The alias of the joined table (so a model can relate to itself).
const JOINED: &str = "sylvan_related";

impl<M, R, K> SelectRelated<M, R, K>
where
    M: Model + Send,
    R: Model + Send,
    R::PrimaryKey: Hash + Eq,
    K: ForeignKeyType<R::PrimaryKey>,
    K::Joined<R>: Send + 'static,
{
    pub(crate) fn new(query: QuerySet<M>, relation: Relation<M, R, K>) -> Self {
        SelectRelated { query, relation }
    }

    /// The SELECT this runs, for `dialect`, and its number of binds.
    ///
    /// The query's `distinct` and `select_for_update` carry over: DISTINCT
    /// over both models' columns, and on PostgreSQL `FOR UPDATE OF` the
    /// queried model's table, which locks its rows only (PostgreSQL cannot
    /// lock the nullable side of a `LEFT JOIN`; lock the related rows with
    /// a query of their own when that is needed).
    ///
    /// ```
    /// use sylvan::{Dialect, Model, RowLock};
    /// #[derive(Model)]
    /// struct Author { #[model(primary_key, auto)] id: i64, name: String }
    /// #[derive(Model)]
    /// struct Book {
    ///     #[model(primary_key, auto)] id: i64,
    ///     #[model(foreign_key = Author)] author_id: Option<i64>,
    ///     title: String,
    /// }
    /// let q = Book::objects()
    ///     .filter(Book::TITLE.startswith("A"))
    ///     .distinct()
    ///     .select_for_update(RowLock::SkipLocked)
    ///     .select_related(Book::AUTHOR);
    /// assert_eq!(
    ///     q.to_sql(Dialect::Postgres).0,
    ///     r#"SELECT DISTINCT "book"."id", "book"."author_id", "book"."title", "sylvan_related"."id", "sylvan_related"."name" FROM "book" LEFT JOIN "author" AS "sylvan_related" ON "sylvan_related"."id" = "book"."author_id" WHERE (("book"."title" LIKE $1 ESCAPE E'\\')) FOR UPDATE OF "book" SKIP LOCKED"#
    /// );
    /// assert_eq!(
    ///     q.to_sql(Dialect::Sqlite).0,
    ///     r#"SELECT DISTINCT "book"."id", "book"."author_id", "book"."title", "sylvan_related"."id", "sylvan_related"."name" FROM "book" LEFT JOIN "author" AS "sylvan_related" ON "sylvan_related"."id" = "book"."author_id" WHERE (("book"."title" GLOB ?1))"#
    /// );
    /// ```
    pub fn to_sql(&self, dialect: crate::Dialect) -> (String, usize) {
        let (sql, binds) = self.render(dialect);
        (sql, binds.len())
    }

    fn render(&self, dialect: crate::Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.push_sql(if self.query.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        for (i, c) in M::COLUMNS.iter().enumerate() {
            if i > 0 {
                w.push_sql(", ");
            }
            w.push_column(M::TABLE, c);
        }
        for c in R::COLUMNS {
            w.push_sql(", ");
            w.push_column(JOINED, c);
        }
        let positions = self
            .query
            .push_distinct_order_terms(&mut w, M::COLUMNS.len() + R::COLUMNS.len());
        w.push_sql(" FROM ");
        w.push_identifier(M::TABLE);
        w.push_sql(if <K as FieldType>::NULLABLE {
            " LEFT JOIN "
        } else {
            " JOIN "
        });
        w.push_identifier(R::TABLE);
        w.push_sql(" AS ");
        w.push_identifier(JOINED);
        w.push_sql(" ON ");
        w.push_column(JOINED, R::COLUMNS[R::PRIMARY_KEY_INDEX]);
        w.push_sql(" = ");
        w.push_column(M::TABLE, self.relation.column.name());
        self.query.push_where(&mut w);
        w.push_orders_with(&self.query.orders, |i| positions[i]);
        w.push_limit_offset(self.query.limit, self.query.offset);
        // Only the queried model's rows are locked: PostgreSQL cannot lock
        // the nullable side of a LEFT JOIN.
        self.query.push_lock_of(&mut w, Some(M::TABLE));
        w.finish()
    }

    /// Every matching row with its related row.
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<(M, K::Joined<R>)>> {
        let (sql, binds) = self.render(executor.dialect());
        let rows: Vec<Joined<M, R, K>> = executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await?;
        Ok(rows.into_iter().map(|j| (j.model, j.related)).collect())
    }
}

/// One row of a select_related query.
struct Joined<M, R, K: ForeignKeyType<R::PrimaryKey>>
where
    R: Model,
{
    model: M,
    related: K::Joined<R>,
}

impl<M, R, K> FromRow for Joined<M, R, K>
where
    M: Model + Send,
    R: Model + Send,
    K: ForeignKeyType<R::PrimaryKey>,
    K::Joined<R>: Send + 'static,
{
    fn from_row(row: &Row<'_>) -> Result<Self> {
        let model = M::from_row_at(row, 0)?;
        let offset = M::COLUMNS.len();
        let key_index = offset + R::PRIMARY_KEY_INDEX;
        let related = if row.value_ref(key_index)? == crate::value::ValueRef::Null {
            None
        } else {
            Some(R::from_row_at(row, offset)?)
        };
        Ok(Joined {
            model,
            related: K::joined(related)?,
        })
    }
}
