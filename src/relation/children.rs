//! Parent-to-children joins: `users LEFT JOIN posts` as
//! `(User, Option<Post>)` rows.

use super::{ForeignKeyType, Relation, Reverse};
use crate::error::{Error, Result};
use crate::executor::private::Origin;
use crate::executor::private::Run as _;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{QuerySet, SqlWriter};
use crate::row::{Cardinality, FromRow, Row};
use crate::value::{Value, ValueRef};

/// A foreign key of some child model pointing at `P`: a [`Relation`]
/// (`Book::AUTHOR` for `P = Author`) or its [`Reverse`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a foreign key pointing at `{P}`",
    label = "does not point at `{P}`",
    note = "join_children takes the relation constant of a child model whose key points at the queried model: `Author::objects().join_children(Book::AUTHOR)`"
)]
pub trait ChildRelation<P> {
    /// The child model.
    type Child;
    /// The child's key type.
    type Key;
    /// The foreign key, child to parent.
    fn into_relation(self) -> Relation<Self::Child, P, Self::Key>;
}

impl<M, P, K> ChildRelation<P> for Relation<M, P, K> {
    type Child = M;
    type Key = K;
    fn into_relation(self) -> Relation<M, P, K> {
        self
    }
}

impl<M, P, K> ChildRelation<P> for Reverse<P, M, K> {
    type Child = M;
    type Key = K;
    fn into_relation(self) -> Relation<M, P, K> {
        self.relation()
    }
}

/// The alias of the children's table (so a model can join its own
/// children, as in `employee LEFT JOIN employee`).
const CHILD: &str = "sylvan_child";

/// A query for `P` rows each with one of their `M` children, one row per
/// child and `(parent, None)` for a parent without children: SQL's
/// `parent LEFT JOIN child`, made by
/// [`QuerySet::join_children`](crate::QuerySet::join_children). Rows come
/// in the query's order, then by parent key, then by child key, so one
/// parent's rows are next to each other.
///
/// The query's filter and order apply to the parents. `limit`, `offset`,
/// `distinct` and `select_for_update` are refused with
/// [`Error::Unsupported`]: on joined rows they would count children, not
/// parents (page the parents and prefetch with
/// [`Relation::load_for`] instead).
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::{Dialect, Model};
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct User { #[model(primary_key, auto)] id: i64, name: String }
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct Post { #[model(primary_key, auto)] id: i64, #[model(foreign_key = User)] user_id: i64 }
///
/// let q = User::objects().filter(User::NAME.ne("root")).join_children(Post::USER);
/// assert_eq!(
///     q.to_sql(Dialect::Postgres).0,
///     r#"SELECT "user"."id", "user"."name", "sylvan_child"."id", "sylvan_child"."user_id" FROM "user" LEFT JOIN "post" AS "sylvan_child" ON "sylvan_child"."user_id" = "user"."id" WHERE (("user"."name" <> $1)) ORDER BY "user"."id" ASC, "sylvan_child"."id" ASC"#
/// );
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// sylvan::Schema::new().model::<User>().model::<Post>().create_all(&db).await?;
/// let ann = User { id: 0, name: "Ann".into() }.insert(&db).await?;
/// let bob = User { id: 0, name: "Bob".into() }.insert(&db).await?;
/// let post = Post { id: 0, user_id: ann.id }.insert(&db).await?;
/// let rows = User::objects().join_children(Post::USER).all(&db).await?;
/// assert_eq!(rows, vec![(ann, Some(post)), (bob, None)]);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
#[must_use = "a query does nothing until .all() runs it"]
pub struct JoinChildren<P, M, K> {
    query: QuerySet<P>,
    relation: Relation<M, P, K>,
}

impl<P, M, K> std::fmt::Debug for JoinChildren<P, M, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinChildren")
            .field("query", &self.query)
            .field("relation", &self.relation)
            .finish()
    }
}

impl<P, M, K> JoinChildren<P, M, K> {
    pub(crate) fn new(query: QuerySet<P>, relation: Relation<M, P, K>) -> Self {
        JoinChildren { query, relation }
    }
}

impl<P, M, K> JoinChildren<P, M, K>
where
    P: Model + Send,
    M: Model + Send,
    K: ForeignKeyType<P::PrimaryKey>,
{
    /// The SELECT this runs, for `dialect`, and its number of binds.
    pub fn to_sql(&self, dialect: crate::Dialect) -> (String, usize) {
        let (sql, binds) = self.render(dialect);
        (sql, binds.len())
    }

    fn render(&self, dialect: crate::Dialect) -> (String, Vec<Value>) {
        let mut w = SqlWriter::new(dialect);
        w.push_sql("SELECT ");
        for (i, c) in P::COLUMNS.iter().enumerate() {
            if i > 0 {
                w.push_sql(", ");
            }
            w.push_column(P::TABLE, c);
        }
        for c in M::COLUMNS {
            w.push_sql(", ");
            w.push_column(CHILD, c);
        }
        w.push_sql(" FROM ");
        w.push_identifier(P::TABLE);
        w.push_sql(" LEFT JOIN ");
        w.push_identifier(M::TABLE);
        w.push_sql(" AS ");
        w.push_identifier(CHILD);
        w.push_sql(" ON ");
        w.push_column(CHILD, self.relation.column().name());
        w.push_sql(" = ");
        w.push_column(P::TABLE, P::COLUMNS[P::PRIMARY_KEY_INDEX]);
        self.query.push_where(&mut w);
        w.push_orders(&self.query.orders);
        w.push_sql(if self.query.orders.is_empty() {
            " ORDER BY "
        } else {
            ", "
        });
        w.push_column(P::TABLE, P::COLUMNS[P::PRIMARY_KEY_INDEX]);
        w.push_sql(" ASC, ");
        w.push_column(CHILD, M::COLUMNS[M::PRIMARY_KEY_INDEX]);
        w.push_sql(" ASC");
        w.finish()
    }

    /// Every matching parent with each of its children: `(parent,
    /// Some(child))` per child, `(parent, None)` for a parent without.
    pub async fn all<E: Executor>(&self, executor: &E) -> Result<Vec<(P, Option<M>)>> {
        let q = &self.query;
        if q.limit.is_some() || q.offset.is_some() || q.distinct || q.lock.is_some() {
            return Err(Error::Unsupported {
                backend: "sylvan",
                what: "join_children on a query with limit, offset, distinct or select_for_update (they would count children): page the parents and prefetch with load_for".into(),
            });
        }
        let executor = &self.query.on(executor);
        let (sql, binds) = self.render(executor.dialect());
        let rows: Vec<ParentChild<P, M>> = executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await?;
        Ok(rows.into_iter().map(|r| (r.parent, r.child)).collect())
    }
}

/// One row of a parent-to-children join.
struct ParentChild<P, M> {
    parent: P,
    child: Option<M>,
}

impl<P: Model + Send, M: Model + Send> FromRow for ParentChild<P, M> {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        let parent = P::from_row_at(row, 0)?;
        let at = P::COLUMNS.len();
        let child = if row.value_ref(at + M::PRIMARY_KEY_INDEX)? == ValueRef::Null {
            None
        } else {
            Some(M::from_row_at(row, at)?)
        };
        Ok(ParentChild { parent, child })
    }
}
