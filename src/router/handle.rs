//! The replica-related methods of [`Database`].

#[cfg(feature = "postgres")]
use super::MemberStatus;
use crate::database::Database;
#[cfg(feature = "postgres")]
use crate::database::Inner;

impl Database {
    /// This database with every statement, reads included, sent to the
    /// primary: read-your-writes for a handle. It shares the pools (and
    /// is as cheap to clone); without replicas it is the same database.
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// let one: i64 = db.primary().fetch_one("SELECT 1", ()).await?;
    /// assert_eq!(one, 1);
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    #[allow(clippy::needless_return)] // one `return` per feature set
    pub fn primary(&self) -> Database {
        #[cfg(feature = "postgres")]
        return Database {
            pinned: true,
            ..self.clone()
        };
        #[cfg(not(feature = "postgres"))]
        self.clone()
    }

    /// The state of each server, the primary first: role, address, whether
    /// it gets statements now and why not, the replication lag at the last
    /// health check, statements sent to it, and its pool. Empty unless the
    /// database has [replicas](crate::DatabaseBuilder::replica).
    ///
    /// ```
    /// use sylvan::prelude::*;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = Database::connect("sqlite::memory:").await?;
    /// assert!(db.members().is_empty());
    /// # Ok::<_, sylvan::Error>(()) }).unwrap();
    /// ```
    #[cfg(feature = "postgres")]
    pub fn members(&self) -> Vec<MemberStatus> {
        match (&*self.inner, &self.router) {
            (Inner::Postgres(pool), Some(router)) => router.members(pool),
            _ => Vec::new(),
        }
    }
}
