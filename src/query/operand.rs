//! Operands of expressions: columns, bound values, and arithmetic over them
//! (Django's F expressions), typed by model and column type.

use super::column::Column;
use super::field::{FieldType, NonNull, Numeric};
use crate::value::Value;
use std::marker::PhantomData;

/// An untyped operand, as rendered.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub enum Operand {
    /// `"table"."column"`.
    Column {
        table: &'static str,
        name: &'static str,
    },
    /// A bind parameter.
    Value(Value),
    /// `(lhs op rhs)`.
    Arith(Box<Operand>, ArithOp, Box<Operand>),
    /// An aggregate call, over the queried rows or a relation's rows.
    Aggregate(Box<super::aggregate::AggregateCall>),
    /// `CASE WHEN … THEN … ELSE … END`.
    Case(Box<super::case::CaseOperand>),
    /// A value read from a JSON column by key path.
    JsonGet(Box<super::json::JsonGet>),
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl ArithOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            ArithOp::Add => " + ",
            ArithOp::Sub => " - ",
            ArithOp::Mul => " * ",
            ArithOp::Div => " / ",
        }
    }
}

/// A typed expression over the columns of model `M` with SQL type `T`:
/// what column arithmetic builds, e.g. `Book::PRICE * 2`.
///
/// It offers the same lookups as a [`Column`] (`gt`, `eq`, …).
pub struct Expr<M, T> {
    pub(crate) operand: Operand,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Expr<M, T> {
    pub(crate) fn new(operand: Operand) -> Self {
        Expr {
            operand,
            _marker: PhantomData,
        }
    }
}

impl<M, T> Clone for Expr<M, T> {
    fn clone(&self) -> Self {
        Expr::new(self.operand.clone())
    }
}

impl<M, T> std::fmt::Debug for Expr<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Expr").field(&self.operand).finish()
    }
}

/// Something that can stand where a column of type `T` of model `M` is
/// expected: a value of that type, a column of `M` with the same base type,
/// or an expression over `M`'s columns.
///
/// Every non-null column type ([`NonNull`]) is a value of its own columns
/// and of their `Option` (`None` is NULL); a `String` column also takes
/// `&str` and `&String`, a `Vec<u8>` column `&[u8]`. So a type of your own
/// with [`#[derive(FieldType)]`](derive@crate::FieldType) filters like a
/// built-in one: `Book::ID.eq(BookId(3))`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a value, column or expression for a `{T}` column of this model",
    label = "expected a `{T}` value, or a column or expression of the same model and type",
    note = "values must have the column's exact Rust type (e.g. `18` for an i32 column, `\"x\"` or a String for a String column, `BookId(3)` for a column of the newtype `BookId`); columns must belong to the same model",
    note = "a type of your own becomes a value of its columns with `#[derive(sylvan::FieldType)]` (an enum of unit variants, or a newtype such as `struct BookId(i64);`), or by implementing `sylvan::NonNull` next to `FieldType`"
)]
pub trait IntoOperand<M, T> {
    #[doc(hidden)]
    fn into_operand(self) -> Operand;
}

impl<M, T, U> IntoOperand<M, T> for Column<M, U>
where
    T: FieldType,
    U: FieldType<Base = T::Base>,
{
    fn into_operand(self) -> Operand {
        self.operand()
    }
}

impl<M, T, U> IntoOperand<M, T> for Expr<M, U>
where
    T: FieldType,
    U: FieldType<Base = T::Base>,
{
    fn into_operand(self) -> Operand {
        self.operand
    }
}

/// A value of a column's own type. Keyed on the column type (not on a
/// shared base) so an integer literal infers the column's exact type.
impl<M, T: NonNull> IntoOperand<M, T> for T {
    fn into_operand(self) -> Operand {
        Operand::Value(value_of(self))
    }
}

/// A value for a nullable column of its type.
impl<M, T: NonNull> IntoOperand<M, Option<T>> for T {
    fn into_operand(self) -> Operand {
        Operand::Value(value_of(self))
    }
}

/// `None` is SQL NULL: `eq(None)` is `IS NULL`, `ne(None)` is
/// `IS NOT NULL`, and `set(None)` stores NULL.
impl<M, T: NonNull> IntoOperand<M, Option<T>> for Option<T> {
    fn into_operand(self) -> Operand {
        Operand::Value(match self {
            Some(v) => value_of(v),
            None => Value::Null,
        })
    }
}

/// `impl IntoOperand<M, T> for V` for a borrowed value type `V` and the
/// column types `T` and `Option<T>` it binds to.
macro_rules! borrowed_operands {
    ($($v:ty => $t:ty),* $(,)?) => {$(
        impl<M> IntoOperand<M, $t> for $v {
            fn into_operand(self) -> Operand {
                Operand::Value(value_of(self))
            }
        }
        impl<M> IntoOperand<M, Option<$t>> for $v {
            fn into_operand(self) -> Operand {
                Operand::Value(value_of(self))
            }
        }
        /// `None` is SQL NULL.
        impl<M> IntoOperand<M, Option<$t>> for Option<$v> {
            fn into_operand(self) -> Operand {
                Operand::Value(match self {
                    Some(v) => value_of(v),
                    None => Value::Null,
                })
            }
        }
    )*};
}

/// The value of a column type: their conversions do not fail (a column
/// type's `to_value` must not, see [`FieldType`]), and a filter has nowhere
/// to report an error.
fn value_of<V: crate::value::ToValue>(v: V) -> Value {
    v.into_value().unwrap_or(Value::Null)
}

borrowed_operands!(
    &str => String,
    &String => String,
    &[u8] => Vec<u8>,
);

macro_rules! arithmetic {
    ($($trait:ident $method:ident $op:ident),*) => {$(
        impl<M, T: Numeric, R: IntoOperand<M, T>> std::ops::$trait<R> for Column<M, T> {
            type Output = Expr<M, T>;
            fn $method(self, rhs: R) -> Expr<M, T> {
                Expr::new(Operand::Arith(
                    Box::new(self.operand()),
                    ArithOp::$op,
                    Box::new(rhs.into_operand()),
                ))
            }
        }
        impl<M, T: Numeric, R: IntoOperand<M, T>> std::ops::$trait<R> for Expr<M, T> {
            type Output = Expr<M, T>;
            fn $method(self, rhs: R) -> Expr<M, T> {
                Expr::new(Operand::Arith(
                    Box::new(self.operand),
                    ArithOp::$op,
                    Box::new(rhs.into_operand()),
                ))
            }
        }
    )*};
}

arithmetic!(Add add Add, Sub sub Sub, Mul mul Mul, Div div Div);
