//! Many-to-many relations through a join model with two foreign keys
//! (`BookTag { book_id → Book, tag_id → Tag }`).

use super::{ForeignKeyType, Relation};
use crate::error::Result;
use crate::executor::private::Origin;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{Condition, FieldType, Node, QuerySet, SqlWriter};
use crate::row::{Cardinality, FromRow, Row};
use crate::value::ToValue;
use std::hash::Hash;

/// A many-to-many relation from `S` to `T` through the join model `J`,
/// whose foreign keys (of types `KS` and `KT`) point at `S` and `T`.
/// Built from the join model's two relation constants, in the order
/// "from, to"; declare it as a constant of `S` (and its
/// [`reverse`](ManyToMany::reverse) on `T`):
///
/// ```
/// use sylvan::prelude::*;
/// use sylvan::{ManyToMany, Model};
///
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct Book { #[model(primary_key, auto)] id: i64, title: String }
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct Tag { #[model(primary_key, auto)] id: i64, name: String }
/// #[derive(Debug, Clone, PartialEq, Model)]
/// struct BookTag {
///     #[model(primary_key, auto)] id: i64,
///     #[model(foreign_key = Book, on_delete = "cascade")] book_id: i64,
///     #[model(foreign_key = Tag, on_delete = "cascade")] tag_id: i64,
/// }
/// impl Book {
///     const TAGS: ManyToMany<Book, BookTag, Tag, i64, i64> =
///         ManyToMany::new(BookTag::BOOK, BookTag::TAG);
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let db = Database::connect("sqlite::memory:").await?;
/// sylvan::Schema::new().model::<Book>().model::<Tag>().model::<BookTag>().create_all(&db).await?;
/// let dune = Book { id: 0, title: "Dune".into() }.insert(&db).await?;
/// let emma = Book { id: 0, title: "Emma".into() }.insert(&db).await?;
/// let scifi = Tag { id: 0, name: "sci-fi".into() }.insert(&db).await?;
/// let classic = Tag { id: 0, name: "classic".into() }.insert(&db).await?;
/// assert!(Book::TAGS.add(&dune, &scifi, &db).await?);
/// assert!(!Book::TAGS.add(&dune, &scifi, &db).await?); // already linked
/// Book::TAGS.add(&dune, &classic, &db).await?;
/// Book::TAGS.add(&emma, &classic, &db).await?;
///
/// // One book's tags, as a query.
/// assert_eq!(Book::TAGS.of(&dune).count(&db).await?, 2);
/// // Prefetch: every book's tags in one query.
/// let tags = Book::TAGS.load_for(&[dune.clone(), emma.clone()], &db).await?;
/// assert_eq!(tags, vec![vec![scifi.clone(), classic.clone()], vec![classic.clone()]]);
/// // Filter through the relation, and back from the tag's side.
/// let found = Book::objects().filter(Book::TAGS.has(Tag::NAME.eq("sci-fi"))).all(&db).await?;
/// assert_eq!(found, vec![dune.clone()]);
/// assert_eq!(Book::TAGS.reverse().of(&classic).count(&db).await?, 2);
///
/// assert_eq!(Book::TAGS.remove(&dune, &scifi, &db).await?, 1);
/// assert_eq!(Book::TAGS.of(&dune).all(&db).await?, vec![classic]);
/// # Ok::<_, sylvan::Error>(()) }).unwrap();
/// ```
pub struct ManyToMany<S, J, T, KS, KT> {
    source: Relation<J, S, KS>,
    target: Relation<J, T, KT>,
}

impl<S, J, T, KS, KT> Clone for ManyToMany<S, J, T, KS, KT> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S, J, T, KS, KT> Copy for ManyToMany<S, J, T, KS, KT> {}

impl<S, J, T, KS, KT> std::fmt::Debug for ManyToMany<S, J, T, KS, KT> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManyToMany")
            .field("source", &self.source)
            .field("target", &self.target)
            .finish()
    }
}

impl<S, J, T, KS, KT> ManyToMany<S, J, T, KS, KT> {
    /// The relation from `S` to `T` through `J`'s keys `source` (to `S`) and
    /// `target` (to `T`).
    pub const fn new(source: Relation<J, S, KS>, target: Relation<J, T, KT>) -> Self {
        ManyToMany { source, target }
    }

    /// The same relation from `T`'s side (Django's `tag.book_set`).
    pub const fn reverse(self) -> ManyToMany<T, J, S, KT, KS> {
        ManyToMany {
            source: self.target,
            target: self.source,
        }
    }
}

/// Aliases of the two tables `add` reads, which may be the same table.
const SOURCE: &str = "sylvan_source";
const TARGET: &str = "sylvan_target";

impl<S, J, T, KS, KT> ManyToMany<S, J, T, KS, KT>
where
    S: Model + Send,
    J: Model + Send,
    T: Model + Send,
    S::PrimaryKey: Hash + Eq,
    KS: ForeignKeyType<S::PrimaryKey>,
    KT: ForeignKeyType<T::PrimaryKey>,
{
    /// `J`'s rows linking `source` (a condition on the join model).
    fn links_of(self, source: &S) -> Condition<J> {
        self.source.column().in_values(vec![source.primary_key()])
    }

    /// The `T` rows linked to `source`, lazily (Django's
    /// `book.tags.all()`): `key IN (SELECT target_fk FROM j WHERE
    /// source_fk = …)`, so a row linked twice is listed once.
    pub fn of(self, source: &S) -> QuerySet<T> {
        T::objects().filter(Condition::new(Node::InSubquery {
            operand: T::primary_key_column().operand(),
            table: J::TABLE,
            column: self.target.column().name(),
            filter: Box::new(self.links_of(source).node),
        }))
    }

    /// `S` rows linked to at least one `T` row matching `condition`
    /// (Django's `Book.objects.filter(tags__name=…)`), as two nested
    /// subqueries, so each matching `S` row is listed once.
    pub fn has(self, condition: Condition<T>) -> Condition<S> {
        let target = self.target.column();
        let linked = Node::InSubquery {
            operand: target.operand(),
            table: T::TABLE,
            column: T::COLUMNS[T::PRIMARY_KEY_INDEX],
            filter: Box::new(condition.node),
        };
        Condition::new(Node::InSubquery {
            operand: S::primary_key_column().operand(),
            table: J::TABLE,
            column: self.source.column().name(),
            filter: Box::new(linked.and(Node::IsNull(self.source.column().operand(), false))),
        })
    }

    /// Links `source` and `target` by inserting a `J` row with the two keys
    /// (its other columns take their defaults), unless one links them
    /// already: `true` when a row was added, `false` when they were already
    /// linked or either row is not in the database. Concurrent calls are
    /// race-safe when `J` has a unique constraint on the two keys (the
    /// insert is `ON CONFLICT DO NOTHING`).
    pub async fn add<E: Executor>(&self, source: &S, target: &T, executor: &E) -> Result<bool> {
        let (s, t) = (self.source.column().name(), self.target.column().name());
        let (s_key, t_key) = (source.primary_key(), target.primary_key());
        let mut w = SqlWriter::new(executor.dialect());
        w.push_sql("INSERT INTO ");
        w.push_identifier(J::TABLE);
        w.push_sql(" (");
        w.push_identifiers(&[s, t]);
        w.push_sql(") SELECT ");
        w.push_column(SOURCE, S::COLUMNS[S::PRIMARY_KEY_INDEX]);
        w.push_sql(", ");
        w.push_column(TARGET, T::COLUMNS[T::PRIMARY_KEY_INDEX]);
        w.push_sql(" FROM ");
        w.push_identifier(S::TABLE);
        w.push_sql(" AS ");
        w.push_identifier(SOURCE);
        w.push_sql(", ");
        w.push_identifier(T::TABLE);
        w.push_sql(" AS ");
        w.push_identifier(TARGET);
        w.push_sql(" WHERE ");
        w.push_column(SOURCE, S::COLUMNS[S::PRIMARY_KEY_INDEX]);
        w.push_sql(" = ");
        w.push_bind(s_key.clone().into_value()?);
        w.push_sql(" AND ");
        w.push_column(TARGET, T::COLUMNS[T::PRIMARY_KEY_INDEX]);
        w.push_sql(" = ");
        w.push_bind(t_key.clone().into_value()?);
        w.push_sql(" AND NOT EXISTS (SELECT 1 FROM ");
        w.push_identifier(J::TABLE);
        w.push_sql(" WHERE ");
        w.push_column(J::TABLE, s);
        w.push_sql(" = ");
        w.push_bind(s_key.into_value()?);
        w.push_sql(" AND ");
        w.push_column(J::TABLE, t);
        w.push_sql(" = ");
        w.push_bind(t_key.into_value()?);
        w.push_sql(") ON CONFLICT DO NOTHING");
        let (sql, binds) = w.finish();
        let added = executor
            .run_execute(&sql, Ok(binds), Origin::Rendered)
            .await?;
        Ok(added > 0)
    }

    /// Unlinks `source` and `target`: deletes the `J` rows linking them,
    /// returning how many went.
    pub async fn remove<E: Executor>(&self, source: &S, target: &T, executor: &E) -> Result<u64> {
        let to_target = self.target.column().in_values(vec![target.primary_key()]);
        J::objects()
            .filter(self.links_of(source))
            .filter(to_target)
            .delete(executor)
            .await
    }

    /// Unlinks `source` from every `T` row, returning how many links went.
    pub async fn clear<E: Executor>(&self, source: &S, executor: &E) -> Result<u64> {
        J::objects()
            .filter(self.links_of(source))
            .delete(executor)
            .await
    }

    /// The `T` rows linked to each of `sources`, in the sources' order,
    /// each list ordered by `T`'s primary key: one query (`T JOIN J`)
    /// whatever the number of sources.
    pub async fn load_for<E: Executor>(&self, sources: &[S], executor: &E) -> Result<Vec<Vec<T>>> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<S::PrimaryKey> = sources.iter().map(S::primary_key).collect();
        let filter = self
            .source
            .column()
            .in_values(super::prefetch::distinct(&keys));
        let mut w = SqlWriter::new(executor.dialect());
        w.push_sql("SELECT ");
        w.push_column(J::TABLE, self.source.column().name());
        for c in T::COLUMNS {
            w.push_sql(", ");
            w.push_column(T::TABLE, c);
        }
        w.push_sql(" FROM ");
        w.push_identifier(T::TABLE);
        w.push_sql(" JOIN ");
        w.push_identifier(J::TABLE);
        w.push_sql(" ON ");
        w.push_column(J::TABLE, self.target.column().name());
        w.push_sql(" = ");
        w.push_column(T::TABLE, T::COLUMNS[T::PRIMARY_KEY_INDEX]);
        w.push_sql(" WHERE ");
        w.push_condition(&filter.node);
        w.push_sql(" ORDER BY ");
        w.push_column(T::TABLE, T::COLUMNS[T::PRIMARY_KEY_INDEX]);
        w.push_sql(" ASC");
        let (sql, binds) = w.finish();
        let rows: Vec<Linked<KS, T>> = executor
            .run_query(&sql, Ok(binds), Cardinality::All, Origin::Rendered)
            .await?;
        Ok(super::prefetch::group(
            &keys,
            rows.into_iter().map(|row| (row.key.key(), row.target)),
        ))
    }

    /// `sources` each with their linked `T` rows (see
    /// [`load_for`](Self::load_for)).
    pub async fn attach<E: Executor>(
        &self,
        sources: Vec<S>,
        executor: &E,
    ) -> Result<Vec<(S, Vec<T>)>> {
        let targets = self.load_for(&sources, executor).await?;
        Ok(sources.into_iter().zip(targets).collect())
    }
}

/// One row of a many-to-many prefetch: the source key and a target row.
struct Linked<K, T> {
    key: K,
    target: T,
}

impl<K: FieldType, T: Model + Send> FromRow for Linked<K, T> {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        Ok(Linked {
            key: row.get::<K>(0)?,
            target: T::from_row_at(row, 1)?,
        })
    }
}
