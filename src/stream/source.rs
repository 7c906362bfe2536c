//! What a `QuerySet` can stream from: a database, or a connection or
//! transaction borrowed exclusively for the stream's life.

use crate::backend::Dialect;
use crate::connection::Connection;
use crate::database::Database;
use crate::error::Result;
use crate::executor::private::Origin;
use crate::row::FromRow;
use crate::transaction::Transaction;
use crate::value::Value;
use futures_util::stream::BoxStream;

pub(crate) mod private {
    use super::*;

    /// What a stream source must provide; sealed so the set stays ours.
    pub trait StreamRun<'e> {
        fn stream_dialect(&self) -> Dialect;

        /// `primary`: a `Database` reads from the primary, not a replica.
        fn stream_rows<T: FromRow>(
            self,
            sql: String,
            binds: Vec<Value>,
            primary: bool,
        ) -> BoxStream<'e, Result<T>>;
    }
}

/// Where [`QuerySet::stream`](crate::QuerySet::stream) can stream rows
/// from, the stream living for `'e`:
///
/// - `&Database`: the stream checks out its own pooled connection and can
///   be `'static`;
/// - `&mut Connection`: on that connection, borrowed exclusively until the
///   stream is dropped (nothing else can run on it meanwhile);
/// - `&mut Transaction`: inside that transaction, borrowed exclusively the
///   same way; see [`Transaction::fetch_stream`] for what dropping the
///   stream early does.
pub trait StreamSource<'e>: private::StreamRun<'e> {}

impl<'e, S: private::StreamRun<'e>> StreamSource<'e> for S {}

impl<'e> private::StreamRun<'e> for &Database {
    fn stream_dialect(&self) -> Dialect {
        self.dialect()
    }

    fn stream_rows<T: FromRow>(
        self,
        sql: String,
        binds: Vec<Value>,
        primary: bool,
    ) -> BoxStream<'e, Result<T>> {
        let db = if primary {
            self.primary()
        } else {
            self.clone()
        };
        super::rows(db, sql, binds)
    }
}

impl<'e> private::StreamRun<'e> for &'e mut Connection {
    fn stream_dialect(&self) -> Dialect {
        self.dialect()
    }

    fn stream_rows<T: FromRow>(
        self,
        sql: String,
        binds: Vec<Value>,
        _primary: bool,
    ) -> BoxStream<'e, Result<T>> {
        super::rows_on(self, sql, binds, false, Origin::Rendered)
    }
}

impl<'e, 'c> private::StreamRun<'e> for &'e mut Transaction<'c> {
    fn stream_dialect(&self) -> Dialect {
        crate::executor::private::Run::run_dialect(&**self)
    }

    fn stream_rows<T: FromRow>(
        self,
        sql: String,
        binds: Vec<Value>,
        _primary: bool,
    ) -> BoxStream<'e, Result<T>> {
        self.stream_rows_as(sql, Ok(binds), Origin::Rendered)
    }
}
