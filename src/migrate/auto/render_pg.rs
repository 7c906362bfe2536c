//! Operations as PostgreSQL statements. Constraints keep the names
//! PostgreSQL gives the inline ones of `CREATE TABLE` (`book_pkey`,
//! `book_email_key`, `book_author_id_fkey`, `book_kind_check`), so a
//! migrated database and a freshly created one match.

use super::ddl;
use super::diff::Op;
use super::state::{ColumnState, TableState};
use crate::backend::Dialect;

const PG: Dialect = Dialect::Postgres;

/// The statements of `ops`, in order.
pub(crate) fn render(ops: &[Op]) -> Vec<String> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::CreateTable(t) => {
                out.push(ddl::create_table(PG, t, &t.name, false));
                out.extend(ddl::create_indexes(PG, t, false));
            }
            Op::DropTable(t) => out.push(format!("DROP TABLE {}", id(&t.name))),
            Op::RenameTable { from, to, table } => rename_table(&mut out, from, to, table),
            Op::RenameColumn { table, from, to } => rename_column(&mut out, table, from, to),
            Op::AddColumn { table, column } => {
                let mut sql = format!("ALTER TABLE {} ADD COLUMN ", id(table));
                ddl::push_column(&mut sql, PG, column);
                out.push(sql);
                if column.index {
                    out.push(ddl::create_index(PG, table, &column.name, false));
                }
            }
            Op::DropColumn { table, column } => out.push(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                id(table),
                id(&column.name)
            )),
            Op::AlterColumn { table, old, new } => alter_column(&mut out, table, old, new),
        }
    }
    out
}

fn id(name: &str) -> String {
    let mut s = String::new();
    PG.push_identifier(&mut s, name);
    s
}

/// The names PostgreSQL gives a column's inline constraints.
fn constraint(table: &str, column: &str, kind: &str) -> String {
    format!("{table}_{column}_{kind}")
}

fn rename_constraint(out: &mut Vec<String>, table: &str, from: &str, to: &str) {
    out.push(format!(
        "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
        id(table),
        id(from),
        id(to)
    ));
}

/// Renames the table, then its indexes, constraints and identity
/// sequences to the names a fresh `CREATE TABLE` would give them.
fn rename_table(out: &mut Vec<String>, from: &str, to: &str, table: &TableState) {
    out.push(format!("ALTER TABLE {} RENAME TO {}", id(from), id(to)));
    for c in &table.columns {
        if c.primary_key {
            rename_constraint(out, to, &format!("{from}_pkey"), &format!("{to}_pkey"));
            if c.auto {
                out.push(format!(
                    "ALTER SEQUENCE {} RENAME TO {}",
                    id(&format!("{from}_{}_seq", c.name)),
                    id(&format!("{to}_{}_seq", c.name))
                ));
            }
        }
        rename_column_constraints(out, to, from, &c.name, to, &c.name, c);
    }
}

fn rename_column(out: &mut Vec<String>, table: &str, from: &ColumnState, to: &str) {
    out.push(format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        id(table),
        id(&from.name),
        id(to)
    ));
    rename_column_constraints(out, table, table, &from.name, table, to, from);
    if from.primary_key && from.auto {
        out.push(format!(
            "ALTER SEQUENCE {} RENAME TO {}",
            id(&format!("{table}_{}_seq", from.name)),
            id(&format!("{table}_{to}_seq"))
        ));
    }
}

/// Index and constraint names follow a renamed table or column.
fn rename_column_constraints(
    out: &mut Vec<String>,
    table: &str,
    old_table: &str,
    old_column: &str,
    new_table: &str,
    new_column: &str,
    c: &ColumnState,
) {
    if c.index {
        out.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            id(&ddl::index_name(old_table, old_column)),
            id(&ddl::index_name(new_table, new_column))
        ));
    }
    for (on, kind) in [
        (c.unique, "key"),
        (c.references.is_some(), "fkey"),
        (c.allowed.is_some(), "check"),
    ] {
        if on {
            rename_constraint(
                out,
                table,
                &constraint(old_table, old_column, kind),
                &constraint(new_table, new_column, kind),
            );
        }
    }
}

fn alter_column(out: &mut Vec<String>, table: &str, old: &ColumnState, new: &ColumnState) {
    let t = id(table);
    let c = id(&new.name);
    let drop_constraint = |out: &mut Vec<String>, kind: &str| {
        out.push(format!(
            "ALTER TABLE {t} DROP CONSTRAINT {}",
            id(&constraint(table, &new.name, kind))
        ));
    };
    if old.index && !new.index {
        out.push(ddl::drop_index(PG, table, &old.name));
    }
    if old.references.is_some() && old.references != new.references {
        drop_constraint(out, "fkey");
    }
    if old.unique && !new.unique {
        drop_constraint(out, "key");
    }
    let allowed_changed = old.allowed != new.allowed;
    if old.allowed.is_some() && allowed_changed {
        drop_constraint(out, "check");
    }
    if old.sql_type != new.sql_type {
        let ty = PG.type_name(new.sql_type);
        out.push(format!(
            "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}"
        ));
    }
    if old.nullable != new.nullable {
        let what = if new.nullable { "DROP" } else { "SET" };
        out.push(format!("ALTER TABLE {t} ALTER COLUMN {c} {what} NOT NULL"));
    }
    if old.default != new.default {
        out.push(match &new.default {
            Some(d) => format!("ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {d}"),
            None => format!("ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT"),
        });
    }
    if let (Some(allowed), true) = (&new.allowed, allowed_changed) {
        let mut sql = format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} CHECK (",
            id(&constraint(table, &new.name, "check"))
        );
        ddl::push_allowed_condition(&mut sql, PG, new, allowed);
        sql.push(')');
        out.push(sql);
    }
    if new.unique && !old.unique {
        out.push(format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} UNIQUE ({c})",
            id(&constraint(table, &new.name, "key"))
        ));
    }
    if let Some(r) = &new.references {
        if old.references.as_ref() != Some(r) {
            out.push(format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} FOREIGN KEY ({c}) REFERENCES {} ({}) ON DELETE {}",
                id(&constraint(table, &new.name, "fkey")),
                id(&r.table),
                id(&r.column),
                r.on_delete.sql()
            ));
        }
    }
    if new.index && !old.index {
        out.push(ddl::create_index(PG, table, &new.name, false));
    }
}
