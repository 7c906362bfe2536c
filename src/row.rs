//! Result rows and decoding them into Rust types.

use crate::error::{Error, Result};
use crate::value::{Decode, ValueRef};

/// One result row, borrowed from the backend while it is decoded.
///
/// On SQLite the row is decoded on the connection's worker thread, so no
/// copy of the row crosses threads: only the decoded Rust value does.
pub struct Row<'r> {
    inner: RowInner<'r>,
    /// Where a model's columns are in this result set, when not in
    /// [`Model::COLUMNS`](crate::Model::COLUMNS) order: resolved once per
    /// result set by [`RowDecoder`].
    positions: Option<&'r [usize]>,
}

enum RowInner<'r> {
    #[cfg(feature = "sqlite")]
    Sqlite(&'r rusqlite::Row<'r>),
    #[cfg(feature = "postgres")]
    Postgres(&'r tokio_postgres::Row),
}

impl std::fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row").field("columns", &self.len()).finish()
    }
}

impl<'r> Row<'r> {
    #[cfg(feature = "sqlite")]
    pub(crate) fn sqlite(row: &'r rusqlite::Row<'r>) -> Self {
        Row {
            inner: RowInner::Sqlite(row),
            positions: None,
        }
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(row: &'r tokio_postgres::Row) -> Self {
        Row {
            inner: RowInner::Postgres(row),
            positions: None,
        }
    }

    /// This row seen through the positions a [`FromRow::column_positions`]
    /// resolved for its result set.
    fn with_positions<'a>(&'a self, positions: Option<&'a [usize]>) -> Row<'a> {
        Row {
            inner: match self.inner {
                #[cfg(feature = "sqlite")]
                RowInner::Sqlite(r) => RowInner::Sqlite(r),
                #[cfg(feature = "postgres")]
                RowInner::Postgres(r) => RowInner::Postgres(r),
            },
            positions,
        }
    }

    /// The positions of a model's columns in this result set, when they
    /// are not in the model's order (used by `#[derive(Model)]`).
    #[doc(hidden)]
    pub fn __positions(&self) -> Option<&[usize]> {
        self.positions
    }

    /// Entry `i` of positions resolved by [`Row::__resolve_columns`] (a
    /// missing entry is a column index no row has, hence a decode error).
    #[doc(hidden)]
    pub fn __position(positions: &[usize], i: usize) -> usize {
        positions.get(i).copied().unwrap_or(usize::MAX)
    }

    /// Finds `columns` in this row by name: `None` when they are the first
    /// columns in that order (the ORM's own queries, and `SELECT *` on the
    /// model's table), else each one's index. A name is matched exactly,
    /// else ignoring ASCII case (both databases fold unquoted names); when
    /// a name occurs twice, the first one wins. A missing column is an
    /// [`Error::Decode`] naming it.
    #[doc(hidden)]
    pub fn __resolve_columns(
        &self,
        model: &'static str,
        columns: &[&str],
    ) -> Result<Option<Vec<usize>>> {
        let n = self.len();
        let in_order = columns.len() <= n
            && columns
                .iter()
                .enumerate()
                .all(|(i, c)| self.column_name(i) == Some(*c));
        if in_order {
            return Ok(None);
        }
        let names: Vec<&str> = (0..n).map(|i| self.column_name(i).unwrap_or("")).collect();
        columns
            .iter()
            .map(|c| {
                names
                    .iter()
                    .position(|name| name == c)
                    .or_else(|| names.iter().position(|name| name.eq_ignore_ascii_case(c)))
                    .ok_or_else(|| Error::Decode {
                        column: (*c).to_owned(),
                        expected: model,
                        actual: format!(
                            "the result has no column named `{c}` (it has: {})",
                            names.join(", ")
                        ),
                    })
            })
            .collect::<Result<Vec<usize>>>()
            .map(Some)
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        match self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(r) => r.as_ref().column_count(),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => r.len(),
        }
    }

    /// True when the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of column `index`, if it exists.
    pub fn column_name(&self, index: usize) -> Option<&str> {
        match self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(r) => r.as_ref().column_name(index).ok(),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => r.columns().get(index).map(|c| c.name()),
        }
    }

    /// The raw value of column `index`.
    pub fn value_ref(&self, index: usize) -> Result<ValueRef<'_>> {
        match self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(r) => crate::backend::sqlite::value_ref(r, index),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(r) => crate::backend::postgres::value_ref(r, index),
        }
    }

    /// Decodes column `index` (0-based) into `T`.
    ///
    /// A mismatch is an [`Error::Decode`] naming the column, the Rust type and
    /// what was found (never the value itself).
    pub fn get<T: Decode>(&self, index: usize) -> Result<T> {
        let value = self.value_ref(index)?;
        T::decode(value).map_err(|actual| Error::Decode {
            column: match self.column_name(index) {
                Some(name) => format!("{index} ({name})"),
                None => index.to_string(),
            },
            expected: T::TYPE_NAME,
            actual,
        })
    }
}

/// A type that can be built from one result row.
///
/// Implemented for every [`Decode`] type (first column) and for tuples of up
/// to 16 of them (columns in order). `#[derive(Model)]` implements it for
/// models.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be built from a result row",
    label = "not a row type",
    note = "use a decodable type (i64, String, …), a tuple of them, or a #[derive(Model)] struct"
)]
pub trait FromRow: Sized + Send + 'static {
    /// Builds a value from a row.
    fn from_row(row: &Row<'_>) -> Result<Self>;

    /// Looks at the first row of a result set, once, and says where this
    /// type's columns are when they are not where `from_row` expects them
    /// (models find their columns by name). `None`: by position.
    #[doc(hidden)]
    fn column_positions(row: &Row<'_>) -> Result<Option<Vec<usize>>> {
        let _ = row;
        Ok(None)
    }
}

/// Decodes the rows of one result set into `T`, resolving where `T`'s
/// columns are once, on the first row, rather than on every row.
pub(crate) struct RowDecoder<T> {
    positions: Option<Option<Vec<usize>>>,
    /// Where the rows are recorded for N+1 detection (`None` unless a scope
    /// of `sylvan::testing` detects it).
    observed: crate::observe::Rows,
    _row: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RowDecoder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowDecoder")
            .field("positions", &self.positions)
            .finish()
    }
}

impl<T: FromRow> RowDecoder<T> {
    pub(crate) fn new(observed: crate::observe::Rows) -> Self {
        RowDecoder {
            positions: None,
            observed,
            _row: std::marker::PhantomData,
        }
    }

    /// Decodes one row of the result set.
    pub(crate) fn decode(&mut self, row: &Row<'_>) -> Result<T> {
        if let Some(sink) = &self.observed {
            sink.push(row);
        }
        if self.positions.is_none() {
            self.positions = Some(T::column_positions(row)?);
        }
        match self.positions.as_ref().and_then(Option::as_deref) {
            None => T::from_row(row),
            positions => T::from_row(&row.with_positions(positions)),
        }
    }
}

impl<T: Decode + Send + 'static> FromRow for T {
    fn from_row(row: &Row<'_>) -> Result<Self> {
        row.get(0)
    }
}

macro_rules! tuple_from_row {
    ($($name:ident $idx:tt)+) => {
        impl<$($name: Decode + Send + 'static),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row<'_>) -> Result<Self> {
                Ok(($(row.get::<$name>($idx)?,)+))
            }
        }
    };
}

tuple_from_row!(A 0);
tuple_from_row!(A 0 B 1);
tuple_from_row!(A 0 B 1 C 2);
tuple_from_row!(A 0 B 1 C 2 D 3);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13 O 14);
tuple_from_row!(A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13 O 14 P 15);

/// How many rows a fetch expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// Every row.
    All,
    /// Exactly one.
    One,
    /// Zero or one.
    Optional,
}

impl Cardinality {
    /// How many rows to read at most: one past the expected count, to tell
    /// "more than one" apart.
    pub(crate) fn read_limit(self) -> usize {
        match self {
            Cardinality::All => usize::MAX,
            Cardinality::One | Cardinality::Optional => 2,
        }
    }

    /// Checks the number of rows read.
    pub(crate) fn check<T>(self, rows: &[T]) -> Result<()> {
        match (self, rows.len()) {
            (Cardinality::All, _) => Ok(()),
            (Cardinality::One, 0) => Err(Error::NotFound),
            (_, n) if n > 1 => Err(Error::TooManyRows),
            _ => Ok(()),
        }
    }
}
