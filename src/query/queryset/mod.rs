//! `QuerySet<M>`: a lazy, typed query over one model's table.

mod builder;
mod lock;
mod reads;
mod writes;

pub use lock::RowLock;

use super::condition::Node;
use super::order::Order;
use super::select::{Projection, Values};
use crate::model::Model;
use std::marker::PhantomData;

/// A query over the rows of model `M`, built by chaining and run by a
/// terminal method given an [`Executor`](crate::Executor) (a
/// [`Database`](crate::Database), a [`Connection`](crate::Connection)).
/// Nothing touches the database before that.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::{Dialect, Model};
///
/// #[derive(Debug, Model)]
/// struct User {
///     #[model(primary_key, auto)]
///     id: i64,
///     name: String,
///     age: i32,
/// }
///
/// let q = User::objects()
///     .filter(User::AGE.gt(18))
///     .exclude(User::NAME.startswith("test_"))
///     .order_by((User::NAME.asc(), User::ID.desc()))
///     .limit(10);
/// assert_eq!(
///     q.to_sql(Dialect::Postgres).0,
///     r#"SELECT "user"."id", "user"."name", "user"."age" FROM "user" WHERE (("user"."age" > $1) AND NOT ("user"."name" LIKE $2 ESCAPE E'\\')) ORDER BY "user"."name" ASC NULLS LAST, "user"."id" DESC NULLS FIRST LIMIT 10"#
/// );
/// assert_eq!(
///     q.to_sql(Dialect::Sqlite).0,
///     r#"SELECT "user"."id", "user"."name", "user"."age" FROM "user" WHERE (("user"."age" > ?1) AND NOT ("user"."name" GLOB ?2)) ORDER BY "user"."name" ASC NULLS LAST, "user"."id" DESC NULLS FIRST LIMIT 10"#
/// );
/// ```
#[must_use = "a QuerySet does nothing until a terminal method (all, get, count, …) runs it"]
pub struct QuerySet<M> {
    pub(crate) filter: Node,
    pub(crate) orders: Vec<Order<M>>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    pub(crate) distinct: bool,
    pub(crate) lock: Option<RowLock>,
    pub(crate) timeout: Option<std::time::Duration>,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            filter: self.filter.clone(),
            orders: self.orders.clone(),
            limit: self.limit,
            offset: self.offset,
            distinct: self.distinct,
            lock: self.lock,
            timeout: self.timeout,
            _marker: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for QuerySet<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySet")
            .field("filter", &self.filter)
            .field("orders", &self.orders)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .field("distinct", &self.distinct)
            .finish()
    }
}

impl<M: Model> Default for QuerySet<M> {
    fn default() -> Self {
        QuerySet::new()
    }
}

/// A [`QuerySet`] with GROUP BY columns, waiting for
/// [`values`](GroupedQuerySet::values).
#[must_use = "follow group_by with .values(…)"]
pub struct GroupedQuerySet<M> {
    query: QuerySet<M>,
    group_by: Vec<super::operand::Operand>,
}

impl<M> std::fmt::Debug for GroupedQuerySet<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupedQuerySet")
            .field("query", &self.query)
            .field("group_by", &self.group_by)
            .finish()
    }
}

impl<M: Model> GroupedQuerySet<M> {
    /// The grouped columns and aggregates to select.
    pub fn values<P: Projection<M>>(self, projection: P) -> Values<M, P> {
        Values::new(self.query, projection, self.group_by)
    }
}
