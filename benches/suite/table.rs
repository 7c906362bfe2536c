//! `cargo bench --bench suite -- --table`: every workload of the suite with
//! its own interleaved timing loop (see `common/table.rs`), one table per
//! workload: wall time and process CPU time per operation, each as a ratio
//! to the sync driver's, in one run. A further argument keeps only the
//! workloads whose title has each of its words: `-- --table "sqlite
//! insert_100"`.

use super::*;
use common::table::{interleave, print, sample, Line, Sample, Variant};

/// Rounds per workload (after one warm-up round).
/// Rounds per workload: 7, or `SUITE_ROUNDS` (more rounds steady the
/// median on a noisy machine).
fn rounds() -> usize {
    std::env::var("SUITE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .filter(|r| *r > 0)
        .unwrap_or(7)
}

/// Runs `n` awaits of `f` in one spawned task on `rt`.
fn spawned<F, Fut, T>(rt: &Runtime, db: &Database, n: u64, f: &F) -> Sample
where
    F: Fn(Database) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    let (db, f) = (db.clone(), f.clone());
    sample(|| {
        rt.block_on(async move {
            tokio::spawn(async move {
                for _ in 0..n {
                    black_box(f(db.clone()).await);
                }
            })
            .await
            .unwrap()
        })
    })
}

/// A variant of a read workload run through Sylvan in a spawned task.
fn read<'a, F, Fut, T>(name: &str, rt: &'a Runtime, db: &'a Database, f: F) -> Variant<'a>
where
    F: Fn(Database) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    (name.into(), Box::new(move |n| spawned(rt, db, n, &f)))
}

/// A variant of an insert workload: `inserts` is emptied and the `n`
/// inputs are made before each round (outside the sample), then the `n`
/// inserts run in one spawned task.
fn write<'a, Mk, I, F, Fut, T>(
    name: &str,
    rt: &'a Runtime,
    db: &'a Database,
    make: Mk,
    f: F,
) -> Variant<'a>
where
    Mk: Fn() -> I + 'a,
    I: Send + 'static,
    F: Fn(Database, I) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    (
        name.into(),
        Box::new(move |n| {
            rt.block_on(reset(db, true));
            let inputs: Vec<I> = (0..n).map(|_| make()).collect();
            let (db, f) = (db.clone(), f.clone());
            sample(|| {
                rt.block_on(async move {
                    tokio::spawn(async move {
                        for input in inputs {
                            black_box(f(db.clone(), input).await);
                        }
                    })
                    .await
                    .unwrap()
                })
            })
        }),
    )
}

/// The workload filter: the argument after `--table`, if any.
fn filter() -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--table")?;
    args.get(at + 1).cloned()
}

/// Whether the filter leaves any workload of `backend` (it names the other
/// backend, or none).
pub fn wants_backend(backend: &str) -> bool {
    let other = if backend == "sqlite" {
        "postgres"
    } else {
        "sqlite"
    };
    filter().is_none_or(|f| !f.split_whitespace().any(|w| w == other))
}

/// Whether the filter keeps the workload titled `title`: every word of the
/// filter is a word of the title.
fn wanted(title: &str) -> bool {
    filter().is_none_or(|f| {
        f.split_whitespace()
            .all(|word| title.split_whitespace().any(|w| w == word))
    })
}

fn report(title: String, per_round: u64, mut variants: Vec<Variant<'_>>) -> Vec<Line> {
    if !wanted(&title) {
        return Vec::new();
    }
    let rounds = rounds();
    let lines = interleave(&mut variants, rounds, per_round);
    print(
        &format!("{title} ({rounds} rounds x {per_round}, interleaved)"),
        &lines,
    );
    lines
}

/// The rows of the ORM's prefetch SQL `sql` for `ids`, bound as the ORM
/// binds them: one array literal on PostgreSQL, one value per key on SQLite.
async fn orm_binds<T: sylvan::FromRow>(db: &Database, sql: &str, ids: &[i64]) -> Vec<T> {
    let rows = if db.dialect() == sylvan::Dialect::Postgres {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        db.fetch_all(sql, (format!("{{{}}}", list.join(",")),))
            .await
    } else {
        db.fetch_all(sql, ids).await
    };
    rows.unwrap()
}

/// Every workload on one backend.
pub fn run_backend(rt: &Runtime, db: &Database, sync: &mut SyncDb, backend: &str) {
    let sql = Arc::new(Sql::new());
    sanity(rt, db, sync, &sql);
    let counter = Arc::new(AtomicI64::new(0));

    {
        let (s, k) = (Arc::clone(&sql), Arc::clone(&counter));
        let (s2, k2) = (Arc::clone(&sql), Arc::clone(&counter));
        let k3 = Arc::clone(&counter);
        report(
            format!("{backend} point"),
            2_000,
            vec![
                (
                    "sync".into(),
                    Box::new(|n| {
                        sample(|| {
                            for _ in 0..n {
                                let rows: Vec<UserRow> =
                                    sync.query(&s2.point, &[Arg::Int(next_id(&k2))]);
                                black_box(rows);
                            }
                        })
                    }),
                ),
                read("raw", rt, db, move |db| {
                    let (s, id) = (Arc::clone(&s), next_id(&k));
                    async move {
                        let row: UserRow = db.fetch_one(&s.point.dollar, (id,)).await.unwrap();
                        row
                    }
                }),
                read("orm", rt, db, move |db| {
                    let id = next_id(&k3);
                    async move { User::get(&db, id).await.unwrap() }
                }),
            ],
        );
    }

    for (n, per_round) in [(1_i64, 2_000), (10, 1_000), (100, 300), (1000, 40)] {
        let (s, s2) = (Arc::clone(&sql), Arc::clone(&sql));
        report(
            format!("{backend} load_{n}"),
            per_round,
            vec![
                (
                    "sync".into(),
                    Box::new(|iters| {
                        sample(|| {
                            for _ in 0..iters {
                                let rows: Vec<UserRow> = sync.query(&s2.load, &[Arg::Int(n)]);
                                assert_eq!(rows.len() as i64, n);
                            }
                        })
                    }),
                ),
                read("raw", rt, db, move |db| {
                    let s = Arc::clone(&s);
                    async move {
                        let rows: Vec<UserRow> = db.fetch_all(&s.load.dollar, (n,)).await.unwrap();
                        assert_eq!(rows.len() as i64, n);
                    }
                }),
                read("orm", rt, db, move |db| async move {
                    let rows = User::objects()
                        .filter(User::ID.le(n))
                        .all(&db)
                        .await
                        .unwrap();
                    assert_eq!(rows.len() as i64, n);
                }),
            ],
        );
    }

    {
        let (s, s2) = (Arc::clone(&sql), Arc::clone(&sql));
        report(
            format!("{backend} medium"),
            300,
            vec![
                (
                    "sync".into(),
                    Box::new(|iters| {
                        sample(|| {
                            for _ in 0..iters {
                                let rows: Vec<JoinRow> = sync.query(
                                    &s2.medium,
                                    &[Arg::Int(MEDIUM_USERS), Arg::Text(MEDIUM_TITLE)],
                                );
                                assert_eq!(rows.len(), 100);
                            }
                        })
                    }),
                ),
                read("raw", rt, db, move |db| {
                    let s = Arc::clone(&s);
                    async move {
                        let rows: Vec<JoinRow> = db
                            .fetch_all(&s.medium.dollar, (MEDIUM_USERS, MEDIUM_TITLE))
                            .await
                            .unwrap();
                        assert_eq!(rows.len(), 100);
                    }
                }),
                read("orm", rt, db, move |db| async move {
                    let rows = orm_medium().all(&db).await.unwrap();
                    assert_eq!(rows.len(), 100);
                }),
            ],
        );
    }

    for (label, n, per_round) in [
        ("insert_1", 1, 500),
        ("insert_100", 100, 60),
        ("insert_10k", BULK, 2),
    ] {
        let s = Arc::clone(&sql);
        let s2 = Arc::clone(&sql);
        report(
            format!("{backend} {label}"),
            per_round,
            vec![
                (
                    "sync".into(),
                    Box::new(|iters| {
                        sync.reset(&s2, true);
                        let inputs: Vec<_> = (0..iters).map(|_| input_rows(n)).collect();
                        sample(|| {
                            for rows in &inputs {
                                assert_eq!(sync_insert(sync, &s2, rows), n as u64);
                            }
                        })
                    }),
                ),
                write(
                    "raw",
                    rt,
                    db,
                    move || input_rows(n),
                    move |db, rows| {
                        let s = Arc::clone(&s);
                        async move {
                            let done = raw_insert(&db, &s, rows).await;
                            assert_eq!(done, n as u64);
                        }
                    },
                ),
                write(
                    "orm (keys)",
                    rt,
                    db,
                    move || input_models(n),
                    move |db, rows| async move {
                        let done = orm_insert(&db, rows).await;
                        assert_eq!(done, n);
                    },
                ),
                write(
                    "orm (no keys)",
                    rt,
                    db,
                    move || input_models(n),
                    move |db, rows| async move {
                        let done = NewUser::bulk_insert(&rows, &db).await.unwrap();
                        assert_eq!(done, n as u64);
                    },
                ),
            ],
        );
    }
    rt.block_on(reset(db, true));

    // Issue 12's ORM-over-raw checks, on the same SQL: the posts of 100
    // users through the reverse relation, and users annotated with their
    // number of posts.
    let users: Arc<Vec<User>> = Arc::new(rt.block_on(async {
        User::objects()
            .filter(User::ID.le(ASSOC_USERS))
            .order_by(User::ID.asc())
            .all(db)
            .await
            .unwrap()
    }));
    let s = Arc::clone(&sql);
    let (u, u2, u3, u4) = (
        Arc::clone(&users),
        Arc::clone(&users),
        Arc::clone(&users),
        Arc::clone(&users),
    );
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let orm_sql: Arc<str> = Post::objects()
        .filter(Post::USER_ID.in_(ids))
        .order_by(Post::ID.asc())
        .to_sql(db.dialect())
        .0
        .into();
    println!("note: ORM reverse prefetch: {orm_sql}");
    let orm_sql2 = Arc::clone(&orm_sql);
    report(
        format!("{backend} reverse_prefetch"),
        100,
        vec![
            read("raw", rt, db, move |db| {
                let (s, users) = (Arc::clone(&s), Arc::clone(&u));
                async move {
                    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
                    let posts: Vec<PostRow> = db
                        .fetch_all(&s.posts_in.dollar, ids.as_slice())
                        .await
                        .unwrap();
                    group(&ids, posts, |p| p.1)
                }
            }),
            read("orm", rt, db, move |db| {
                let users = Arc::clone(&u2);
                async move { Post::USER.reverse().load_for(&users, &db).await.unwrap() }
            }),
            read("raw, ORM's SQL", rt, db, move |db| {
                let (s, users) = (Arc::clone(&orm_sql), Arc::clone(&u3));
                async move {
                    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
                    let posts: Vec<PostRow> = orm_binds(&db, &s, &ids).await;
                    group(&ids, posts, |p| p.1)
                }
            }),
            read("raw, ORM's SQL, models", rt, db, move |db| {
                let (s, users) = (Arc::clone(&orm_sql2), Arc::clone(&u4));
                async move {
                    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
                    let posts: Vec<Post> = orm_binds(&db, &s, &ids).await;
                    group(&ids, posts, |p| p.user_id)
                }
            }),
        ],
    );
    let annotated = || {
        User::objects()
            .filter(User::ID.le(ASSOC_USERS))
            .annotate(Post::USER.count())
            .order_by(User::ID.asc())
    };
    let annotated_sql: Arc<str> = annotated().to_sql(db.dialect()).0.into();
    println!("note: ORM annotated query: {annotated_sql}");
    report(
        format!("{backend} annotate"),
        300,
        vec![
            read("raw", rt, db, move |db| {
                let sql = Arc::clone(&annotated_sql);
                async move {
                    let rows: Vec<(i64, String, String, i64)> =
                        db.fetch_all(&sql, (ASSOC_USERS,)).await.unwrap();
                    assert_eq!(rows.len() as i64, ASSOC_USERS);
                    rows
                }
            }),
            read("orm", rt, db, move |db| async move {
                let rows = annotated().all(&db).await.unwrap();
                assert_eq!(rows.len() as i64, ASSOC_USERS);
                rows
            }),
        ],
    );

    let s = Arc::clone(&sql);
    let s2 = Arc::clone(&sql);
    report(
        format!("{backend} assoc"),
        60,
        vec![
            (
                "sync".into(),
                Box::new(|iters| {
                    sample(|| {
                        for _ in 0..iters {
                            black_box(sync_assoc(sync, &s2));
                        }
                    })
                }),
            ),
            read("raw", rt, db, move |db| {
                let s = Arc::clone(&s);
                async move { raw_assoc(&db, &s).await }
            }),
            read("orm", rt, db, move |db| async move { orm_assoc(&db).await }),
        ],
    );
}
