//! The terminals that write: [`update`](QuerySet::update),
//! [`delete`](QuerySet::delete), their `_returning` forms,
//! [`get_or_create`](QuerySet::get_or_create) and
//! [`update_or_create`](QuerySet::update_or_create).

use super::QuerySet;
use crate::backend::Dialect;
use crate::error::{Error, Result};
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::condition::Node;
use crate::query::render::SqlWriter;
use crate::query::update::Assignment;
use crate::query::write::{insert_many, OnConflict};
use crate::row::Cardinality;
use crate::value::Value;

impl<M: Model> QuerySet<M> {
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
                    .run_execute(&sql, Ok(binds), crate::executor::private::Origin::Rendered)
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
            .run_execute(&sql, Ok(binds), crate::executor::private::Origin::Rendered)
            .await
    }

    /// Deletes every matching row, returning the deleted rows.
    pub async fn delete_returning<E: Executor>(&self, executor: &E) -> Result<Vec<M>> {
        let executor = &self.on(executor);
        let (sql, binds) = self.render_delete(executor.dialect(), true)?;
        executor
            .run_query(
                &sql,
                Ok(binds),
                Cardinality::All,
                crate::executor::private::Origin::Rendered,
            )
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
                    .run_query(
                        &sql,
                        Ok(binds),
                        Cardinality::All,
                        crate::executor::private::Origin::Rendered,
                    )
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
        let executor = &self.on(executor);
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
