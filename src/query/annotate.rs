//! Annotations: each row of a query together with aggregates over its
//! related rows (Django's `annotate`), filtered with HAVING and ordered by
//! the aggregates. Users' guide: `docs/guide/annotations.md`.

use super::column::Column;
use super::condition::{Condition, Node};
use super::field::FieldType;
use super::operand::{Expr, Operand};
use super::order::{IntoOrders, Order};
use super::queryset::QuerySet;
use super::select::{Aggregate, Selectable};
use super::statement::{erase, Select};
use crate::backend::Dialect;
use crate::error::Result;
use crate::executor::private::Origin;
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::row::{Cardinality, FromRow, Row};
use crate::value::Value;
use std::marker::PhantomData;

/// A condition on aggregates (SQL's HAVING), built by an [`Aggregate`]'s
/// comparisons (`Loan::MEMBER.count().ge(3)`) and combined with `&`, `|`
/// and `!`, also with plain [`Condition`]s of the same model.
pub struct Having<M> {
    pub(crate) node: Node,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Having<M> {
    pub(crate) fn new(node: Node) -> Self {
        Having {
            node,
            _marker: PhantomData,
        }
    }
}

impl<M> Clone for Having<M> {
    fn clone(&self) -> Self {
        Having::new(self.node.clone())
    }
}

impl<M> std::fmt::Debug for Having<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Having").field(&self.node).finish()
    }
}

/// A condition [`having`](Annotated::having) takes: a [`Having`] or a
/// plain [`Condition`] of the same model.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a condition on this model's aggregates",
    label = "expected a comparison of an aggregate, e.g. `Loan::MEMBER.count().ge(3)`",
    note = "conditions of another model's rows belong in that model's query, or in `Relation::any`"
)]
pub trait IntoHaving<M> {
    #[doc(hidden)]
    fn into_having(self) -> HavingNode;
}

/// The condition tree of an [`IntoHaving`], opaque.
#[derive(Debug)]
#[doc(hidden)]
pub struct HavingNode(pub(crate) Node);

impl<M> IntoHaving<M> for Having<M> {
    fn into_having(self) -> HavingNode {
        HavingNode(self.node)
    }
}

impl<M> IntoHaving<M> for Condition<M> {
    fn into_having(self) -> HavingNode {
        HavingNode(self.node)
    }
}

impl<M, R: IntoHaving<M>> std::ops::BitAnd<R> for Having<M> {
    type Output = Having<M>;
    fn bitand(self, rhs: R) -> Having<M> {
        Having::new(self.node.and(rhs.into_having().0))
    }
}

impl<M, R: IntoHaving<M>> std::ops::BitOr<R> for Having<M> {
    type Output = Having<M>;
    fn bitor(self, rhs: R) -> Having<M> {
        Having::new(self.node.or(rhs.into_having().0))
    }
}

impl<M> std::ops::Not for Having<M> {
    type Output = Having<M>;
    fn not(self) -> Having<M> {
        Having::new(Node::Not(Box::new(self.node)))
    }
}

/// The model type of orderings that may use aggregates: what
/// [`Aggregate::desc`] returns (`Order<Grouped<M>>`), and what
/// [`Annotated::order_by`] and [`Values::order_by`](crate::Values::order_by)
/// take (columns of `M` too). A plain [`QuerySet`] cannot be ordered by an
/// aggregate: it has no groups.
#[derive(Debug)]
pub struct Grouped<M>(PhantomData<fn() -> M>);

impl<M> IntoOrders<Grouped<M>> for Order<M> {
    fn into_orders(self) -> Vec<Order<Grouped<M>>> {
        erase(&[self]).into_iter().map(retag).collect()
    }
}

impl<M, T: FieldType> IntoOrders<Grouped<M>> for Column<M, T> {
    fn into_orders(self) -> Vec<Order<Grouped<M>>> {
        vec![Order::new(self.operand(), false)]
    }
}

fn retag<A, B>(o: Order<A>) -> Order<B> {
    let mut out = Order::new(o.operand, o.descending);
    out.nulls = o.nulls;
    out
}

/// What [`QuerySet::annotate`] adds to each row: one aggregate (or
/// column, or expression) of the model, or a tuple of up to four.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot annotate this model's rows",
    label = "expected an aggregate over this model's related rows, e.g. `Book::AUTHOR.count()` on an Author query",
    note = "a relation aggregate belongs to the model its foreign key points at: `Child::PARENT.count()` annotates `Parent::objects()`"
)]
pub trait Annotation<M> {
    /// What the annotation decodes into.
    type Output: Send + 'static;
    #[doc(hidden)]
    fn operands(&self) -> Vec<Operand>;
    #[doc(hidden)]
    fn decode(row: &Row<'_>, offset: usize) -> Result<Self::Output>;
}

macro_rules! single_annotation {
    ($($ty:ident),*) => {$(
        impl<M, T> Annotation<M> for $ty<M, T>
        where
            $ty<M, T>: Selectable<M>,
        {
            type Output = <$ty<M, T> as Selectable<M>>::Output;
            fn operands(&self) -> Vec<Operand> {
                let super::select::SelectItem::Operand(op) = self.select_item();
                vec![op]
            }
            fn decode(row: &Row<'_>, offset: usize) -> Result<Self::Output> {
                row.get(offset)
            }
        }
    )*};
}

single_annotation!(Column, Expr, Aggregate);

macro_rules! tuple_annotation {
    ($($name:ident $idx:tt)+) => {
        impl<M, $($name: Selectable<M>),+> Annotation<M> for ($($name,)+) {
            type Output = ($($name::Output,)+);
            fn operands(&self) -> Vec<Operand> {
                vec![$({
                    let super::select::SelectItem::Operand(op) = self.$idx.select_item();
                    op
                }),+]
            }
            fn decode(row: &Row<'_>, offset: usize) -> Result<Self::Output> {
                Ok(($(row.get::<$name::Output>(offset + $idx)?,)+))
            }
        }
    };
}

tuple_annotation!(A 0);
tuple_annotation!(A 0 B 1);
tuple_annotation!(A 0 B 1 C 2);
tuple_annotation!(A 0 B 1 C 2 D 3);

impl<M: Model> QuerySet<M> {
    /// Each row with aggregates over its related rows (or other values of
    /// the row): `Vec<(M, A::Output)>`, one query. Follow with
    /// [`having`](Annotated::having), [`order_by`](Annotated::order_by)
    /// and [`limit`](Annotated::limit).
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// use sylvan::Dialect;
    /// #[derive(Debug, Model)]
    /// struct Member { #[model(primary_key, auto)] id: i64, name: String }
    /// #[derive(Debug, Model)]
    /// struct Loan {
    ///     #[model(primary_key, auto)] id: i64,
    ///     #[model(foreign_key = Member)] member_id: i64,
    /// }
    /// // Top members by loans.
    /// let top = Member::objects()
    ///     .annotate(Loan::MEMBER.count())
    ///     .order_by(Loan::MEMBER.count().desc())
    ///     .limit(10);
    /// assert_eq!(
    ///     top.to_sql(Dialect::Postgres).0,
    ///     r#"SELECT "member"."id", "member"."name", COUNT("sylvan_agg"."id") FROM "member" LEFT JOIN "loan" AS "sylvan_agg" ON "sylvan_agg"."member_id" = "member"."id" GROUP BY "member"."id" ORDER BY COUNT("sylvan_agg"."id") DESC NULLS FIRST LIMIT 10"#
    /// );
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// Member::create_table(&db).await?;
    /// Loan::create_table(&db).await?;
    /// let ann = Member { id: 0, name: "Ann".into() }.insert(&db).await?;
    /// Member { id: 0, name: "Bob".into() }.insert(&db).await?;
    /// Loan { id: 0, member_id: ann.id }.insert(&db).await?;
    /// let rows: Vec<(Member, i64)> = top.all(&db).await?;
    /// let counts: Vec<(&str, i64)> = rows.iter().map(|(m, n)| (m.name.as_str(), *n)).collect();
    /// assert_eq!(counts, [("Ann", 1), ("Bob", 0)]);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn annotate<A: Annotation<M>>(self, annotation: A) -> Annotated<M, A> {
        Annotated {
            query: self,
            annotation,
            having: Node::And(Vec::new()),
            orders: None,
        }
    }
}

/// A query for rows of `M` each with an [`Annotation`]: made by
/// [`QuerySet::annotate`].
///
/// Aggregates over one relation join its table once and group by `M`'s
/// primary key (Django's plan). Aggregates over two different relations
/// in one query each become a correlated subquery instead, so neither
/// multiplies the other's rows.
#[must_use = "a query does nothing until a terminal method (all, first) runs it"]
pub struct Annotated<M, A> {
    query: QuerySet<M>,
    annotation: A,
    having: Node,
    orders: Option<Vec<Order<Grouped<M>>>>,
}

impl<M, A> std::fmt::Debug for Annotated<M, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Annotated")
            .field("query", &self.query)
            .field("having", &self.having)
            .finish_non_exhaustive()
    }
}

/// One row of an annotated query.
struct AnnotatedRow<M, A: Annotation<M>>(M, A::Output);

impl<M: Model + Send, A: Annotation<M> + 'static> FromRow for AnnotatedRow<M, A> {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(AnnotatedRow(
            M::from_row_at(row, 0)?,
            A::decode(row, M::COLUMNS.len())?,
        ))
    }
}

impl<M: Model + Send, A: Annotation<M> + 'static> Annotated<M, A> {
    /// Keeps the rows whose aggregates match `condition` (ANDed with
    /// earlier ones): `HAVING`.
    pub fn having(mut self, condition: impl IntoHaving<M>) -> Self {
        self.having =
            std::mem::replace(&mut self.having, Node::True).and(condition.into_having().0);
        self
    }

    /// Orders by columns of `M` and aggregates (`Loan::MEMBER.count().desc()`),
    /// replacing any earlier order.
    pub fn order_by(mut self, orders: impl IntoOrders<Grouped<M>>) -> Self {
        self.orders = Some(orders.into_orders());
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.query.offset = Some(n);
        self
    }

    fn statement(&self) -> Select {
        let mut items: Vec<Operand> = M::COLUMNS
            .iter()
            .map(|c| Operand::Column {
                table: M::TABLE,
                name: c,
            })
            .collect();
        items.extend(self.annotation.operands());
        let mut select = Select::of(&self.query, items);
        select.having = self.having.clone();
        if let Some(orders) = &self.orders {
            select.orders = erase(orders);
        }
        select
    }

    fn render(&self, dialect: Dialect, limit: Option<u64>) -> Result<(String, Vec<Value>)> {
        self.statement().render_for(&self.query, dialect, limit)
    }

    /// The SELECT this runs, for `dialect`, and its number of binds.
    pub fn to_sql(&self, dialect: Dialect) -> (String, usize) {
        let mut w = super::render::SqlWriter::new(dialect);
        w.push_select(&self.statement());
        self.query.push_lock(&mut w);
        let (sql, binds) = w.finish();
        (sql, binds.len())
    }

    /// Every row with its annotation. Aggregates over two relations
    /// together with aggregates over the queried rows are refused with
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<(M, A::Output)>> {
        let executor = &self.query.on(executor);
        let (sql, binds) = self.render(executor.dialect(), None)?;
        let rows: Vec<AnnotatedRow<M, A>> = executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await?;
        Ok(rows.into_iter().map(|r| (r.0, r.1)).collect())
    }

    /// The first row in the query's order, or `None`.
    pub async fn first<E: Executor>(&self, executor: &E) -> Result<Option<(M, A::Output)>> {
        let executor = &self.query.on(executor);
        let limit = self.query.limit.map_or(1, |l| l.min(1));
        let (sql, binds) = self.render(executor.dialect(), Some(limit))?;
        let mut rows: Vec<AnnotatedRow<M, A>> = executor
            .run_query(&sql, Ok(binds), Cardinality::Optional, Origin::Rendered)
            .await?;
        Ok(rows.pop().map(|r| (r.0, r.1)))
    }
}
