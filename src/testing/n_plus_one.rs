//! N+1 detection: a query run once per row of an earlier result.
//!
//! The decision rule (also in the guide, `docs/guide/n-plus-one.md`):
//! within one scope, every read's rows are remembered as the hashes of
//! their cells. A read shape (its SQL text, `SELECT`/`WITH`, with binds) is
//! an N+1 of an earlier result when, of its runs after that result,
//! [`MIN_RUNS`] or more can be matched in order to that result's rows: the
//! bind values that differ between the runs (constants such as a `LIMIT`
//! are left out) are all cells of one row, and the rows matched never go
//! back (row index non-decreasing, as a loop visits them), covering at
//! least [`MIN_RUNS`] different rows.

use crate::backend::first_keyword_is;
use crate::observe::{self, Entry, Kind, Purpose};
use std::backtrace::Backtrace;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

/// Fewest runs (on as many different rows) that make an N+1. Two lookups
/// whose keys happen to sit in two rows of an earlier list are common in
/// ordinary code (fetch the first and the last user); three in loop order,
/// with changing keys, rarely are, while a real N+1 is caught from its
/// third row on.
pub(crate) const MIN_RUNS: usize = 3;

/// A query that ran once per row of an earlier result: see
/// [`detect_n_plus_one`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NPlusOne {
    /// The repeated statement's SQL (`$N` placeholders, no values).
    pub statement: String,
    /// How many of its runs took their binds from the rows of
    /// [`source`](Self::source), one row after the other.
    pub count: usize,
    /// Where in the calling code the runs were issued (`file:line:column`),
    /// when the binary has debug info.
    pub location: Option<String>,
    /// The earlier query whose rows supplied the binds.
    pub source: String,
    /// How many rows that query returned (of those remembered).
    pub source_rows: usize,
}

impl std::fmt::Display for NPlusOne {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "N+1 queries: `{}` ran {} times, once per row of `{}` ({} rows)",
            self.statement, self.count, self.source, self.source_rows
        )?;
        match &self.location {
            Some(at) => write!(f, ", at {at}")?,
            None => write!(f, " (location unknown: no debug info)")?,
        }
        write!(
            f,
            ". Load them with `select_related(...)` or `prefetch(...)` in the query that read those rows \
             (Sylvan: `QuerySet::select_related(Model::RELATION)`, or a relation's `load_for` / `attach`)"
        )
    }
}

/// Runs `fut` and returns its output with the N+1 queries it ran: queries
/// run once per row of an earlier result of the same scope, the classic
/// `for book in &books { book.author(&db).await? }`.
///
/// How it decides: a read statement (same SQL text) run at least three
/// times after an earlier query, each run's changing bind values all found
/// in one row of that query's result, rows visited in order (never going
/// back) and at least three different rows, is an N+1. Statements repeated
/// with the same binds, with values that are not in an earlier result, or
/// that write, are not reported. Values are compared, not their origin: a
/// loop `for id in 1..=50` after reading rows whose keys are 1 to 50, in
/// that order, is reported too. Rows past the 10,000th of a result are not
/// remembered.
///
/// The scope is the task's, as for [`count_queries`](super::count_queries).
/// Outside such a scope detection costs nothing; inside it, every cell of
/// every row read is hashed, and a backtrace is captured once per repeated
/// statement (for the location). Each report is also logged as a
/// `tracing` warning with target `sylvan::n_plus_one`.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::detect_n_plus_one;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, parent INTEGER)", ()).await?;
/// db.execute("INSERT INTO t VALUES (1, NULL), (2, 1), (3, 1), (4, 2)", ()).await?;
/// let ((), found) = detect_n_plus_one(async {
///     let rows: Vec<(i64, Option<i64>)> = db.fetch_all("SELECT id, parent FROM t", ()).await.unwrap();
///     for (id, _) in &rows {
///         let _children: Vec<i64> =
///             db.fetch_all("SELECT id FROM t WHERE parent = $1", (*id,)).await.unwrap();
///     }
/// })
/// .await;
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].statement, "SELECT id FROM t WHERE parent = $1");
/// assert_eq!(found[0].count, 4);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub fn detect_n_plus_one<F: Future>(fut: F) -> impl Future<Output = (F::Output, Vec<NPlusOne>)> {
    let scope = observe::observe(Purpose::Detect, Box::pin(fut));
    async move {
        let (output, entries) = scope.await;
        let found = analyse(&entries);
        report(&found);
        (output, found)
    }
}

fn report(found: &[NPlusOne]) {
    for report in found {
        tracing::warn!(
            target: "sylvan::n_plus_one",
            statement = %report.statement,
            count = report.count,
            location = report.location.as_deref().unwrap_or("unknown"),
            "{report}"
        );
    }
}

/// Runs `fut` and panics with the reports if it ran N+1 queries (see
/// [`detect_n_plus_one`]). A test assertion: it panics by design.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::assert_no_n_plus_one;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, parent INTEGER)", ()).await?;
/// db.execute("INSERT INTO t VALUES (1, NULL), (2, 1), (3, 1), (4, 2)", ()).await?;
/// let children = assert_no_n_plus_one(async {
///     // One query for every parent's children, not one per parent.
///     db.fetch_all::<(i64, i64), _>("SELECT parent, id FROM t WHERE parent IS NOT NULL", ()).await
/// })
/// .await?;
/// assert_eq!(children.len(), 3);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub fn assert_no_n_plus_one<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let detect = detect_n_plus_one(fut);
    async move {
        let (output, found) = detect.await;
        if !found.is_empty() {
            let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
            panic!("{}", lines.join("\n"));
        }
        output
    }
}

/// Runs `fut` with its reads exempt from the N+1 detection of the scopes
/// around it (a loop that is meant to run one query per row, under
/// [`run_checked`]). Its statements are still counted, and its rows can
/// still be the source of an N+1 found outside it.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::testing::{allow_n_plus_one, detect_n_plus_one};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// let ((), found) = detect_n_plus_one(async {
///     let ids: Vec<i64> = db.fetch_all("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3", ()).await.unwrap();
///     allow_n_plus_one(async {
///         for id in &ids {
///             let _: i64 = db.fetch_one("SELECT $1 + 0", (*id,)).await.unwrap();
///         }
///     })
///     .await;
/// })
/// .await;
/// assert!(found.is_empty());
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub fn allow_n_plus_one<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let scope = observe::observe(Purpose::Allow, Box::pin(fut));
    async move { scope.await.0 }
}

/// The wrapper for a test body: runs it with N+1 detection and panics at
/// the end with the reports if any (the same as [`assert_no_n_plus_one`];
/// the name says what a test harness uses it for).
pub fn run_checked<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    assert_no_n_plus_one(fut)
}

/// A remembered result: its position among the scope's statements and its
/// rows, each a set of cell hashes, with where each hash occurs.
struct Source<'e> {
    at: usize,
    entry: &'e Entry,
    rows: Vec<HashSet<u64>>,
    /// Cell hash -> the rows holding it, in increasing order.
    index: HashMap<u64, Vec<usize>>,
}

fn is_read(entry: &Entry) -> bool {
    entry.kind == Kind::Query && first_keyword_is(&entry.sql, &["SELECT", "WITH"])
}

/// Applies the decision rule of the module docs to a scope's statements.
pub(crate) fn analyse(entries: &[Arc<Entry>]) -> Vec<NPlusOne> {
    let sources: Vec<Source<'_>> = entries
        .iter()
        .enumerate()
        .filter_map(|(at, e)| {
            let rows = e.rows.as_ref()?.rows();
            if rows.len() < MIN_RUNS {
                return None;
            }
            let rows: Vec<HashSet<u64>> =
                rows.iter().map(|r| r.iter().copied().collect()).collect();
            let mut index: HashMap<u64, Vec<usize>> = HashMap::new();
            for (i, row) in rows.iter().enumerate() {
                for cell in row {
                    index.entry(*cell).or_default().push(i);
                }
            }
            Some(Source {
                at,
                entry: e,
                rows,
                index,
            })
        })
        .collect();
    let mut shapes: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut by_sql: HashMap<&str, usize> = HashMap::new();
    for (at, e) in entries.iter().enumerate() {
        if !is_read(e) || e.binds.is_empty() || e.exempt {
            continue;
        }
        let slot = *by_sql.entry(&e.sql).or_insert_with(|| {
            shapes.push((&e.sql, Vec::new()));
            shapes.len() - 1
        });
        shapes[slot].1.push(at);
    }
    let mut found = Vec::new();
    for (sql, runs) in shapes {
        if runs.len() < MIN_RUNS {
            continue;
        }
        let best = sources
            .iter()
            .filter_map(|source| {
                let after: Vec<usize> = runs.iter().copied().filter(|&r| r > source.at).collect();
                chain(source, &after, entries).map(|matched| (source, matched))
            })
            .max_by_key(|(_, matched)| matched.len());
        if let Some((source, matched)) = best {
            let location = matched
                .iter()
                .chain(&runs)
                .find_map(|&r| entries[r].location.as_deref())
                .and_then(caller);
            found.push(NPlusOne {
                statement: sql.to_owned(),
                count: matched.len(),
                location,
                source: source.entry.sql.to_string(),
                source_rows: source.rows.len(),
            });
        }
    }
    found
}

/// The runs (positions in `entries`) of one shape that match `source`'s
/// rows in loop order, when they make an N+1.
fn chain(source: &Source<'_>, runs: &[usize], entries: &[Arc<Entry>]) -> Option<Vec<usize>> {
    if runs.len() < MIN_RUNS {
        return None;
    }
    let binds = |r: usize| &entries[r].binds;
    let first = binds(runs[0]);
    // Bind positions whose value changes between runs; constants say
    // nothing about where the values came from.
    let varying: Vec<usize> = (0..first.len())
        .filter(|&i| runs.iter().any(|&r| binds(r).get(i) != first.get(i)))
        .collect();
    if varying.is_empty() {
        return None;
    }
    let mut row = 0;
    let mut matched = Vec::new();
    let mut rows_used = HashSet::new();
    for &r in runs {
        let values: Option<Vec<u64>> = varying
            .iter()
            .map(|&i| binds(r).get(i).copied().flatten())
            .collect();
        let Some(values) = values else { continue };
        let Some(candidates) = source.index.get(&values[0]) else {
            continue;
        };
        let start = candidates.partition_point(|&i| i < row);
        let hit = candidates[start..]
            .iter()
            .copied()
            .find(|&i| values.iter().all(|v| source.rows[i].contains(v)));
        if let Some(i) = hit {
            row = i;
            rows_used.insert(i);
            matched.push(r);
        }
    }
    (rows_used.len() >= MIN_RUNS && matched.len() >= MIN_RUNS).then_some(matched)
}

/// Library code a caller location never points into: Sylvan itself, the
/// standard library, the runtime and the future combinators.
const LIBRARY: &[&str] = &[
    "sylvan::",
    "sylvan_derive::",
    "std::",
    "core::",
    "alloc::",
    "tokio::",
    "futures_util::",
    "futures_core::",
    "futures::",
    "futures_executor::",
    "tracing::",
    "test::",
];

/// The first frame of `trace` in the caller's code (`file:line:column`).
///
/// The accessors `#[derive(Model)]` generates (`book.author(&db)`) are
/// code in the caller's crate whose location is the derive attribute: a
/// frame right above `Relation::get_for`, with a caller of its own in the
/// same crate, is such an accessor and is passed over for that caller.
fn caller(trace: &Backtrace) -> Option<String> {
    caller_in(&trace.to_string())
}

fn caller_in(trace: &str) -> Option<String> {
    let frames = frames(trace);
    let mut user = frames
        .iter()
        .enumerate()
        .filter(|(_, (symbol, at))| at.is_some() && !is_library(symbol));
    let (i, (_, at)) = user.next()?;
    let wraps_get_for = i > 0 && frames[i - 1].0.contains("::get_for");
    if wraps_get_for {
        if let Some((_, (_, Some(outer)))) = user.next() {
            return Some(outer.clone());
        }
    }
    at.clone()
}

fn is_library(symbol: &str) -> bool {
    fn bare(s: &str) -> &str {
        let s = s.trim_start_matches(['<', '&', '*', ' ']);
        s.strip_prefix("mut ").unwrap_or(s)
    }
    let symbol = bare(symbol);
    // `<F as core::ops::FnOnce>::call_once`: a generic parameter (no path)
    // tells nothing; its trait does.
    let symbol = match symbol.split_once(" as ") {
        Some((ty, tr)) if !ty.contains("::") => bare(tr),
        _ => symbol,
    };
    symbol.is_empty() || symbol.starts_with("__") || LIBRARY.iter().any(|p| symbol.starts_with(p))
}

/// The frames of a backtrace as `std` prints it: `  N: symbol` lines, each
/// followed by an `at file:line:column` line when the location is known.
fn frames(text: &str) -> Vec<(String, Option<String>)> {
    let mut frames: Vec<(String, Option<String>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(at) = line.strip_prefix("at ") {
            if let Some(last) = frames.last_mut() {
                if last.1.is_none() {
                    last.1 = Some(at.to_owned());
                }
            }
        } else if let Some((n, symbol)) = line.split_once(": ") {
            if n.chars().all(|c| c.is_ascii_digit()) {
                frames.push((symbol.to_owned(), None));
            }
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/abc/library/std/src/backtrace.rs:312:13
   1: sylvan::relation::Relation<M,R,K>::get_for::{{closure}}
             at ./src/relation/mod.rs:171:22
   2: it::n_plus_one::Book::author::{{closure}}
             at ./tests/it/n_plus_one.rs:12:10
   3: it::n_plus_one::loop_over_books::{{closure}}
             at ./tests/it/n_plus_one.rs:88:43
   4: <core::pin::Pin<P> as core::future::future::Future>::poll
             at /rustc/abc/library/core/src/future/future.rs:133:9
   5: tokio::runtime::park::CachedParkThread::block_on
";

    /// A read of `sql` with integer binds, returning integer rows.
    fn read(sql: &str, binds: &[i64], rows: &[&[i64]]) -> Arc<Entry> {
        let hash = |v: &i64| crate::observe::hash_value(&crate::Value::I64(*v));
        Arc::new(Entry {
            sql: Arc::from(sql),
            kind: Kind::Query,
            binds: binds.iter().map(hash).collect(),
            rows: Some(Arc::new(crate::observe::RowLog::of(
                rows.iter()
                    .map(|r| r.iter().filter_map(hash).collect())
                    .collect(),
            ))),
            location: None,
            exempt: false,
        })
    }

    /// Ten books (id, author) with authors 100..=104, then one lookup per
    /// key in `keys`, with a constant second bind.
    fn books_then(keys: &[i64]) -> Vec<Arc<Entry>> {
        let books: Vec<[i64; 2]> = (0..10).map(|i| [i + 1, 100 + i % 5]).collect();
        let rows: Vec<&[i64]> = books.iter().map(|b| &b[..]).collect();
        let mut entries = vec![read("SELECT id, author FROM book", &[], &rows)];
        for &k in keys {
            entries.push(read(
                "SELECT * FROM author WHERE id = $1 LIMIT $2",
                &[k, 2],
                &[&[k]],
            ));
        }
        entries
    }

    #[test]
    fn a_lookup_per_row_in_loop_order_is_an_n_plus_one() {
        let keys: Vec<i64> = (0..10).map(|i| 100 + i % 5).collect();
        let found = analyse(&books_then(&keys));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 10);
        assert_eq!(found[0].source, "SELECT id, author FROM book");
        assert_eq!(found[0].source_rows, 10);
        // Three runs are enough, two are not.
        assert_eq!(analyse(&books_then(&[100, 101, 102]))[0].count, 3);
        assert!(analyse(&books_then(&[100, 101])).is_empty());
    }

    #[test]
    fn constants_foreign_values_and_rows_visited_backwards_are_not() {
        assert!(analyse(&books_then(&[100; 10])).is_empty());
        assert!(analyse(&books_then(&[7_000, 7_001, 7_002, 7_003])).is_empty());
        // Distinct keys visited against the rows' order: one match only.
        assert!(analyse(&books_then(&[10, 9, 8, 7, 6])).is_empty());
        // The same lookups before the books were read.
        let mut entries = books_then(&[]);
        let mut before = books_then(&[1, 2, 3, 4]);
        before.remove(0);
        before.append(&mut entries);
        assert!(analyse(&before).is_empty());
    }

    #[test]
    fn frames_pair_symbols_with_locations() {
        let f = frames(TRACE);
        assert_eq!(f.len(), 6);
        assert_eq!(f[3].0, "it::n_plus_one::loop_over_books::{{closure}}");
        assert_eq!(f[3].1.as_deref(), Some("./tests/it/n_plus_one.rs:88:43"));
        assert_eq!(f[5].1, None);
    }

    #[test]
    fn the_caller_is_the_loop_not_the_generated_accessor() {
        assert_eq!(
            caller_in(TRACE).as_deref(),
            Some("./tests/it/n_plus_one.rs:88:43")
        );
        let direct = TRACE.replace("   2: it::n_plus_one::Book::author::{{closure}}\n             at ./tests/it/n_plus_one.rs:12:10\n", "");
        assert_eq!(
            caller_in(&direct).as_deref(),
            Some("./tests/it/n_plus_one.rs:88:43")
        );
    }

    #[test]
    fn library_frames_are_recognised() {
        assert!(is_library("sylvan::query::QuerySet<M>::get::{{closure}}"));
        assert!(is_library(
            "<core::pin::Pin<P> as core::future::future::Future>::poll"
        ));
        assert!(is_library("<&mut F as core::ops::FnOnce>::call_once"));
        assert!(!is_library("it::n_plus_one::loop_over_books::{{closure}}"));
        assert!(!is_library("<it::Book as sylvan::Model>::insert"));
    }

    #[test]
    fn n_plus_one_display_names_statement_count_place_and_fix() {
        let report = NPlusOne {
            statement: "SELECT * FROM author WHERE id = $1".into(),
            count: 50,
            location: Some("tests/x.rs:3:4".into()),
            source: "SELECT * FROM book".into(),
            source_rows: 50,
        };
        let text = report.to_string();
        for part in [
            "`SELECT * FROM author WHERE id = $1` ran 50 times",
            "tests/x.rs:3:4",
            "select_related(...)",
            "prefetch(...)",
        ] {
            assert!(text.contains(part), "{text}");
        }
    }
}
