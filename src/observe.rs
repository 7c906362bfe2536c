//! The statement hook behind `sylvan::testing`: which statements a task's
//! scope ran, and (in N+1 detection mode) the binds and result rows of each.
//!
//! Invariants, before any code:
//!
//! - **One hook per statement sent.** Each backend calls [`statement`] once
//!   where it hands a statement to the database: `SqliteConn::submit_execute`
//!   / `execute_script`, `SqliteConn::query` and `SqlitePool::query` (the
//!   read a reader refused and the writer ran is one statement), `PgConn::
//!   execute` / `query` / `execute_script` / `commit`, and the start of a row
//!   stream (`stream::start` / `start_on`, both backends). Transaction
//!   control goes through those (BEGIN, COMMIT, ROLLBACK, SAVEPOINT), so it
//!   is counted like Django's `assertNumQueries` counts it. Housekeeping
//!   Sylvan does on its own — connect-time pragmas, the session reset and the
//!   rollback of a dropped transaction, liveness pings — does not go through
//!   these doors and is not counted; neither is an `interact` closure.
//! - **The scope is a task-local**, read on the task that submits the
//!   statement (the caller's task, also when a SQLite worker thread runs it).
//!   Statements of tasks spawned inside a scope are not seen by it.
//! - **Off costs one `Relaxed` load** of [`OPEN_SCOPES`]: no task-local
//!   lookup, no allocation, and the row sink is `None`, so decoding a row
//!   costs one branch on it. The count is process-wide, so while any task
//!   has a scope open, every statement also pays the task-local lookup.
//! - **Nested scopes** form a chain (each remembers the one it was opened
//!   in): a statement is recorded in every scope of the chain.
//! - **Rows** are hashed (each cell, see [`hash_value`]) only when a scope
//!   of the chain detects N+1, on whichever thread decodes them (the SQLite
//!   worker, or the task on PostgreSQL), into a log shared by the scopes.

use crate::row::Row;
use crate::value::{Value, ValueRef};
use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Scopes open in the whole process.
static OPEN_SCOPES: AtomicUsize = AtomicUsize::new(0);

/// Rows of one result kept for N+1 detection; later rows are not.
const MAX_ROWS_PER_RESULT: usize = 10_000;

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// How a statement was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Rows changed, none returned (also transaction control).
    Execute,
    /// Rows returned (fetch, QuerySet reads, streams).
    Query,
    /// A script of several statements, counted as one.
    Script,
}

/// Where the rows of an observed query go; `None` when no scope detects N+1.
pub(crate) type Rows = Option<RowSink>;

/// Called by the backends for every statement they send (see the module
/// docs); returns where to record the rows, when they are wanted.
#[inline]
pub(crate) fn statement(sql: &str, binds: &[Value], kind: Kind) -> Rows {
    if OPEN_SCOPES.load(Ordering::Relaxed) == 0 {
        return None;
    }
    record(sql, binds, kind)
}

#[cold]
fn record(sql: &str, binds: &[Value], kind: Kind) -> Rows {
    SCOPE
        .try_with(|scope| scope.record(sql, binds, kind))
        .ok()
        .flatten()
}

/// One statement a scope saw.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The SQL as the caller (or the renderer) wrote it.
    pub(crate) sql: Arc<str>,
    pub(crate) kind: Kind,
    /// Hash of each bind (`None` for NULL and unhashed types); empty
    /// unless a scope of the chain detects N+1.
    pub(crate) binds: Box<[Option<u64>]>,
    /// The rows it returned, hashed (queries in detection mode only).
    pub(crate) rows: Option<Arc<RowLog>>,
    /// Where it was issued from: captured for the second run of a query
    /// shape with binds, in detection mode only.
    pub(crate) location: Option<Arc<Backtrace>>,
    /// Run inside an `allow_n_plus_one` scope nearer than any detecting
    /// one: never reported as a repeated statement.
    pub(crate) exempt: bool,
}

/// The hashed rows of one result.
#[derive(Debug, Default)]
pub(crate) struct RowLog {
    rows: Mutex<Vec<Box<[u64]>>>,
}

impl RowLog {
    /// A log holding `rows` (unit tests of the N+1 rule).
    #[cfg(test)]
    pub(crate) fn of(rows: Vec<Box<[u64]>>) -> Self {
        RowLog {
            rows: Mutex::new(rows),
        }
    }

    /// The rows recorded so far, each the hashes of its non-NULL cells.
    pub(crate) fn rows(&self) -> Vec<Box<[u64]>> {
        lock(&self.rows).clone()
    }
}

/// Records the rows of one query as they are decoded.
#[derive(Debug, Clone)]
pub(crate) struct RowSink(Arc<RowLog>);

impl RowSink {
    /// Hashes and keeps the cells of `row`.
    pub(crate) fn push(&self, row: &Row<'_>) {
        let cells: Box<[u64]> = (0..row.len())
            .filter_map(|i| row.value_ref(i).ok().and_then(|v| hash_ref(&v)))
            .collect();
        let mut rows = lock(&self.0.rows);
        if rows.len() < MAX_ROWS_PER_RESULT {
            rows.push(cells);
        }
    }
}

#[derive(Debug, Default)]
struct State {
    entries: Vec<Arc<Entry>>,
    /// Detection mode: how often each query shape with binds ran.
    shapes: HashMap<Arc<str>, u32>,
}

/// What a scope is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Counting statements.
    Count,
    /// Counting, and recording binds and rows for N+1 detection.
    Detect,
    /// Counting, its reads exempt from N+1 detection by the scopes around.
    Allow,
}

/// One open scope.
#[derive(Debug)]
struct Scope {
    parent: Option<Arc<Scope>>,
    detect: bool,
    allow: bool,
    state: Mutex<State>,
}

impl Scope {
    fn chain(self: &Arc<Self>) -> impl Iterator<Item = &Arc<Scope>> {
        std::iter::successors(Some(self), |s| s.parent.as_ref())
    }

    fn record(self: &Arc<Self>, sql: &str, binds: &[Value], kind: Kind) -> Rows {
        let detecting = self.chain().any(|s| s.detect);
        let sql: Arc<str> = Arc::from(sql);
        let mut entry = Entry {
            sql: Arc::clone(&sql),
            kind,
            binds: Box::default(),
            rows: None,
            location: None,
            exempt: self.chain().take_while(|s| !s.detect).any(|s| s.allow),
        };
        if detecting && kind == Kind::Query {
            entry.binds = binds.iter().map(hash_value).collect();
            entry.rows = Some(Arc::default());
            if !entry.binds.is_empty() {
                let mut second = false;
                for scope in self.chain().filter(|s| s.detect) {
                    let mut state = lock(&scope.state);
                    let n = state.shapes.entry(Arc::clone(&sql)).or_insert(0);
                    *n += 1;
                    second |= *n == 2;
                }
                if second {
                    entry.location = Some(Arc::new(Backtrace::force_capture()));
                }
            }
        }
        let sink = entry.rows.clone().map(RowSink);
        let entry = Arc::new(entry);
        for scope in self.chain() {
            lock(&scope.state).entries.push(Arc::clone(&entry));
        }
        sink
    }
}

/// Runs `fut` in a new scope (nested in the task's current one, if any)
/// and returns its output and the statements it ran, in order.
///
/// `fut` comes boxed: an async fn keeps its argument's slot beside the
/// future it awaits, so nested scopes of unboxed futures would double in
/// size at each level (and overflow a test thread's stack in debug builds).
pub(crate) async fn observe<F: Future>(
    purpose: Purpose,
    fut: std::pin::Pin<Box<F>>,
) -> (F::Output, Vec<Arc<Entry>>) {
    let parent = SCOPE.try_with(Arc::clone).ok();
    let scope = Arc::new(Scope {
        parent,
        detect: purpose == Purpose::Detect,
        allow: purpose == Purpose::Allow,
        state: Mutex::default(),
    });
    let open = Open::new();
    let output = SCOPE.scope(Arc::clone(&scope), fut).await;
    drop(open);
    let entries = std::mem::take(&mut lock(&scope.state).entries);
    (output, entries)
}

/// Counts one open scope while alive (also when the scope's future is
/// dropped or panics).
struct Open;

impl Open {
    fn new() -> Self {
        OPEN_SCOPES.fetch_add(1, Ordering::Relaxed);
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        OPEN_SCOPES.fetch_sub(1, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only appended to: a panic elsewhere cannot leave it half-changed.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Value classes that compare equal across a bind and a cell: a bind
/// `Value::I32(5)` and a `BIGINT` cell 5 are the same key.
#[derive(Hash)]
enum Key<'a> {
    Int(i64),
    Float(u64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
    #[allow(dead_code)]
    Other(String),
}

fn hash_key(key: Key<'_>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The hash of a bind value as it compares with cells; `None` for NULL and
/// JSON (never a row's key).
pub(crate) fn hash_value(v: &Value) -> Option<u64> {
    let key = match v {
        Value::Null => return None,
        Value::Bool(b) => Key::Int(i64::from(*b)),
        Value::I16(i) => Key::Int(i64::from(*i)),
        Value::I32(i) => Key::Int(i64::from(*i)),
        Value::I64(i) => Key::Int(*i),
        Value::F32(f) => Key::Float(f64::from(*f).to_bits()),
        Value::F64(f) => Key::Float(f.to_bits()),
        Value::Text(s) => Key::Text(s.as_bytes()),
        Value::Blob(b) => Key::Blob(b),
        #[cfg(feature = "chrono")]
        Value::Timestamp(t) => Key::Other(format!("ts {t:?}")),
        #[cfg(feature = "chrono")]
        Value::TimestampTz(t) => Key::Other(format!("tstz {t:?}")),
        #[cfg(feature = "chrono")]
        Value::Date(d) => Key::Other(format!("date {d:?}")),
        #[cfg(feature = "chrono")]
        Value::Time(t) => Key::Other(format!("time {t:?}")),
        // SQLite stores a UUID as its 16 bytes.
        #[cfg(feature = "uuid")]
        Value::Uuid(u) => Key::Blob(u.as_bytes()),
        #[cfg(feature = "json")]
        Value::Json(_) => return None,
    };
    Some(hash_key(key))
}

/// The hash of a cell, comparable with [`hash_value`].
fn hash_ref(v: &ValueRef<'_>) -> Option<u64> {
    let key = match v {
        ValueRef::Null => return None,
        ValueRef::Bool(b) => Key::Int(i64::from(*b)),
        ValueRef::Int(i) => Key::Int(*i),
        ValueRef::Float4(f) => Key::Float(f64::from(*f).to_bits()),
        ValueRef::Float(f) => Key::Float(f.to_bits()),
        ValueRef::Text(t) => Key::Text(t),
        ValueRef::Blob(b) => Key::Blob(b),
        #[cfg(feature = "chrono")]
        ValueRef::Timestamp(t) => Key::Other(format!("ts {t:?}")),
        #[cfg(feature = "chrono")]
        ValueRef::TimestampTz(t) => Key::Other(format!("tstz {t:?}")),
        #[cfg(feature = "chrono")]
        ValueRef::Date(d) => Key::Other(format!("date {d:?}")),
        #[cfg(feature = "chrono")]
        ValueRef::Time(t) => Key::Other(format!("time {t:?}")),
        #[cfg(feature = "uuid")]
        ValueRef::Uuid(u) => Key::Blob(u.as_bytes()),
        #[cfg(feature = "json")]
        ValueRef::Json(_) => return None,
    };
    Some(hash_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_and_cells_of_one_value_hash_alike() {
        assert_eq!(hash_value(&Value::I32(5)), hash_ref(&ValueRef::Int(5)));
        assert_eq!(hash_value(&Value::I64(5)), hash_ref(&ValueRef::Int(5)));
        assert_eq!(
            hash_value(&Value::Text("ab".into())),
            hash_ref(&ValueRef::Text(b"ab"))
        );
        assert_ne!(
            hash_value(&Value::Text("5".into())),
            hash_value(&Value::I64(5))
        );
        assert_eq!(hash_value(&Value::Null), None);
    }

    #[tokio::test]
    async fn statements_outside_a_scope_are_not_recorded() {
        let (_, inner) = observe(
            Purpose::Count,
            Box::pin(async {
                assert!(statement("SELECT 1", &[], Kind::Query).is_none());
            }),
        )
        .await;
        assert_eq!(inner.len(), 1);
        // No scope on this task now: nothing is recorded anywhere.
        assert!(statement("SELECT 2", &[], Kind::Query).is_none());
    }
}
