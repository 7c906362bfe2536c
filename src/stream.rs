//! Row streams: rows decoded one at a time as the database produces them,
//! never the whole result in memory.
//!
//! The stream holds its pooled connection until it ends or is dropped.
//! SQLite: the worker steps the statement and sends each decoded row through
//! a bounded channel (it waits while the consumer is behind); dropping the
//! stream interrupts the statement. PostgreSQL: rows are decoded as they
//! arrive; rows the server still sends after the stream is dropped are
//! drained by the connection before its next use.

use crate::backend::sqlite::{stream_rows, ReplyHandle};
use crate::connection::Connection;
use crate::database::Database;
use crate::error::Result;
use crate::row::{FromRow, Row, RowDecoder};
use crate::value::Value;
use futures_util::stream::{self, BoxStream, StreamExt};
use futures_util::TryStreamExt;
use std::pin::Pin;

/// Rows buffered between the SQLite worker and the consumer.
const SQLITE_STREAM_BUFFER: usize = 64;

type PgRows = Pin<Box<tokio_postgres::RowStream>>;

enum State<T> {
    Start(Database, String, Vec<Value>),
    Sqlite {
        rows: tokio::sync::mpsc::Receiver<Result<T>>,
        // Field order: the job is cancelled before the connection returns.
        _job: ReplyHandle,
        _conn: Connection,
    },
    Postgres {
        rows: PgRows,
        conn: UnfinishedPg,
        sql: String,
        decoder: RowDecoder<T>,
    },
    Done,
}

/// Streams the rows of `sql` decoded as `T`.
pub(crate) fn rows<T: FromRow>(
    db: Database,
    sql: String,
    binds: Vec<Value>,
) -> BoxStream<'static, Result<T>> {
    stream::unfold(State::Start(db, sql, binds), |state| async move {
        let mut state = state;
        loop {
            match state {
                State::Start(db, sql, binds) => match start::<T>(&db, sql, binds).await {
                    Ok(next) => state = next,
                    Err(e) => return Some((Err(e), State::Done)),
                },
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
                            let error = match conn.0.pg_conn() {
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

async fn start<T: FromRow>(db: &Database, sql: String, binds: Vec<Value>) -> Result<State<T>> {
    if let Some(started) = db.start_pg_stream(&sql, &binds).await {
        let (rows, conn) = started?;
        return Ok(State::Postgres {
            rows: Box::pin(rows),
            conn: UnfinishedPg(conn, false),
            sql,
            decoder: RowDecoder::new(),
        });
    }
    let conn = db.acquire_for(&sql).await?;
    // Streams serve raw SQL and QuerySets alike: checked as raw (safe).
    conn.note_origin(&sql, crate::executor::private::Origin::Raw, false)?;
    let (tx, rx) = tokio::sync::mpsc::channel(SQLITE_STREAM_BUFFER);
    let job = stream_rows::<T>(conn.sqlite_conn()?, sql, binds, tx).await?;
    Ok(State::Sqlite {
        rows: rx,
        _job: job,
        _conn: conn,
    })
}

/// A PostgreSQL connection whose stream may be dropped before its last
/// row: it is then marked abandoned, so the server is told to stop sending
/// rows before the connection is reused.
struct UnfinishedPg(Connection, bool);

impl UnfinishedPg {
    fn finish(mut self) {
        self.1 = true;
    }
}

impl Drop for UnfinishedPg {
    fn drop(&mut self) {
        if !self.1 {
            if let Ok(pg) = self.0.pg_conn() {
                pg.mark_abandoned();
            }
        }
    }
}
