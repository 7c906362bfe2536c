//! Row streams inside a transaction.
//!
//! The stream borrows the transaction exclusively (`&mut`), so no other
//! statement can run on its connection meanwhile. It counts as one
//! statement of the transaction: refused once the transaction is poisoned,
//! and a stream dropped before its last row *poisons* the transaction, like
//! any statement abandoned before it finished: on SQLite the interrupted
//! statement may have made SQLite roll the transaction back, and on
//! PostgreSQL the rest of the result is still on its way (or the query
//! still running), so the transaction is refused from then on and rolled
//! back rather than committed on a guess.

use super::state::Pending;
use super::Transaction;
use crate::error::{Error, Result};
use crate::executor::private::Origin;
use crate::row::FromRow;
use crate::value::{Binds, Value};
use futures_util::stream::{self, BoxStream, StreamExt};

enum State<'a, T> {
    Start(String, Result<Vec<Value>>),
    Rows(BoxStream<'a, Result<T>>, Pending<'a>),
    Done,
}

impl<'c> Transaction<'c> {
    /// Streams the rows of a query inside this transaction, decoded one at
    /// a time: the whole result is never in memory. The stream borrows the
    /// transaction exclusively until it is dropped.
    ///
    /// Read every row (until the stream returns `None` or an error) before
    /// going on: a stream dropped before its end poisons the transaction
    /// (like any statement abandoned before it finished), so its later
    /// statements and `commit()` fail with [`Error::TransactionAborted`] and
    /// it is rolled back. Narrow the query (`LIMIT`) rather than stopping
    /// early.
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// use sylvan::StreamExt;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// db.execute("CREATE TABLE t (x INTEGER)", ()).await?;
    /// let mut tx = db.begin().await?;
    /// tx.execute("INSERT INTO t (x) VALUES (1), (2), (3)", ()).await?;
    /// let mut sum = 0;
    /// let mut rows = tx.fetch_stream::<i64, _>("SELECT x FROM t", ());
    /// while let Some(x) = rows.next().await {
    ///     sum += x?; // the transaction's own, uncommitted rows
    /// }
    /// drop(rows);
    /// assert_eq!(sum, 6);
    /// tx.commit().await?;
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    pub fn fetch_stream<T: FromRow, B: Binds>(
        &mut self,
        sql: &str,
        binds: B,
    ) -> impl crate::Stream<Item = Result<T>> + Send + '_ {
        self.stream_rows_as(sql.to_owned(), binds.into_values(), Origin::Raw)
    }

    /// The stream of [`fetch_stream`](Self::fetch_stream) and of a
    /// `QuerySet` streamed in this transaction.
    pub(crate) fn stream_rows_as<T: FromRow>(
        &self,
        sql: String,
        binds: Result<Vec<Value>>,
        origin: Origin,
    ) -> BoxStream<'_, Result<T>> {
        stream::unfold(State::Start(sql, binds), move |state| async move {
            let mut state = state;
            loop {
                match state {
                    State::Start(sql, binds) => {
                        let ready = async {
                            self.usable()?;
                            self.flush().await?;
                            binds
                        };
                        match ready.await {
                            Ok(binds) => {
                                let pending = Pending::new(&self.state);
                                let rows = crate::stream::rows_on(
                                    self.connection(),
                                    sql,
                                    binds,
                                    true,
                                    origin,
                                );
                                state = State::Rows(rows, pending);
                            }
                            Err(e) => return Some((Err(e), State::Done)),
                        }
                    }
                    State::Rows(mut rows, pending) => {
                        return match rows.next().await {
                            Some(Ok(row)) => Some((Ok(row), State::Rows(rows, pending))),
                            Some(Err(e)) => {
                                // The statement ended (failed): like any
                                // failed statement, recorded, not abandoned.
                                pending.done();
                                let result: Result<()> = Err(e);
                                if matches!(result, Err(Error::StatementTimeout { .. })) {
                                    self.state().abandoned = true;
                                }
                                self.note(&result);
                                result.err().map(|e| (Err(e), State::Done))
                            }
                            None => {
                                pending.done();
                                None
                            }
                        };
                    }
                    State::Done => return None,
                }
            }
        })
        .boxed()
    }
}
