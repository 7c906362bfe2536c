//! `SET column = expression` for bulk updates.

use super::operand::Operand;
use std::marker::PhantomData;

/// One assignment of an UPDATE over model `M`, made by
/// [`Column::set`](crate::Column::set).
pub struct Assignment<M> {
    pub(crate) column: &'static str,
    pub(crate) value: Operand,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Assignment<M> {
    pub(crate) fn new(column: &'static str, value: Operand) -> Self {
        Assignment {
            column,
            value,
            _marker: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Assignment<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assignment")
            .field("column", &self.column)
            .field("value", &self.value)
            .finish()
    }
}
