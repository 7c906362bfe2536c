//! The reverse side of a foreign key: from the referenced model to the rows
//! pointing at it (Django's `author.book_set`).

use super::{ForeignKeyType, Relation};
use crate::error::Result;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{Condition, Node, QuerySet};
use std::hash::Hash;

/// The foreign key `Relation<M, P, K>` seen from `P`: the `M` rows
/// pointing at a `P` row. Made by [`Relation::reverse`]; declare it as a
/// constant of the parent to read like Django's `author.book_set`:
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::{Model, QuerySet, Reverse};
///
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct Author { #[model(primary_key, auto)] id: i64, name: String }
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct Book {
///     #[model(primary_key, auto)] id: i64,
///     #[model(foreign_key = Author)] author_id: i64,
///     title: String,
/// }
/// impl Author {
///     /// The author's books.
///     const BOOKS: Reverse<Author, Book, i64> = Book::AUTHOR.reverse();
///     /// The author's books, lazily (`author.books().all(&db)`).
///     fn books(&self) -> QuerySet<Book> {
///         Self::BOOKS.of(self)
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// sylvan::Schema::new().model::<Author>().model::<Book>().create_all(&db).await?;
/// let ann = Author { id: 0, name: "Ann".into() }.insert(&db).await?;
/// let bob = Author { id: 0, name: "Bob".into() }.insert(&db).await?;
/// for title in ["Dune", "Emma"] {
///     Book { id: 0, author_id: ann.id, title: title.into() }.insert(&db).await?;
/// }
/// // The accessor: a QuerySet, so it filters, orders and counts.
/// assert_eq!(ann.books().filter(Book::TITLE.eq("Emma")).count(&db).await?, 1);
/// // A filter on the children: authors with a book titled "Dune".
/// let found = Author::objects().filter(Author::BOOKS.has(Book::TITLE.eq("Dune"))).all(&db).await?;
/// assert_eq!(found, vec![ann.clone()]);
/// // Prefetch: every author's books in one more query.
/// let authors = Author::objects().order_by(Author::ID.asc()).all(&db).await?;
/// let with_books = Author::BOOKS.attach(authors, &db).await?;
/// assert_eq!(with_books[0].1.len(), 2);
/// assert_eq!(with_books[1], (bob, vec![]));
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub struct Reverse<P, M, K> {
    relation: Relation<M, P, K>,
}

impl<P, M, K> Clone for Reverse<P, M, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, M, K> Copy for Reverse<P, M, K> {}

impl<P, M, K> std::fmt::Debug for Reverse<P, M, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reverse")
            .field("relation", &self.relation)
            .finish()
    }
}

impl<P, M, K> Reverse<P, M, K> {
    pub(crate) const fn new(relation: Relation<M, P, K>) -> Self {
        Reverse { relation }
    }

    /// The foreign key this is the reverse of.
    pub const fn relation(self) -> Relation<M, P, K> {
        self.relation
    }
}

impl<P, M, K> Reverse<P, M, K>
where
    P: Model + Send,
    M: Model + Send,
    P::PrimaryKey: Hash + Eq,
    K: ForeignKeyType<P::PrimaryKey>,
{
    /// The `M` rows pointing at `parent`, lazily (Django's
    /// `author.book_set.all()`): filter, order, count or update them like
    /// any query.
    pub fn of(self, parent: &P) -> QuerySet<M> {
        M::objects().filter(self.key_is(parent))
    }

    /// `fk = parent's key`.
    fn key_is(self, parent: &P) -> Condition<M> {
        self.relation.column().in_values(vec![parent.primary_key()])
    }

    /// `P` rows with at least one `M` row matching `condition` (Django's
    /// `Author.objects.filter(book__title=…)`), as a subquery:
    /// `key IN (SELECT fk FROM m WHERE condition AND fk IS NOT NULL)`.
    /// Unlike Django's JOIN, a parent with several matching children is
    /// listed once; and the `IS NOT NULL` keeps `exclude` (`NOT IN`)
    /// meaning "no matching child" when some children have no parent.
    ///
    /// ```
    /// # use sylvan::{Dialect, Model, Reverse};
    /// # #[derive(Model)] struct Author { #[model(primary_key)] id: i64 }
    /// # #[derive(Model)] struct Book { #[model(primary_key)] id: i64, #[model(foreign_key = Author)] author_id: Option<i64>, title: String }
    /// let q = Author::objects().exclude(Book::AUTHOR.reverse().has(Book::TITLE.eq("Dune")));
    /// assert_eq!(
    ///     q.to_sql(Dialect::Postgres).0,
    ///     r#"SELECT "author"."id" FROM "author" WHERE (NOT ("author"."id" IN (SELECT "book"."author_id" FROM "book" WHERE (("book"."title" = $1) AND ("book"."author_id" IS NOT NULL)))))"#
    /// );
    /// ```
    pub fn has(self, condition: Condition<M>) -> Condition<P> {
        let column = self.relation.column();
        let filter = condition.node.and(Node::IsNull(column.operand(), false));
        Condition::new(Node::InSubquery {
            operand: P::primary_key_column().operand(),
            table: M::TABLE,
            column: column.name(),
            filter: Box::new(filter),
        })
    }

    /// The `M` rows of each of `parents`, in the parents' order: one query
    /// whatever the number of parents (see [`Relation::load_for`]).
    pub async fn load_for<E: Executor>(&self, parents: &[P], executor: &E) -> Result<Vec<Vec<M>>> {
        self.relation.load_for(parents, executor).await
    }

    /// `parents` each with their `M` rows, in one more query (see
    /// [`Relation::attach`]).
    pub async fn attach<E: Executor>(
        &self,
        parents: Vec<P>,
        executor: &E,
    ) -> Result<Vec<(P, Vec<M>)>> {
        self.relation.attach(parents, executor).await
    }
}
