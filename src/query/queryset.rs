//! `QuerySet<M>`: a lazy, typed query over one model's table.

use super::condition::{IntoCondition, Node};
use super::operand::Operand;
use super::order::{IntoOrders, Order};
use super::render::SqlWriter;
use super::select::{IntoGroupBy, Projection, Values};
use super::update::Assignment;
use super::write::{insert_many, OnConflict};
use crate::backend::Dialect;
use crate::error::{Error, Result};
use crate::executor::private::Origin;
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::row::Cardinality;
use crate::value::Value;
use std::marker::PhantomData;

/// A query over the rows of model `M`, built by chaining and run by a
/// terminal method given an [`Executor`] (a [`Database`](crate::Database),
/// a [`Connection`](crate::Connection)). Nothing touches the database
/// before that.
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
///     r#"SELECT "user"."id", "user"."name", "user"."age" FROM "user" WHERE (("user"."age" > $1) AND NOT ("user"."name" LIKE $2 ESCAPE E'\\')) ORDER BY "user"."name" ASC, "user"."id" DESC LIMIT 10"#
/// );
/// assert_eq!(
///     q.to_sql(Dialect::Sqlite).0,
///     r#"SELECT "user"."id", "user"."name", "user"."age" FROM "user" WHERE (("user"."age" > ?1) AND NOT ("user"."name" GLOB ?2)) ORDER BY "user"."name" ASC, "user"."id" DESC LIMIT 10"#
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
    pub(crate) primary: bool,
    _marker: PhantomData<fn() -> M>,
}

/// Row locking of [`QuerySet::select_for_update`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowLock {
    /// `FOR UPDATE`: wait for rows locked by others.
    Wait,
    /// `FOR UPDATE SKIP LOCKED`: leave out rows locked by others.
    SkipLocked,
    /// `FOR UPDATE NOWAIT`: fail at once if a row is locked by others.
    NoWait,
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
            primary: self.primary,
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
            primary: false,
            _marker: PhantomData,
        }
    }

    /// Keeps the rows matching `condition` (ANDed with earlier filters).
    pub fn filter(mut self, condition: impl IntoCondition<M>) -> Self {
        let condition = condition.into_condition();
        self.filter = std::mem::replace(&mut self.filter, Node::True).and(condition.node);
        self
    }

    /// Drops the rows matching `condition`. Like SQL's `NOT`, a row whose
    /// condition is unknown (NULL) is dropped as well.
    pub fn exclude(self, condition: impl IntoCondition<M>) -> Self {
        self.filter(!condition.into_condition())
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
    /// `path` may be a chain (`Loan::BOOK.then(Book::AUTHOR)`, see
    /// [`crate::Then`]), and more paths join the same query by chaining
    /// [`SelectRelated::select_related`](crate::SelectRelated::select_related).
    /// `distinct` and `select_for_update` carry over (see
    /// [`SelectRelated::to_sql`](crate::SelectRelated::to_sql)).
    pub fn select_related<P>(self, path: P) -> crate::SelectRelated<M, (P,)>
    where
        M: Send,
        P: crate::RelatedPath<M>,
    {
        crate::SelectRelated::new(self, (path,))
    }

    /// Each row with its children through `relation`, a foreign key of
    /// another model pointing at this one, in one `LEFT JOIN` query: see
    /// [`JoinChildren`](crate::JoinChildren).
    pub fn join_children<F>(self, relation: F) -> crate::JoinChildren<M, F::Child, F::Key>
    where
        F: crate::ChildRelation<M>,
    {
        crate::JoinChildren::new(self, relation.into_relation())
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

    /// `FOR UPDATE …` on PostgreSQL (see [`QuerySet::select_for_update`]).
    pub(crate) fn push_lock(&self, w: &mut SqlWriter) {
        self.push_lock_of(w, None);
    }

    /// `FOR UPDATE [OF "table"] …` on PostgreSQL: `of` limits the lock to
    /// one table of a join (the rows of a nullable side cannot be locked).
    pub(crate) fn push_lock_of(&self, w: &mut SqlWriter, of: Option<&str>) {
        if let (Some(lock), Dialect::Postgres) = (self.lock, w.dialect()) {
            w.push_sql(" FOR UPDATE");
            if let Some(table) = of {
                w.push_sql(" OF ");
                w.push_identifier(table);
            }
            w.push_sql(match lock {
                RowLock::Wait => "",
                RowLock::SkipLocked => " SKIP LOCKED",
                RowLock::NoWait => " NOWAIT",
            });
        }
    }

    /// Bounds each statement this query runs by `timeout`, overriding the
    /// pool's [`statement_timeout`](crate::PoolConfig::statement_timeout)
    /// and an executor's [`with_timeout`](crate::Executor::with_timeout): a
    /// statement still running then fails with
    /// [`Error::StatementTimeout`] and is cancelled. Carried over by
    /// [`values`](Self::values) and [`group_by`](Self::group_by).
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

    /// Runs this query on the primary, never a read replica: read-your-writes
    /// for one query (see [read replicas](crate::Database#read-replicas)).
    /// No effect without replicas.
    pub fn primary(mut self) -> Self {
        self.primary = true;
        self
    }

    /// `executor` with this query's statement timeout and routing.
    pub(crate) fn on<'e, E: Executor>(
        &self,
        executor: &'e E,
    ) -> crate::timeout::MaybeTimeout<'e, E> {
        crate::timeout::MaybeTimeout::new(executor, self.timeout, self.primary)
    }

    /// Every matching row.
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<M>> {
        let executor = &self.on(executor);
        let (sql, binds) = self.render_select(executor.dialect());
        executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await
    }

    /// Streams the matching rows one at a time, never holding the whole
    /// result in memory, from a `&Database` (see
    /// [`Database::fetch_stream`](crate::Database::fetch_stream)), a
    /// `&mut Connection` or a `&mut Transaction` (see
    /// [`Transaction::fetch_stream`](crate::Transaction::fetch_stream)):
    /// [`StreamSource`](crate::StreamSource).
    pub fn stream<'e, S: crate::StreamSource<'e>>(
        &self,
        source: S,
    ) -> impl crate::Stream<Item = Result<M>> + Send + 'e {
        let (sql, binds) = self.render_select(source.stream_dialect());
        source.stream_rows(sql, binds, self.primary)
    }

    /// The first matching row in the query's order (by primary key when it
    /// has none), or `None`.
    pub async fn first<E: Executor>(&self, executor: &E) -> Result<Option<M>> {
        let executor = &self.on(executor);
        let mut query = self.clone();
        if query.orders.is_empty() {
            query.orders = M::primary_key_column().into_orders();
        }
        query.limit = Some(query.limit.map_or(1, |l| l.min(1)));
        let (sql, binds) = query.render_select(executor.dialect());
        let mut rows = executor
            .run_query(&sql, Ok(binds), Cardinality::Optional, Origin::Rendered)
            .await?;
        Ok(rows.pop())
    }

    /// The one matching row: [`Error::NotFound`] for none,
    /// [`Error::TooManyRows`] for more.
    pub async fn get<E: Executor>(&self, executor: &E) -> Result<M> {
        let executor = &self.on(executor);
        let mut query = self.clone();
        if query.limit.is_none() {
            query.limit = Some(2);
        }
        let (sql, binds) = query.render_select(executor.dialect());
        let mut rows = executor
            .run_query(&sql, Ok(binds), Cardinality::One, Origin::Rendered)
            .await?;
        rows.pop().ok_or(Error::NotFound)
    }

    /// The number of matching rows (after `distinct`, `limit` and `offset`).
    pub async fn count<E: Executor>(&self, executor: &E) -> Result<i64> {
        let executor = &self.on(executor);
        let dialect = executor.dialect();
        let mut w = SqlWriter::new(dialect);
        if self.distinct || self.limit.is_some() || self.offset.is_some() {
            let (inner, binds) = self.render_select(dialect);
            // The inner query's binds are numbered from 1 already.
            w.push_sql("SELECT COUNT(*) FROM (");
            w.push_sql(&inner);
            w.push_sql(") AS counted");
            let (sql, _) = w.finish();
            return executor
                .run_query(&sql, Ok(binds), Cardinality::One, Origin::Rendered)
                .await
                .and_then(one);
        }
        w.push_sql("SELECT COUNT(*)");
        self.push_from_where(&mut w);
        let (sql, binds) = w.finish();
        executor
            .run_query(&sql, Ok(binds), Cardinality::One, Origin::Rendered)
            .await
            .and_then(one)
    }

    /// True when at least one row matches.
    pub async fn exists<E: Executor>(&self, executor: &E) -> Result<bool> {
        let executor = &self.on(executor);
        let (inner, binds) = {
            let mut q = self.clone();
            q.limit = Some(q.limit.map_or(1, |l| l.min(1)));
            q.orders.clear();
            q.render_select(executor.dialect())
        };
        let sql = format!("SELECT EXISTS ({inner})");
        executor
            .run_query(&sql, Ok(binds), Cardinality::One, Origin::Rendered)
            .await
            .and_then(one)
    }

    fn refuse_slicing(&self, what: &str) -> Result<()> {
        if self.limit.is_some() || self.offset.is_some() || self.distinct {
            return Err(Error::Unsupported {
                backend: "sylvan",
                what: format!("{what} on a query with limit, offset or distinct"),
            });
        }
        Ok(())
    }

    /// Updates every matching row, returning how many changed.
    ///
    /// ```
    /// # use sylvan::prelude::*;
    /// # use sylvan::Model;
    /// # #[derive(Model)] struct Book { #[model(primary_key)] id: i64, stock: i32, title: String }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let db = Database::connect("sqlite::memory:").await?;
    /// # db.execute("CREATE TABLE book (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, title TEXT NOT NULL)", ()).await?;
    /// # db.execute("INSERT INTO book VALUES (1, 5, 'a'), (2, 0, 'b')", ()).await?;
    /// let sold = Book::objects()
    ///     .filter(Book::STOCK.gt(0))
    ///     .update([Book::STOCK.set(Book::STOCK - 1)], &db)
    ///     .await?;
    /// assert_eq!(sold, 1);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub async fn update<E: Executor>(
        &self,
        assignments: impl IntoIterator<Item = Assignment<M>>,
        executor: &E,
    ) -> Result<u64> {
        let executor = &self.on(executor);
        match self.render_update(assignments, executor.dialect(), false)? {
            Some((sql, binds)) => {
                executor
                    .run_execute(&sql, Ok(binds), Origin::Rendered)
                    .await
            }
            None => Ok(0),
        }
    }

    /// `None` when there is nothing to set.
    fn render_update(
        &self,
        assignments: impl IntoIterator<Item = Assignment<M>>,
        dialect: Dialect,
        returning: bool,
    ) -> Result<Option<(String, Vec<Value>)>> {
        self.refuse_slicing("update")?;
        let mut w = SqlWriter::new(dialect);
        w.push_sql("UPDATE ");
        w.push_identifier(M::TABLE);
        w.push_sql(" SET ");
        let mut any = false;
        for (i, a) in assignments.into_iter().enumerate() {
            if i > 0 {
                w.push_sql(", ");
            }
            any = true;
            w.push_identifier(a.column);
            w.push_sql(" = ");
            w.push_operand(&a.value);
        }
        if !any {
            return Ok(None);
        }
        if !matches!(&self.filter, Node::And(v) if v.is_empty()) {
            w.push_sql(" WHERE ");
            w.push_condition(&self.filter);
        }
        if returning {
            push_returning::<M>(&mut w);
        }
        Ok(Some(w.finish()))
    }

    /// Deletes every matching row, returning how many went.
    pub async fn delete<E: Executor>(&self, executor: &E) -> Result<u64> {
        let executor = &self.on(executor);
        let (sql, binds) = self.render_delete(executor.dialect(), false)?;
        executor
            .run_execute(&sql, Ok(binds), Origin::Rendered)
            .await
    }

    /// Deletes every matching row, returning the deleted rows.
    pub async fn delete_returning<E: Executor>(&self, executor: &E) -> Result<Vec<M>> {
        let executor = &self.on(executor);
        let (sql, binds) = self.render_delete(executor.dialect(), true)?;
        executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await
    }

    fn render_delete(&self, dialect: Dialect, returning: bool) -> Result<(String, Vec<Value>)> {
        self.refuse_slicing("delete")?;
        let mut w = SqlWriter::new(dialect);
        w.push_sql("DELETE");
        self.push_from_where(&mut w);
        if returning {
            push_returning::<M>(&mut w);
        }
        Ok(w.finish())
    }

    /// Updates every matching row, returning the rows as updated.
    pub async fn update_returning<E: Executor>(
        &self,
        assignments: impl IntoIterator<Item = Assignment<M>>,
        executor: &E,
    ) -> Result<Vec<M>> {
        let executor = &self.on(executor);
        match self.render_update(assignments, executor.dialect(), true)? {
            Some((sql, binds)) => {
                executor
                    .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
                    .await
            }
            None => self.all(executor).await,
        }
    }

    /// The one matching row, or the object `make` builds, inserted: `(row,
    /// true)` when it was created.
    ///
    /// Race-safe when the filter's columns carry a unique constraint: of
    /// concurrent callers exactly one inserts (`INSERT … ON CONFLICT DO
    /// NOTHING`, which never aborts a PostgreSQL transaction) and the others
    /// get its row. Without such a constraint two callers can both insert.
    /// Inside a PostgreSQL `REPEATABLE READ` or `SERIALIZABLE` transaction a
    /// row inserted concurrently by another transaction is not visible, so
    /// the lookup after a conflict can fail with [`Error::NotFound`].
    pub async fn get_or_create<E: Executor>(
        &self,
        executor: &E,
        make: impl FnOnce() -> M,
    ) -> Result<(M, bool)>
    where
        M: Send,
    {
        // Look up, insert and look up again on one server: a replica may
        // not show the row just inserted.
        let pinned = self.clone().primary();
        let executor = &pinned.on(executor);
        match self.get(executor).await {
            Ok(found) => return Ok((found, false)),
            Err(Error::NotFound) => {}
            Err(e) => return Err(e),
        }
        let skip = OnConflict::do_nothing();
        let mut inserted = insert_many(vec![make()], Some(&skip), executor).await?;
        match inserted.pop() {
            Some(row) => Ok((row, true)),
            // Another caller inserted it between our lookup and insert.
            None => self.get(executor).await.map(|row| (row, false)),
        }
    }

    /// The one matching row updated by `update` and saved, or the object
    /// `make` builds, inserted: `(row, true)` when it was created. Creation
    /// is race-safe as for [`get_or_create`](Self::get_or_create); updates
    /// of concurrent callers are applied one after the other, the last one
    /// winning (lock the row with a transaction and
    /// [`select_for_update`](Self::select_for_update) for stricter needs).
    pub async fn update_or_create<E: Executor>(
        &self,
        executor: &E,
        make: impl FnOnce() -> M,
        update: impl FnOnce(&mut M),
    ) -> Result<(M, bool)>
    where
        M: Send,
    {
        let executor = &self.on(executor);
        let (mut row, created) = self.get_or_create(executor, make).await?;
        if !created {
            update(&mut row);
            row.save(executor).await?;
        }
        Ok((row, created))
    }
}

fn push_returning<M: Model>(w: &mut SqlWriter) {
    w.push_sql(" RETURNING ");
    w.push_identifiers(M::COLUMNS);
}

fn one<T>(mut rows: Vec<T>) -> Result<T> {
    rows.pop().ok_or(Error::NotFound)
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
