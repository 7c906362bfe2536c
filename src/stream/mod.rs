//! Row streams: rows decoded one at a time as the database produces them,
//! never the whole result in memory.
//!
//! A stream holds its connection until it ends or is dropped: a pooled one
//! it checked out itself ([`rows`]), or one the caller lends it
//! ([`rows_on`], for a checked-out `Connection` or a `Transaction`, which
//! the caller's `&mut` borrow keeps from running anything else meanwhile).
//! SQLite: the worker steps the statement and sends each decoded row through
//! a bounded channel (it waits while the consumer is behind); dropping the
//! stream interrupts the statement. PostgreSQL: rows are decoded as they
//! arrive; rows the server still sends after the stream is dropped are
//! drained by the connection before its next use.

mod source;

pub use source::StreamSource;

#[cfg(feature = "sqlite")]
use crate::backend::sqlite::{stream_rows, Mode, ReplyHandle};
use crate::connection::Connection;
use crate::database::Database;
use crate::error::Result;
use crate::executor::private::Origin;
use crate::observe::{self, Kind};
use crate::row::FromRow;
#[cfg(feature = "postgres")]
use crate::row::{Row, RowDecoder};
use crate::value::Value;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt};
use futures_util::FutureExt;
#[cfg(feature = "postgres")]
use futures_util::TryStreamExt;
use std::borrow::Borrow;
#[cfg(feature = "postgres")]
use std::pin::Pin;

/// Rows buffered between the SQLite worker and the consumer.
#[cfg(feature = "sqlite")]
const SQLITE_STREAM_BUFFER: usize = 64;

#[cfg(feature = "postgres")]
type PgRows = Pin<Box<tokio_postgres::RowStream>>;

/// `C`: the connection, owned (`Connection`) or lent (`&Connection`).
enum State<'a, C: Borrow<Connection>, T> {
    Start(BoxFuture<'a, Result<State<'a, C, T>>>),
    #[cfg(feature = "sqlite")]
    Sqlite {
        rows: tokio::sync::mpsc::Receiver<Result<T>>,
        // Field order: the job is cancelled before the connection returns.
        _job: ReplyHandle,
        _conn: C,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        rows: PgRows,
        conn: UnfinishedPg<C>,
        sql: String,
        decoder: RowDecoder<T>,
    },
    Done,
}

/// Streams the rows of `sql` decoded as `T` on a connection of `db`.
pub(crate) fn rows<T: FromRow>(
    db: Database,
    sql: String,
    binds: Vec<Value>,
) -> BoxStream<'static, Result<T>> {
    drive(async move { start::<T>(&db, sql, binds).await }.boxed())
}

/// Streams the rows of `sql` decoded as `T` on `conn`, which the caller
/// holds; `in_transaction`: inside a transaction open on it (SQLite: the
/// job is refused if SQLite already rolled it back).
pub(crate) fn rows_on<T: FromRow>(
    conn: &Connection,
    sql: String,
    binds: Vec<Value>,
    in_transaction: bool,
    origin: Origin,
) -> BoxStream<'_, Result<T>> {
    drive(async move { start_on::<T>(conn, sql, binds, in_transaction, origin).await }.boxed())
}

fn drive<'a, C, T>(start: BoxFuture<'a, Result<State<'a, C, T>>>) -> BoxStream<'a, Result<T>>
where
    C: Borrow<Connection> + Send + 'a,
    T: FromRow,
{
    stream::unfold(State::Start(start), |state| async move {
        let mut state = state;
        loop {
            match state {
                State::Start(start) => match start.await {
                    Ok(next) => state = next,
                    Err(e) => return Some((Err(e), State::Done)),
                },
                #[cfg(feature = "sqlite")]
                State::Sqlite {
                    mut rows,
                    _job,
                    _conn,
                } => {
                    return match rows.recv().await {
                        Some(Err(e)) => Some((Err(e), State::Done)),
                        Some(Ok(row)) => Some((Ok(row), State::Sqlite { rows, _job, _conn })),
                        None => None,
                    }
                }
                #[cfg(feature = "postgres")]
                State::Postgres {
                    mut rows,
                    conn,
                    sql,
                    mut decoder,
                } => {
                    return match rows.try_next().await {
                        Ok(Some(row)) => {
                            let item = decoder.decode(&Row::postgres(&row));
                            let next = if item.is_ok() {
                                State::Postgres {
                                    rows,
                                    conn,
                                    sql,
                                    decoder,
                                }
                            } else {
                                State::Done
                            };
                            Some((item, next))
                        }
                        Ok(None) => {
                            conn.finish();
                            None
                        }
                        Err(e) => {
                            let error = match conn.0.borrow().pg_conn() {
                                Ok(pg) => pg.stream_error(e, &sql),
                                Err(other) => other,
                            };
                            Some((Err(error), State::Done))
                        }
                    }
                }
                State::Done => return None,
            }
        }
    })
    .boxed()
}

// With one backend feature off, the other backend's `return` ends the body.
#[allow(clippy::needless_return)]
async fn start<'a, T: FromRow>(
    db: &Database,
    sql: String,
    binds: Vec<Value>,
) -> Result<State<'a, Connection, T>> {
    let observed = observe::statement(&sql, &binds, Kind::Query);
    #[cfg(feature = "postgres")]
    if let Some(started) = db.start_pg_stream(&sql, &binds).await {
        let (rows, conn) = started?;
        return Ok(State::Postgres {
            rows: Box::pin(rows),
            conn: UnfinishedPg(conn, false),
            sql,
            decoder: RowDecoder::new(observed),
        });
    }
    #[cfg(feature = "sqlite")]
    {
        let conn = db.acquire_for(&sql).await?;
        // Streams serve raw SQL and QuerySets alike: checked as raw (safe).
        conn.note_origin(&sql, Origin::Raw, false)?;
        let (tx, rx) = tokio::sync::mpsc::channel(SQLITE_STREAM_BUFFER);
        let job =
            stream_rows::<T>(conn.sqlite_conn()?, sql, binds, tx, Mode::Session, observed).await?;
        return Ok(State::Sqlite {
            rows: rx,
            _job: job,
            _conn: conn,
        });
    }
    #[cfg(not(feature = "sqlite"))]
    return Err(crate::error::Error::Unsupported {
        backend: "postgres",
        what: "a SQLite row stream (built without the `sqlite` feature)".into(),
    });
}

// With one backend feature off, the other backend's `return` ends the body.
#[allow(clippy::needless_return)]
async fn start_on<'a, T: FromRow>(
    conn: &'a Connection,
    sql: String,
    binds: Vec<Value>,
    in_transaction: bool,
    origin: Origin,
) -> Result<State<'a, &'a Connection, T>> {
    conn.note_origin(&sql, origin, false)?;
    let observed = observe::statement(&sql, &binds, Kind::Query);
    #[cfg(feature = "postgres")]
    if let Ok(pg) = conn.pg_conn() {
        let rows = pg.query_stream(&sql, &binds).await?;
        return Ok(State::Postgres {
            rows: Box::pin(rows),
            conn: UnfinishedPg(conn, false),
            sql,
            decoder: RowDecoder::new(observed),
        });
    }
    #[cfg(feature = "sqlite")]
    {
        let mode = if in_transaction {
            Mode::InTransaction
        } else {
            Mode::Session
        };
        let (tx, rx) = tokio::sync::mpsc::channel(SQLITE_STREAM_BUFFER);
        let job = stream_rows::<T>(conn.sqlite_conn()?, sql, binds, tx, mode, observed).await?;
        return Ok(State::Sqlite {
            rows: rx,
            _job: job,
            _conn: conn,
        });
    }
    #[cfg(not(feature = "sqlite"))]
    {
        let _ = in_transaction;
        return Err(crate::error::Error::Unsupported {
            backend: "postgres",
            what: "a SQLite row stream (built without the `sqlite` feature)".into(),
        });
    }
}

/// A PostgreSQL connection whose stream may be dropped before its last
/// row: it is then marked abandoned, so the server is told to stop sending
/// rows before the connection is reused.
#[cfg(feature = "postgres")]
struct UnfinishedPg<C: Borrow<Connection>>(C, bool);

#[cfg(feature = "postgres")]
impl<C: Borrow<Connection>> UnfinishedPg<C> {
    fn finish(mut self) {
        self.1 = true;
    }
}

#[cfg(feature = "postgres")]
impl<C: Borrow<Connection>> Drop for UnfinishedPg<C> {
    fn drop(&mut self) {
        if !self.1 {
            if let Ok(pg) = self.0.borrow().pg_conn() {
                pg.mark_abandoned();
            }
        }
    }
}
