//! The terminals that read: [`all`](QuerySet::all),
//! [`stream`](QuerySet::stream), [`first`](QuerySet::first),
//! [`get`](QuerySet::get), [`count`](QuerySet::count) and
//! [`exists`](QuerySet::exists).

use super::QuerySet;
use crate::error::{Error, Result};
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::order::IntoOrders;
use crate::query::render::SqlWriter;
use crate::row::Cardinality;

impl<M: Model> QuerySet<M> {
    /// Every matching row.
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<M>> {
        let executor = &self.on(executor);
        let (sql, binds) = self.render_select(executor.dialect());
        executor
            .run_query(
                &sql,
                Ok(binds),
                Cardinality::All,
                crate::executor::private::Origin::Rendered,
            )
            .await
    }

    /// Streams the matching rows one at a time, never holding the whole
    /// result in memory (see [`Database::fetch_stream`](crate::Database::fetch_stream)).
    pub fn stream(
        &self,
        db: &crate::Database,
    ) -> impl crate::Stream<Item = Result<M>> + Send + 'static {
        let (sql, binds) = self.render_select(db.dialect());
        crate::stream::rows(db.clone(), sql, binds)
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
            .run_query(
                &sql,
                Ok(binds),
                Cardinality::Optional,
                crate::executor::private::Origin::Rendered,
            )
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
            .run_query(
                &sql,
                Ok(binds),
                Cardinality::One,
                crate::executor::private::Origin::Rendered,
            )
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
                .run_query(
                    &sql,
                    Ok(binds),
                    Cardinality::One,
                    crate::executor::private::Origin::Rendered,
                )
                .await
                .and_then(one);
        }
        w.push_sql("SELECT COUNT(*)");
        self.push_from_where(&mut w);
        let (sql, binds) = w.finish();
        executor
            .run_query(
                &sql,
                Ok(binds),
                Cardinality::One,
                crate::executor::private::Origin::Rendered,
            )
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
            .run_query(
                &sql,
                Ok(binds),
                Cardinality::One,
                crate::executor::private::Origin::Rendered,
            )
            .await
            .and_then(one)
    }
}

fn one<T>(mut rows: Vec<T>) -> Result<T> {
    rows.pop().ok_or(Error::NotFound)
}
