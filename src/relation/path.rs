//! Paths of foreign keys for `select_related`: one relation
//! (`Loan::BOOK`), or a chain (`Loan::BOOK.then(Book::AUTHOR)`).
//!
//! Every step of every path is joined under an alias of its own
//! (`sylvan_related`, `sylvan_related_1`, …, numbered in the order the
//! joins are written), so one model may be joined twice, or join itself.
//! A step is a `LEFT JOIN` when its key or any key before it on the path is
//! nullable, an inner `JOIN` otherwise; its columns follow the previous
//! step's in the select list, and rows decode by position.

use super::{ForeignKeyType, Relation};
use crate::error::Result;
use crate::model::Model;
use crate::query::{FieldType, SqlWriter};
use crate::row::Row;
use crate::value::ValueRef;

/// One joined table of a `select_related` query.
#[derive(Debug)]
struct Join {
    table: &'static str,
    alias: String,
    columns: &'static [&'static str],
    on_alias: String,
    on_column: &'static str,
    key: &'static str,
    left: bool,
}

/// The joins of a `select_related` query, in the order they are written.
#[derive(Debug, Default)]
pub struct Joins(Vec<Join>);

impl Joins {
    /// Adds a join of `R` on `on_alias.on_column = alias.key`, returning its
    /// alias.
    fn push<R: Model>(&mut self, on_alias: &str, on_column: &'static str, left: bool) -> String {
        let alias = match self.0.len() {
            0 => "sylvan_related".to_owned(),
            n => format!("sylvan_related_{n}"),
        };
        self.0.push(Join {
            table: R::TABLE,
            alias: alias.clone(),
            columns: R::COLUMNS,
            on_alias: on_alias.to_owned(),
            on_column,
            key: R::COLUMNS[R::PRIMARY_KEY_INDEX],
            left,
        });
        alias
    }

    /// `, "alias"."column", …` for every joined table.
    pub(crate) fn push_columns(&self, w: &mut SqlWriter) {
        for join in &self.0 {
            for c in join.columns {
                w.push_sql(", ");
                w.push_column(&join.alias, c);
            }
        }
    }

    /// The number of joined columns.
    pub(crate) fn width(&self) -> usize {
        self.0.iter().map(|j| j.columns.len()).sum()
    }

    /// ` [LEFT] JOIN "table" AS "alias" ON "alias"."key" = "from"."fk"` for
    /// every joined table.
    pub(crate) fn push_joins(&self, w: &mut SqlWriter) {
        for join in &self.0 {
            w.push_sql(if join.left { " LEFT JOIN " } else { " JOIN " });
            w.push_identifier(join.table);
            w.push_sql(" AS ");
            w.push_identifier(&join.alias);
            w.push_sql(" ON ");
            w.push_column(&join.alias, join.key);
            w.push_sql(" = ");
            w.push_column(&join.on_alias, join.on_column);
        }
    }
}

/// A foreign key of `M`, or a chain of them starting at `M`, that
/// [`QuerySet::select_related`](crate::QuerySet::select_related) can
/// join: a [`Relation`] or a [`Then`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a foreign key of `{M}`, nor a chain of them starting at `{M}`",
    label = "does not start at `{M}`",
    note = "each step is a relation constant of the model the previous step points at (the first one, of the queried model): `Loan::objects().select_related(Loan::BOOK.then(Book::AUTHOR))` goes Loan → Book, then Book → Author"
)]
pub trait RelatedPath<M>: Copy + 'static {
    /// What the path loads per row: the related row (`Option` of it when a
    /// key on the way is nullable), or for a chain a tuple of each step's
    /// row.
    type Output: Send + 'static;

    /// The number of columns the path selects.
    #[doc(hidden)]
    fn width() -> usize;

    /// Adds the path's joins, starting from the table aliased `from`;
    /// `nullable`: a key before this path may be NULL.
    #[doc(hidden)]
    fn push_joins(&self, from: &str, nullable: bool, joins: &mut Joins);

    /// Decodes the path's columns from `*offset`, moving `offset` past them.
    #[doc(hidden)]
    fn decode(row: &Row<'_>, offset: &mut usize) -> Result<Self::Output>;
}

/// `R` at `offset`, or `None` when its key is NULL (nothing joined).
fn decode_model<R: Model>(row: &Row<'_>, offset: &mut usize) -> Result<Option<R>> {
    let at = *offset;
    *offset += R::COLUMNS.len();
    if row.value_ref(at + R::PRIMARY_KEY_INDEX)? == ValueRef::Null {
        Ok(None)
    } else {
        R::from_row_at(row, at).map(Some)
    }
}

impl<M, R, K> RelatedPath<M> for Relation<M, R, K>
where
    M: Model,
    R: Model + Send,
    K: ForeignKeyType<R::PrimaryKey>,
    K::Joined<R>: Send + 'static,
{
    type Output = K::Joined<R>;

    fn width() -> usize {
        R::COLUMNS.len()
    }

    fn push_joins(&self, from: &str, nullable: bool, joins: &mut Joins) {
        joins.push::<R>(
            from,
            self.column().name(),
            nullable || <K as FieldType>::NULLABLE,
        );
    }

    fn decode(row: &Row<'_>, offset: &mut usize) -> Result<Self::Output> {
        K::joined(decode_model::<R>(row, offset)?)
    }
}

/// A foreign key of `M` to `R` followed by a path `P` starting at `R`
/// (made by [`Relation::then`]): `select_related` joins both in the same
/// query and gives `(R, P's output)` per row, `Option` of it when the
/// first key is nullable.
///
/// ```
/// use sylvan::{Dialect, Model};
/// #[derive(Model)]
/// struct Author { #[model(primary_key, auto)] id: i64, name: String }
/// #[derive(Model)]
/// struct Book { #[model(primary_key, auto)] id: i64, #[model(foreign_key = Author)] author_id: i64 }
/// #[derive(Model)]
/// struct Member { #[model(primary_key, auto)] id: i64, name: String }
/// #[derive(Model)]
/// struct Loan {
///     #[model(primary_key, auto)] id: i64,
///     #[model(foreign_key = Book)] book_id: i64,
///     #[model(foreign_key = Member)] member_id: Option<i64>,
/// }
/// let q = Loan::objects()
///     .select_related(Loan::BOOK.then(Book::AUTHOR))
///     .select_related(Loan::MEMBER);
/// assert_eq!(
///     q.to_sql(Dialect::Sqlite).0,
///     concat!(
///         r#"SELECT "loan"."id", "loan"."book_id", "loan"."member_id", "#,
///         r#""sylvan_related"."id", "sylvan_related"."author_id", "#,
///         r#""sylvan_related_1"."id", "sylvan_related_1"."name", "#,
///         r#""sylvan_related_2"."id", "sylvan_related_2"."name" "#,
///         r#"FROM "loan" JOIN "book" AS "sylvan_related" ON "sylvan_related"."id" = "loan"."book_id" "#,
///         r#"JOIN "author" AS "sylvan_related_1" ON "sylvan_related_1"."id" = "sylvan_related"."author_id" "#,
///         r#"LEFT JOIN "member" AS "sylvan_related_2" ON "sylvan_related_2"."id" = "loan"."member_id""#,
///     )
/// );
/// ```
pub struct Then<M, R, K, P> {
    first: Relation<M, R, K>,
    next: P,
}

impl<M, R, K, P> Then<M, R, K, P> {
    pub(crate) const fn new(first: Relation<M, R, K>, next: P) -> Self {
        Then { first, next }
    }
}

impl<M, R, K, P: Copy> Clone for Then<M, R, K, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, R, K, P: Copy> Copy for Then<M, R, K, P> {}

impl<M, R, K, P: std::fmt::Debug> std::fmt::Debug for Then<M, R, K, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Then")
            .field("first", &self.first)
            .field("next", &self.next)
            .finish()
    }
}

impl<M, R, K, P> RelatedPath<M> for Then<M, R, K, P>
where
    M: Model,
    R: Model + Send,
    K: ForeignKeyType<R::PrimaryKey>,
    K::Joined<(R, P::Output)>: Send + 'static,
    P: RelatedPath<R>,
{
    type Output = K::Joined<(R, P::Output)>;

    fn width() -> usize {
        R::COLUMNS.len() + P::width()
    }

    fn push_joins(&self, from: &str, nullable: bool, joins: &mut Joins) {
        let nullable = nullable || <K as FieldType>::NULLABLE;
        let alias = joins.push::<R>(from, self.first.column().name(), nullable);
        self.next.push_joins(&alias, nullable, joins);
    }

    fn decode(row: &Row<'_>, offset: &mut usize) -> Result<Self::Output> {
        match decode_model::<R>(row, offset)? {
            Some(first) => {
                let rest = P::decode(row, offset)?;
                K::joined(Some((first, rest)))
            }
            None => {
                *offset += P::width();
                K::joined(None)
            }
        }
    }
}
