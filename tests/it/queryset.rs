//! The typed query builder on both backends: every lookup with its edge
//! cases (NULLs, LIKE specials, case), condition combinators, ordering with
//! NULL placement, limit / offset / distinct, and the terminals `all`,
//! `first`, `get`, `count` and `exists`.

use crate::support::{both, Kind, TestDb};
use std::sync::{Arc, Mutex};
use sylvan::prelude::*;
use sylvan::{Condition, Model, QuerySet};

/// Collects what went wrong on both backends, so a test of a known bug
/// reports every backend and terminal it affects.
#[derive(Clone, Default)]
struct Failures(Arc<Mutex<Vec<String>>>);

impl Failures {
    fn check(&self, ok: bool, what: String) {
        if !ok {
            self.0.lock().unwrap().push(what);
        }
    }

    fn assert_none(&self) {
        let failures = self.0.lock().unwrap();
        assert!(failures.is_empty(), "{failures:#?}");
    }
}

#[derive(Debug, Clone, PartialEq, Model)]
#[model(table = "item")]
struct Item {
    // Keys written by the tests (the implicit `id` would be generated).
    #[model(primary_key)]
    id: i64,
    name: String,
    qty: i32,
    price: f64,
    note: Option<String>,
    rank: Option<i32>,
}

fn item(id: i64, name: &str, qty: i32, price: f64, note: Option<&str>, rank: Option<i32>) -> Item {
    Item {
        id,
        name: name.to_owned(),
        qty,
        price,
        note: note.map(str::to_owned),
        rank,
    }
}

async fn create_items(t: &TestDb) {
    let sql = match t.kind {
        Kind::Sqlite => {
            "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, \
             price REAL NOT NULL, note TEXT, rank INTEGER)"
        }
        Kind::Postgres => {
            "CREATE TABLE item (id BIGINT PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL, \
             price DOUBLE PRECISION NOT NULL, note TEXT, rank INTEGER)"
        }
    };
    t.db.execute(sql, ()).await.unwrap();
}

async fn insert_all(t: &TestDb, rows: Vec<Item>) {
    for row in rows {
        let id = row.id;
        let stored = row
            .insert(&t.db)
            .await
            .unwrap_or_else(|e| panic!("{:?}: insert {id}: {e}", t.kind));
        assert_eq!(stored.id, id);
    }
}

/// The standard rows:
///
/// | id | name   | qty | price | note    | rank |
/// |----|--------|-----|-------|---------|------|
/// | 1  | apple  | 10  | 1.5   | "red"   | 3    |
/// | 2  | Apple  | 20  | 2.5   | NULL    | 1    |
/// | 3  | APPLE  | 30  | 3.5   | "green" | NULL |
/// | 4  | banana | 40  | 0.5   | ""      | 2    |
/// | 5  | cherry | 10  | 10.0  | NULL    | NULL |
async fn seed(t: &TestDb) {
    create_items(t).await;
    insert_all(
        t,
        vec![
            item(1, "apple", 10, 1.5, Some("red"), Some(3)),
            item(2, "Apple", 20, 2.5, None, Some(1)),
            item(3, "APPLE", 30, 3.5, Some("green"), None),
            item(4, "banana", 40, 0.5, Some(""), Some(2)),
            item(5, "cherry", 10, 10.0, None, None),
        ],
    )
    .await;
}

/// Runs `q` three ways (`all`, `count`, `exists`) and checks they agree with
/// the expected ids (in any order).
async fn check(t: &TestDb, what: &str, q: QuerySet<Item>, expected: &[i64]) {
    let rows = q
        .all(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {what}: all: {e}", t.kind));
    let mut got: Vec<i64> = rows.iter().map(|r| r.id).collect();
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{:?}: {what}: all", t.kind);
    let n = q
        .count(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {what}: count: {e}", t.kind));
    assert_eq!(n, want.len() as i64, "{:?}: {what}: count", t.kind);
    let any = q
        .exists(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {what}: exists: {e}", t.kind));
    assert_eq!(any, !want.is_empty(), "{:?}: {what}: exists", t.kind);
}

/// The ids of `q` in the order the database returned them.
async fn ordered(t: &TestDb, what: &str, q: QuerySet<Item>) -> Vec<i64> {
    q.all(&t.db)
        .await
        .unwrap_or_else(|e| panic!("{:?}: {what}: {e}", t.kind))
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn all() -> QuerySet<Item> {
    Item::objects()
}

#[tokio::test]
async fn comparison_lookups() {
    both("qs_compare", |t| async move {
        seed(&t).await;
        check(&t, "eq", all().filter(Item::QTY.eq(10)), &[1, 5]).await;
        check(&t, "ne", all().filter(Item::QTY.ne(10)), &[2, 3, 4]).await;
        check(&t, "gt", all().filter(Item::QTY.gt(20)), &[3, 4]).await;
        check(&t, "ge", all().filter(Item::QTY.ge(20)), &[2, 3, 4]).await;
        check(&t, "lt", all().filter(Item::QTY.lt(20)), &[1, 5]).await;
        check(&t, "le", all().filter(Item::QTY.le(20)), &[1, 2, 5]).await;
        check(
            &t,
            "between inclusive",
            all().filter(Item::QTY.between(20, 30)),
            &[2, 3],
        )
        .await;
        check(
            &t,
            "between point",
            all().filter(Item::QTY.between(10, 10)),
            &[1, 5],
        )
        .await;
        check(
            &t,
            "between reversed",
            all().filter(Item::QTY.between(30, 20)),
            &[],
        )
        .await;

        // Text equality is exact (case-sensitive) on both backends.
        check(&t, "text eq", all().filter(Item::NAME.eq("apple")), &[1]).await;
        check(
            &t,
            "text eq String",
            all().filter(Item::NAME.eq(String::from("APPLE"))),
            &[3],
        )
        .await;
        let owned = String::from("Apple");
        check(
            &t,
            "text eq &String",
            all().filter(Item::NAME.eq(&owned)),
            &[2],
        )
        .await;
        check(
            &t,
            "text ne",
            all().filter(Item::NAME.ne("apple")),
            &[2, 3, 4, 5],
        )
        .await;
        check(
            &t,
            "text ge",
            all().filter(Item::NAME.ge("banana")),
            &[4, 5],
        )
        .await;
        check(
            &t,
            "text between",
            all().filter(Item::NAME.between("b", "c")),
            &[4],
        )
        .await;

        // Floats.
        check(&t, "f64 gt", all().filter(Item::PRICE.gt(2.5)), &[3, 5]).await;
        check(&t, "f64 eq", all().filter(Item::PRICE.eq(0.5)), &[4]).await;
        check(
            &t,
            "f64 between",
            all().filter(Item::PRICE.between(0.5, 1.5)),
            &[1, 4],
        )
        .await;

        // Nullable columns take plain values.
        check(&t, "option gt", all().filter(Item::RANK.gt(1)), &[1, 4]).await;
        check(
            &t,
            "option le",
            all().filter(Item::RANK.le(100)),
            &[1, 2, 4],
        )
        .await;

        // Column against column: a NULL on either side matches nothing.
        check(
            &t,
            "col gt col",
            all().filter(Item::QTY.gt(Item::RANK)),
            &[1, 2, 4],
        )
        .await;
        check(
            &t,
            "col eq itself",
            all().filter(Item::QTY.eq(Item::QTY)),
            &[1, 2, 3, 4, 5],
        )
        .await;
        check(
            &t,
            "col between cols",
            all().filter(Item::QTY.between(Item::RANK, 20)),
            &[1, 2],
        )
        .await;

        // Expressions on either side.
        check(
            &t,
            "expr lt col",
            all().filter((Item::RANK * 10).lt(Item::QTY)),
            &[2, 4],
        )
        .await;
        check(
            &t,
            "expr ge value",
            all().filter((Item::QTY + Item::QTY).ge(60)),
            &[3, 4],
        )
        .await;
        check(
            &t,
            "expr gt expr",
            all().filter((Item::PRICE * 2.0).gt(Item::PRICE + 4.0)),
            &[5],
        )
        .await;
        // Integer division truncates on both backends.
        check(
            &t,
            "int division",
            all().filter((Item::QTY / 20).eq(1)),
            &[2, 3],
        )
        .await;
        check(
            &t,
            "expr between",
            all().filter((Item::QTY - 5).between(5, 15)),
            &[1, 2, 5],
        )
        .await;
        t
    })
    .await;
}

#[tokio::test]
async fn null_semantics() {
    both("qs_null", |t| async move {
        seed(&t).await;
        // A NULL column is neither `eq` nor `ne` a value.
        check(&t, "eq", all().filter(Item::NOTE.eq("red")), &[1]).await;
        check(&t, "ne", all().filter(Item::NOTE.ne("red")), &[3, 4]).await;
        check(&t, "not eq", all().filter(!Item::NOTE.eq("red")), &[3, 4]).await;
        check(&t, "not not eq", all().filter(!!Item::NOTE.eq("red")), &[1]).await;
        // `exclude` drops rows whose condition is NULL.
        check(
            &t,
            "exclude eq",
            all().exclude(Item::NOTE.eq("red")),
            &[3, 4],
        )
        .await;
        check(&t, "exclude gt", all().exclude(Item::RANK.gt(1)), &[2]).await;
        check(&t, "exclude lt", all().exclude(Item::RANK.lt(100)), &[]).await;
        check(&t, "is_null", all().filter(Item::NOTE.is_null()), &[2, 5]).await;
        check(
            &t,
            "is_not_null",
            all().filter(Item::NOTE.is_not_null()),
            &[1, 3, 4],
        )
        .await;
        check(
            &t,
            "not is_null",
            all().filter(!Item::NOTE.is_null()),
            &[1, 3, 4],
        )
        .await;
        check(
            &t,
            "exclude is_null",
            all().exclude(Item::NOTE.is_null()),
            &[1, 3, 4],
        )
        .await;
        check(
            &t,
            "exclude is_not_null",
            all().exclude(Item::NOTE.is_not_null()),
            &[2, 5],
        )
        .await;
        check(
            &t,
            "ne or is_null",
            all().filter(Item::NOTE.ne("red") | Item::NOTE.is_null()),
            &[2, 3, 4, 5],
        )
        .await;
        // The empty string is a value, not NULL, on both backends.
        check(&t, "eq empty string", all().filter(Item::NOTE.eq("")), &[4]).await;
        check(
            &t,
            "both null",
            all().filter(Item::NOTE.is_null() & Item::RANK.is_null()),
            &[5],
        )
        .await;
        // NULL propagates through arithmetic.
        check(
            &t,
            "null arithmetic",
            all().filter((Item::RANK + 0).ge(0)),
            &[1, 2, 4],
        )
        .await;
        check(
            &t,
            "between null bound",
            all().filter(Item::QTY.between(Item::RANK, 100)),
            &[1, 2, 4],
        )
        .await;
        t
    })
    .await;
}

#[tokio::test]
async fn in_lookup() {
    both("qs_in", |t| async move {
        seed(&t).await;
        check(
            &t,
            "in ints",
            all().filter(Item::QTY.in_([10, 40])),
            &[1, 4, 5],
        )
        .await;
        check(
            &t,
            "in duplicates",
            all().filter(Item::QTY.in_([10, 10, 10])),
            &[1, 5],
        )
        .await;
        check(&t, "in absent", all().filter(Item::QTY.in_([11, 12])), &[]).await;
        check(
            &t,
            "in strings",
            all().filter(Item::NAME.in_(["apple", "APPLE", "zzz"])),
            &[1, 3],
        )
        .await;
        check(
            &t,
            "in owned strings",
            all().filter(Item::NAME.in_(vec![String::from("banana")])),
            &[4],
        )
        .await;
        check(
            &t,
            "in floats",
            all().filter(Item::PRICE.in_([0.5, 10.0, 99.0])),
            &[4, 5],
        )
        .await;
        // NULL is never in a list, and `exclude` drops it too.
        check(
            &t,
            "in nullable",
            all().filter(Item::RANK.in_([1, 2, 99])),
            &[2, 4],
        )
        .await;
        check(
            &t,
            "exclude in nullable",
            all().exclude(Item::RANK.in_([1])),
            &[1, 4],
        )
        .await;
        // Empty list: nothing; its negation: everything (NULLs included).
        check(
            &t,
            "in empty",
            all().filter(Item::QTY.in_(Vec::<i32>::new())),
            &[],
        )
        .await;
        check(
            &t,
            "in empty nullable",
            all().filter(Item::RANK.in_(Vec::<i32>::new())),
            &[],
        )
        .await;
        check(
            &t,
            "not in empty",
            all().filter(!Item::RANK.in_(Vec::<i32>::new())),
            &[1, 2, 3, 4, 5],
        )
        .await;
        check(
            &t,
            "in empty or eq",
            all().filter(Item::QTY.in_(Vec::<i32>::new()) | Item::ID.eq(3)),
            &[3],
        )
        .await;
        // Columns and expressions as list items.
        check(
            &t,
            "in column",
            all().filter(Item::QTY.in_([Item::QTY])),
            &[1, 2, 3, 4, 5],
        )
        .await;
        check(
            &t,
            "expr in",
            all().filter((Item::QTY * 2).in_([20, 60])),
            &[1, 3, 5],
        )
        .await;
        t
    })
    .await;
}

/// Rows whose names hold every character that is special somewhere: LIKE's
/// `%`, `_` and `\`, and GLOB's `*`, `?` and `[`.
async fn seed_patterns(t: &TestDb) {
    create_items(t).await;
    let names = [
        "100%",        // 1
        "100 percent", // 2
        "a_b",         // 3
        "axb",         // 4
        "back\\slash", // 5
        "backslash",   // 6
        "star*",       // 7
        "stars",       // 8
        "q?",          // 9
        "qx",          // 10
        "[br]",        // 11
        "b",           // 12
        "",            // 13
        "end\\",       // 14
        "caf\u{e9}",   // 15 café
        "CAF\u{c9}",   // 16 CAFÉ
    ];
    let rows = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let id = i as i64 + 1;
            let note = if id % 2 == 0 { None } else { Some("x%y") };
            item(id, name, 1, 1.0, note, None)
        })
        .collect();
    insert_all(t, rows).await;
}

#[tokio::test]
async fn pattern_specials_match_literally() {
    both("qs_specials", |t| async move {
        seed_patterns(&t).await;
        let n = |c| all().filter(c);
        check(&t, "contains %", n(Item::NAME.contains("%")), &[1]).await;
        check(&t, "contains 0%", n(Item::NAME.contains("0%")), &[1]).await;
        check(&t, "contains _", n(Item::NAME.contains("_")), &[3]).await;
        check(&t, "contains \\", n(Item::NAME.contains("\\")), &[5, 14]).await;
        check(&t, "contains *", n(Item::NAME.contains("*")), &[7]).await;
        check(&t, "contains ?", n(Item::NAME.contains("?")), &[9]).await;
        check(&t, "contains [", n(Item::NAME.contains("[")), &[11]).await;
        check(&t, "contains ]", n(Item::NAME.contains("]")), &[11]).await;
        check(&t, "contains [br]", n(Item::NAME.contains("[br]")), &[11]).await;
        check(
            &t,
            "contains empty",
            n(Item::NAME.contains("")),
            &(1..=16).collect::<Vec<_>>(),
        )
        .await;
        check(
            &t,
            "startswith 100%",
            n(Item::NAME.startswith("100%")),
            &[1],
        )
        .await;
        check(
            &t,
            "startswith 100",
            n(Item::NAME.startswith("100")),
            &[1, 2],
        )
        .await;
        check(&t, "startswith a_", n(Item::NAME.startswith("a_")), &[3]).await;
        check(&t, "startswith [", n(Item::NAME.startswith("[")), &[11]).await;
        check(
            &t,
            "startswith back\\",
            n(Item::NAME.startswith("back\\")),
            &[5],
        )
        .await;
        check(&t, "endswith %", n(Item::NAME.endswith("%")), &[1]).await;
        check(&t, "endswith *", n(Item::NAME.endswith("*")), &[7]).await;
        check(&t, "endswith ?", n(Item::NAME.endswith("?")), &[9]).await;
        check(&t, "endswith \\", n(Item::NAME.endswith("\\")), &[14]).await;
        check(
            &t,
            "endswith empty",
            n(Item::NAME.endswith("")),
            &(1..=16).collect::<Vec<_>>(),
        )
        .await;

        check(&t, "icontains %", n(Item::NAME.icontains("%")), &[1]).await;
        check(&t, "icontains _", n(Item::NAME.icontains("_")), &[3]).await;
        check(&t, "icontains \\", n(Item::NAME.icontains("\\")), &[5, 14]).await;
        check(&t, "icontains *", n(Item::NAME.icontains("*")), &[7]).await;
        check(&t, "icontains ?", n(Item::NAME.icontains("?")), &[9]).await;
        check(&t, "icontains [BR]", n(Item::NAME.icontains("[BR]")), &[11]).await;
        check(
            &t,
            "istartswith A_B",
            n(Item::NAME.istartswith("A_B")),
            &[3],
        )
        .await;
        check(
            &t,
            "istartswith BACK\\",
            n(Item::NAME.istartswith("BACK\\")),
            &[5],
        )
        .await;
        check(&t, "iendswith \\", n(Item::NAME.iendswith("\\")), &[14]).await;
        check(
            &t,
            "iendswith STAR*",
            n(Item::NAME.iendswith("STAR*")),
            &[7],
        )
        .await;
        check(&t, "iendswith %", n(Item::NAME.iendswith("%")), &[1]).await;

        // Non-ASCII, case-sensitively: exact on both backends.
        check(&t, "contains é", n(Item::NAME.contains("\u{e9}")), &[15]).await;
        check(&t, "contains É", n(Item::NAME.contains("\u{c9}")), &[16]).await;
        check(&t, "contains af", n(Item::NAME.contains("af")), &[15]).await;
        check(&t, "icontains AF", n(Item::NAME.icontains("AF")), &[15, 16]).await;

        // The user's own LIKE patterns: `%`, `_`, and `\` escapes; GLOB's
        // specials are plain characters.
        check(&t, "like 100\\%", n(Item::NAME.like("100\\%")), &[1]).await;
        check(&t, "like 100%", n(Item::NAME.like("100%")), &[1, 2]).await;
        check(&t, "like a_b", n(Item::NAME.like("a_b")), &[3, 4]).await;
        check(&t, "like a\\_b", n(Item::NAME.like("a\\_b")), &[3]).await;
        check(&t, "like %\\\\%", n(Item::NAME.like("%\\\\%")), &[5, 14]).await;
        check(&t, "like trailing \\", n(Item::NAME.like("end\\")), &[14]).await;
        check(&t, "like star*", n(Item::NAME.like("star*")), &[7]).await;
        check(&t, "like q?", n(Item::NAME.like("q?")), &[9]).await;
        check(&t, "like [br]", n(Item::NAME.like("[br]")), &[11]).await;
        check(&t, "like empty", n(Item::NAME.like("")), &[13]).await;
        check(
            &t,
            "like %",
            n(Item::NAME.like("%")),
            &(1..=16).collect::<Vec<_>>(),
        )
        .await;
        check(&t, "like escaped plain", n(Item::NAME.like("\\b")), &[12]).await;
        check(&t, "ilike STAR_", n(Item::NAME.ilike("STAR_")), &[7, 8]).await;
        check(&t, "ilike %SLASH", n(Item::NAME.ilike("%SLASH")), &[5, 6]).await;
        check(&t, "ilike A\\_B", n(Item::NAME.ilike("A\\_B")), &[3]).await;
        check(&t, "ilike trailing \\", n(Item::NAME.ilike("END\\")), &[14]).await;

        // Pattern lookups on a nullable column: NULL never matches, and
        // `exclude` drops it.
        let odd: Vec<i64> = (1..=16).filter(|i| i % 2 == 1).collect();
        check(&t, "option contains", n(Item::NOTE.contains("%")), &odd).await;
        check(
            &t,
            "option contains empty",
            n(Item::NOTE.contains("")),
            &odd,
        )
        .await;
        check(&t, "option like", n(Item::NOTE.like("x\\%y")), &odd).await;
        check(&t, "option icontains", n(Item::NOTE.icontains("X%Y")), &odd).await;
        check(
            &t,
            "option exclude",
            all().exclude(Item::NOTE.contains("zzz")),
            &odd,
        )
        .await;
        t
    })
    .await;
}

#[tokio::test]
async fn case_sensitivity_of_pattern_lookups() {
    both("qs_case", |t| async move {
        seed(&t).await;
        let n = |c| all().filter(c);
        // `like` and the plain lookups are case-sensitive on both backends.
        check(&t, "like apple", n(Item::NAME.like("apple")), &[1]).await;
        check(&t, "like APPLE", n(Item::NAME.like("APPLE")), &[3]).await;
        check(&t, "like A%", n(Item::NAME.like("A%")), &[2, 3]).await;
        check(&t, "like %PP%", n(Item::NAME.like("%PP%")), &[3]).await;
        check(&t, "like _pple", n(Item::NAME.like("_pple")), &[1, 2]).await;
        check(&t, "contains pp", n(Item::NAME.contains("pp")), &[1, 2]).await;
        check(&t, "contains PP", n(Item::NAME.contains("PP")), &[3]).await;
        check(&t, "startswith A", n(Item::NAME.startswith("A")), &[2, 3]).await;
        check(&t, "startswith a", n(Item::NAME.startswith("a")), &[1]).await;
        check(&t, "endswith LE", n(Item::NAME.endswith("LE")), &[3]).await;
        check(&t, "endswith le", n(Item::NAME.endswith("le")), &[1, 2]).await;
        // The `i…` lookups fold ASCII case on both.
        check(&t, "ilike apple", n(Item::NAME.ilike("apple")), &[1, 2, 3]).await;
        check(&t, "ilike A%", n(Item::NAME.ilike("A%")), &[1, 2, 3]).await;
        check(&t, "ilike %AN%", n(Item::NAME.ilike("%AN%")), &[4]).await;
        check(
            &t,
            "icontains pP",
            n(Item::NAME.icontains("pP")),
            &[1, 2, 3],
        )
        .await;
        check(
            &t,
            "istartswith a",
            n(Item::NAME.istartswith("a")),
            &[1, 2, 3],
        )
        .await;
        check(&t, "istartswith CH", n(Item::NAME.istartswith("CH")), &[5]).await;
        check(
            &t,
            "iendswith le",
            n(Item::NAME.iendswith("le")),
            &[1, 2, 3],
        )
        .await;
        check(&t, "iendswith NANA", n(Item::NAME.iendswith("NANA")), &[4]).await;
        check(
            &t,
            "exclude icontains",
            all().exclude(Item::NAME.icontains("APP")),
            &[4, 5],
        )
        .await;
        t
    })
    .await;
}

#[tokio::test]
async fn condition_combinators() {
    both("qs_combine", |t| async move {
        seed(&t).await;
        let a = || Item::QTY.eq(10); // 1, 5
        let b = || Item::PRICE.gt(2.0); // 2, 3, 5
        let c = || Item::NOTE.is_null(); // 2, 5
        check(&t, "a & b", all().filter(a() & b()), &[5]).await;
        check(&t, "a | b", all().filter(a() | b()), &[1, 2, 3, 5]).await;
        check(&t, "!a", all().filter(!a()), &[2, 3, 4]).await;
        // Rust's precedence: `&` binds tighter than `|`.
        check(&t, "a | b & c", all().filter(a() | b() & c()), &[1, 2, 5]).await;
        check(&t, "(a | b) & c", all().filter((a() | b()) & c()), &[2, 5]).await;
        check(&t, "!(a | b)", all().filter(!(a() | b())), &[4]).await;
        check(&t, "!a & !b", all().filter(!a() & !b()), &[4]).await;
        check(&t, "!(a & b)", all().filter(!(a() & b())), &[1, 2, 3, 4]).await;
        check(&t, "a & !c", all().filter(a() & !c()), &[1]).await;
        check(
            &t,
            "all",
            all().filter(Condition::all([a(), b(), c()])),
            &[5],
        )
        .await;
        check(
            &t,
            "any",
            all().filter(Condition::any([a(), b(), c()])),
            &[1, 2, 3, 5],
        )
        .await;
        check(
            &t,
            "all of one",
            all().filter(Condition::all([b()])),
            &[2, 3, 5],
        )
        .await;
        check(
            &t,
            "any of vec",
            all().filter(Condition::any(vec![c()])),
            &[2, 5],
        )
        .await;
        check(
            &t,
            "nested",
            all().filter(Condition::any([Condition::all([a(), c()]), !b()])),
            &[1, 4, 5],
        )
        .await;

        // An empty AND is true, an empty OR false, wherever they appear.
        let everything = [1, 2, 3, 4, 5];
        let t_ = || Condition::<Item>::all([]);
        let f_ = || Condition::<Item>::any([]);
        check(&t, "empty all", all().filter(t_()), &everything).await;
        check(&t, "empty any", all().filter(f_()), &[]).await;
        check(&t, "!empty all", all().filter(!t_()), &[]).await;
        check(&t, "!empty any", all().filter(!f_()), &everything).await;
        check(&t, "exclude empty all", all().exclude(t_()), &[]).await;
        check(&t, "exclude empty any", all().exclude(f_()), &everything).await;
        check(&t, "empty any | a", all().filter(f_() | a()), &[1, 5]).await;
        check(&t, "a | empty any", all().filter(a() | f_()), &[1, 5]).await;
        check(&t, "empty all | a", all().filter(t_() | a()), &everything).await;
        check(&t, "empty all & a", all().filter(t_() & a()), &[1, 5]).await;
        check(&t, "a & empty any", all().filter(a() & f_()), &[]).await;
        check(&t, "all(any())", all().filter(Condition::all([f_()])), &[]).await;
        check(
            &t,
            "any(all())",
            all().filter(Condition::any([t_()])),
            &everything,
        )
        .await;
        check(
            &t,
            "all(all(), all())",
            all().filter(Condition::all([t_(), t_()])),
            &everything,
        )
        .await;
        check(
            &t,
            "any(any(), any())",
            all().filter(Condition::any([f_(), f_()])),
            &[],
        )
        .await;

        // Chained filters AND together; `exclude` is AND NOT.
        check(&t, "filter.filter", all().filter(a()).filter(b()), &[5]).await;
        check(&t, "filter.exclude", all().filter(a()).exclude(b()), &[1]).await;
        check(
            &t,
            "exclude.exclude",
            all().exclude(a()).exclude(c()),
            &[3, 4],
        )
        .await;
        check(&t, "exclude compound", all().exclude(a() | c()), &[3, 4]).await;
        check(
            &t,
            "filter(empty any).filter(a)",
            all().filter(f_()).filter(a()),
            &[],
        )
        .await;
        check(
            &t,
            "filter(empty all).filter(a)",
            all().filter(t_()).filter(a()),
            &[1, 5],
        )
        .await;

        // A query can be cloned and run repeatedly.
        let q = all().filter(a() | b());
        let q2 = q.clone().exclude(c());
        check(&t, "original", q, &[1, 2, 3, 5]).await;
        check(&t, "clone refined", q2, &[1, 3]).await;
        t
    })
    .await;
}

#[tokio::test]
async fn ordering_and_null_placement() {
    both("qs_order", |t| async move {
        seed(&t).await;
        let o = |what: &'static str, q: QuerySet<Item>| {
            let t = &t;
            async move { ordered(t, what, q).await }
        };
        let k = t.kind;
        // Defaults: NULLs last ascending, first descending, on both backends.
        assert_eq!(
            o(
                "rank asc",
                all().order_by((Item::RANK.asc(), Item::ID.asc()))
            )
            .await,
            [2, 4, 1, 3, 5],
            "{k:?}"
        );
        assert_eq!(
            o(
                "rank desc",
                all().order_by((Item::RANK.desc(), Item::ID.asc()))
            )
            .await,
            [3, 5, 1, 4, 2],
            "{k:?}"
        );
        // Overrides.
        assert_eq!(
            o(
                "asc nulls first",
                all().order_by((Item::RANK.asc().nulls_first(), Item::ID.asc()))
            )
            .await,
            [3, 5, 2, 4, 1],
            "{k:?}"
        );
        assert_eq!(
            o(
                "desc nulls last",
                all().order_by((Item::RANK.desc().nulls_last(), Item::ID.asc()))
            )
            .await,
            [1, 4, 2, 3, 5],
            "{k:?}"
        );
        assert_eq!(
            o(
                "asc nulls last",
                all().order_by((Item::RANK.asc().nulls_last(), Item::ID.desc()))
            )
            .await,
            [2, 4, 1, 5, 3],
            "{k:?}"
        );
        assert_eq!(
            o(
                "desc nulls first",
                all().order_by((Item::RANK.desc().nulls_first(), Item::ID.desc()))
            )
            .await,
            [5, 3, 1, 4, 2],
            "{k:?}"
        );
        // Text NULLs, and the empty string sorting first among values.
        assert_eq!(
            o(
                "note asc",
                all().order_by((Item::NOTE.asc(), Item::ID.asc()))
            )
            .await,
            [4, 3, 1, 2, 5],
            "{k:?}"
        );
        assert_eq!(
            o(
                "note desc",
                all().order_by((Item::NOTE.desc(), Item::ID.asc()))
            )
            .await,
            [2, 5, 1, 3, 4],
            "{k:?}"
        );
        // Bare columns order ascending; ties broken by later terms.
        assert_eq!(
            o("bare columns", all().order_by((Item::QTY, Item::ID))).await,
            [1, 5, 2, 3, 4],
            "{k:?}"
        );
        assert_eq!(
            o("bare column", all().order_by(Item::PRICE)).await,
            [4, 1, 2, 3, 5],
            "{k:?}"
        );
        assert_eq!(
            o(
                "desc desc",
                all().order_by((Item::QTY.desc(), Item::ID.desc()))
            )
            .await,
            [4, 3, 2, 5, 1],
            "{k:?}"
        );
        assert_eq!(
            o("f64 desc", all().order_by(Item::PRICE.desc())).await,
            [5, 3, 2, 1, 4],
            "{k:?}"
        );
        // A Vec of terms.
        assert_eq!(
            o(
                "vec",
                all().order_by(vec![Item::RANK.asc().nulls_first(), Item::ID.desc()])
            )
            .await,
            [5, 3, 2, 4, 1],
            "{k:?}"
        );
        // Expressions order too.
        assert_eq!(
            o(
                "expr",
                all().order_by(((Item::QTY * -1).asc(), Item::ID.asc()))
            )
            .await,
            [4, 3, 2, 1, 5],
            "{k:?}"
        );
        assert_eq!(
            o(
                "null expr",
                all().order_by(((Item::RANK + 0).desc(), Item::ID.asc()))
            )
            .await,
            [3, 5, 1, 4, 2],
            "{k:?}"
        );
        // order_by replaces the earlier order.
        assert_eq!(
            o(
                "replace",
                all().order_by(Item::ID.desc()).order_by(Item::ID.asc())
            )
            .await,
            [1, 2, 3, 4, 5],
            "{k:?}"
        );
        // Ordering with a filter.
        assert_eq!(
            o(
                "filtered",
                all().filter(Item::QTY.ge(20)).order_by(Item::PRICE.desc())
            )
            .await,
            [3, 2, 4],
            "{k:?}"
        );
        // Values follow the order.
        let ranks: Vec<Option<i32>> = all()
            .order_by(Item::RANK.asc())
            .values(Item::RANK)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(ranks, [Some(1), Some(2), Some(3), None, None], "{k:?}");
        let ranks: Vec<Option<i32>> = all()
            .order_by(Item::RANK.desc())
            .values(Item::RANK)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(ranks, [None, None, Some(3), Some(2), Some(1)], "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn limit_offset() {
    both("qs_limit", |t| async move {
        seed(&t).await;
        let k = t.kind;
        let by_id = || all().order_by(Item::ID.asc());
        assert_eq!(
            ordered(&t, "limit", by_id().limit(2)).await,
            [1, 2],
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "offset", by_id().offset(3)).await,
            [4, 5],
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "limit offset", by_id().limit(2).offset(1)).await,
            [2, 3],
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "offset limit", by_id().offset(1).limit(2)).await,
            [2, 3],
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "limit 0", by_id().limit(0)).await,
            Vec::<i64>::new(),
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "offset end", by_id().offset(5)).await,
            Vec::<i64>::new(),
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "offset past", by_id().offset(100)).await,
            Vec::<i64>::new(),
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "limit max", by_id().limit(u64::MAX)).await,
            [1, 2, 3, 4, 5],
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "offset max", by_id().offset(u64::MAX)).await,
            Vec::<i64>::new(),
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "last limit wins", by_id().limit(1).limit(3)).await,
            [1, 2, 3],
            "{k:?}"
        );
        assert_eq!(
            ordered(&t, "offset 0", by_id().offset(0)).await,
            [1, 2, 3, 4, 5],
            "{k:?}"
        );
        assert_eq!(
            ordered(
                &t,
                "desc window",
                all().order_by(Item::ID.desc()).limit(2).offset(1)
            )
            .await,
            [4, 3],
            "{k:?}"
        );
        assert_eq!(
            ordered(
                &t,
                "filtered window",
                by_id().filter(Item::QTY.ge(20)).offset(1).limit(5)
            )
            .await,
            [3, 4],
            "{k:?}"
        );

        // count and exists see the window.
        let count = |q: QuerySet<Item>| {
            let t = &t;
            async move { q.count(&t.db).await.unwrap() }
        };
        assert_eq!(count(by_id().limit(2)).await, 2, "{k:?}");
        assert_eq!(count(by_id().limit(10)).await, 5, "{k:?}");
        assert_eq!(count(by_id().offset(3)).await, 2, "{k:?}");
        assert_eq!(count(by_id().limit(2).offset(4)).await, 1, "{k:?}");
        assert_eq!(count(by_id().limit(0)).await, 0, "{k:?}");
        assert_eq!(count(by_id().offset(u64::MAX)).await, 0, "{k:?}");
        assert_eq!(
            count(all().filter(Item::QTY.eq(10)).limit(5).offset(1)).await,
            1,
            "{k:?}"
        );
        assert!(!by_id().offset(5).exists(&t.db).await.unwrap(), "{k:?}");
        assert!(by_id().offset(4).exists(&t.db).await.unwrap(), "{k:?}");
        assert!(
            by_id().limit(1).offset(4).exists(&t.db).await.unwrap(),
            "{k:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn limit_zero_is_respected_by_every_terminal() {
    let failures = Failures::default();
    both("qs_limit0", |t| {
        let failures = failures.clone();
        async move {
            seed(&t).await;
            let k = t.kind;
            let q = all().order_by(Item::ID.asc()).limit(0);
            assert!(q.all(&t.db).await.unwrap().is_empty(), "{k:?}");
            assert_eq!(q.count(&t.db).await.unwrap(), 0, "{k:?}");
            let r = q.get(&t.db).await;
            failures.check(
                matches!(r, Err(Error::NotFound)),
                format!("{k:?}: get: {r:?}"),
            );
            let r = q.first(&t.db).await;
            failures.check(matches!(r, Ok(None)), format!("{k:?}: first: {r:?}"));
            let r = q.exists(&t.db).await;
            failures.check(matches!(r, Ok(false)), format!("{k:?}: exists: {r:?}"));
            let r = q.clone().values(Item::ID).first(&t.db).await;
            failures.check(
                matches!(r, Ok(None)),
                format!("{k:?}: values().first: {r:?}"),
            );
            t
        }
    })
    .await;
    failures.assert_none();
}

#[tokio::test]
async fn distinct() {
    both("qs_distinct", |t| async move {
        seed(&t).await;
        let k = t.kind;
        // Whole rows include the key, so DISTINCT keeps every row.
        check(&t, "distinct", all().distinct(), &[1, 2, 3, 4, 5]).await;
        check(
            &t,
            "distinct filtered",
            all().distinct().filter(Item::QTY.eq(10)),
            &[1, 5],
        )
        .await;
        assert_eq!(all().distinct().count(&t.db).await.unwrap(), 5, "{k:?}");
        assert_eq!(
            all().distinct().limit(2).count(&t.db).await.unwrap(),
            2,
            "{k:?}"
        );
        assert_eq!(
            all().distinct().offset(4).count(&t.db).await.unwrap(),
            1,
            "{k:?}"
        );
        assert_eq!(
            ordered(
                &t,
                "distinct ordered",
                all().distinct().order_by(Item::ID.desc()).limit(2)
            )
            .await,
            [5, 4],
            "{k:?}"
        );
        // Projections deduplicate.
        let qtys: Vec<i32> = all()
            .distinct()
            .order_by(Item::QTY.asc())
            .values(Item::QTY)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(qtys, [10, 20, 30, 40], "{k:?}");
        // NULLs are one value for DISTINCT, and sort last.
        let notes: Vec<Option<String>> = all()
            .distinct()
            .filter(Item::ID.ne(1))
            .order_by(Item::NOTE.asc())
            .values(Item::NOTE)
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(
            notes,
            [Some(String::new()), Some("green".into()), None],
            "{k:?}"
        );
        let pairs: Vec<(i32, Option<i32>)> = all()
            .distinct()
            .filter(Item::QTY.eq(10))
            .order_by(Item::RANK.asc())
            .values((Item::QTY, Item::RANK))
            .all(&t.db)
            .await
            .unwrap();
        assert_eq!(pairs, [(10, Some(3)), (10, None)], "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn first_defaults_to_primary_key_order() {
    both("qs_first", |t| async move {
        create_items(&t).await;
        let k = t.kind;
        assert_eq!(
            all().first(&t.db).await.unwrap(),
            None,
            "{k:?}: empty table"
        );
        // Inserted out of key order, so the heap order differs from the key
        // order on PostgreSQL.
        insert_all(
            &t,
            vec![
                item(5, "m", 1, 1.0, None, None),
                item(2, "z", 2, 2.0, None, None),
                item(9, "a", 3, 3.0, None, None),
                item(7, "m", 4, 4.0, None, None),
            ],
        )
        .await;
        let first = |q: QuerySet<Item>| {
            let t = &t;
            async move { q.first(&t.db).await.unwrap().map(|i| i.id) }
        };
        assert_eq!(first(all()).await, Some(2), "{k:?}");
        assert_eq!(
            first(all().filter(Item::NAME.eq("m"))).await,
            Some(5),
            "{k:?}"
        );
        assert_eq!(
            first(all().filter(Item::NAME.eq("none"))).await,
            None,
            "{k:?}"
        );
        assert_eq!(
            first(all().order_by(Item::NAME.asc())).await,
            Some(9),
            "{k:?}"
        );
        assert_eq!(
            first(all().order_by(Item::ID.desc())).await,
            Some(9),
            "{k:?}"
        );
        assert_eq!(
            first(
                all()
                    .order_by((Item::NAME.asc(), Item::QTY.desc()))
                    .offset(1)
            )
            .await,
            Some(7),
            "{k:?}"
        );
        assert_eq!(first(all().offset(1)).await, Some(5), "{k:?}");
        assert_eq!(first(all().offset(4)).await, None, "{k:?}");
        assert_eq!(first(all().limit(3)).await, Some(2), "{k:?}");
        let got = all().first(&t.db).await.unwrap().unwrap();
        assert_eq!(got, item(2, "z", 2, 2.0, None, None), "{k:?}");
        t
    })
    .await;
}

#[tokio::test]
async fn get_finds_one_row_or_not_found() {
    both("qs_get", |t| async move {
        create_items(&t).await;
        let k = t.kind;
        let r = all().get(&t.db).await;
        assert!(
            matches!(r, Err(Error::NotFound)),
            "{k:?}: empty table: {r:?}"
        );
        seed_rows_only(&t).await;
        let got = all()
            .filter(Item::NAME.eq("apple"))
            .get(&t.db)
            .await
            .unwrap();
        assert_eq!(
            got,
            item(1, "apple", 10, 1.5, Some("red"), Some(3)),
            "{k:?}"
        );
        let r = all().filter(Item::QTY.eq(999)).get(&t.db).await;
        assert!(matches!(r, Err(Error::NotFound)), "{k:?}: no row: {r:?}");
        let r = all().filter(Condition::any([])).get(&t.db).await;
        assert!(
            matches!(r, Err(Error::NotFound)),
            "{k:?}: false filter: {r:?}"
        );
        // A sliced query is looked at as its slice.
        let got = all()
            .filter(Item::QTY.eq(10))
            .order_by(Item::ID.desc())
            .limit(1)
            .get(&t.db)
            .await
            .unwrap();
        assert_eq!(got.id, 5, "{k:?}");
        let got = all()
            .filter(Item::QTY.eq(10))
            .order_by(Item::ID.asc())
            .offset(1)
            .get(&t.db)
            .await
            .unwrap();
        assert_eq!(got.id, 5, "{k:?}");
        // Model::get by key.
        assert_eq!(Item::get(&t.db, 3).await.unwrap().name, "APPLE", "{k:?}");
        let r = Item::get(&t.db, 99).await;
        assert!(
            matches!(r, Err(Error::NotFound)),
            "{k:?}: Model::get: {r:?}"
        );
        t
    })
    .await;
}

#[tokio::test]
async fn get_reports_too_many_rows() {
    let failures = Failures::default();
    both("qs_get_many", |t| {
        let failures = failures.clone();
        async move {
            seed(&t).await;
            let k = t.kind;
            let r = all().filter(Item::QTY.eq(10)).get(&t.db).await;
            failures.check(
                matches!(r, Err(Error::TooManyRows)),
                format!("{k:?}: get on two rows: {r:?}"),
            );
            let r = all().order_by(Item::ID.asc()).get(&t.db).await;
            failures.check(
                matches!(r, Err(Error::TooManyRows)),
                format!("{k:?}: get on five rows: {r:?}"),
            );
            let r = all().limit(3).get(&t.db).await;
            failures.check(
                matches!(r, Err(Error::TooManyRows)),
                format!("{k:?}: get on a 3-row slice: {r:?}"),
            );
            t
        }
    })
    .await;
    failures.assert_none();
}

/// The standard rows, table already created.
async fn seed_rows_only(t: &TestDb) {
    insert_all(
        t,
        vec![
            item(1, "apple", 10, 1.5, Some("red"), Some(3)),
            item(2, "Apple", 20, 2.5, None, Some(1)),
            item(3, "APPLE", 30, 3.5, Some("green"), None),
            item(4, "banana", 40, 0.5, Some(""), Some(2)),
            item(5, "cherry", 10, 10.0, None, None),
        ],
    )
    .await;
}

#[tokio::test]
async fn count_and_exists() {
    both("qs_count", |t| async move {
        create_items(&t).await;
        let k = t.kind;
        assert_eq!(all().count(&t.db).await.unwrap(), 0, "{k:?}");
        assert!(!all().exists(&t.db).await.unwrap(), "{k:?}");
        assert!(
            !all()
                .order_by(Item::NAME.desc())
                .exists(&t.db)
                .await
                .unwrap(),
            "{k:?}"
        );
        seed_rows_only(&t).await;
        assert_eq!(all().count(&t.db).await.unwrap(), 5, "{k:?}");
        assert!(all().exists(&t.db).await.unwrap(), "{k:?}");
        assert_eq!(
            all()
                .filter(Item::NAME.icontains("apple"))
                .count(&t.db)
                .await
                .unwrap(),
            3,
            "{k:?}"
        );
        assert_eq!(
            all()
                .order_by(Item::NAME.desc())
                .count(&t.db)
                .await
                .unwrap(),
            5,
            "{k:?}"
        );
        assert!(all()
            .order_by((Item::NAME.desc(), (Item::QTY * 2).asc()))
            .exists(&t.db)
            .await
            .unwrap_or_else(|e| panic!("{k:?}: {e}")));
        assert!(
            !all()
                .filter(Item::QTY.gt(1000))
                .exists(&t.db)
                .await
                .unwrap(),
            "{k:?}"
        );
        // The same QuerySet, run on a checked-out connection.
        let conn = t.db.acquire().await.unwrap();
        assert_eq!(
            all().filter(Item::QTY.eq(10)).count(&conn).await.unwrap(),
            2,
            "{k:?}"
        );
        assert!(
            all().filter(Item::QTY.eq(10)).exists(&conn).await.unwrap(),
            "{k:?}"
        );
        drop(conn);
        t
    })
    .await;
}
