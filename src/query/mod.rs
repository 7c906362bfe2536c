//! The typed query builder: columns, lookups, conditions, orderings,
//! projections, aggregates and the `QuerySet` that runs them.

mod aggregate;
mod annotate;
mod case;
mod column;
mod condition;
mod field;
mod json;
mod newtype;
mod operand;
mod order;
mod pattern;
mod queryset;
mod render;
mod select;
mod statement;
mod subquery;
mod update;
mod write;

pub use annotate::{Annotated, Annotation, Grouped, Having, IntoHaving};
pub use case::{Case, CaseWhen};
pub use column::Column;
pub use condition::{Condition, IntoCondition};
pub use field::{AutoKey, FieldType, NonNull, Nullable, Numeric, Ordered, Text};
#[cfg(feature = "json")]
pub use json::{JsonKey, JsonScalar};
pub use newtype::Newtype;
pub use operand::{Expr, IntoOperand};
pub use order::{IntoOrders, Order};
pub use pattern::PatternText;
pub use queryset::{GroupedQuerySet, QuerySet, RowLock};
pub use select::{Aggregate, IntoGroupBy, Projection, Selectable, Values};
pub use subquery::Subquery;
pub use update::Assignment;
pub use write::{ColumnList, ConflictTarget, OnConflict};

pub(crate) use condition::Node;
pub(crate) use render::SqlWriter;
pub(crate) use write::{bulk_insert, insert_many};
