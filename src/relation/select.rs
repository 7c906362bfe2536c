//! `select_related`: rows of a model with the rows its foreign keys point
//! at, through one or more paths, in one JOIN query.

use super::path::{Joins, RelatedPath};
use crate::error::Result;
use crate::executor::private::Origin;
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{QuerySet, SqlWriter};
use crate::row::{Cardinality, FromRow, Row};
use crate::value::Value;
use std::marker::PhantomData;

/// The paths of a [`SelectRelated`] query: a tuple of one to four
/// [`RelatedPath`]s of `M`.
pub trait RelatedList<M>: Copy + 'static {
    /// One result row: `(M, first path's output, …)`.
    type Row: Send + 'static;

    /// Adds every path's joins, from the queried table.
    #[doc(hidden)]
    fn push_joins(&self, joins: &mut Joins);

    /// Decodes one row.
    #[doc(hidden)]
    fn decode(row: &Row<'_>) -> Result<Self::Row>;
}

/// A [`RelatedList`] that one more path can join (one with fewer than four).
pub trait AppendRelated<M, P>: RelatedList<M> {
    /// The list with `P` at its end.
    type Output: RelatedList<M>;
    /// Appends `path`.
    #[doc(hidden)]
    fn append(self, path: P) -> Self::Output;
}

macro_rules! related_list {
    ($($p:ident),+; $next:ident) => {
        related_list!($($p),+);
        impl<M: Model + Send, $($p: RelatedPath<M>,)+ $next: RelatedPath<M>> AppendRelated<M, $next> for ($($p,)+) {
            type Output = ($($p,)+ $next,);
            #[allow(non_snake_case)]
            fn append(self, path: $next) -> Self::Output {
                let ($($p,)+) = self;
                ($($p,)+ path,)
            }
        }
    };
    ($($p:ident),+) => {
        impl<M: Model + Send, $($p: RelatedPath<M>),+> RelatedList<M> for ($($p,)+) {
            type Row = (M, $($p::Output),+);

            #[allow(non_snake_case)]
            fn push_joins(&self, joins: &mut Joins) {
                let ($($p,)+) = self;
                $($p.push_joins(M::TABLE, false, joins);)+
            }

            fn decode(row: &Row<'_>) -> Result<Self::Row> {
                let model = M::from_row_at(row, 0)?;
                let mut offset = M::COLUMNS.len();
                Ok((model, $($p::decode(row, &mut offset)?),+))
            }
        }
    };
}

related_list!(A; B);
related_list!(A, B; C);
related_list!(A, B, C; D);
related_list!(A, B, C, D);

/// A fifth path given to a select_related query: never implemented, so
/// that the error names the limit and the way around it.
#[diagnostic::on_unimplemented(
    message = "a select_related query joins at most four paths",
    label = "a fifth path",
    note = "load the other rows with a prefetch (`Relation::load_for`, `Reverse::load_for`) or a query of their own"
)]
pub trait FifthPath {}

impl<M: Model + Send, A, B, C, D, E> AppendRelated<M, E> for (A, B, C, D)
where
    A: RelatedPath<M>,
    B: RelatedPath<M>,
    C: RelatedPath<M>,
    D: RelatedPath<M>,
    E: RelatedPath<M> + FifthPath,
{
    type Output = (A, B, C, D);
    fn append(self, _: E) -> Self::Output {
        self
    }
}

/// A query for `M` rows each with the rows its foreign keys point at, in
/// one JOIN query: made by [`QuerySet::select_related`], which may be
/// chained (up to four paths), each path a relation or a chain of them
/// ([`Relation::then`](crate::Relation::then)).
#[must_use = "a query does nothing until .all() runs it"]
pub struct SelectRelated<M, L> {
    query: QuerySet<M>,
    paths: L,
}

impl<M, L: std::fmt::Debug> std::fmt::Debug for SelectRelated<M, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectRelated")
            .field("query", &self.query)
            .field("paths", &self.paths)
            .finish()
    }
}

impl<M, L> SelectRelated<M, L>
where
    M: Model + Send,
    L: RelatedList<M>,
{
    pub(crate) fn new(query: QuerySet<M>, paths: L) -> Self {
        SelectRelated { query, paths }
    }

    /// Joins one more path in the same query: each row gets its output as
    /// one more tuple element.
    pub fn select_related<P: RelatedPath<M>>(self, path: P) -> SelectRelated<M, L::Output>
    where
        L: AppendRelated<M, P>,
    {
        SelectRelated {
            query: self.query,
            paths: self.paths.append(path),
        }
    }

    /// The SELECT this runs, for `dialect`, and its number of binds.
    ///
    /// The query's `distinct` and `select_for_update` carry over: DISTINCT
    /// over all the models' columns, and on PostgreSQL `FOR UPDATE OF` the
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
        let mut joins = Joins::default();
        self.paths.push_joins(&mut joins);
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
        joins.push_columns(&mut w);
        let positions = self
            .query
            .push_distinct_order_terms(&mut w, M::COLUMNS.len() + joins.width());
        w.push_sql(" FROM ");
        w.push_identifier(M::TABLE);
        joins.push_joins(&mut w);
        self.query.push_where(&mut w);
        w.push_orders_with(&self.query.orders, |i| positions[i]);
        w.push_limit_offset(self.query.limit, self.query.offset);
        // Only the queried model's rows are locked: PostgreSQL cannot lock
        // the nullable side of a LEFT JOIN.
        self.query.push_lock_of(&mut w, Some(M::TABLE));
        w.finish()
    }

    /// Every matching row with its related rows.
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<L::Row>> {
        let executor = &self.query.on(executor);
        let (sql, binds) = self.render(executor.dialect());
        let rows: Vec<Decoded<M, L>> = executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await?;
        Ok(rows.into_iter().map(|d| d.row).collect())
    }
}

/// One decoded row of a select_related query.
struct Decoded<M, L: RelatedList<M>> {
    row: L::Row,
    _marker: PhantomData<fn() -> M>,
}

impl<M, L> FromRow for Decoded<M, L>
where
    M: Model + Send + 'static,
    L: RelatedList<M> + 'static,
{
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(Decoded {
            row: L::decode(row)?,
            _marker: PhantomData,
        })
    }
}
