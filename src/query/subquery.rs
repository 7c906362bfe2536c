//! Queries inside conditions: `IN (SELECT …)`, `EXISTS (SELECT …)`, and
//! "has a related row matching …" through a foreign key.

use super::column::Column;
use super::condition::{CmpOp, Condition, Node};
use super::field::FieldType;
use super::operand::{Expr, Operand};
use super::queryset::QuerySet;
use super::select::{Aggregate, Projection, Values};
use super::statement::Select;
use crate::model::Model;
use crate::relation::{ForeignKeyType, Relation};

/// The alias of a relation's table inside [`Relation::any`].
const SUB: &str = "sylvan_sub";

/// A one-column query whose values [`in_subquery`](crate::Column::in_subquery)
/// compares with a column of type `T`: `Model::objects().values(Model::COLUMN)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a one-column query of values comparable with this `{T}` column",
    label = "expected `Other::objects().filter(…).values(Other::COLUMN)` selecting one column of the same type",
    note = "select exactly one column (not a tuple, not whole models) whose type matches, ignoring Option"
)]
pub trait Subquery<T> {
    #[doc(hidden)]
    fn select(&self) -> SubquerySelect;
}

/// The statement of a [`Subquery`], opaque.
#[derive(Debug)]
#[doc(hidden)]
pub struct SubquerySelect(Select);

macro_rules! one_column_subquery {
    ($($ty:ident),*) => {$(
        impl<R, U, T> Subquery<T> for Values<R, $ty<R, U>>
        where
            R: Model,
            U: FieldType,
            $ty<R, U>: Projection<R>,
            T: FieldType<Base = U::Base>,
        {
            fn select(&self) -> SubquerySelect {
                SubquerySelect(self.statement())
            }
        }
    )*};
}

one_column_subquery!(Column, Expr, Aggregate);

macro_rules! in_subquery {
    ($ty:ident, $self_:ident => $operand:expr) => {
        impl<M, T: FieldType> $ty<M, T> {
            /// `IN (SELECT …)`: the value is among those `query` selects,
            /// one column of the same type (NULLs in it match nothing).
            ///
            /// ```
            /// use sylvan::{Dialect, Model};
            /// #[derive(Model)]
            /// struct Author { #[model(primary_key, auto)] id: i64, country: String }
            /// #[derive(Model)]
            /// struct Book { #[model(primary_key, auto)] id: i64, author_id: i64 }
            /// let norwegian = Author::objects().filter(Author::COUNTRY.eq("NO")).values(Author::ID);
            /// let q = Book::objects().filter(Book::AUTHOR_ID.in_subquery(norwegian));
            /// assert_eq!(
            ///     q.to_sql(Dialect::Postgres).0,
            ///     r#"SELECT "book"."id", "book"."author_id" FROM "book" WHERE (("book"."author_id" IN (SELECT "author"."id" FROM "author" WHERE (("author"."country" = $1)))))"#
            /// );
            /// ```
            pub fn in_subquery(&$self_, query: impl Subquery<T>) -> Condition<M> {
                Condition::new(Node::InSelect($operand, Box::new(query.select().0)))
            }
        }
    };
}

in_subquery!(Column, self => self.operand());
in_subquery!(Expr, self => self.operand.clone());

impl<M> Condition<M> {
    /// `EXISTS (SELECT …)`: true when `query` has a row. The query is not
    /// correlated with the outer row (for "has a related row", see
    /// [`Relation::any`]); negate with `!` for `NOT EXISTS`.
    ///
    /// ```
    /// use sylvan::{Condition, Dialect, Model};
    /// #[derive(Model)]
    /// struct Flag { #[model(primary_key)] name: String, on: bool }
    /// #[derive(Model)]
    /// struct Job { #[model(primary_key, auto)] id: i64 }
    /// let paused = Flag::objects().filter(Flag::NAME.eq("pause") & Flag::ON.eq(true));
    /// let q = Job::objects().filter(!Condition::exists(paused));
    /// assert_eq!(
    ///     q.to_sql(Dialect::Sqlite).0,
    ///     r#"SELECT "job"."id" FROM "job" WHERE (NOT EXISTS (SELECT 1 FROM "flag" WHERE (("flag"."name" = ?1) AND ("flag"."on" = ?2))))"#
    /// );
    /// ```
    pub fn exists<R: Model>(query: QuerySet<R>) -> Condition<M> {
        let mut select = Select::of(&query, Vec::new());
        select.distinct = false;
        if select.limit.is_none() && select.offset.is_none() {
            select.orders.clear();
        }
        Condition::new(Node::Exists(Box::new(select)))
    }
}

/// `node` with its columns of `table` read from `alias` instead (so a
/// subquery over a model's own table does not shadow the outer row).
fn realias_node(node: Node, table: &'static str, alias: &'static str) -> Node {
    let op = |o: Operand| realias(o, table, alias);
    match node {
        Node::Cmp(a, c, b) => Node::Cmp(op(a), c, op(b)),
        Node::In(a, list, t) => Node::In(op(a), list.into_iter().map(op).collect(), t),
        Node::IsNull(a, n) => Node::IsNull(op(a), n),
        Node::Between(a, b, c) => Node::Between(op(a), op(b), op(c)),
        Node::Pattern {
            operand,
            kind,
            pattern,
            case_insensitive,
        } => Node::Pattern {
            operand: op(operand),
            kind,
            pattern,
            case_insensitive,
        },
        Node::InSubquery {
            operand,
            table: t,
            column,
            filter,
        } => Node::InSubquery {
            operand: op(operand),
            table: t,
            column,
            filter,
        },
        Node::InSelect(a, s) => Node::InSelect(op(a), s),
        #[cfg(feature = "json")]
        Node::JsonHasKey(a, k) => Node::JsonHasKey(op(a), k),
        #[cfg(feature = "json")]
        Node::JsonContains(a, v) => Node::JsonContains(op(a), v),
        Node::And(v) => Node::And(
            v.into_iter()
                .map(|n| realias_node(n, table, alias))
                .collect(),
        ),
        Node::Or(v) => Node::Or(
            v.into_iter()
                .map(|n| realias_node(n, table, alias))
                .collect(),
        ),
        Node::Not(n) => Node::Not(Box::new(realias_node(*n, table, alias))),
        other @ (Node::True | Node::False | Node::Exists(_)) => other,
    }
}

fn realias(operand: Operand, table: &'static str, alias: &'static str) -> Operand {
    match operand {
        Operand::Column { table: t, name } if t == table => Operand::Column { table: alias, name },
        Operand::Arith(a, o, b) => Operand::Arith(
            Box::new(realias(*a, table, alias)),
            o,
            Box::new(realias(*b, table, alias)),
        ),
        Operand::Case(mut case) => {
            case.whens = case
                .whens
                .into_iter()
                .map(|(w, t)| (realias_node(w, table, alias), realias(t, table, alias)))
                .collect();
            case.otherwise = case.otherwise.map(|o| realias(o, table, alias));
            Operand::Case(case)
        }
        Operand::JsonGet(mut get) => {
            get.operand = realias(get.operand, table, alias);
            Operand::JsonGet(get)
        }
        other => other,
    }
}

impl<M, R, K> Relation<M, R, K>
where
    M: Model,
    R: Model,
    K: ForeignKeyType<R::PrimaryKey>,
{
    /// `R` rows with at least one related `M` row matching `condition`
    /// (`EXISTS`; `Condition::all([])` for any related row at all; negate
    /// with `!` for none).
    ///
    /// ```
    /// use sylvan::{Dialect, Model};
    /// #[derive(Model)]
    /// struct Author { #[model(primary_key, auto)] id: i64 }
    /// #[derive(Model)]
    /// struct Book {
    ///     #[model(primary_key, auto)] id: i64,
    ///     #[model(foreign_key = Author)] author_id: i64,
    ///     pages: i32,
    /// }
    /// let q = Author::objects().filter(Book::AUTHOR.any(Book::PAGES.gt(500)));
    /// assert_eq!(
    ///     q.to_sql(Dialect::Postgres).0,
    ///     r#"SELECT "author"."id" FROM "author" WHERE (EXISTS (SELECT 1 FROM "book" AS "sylvan_sub" WHERE (("sylvan_sub"."author_id" = "author"."id") AND ("sylvan_sub"."pages" > $1))))"#
    /// );
    /// ```
    pub fn any(&self, condition: Condition<M>) -> Condition<R> {
        let link = Node::Cmp(
            Operand::Column {
                table: SUB,
                name: self.column().name(),
            },
            CmpOp::Eq,
            Operand::Column {
                table: R::TABLE,
                name: R::COLUMNS[R::PRIMARY_KEY_INDEX],
            },
        );
        let filter = Node::And(vec![link]).and(realias_node(condition.node, M::TABLE, SUB));
        let select = Select {
            distinct: false,
            items: Vec::new(),
            table: M::TABLE,
            alias: Some(SUB),
            key: M::COLUMNS[M::PRIMARY_KEY_INDEX],
            filter,
            group_by: Vec::new(),
            having: Node::And(Vec::new()),
            orders: Vec::new(),
            limit: None,
            offset: None,
        };
        Condition::new(Node::Exists(Box::new(select)))
    }
}
