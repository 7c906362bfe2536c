//! Conditional expressions: `CASE WHEN … THEN … ELSE … END`.

use super::condition::{Condition, Node};
use super::field::FieldType;
use super::operand::{Expr, IntoOperand, Operand};
use super::render::SqlWriter;
use crate::backend::Dialect;
use crate::value::SqlType;
use std::marker::PhantomData;

/// The untyped `CASE` expression.
#[derive(Debug, Clone, PartialEq)]
#[doc(hidden)]
pub struct CaseOperand {
    pub(crate) whens: Vec<(Node, Operand)>,
    pub(crate) otherwise: Option<Operand>,
    /// The type of the branches' values.
    pub(crate) sql_type: SqlType,
}

impl SqlWriter {
    pub(crate) fn push_case(&mut self, case: &CaseOperand) {
        self.push_sql("CASE");
        for (when, then) in &case.whens {
            self.push_sql(" WHEN ");
            self.push_condition(when);
            self.push_sql(" THEN ");
            self.push_case_value(then, case.sql_type);
        }
        if let Some(e) = &case.otherwise {
            self.push_sql(" ELSE ");
            self.push_case_value(e, case.sql_type);
        }
        self.push_sql(" END");
    }

    /// A branch value: PostgreSQL infers bare placeholders in a CASE as
    /// text, so bound values carry their type.
    fn push_case_value(&mut self, value: &Operand, sql_type: SqlType) {
        match (value, self.dialect()) {
            (Operand::Value(_), Dialect::Postgres) => {
                self.push_sql("CAST(");
                self.push_operand(value);
                self.push_sql(" AS ");
                self.push_sql(self.dialect().type_name(sql_type));
                self.push_sql(")");
            }
            _ => self.push_operand(value),
        }
    }
}

/// `CASE WHEN condition THEN value … ELSE value END` with values of type
/// `T`: start with [`Case::when`], add branches with
/// [`CaseWhen::when`], finish with [`otherwise`](CaseWhen::otherwise)
/// (an [`Expr`] of `T`) or [`end`](CaseWhen::end) (NULL when no branch
/// matches: an `Expr` of `Option<T>`). The first matching branch wins. The
/// expression selects, filters, orders and annotates like a column.
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::{Case, Dialect};
/// #[derive(Debug, Model)]
/// struct Book { #[model(primary_key, auto)] id: i64, pages: i32 }
/// let size = Case::<String>::when(Book::PAGES.ge(500), "long")
///     .when(Book::PAGES.ge(200), "medium")
///     .otherwise("short");
/// let q = Book::objects().order_by(Book::ID.asc()).values((Book::ID, size));
/// assert_eq!(
///     q.to_sql(Dialect::Sqlite).0,
///     r#"SELECT "book"."id", CASE WHEN ("book"."pages" >= ?1) THEN ?2 WHEN ("book"."pages" >= ?3) THEN ?4 ELSE ?5 END FROM "book" ORDER BY "book"."id" ASC"#
/// );
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// Book::create_table(&db).await?;
/// Book { id: 0, pages: 900 }.insert(&db).await?;
/// Book { id: 0, pages: 90 }.insert(&db).await?;
/// let rows: Vec<(i64, String)> = q.all(&db).await?;
/// assert_eq!(rows, [(1, "long".to_owned()), (2, "short".to_owned())]);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct Case<T>(PhantomData<fn() -> T>);

impl<T: FieldType> Case<T> {
    /// The first branch: `value` where `condition` holds.
    pub fn when<M>(condition: Condition<M>, value: impl IntoOperand<M, T>) -> CaseWhen<M, T> {
        CaseWhen {
            case: CaseOperand {
                whens: vec![(condition.node, value.into_operand())],
                otherwise: None,
                sql_type: T::SQL_TYPE,
            },
            _marker: PhantomData,
        }
    }
}

/// A `CASE` expression being built: see [`Case`].
#[must_use = "finish the CASE with .otherwise(value) or .end()"]
pub struct CaseWhen<M, T> {
    case: CaseOperand,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> std::fmt::Debug for CaseWhen<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CaseWhen").field(&self.case).finish()
    }
}

impl<M, T: FieldType> CaseWhen<M, T> {
    /// Another branch, tried after the earlier ones.
    pub fn when(mut self, condition: Condition<M>, value: impl IntoOperand<M, T>) -> Self {
        self.case.whens.push((condition.node, value.into_operand()));
        self
    }

    /// `value` when no branch matches.
    pub fn otherwise(mut self, value: impl IntoOperand<M, T>) -> Expr<M, T> {
        self.case.otherwise = Some(value.into_operand());
        Expr::new(Operand::Case(Box::new(self.case)))
    }

    /// NULL when no branch matches.
    pub fn end(self) -> Expr<M, Option<T::Base>>
    where
        T::Base: super::field::NonNull,
    {
        Expr::new(Operand::Case(Box::new(self.case)))
    }
}
