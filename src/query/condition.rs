//! Boolean conditions over a model's columns (Django's Q objects), combined
//! with `&`, `|` and `!`.

use super::operand::Operand;
use crate::value::SqlType;
use std::marker::PhantomData;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => " = ",
            CmpOp::Ne => " <> ",
            CmpOp::Gt => " > ",
            CmpOp::Ge => " >= ",
            CmpOp::Lt => " < ",
            CmpOp::Le => " <= ",
        }
    }
}

/// How a text pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatternKind {
    /// The user's own LIKE pattern (`%`, `_`, `\` escapes).
    Like,
    /// The argument appears anywhere, literally.
    Contains,
    /// The value starts with the argument, literally.
    StartsWith,
    /// The value ends with the argument, literally.
    EndsWith,
}

/// An untyped condition tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// Always true (an empty AND).
    True,
    /// Always false (an empty OR, an empty IN list).
    False,
    Cmp(Operand, CmpOp, Operand),
    In(Operand, Vec<Operand>, SqlType),
    IsNull(Operand, bool),
    Between(Operand, Operand, Operand),
    Pattern {
        operand: Operand,
        kind: PatternKind,
        pattern: String,
        case_insensitive: bool,
    },
    /// `operand IN (SELECT table.column FROM table WHERE filter)`.
    InSubquery {
        operand: Operand,
        table: &'static str,
        column: &'static str,
        filter: Box<Node>,
    },
    /// `operand IN (select)`.
    InSelect(Operand, Box<super::statement::Select>),
    /// `EXISTS (select)`.
    Exists(Box<super::statement::Select>),
    /// The JSON object `operand` has the top-level key.
    #[cfg(feature = "json")]
    JsonHasKey(Operand, String),
    /// The JSON `operand` contains the JSON document (PostgreSQL's `@>`).
    #[cfg(feature = "json")]
    JsonContains(Operand, serde_json::Value),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    /// `a AND b`, flattening nested ANDs.
    pub(crate) fn and(self, other: Node) -> Node {
        match (self, other) {
            (Node::And(mut a), Node::And(b)) => {
                a.extend(b);
                Node::And(a)
            }
            (Node::And(mut a), b) => {
                a.push(b);
                Node::And(a)
            }
            (a, Node::And(mut b)) => {
                b.insert(0, a);
                Node::And(b)
            }
            (a, b) => Node::And(vec![a, b]),
        }
    }

    /// `a OR b`, flattening nested ORs.
    pub(crate) fn or(self, other: Node) -> Node {
        match (self, other) {
            (Node::Or(mut a), Node::Or(b)) => {
                a.extend(b);
                Node::Or(a)
            }
            (Node::Or(mut a), b) => {
                a.push(b);
                Node::Or(a)
            }
            (a, Node::Or(mut b)) => {
                b.insert(0, a);
                Node::Or(b)
            }
            (a, b) => Node::Or(vec![a, b]),
        }
    }
}

/// A condition on the rows of model `M`, built from column lookups
/// (`User::AGE.gt(18)`) and combined with `&` (and), `|` (or) and `!` (not).
///
/// Conditions follow SQL's NULL logic: a comparison with NULL is unknown,
/// and a row is selected only when its condition is true.
///
/// ```
/// use sylvan::{Condition, Dialect};
/// # use sylvan::Model;
/// # #[derive(Model)] struct User { #[model(primary_key)] id: i64, age: i32, name: String }
/// let adults_or_ann = User::AGE.ge(18) | User::NAME.eq("Ann");
/// let not_bob = !User::NAME.eq("Bob");
/// let q = User::objects().filter(adults_or_ann & not_bob);
/// let (sql, binds) = q.to_sql(Dialect::Postgres);
/// assert_eq!(sql, r#"SELECT "user"."id", "user"."age", "user"."name" FROM "user" WHERE ((("user"."age" >= $1) OR ("user"."name" = $2)) AND NOT ("user"."name" = $3))"#);
/// assert_eq!(binds, 3);
/// // An empty AND is true, an empty OR is false.
/// assert_eq!(Condition::<User>::all([]).to_string(), "TRUE");
/// assert_eq!(Condition::<User>::any([]).to_string(), "FALSE");
/// ```
pub struct Condition<M> {
    pub(crate) node: Node,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Condition<M> {
    pub(crate) fn new(node: Node) -> Self {
        Condition {
            node,
            _marker: PhantomData,
        }
    }

    /// True when every condition is (an empty list is true).
    pub fn all(conditions: impl IntoIterator<Item = Condition<M>>) -> Self {
        Condition::new(Node::And(conditions.into_iter().map(|c| c.node).collect()))
    }

    /// True when any condition is (an empty list is false).
    pub fn any(conditions: impl IntoIterator<Item = Condition<M>>) -> Self {
        Condition::new(Node::Or(conditions.into_iter().map(|c| c.node).collect()))
    }
}

/// What [`QuerySet::filter`](crate::QuerySet::filter) and
/// [`exclude`](crate::QuerySet::exclude) take: a [`Condition`] on the
/// queried model's rows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot filter this model's rows",
    label = "expected a condition on the queried model's columns",
    note = "a condition on an aggregate goes in `.annotate(…).having(…)` or `.values(…).having(…)`; a condition on another model's rows goes through a relation: `Child::PARENT.has(…)`, `Child::PARENT.any(…)`"
)]
pub trait IntoCondition<M> {
    #[doc(hidden)]
    fn into_condition(self) -> Condition<M>;
}

impl<M> IntoCondition<M> for Condition<M> {
    fn into_condition(self) -> Condition<M> {
        self
    }
}

impl<M> Clone for Condition<M> {
    fn clone(&self) -> Self {
        Condition::new(self.node.clone())
    }
}

impl<M> std::fmt::Debug for Condition<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.node).finish()
    }
}

/// A short, bind-free rendering for debugging (`TRUE`, `FALSE` or
/// `<condition>`); use [`QuerySet::to_sql`](crate::QuerySet::to_sql) for SQL.
impl<M> std::fmt::Display for Condition<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Node::True | Node::And(_) if is_trivially(&self.node, true) => f.write_str("TRUE"),
            Node::False | Node::Or(_) if is_trivially(&self.node, false) => f.write_str("FALSE"),
            _ => f.write_str("<condition>"),
        }
    }
}

fn is_trivially(node: &Node, value: bool) -> bool {
    match node {
        Node::True => value,
        Node::False => !value,
        Node::And(v) => value && v.iter().all(|n| is_trivially(n, true)),
        Node::Or(v) => !value && v.iter().all(|n| is_trivially(n, false)),
        _ => false,
    }
}

impl<M> std::ops::BitAnd for Condition<M> {
    type Output = Condition<M>;
    fn bitand(self, rhs: Condition<M>) -> Condition<M> {
        Condition::new(self.node.and(rhs.node))
    }
}

impl<M> std::ops::BitOr for Condition<M> {
    type Output = Condition<M>;
    fn bitor(self, rhs: Condition<M>) -> Condition<M> {
        Condition::new(self.node.or(rhs.node))
    }
}

impl<M> std::ops::Not for Condition<M> {
    type Output = Condition<M>;
    fn not(self) -> Condition<M> {
        Condition::new(Node::Not(Box::new(self.node)))
    }
}
