//! Operands of expressions: columns, bound values, and arithmetic over them
//! (Django's F expressions), typed by model and column type.

use super::column::Column;
use super::field::{FieldType, Numeric};
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used where a `{T}` column value of this model is expected",
    label = "expected a `{T}` value, or a column or expression of the same model and type",
    note = "values must have the column's exact Rust type (e.g. `18` for an i32 column, `\"x\"` or a String for a String column); columns must belong to the same model"
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

/// `impl IntoOperand<M, T> for V` for a value type `V` and the column types
/// `T` and `Option<T>` it binds to. Keyed on the column type (not on a
/// shared base) so an integer literal infers the column's exact type.
macro_rules! value_operands {
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
        /// `None` is SQL NULL: `eq(None)` is `IS NULL`, `ne(None)` is
        /// `IS NOT NULL`, and `set(None)` stores NULL.
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

fn value_of<V: crate::value::ToValue>(v: V) -> Value {
    // The value types listed here convert infallibly.
    v.into_value().unwrap_or(Value::Null)
}

value_operands!(
    bool => bool,
    i16 => i16,
    i32 => i32,
    i64 => i64,
    f32 => f32,
    f64 => f64,
    String => String,
    &str => String,
    &String => String,
    Vec<u8> => Vec<u8>,
    &[u8] => Vec<u8>,
);

#[cfg(feature = "chrono")]
value_operands!(
    chrono::NaiveDateTime => chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc> => chrono::DateTime<chrono::Utc>,
    chrono::NaiveDate => chrono::NaiveDate,
    chrono::NaiveTime => chrono::NaiveTime,
);

#[cfg(feature = "uuid")]
value_operands!(uuid::Uuid => uuid::Uuid);

#[cfg(feature = "json")]
value_operands!(serde_json::Value => serde_json::Value);

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
