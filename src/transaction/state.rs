//! What every level of one transaction shares, and the poisoning of a
//! transaction whose statement was abandoned: a statement future dropped
//! before it finished marks the transaction so that every later statement
//! and `commit()` are refused and it is rolled back.

use std::sync::Mutex;

/// What every level of one transaction shares.
#[derive(Debug, Default)]
pub(super) struct TxState {
    /// Savepoints dropped without commit or rollback, to roll back before
    /// the next statement.
    pub(super) dropped: Vec<usize>,
    /// PostgreSQL: the shallowest level at which a statement failed, which
    /// aborted the transaction until a savepoint at or above that level is
    /// rolled back.
    pub(super) failed_at: Option<usize>,
    /// A statement's future was dropped before it finished (a caller's
    /// timeout): whether it ran, failed or is still running is unknown, so
    /// the whole transaction is refused from then on and rolled back.
    pub(super) abandoned: bool,
}

/// Why a transaction with an abandoned statement is refused.
pub(super) const ABANDONED: &str = "a statement of this transaction was abandoned before it finished (its future was dropped or it timed out), so whether it ran is unknown: the whole transaction is rolled back on both backends";

/// Marks the transaction abandoned when a statement's future is dropped
/// before [`Pending::done`].
pub(super) struct Pending<'a> {
    state: &'a Mutex<TxState>,
    finished: bool,
}

impl<'a> Pending<'a> {
    /// Watches one statement of the transaction sharing `state`.
    pub(super) fn new(state: &'a Mutex<TxState>) -> Self {
        Pending {
            state,
            finished: false,
        }
    }

    pub(super) fn done(mut self) {
        self.finished = true;
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.finished {
            lock_state(self.state).abandoned = true;
        }
    }
}

pub(super) fn lock_state(state: &Mutex<TxState>) -> std::sync::MutexGuard<'_, TxState> {
    // TxState is whole between statements: a panic cannot leave it torn.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
