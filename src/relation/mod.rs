//! Foreign keys between models, and loading related rows with a fixed
//! number of queries. Users' documentation: `docs/guide/relations.md`,
//! rendered as `sylvan::docs::relations`.

mod children;
mod many;
mod path;
mod prefetch;
mod reverse;
mod select;

pub use children::{ChildRelation, JoinChildren};
pub use many::ManyToMany;
pub use path::{RelatedPath, Then};
pub use reverse::Reverse;
pub use select::{AppendRelated, FifthPath, RelatedList, SelectRelated};

use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{Column, Condition, FieldType};
use std::hash::Hash;
use std::marker::PhantomData;

/// What a foreign key does when its target row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnDelete {
    /// Refuse the delete (the default).
    Restrict,
    /// Delete the referencing rows too.
    Cascade,
    /// Set the referencing column to NULL (nullable keys only).
    SetNull,
}

impl OnDelete {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            OnDelete::Restrict => "RESTRICT",
            OnDelete::Cascade => "CASCADE",
            OnDelete::SetNull => "SET NULL",
        }
    }
}

/// The target of a foreign key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct References {
    /// The referenced table.
    pub table: &'static str,
    /// The referenced column (its primary key).
    pub column: &'static str,
    /// The delete action.
    pub on_delete: OnDelete,
}

/// A foreign key field type pointing at a key of type `P`: `P` itself, or
/// `Option<P>` for a nullable key.
pub trait ForeignKeyType<P>: FieldType {
    /// What loading the related row gives: `R`, or `Option<R>` for a
    /// nullable key.
    type Joined<R>;
    /// The key, if set.
    fn key(&self) -> Option<P>;
    /// Wraps a related row that may be missing.
    fn joined<R>(related: Option<R>) -> Result<Self::Joined<R>>;
}

impl<P: FieldType + Clone> ForeignKeyType<P> for P {
    type Joined<R> = R;
    fn key(&self) -> Option<P> {
        Some(self.clone())
    }
    fn joined<R>(related: Option<R>) -> Result<R> {
        related.ok_or(Error::NotFound)
    }
}

impl<P: crate::query::NonNull + Clone> ForeignKeyType<P> for Option<P> {
    type Joined<R> = Option<R>;
    fn key(&self) -> Option<P> {
        self.clone()
    }
    fn joined<R>(related: Option<R>) -> Result<Option<R>> {
        Ok(related)
    }
}

/// A foreign key of model `M` (column type `K`) to model `R`, as generated
/// by `#[model(foreign_key = R)]`.
pub struct Relation<M, R, K> {
    column: Column<M, K>,
    get: fn(&M) -> K,
    _marker: PhantomData<fn() -> R>,
}

impl<M, R, K> Clone for Relation<M, R, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, R, K> Copy for Relation<M, R, K> {}

impl<M, R, K> std::fmt::Debug for Relation<M, R, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relation")
            .field("column", &self.column)
            .finish()
    }
}

impl<M, R, K> Relation<M, R, K> {
    /// The relation through `column`, read from an object by `get` (used by
    /// the derive).
    pub const fn new(column: Column<M, K>, get: fn(&M) -> K) -> Self {
        Relation {
            column,
            get,
            _marker: PhantomData,
        }
    }

    /// The foreign key column.
    pub const fn column(&self) -> Column<M, K> {
        self.column
    }

    /// The same foreign key seen from the referenced model `R`: its `M`
    /// rows (Django's `author.book_set`). See [`Reverse`].
    pub const fn reverse(self) -> Reverse<R, M, K> {
        Reverse::new(self)
    }

    /// This foreign key followed by `next`, a foreign key (or chain) of
    /// `R`, for [`QuerySet::select_related`](crate::QuerySet::select_related):
    /// `Loan::BOOK.then(Book::AUTHOR)`. See [`Then`].
    pub const fn then<P: RelatedPath<R>>(self, next: P) -> Then<M, R, K, P> {
        Then::new(self, next)
    }
}

impl<M, R, K> Relation<M, R, K>
where
    M: Model + Send,
    R: Model + Send,
    R::PrimaryKey: Hash + Eq,
    K: ForeignKeyType<R::PrimaryKey>,
{
    /// Rows of `M` whose related `R` row matches `condition` (a subquery:
    /// `fk IN (SELECT key FROM r WHERE …)`).
    pub fn has(self, condition: Condition<R>) -> Condition<M> {
        Condition::new(crate::query::Node::InSubquery {
            operand: self.column.operand(),
            table: R::TABLE,
            column: R::COLUMNS[R::PRIMARY_KEY_INDEX],
            filter: Box::new(condition.node),
        })
    }

    /// The related row of `object` (one query).
    pub async fn get_for<E: Executor>(&self, object: &M, executor: &E) -> Result<K::Joined<R>> {
        match (self.get)(object).key() {
            None => K::joined(None),
            Some(key) => {
                let related = R::objects()
                    .filter(R::primary_key_column().eq_value(key))
                    .get(executor)
                    .await;
                match related {
                    Ok(r) => K::joined(Some(r)),
                    Err(Error::NotFound) => K::joined(None),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// The `M` rows pointing at each of `parents`, in the parents' order,
    /// each list ordered by `M`'s primary key: one query whatever the number
    /// of parents (the keys travel as one JSON array past 1,000 of them).
    pub async fn load_for<E: Executor>(&self, parents: &[R], executor: &E) -> Result<Vec<Vec<M>>> {
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<R::PrimaryKey> = parents.iter().map(R::primary_key).collect();
        let children = M::objects()
            .filter(self.column.in_values(prefetch::distinct(&keys)))
            .order_by(M::primary_key_column().asc())
            .all(executor)
            .await?;
        let get = self.get;
        Ok(prefetch::group(
            &keys,
            children.into_iter().map(|child| (get(&child).key(), child)),
        ))
    }

    /// `parents` each with their `M` rows (see [`Relation::load_for`]).
    pub async fn attach<E: Executor>(
        &self,
        parents: Vec<R>,
        executor: &E,
    ) -> Result<Vec<(R, Vec<M>)>> {
        let children = self.load_for(&parents, executor).await?;
        Ok(parents.into_iter().zip(children).collect())
    }
}
