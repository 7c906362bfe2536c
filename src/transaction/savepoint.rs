//! Savepoint names and the rollback of savepoints dropped unfinished,
//! made safe to resend by a probe savepoint.

use super::Transaction;
use crate::error::{Error, Result};
use crate::executor::private::Origin;

pub(super) fn savepoint_name(depth: usize) -> String {
    format!("sylvan_savepoint_{depth}")
}

impl Transaction<'_> {
    /// Rolls back savepoints that were dropped unfinished, innermost first;
    /// each leaves the list only once it is rolled back.
    pub(super) async fn flush(&self) -> Result<()> {
        loop {
            let next = {
                let state = self.state();
                state
                    .dropped
                    .iter()
                    .copied()
                    .filter(|d| *d > self.depth)
                    .max()
            };
            let Some(depth) = next else { return Ok(()) };
            let name = savepoint_name(depth);
            // A flush cancelled after sending its statements leaves us not
            // knowing whether they ran, so the pair must be safe to send
            // again. A probe savepoint taken first makes it so: if the
            // savepoint is already gone, the error (which on PostgreSQL
            // aborts the transaction) is undone by rolling back to the
            // probe; if it is there, rolling back to it removes the probe too.
            // (An aborted PostgreSQL transaction takes no new savepoint; there
            // ROLLBACK TO is the way out, and a missing savepoint leaves it
            // aborted, as recorded.)
            let probe = self.state().failed_at.is_none();
            if probe {
                self.control(PROBE_SAVEPOINT).await?;
            }
            // One message, so the pair is never split by a cancellation.
            let script = format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}");
            match self
                .connection()
                .script_with(&script, true, Origin::Rendered)
                .await
            {
                Ok(()) => {}
                Err(e) if probe && is_missing_savepoint(&e) => {
                    let undone = self
                        .connection()
                        .script_with(PROBE_ROLLBACK, true, Origin::Rendered)
                        .await;
                    self.note(&undone);
                    undone?;
                }
                Err(e) => {
                    let failed: Result<()> = Err(e);
                    self.note(&failed);
                    return failed;
                }
            }
            self.rolled_back_to(depth);
            self.state().dropped.retain(|d| *d != depth);
        }
    }
}

const PROBE_SAVEPOINT: &str = "SAVEPOINT sylvan_probe";
const PROBE_ROLLBACK: &str = "ROLLBACK TO SAVEPOINT sylvan_probe; RELEASE SAVEPOINT sylvan_probe";

/// "savepoint does not exist" (PostgreSQL 3B001) / "no such savepoint" (SQLite).
fn is_missing_savepoint(e: &Error) -> bool {
    match e {
        Error::Database { code, message, .. } => {
            code.as_deref() == Some("3B001") || message.starts_with("no such savepoint")
        }
        _ => false,
    }
}
