//! The workload suite: each workload through (a) the sync driver used
//! directly, (b) Sylvan's raw API and (c) Sylvan's ORM, side by side in one
//! run (DESIGN.md "Targets" gives the ratios to reach).
//!
//! Fixture per backend: `users(id, name, email)` 1,000 rows, `posts(id,
//! user_id → users, title)` 10 per user, `comments(id, post_id → posts,
//! body)` 10 per post for the posts of the first 100 users (the diesel
//! "loading associations" shape: 100 users × 10 posts × 10 comments), and an
//! `inserts(id auto, name, email)` table for the write workloads. SQLite is a
//! WAL file in a temp dir; PostgreSQL is a fresh schema at
//! `postgres://postgres@127.0.0.1:5432/test` (or `SYLVAN_BENCH_PG`), dropped
//! at the end, and skipped with a note when unreachable.
//!
//! Variants, in every group:
//! - `sync`: rusqlite with `prepare_cached` on its own WAL connection, or the
//!   sync `postgres` crate with prepared statements, on the bench thread;
//! - `raw`: `db.fetch_all` / `db.execute` with the same SQL as `sync`;
//! - `orm`: the model API.
//!
//! `raw` and `orm` are timed inside one spawned task on a 2-worker
//! multi-thread runtime (`iter_custom`).
//!
//! Groups `suite_{sqlite,postgres}_…`:
//! - `point`: one user by key (`User::get`);
//! - `load_{1,10,100,1000}`: `WHERE id <= $1` (`filter(User::ID.le(n)).all`);
//! - `medium`: users ⟕ posts, `id <= 100 AND title LIKE 'p1%'`, 100 rows
//!   (`Post::objects().filter(…).select_related(Post::USER)`, which renders
//!   `posts JOIN users` filtered on `posts.user_id`, and GLOB on SQLite);
//!   `raw_orm_sql` runs that exact statement through the raw API, so
//!   ORM ÷ `raw_orm_sql` is the ORM's own cost on the same SQL;
//! - `insert_1`, `insert_100`, `insert_10k`: into an emptied table, the
//!   emptying outside the timing; `sync`/`raw` run one multi-row `INSERT`
//!   without `RETURNING`, `orm` runs `insert` or `insert_many`
//!   (`RETURNING id`: the generated keys come back into the objects), and
//!   `orm_no_keys` runs `bulk_insert` (no `RETURNING`);
//! - `assoc`: 100 users → their posts → their comments, three queries with
//!   IN lists, assembled into `Vec<(user, Vec<(post, Vec<comment>)>)>`
//!   (`orm`: `all`, then `Post::USER.load_for`, then `Comment::POST.load_for`).
//!
//! Run with `cargo bench --bench suite`, or `cargo bench --bench suite --
//! --table` for one interleaved table per workload with each variant's
//! wall time and CPU time per operation as ratios to the sync driver's
//! (`suite/table.rs`; that is the table README shows).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use common::{open_wal, runtime};
use criterion::measurement::WallTime;
use criterion::{criterion_group, BenchmarkGroup, Criterion, SamplingMode};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use sylvan::prelude::*;
use sylvan::{rusqlite, Dialect, Schema, Value};
use tokio::runtime::Runtime;

const USERS: i64 = 1_000;
const POSTS_PER_USER: i64 = 10;
const ASSOC_USERS: i64 = 100;
const COMMENTS_PER_POST: i64 = 10;
const MEDIUM_USERS: i64 = 100;
const MEDIUM_TITLE: &str = "p1%";
const BULK: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "users")]
struct User {
    #[model(primary_key)]
    id: i64,
    name: String,
    email: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "posts")]
struct Post {
    #[model(primary_key)]
    id: i64,
    #[model(foreign_key = User, index)]
    user_id: i64,
    title: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "comments")]
struct Comment {
    #[model(primary_key)]
    id: i64,
    #[model(foreign_key = Post, index)]
    post_id: i64,
    body: String,
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "inserts")]
struct NewUser {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    email: String,
}

type UserRow = (i64, String, String);
type PostRow = (i64, i64, String);
type CommentRow = (i64, i64, String);
type JoinRow = (i64, i64, String, i64, String, String);
type Tree<U, P, C> = Vec<(U, Vec<(P, Vec<C>)>)>;

// ---------------------------------------------------------------- SQL

/// One statement, written with `$n` (PostgreSQL, Sylvan's raw API) and `?n`
/// (rusqlite); `id` indexes the sync PostgreSQL statement cache.
struct Q {
    id: usize,
    dollar: String,
    question: String,
}

impl Q {
    fn new(sql: String) -> Q {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Q {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            question: sql.replace('$', "?"),
            dollar: sql,
        }
    }
}

fn placeholders(from: usize, n: usize) -> String {
    let mut s = String::with_capacity(n * 6);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "${}", from + i);
    }
    s
}

/// `INSERT INTO inserts (name, email) VALUES ($1, $2), …` for `rows` rows.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(40 + rows * 14);
    sql.push_str("INSERT INTO inserts (name, email) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let _ = write!(sql, "(${}, ${})", 2 * r + 1, 2 * r + 2);
    }
    sql
}

struct Sql {
    point: Q,
    load: Q,
    medium: Q,
    posts_in: Q,
    comments_in: Q,
    insert_1: Q,
    insert_100: Q,
    insert_bulk: Q,
    delete: Q,
}

impl Sql {
    fn new() -> Sql {
        let assoc_posts = (ASSOC_USERS * POSTS_PER_USER) as usize;
        Sql {
            point: Q::new("SELECT id, name, email FROM users WHERE id = $1".into()),
            load: Q::new("SELECT id, name, email FROM users WHERE id <= $1".into()),
            medium: Q::new(
                "SELECT p.id, p.user_id, p.title, u.id, u.name, u.email \
                 FROM users u LEFT JOIN posts p ON p.user_id = u.id \
                 WHERE u.id <= $1 AND p.title LIKE $2 ORDER BY p.id"
                    .into(),
            ),
            posts_in: Q::new(format!(
                "SELECT id, user_id, title FROM posts WHERE user_id IN ({}) ORDER BY id",
                placeholders(1, ASSOC_USERS as usize)
            )),
            comments_in: Q::new(format!(
                "SELECT id, post_id, body FROM comments WHERE post_id IN ({}) ORDER BY id",
                placeholders(1, assoc_posts)
            )),
            insert_1: Q::new(insert_sql(1)),
            insert_100: Q::new(insert_sql(100)),
            insert_bulk: Q::new(insert_sql(BULK)),
            delete: Q::new("DELETE FROM inserts".into()),
        }
    }

    fn insert(&self, rows: usize) -> &Q {
        match rows {
            1 => &self.insert_1,
            100 => &self.insert_100,
            BULK => &self.insert_bulk,
            _ => unreachable!("no statement for {rows} rows"),
        }
    }
}

// ---------------------------------------------------------------- sync drivers

/// A bind for the sync drivers, borrowed where it can be.
enum Arg<'a> {
    Int(i64),
    Text(&'a str),
}

impl rusqlite::ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Int(i) => rusqlite::types::ToSqlOutput::from(*i),
            Arg::Text(s) => rusqlite::types::ToSqlOutput::from(*s),
        })
    }
}

trait SyncRow: Sized {
    fn sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
    fn pg(row: &postgres::Row) -> Self;
}

macro_rules! sync_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t),+> SyncRow for ($($t,)+)
        where
            $($t: rusqlite::types::FromSql + for<'a> postgres::types::FromSql<'a>),+
        {
            fn sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                Ok(($(row.get($i)?,)+))
            }
            fn pg(row: &postgres::Row) -> Self {
                ($(row.get($i),)+)
            }
        }
    };
}
sync_row!(A 0usize, B 1usize, C 2usize);
sync_row!(A 0usize, B 1usize, C 2usize, D 3usize, E 4usize, F 5usize);

enum SyncDb {
    Sqlite(rusqlite::Connection),
    Pg {
        client: Box<postgres::Client>,
        statements: Vec<Option<postgres::Statement>>,
    },
}

impl SyncDb {
    fn pg_statement(
        client: &mut postgres::Client,
        statements: &mut Vec<Option<postgres::Statement>>,
        q: &Q,
    ) -> postgres::Statement {
        if statements.len() <= q.id {
            statements.resize(q.id + 1, None);
        }
        statements[q.id]
            .get_or_insert_with(|| client.prepare(&q.dollar).unwrap())
            .clone()
    }

    fn pg_params<'a>(args: &'a [Arg<'a>]) -> Vec<&'a (dyn postgres::types::ToSql + Sync)> {
        args.iter()
            .map(|a| -> &(dyn postgres::types::ToSql + Sync) {
                match a {
                    Arg::Int(i) => i,
                    Arg::Text(s) => s,
                }
            })
            .collect()
    }

    fn query<T: SyncRow>(&mut self, q: &Q, args: &[Arg<'_>]) -> Vec<T> {
        match self {
            SyncDb::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(&q.question).unwrap();
                stmt.query_map(rusqlite::params_from_iter(args), T::sqlite)
                    .unwrap()
                    .collect::<rusqlite::Result<Vec<T>>>()
                    .unwrap()
            }
            SyncDb::Pg { client, statements } => {
                let stmt = Self::pg_statement(client, statements, q);
                client
                    .query(&stmt, &Self::pg_params(args))
                    .unwrap()
                    .iter()
                    .map(T::pg)
                    .collect()
            }
        }
    }

    fn execute(&mut self, q: &Q, args: &[Arg<'_>]) -> u64 {
        match self {
            SyncDb::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(&q.question).unwrap();
                stmt.execute(rusqlite::params_from_iter(args)).unwrap() as u64
            }
            SyncDb::Pg { client, statements } => {
                let stmt = Self::pg_statement(client, statements, q);
                client.execute(&stmt, &Self::pg_params(args)).unwrap()
            }
        }
    }

    /// Empties `inserts`; on PostgreSQL with `vacuum` also vacuums it.
    fn reset(&mut self, sql: &Sql, vacuum: bool) {
        self.execute(&sql.delete, &[]);
        if let (SyncDb::Pg { client, .. }, true) = (self, vacuum) {
            client.batch_execute("VACUUM inserts").unwrap();
        }
    }
}

// ---------------------------------------------------------------- workloads

/// A key that walks the whole table.
fn next_id(counter: &AtomicI64) -> i64 {
    counter.fetch_add(7919, Ordering::Relaxed) % USERS + 1
}

fn input_rows(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("new {i}"), format!("new{i}@example.com")))
        .collect()
}

fn input_models(n: usize) -> Vec<NewUser> {
    input_rows(n)
        .into_iter()
        .map(|(name, email)| NewUser { id: 0, name, email })
        .collect()
}

/// Children grouped under `keys` (in that order) by `parent`, the way
/// `Relation::load_for` groups them.
fn group<C>(keys: &[i64], children: Vec<C>, parent: impl Fn(&C) -> i64) -> Vec<Vec<C>> {
    let mut by_key: HashMap<i64, Vec<C>> = HashMap::with_capacity(keys.len());
    for child in children {
        by_key.entry(parent(&child)).or_default().push(child);
    }
    keys.iter()
        .map(|k| by_key.remove(k).unwrap_or_default())
        .collect()
}

/// `users` each with their posts, each with its comments.
fn nest<U, P, C>(users: Vec<U>, posts: Vec<Vec<P>>, comments: Vec<Vec<C>>) -> Tree<U, P, C> {
    let mut comments = comments.into_iter();
    users
        .into_iter()
        .zip(posts)
        .map(|(u, ps)| (u, ps.into_iter().zip(comments.by_ref()).collect()))
        .collect()
}

fn flatten_keeping_shape<P>(grouped: Vec<Vec<P>>) -> (Vec<P>, Vec<usize>) {
    let lens = grouped.iter().map(Vec::len).collect();
    (grouped.into_iter().flatten().collect(), lens)
}

fn unflatten<P>(flat: Vec<P>, lens: &[usize]) -> Vec<Vec<P>> {
    let mut it = flat.into_iter();
    lens.iter()
        .map(|&n| it.by_ref().take(n).collect())
        .collect()
}

fn sync_assoc(db: &mut SyncDb, sql: &Sql) -> Tree<UserRow, PostRow, CommentRow> {
    let users: Vec<UserRow> = db.query(&sql.load, &[Arg::Int(ASSOC_USERS)]);
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    let args: Vec<Arg<'_>> = ids.iter().map(|&i| Arg::Int(i)).collect();
    let posts: Vec<PostRow> = db.query(&sql.posts_in, &args);
    let (posts, lens) = flatten_keeping_shape(group(&ids, posts, |p| p.1));
    let post_ids: Vec<i64> = posts.iter().map(|p| p.0).collect();
    let args: Vec<Arg<'_>> = post_ids.iter().map(|&i| Arg::Int(i)).collect();
    let comments: Vec<CommentRow> = db.query(&sql.comments_in, &args);
    let comments = group(&post_ids, comments, |c| c.1);
    nest(users, unflatten(posts, &lens), comments)
}

async fn raw_assoc(db: &Database, sql: &Sql) -> Tree<UserRow, PostRow, CommentRow> {
    let users: Vec<UserRow> = db
        .fetch_all(&sql.load.dollar, (ASSOC_USERS,))
        .await
        .unwrap();
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    let posts: Vec<PostRow> = db
        .fetch_all(&sql.posts_in.dollar, ids.as_slice())
        .await
        .unwrap();
    let (posts, lens) = flatten_keeping_shape(group(&ids, posts, |p| p.1));
    let post_ids: Vec<i64> = posts.iter().map(|p| p.0).collect();
    let comments: Vec<CommentRow> = db
        .fetch_all(&sql.comments_in.dollar, post_ids.as_slice())
        .await
        .unwrap();
    let comments = group(&post_ids, comments, |c| c.1);
    nest(users, unflatten(posts, &lens), comments)
}

async fn orm_assoc(db: &Database) -> Tree<User, Post, Comment> {
    let users = User::objects()
        .filter(User::ID.le(ASSOC_USERS))
        .all(db)
        .await
        .unwrap();
    let posts = Post::USER.load_for(&users, db).await.unwrap();
    let (posts, lens) = flatten_keeping_shape(posts);
    let comments = Comment::POST.load_for(&posts, db).await.unwrap();
    nest(users, unflatten(posts, &lens), comments)
}

fn orm_medium() -> sylvan::SelectRelated<Post, (sylvan::Relation<Post, User, i64>,)> {
    Post::objects()
        .filter(Post::USER_ID.le(MEDIUM_USERS) & Post::TITLE.like(MEDIUM_TITLE))
        .order_by(Post::ID.asc())
        .select_related(Post::USER)
}

fn sync_insert(db: &mut SyncDb, sql: &Sql, rows: &[(String, String)]) -> u64 {
    let args: Vec<Arg<'_>> = rows
        .iter()
        .flat_map(|(n, e)| [Arg::Text(n), Arg::Text(e)])
        .collect();
    db.execute(sql.insert(rows.len()), &args)
}

async fn raw_insert(db: &Database, sql: &Sql, rows: Vec<(String, String)>) -> u64 {
    let q = sql.insert(rows.len());
    let binds: Vec<Value> = rows
        .into_iter()
        .flat_map(|(n, e)| [Value::Text(n), Value::Text(e)])
        .collect();
    db.execute(&q.dollar, binds).await.unwrap()
}

async fn orm_insert(db: &Database, mut rows: Vec<NewUser>) -> usize {
    if rows.len() == 1 {
        let stored = rows.pop().unwrap().insert(db).await.unwrap();
        assert!(stored.id > 0);
        1
    } else {
        NewUser::insert_many(rows, db).await.unwrap().len()
    }
}

async fn reset(db: &Database, vacuum: bool) {
    db.execute("DELETE FROM inserts", ()).await.unwrap();
    if vacuum && db.dialect() == Dialect::Postgres {
        db.execute("VACUUM inserts", ()).await.unwrap();
    }
}

// ---------------------------------------------------------------- harness

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(15);
}

/// `iters` awaits of `f` in one spawned task, timed inside the task.
fn bench_spawned<F, Fut, T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &Runtime,
    db: &Database,
    f: F,
) where
    F: Fn(Database) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let (db, f) = (db.clone(), f.clone());
            rt.block_on(async move {
                tokio::spawn(async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(f(db.clone()).await);
                    }
                    start.elapsed()
                })
                .await
                .unwrap()
            })
        })
    });
}

/// Like [`bench_spawned`], each iteration into an emptied `inserts` table
/// with fresh input, neither timed. PostgreSQL vacuums once per batch, or
/// per iteration with `vacuum_each`.
fn bench_spawned_insert<Mk, I, F, Fut, T>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &Runtime,
    db: &Database,
    vacuum_each: bool,
    make: Mk,
    f: F,
) where
    Mk: Fn() -> I + Clone + Send + 'static,
    I: Send,
    F: Fn(Database, I) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let (db, make, f) = (db.clone(), make.clone(), f.clone());
            rt.block_on(async move {
                tokio::spawn(async move {
                    reset(&db, true).await;
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        reset(&db, vacuum_each).await;
                        let input = make();
                        let start = Instant::now();
                        let out = f(db.clone(), input).await;
                        total += start.elapsed();
                        drop(black_box(out));
                    }
                    total
                })
                .await
                .unwrap()
            })
        })
    });
}

/// Runs every variant once and checks they agree; prints the ORM's SQL.
fn sanity(rt: &Runtime, db: &Database, sync: &mut SyncDb, sql: &Sql) {
    let user = |u: &User| (u.id, u.name.clone(), u.email.clone());
    let post = |p: &Post| (p.id, p.user_id, p.title.clone());
    let comment = |c: &Comment| (c.id, c.post_id, c.body.clone());

    let s: Vec<UserRow> = sync.query(&sql.point, &[Arg::Int(42)]);
    let (r, o) = rt.block_on(async {
        let r: UserRow = db.fetch_one(&sql.point.dollar, (42_i64,)).await.unwrap();
        (r, User::get(db, 42).await.unwrap())
    });
    assert_eq!(s, vec![r.clone()]);
    assert_eq!(r, user(&o));

    for n in [1, 10, 100, 1000] {
        let s: Vec<UserRow> = sync.query(&sql.load, &[Arg::Int(n)]);
        let (r, o) = rt.block_on(async {
            let r: Vec<UserRow> = db.fetch_all(&sql.load.dollar, (n,)).await.unwrap();
            let o = User::objects()
                .filter(User::ID.le(n))
                .all(db)
                .await
                .unwrap();
            (r, o)
        });
        assert_eq!(s.len() as i64, n);
        assert_eq!(s, r);
        assert_eq!(r, o.iter().map(user).collect::<Vec<_>>());
    }

    let s: Vec<JoinRow> = sync.query(
        &sql.medium,
        &[Arg::Int(MEDIUM_USERS), Arg::Text(MEDIUM_TITLE)],
    );
    let (r, o) = rt.block_on(async {
        let r: Vec<JoinRow> = db
            .fetch_all(&sql.medium.dollar, (MEDIUM_USERS, MEDIUM_TITLE))
            .await
            .unwrap();
        (r, orm_medium().all(db).await.unwrap())
    });
    assert_eq!(s.len(), 100);
    assert_eq!(s, r);
    let o: Vec<JoinRow> = o
        .iter()
        .map(|(p, u)| {
            (
                p.id,
                p.user_id,
                p.title.clone(),
                u.id,
                u.name.clone(),
                u.email.clone(),
            )
        })
        .collect();
    assert_eq!(r, o);
    println!(
        "note: ORM medium query: {}",
        orm_medium().to_sql(db.dialect()).0
    );

    let s = sync_assoc(sync, sql);
    let (r, o) = rt.block_on(async { (raw_assoc(db, sql).await, orm_assoc(db).await) });
    assert_eq!(s.len(), ASSOC_USERS as usize);
    let comments: usize = s
        .iter()
        .flat_map(|(_, ps)| ps.iter().map(|(_, cs)| cs.len()))
        .sum();
    assert_eq!(
        comments as i64,
        ASSOC_USERS * POSTS_PER_USER * COMMENTS_PER_POST
    );
    assert_eq!(s, r);
    let o: Tree<UserRow, PostRow, CommentRow> = o
        .iter()
        .map(|(u, ps)| {
            let ps = ps
                .iter()
                .map(|(p, cs)| (post(p), cs.iter().map(comment).collect()))
                .collect();
            (user(u), ps)
        })
        .collect();
    assert_eq!(r, o);

    let count = || -> i64 {
        rt.block_on(async {
            db.fetch_one("SELECT COUNT(*) FROM inserts", ())
                .await
                .unwrap()
        })
    };
    for n in [1, 100, BULK] {
        sync.reset(sql, true);
        assert_eq!(sync_insert(sync, sql, &input_rows(n)), n as u64);
        assert_eq!(count(), n as i64);
        rt.block_on(reset(db, true));
        assert_eq!(rt.block_on(raw_insert(db, sql, input_rows(n))), n as u64);
        assert_eq!(count(), n as i64);
        rt.block_on(reset(db, true));
        assert_eq!(rt.block_on(orm_insert(db, input_models(n))), n);
        assert_eq!(count(), n as i64);
    }
    rt.block_on(reset(db, true));
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, db: &Database, sync: &mut SyncDb, backend: &str) {
    let sql = Arc::new(Sql::new());
    sanity(rt, db, sync, &sql);
    let counter = Arc::new(AtomicI64::new(0));
    let name = |w: &str| format!("suite_{backend}_{w}");

    let mut g = c.benchmark_group(name("point"));
    configure(&mut g);
    g.bench_function("sync", |b| {
        b.iter(|| {
            let rows: Vec<UserRow> = sync.query(&sql.point, &[Arg::Int(next_id(&counter))]);
            black_box(rows)
        })
    });
    let (s, k) = (Arc::clone(&sql), Arc::clone(&counter));
    bench_spawned(&mut g, "raw", rt, db, move |db| {
        let (s, id) = (Arc::clone(&s), next_id(&k));
        async move {
            let row: UserRow = db.fetch_one(&s.point.dollar, (id,)).await.unwrap();
            row
        }
    });
    let k = Arc::clone(&counter);
    bench_spawned(&mut g, "orm", rt, db, move |db| {
        let id = next_id(&k);
        async move { User::get(&db, id).await.unwrap() }
    });
    g.finish();

    for n in [1_i64, 10, 100, 1000] {
        let mut g = c.benchmark_group(name(&format!("load_{n}")));
        configure(&mut g);
        g.bench_function("sync", |b| {
            b.iter(|| {
                let rows: Vec<UserRow> = sync.query(&sql.load, &[Arg::Int(n)]);
                assert_eq!(rows.len() as i64, n);
                rows
            })
        });
        let s = Arc::clone(&sql);
        bench_spawned(&mut g, "raw", rt, db, move |db| {
            let s = Arc::clone(&s);
            async move {
                let rows: Vec<UserRow> = db.fetch_all(&s.load.dollar, (n,)).await.unwrap();
                assert_eq!(rows.len() as i64, n);
                rows
            }
        });
        bench_spawned(&mut g, "orm", rt, db, move |db| async move {
            let rows = User::objects()
                .filter(User::ID.le(n))
                .all(&db)
                .await
                .unwrap();
            assert_eq!(rows.len() as i64, n);
            rows
        });
        g.finish();
    }

    let mut g = c.benchmark_group(name("medium"));
    configure(&mut g);
    g.bench_function("sync", |b| {
        b.iter(|| {
            let rows: Vec<JoinRow> = sync.query(
                &sql.medium,
                &[Arg::Int(MEDIUM_USERS), Arg::Text(MEDIUM_TITLE)],
            );
            assert_eq!(rows.len(), 100);
            rows
        })
    });
    let s = Arc::clone(&sql);
    bench_spawned(&mut g, "raw", rt, db, move |db| {
        let s = Arc::clone(&s);
        async move {
            let rows: Vec<JoinRow> = db
                .fetch_all(&s.medium.dollar, (MEDIUM_USERS, MEDIUM_TITLE))
                .await
                .unwrap();
            assert_eq!(rows.len(), 100);
            rows
        }
    });
    // The raw API given the exact statement the ORM renders (its JOIN, and
    // GLOB with the pattern rewritten on SQLite): ORM over raw, same SQL.
    let orm_sql: Arc<str> = orm_medium().to_sql(db.dialect()).0.into();
    let pattern = match db.dialect() {
        Dialect::Sqlite => "p1*",
        _ => MEDIUM_TITLE,
    };
    let same: Vec<JoinRow> = rt.block_on(async {
        db.fetch_all(&orm_sql, (MEDIUM_USERS, pattern))
            .await
            .unwrap()
    });
    let expected: Vec<JoinRow> = sync.query(
        &sql.medium,
        &[Arg::Int(MEDIUM_USERS), Arg::Text(MEDIUM_TITLE)],
    );
    assert_eq!(same, expected);
    bench_spawned(&mut g, "raw_orm_sql", rt, db, move |db| {
        let sql = Arc::clone(&orm_sql);
        async move {
            let rows: Vec<JoinRow> = db.fetch_all(&sql, (MEDIUM_USERS, pattern)).await.unwrap();
            assert_eq!(rows.len(), 100);
            rows
        }
    });
    bench_spawned(&mut g, "orm", rt, db, move |db| async move {
        let rows = orm_medium().all(&db).await.unwrap();
        assert_eq!(rows.len(), 100);
        rows
    });
    g.finish();

    for (label, n) in [("insert_1", 1), ("insert_100", 100), ("insert_10k", BULK)] {
        let bulk = n == BULK;
        let mut g = c.benchmark_group(name(label));
        configure(&mut g);
        if bulk {
            g.sample_size(10)
                .measurement_time(Duration::from_secs(3))
                .sampling_mode(SamplingMode::Flat);
        }
        g.bench_function("sync", |b| {
            b.iter_custom(|iters| {
                sync.reset(&sql, true);
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    sync.reset(&sql, bulk);
                    let rows = input_rows(n);
                    let start = Instant::now();
                    let done = sync_insert(sync, &sql, &rows);
                    total += start.elapsed();
                    assert_eq!(done, n as u64);
                }
                total
            })
        });
        let s = Arc::clone(&sql);
        bench_spawned_insert(
            &mut g,
            "raw",
            rt,
            db,
            bulk,
            move || input_rows(n),
            move |db, rows| {
                let s = Arc::clone(&s);
                async move {
                    let done = raw_insert(&db, &s, rows).await;
                    assert_eq!(done, n as u64);
                }
            },
        );
        bench_spawned_insert(
            &mut g,
            "orm",
            rt,
            db,
            bulk,
            move || input_models(n),
            move |db, rows| async move {
                let done = orm_insert(&db, rows).await;
                assert_eq!(done, n);
            },
        );
        bench_spawned_insert(
            &mut g,
            "orm_no_keys",
            rt,
            db,
            bulk,
            move || input_models(n),
            move |db, rows| async move {
                let done = NewUser::bulk_insert(&rows, &db).await.unwrap();
                assert_eq!(done, n as u64);
            },
        );
        g.finish();
    }
    rt.block_on(reset(db, true));

    let mut g = c.benchmark_group(name("assoc"));
    configure(&mut g);
    g.bench_function("sync", |b| b.iter(|| sync_assoc(sync, &sql)));
    let s = Arc::clone(&sql);
    bench_spawned(&mut g, "raw", rt, db, move |db| {
        let s = Arc::clone(&s);
        async move { raw_assoc(&db, &s).await }
    });
    bench_spawned(&mut g, "orm", rt, db, move |db| async move {
        orm_assoc(&db).await
    });
    g.finish();
}

// ---------------------------------------------------------------- fixtures

/// Creates the tables through the ORM's DDL and fills them.
async fn fill(db: &Database) {
    Schema::new()
        .model::<User>()
        .model::<Post>()
        .model::<Comment>()
        .model::<NewUser>()
        .create_all(db)
        .await
        .unwrap();
    let users: Vec<User> = (1..=USERS)
        .map(|i| User {
            id: i,
            name: format!("user {i}"),
            email: format!("user{i}@example.com"),
        })
        .collect();
    User::insert_many(users, db).await.unwrap();
    let posts: Vec<Post> = (1..=USERS)
        .flat_map(|u| {
            (0..POSTS_PER_USER).map(move |k| Post {
                id: (u - 1) * POSTS_PER_USER + k + 1,
                user_id: u,
                title: format!("p{k} by user {u}"),
            })
        })
        .collect();
    Post::insert_many(posts, db).await.unwrap();
    let comments: Vec<Comment> = (1..=ASSOC_USERS * POSTS_PER_USER)
        .flat_map(|p| {
            (0..COMMENTS_PER_POST).map(move |k| Comment {
                id: (p - 1) * COMMENTS_PER_POST + k + 1,
                post_id: p,
                body: format!("comment {k} on post {p}"),
            })
        })
        .collect();
    Comment::insert_many(comments, db).await.unwrap();
    db.execute("ANALYZE", ()).await.unwrap();
}

/// The SQLite fixture in `dir`: Sylvan's database and the sync reference.
fn open_sqlite(rt: &Runtime, dir: &tempfile::TempDir) -> (Database, SyncDb) {
    let path = dir.path().join("suite.db");
    let url = format!("sqlite://{}", path.display());
    let db = rt.block_on(async {
        let db = Database::connect(&url).await.unwrap();
        let mode: String = db.fetch_one("PRAGMA journal_mode", ()).await.unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        fill(&db).await;
        db
    });
    (db, SyncDb::Sqlite(open_wal(&path)))
}

/// The PostgreSQL fixture in a fresh schema, or `None` when unreachable.
fn open_postgres(rt: &Runtime) -> Option<(common::PgSchema, Database, SyncDb)> {
    let pg = common::PgSchema::create("bench_suite")?;
    let url = pg.url.clone();
    let db = rt.block_on(async {
        let db = Database::connect(&url).await.unwrap();
        fill(&db).await;
        db
    });
    let sync = SyncDb::Pg {
        client: Box::new(postgres::Client::connect(&url, postgres::NoTls).unwrap()),
        statements: Vec::new(),
    };
    Some((pg, db, sync))
}

fn bench_sqlite(c: &mut Criterion, rt: &Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let (db, mut sync) = open_sqlite(rt, &dir);
    bench_backend(c, rt, &db, &mut sync, "sqlite");
    db.close();
}

fn bench_postgres(c: &mut Criterion, rt: &Runtime) {
    let Some((pg, db, mut sync)) = open_postgres(rt) else {
        return;
    };
    bench_backend(c, rt, &db, &mut sync, "postgres");
    db.close();
    drop(db);
    drop(sync);
    drop(pg);
}

fn benches(c: &mut Criterion) {
    let rt = runtime();
    bench_sqlite(c, &rt);
    bench_postgres(c, &rt);
}

criterion_group!(suite, benches);

#[path = "suite/table.rs"]
mod table;

/// `-- --table`: the interleaved tables (wall and CPU time per operation,
/// as ratios to the sync driver) instead of criterion's runs.
fn run_tables() {
    let rt = runtime();
    if table::wants_backend("sqlite") {
        let dir = tempfile::tempdir().unwrap();
        let (db, mut sync) = open_sqlite(&rt, &dir);
        table::run_backend(&rt, &db, &mut sync, "sqlite");
        db.close();
    }
    if !table::wants_backend("postgres") {
        return;
    }
    if let Some((pg, db, mut sync)) = open_postgres(&rt) {
        table::run_backend(&rt, &db, &mut sync, "postgres");
        db.close();
        drop(db);
        drop(sync);
        drop(pg);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--table") {
        run_tables();
        return;
    }
    suite();
    Criterion::default().configure_from_args().final_summary();
}
