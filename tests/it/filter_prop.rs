//! Property test of the query builder: random rows and random filter trees;
//! each backend must return exactly the rows that the same tree, evaluated
//! in Rust with SQL's three-valued logic, selects — in the same order, with
//! the same limit and offset — and `count()` / `exists()` must agree.
//!
//! Trees use every lookup (`eq` … `le`, `between`, `in_` — empty, inline,
//! exactly 1,000 values, and past 1,000 as one JSON array bind —,
//! `is_null` / `is_not_null`, `like` / `ilike`, `[i]contains`,
//! `[i]startswith`, `[i]endswith`), `None` arguments on `Option` receivers,
//! F expressions (column against column, `+ - *` over columns and values),
//! `&`, `|`, `!`, `Condition::all` / `any` (empty ones too) and `exclude`,
//! under random `order_by` (columns or expressions, asc / desc, default or
//! explicit NULLs placement), `limit`, `offset` and `distinct`.
//!
//! Injection: row strings and every literal are full of quotes (`'` `"` and
//! look-alikes ’ ‘ ＂ ʼ), backslashes, `;`, `--`, `/*`, LIKE and GLOB
//! metacharacters and ready-made injection payloads. A canary table
//! (`prop_canary`) must keep its one row through every case, the item table
//! must keep its row count, and the rendered SQL must never contain a quote
//! other than the fixed `ESCAPE '\'`.
//!
//! Rust semantics of the lookups:
//! * comparisons with NULL are unknown; `NOT` unknown is unknown; AND / OR
//!   per SQL; `BETWEEN a AND b` is `>= a AND <= b`; a row is selected iff its
//!   condition is true; `exclude(c)` keeps the rows where `c` is false;
//! * `eq(None)` is `IS NULL` and `ne(None)` is `IS NOT NULL` (documented);
//!   other comparisons with `None` are unknown, and so is `x IN (…, NULL)`
//!   when `x` matches nothing else;
//! * `in_([])` is false, even for NULL (the documented "matches nothing");
//! * text compares by bytes (code points). SQLite's BINARY collation does;
//!   on PostgreSQL the database collation (C.UTF-8 here) is checked first and
//!   the text columns are declared `COLLATE "C"` if it does not;
//! * LIKE: `%` any run, `_` one Unicode scalar, `\` escapes the next
//!   character, a trailing lone `\` matches a backslash;
//! * case-insensitive lookups (`ilike`, `icontains`, …) fold ASCII only.
//!   Their arguments are ASCII; row strings may hold non-ASCII but never a
//!   character whose lowercase is ASCII (Kelvin sign, dotted capital I), so
//!   a non-ASCII character can only ever match a wildcard and the two
//!   backends' different non-ASCII folding (documented on `icontains`)
//!   cannot show;
//! * floats are multiples of 0.25 in a small range and integers are small,
//!   so arithmetic (`+ - *`; no division, which errors on PostgreSQL and is
//!   NULL on SQLite for a zero divisor) is exact and never overflows.
//!   Extreme values (`i64::MIN`, `f64::MAX`, subnormals) appear only as
//!   comparison, BETWEEN and IN values.
//!
//! Cases per backend: `CASES` (or `PROPTEST_CASES`), each with up to 30
//! rows and 1–3 queries; one runtime and one database per backend.

#![allow(clippy::unwrap_used)]

use crate::support::{Kind, TestDb};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::cmp::Ordering;
use std::fmt::{self, Debug, Display};
use sylvan::prelude::*;
use sylvan::{
    Column, Condition, Dialect, Expr, FieldType, IntoOperand, Model, NonNull, Numeric, Order,
    PoolConfig, QuerySet, Value,
};
use tokio::runtime::Runtime;

const CASES: u32 = 300;

/// Every canary check compares against this row.
const CANARY: (i64, &str) = (1, "canary: nothing may touch this row");

#[derive(Debug, Clone, PartialEq, sylvan::Model)]
#[model(table = "prop_items")]
struct Item {
    #[model(primary_key)]
    id: i64,
    score: Option<i64>,
    qty: i32,
    cap: Option<i32>,
    price: f64,
    weight: Option<f64>,
    name: String,
    note: Option<String>,
    flag: bool,
    seen: Option<bool>,
}

// ---------------------------------------------------------------------------
// The filter language: a mirror of Sylvan's lookups that can be built into a
// `Condition<Item>`, evaluated in Rust, and printed as Rust source.

/// Which of a base type's two columns: the NOT NULL one or the nullable one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nul {
    Plain,
    Nullable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AOp {
    Add,
    Sub,
    Mul,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Ge => "ge",
            Op::Lt => "lt",
            Op::Le => "le",
        }
    }
}

/// A lookup receiver: a column, or arithmetic over columns (F expression).
#[derive(Clone)]
enum Ex<B> {
    Col(Nul),
    Arith(Box<Ex<B>>, AOp, Box<Arg<B>>),
}

/// A lookup argument: a value, `None` (only where the receiver's type is
/// an `Option`), or an expression.
#[derive(Clone)]
enum Arg<B> {
    Val(B),
    Null,
    Ex(Ex<B>),
}

#[derive(Clone)]
enum Look<B> {
    Cmp(Ex<B>, Op, Arg<B>),
    Between(Ex<B>, Arg<B>, Arg<B>),
    /// Values (`None` only for an `Option` receiver), and the length to pad
    /// them to (past 1,000 they travel as one JSON array bind).
    In(Ex<B>, Vec<Option<B>>, Option<usize>),
    /// `true`: `is_null`, `false`: `is_not_null`.
    IsNull(Ex<B>, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PKind {
    Like,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Clone)]
enum Filter {
    I64(Look<i64>),
    I32(Look<i32>),
    F64(Look<f64>),
    Text(Look<String>),
    Bool(Look<bool>),
    Pattern {
        col: Nul,
        kind: PKind,
        ci: bool,
        arg: String,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    All(Vec<Filter>),
    Any(Vec<Filter>),
}

/// A Sylvan receiver of base type `B`, in each of its static types.
enum Built<B> {
    P(Column<Item, B>),
    N(Column<Item, Option<B>>),
    PE(Expr<Item, B>),
    NE(Expr<Item, Option<B>>),
}

/// A Sylvan argument of base type `B`.
enum BArg<B> {
    Val(B),
    Null,
    E(Built<B>),
}

/// Runs `$body` with `$l` bound to the receiver, whatever its static type.
macro_rules! on_recv {
    ($recv:expr, |$l:ident| $body:expr) => {
        match $recv {
            Built::P($l) => $body,
            Built::N($l) => $body,
            Built::PE($l) => $body,
            Built::NE($l) => $body,
        }
    };
}

/// Runs `$body` with `$r` bound to the argument, whatever its static type,
/// for a receiver of a NOT NULL type (no `None`).
macro_rules! on_arg_plain {
    ($arg:expr, |$r:ident| $body:expr) => {
        match $arg {
            BArg::Val($r) => $body,
            BArg::Null => unreachable!("None for a NOT NULL receiver"),
            BArg::E(Built::P($r)) => $body,
            BArg::E(Built::N($r)) => $body,
            BArg::E(Built::PE($r)) => $body,
            BArg::E(Built::NE($r)) => $body,
        }
    };
}

/// [`on_arg_plain`] for a receiver of an `Option` type: `None` allowed.
macro_rules! on_arg_opt {
    ($arg:expr, |$r:ident| $body:expr) => {
        match $arg {
            BArg::Val($r) => $body,
            BArg::Null => {
                let $r = B::opt(None);
                $body
            }
            BArg::E(Built::P($r)) => $body,
            BArg::E(Built::N($r)) => $body,
            BArg::E(Built::PE($r)) => $body,
            BArg::E(Built::NE($r)) => $body,
        }
    };
}

/// Runs `$body` with `$l` bound to the receiver and `$r` to the argument.
macro_rules! on_pair {
    ($recv:expr, $arg:expr, |$l:ident, $r:ident| $body:expr) => {
        match $recv {
            Built::P($l) => on_arg_plain!($arg, |$r| $body),
            Built::PE($l) => on_arg_plain!($arg, |$r| $body),
            Built::N($l) => on_arg_opt!($arg, |$r| $body),
            Built::NE($l) => on_arg_opt!($arg, |$r| $body),
        }
    };
}

/// A column base type: its two columns on `Item`, its Rust semantics, and
/// its value strategies.
trait Base:
    FieldType<Base = Self>
    + NonNull
    + IntoOperand<Item, Self>
    + IntoOperand<Item, Option<Self>>
    + Clone
    + Debug
{
    const COL: Column<Item, Self>;
    const COL_OPT: Column<Item, Option<Self>>;
    const NUMERIC: bool;
    fn plain(row: &Item) -> Self;
    fn nullable(row: &Item) -> Option<Self>;
    /// An `Option` value as an argument for an `Option` receiver.
    fn opt(v: Option<Self>) -> impl IntoOperand<Item, Option<Self>>;
    /// The SQL order of two values.
    fn order(a: &Self, b: &Self) -> Ordering;
    /// Rust source for the value.
    fn lit(&self) -> String;
    /// `self op rhs` (numeric types only).
    fn apply(&self, op: AOp, rhs: &Self) -> Self;
    /// `lhs op rhs` in Sylvan (numeric types only).
    fn arith(lhs: Built<Self>, op: AOp, rhs: BArg<Self>) -> Built<Self>;
    /// The `i`-th padding value for long IN lists (`None`: repeat the list).
    fn filler(i: usize) -> Option<Self>;
    /// Literals for comparisons, BETWEEN and IN.
    fn values() -> BoxedStrategy<Self>;
    /// Literals for arithmetic (small, so nothing overflows).
    fn operands() -> BoxedStrategy<Self>;
}

fn arith_num<B>(lhs: Built<B>, op: AOp, rhs: BArg<B>) -> Built<B>
where
    B: Base + Numeric,
    Option<B>: Numeric + FieldType<Base = B>,
{
    macro_rules! apply {
        ($l:ident, $r:ident, $op:ident) => {
            match $op {
                AOp::Add => $l + $r,
                AOp::Sub => $l - $r,
                AOp::Mul => $l * $r,
            }
        };
    }
    match lhs {
        Built::P(c) => on_arg_plain!(rhs, |r| Built::PE(apply!(c, r, op))),
        Built::PE(e) => on_arg_plain!(rhs, |r| Built::PE(apply!(e, r, op))),
        Built::N(c) => on_arg_opt!(rhs, |r| Built::NE(apply!(c, r, op))),
        Built::NE(e) => on_arg_opt!(rhs, |r| Built::NE(apply!(e, r, op))),
    }
}

fn quarter(range: std::ops::RangeInclusive<i32>) -> BoxedStrategy<f64> {
    range.prop_map(|q| f64::from(q) / 4.0).boxed()
}

impl Base for i64 {
    const COL: Column<Item, i64> = Item::ID;
    const COL_OPT: Column<Item, Option<i64>> = Item::SCORE;
    const NUMERIC: bool = true;
    fn plain(row: &Item) -> i64 {
        row.id
    }
    fn nullable(row: &Item) -> Option<i64> {
        row.score
    }
    fn opt(v: Option<i64>) -> impl IntoOperand<Item, Option<i64>> {
        v
    }
    fn order(a: &i64, b: &i64) -> Ordering {
        a.cmp(b)
    }
    fn lit(&self) -> String {
        format!("{self}_i64")
    }
    fn apply(&self, op: AOp, rhs: &i64) -> i64 {
        match op {
            AOp::Add => self.checked_add(*rhs),
            AOp::Sub => self.checked_sub(*rhs),
            AOp::Mul => self.checked_mul(*rhs),
        }
        .expect("generated i64 arithmetic overflowed")
    }
    fn arith(lhs: Built<i64>, op: AOp, rhs: BArg<i64>) -> Built<i64> {
        arith_num(lhs, op, rhs)
    }
    fn filler(i: usize) -> Option<i64> {
        Some(1_000 + i64::try_from(i).unwrap())
    }
    fn values() -> BoxedStrategy<i64> {
        let extreme = prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX, 1 << 53]);
        prop_oneof![8 => -9_i64..=9, 8 => -22_i64..=42, 1 => extreme].boxed()
    }
    fn operands() -> BoxedStrategy<i64> {
        (-3_i64..=3).boxed()
    }
}

impl Base for i32 {
    const COL: Column<Item, i32> = Item::QTY;
    const COL_OPT: Column<Item, Option<i32>> = Item::CAP;
    const NUMERIC: bool = true;
    fn plain(row: &Item) -> i32 {
        row.qty
    }
    fn nullable(row: &Item) -> Option<i32> {
        row.cap
    }
    fn opt(v: Option<i32>) -> impl IntoOperand<Item, Option<i32>> {
        v
    }
    fn order(a: &i32, b: &i32) -> Ordering {
        a.cmp(b)
    }
    fn lit(&self) -> String {
        format!("{self}")
    }
    fn apply(&self, op: AOp, rhs: &i32) -> i32 {
        match op {
            AOp::Add => self.checked_add(*rhs),
            AOp::Sub => self.checked_sub(*rhs),
            AOp::Mul => self.checked_mul(*rhs),
        }
        .expect("generated i32 arithmetic overflowed")
    }
    fn arith(lhs: Built<i32>, op: AOp, rhs: BArg<i32>) -> Built<i32> {
        arith_num(lhs, op, rhs)
    }
    fn filler(i: usize) -> Option<i32> {
        Some(1_000 + i32::try_from(i).unwrap())
    }
    fn values() -> BoxedStrategy<i32> {
        let extreme = prop::sample::select(vec![i32::MIN, i32::MAX]);
        prop_oneof![12 => -9_i32..=9, 1 => extreme].boxed()
    }
    fn operands() -> BoxedStrategy<i32> {
        (-3_i32..=3).boxed()
    }
}

impl Base for f64 {
    const COL: Column<Item, f64> = Item::PRICE;
    const COL_OPT: Column<Item, Option<f64>> = Item::WEIGHT;
    const NUMERIC: bool = true;
    fn plain(row: &Item) -> f64 {
        row.price
    }
    fn nullable(row: &Item) -> Option<f64> {
        row.weight
    }
    fn opt(v: Option<f64>) -> impl IntoOperand<Item, Option<f64>> {
        v
    }
    fn order(a: &f64, b: &f64) -> Ordering {
        // Finite values only; -0.0 and 0.0 are equal, as in SQL.
        a.partial_cmp(b).expect("finite floats")
    }
    fn lit(&self) -> String {
        format!("{self:?}")
    }
    fn apply(&self, op: AOp, rhs: &f64) -> f64 {
        match op {
            AOp::Add => self + rhs,
            AOp::Sub => self - rhs,
            AOp::Mul => self * rhs,
        }
    }
    fn arith(lhs: Built<f64>, op: AOp, rhs: BArg<f64>) -> Built<f64> {
        arith_num(lhs, op, rhs)
    }
    fn filler(i: usize) -> Option<f64> {
        Some(1_000.5 + f64::from(u32::try_from(i).unwrap()))
    }
    fn values() -> BoxedStrategy<f64> {
        let extreme = prop::sample::select(vec![
            f64::MAX,
            f64::MIN,
            1e300,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
        ]);
        prop_oneof![
            8 => quarter(-9..=9),
            4 => (-3_i32..=3).prop_map(f64::from),
            1 => extreme,
        ]
        .boxed()
    }
    fn operands() -> BoxedStrategy<f64> {
        quarter(-8..=8)
    }
}

impl Base for String {
    const COL: Column<Item, String> = Item::NAME;
    const COL_OPT: Column<Item, Option<String>> = Item::NOTE;
    const NUMERIC: bool = false;
    fn plain(row: &Item) -> String {
        row.name.clone()
    }
    fn nullable(row: &Item) -> Option<String> {
        row.note.clone()
    }
    fn opt(v: Option<String>) -> impl IntoOperand<Item, Option<String>> {
        v
    }
    fn order(a: &String, b: &String) -> Ordering {
        a.cmp(b)
    }
    fn lit(&self) -> String {
        format!("{self:?}")
    }
    fn apply(&self, _: AOp, _: &String) -> String {
        unreachable!("no arithmetic on text")
    }
    fn arith(_: Built<String>, _: AOp, _: BArg<String>) -> Built<String> {
        unreachable!("no arithmetic on text")
    }
    fn filler(i: usize) -> Option<String> {
        Some(format!("filler {i} '\"\\ %_*?["))
    }
    fn values() -> BoxedStrategy<String> {
        prop_oneof![1 => text(false), 1 => row_ref()].boxed()
    }
    fn operands() -> BoxedStrategy<String> {
        text(false)
    }
}

impl Base for bool {
    const COL: Column<Item, bool> = Item::FLAG;
    const COL_OPT: Column<Item, Option<bool>> = Item::SEEN;
    const NUMERIC: bool = false;
    fn plain(row: &Item) -> bool {
        row.flag
    }
    fn nullable(row: &Item) -> Option<bool> {
        row.seen
    }
    fn opt(v: Option<bool>) -> impl IntoOperand<Item, Option<bool>> {
        v
    }
    fn order(a: &bool, b: &bool) -> Ordering {
        a.cmp(b)
    }
    fn lit(&self) -> String {
        format!("{self}")
    }
    fn apply(&self, _: AOp, _: &bool) -> bool {
        unreachable!("no arithmetic on bool")
    }
    fn arith(_: Built<bool>, _: AOp, _: BArg<bool>) -> Built<bool> {
        unreachable!("no arithmetic on bool")
    }
    fn filler(_: usize) -> Option<bool> {
        None
    }
    fn values() -> BoxedStrategy<bool> {
        any::<bool>().boxed()
    }
    fn operands() -> BoxedStrategy<bool> {
        any::<bool>().boxed()
    }
}

// ---------------------------------------------------------------------------
// Building the Sylvan condition.

impl<B: Base> Ex<B> {
    fn build(&self) -> Built<B> {
        match self {
            Ex::Col(Nul::Plain) => Built::P(B::COL),
            Ex::Col(Nul::Nullable) => Built::N(B::COL_OPT),
            Ex::Arith(l, op, r) => B::arith(l.build(), *op, r.build()),
        }
    }

    fn eval(&self, row: &Item) -> Option<B> {
        match self {
            Ex::Col(Nul::Plain) => Some(B::plain(row)),
            Ex::Col(Nul::Nullable) => B::nullable(row),
            Ex::Arith(l, op, r) => Some(l.eval(row)?.apply(*op, &r.eval(row)?)),
        }
    }

    /// The same expression rooted at the nullable column (for `is_null`).
    fn nullable_root(self) -> Ex<B> {
        match self {
            Ex::Col(_) => Ex::Col(Nul::Nullable),
            Ex::Arith(l, op, r) => Ex::Arith(Box::new(l.nullable_root()), op, r),
        }
    }

    /// The column at the root of the expression (its type's nullability).
    fn root(&self) -> Nul {
        match self {
            Ex::Col(n) => *n,
            Ex::Arith(l, ..) => l.root(),
        }
    }

    /// Replaces each `None` that the types do not allow (after a NOT NULL
    /// receiver) by the nullable column.
    fn legalize(self) -> Ex<B> {
        match self {
            Ex::Col(n) => Ex::Col(n),
            Ex::Arith(l, op, r) => {
                let l = l.legalize();
                let r = r.legalize(l.root());
                Ex::Arith(Box::new(l), op, Box::new(r))
            }
        }
    }
}

impl<B: Base> Arg<B> {
    fn build(&self) -> BArg<B> {
        match self {
            Arg::Val(v) => BArg::Val(v.clone()),
            Arg::Null => BArg::Null,
            Arg::Ex(e) => BArg::E(e.build()),
        }
    }

    fn eval(&self, row: &Item) -> Option<B> {
        match self {
            Arg::Val(v) => Some(v.clone()),
            Arg::Null => None,
            Arg::Ex(e) => e.eval(row),
        }
    }

    /// See [`Ex::legalize`]; `receiver` is the nullability of the receiver.
    fn legalize(self, receiver: Nul) -> Arg<B> {
        match (self, receiver) {
            (Arg::Null, Nul::Plain) => Arg::Ex(Ex::Col(Nul::Nullable)),
            (Arg::Ex(e), _) => Arg::Ex(e.legalize()),
            (a, _) => a,
        }
    }
}

fn in_list<B: Base>(values: &[Option<B>], pad: Option<usize>) -> Vec<Option<B>> {
    let mut list = values.to_vec();
    if let (Some(len), false) = (pad, values.is_empty()) {
        let mut i = 0;
        while list.len() < len {
            list.push(match B::filler(i) {
                Some(v) => Some(v),
                None => values[i % values.len()].clone(),
            });
            i += 1;
        }
    }
    list
}

fn cmp3<B: Base>(a: &Option<B>, op: Op, b: &Option<B>) -> Option<bool> {
    Some(op.holds(B::order(a.as_ref()?, b.as_ref()?)))
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

impl<B: Base> Look<B> {
    fn build(&self) -> Condition<Item> {
        match self {
            Look::Cmp(l, op, r) => on_pair!(l.build(), r.build(), |l, r| match op {
                Op::Eq => l.eq(r),
                Op::Ne => l.ne(r),
                Op::Gt => l.gt(r),
                Op::Ge => l.ge(r),
                Op::Lt => l.lt(r),
                Op::Le => l.le(r),
            }),
            Look::Between(l, lo, hi) => {
                let (lo, hi) = (lo.build(), hi.build());
                match l.build() {
                    Built::P(l) => {
                        on_arg_plain!(lo, |lo| on_arg_plain!(hi, |hi| l.between(lo, hi)))
                    }
                    Built::PE(l) => {
                        on_arg_plain!(lo, |lo| on_arg_plain!(hi, |hi| l.between(lo, hi)))
                    }
                    Built::N(l) => on_arg_opt!(lo, |lo| on_arg_opt!(hi, |hi| l.between(lo, hi))),
                    Built::NE(l) => on_arg_opt!(lo, |lo| on_arg_opt!(hi, |hi| l.between(lo, hi))),
                }
            }
            Look::In(l, values, pad) => {
                let list = in_list(values, *pad);
                let plain = || list.iter().flatten().cloned().collect::<Vec<B>>();
                match l.build() {
                    Built::P(l) => l.in_(plain()),
                    Built::PE(l) => l.in_(plain()),
                    Built::N(l) => l.in_(list.iter().cloned().map(B::opt)),
                    Built::NE(l) => l.in_(list.iter().cloned().map(B::opt)),
                }
            }
            Look::IsNull(l, is_null) => match (l.build(), is_null) {
                (Built::N(c), true) => c.is_null(),
                (Built::N(c), false) => c.is_not_null(),
                (Built::NE(e), true) => e.is_null(),
                (Built::NE(e), false) => e.is_not_null(),
                (Built::P(_) | Built::PE(_), _) => unreachable!("is_null on a NOT NULL column"),
            },
        }
    }

    fn eval(&self, row: &Item) -> Option<bool> {
        match self {
            // `eq(None)` is `IS NULL`, `ne(None)` is `IS NOT NULL`.
            Look::Cmp(l, Op::Eq, Arg::Null) => Some(l.eval(row).is_none()),
            Look::Cmp(l, Op::Ne, Arg::Null) => Some(l.eval(row).is_some()),
            Look::Cmp(l, op, r) => cmp3(&l.eval(row), *op, &r.eval(row)),
            Look::Between(l, lo, hi) => {
                let v = l.eval(row);
                and3(
                    cmp3(&v, Op::Ge, &lo.eval(row)),
                    cmp3(&v, Op::Le, &hi.eval(row)),
                )
            }
            Look::In(l, values, pad) => {
                if values.is_empty() {
                    return Some(false);
                }
                let v = l.eval(row)?;
                let list = in_list(values, *pad);
                let found = list
                    .iter()
                    .flatten()
                    .any(|x| B::order(&v, x) == Ordering::Equal);
                // No match but a NULL in the list: unknown.
                match (found, list.iter().any(Option::is_none)) {
                    (true, _) => Some(true),
                    (false, true) => None,
                    (false, false) => Some(false),
                }
            }
            Look::IsNull(l, is_null) => Some(l.eval(row).is_none() == *is_null),
        }
    }

    /// Drops what the types do not allow: `None` after a NOT NULL receiver.
    fn legalize(self) -> Look<B> {
        match self {
            Look::Cmp(l, op, r) => {
                let r = r.legalize(l.root());
                Look::Cmp(l, op, r)
            }
            Look::Between(l, lo, hi) => {
                let (lo, hi) = (lo.legalize(l.root()), hi.legalize(l.root()));
                Look::Between(l, lo, hi)
            }
            Look::In(l, mut values, pad) => {
                if l.root() == Nul::Plain {
                    values.retain(Option::is_some);
                }
                Look::In(l, values, pad)
            }
            Look::IsNull(l, is_null) => Look::IsNull(l, is_null),
        }
    }
}

fn build_pattern(col: Nul, kind: PKind, ci: bool, arg: &str) -> Condition<Item> {
    macro_rules! go {
        ($c:expr) => {
            match (kind, ci) {
                (PKind::Like, false) => $c.like(arg),
                (PKind::Like, true) => $c.ilike(arg),
                (PKind::Contains, false) => $c.contains(arg),
                (PKind::Contains, true) => $c.icontains(arg),
                (PKind::StartsWith, false) => $c.startswith(arg),
                (PKind::StartsWith, true) => $c.istartswith(arg),
                (PKind::EndsWith, false) => $c.endswith(arg),
                (PKind::EndsWith, true) => $c.iendswith(arg),
            }
        };
    }
    match col {
        Nul::Plain => go!(Item::NAME),
        Nul::Nullable => go!(Item::NOTE),
    }
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Lit(char),
    One,
    Run,
}

/// `%` any run, `_` one character, `\x` a literal `x`, a trailing lone `\`
/// a literal backslash.
fn like_tokens(pattern: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            '%' => Tok::Run,
            '_' => Tok::One,
            c => Tok::Lit(c),
        });
    }
    out
}

fn literal_tokens(s: &str) -> Vec<Tok> {
    s.chars().map(Tok::Lit).collect()
}

/// Matches a whole string against LIKE tokens (dynamic programming).
fn like_match(tokens: &[Tok], s: &str, ci: bool) -> bool {
    let fold = |c: char| if ci { c.to_ascii_lowercase() } else { c };
    let s: Vec<char> = s.chars().map(fold).collect();
    // ok[j]: tokens so far match s[..j].
    let mut ok = vec![false; s.len() + 1];
    ok[0] = true;
    for tok in tokens {
        let mut next = vec![false; s.len() + 1];
        for j in 0..=s.len() {
            next[j] = match tok {
                Tok::Run => ok[j] || (j > 0 && next[j - 1]),
                Tok::One => j > 0 && ok[j - 1],
                Tok::Lit(c) => j > 0 && ok[j - 1] && s[j - 1] == fold(*c),
            };
        }
        ok = next;
    }
    ok[s.len()]
}

fn pattern_eval(kind: PKind, ci: bool, arg: &str, value: &str) -> bool {
    let tokens = match kind {
        PKind::Like => like_tokens(arg),
        PKind::Contains => [vec![Tok::Run], literal_tokens(arg), vec![Tok::Run]].concat(),
        PKind::StartsWith => [literal_tokens(arg), vec![Tok::Run]].concat(),
        PKind::EndsWith => [vec![Tok::Run], literal_tokens(arg)].concat(),
    };
    like_match(&tokens, value, ci)
}

impl Filter {
    fn build(&self) -> Condition<Item> {
        match self {
            Filter::I64(l) => l.build(),
            Filter::I32(l) => l.build(),
            Filter::F64(l) => l.build(),
            Filter::Text(l) => l.build(),
            Filter::Bool(l) => l.build(),
            Filter::Pattern { col, kind, ci, arg } => build_pattern(*col, *kind, *ci, arg),
            Filter::And(a, b) => a.build() & b.build(),
            Filter::Or(a, b) => a.build() | b.build(),
            Filter::Not(a) => !a.build(),
            Filter::All(v) => Condition::all(v.iter().map(Filter::build)),
            Filter::Any(v) => Condition::any(v.iter().map(Filter::build)),
        }
    }

    fn eval(&self, row: &Item) -> Option<bool> {
        match self {
            Filter::I64(l) => l.eval(row),
            Filter::I32(l) => l.eval(row),
            Filter::F64(l) => l.eval(row),
            Filter::Text(l) => l.eval(row),
            Filter::Bool(l) => l.eval(row),
            Filter::Pattern { col, kind, ci, arg } => {
                let value = match col {
                    Nul::Plain => Some(row.name.as_str()),
                    Nul::Nullable => row.note.as_deref(),
                }?;
                Some(pattern_eval(*kind, *ci, arg, value))
            }
            Filter::And(a, b) => and3(a.eval(row), b.eval(row)),
            Filter::Or(a, b) => or3(a.eval(row), b.eval(row)),
            Filter::Not(a) => a.eval(row).map(|x| !x),
            // Not `try_fold`: an unknown must not stop the scan (a later
            // false still makes the AND false).
            Filter::All(v) => v
                .iter()
                .map(|f| f.eval(row))
                .reduce(and3)
                .unwrap_or(Some(true)),
            Filter::Any(v) => v
                .iter()
                .map(|f| f.eval(row))
                .reduce(or3)
                .unwrap_or(Some(false)),
        }
    }
}

// ---------------------------------------------------------------------------
// Queries: filter, exclude, order, limit, offset.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nulls {
    Default,
    First,
    Last,
}

#[derive(Clone, Debug)]
enum Key {
    I64(Ex<i64>),
    I32(Ex<i32>),
    F64(Ex<f64>),
    Text(Ex<String>),
    Bool(Ex<bool>),
}

#[derive(Clone)]
struct OrderSpec {
    key: Key,
    desc: bool,
    nulls: Nulls,
}

fn order_of<B: Base>(ex: &Ex<B>, desc: bool, nulls: Nulls) -> Order<Item> {
    let o = on_recv!(ex.build(), |c| if desc { c.desc() } else { c.asc() });
    match nulls {
        Nulls::Default => o,
        Nulls::First => o.nulls_first(),
        Nulls::Last => o.nulls_last(),
    }
}

/// Two rows' keys in ORDER BY order: NULLs as larger than every value
/// unless told otherwise.
fn key_cmp<B: Base>(ex: &Ex<B>, desc: bool, nulls: Nulls, a: &Item, b: &Item) -> Ordering {
    let nulls_first = match nulls {
        Nulls::Default => desc,
        Nulls::First => true,
        Nulls::Last => false,
    };
    match (ex.eval(a), ex.eval(b)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) if nulls_first => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) if nulls_first => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) if desc => B::order(&x, &y).reverse(),
        (Some(x), Some(y)) => B::order(&x, &y),
    }
}

impl OrderSpec {
    fn build(&self) -> Order<Item> {
        let (d, n) = (self.desc, self.nulls);
        match &self.key {
            Key::I64(e) => order_of(e, d, n),
            Key::I32(e) => order_of(e, d, n),
            Key::F64(e) => order_of(e, d, n),
            Key::Text(e) => order_of(e, d, n),
            Key::Bool(e) => order_of(e, d, n),
        }
    }

    fn cmp(&self, a: &Item, b: &Item) -> Ordering {
        let (d, n) = (self.desc, self.nulls);
        match &self.key {
            Key::I64(e) => key_cmp(e, d, n, a, b),
            Key::I32(e) => key_cmp(e, d, n, a, b),
            Key::F64(e) => key_cmp(e, d, n, a, b),
            Key::Text(e) => key_cmp(e, d, n, a, b),
            Key::Bool(e) => key_cmp(e, d, n, a, b),
        }
    }
}

#[derive(Clone)]
struct QuerySpec {
    filter: Filter,
    exclude: Option<Filter>,
    order: Option<OrderSpec>,
    limit: Option<u64>,
    offset: Option<u64>,
    /// `.distinct()` (a no-op on rows with distinct keys, but `count()`
    /// and the SELECT change).
    distinct: bool,
}

impl QuerySpec {
    fn sliced(&self) -> bool {
        self.limit.is_some() || self.offset.is_some()
    }

    /// Whether the result order is defined (else rows compare as a set).
    fn ordered(&self) -> bool {
        self.order.is_some() || self.sliced()
    }

    fn queryset(&self) -> QuerySet<Item> {
        let mut qs = Item::objects().filter(self.filter.build());
        if let Some(e) = &self.exclude {
            qs = qs.exclude(e.build());
        }
        match &self.order {
            Some(o) => qs = qs.order_by((o.build(), Item::ID.asc())),
            None if self.sliced() => qs = qs.order_by(Item::ID),
            None => {}
        }
        if let Some(n) = self.limit {
            qs = qs.limit(n);
        }
        if let Some(n) = self.offset {
            qs = qs.offset(n);
        }
        if self.distinct {
            qs = qs.distinct();
        }
        qs
    }

    fn selects(&self, row: &Item) -> bool {
        self.filter.eval(row) == Some(true)
            && self
                .exclude
                .as_ref()
                .is_none_or(|e| e.eval(row) == Some(false))
    }

    /// The rows the query must return, evaluated in Rust.
    fn expected(&self, rows: &[Item]) -> Vec<Item> {
        let mut out: Vec<Item> = rows.iter().filter(|r| self.selects(r)).cloned().collect();
        out.sort_by(|a, b| {
            self.order
                .as_ref()
                .map_or(Ordering::Equal, |o| o.cmp(a, b))
                .then(a.id.cmp(&b.id))
        });
        let offset = usize::try_from(self.offset.unwrap_or(0)).unwrap();
        let limit = self
            .limit
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap());
        out.into_iter().skip(offset).take(limit).collect()
    }
}

// ---------------------------------------------------------------------------
// Printing (Rust source, so a shrunk case reads like the code that fails).

fn col_name<B: Base>(n: Nul) -> String {
    let c = match n {
        Nul::Plain => B::COL.name(),
        Nul::Nullable => B::COL_OPT.name(),
    };
    format!("Item::{}", c.to_uppercase())
}

impl<B: Base> Display for Ex<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ex::Col(n) => f.write_str(&col_name::<B>(*n)),
            Ex::Arith(l, op, r) => {
                let op = match op {
                    AOp::Add => "+",
                    AOp::Sub => "-",
                    AOp::Mul => "*",
                };
                write!(f, "({l} {op} {r})")
            }
        }
    }
}

impl<B: Base> Display for Arg<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Val(v) => f.write_str(&v.lit()),
            Arg::Null => f.write_str("None"),
            Arg::Ex(e) => write!(f, "{e}"),
        }
    }
}

impl<B: Base> Display for Look<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Look::Cmp(l, op, r) => write!(f, "{l}.{}({r})", op.method()),
            Look::Between(l, lo, hi) => write!(f, "{l}.between({lo}, {hi})"),
            Look::In(l, values, pad) => {
                let values: Vec<String> = values
                    .iter()
                    .map(|v| match (v, l.root()) {
                        (None, _) => "None".to_owned(),
                        (Some(v), Nul::Plain) => v.lit(),
                        (Some(v), Nul::Nullable) => format!("Some({})", v.lit()),
                    })
                    .collect();
                write!(f, "{l}.in_([{}", values.join(", "))?;
                match pad {
                    Some(n) if !values.is_empty() => write!(f, " /* + fillers, {n} in all */])"),
                    _ => f.write_str("])"),
                }
            }
            Look::IsNull(l, true) => write!(f, "{l}.is_null()"),
            Look::IsNull(l, false) => write!(f, "{l}.is_not_null()"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, name: &str, v: &[Filter]) -> fmt::Result {
    write!(f, "Condition::{name}([")?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    f.write_str("])")
}

impl Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::I64(l) => write!(f, "{l}"),
            Filter::I32(l) => write!(f, "{l}"),
            Filter::F64(l) => write!(f, "{l}"),
            Filter::Text(l) => write!(f, "{l}"),
            Filter::Bool(l) => write!(f, "{l}"),
            Filter::Pattern { col, kind, ci, arg } => {
                let method = match (kind, ci) {
                    (PKind::Like, false) => "like",
                    (PKind::Like, true) => "ilike",
                    (PKind::Contains, false) => "contains",
                    (PKind::Contains, true) => "icontains",
                    (PKind::StartsWith, false) => "startswith",
                    (PKind::StartsWith, true) => "istartswith",
                    (PKind::EndsWith, false) => "endswith",
                    (PKind::EndsWith, true) => "iendswith",
                };
                write!(f, "{}.{method}({arg:?})", col_name::<String>(*col))
            }
            Filter::And(a, b) => write!(f, "({a} & {b})"),
            Filter::Or(a, b) => write!(f, "({a} | {b})"),
            Filter::Not(a) => write!(f, "!{a}"),
            Filter::All(v) => write_list(f, "all", v),
            Filter::Any(v) => write_list(f, "any", v),
        }
    }
}

impl Display for OrderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Key::I64(e) => write!(f, "{e}")?,
            Key::I32(e) => write!(f, "{e}")?,
            Key::F64(e) => write!(f, "{e}")?,
            Key::Text(e) => write!(f, "{e}")?,
            Key::Bool(e) => write!(f, "{e}")?,
        }
        f.write_str(if self.desc { ".desc()" } else { ".asc()" })?;
        match self.nulls {
            Nulls::Default => Ok(()),
            Nulls::First => f.write_str(".nulls_first()"),
            Nulls::Last => f.write_str(".nulls_last()"),
        }
    }
}

impl Display for QuerySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Item::objects().filter({})", self.filter)?;
        if let Some(e) = &self.exclude {
            write!(f, ".exclude({e})")?;
        }
        match &self.order {
            Some(o) => write!(f, ".order_by(({o}, Item::ID.asc()))")?,
            None if self.sliced() => f.write_str(".order_by(Item::ID)")?,
            None => {}
        }
        if let Some(n) = self.limit {
            write!(f, ".limit({n})")?;
        }
        if let Some(n) = self.offset {
            write!(f, ".offset({n})")?;
        }
        if self.distinct {
            f.write_str(".distinct()")?;
        }
        Ok(())
    }
}

macro_rules! debug_as_display {
    ($($t:ty),*) => {$(
        impl Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                Display::fmt(self, f)
            }
        }
    )*};
}

debug_as_display!(Filter, OrderSpec, QuerySpec);

macro_rules! generic_debug_as_display {
    ($($t:ident),*) => {$(
        impl<B: Base> Debug for $t<B> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                Display::fmt(self, f)
            }
        }
    )*};
}

generic_debug_as_display!(Ex, Arg, Look);

#[derive(Clone)]
struct Case {
    rows: Vec<Item>,
    queries: Vec<QuerySpec>,
}

impl Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "\nrows:")?;
        for r in &self.rows {
            writeln!(f, "  {r:?}")?;
        }
        writeln!(f, "queries:")?;
        for q in &self.queries {
            writeln!(f, "  {q}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Strategies.

/// Pieces of strings: quotes and look-alikes, comment and statement
/// separators, LIKE / GLOB metacharacters, placeholders, non-ASCII.
const TOKENS: &[&str] = &[
    "'",
    "''",
    "\"",
    "\\",
    "\\\\",
    ";",
    "--",
    "/*",
    "*/",
    "%",
    "_",
    "[",
    "]",
    "[a-z]",
    "*",
    "?",
    "^",
    "!",
    "$1",
    "?1",
    ":x",
    "a",
    "A",
    "b",
    "B",
    "ab",
    "aB",
    "z",
    " ",
    "\t",
    "\n",
    "\r",
    "\u{7f}",
    "’",
    "‘",
    "＂",
    "ʼ",
    "é",
    "É",
    "e\u{301}",
    "ß",
    "ı",
    "Ω",
    "ω",
    "😀",
    "👩‍👩‍👧",
    "中文",
    "\u{2028}",
    "\u{feff}",
];

/// Whole strings: rows and literals draw from these often, so equality and
/// IN lookups hit.
const POOL: &[&str] = &[
    "",
    "'",
    "\"",
    "\\",
    "%",
    "_",
    "O'Brien",
    "\"quoted\"",
    "back\\slash",
    "C:\\path\\",
    "50% off",
    "a_b",
    "a%b",
    "[x]*?",
    "\\%\\_",
    "abc",
    "ABC",
    "aBc",
    "'; DROP TABLE prop_canary; --",
    "' OR '1'='1",
    "\"; DELETE FROM prop_canary; --",
    "') OR 1=1 --",
    "/* comment */ 1",
    "it’s",
    "‘single’",
    "＂wide＂",
    "ʼmodʼ",
    "café",
    "CAFÉ",
    "naïve 😀",
    "Ωmega",
];

/// A character for row strings: anything but NUL (PostgreSQL refuses it)
/// and characters whose lowercase is ASCII (see the module docs).
fn row_char() -> impl Strategy<Value = char> {
    any::<char>().prop_filter("NUL or lowercases to ASCII", |&c| {
        c != '\0' && c != ROW_REF && (c.is_ascii() || c.to_lowercase().all(|l| !l.is_ascii()))
    })
}

fn token(ascii: bool) -> BoxedStrategy<String> {
    let fixed: Vec<&'static str> = TOKENS
        .iter()
        .copied()
        .filter(|t| !ascii || t.is_ascii())
        .collect();
    let fixed = prop::sample::select(fixed).prop_map(str::to_owned);
    if ascii {
        prop_oneof![4 => fixed, 1 => proptest::char::range(' ', '~').prop_map(String::from)].boxed()
    } else {
        prop_oneof![4 => fixed, 1 => row_char().prop_map(String::from)].boxed()
    }
}

/// A few of the [`POOL`] strings, drawn more often so equality hits.
const HOT: &[&str] = &[
    "",
    "O'Brien",
    "'; DROP TABLE prop_canary; --",
    "back\\slash",
    "C:\\path\\",
    "50% off",
    "a_b",
    "aBc",
    "café",
    "it’s",
];

fn pool(ascii: bool) -> BoxedStrategy<String> {
    let pick = |strings: &[&'static str]| {
        let strings: Vec<&'static str> = strings
            .iter()
            .copied()
            .filter(|t| !ascii || t.is_ascii())
            .collect();
        prop::sample::select(strings).prop_map(str::to_owned)
    };
    prop_oneof![1 => pick(HOT), 1 => pick(POOL)].boxed()
}

/// Row strings and literal values.
fn text(ascii: bool) -> BoxedStrategy<String> {
    prop_oneof![
        1 => pool(ascii),
        1 => vec(token(ascii), 0..5).prop_map(|v| v.concat()),
    ]
    .boxed()
}

/// `contains` / `startswith` / `endswith` arguments: short, so they hit.
fn needle(ascii: bool) -> BoxedStrategy<String> {
    prop_oneof![
        1 => pool(ascii),
        2 => row_ref(),
        3 => vec(token(ascii), 0..3).prop_map(|v| v.concat()),
    ]
    .boxed()
}

/// `like` / `ilike` patterns: wildcards, escapes (including a trailing lone
/// backslash) and literal pieces.
fn like_pattern(ascii: bool) -> BoxedStrategy<String> {
    let wild = prop::sample::select(vec![
        "%", "%", "_", "\\%", "\\_", "\\\\", "\\", "\\a", "\\'", "%a%", "_%",
    ])
    .prop_map(str::to_owned);
    let piece = prop_oneof![2 => wild, 2 => token(ascii), 1 => row_ref()];
    let whole = prop::sample::select(
        vec![
            "%\\",
            "%\\\\",
            "%\\\\\\",
            "C:\\\\path\\",
            "c:\\\\PATH\\\\",
            "C:\\path\\",
            "\\",
            "%\\%",
            "%\\_%",
            "%\\\\%",
            "_",
            "%_",
            "_%_",
            "a\\_b",
            "a_b",
            "50\\% off",
            "%'%",
            "%\"%",
            "%’%",
            "%😀",
        ]
        .into_iter()
        .filter(|p| !ascii || p.is_ascii())
        .collect::<Vec<_>>(),
    )
    .prop_map(str::to_owned);
    prop_oneof![
        1 => whole,
        1 => pool(ascii),
        1 => row_ref(),
        4 => vec(piece, 0..5).prop_map(|v| v.concat()),
    ]
    .boxed()
}

/// Brackets a part of a generated string to be replaced by (part of) a
/// row's value once the rows are known, so that equality and pattern
/// lookups hit: the marker, the row number, `:`, the mode (see
/// [`resolve`]), the marker.
const ROW_REF: char = '\u{10FFFD}';

fn row_ref() -> BoxedStrategy<String> {
    (0..30_usize, prop_oneof![3 => 0..2_u8, 2 => 0..12_u8])
        .prop_map(|(k, mode)| format!("{ROW_REF}{k}:{mode}{ROW_REF}"))
        .boxed()
}

/// Replaces a [`row_ref`] marker by part of that row's `name` or `note`:
/// mode bit 0 picks the column, bits 1–2 the whole value, a prefix, a
/// suffix or a middle part, bit 3 upper-cases ASCII letters. `ascii` (for
/// case-insensitive lookups) keeps only the ASCII characters.
fn resolve(s: &mut String, rows: &[Item], ascii: bool) {
    let w = ROW_REF.len_utf8();
    while let Some(start) = s.find(ROW_REF) {
        let len = s[start + w..].find(ROW_REF).unwrap() + 2 * w;
        let part = row_part(&s[start + w..start + len - w], rows, ascii);
        s.replace_range(start..start + len, &part);
    }
}

fn row_part(spec: &str, rows: &[Item], ascii: bool) -> String {
    let (k, mode) = spec.split_once(':').unwrap();
    let (k, mode): (usize, u8) = (k.parse().unwrap(), mode.parse().unwrap());
    let Some(row) = rows.get(k % rows.len().max(1)) else {
        return String::new();
    };
    let value = match (mode & 1, &row.note) {
        (1, Some(note)) => note,
        _ => &row.name,
    };
    let chars: Vec<char> = value.chars().collect();
    let n = chars.len();
    let part = match (mode >> 1) & 3 {
        0 => &chars[..],
        1 => &chars[..n.div_ceil(2)],
        2 => &chars[n / 2..],
        _ => &chars[n / 4..n - n / 4],
    };
    let mut out: String = part.iter().filter(|c| !ascii || c.is_ascii()).collect();
    if mode & 8 != 0 {
        out.make_ascii_uppercase();
    }
    out
}

impl Filter {
    /// Resolves every [`row_ref`] marker in the tree.
    fn resolve(&mut self, rows: &[Item]) {
        let arg = |a: &mut Arg<String>| {
            if let Arg::Val(s) = a {
                resolve(s, rows, false);
            }
        };
        match self {
            Filter::Text(Look::Cmp(_, _, a)) => arg(a),
            Filter::Text(Look::Between(_, lo, hi)) => {
                arg(lo);
                arg(hi);
            }
            Filter::Text(Look::In(_, values, _)) => {
                values
                    .iter_mut()
                    .flatten()
                    .for_each(|v| resolve(v, rows, false));
            }
            Filter::Pattern { ci, arg, .. } => resolve(arg, rows, *ci),
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.resolve(rows);
                b.resolve(rows);
            }
            Filter::Not(a) => a.resolve(rows),
            Filter::All(v) | Filter::Any(v) => v.iter_mut().for_each(|f| f.resolve(rows)),
            _ => {}
        }
    }
}

fn nul() -> impl Strategy<Value = Nul> + Clone {
    prop_oneof![Just(Nul::Plain), Just(Nul::Nullable)]
}

fn ex<B: Base + 'static>() -> BoxedStrategy<Ex<B>> {
    let leaf = nul().prop_map(Ex::Col);
    if !B::NUMERIC {
        return leaf.boxed();
    }
    let arith = leaf.clone().prop_recursive(2, 4, 1, |inner| {
        let op = prop_oneof![Just(AOp::Add), Just(AOp::Sub), Just(AOp::Mul)];
        let rhs = prop_oneof![
            6 => B::operands().prop_map(Arg::Val),
            1 => Just(Arg::Null),
            2 => inner.clone().prop_map(Arg::Ex),
        ];
        (inner, op, rhs).prop_map(|(l, op, r)| Ex::Arith(Box::new(l), op, Box::new(r)))
    });
    prop_oneof![3 => leaf, 1 => arith.prop_map(Ex::legalize)].boxed()
}

fn arg<B: Base + 'static>() -> BoxedStrategy<Arg<B>> {
    prop_oneof![
        6 => B::values().prop_map(Arg::Val),
        1 => Just(Arg::Null),
        2 => ex::<B>().prop_map(Arg::Ex),
    ]
    .boxed()
}

fn look<B: Base + 'static>() -> BoxedStrategy<Look<B>> {
    let op = prop_oneof![
        Just(Op::Eq),
        Just(Op::Ne),
        Just(Op::Gt),
        Just(Op::Ge),
        Just(Op::Lt),
        Just(Op::Le),
    ];
    let pad =
        proptest::option::weighted(0.12, prop::sample::select(vec![1_000_usize, 1_001, 2_500]));
    prop_oneof![
        5 => (ex::<B>(), op, arg::<B>()).prop_map(|(l, op, r)| Look::Cmp(l, op, r)),
        1 => (ex::<B>(), arg::<B>(), arg::<B>()).prop_map(|(l, lo, hi)| Look::Between(l, lo, hi)),
        2 => (ex::<B>(), vec(proptest::option::weighted(0.9, B::values()), 0..5), pad)
            .prop_map(|(l, values, pad)| Look::In(l, values, pad)),
        1 => (ex::<B>(), any::<bool>()).prop_map(|(l, is)| Look::IsNull(l.nullable_root(), is)),
    ]
    .prop_map(Look::legalize)
    .boxed()
}

fn pattern() -> BoxedStrategy<Filter> {
    let kind = prop_oneof![
        Just(PKind::Contains),
        Just(PKind::StartsWith),
        Just(PKind::EndsWith),
    ];
    let make = |ci: bool| {
        move |(col, kind, arg): (Nul, PKind, String)| Filter::Pattern { col, kind, ci, arg }
    };
    prop_oneof![
        (nul(), Just(PKind::Like), like_pattern(false)).prop_map(make(false)),
        (nul(), Just(PKind::Like), like_pattern(true)).prop_map(make(true)),
        (nul(), kind.clone(), needle(false)).prop_map(make(false)),
        (nul(), kind, needle(true)).prop_map(make(true)),
    ]
    .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    let leaf = prop_oneof![
        2 => look::<i64>().prop_map(Filter::I64),
        2 => look::<i32>().prop_map(Filter::I32),
        2 => look::<f64>().prop_map(Filter::F64),
        2 => look::<String>().prop_map(Filter::Text),
        1 => look::<bool>().prop_map(Filter::Bool),
        4 => pattern(),
        1 => Just(Filter::All(Vec::new())),
        1 => Just(Filter::Any(Vec::new())),
    ];
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
            vec(inner.clone(), 0..4).prop_map(Filter::All),
            vec(inner, 0..4).prop_map(Filter::Any),
        ]
    })
    .boxed()
}

fn order() -> BoxedStrategy<OrderSpec> {
    let key = prop_oneof![
        ex::<i64>().prop_map(Key::I64),
        ex::<i32>().prop_map(Key::I32),
        ex::<f64>().prop_map(Key::F64),
        ex::<String>().prop_map(Key::Text),
        ex::<bool>().prop_map(Key::Bool),
    ];
    let nulls = prop_oneof![
        2 => Just(Nulls::Default),
        1 => Just(Nulls::First),
        1 => Just(Nulls::Last),
    ];
    (key, any::<bool>(), nulls)
        .prop_map(|(key, desc, nulls)| OrderSpec { key, desc, nulls })
        .boxed()
}

fn query() -> BoxedStrategy<QuerySpec> {
    (
        filter(),
        proptest::option::weighted(0.2, filter()),
        proptest::option::weighted(0.7, order()),
        proptest::option::weighted(0.4, 0_u64..8),
        proptest::option::weighted(0.3, 0_u64..8),
        prop::bool::weighted(0.15),
    )
        .prop_map(
            |(filter, exclude, order, limit, offset, distinct)| QuerySpec {
                filter,
                exclude,
                order,
                limit,
                offset,
                distinct,
            },
        )
        .boxed()
}

fn row() -> impl Strategy<Value = Item> {
    use proptest::option::weighted as some;
    (
        some(0.75, -9_i64..=9),
        -9_i32..=9,
        some(0.75, -9_i32..=9),
        quarter(-8..=8),
        some(0.75, quarter(-8..=8)),
        text(false),
        some(0.75, text(false)),
        any::<bool>(),
        some(0.75, any::<bool>()),
    )
        .prop_map(
            |(score, qty, cap, price, weight, name, note, flag, seen)| Item {
                id: 0,
                score,
                qty,
                cap,
                price,
                weight,
                name,
                note,
                flag,
                seen,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (vec(row(), 0..=30), vec(query(), 1..=3)).prop_map(|(mut rows, mut queries)| {
        // Distinct keys in an order unlike insertion order (7 is coprime
        // with 31), so ORDER BY id is really checked.
        for (i, r) in rows.iter_mut().enumerate() {
            r.id = i64::try_from(i * 7 % 31).unwrap() * 2 - 20;
        }
        for q in &mut queries {
            q.filter.resolve(&rows);
            if let Some(e) = &mut q.exclude {
                e.resolve(&rows);
            }
        }
        Case { rows, queries }
    })
}

// ---------------------------------------------------------------------------
// Running.

fn fail(what: impl Display, e: impl Display) -> TestCaseError {
    TestCaseError::fail(format!("{what}: {e}"))
}

/// True when PostgreSQL's default collation sorts text by code point, as
/// Rust (and SQLite's BINARY collation) do.
async fn pg_sorts_by_code_point(db: &Database) -> bool {
    let mut samples: Vec<String> = POOL.iter().chain(TOKENS).map(|s| (*s).to_owned()).collect();
    let mut sql = String::from("SELECT s FROM (VALUES ");
    for i in 1..=samples.len() {
        if i > 1 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(CAST(${i} AS TEXT))"));
    }
    sql.push_str(") AS v(s) ORDER BY s");
    let got: Vec<String> = db.fetch_all(&sql, samples.clone()).await.unwrap();
    samples.sort();
    got == samples
}

async fn setup(t: &TestDb) {
    let (i64t, f64t, boolt, textt) = match t.kind {
        Kind::Sqlite => ("INTEGER", "REAL", "INTEGER", "TEXT"),
        Kind::Postgres => {
            let text = if pg_sorts_by_code_point(&t.db).await {
                "TEXT"
            } else {
                eprintln!(
                    "note: PostgreSQL's default collation does not sort by code point; \
                     prop_items text columns use COLLATE \"C\""
                );
                "TEXT COLLATE \"C\""
            };
            ("BIGINT", "DOUBLE PRECISION", "BOOLEAN", text)
        }
    };
    let items = format!(
        "CREATE TABLE prop_items (id {i64t} PRIMARY KEY, score {i64t}, qty INTEGER NOT NULL, \
         cap INTEGER, price {f64t} NOT NULL, weight {f64t}, name {textt} NOT NULL, note {textt}, \
         flag {boolt} NOT NULL, seen {boolt})"
    );
    t.db.execute(&items, ()).await.unwrap();
    t.db.execute(
        &format!("CREATE TABLE prop_canary (id {i64t} PRIMARY KEY, secret TEXT NOT NULL)"),
        (),
    )
    .await
    .unwrap();
    t.db.execute(
        "INSERT INTO prop_canary (id, secret) VALUES ($1, $2)",
        CANARY,
    )
    .await
    .unwrap();
}

async fn load(db: &Database, rows: &[Item]) -> Result<(), TestCaseError> {
    db.execute("DELETE FROM prop_items", ())
        .await
        .map_err(|e| fail("DELETE", e))?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = format!(
        "INSERT INTO prop_items ({}) VALUES ",
        Item::COLUMNS.join(", ")
    );
    let mut binds: Vec<Value> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for j in 0..Item::COLUMNS.len() {
            if j > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", binds.len() + j + 1));
        }
        sql.push(')');
        binds.extend(r.to_values().map_err(|e| fail("to_values", e))?);
    }
    db.execute(&sql, binds)
        .await
        .map_err(|e| fail("INSERT", e))?;
    Ok(())
}

/// Values only ever travel as binds: the SQL text holds no quote but the
/// fixed `ESCAPE '\'` (`ESCAPE E'\\'` on PostgreSQL), and nothing from
/// the generated strings.
fn check_sql_text(sql: &str) -> Result<(), String> {
    let stripped = sql.replace("ESCAPE E'\\\\'", "").replace("ESCAPE '\\'", "");
    if stripped.contains('\'') || sql.contains("canary") || sql.contains(';') || sql.contains("--")
    {
        return Err("a value reached the SQL text".to_owned());
    }
    Ok(())
}

fn ids(rows: &[Item]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

async fn check_query(
    db: &Database,
    dialect: Dialect,
    rows: &[Item],
    q: &QuerySpec,
) -> Result<(), String> {
    let qs = q.queryset();
    let (sql, binds) = qs.to_sql(dialect);
    let context = || format!("query: {q}\nsql ({binds} binds): {}", short(&sql));
    check_sql_text(&sql).map_err(|e| format!("{e}\n{}", context()))?;
    let mut expected = q.expected(rows);
    let mut got = qs
        .all(db)
        .await
        .map_err(|e| format!("all() failed: {e}\n{}", context()))?;
    if !q.ordered() {
        expected.sort_by_key(|r| r.id);
        got.sort_by_key(|r| r.id);
    }
    if got != expected {
        let verdicts: Vec<String> = rows
            .iter()
            .map(|r| {
                let ex = q.exclude.as_ref().map(|e| e.eval(r));
                format!("{}: filter {:?}, exclude {ex:?}", r.id, q.filter.eval(r))
            })
            .collect();
        return Err(format!(
            "rows differ\n{}\nexpected ids: {:?}\ngot ids:      {:?}\nRust verdicts: {}",
            context(),
            ids(&expected),
            ids(&got),
            verdicts.join("; ")
        ));
    }
    let count = qs
        .count(db)
        .await
        .map_err(|e| format!("count() failed: {e}\n{}", context()))?;
    if usize::try_from(count).ok() != Some(expected.len()) {
        return Err(format!(
            "count() = {count}, expected {}\n{}",
            expected.len(),
            context()
        ));
    }
    let exists = qs
        .exists(db)
        .await
        .map_err(|e| format!("exists() failed: {e}\n{}", context()))?;
    let nonempty = !expected.is_empty();
    if exists != nonempty {
        return Err(format!(
            "exists() = {exists}, but all() returned {} rows\n{}",
            expected.len(),
            context()
        ));
    }
    Ok(())
}

/// A long SQL string cut short (IN lists of 2,500 placeholders).
fn short(sql: &str) -> String {
    if sql.len() <= 2_000 {
        return sql.to_owned();
    }
    let cut = (0..=2_000)
        .rev()
        .find(|&i| sql.is_char_boundary(i))
        .unwrap_or(0);
    format!("{}… ({} bytes)", &sql[..cut], sql.len())
}

async fn check_case(t: &TestDb, case: &Case) -> Result<(), TestCaseError> {
    let dialect = t.db.dialect();
    load(&t.db, &case.rows).await?;
    let mut outcome = Ok(());
    for q in &case.queries {
        if let Err(e) = check_query(&t.db, dialect, &case.rows, q).await {
            outcome = Err(TestCaseError::fail(format!("{:?}: {e}", t.kind)));
            break;
        }
    }
    // The canary and the row count, whatever the queries did.
    let canary: Vec<(i64, String)> =
        t.db.fetch_all("SELECT id, secret FROM prop_canary ORDER BY id", ())
            .await
            .map_err(|e| fail("canary", e))?;
    if canary != vec![(CANARY.0, CANARY.1.to_owned())] {
        return Err(fail("canary changed", format!("{canary:?}")));
    }
    let n: i64 =
        t.db.fetch_one("SELECT COUNT(*) FROM prop_items", ())
            .await
            .map_err(|e| fail("row count", e))?;
    if usize::try_from(n).ok() != Some(case.rows.len()) {
        return Err(fail(
            "prop_items changed",
            format!("{n} rows, not {}", case.rows.len()),
        ));
    }
    outcome
}

fn config() -> Config {
    let base = if std::env::var_os("PROPTEST_CASES").is_some() {
        Config::default()
    } else {
        Config::with_cases(CASES)
    };
    Config {
        failure_persistence: None,
        max_shrink_iters: 4_096,
        ..base
    }
}

fn run(kind: Kind) {
    let rt: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = PoolConfig::default().max_size(2);
    let t = match kind {
        Kind::Sqlite => rt.block_on(TestDb::sqlite_file("filter_prop", pool)),
        Kind::Postgres => match rt.block_on(TestDb::postgres("filter_prop", pool)) {
            Some(t) => t,
            None => return,
        },
    };
    rt.block_on(setup(&t));
    let mut runner = TestRunner::new(config());
    let result = runner.run(&case(), |case| rt.block_on(check_case(&t, &case)));
    rt.block_on(t.cleanup());
    if let Err(e) = result {
        panic!("{kind:?}: {e}");
    }
}

#[test]
fn filters_agree_with_rust_on_sqlite() {
    run(Kind::Sqlite);
}

#[test]
fn filters_agree_with_rust_on_postgres() {
    run(Kind::Postgres);
}

/// `distinct()` with an ORDER BY expression that holds a value runs on
/// SQLite but PostgreSQL refuses it ("for SELECT DISTINCT, ORDER BY
/// expressions must appear in select list"). Sylvan does copy the ORDER BY
/// expressions into the select list, but renders the value twice as two
/// binds: `SELECT DISTINCT …, ("qty" * $1) FROM … ORDER BY ("qty" * $2)`,
/// and `$1` and `$2` are different expressions to PostgreSQL. (Expressions
/// over columns only, such as `Item::QTY + Item::CAP`, work.)
#[test]
fn distinct_with_expression_order() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let Some(t) = TestDb::postgres("distinct_expr", PoolConfig::default().max_size(1)).await
        else {
            return;
        };
        setup(&t).await;
        let result = Item::objects()
            .distinct()
            .order_by((Item::QTY * 2).asc())
            .all(&t.db)
            .await;
        t.cleanup().await;
        assert_eq!(result.map_err(|e| e.to_string()), Ok(Vec::new()));
    });
}

/// The Rust LIKE evaluator itself, on the documented semantics.
#[test]
fn like_evaluator() {
    let m = |p: &str, s: &str| like_match(&like_tokens(p), s, false);
    assert!(m("a%", "abc"));
    assert!(m("%", ""));
    assert!(!m("_", ""));
    assert!(m("_", "😀"));
    assert!(m("a\\%", "a%"));
    assert!(!m("a\\%", "ab"));
    assert!(m("a\\", "a\\"));
    assert!(m("\\\\", "\\"));
    assert!(m("%\\_%", "x_y"));
    assert!(!m("%\\_%", "xy"));
    assert!(like_match(&like_tokens("AB%"), "abc", true));
    assert!(!like_match(&like_tokens("É"), "é", true));
    assert!(pattern_eval(PKind::Contains, false, "%", "50% off"));
    assert!(!pattern_eval(PKind::Contains, false, "%", "50 off"));
    assert!(pattern_eval(PKind::EndsWith, true, "C", "abc"));
}
