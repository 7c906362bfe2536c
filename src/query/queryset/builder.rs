//! Building a query: filters, order, slicing, locking, projections and
//! the statement timeout, and the `SELECT` they render.

use super::{GroupedQuerySet, QuerySet, RowLock};
use crate::backend::Dialect;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::condition::{Condition, Node};
use crate::query::operand::Operand;
use crate::query::order::IntoOrders;
use crate::query::render::SqlWriter;
use crate::query::select::{IntoGroupBy, Projection, Values};
use crate::value::Value;
use std::marker::PhantomData;

impl<M: Model> QuerySet<M> {
    /// Every row of the table.
    pub fn new() -> Self {
        QuerySet {
            filter: Node::And(Vec::new()),
            orders: Vec::new(),
            limit: None,
            offset: None,
            distinct: false,
            lock: None,
            timeout: None,
            _marker: PhantomData,
        }
    }

    /// Keeps the rows matching `condition` (ANDed with earlier filters).
    pub fn filter(mut self, condition: Condition<M>) -> Self {
        self.filter = std::mem::replace(&mut self.filter, Node::True).and(condition.node);
        self
    }

    /// Drops the rows matching `condition`. Like SQL's `NOT`, a row whose
    /// condition is unknown (NULL) is dropped as well.
    pub fn exclude(self, condition: Condition<M>) -> Self {
        self.filter(!condition)
    }

    /// Orders by one or more terms, replacing any earlier order.
    pub fn order_by(mut self, orders: impl IntoOrders<M>) -> Self {
        self.orders = orders.into_orders();
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// Removes duplicate rows (`SELECT DISTINCT`).
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Locks the selected rows until the end of the transaction
    /// (`FOR UPDATE`, with [`RowLock::SkipLocked`] or [`RowLock::NoWait`]
    /// as asked) on PostgreSQL. SQLite has no row locks and takes no clause:
    /// a SQLite write transaction already holds the database's write lock
    /// from its `BEGIN IMMEDIATE`, so rows read inside one cannot change
    /// under it; outside a transaction the lock has nothing to hold.
    pub fn select_for_update(mut self, lock: RowLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// Selects columns, expressions or aggregates instead of whole models;
    /// rows decode into the matching tuple type.
    ///
    /// ```
    /// # use sylvan::prelude::*;
    /// # use sylvan::Model;
    /// # #[derive(Model)] struct User { #[model(primary_key)] id: i64, city: String, age: i32 }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = Database::connect("sqlite::memory:").await?;
    /// # db.execute("CREATE TABLE user (id INTEGER PRIMARY KEY, city TEXT NOT NULL, age INTEGER NOT NULL)", ()).await?;
    /// # db.execute("INSERT INTO user VALUES (1, 'Oslo', 30), (2, 'Oslo', 40), (3, 'Rome', 50)", ()).await?;
    /// let per_city: Vec<(String, i64, Option<f64>)> = User::objects()
    ///     .order_by(User::CITY.asc())
    ///     .group_by(User::CITY)
    ///     .values((User::CITY, User::ID.count(), User::AGE.avg()))
    ///     .all(&db)
    ///     .await?;
    /// assert_eq!(per_city, vec![("Oslo".into(), 2, Some(35.0)), ("Rome".into(), 1, Some(50.0))]);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn values<P: Projection<M>>(self, projection: P) -> Values<M, P> {
        Values::new(self, projection, Vec::new())
    }

    /// Groups rows for aggregates: follow with [`values`](Self::values).
    pub fn group_by(self, columns: impl IntoGroupBy<M>) -> GroupedQuerySet<M> {
        GroupedQuerySet {
            query: self,
            group_by: columns.into_group_by(),
        }
    }

    /// The SELECT this query runs, for `dialect`, and its number of binds.
    pub fn to_sql(&self, dialect: Dialect) -> (String, usize) {
        let (sql, binds) = self.render_select(dialect);
        (sql, binds.len())
    }

    pub(crate) fn push_from_where(&self, w: &mut SqlWriter) {
        w.push_sql(" FROM ");
        w.push_identifier(M::TABLE);
        self.push_where(w);
    }

    pub(crate) fn push_where(&self, w: &mut SqlWriter) {
        if !matches!(&self.filter, Node::And(v) if v.is_empty()) {
            w.push_sql(" WHERE ");
            w.push_condition(&self.filter);
        }
    }

    /// Each row with its related row through a foreign key, in one JOIN
    /// query (`LEFT JOIN` for a nullable key): see [`crate::Relation`].
    /// `distinct` and `select_for_update` carry over (see
    /// [`SelectRelated::to_sql`](crate::SelectRelated::to_sql)).
    pub fn select_related<R, K>(
        self,
        relation: crate::Relation<M, R, K>,
    ) -> crate::SelectRelated<M, R, K>
    where
        M: Send,
        R: Model + Send,
        R::PrimaryKey: std::hash::Hash + Eq,
        K: crate::ForeignKeyType<R::PrimaryKey>,
        K::Joined<R>: Send + 'static,
    {
        crate::SelectRelated::new(self, relation)
    }

    pub(crate) fn render_select(&self, dialect: Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.push_sql(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        for (i, column) in M::COLUMNS.iter().enumerate() {
            if i > 0 {
                w.push_sql(", ");
            }
            w.push_column(M::TABLE, column);
        }
        let positions = self.push_distinct_order_terms(&mut w, M::COLUMNS.len());
        self.push_from_where(&mut w);
        w.push_orders_with(&self.orders, |i| positions[i]);
        w.push_limit_offset(self.limit, self.offset);
        self.push_lock(&mut w);
        w.finish()
    }

    /// With `distinct`, appends to the select list (which has `selected`
    /// terms so far) the ORDER BY terms that are not plain columns, and
    /// returns, per order term, the position to order by instead.
    ///
    /// PostgreSQL wants DISTINCT's ORDER BY expressions in the select list:
    /// they are added there and ordered by position (binding a value twice
    /// would make two different expressions). Rows decode by position, so
    /// trailing extras are ignored, and a model's columns include its key,
    /// so DISTINCT is unchanged.
    pub(crate) fn push_distinct_order_terms(
        &self,
        w: &mut SqlWriter,
        selected: usize,
    ) -> Vec<Option<usize>> {
        let mut positions = vec![None; self.orders.len()];
        if self.distinct {
            let mut next = selected;
            for (i, order) in self.orders.iter().enumerate() {
                if !matches!(order.operand, Operand::Column { .. }) {
                    w.push_sql(", ");
                    w.push_operand(&order.operand);
                    next += 1;
                    positions[i] = Some(next);
                }
            }
        }
        positions
    }

    /// Bounds each statement this query runs by `timeout`, overriding the
    /// pool's [`statement_timeout`](crate::PoolConfig::statement_timeout)
    /// and an executor's [`with_timeout`](crate::Executor::with_timeout): a
    /// statement still running then fails with
    /// [`Error::StatementTimeout`](crate::Error::StatementTimeout) and is
    /// cancelled. Carried over by [`values`](Self::values) and
    /// [`group_by`](Self::group_by).
    ///
    /// ```
    /// use std::time::Duration;
    /// use sylvan::prelude::*;
    /// #[derive(Model)]
    /// struct Item { #[model(primary_key)] id: i64 }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY)", ()).await?;
    /// let n = Item::objects().timeout(Duration::from_secs(2)).count(&db).await?;
    /// assert_eq!(n, 0);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `executor` with this query's statement timeout, if it has one.
    pub(crate) fn on<'e, E: Executor>(
        &self,
        executor: &'e E,
    ) -> crate::timeout::MaybeTimeout<'e, E> {
        crate::timeout::MaybeTimeout::new(executor, self.timeout)
    }
}
