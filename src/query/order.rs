//! ORDER BY terms.

use super::column::Column;
use super::field::FieldType;
use super::operand::Operand;
use std::marker::PhantomData;

/// Where NULLs sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nulls {
    First,
    Last,
    /// The operand cannot be NULL (a NOT NULL column of the queried
    /// model): no `NULLS` clause, which SQLite would otherwise pay for with
    /// a costlier sort (about 15% on a 1,000-row prefetch) for nothing.
    Never,
}

/// One ORDER BY term over model `M`: `User::NAME.asc()`,
/// `User::AGE.desc().nulls_last()`.
///
/// Unless told otherwise NULLs sort as if larger than every value — last
/// ascending, first descending — on both backends (PostgreSQL's default;
/// Sylvan spells it out for SQLite, whose default is the reverse). A
/// column that cannot hold NULL (not an `Option`) gets no `NULLS` clause:
/// the order is the same without it, and SQLite sorts faster.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::{Dialect, Model};
///
/// #[derive(Debug, Model)]
/// struct Item {
///     id: i64,
///     rank: Option<i32>,
/// }
///
/// let sql = |q: sylvan::QuerySet<Item>| q.to_sql(Dialect::Sqlite).0;
/// assert!(sql(Item::objects().order_by(Item::RANK.asc()))
///     .ends_with(r#"ORDER BY "item"."rank" ASC NULLS LAST"#));
/// assert!(sql(Item::objects().order_by(Item::RANK.desc()))
///     .ends_with(r#"ORDER BY "item"."rank" DESC NULLS FIRST"#));
/// // `id` cannot be NULL: no clause, the same order.
/// assert!(sql(Item::objects().order_by(Item::ID.desc()))
///     .ends_with(r#"ORDER BY "item"."id" DESC"#));
/// // Asked for, it is written.
/// assert!(sql(Item::objects().order_by(Item::ID.asc().nulls_first()))
///     .ends_with(r#"ORDER BY "item"."id" ASC NULLS FIRST"#));
/// ```
pub struct Order<M> {
    pub(crate) operand: Operand,
    pub(crate) descending: bool,
    pub(crate) nulls: Nulls,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Order<M> {
    pub(crate) fn new(operand: Operand, descending: bool) -> Self {
        Order::with_nulls(operand, descending, true)
    }

    /// An order over an operand that may hold NULL only when `nullable`.
    pub(crate) fn with_nulls(operand: Operand, descending: bool, nullable: bool) -> Self {
        if !nullable {
            return Order {
                operand,
                descending,
                nulls: Nulls::Never,
                _marker: PhantomData,
            };
        }
        Order {
            operand,
            descending,
            nulls: if descending {
                Nulls::First
            } else {
                Nulls::Last
            },
            _marker: PhantomData,
        }
    }

    /// NULLs before every value.
    pub fn nulls_first(mut self) -> Self {
        self.nulls = Nulls::First;
        self
    }

    /// NULLs after every value.
    pub fn nulls_last(mut self) -> Self {
        self.nulls = Nulls::Last;
        self
    }
}

impl<M> Clone for Order<M> {
    fn clone(&self) -> Self {
        Order {
            operand: self.operand.clone(),
            descending: self.descending,
            nulls: self.nulls,
            _marker: PhantomData,
        }
    }
}

impl<M> PartialEq for Order<M> {
    fn eq(&self, other: &Self) -> bool {
        self.operand == other.operand
            && self.descending == other.descending
            && self.nulls == other.nulls
    }
}

impl<M> std::fmt::Debug for Order<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Order")
            .field("operand", &self.operand)
            .field("descending", &self.descending)
            .field("nulls", &self.nulls)
            .finish()
    }
}

/// One or more ORDER BY terms: an [`Order`], a bare column (ascending), or a
/// tuple or `Vec` of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an ordering of this model",
    label = "expected `Model::COLUMN.asc()`, `.desc()`, a column of the same model, or a tuple of them",
    note = "to order by an aggregate, annotate with it first: `.annotate(agg.clone()).order_by(agg.desc())`, or select it: `.values((…, agg.clone())).order_by(agg.desc())`"
)]
pub trait IntoOrders<M> {
    #[doc(hidden)]
    fn into_orders(self) -> Vec<Order<M>>;
}

impl<M> IntoOrders<M> for Order<M> {
    fn into_orders(self) -> Vec<Order<M>> {
        vec![self]
    }
}

impl<M, T: FieldType> IntoOrders<M> for Column<M, T> {
    fn into_orders(self) -> Vec<Order<M>> {
        vec![Order::with_nulls(self.operand(), false, T::NULLABLE)]
    }
}

impl<M> IntoOrders<M> for Vec<Order<M>> {
    fn into_orders(self) -> Vec<Order<M>> {
        self
    }
}

macro_rules! tuple_orders {
    ($($name:ident)+) => {
        impl<M, $($name: IntoOrders<M>),+> IntoOrders<M> for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_orders(self) -> Vec<Order<M>> {
                let ($($name,)+) = self;
                let mut out = Vec::new();
                $(out.extend($name.into_orders());)+
                out
            }
        }
    };
}

tuple_orders!(A);
tuple_orders!(A B);
tuple_orders!(A B C);
tuple_orders!(A B C D);
tuple_orders!(A B C D E);
tuple_orders!(A B C D E F);
