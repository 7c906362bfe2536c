//! Migrations generated from the models: the [`SchemaState`] a set of
//! models makes (state.rs) and its snapshot text, the difference between
//! two states (diff.rs), its SQL for each dialect (render_pg.rs,
//! render_sqlite.rs, over the shared DDL of ddl.rs), and the public
//! [`MakeMigrations`] (make.rs). Users' documentation:
//! `docs/guide/migrations.md`, "Generated migrations".

pub(crate) mod ddl;
mod diff;
mod make;
mod render_pg;
mod render_sqlite;
mod state;
mod terminal;

pub use diff::{Ambiguity, Answer, Operation};
pub use make::{MakeMigrations, Plan};
pub use state::SchemaState;
pub(crate) use state::TableState;
