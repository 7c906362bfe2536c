//! Projections (`values(...)`) and aggregates (`count`, `sum`, `avg`,
//! `min`, `max`) with GROUP BY.

use super::annotate::{Grouped, IntoHaving};
use super::column::Column;
use super::condition::Node;
use super::field::{FieldType, NonNull, Numeric, Ordered};
use super::operand::{Expr, Operand};
use super::order::{IntoOrders, Order};
use super::queryset::QuerySet;
use super::render::SqlWriter;
use super::statement::{erase, Select};
use crate::backend::Dialect;
use crate::error::{Error, Result};
use crate::executor::private::Origin;
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::row::{Cardinality, FromRow};
use crate::value::{Decode, SqlType, Value};
use std::marker::PhantomData;

/// One item of a SELECT list.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub enum SelectItem {
    Operand(Operand),
}

/// An aggregate decoding as `T`: over a column of model `M`
/// (`Book::PRICE.sum()`, with [`group_by`](QuerySet::group_by) or over the
/// whole query), or per `M` row over its related rows
/// (`Book::AUTHOR.count()` is an `Aggregate<Author, i64>`: see
/// [`annotate`](QuerySet::annotate)).
///
/// Its comparisons (`gt`, `eq`, …) build [`Having`](crate::Having)
/// conditions and its orderings sort annotated or grouped queries.
pub struct Aggregate<M, T> {
    operand: Operand,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> std::fmt::Debug for Aggregate<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Aggregate").field(&self.operand).finish()
    }
}

impl<M, T> Clone for Aggregate<M, T> {
    fn clone(&self) -> Self {
        Aggregate::from_operand(self.operand.clone())
    }
}

impl<M, T> Aggregate<M, T> {
    pub(crate) fn from_operand(operand: Operand) -> Self {
        Aggregate {
            operand,
            _marker: PhantomData,
        }
    }

    pub(crate) fn operand(&self) -> &Operand {
        &self.operand
    }

    fn new(function: &'static str, argument: Operand, cast: Option<SqlType>) -> Self {
        Aggregate::call(function, argument, cast, None)
    }
}

impl<M, T: FieldType> Column<M, T> {
    /// `COUNT(column)`: the number of non-NULL values.
    pub fn count(self) -> Aggregate<M, i64> {
        Aggregate::new("COUNT", self.operand(), None)
    }

    /// `SUM(column)`, `None` over no rows; integers sum as `i64`, floats as
    /// `f64` on both backends.
    pub fn sum(self) -> Aggregate<M, Option<T::Sum>>
    where
        T: Numeric,
    {
        Aggregate::new("SUM", self.operand(), Some(<T::Sum as FieldType>::SQL_TYPE))
    }

    /// `AVG(column)` as `f64`, `None` over no rows.
    pub fn avg(self) -> Aggregate<M, Option<f64>>
    where
        T: Numeric,
    {
        Aggregate::new("AVG", self.operand(), Some(SqlType::F64))
    }

    /// `MIN(column)`, `None` over no rows.
    pub fn min(self) -> Aggregate<M, Option<T::Base>>
    where
        T::Base: NonNull + Ordered,
    {
        Aggregate::new("MIN", self.operand(), None)
    }

    /// `MAX(column)`, `None` over no rows.
    pub fn max(self) -> Aggregate<M, Option<T::Base>>
    where
        T::Base: NonNull + Ordered,
    {
        Aggregate::new("MAX", self.operand(), None)
    }
}

/// One selectable item of model `M`: a column, an expression or an
/// aggregate.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be selected from this model",
    label = "expected a column, expression or aggregate of the queried model"
)]
pub trait Selectable<M> {
    /// What the item decodes into.
    type Output: Decode + Send + 'static;
    #[doc(hidden)]
    fn select_item(&self) -> SelectItem;
}

impl<M, T: FieldType> Selectable<M> for Column<M, T> {
    type Output = T;
    fn select_item(&self) -> SelectItem {
        SelectItem::Operand(self.operand())
    }
}

impl<M, T: FieldType> Selectable<M> for Expr<M, T> {
    type Output = T;
    fn select_item(&self) -> SelectItem {
        SelectItem::Operand(self.operand.clone())
    }
}

impl<M, T: Decode + Send + 'static> Selectable<M> for Aggregate<M, T> {
    type Output = T;
    fn select_item(&self) -> SelectItem {
        SelectItem::Operand(self.operand.clone())
    }
}

/// A SELECT list: one [`Selectable`] or a tuple of up to 8.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a projection of this model",
    label = "expected a column, expression or aggregate of the queried model, or a tuple of them"
)]
pub trait Projection<M> {
    /// The row type.
    type Row: FromRow;
    #[doc(hidden)]
    fn select_items(&self) -> Vec<SelectItem>;
}

macro_rules! single_projection {
    ($($ty:ident),*) => {$(
        impl<M, T> Projection<M> for $ty<M, T>
        where
            $ty<M, T>: Selectable<M>,
        {
            type Row = <$ty<M, T> as Selectable<M>>::Output;
            fn select_items(&self) -> Vec<SelectItem> {
                vec![self.select_item()]
            }
        }
    )*};
}

single_projection!(Column, Expr, Aggregate);

macro_rules! tuple_projection {
    ($($name:ident $idx:tt)+) => {
        impl<M, $($name: Selectable<M>),+> Projection<M> for ($($name,)+) {
            type Row = ($($name::Output,)+);
            fn select_items(&self) -> Vec<SelectItem> {
                vec![$(self.$idx.select_item()),+]
            }
        }
    };
}

tuple_projection!(A 0);
tuple_projection!(A 0 B 1);
tuple_projection!(A 0 B 1 C 2);
tuple_projection!(A 0 B 1 C 2 D 3);
tuple_projection!(A 0 B 1 C 2 D 3 E 4);
tuple_projection!(A 0 B 1 C 2 D 3 E 4 F 5);
tuple_projection!(A 0 B 1 C 2 D 3 E 4 F 5 G 6);
tuple_projection!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7);

/// GROUP BY columns: one column of the model or a tuple of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot group this model's rows",
    label = "expected a column of the queried model, or a tuple of them"
)]
pub trait IntoGroupBy<M> {
    #[doc(hidden)]
    fn into_group_by(self) -> Vec<Operand>;
}

impl<M, T: FieldType> IntoGroupBy<M> for Column<M, T> {
    fn into_group_by(self) -> Vec<Operand> {
        vec![self.operand()]
    }
}

macro_rules! tuple_group_by {
    ($($name:ident $idx:tt)+) => {
        impl<M, $($name: IntoGroupBy<M>),+> IntoGroupBy<M> for ($($name,)+) {
            fn into_group_by(self) -> Vec<Operand> {
                let mut out = Vec::new();
                $(out.extend(self.$idx.into_group_by());)+
                out
            }
        }
    };
}

tuple_group_by!(A 0);
tuple_group_by!(A 0 B 1);
tuple_group_by!(A 0 B 1 C 2);
tuple_group_by!(A 0 B 1 C 2 D 3);

/// A query selecting a [`Projection`] instead of whole models.
#[must_use = "a query does nothing until a terminal method (all, first, one) runs it"]
pub struct Values<M, P> {
    query: QuerySet<M>,
    projection: P,
    group_by: Vec<Operand>,
    having: Node,
    orders: Option<Vec<Order<Grouped<M>>>>,
}

impl<M, P> std::fmt::Debug for Values<M, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Values")
            .field("query", &self.query)
            .field("group_by", &self.group_by)
            .field("having", &self.having)
            .finish_non_exhaustive()
    }
}

impl<M: Model, P: Projection<M>> Values<M, P> {
    pub(crate) fn new(query: QuerySet<M>, projection: P, group_by: Vec<Operand>) -> Self {
        Values {
            query,
            projection,
            group_by,
            having: Node::And(Vec::new()),
            orders: None,
        }
    }

    /// Keeps the groups whose aggregates match `condition` (ANDed with
    /// earlier ones): `HAVING`.
    pub fn having(mut self, condition: impl IntoHaving<M>) -> Self {
        self.having =
            std::mem::replace(&mut self.having, Node::True).and(condition.into_having().0);
        self
    }

    /// Orders by columns and aggregates (`Book::ID.count().desc()`),
    /// replacing the query's order.
    pub fn order_by(mut self, orders: impl IntoOrders<Grouped<M>>) -> Self {
        self.orders = Some(orders.into_orders());
        self
    }

    /// The SELECT this runs, for `dialect`, and its number of binds.
    pub fn to_sql(&self, dialect: Dialect) -> (String, usize) {
        let mut w = SqlWriter::new(dialect);
        w.push_select(&self.statement());
        self.query.push_lock(&mut w);
        let (sql, binds) = w.finish();
        (sql, binds.len())
    }

    /// The statement, untyped: also what a subquery renders.
    pub(crate) fn statement(&self) -> Select {
        let items = self
            .projection
            .select_items()
            .into_iter()
            .map(|SelectItem::Operand(op)| op)
            .collect();
        let mut select = Select::of(&self.query, items);
        select.group_by = self.group_by.clone();
        select.having = self.having.clone();
        if let Some(orders) = &self.orders {
            select.orders = erase(orders);
        }
        select
    }

    fn render(&self, dialect: Dialect, limit: Option<u64>) -> Result<(String, Vec<Value>)> {
        self.statement().render_for(&self.query, dialect, limit)
    }

    /// Every row.
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<P::Row>> {
        let executor = &self.query.on(executor);
        let (sql, binds) = self.render(executor.dialect(), None)?;
        executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await
    }

    /// The first row, or `None`.
    pub async fn first<E: Executor>(&self, executor: &E) -> Result<Option<P::Row>> {
        let executor = &self.query.on(executor);
        let limit = self.query.limit.map_or(1, |l| l.min(1));
        let (sql, binds) = self.render(executor.dialect(), Some(limit))?;
        let mut rows = executor
            .run_query(&sql, Ok(binds), Cardinality::Optional, Origin::Rendered)
            .await?;
        Ok(rows.pop())
    }

    /// The one row ([`Error::NotFound`] / [`Error::TooManyRows`] otherwise):
    /// what an aggregate without GROUP BY returns.
    pub async fn one<E: Executor>(&self, executor: &E) -> Result<P::Row> {
        let executor = &self.query.on(executor);
        let (sql, binds) = self.render(executor.dialect(), None)?;
        let mut rows = executor
            .run_query(&sql, Ok(binds), Cardinality::One, Origin::Rendered)
            .await?;
        rows.pop().ok_or(Error::NotFound)
    }
}
