//! Aggregate calls: over the queried model's rows (`Book::PRICE.sum()`
//! with `group_by`), or per row over the rows related to it through a
//! foreign key (`Book::AUTHOR.count()`: the books of each author).
//!
//! A relation aggregate carries its [`Join`]. The statement renderer
//! (`statement.rs`) joins the related table once, as `sylvan_agg`, and
//! groups by the queried table's key; when aggregates over two different
//! relations meet in one query, joining both would multiply each other's
//! rows, so each aggregate becomes a correlated subquery instead.

use super::annotate::{Grouped, Having};
use super::column::Column;
use super::condition::{CmpOp, Node};
use super::field::{FieldType, NonNull, Numeric, Ordered};
use super::operand::{IntoOperand, Operand};
use super::order::Order;
use super::render::SqlWriter;
use super::select::Aggregate;
use crate::model::Model;
use crate::relation::{ForeignKeyType, Relation};
use crate::value::SqlType;

/// The alias of a relation's table inside an aggregate.
pub(crate) const RELATED: &str = "sylvan_agg";

/// The rows an aggregate runs over: those of `table` whose `fk` column
/// equals `parent`'s `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub struct Join {
    pub(crate) table: &'static str,
    pub(crate) fk: &'static str,
    pub(crate) parent: &'static str,
    pub(crate) key: &'static str,
}

/// `FUNCTION(argument)`, cast so both backends decode the same type.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub struct AggregateCall {
    pub(crate) function: &'static str,
    pub(crate) argument: Operand,
    pub(crate) cast: Option<SqlType>,
    pub(crate) join: Option<Join>,
}

impl SqlWriter {
    pub(crate) fn push_aggregate(&mut self, call: &AggregateCall) {
        let correlated = match call.join {
            Some(join) if self.correlate_aggregates => Some(join),
            _ => None,
        };
        if correlated.is_some() {
            self.push_sql("(SELECT ");
        }
        if call.cast.is_some() {
            self.push_sql("CAST(");
        }
        self.push_sql(call.function);
        self.push_sql("(");
        self.push_operand(&call.argument);
        self.push_sql(")");
        if let Some(ty) = call.cast {
            self.push_sql(" AS ");
            let name = self.dialect().type_name(ty);
            self.push_sql(name);
            self.push_sql(")");
        }
        if let Some(join) = correlated {
            self.push_sql(" FROM ");
            self.push_identifier(join.table);
            self.push_sql(" AS ");
            self.push_identifier(RELATED);
            self.push_sql(" WHERE ");
            self.push_column(RELATED, join.fk);
            self.push_sql(" = ");
            self.push_column(join.parent, join.key);
            self.push_sql(")");
        }
    }
}

impl<M, T> Aggregate<M, T> {
    pub(crate) fn call(
        function: &'static str,
        argument: Operand,
        cast: Option<SqlType>,
        join: Option<Join>,
    ) -> Self {
        Aggregate::from_operand(Operand::Aggregate(Box::new(AggregateCall {
            function,
            argument,
            cast,
            join,
        })))
    }

    fn compare(&self, op: CmpOp, rhs: Operand) -> Having<M> {
        Having::new(Node::Cmp(self.operand().clone(), op, rhs))
    }

    /// `= rhs`, a condition for [`having`](crate::Annotated::having).
    pub fn eq(&self, rhs: impl IntoOperand<M, T>) -> Having<M> {
        self.compare(CmpOp::Eq, rhs.into_operand())
    }

    /// `<> rhs`
    pub fn ne(&self, rhs: impl IntoOperand<M, T>) -> Having<M> {
        self.compare(CmpOp::Ne, rhs.into_operand())
    }

    /// `> rhs`
    pub fn gt(&self, rhs: impl IntoOperand<M, T>) -> Having<M> {
        self.compare(CmpOp::Gt, rhs.into_operand())
    }

    /// `>= rhs`
    pub fn ge(&self, rhs: impl IntoOperand<M, T>) -> Having<M> {
        self.compare(CmpOp::Ge, rhs.into_operand())
    }

    /// `< rhs`
    pub fn lt(&self, rhs: impl IntoOperand<M, T>) -> Having<M> {
        self.compare(CmpOp::Lt, rhs.into_operand())
    }

    /// `<= rhs`
    pub fn le(&self, rhs: impl IntoOperand<M, T>) -> Having<M> {
        self.compare(CmpOp::Le, rhs.into_operand())
    }

    /// `IS NULL`: e.g. a `sum` over no rows.
    pub fn is_null(&self) -> Having<M> {
        Having::new(Node::IsNull(self.operand().clone(), true))
    }

    /// Ascending order (NULLs last) of an annotated or grouped query.
    pub fn asc(&self) -> Order<Grouped<M>> {
        Order::new(self.operand().clone(), false)
    }

    /// Descending order (NULLs first) of an annotated or grouped query.
    pub fn desc(&self) -> Order<Grouped<M>> {
        Order::new(self.operand().clone(), true)
    }
}

/// `operand` with its columns of `table` read from [`RELATED`] instead.
fn related(operand: Operand, table: &'static str) -> Operand {
    match operand {
        Operand::Column { table: t, name } if t == table => Operand::Column {
            table: RELATED,
            name,
        },
        Operand::Arith(lhs, op, rhs) => Operand::Arith(
            Box::new(related(*lhs, table)),
            op,
            Box::new(related(*rhs, table)),
        ),
        other => other,
    }
}

/// Aggregates over the `M` rows related to each `R` row: annotate an `R`
/// query with them ([`QuerySet::annotate`](crate::QuerySet::annotate)) or
/// select them ([`QuerySet::values`](crate::QuerySet::values)).
impl<M, R, K> Relation<M, R, K>
where
    M: Model,
    R: Model,
    K: ForeignKeyType<R::PrimaryKey>,
{
    fn join(&self) -> Join {
        Join {
            table: M::TABLE,
            fk: self.column().name(),
            parent: R::TABLE,
            key: R::COLUMNS[R::PRIMARY_KEY_INDEX],
        }
    }

    fn related_call<T>(
        &self,
        function: &'static str,
        argument: Operand,
        cast: Option<SqlType>,
    ) -> Aggregate<R, T> {
        Aggregate::call(
            function,
            related(argument, M::TABLE),
            cast,
            Some(self.join()),
        )
    }

    /// The number of related rows (0 for none): books per author with
    /// `Author::objects().annotate(Book::AUTHOR.count())`.
    pub fn count(&self) -> Aggregate<R, i64> {
        let key = M::primary_key_column();
        self.related_call("COUNT", key.operand(), None)
    }

    /// `SUM` of `column` over the related rows, `None` for none.
    pub fn sum<T: Numeric>(&self, column: Column<M, T>) -> Aggregate<R, Option<T::Sum>> {
        let cast = Some(<T::Sum as FieldType>::SQL_TYPE);
        self.related_call("SUM", column.operand(), cast)
    }

    /// `AVG` of `column` over the related rows as `f64`, `None` for none.
    pub fn avg<T: Numeric>(&self, column: Column<M, T>) -> Aggregate<R, Option<f64>> {
        self.related_call("AVG", column.operand(), Some(SqlType::F64))
    }

    /// `MIN` of `column` over the related rows, `None` for none.
    pub fn min<T: FieldType>(&self, column: Column<M, T>) -> Aggregate<R, Option<T::Base>>
    where
        T::Base: NonNull + Ordered,
    {
        self.related_call("MIN", column.operand(), None)
    }

    /// `MAX` of `column` over the related rows, `None` for none.
    pub fn max<T: FieldType>(&self, column: Column<M, T>) -> Aggregate<R, Option<T::Base>>
    where
        T::Base: NonNull + Ordered,
    {
        self.related_call("MAX", column.operand(), None)
    }
}

/// The join of every aggregate in `operand` (`None` for an aggregate over
/// the queried rows), once each; subqueries are rendered on their own.
pub(crate) fn joins_in_operand(operand: &Operand, out: &mut Vec<Option<Join>>) {
    match operand {
        Operand::Aggregate(call) => {
            if !out.contains(&call.join) {
                out.push(call.join);
            }
        }
        Operand::Arith(lhs, _, rhs) => {
            joins_in_operand(lhs, out);
            joins_in_operand(rhs, out);
        }
        Operand::Case(case) => {
            for (when, then) in &case.whens {
                joins_in_node(when, out);
                joins_in_operand(then, out);
            }
            if let Some(e) = &case.otherwise {
                joins_in_operand(e, out);
            }
        }
        Operand::JsonGet(get) => joins_in_operand(&get.operand, out),
        Operand::Column { .. } | Operand::Value(_) => {}
    }
}

/// The joins of the aggregates in `node` (see [`joins_in_operand`]).
pub(crate) fn joins_in_node(node: &Node, out: &mut Vec<Option<Join>>) {
    match node {
        Node::Cmp(a, _, b) => {
            joins_in_operand(a, out);
            joins_in_operand(b, out);
        }
        Node::In(a, list, _) => {
            joins_in_operand(a, out);
            list.iter().for_each(|o| joins_in_operand(o, out));
        }
        Node::IsNull(a, _) => joins_in_operand(a, out),
        Node::Between(a, b, c) => {
            joins_in_operand(a, out);
            joins_in_operand(b, out);
            joins_in_operand(c, out);
        }
        Node::Pattern { operand, .. } => joins_in_operand(operand, out),
        Node::And(nodes) | Node::Or(nodes) => nodes.iter().for_each(|n| joins_in_node(n, out)),
        Node::Not(n) => joins_in_node(n, out),
        Node::InSelect(a, _) => joins_in_operand(a, out),
        #[cfg(feature = "json")]
        Node::JsonHasKey(a, _) | Node::JsonContains(a, _) => joins_in_operand(a, out),
        Node::True | Node::False | Node::InSubquery { .. } | Node::Exists(_) => {}
    }
}
