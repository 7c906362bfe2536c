//! Operations as SQLite statements: `ALTER TABLE` where SQLite can (add a
//! column it accepts, drop a plain column, renames, indexes), otherwise
//! the table rebuild SQLite documents (create the new table under a
//! temporary name, copy the rows, drop the old, rename the new, recreate
//! the indexes). A rebuild runs with `PRAGMA foreign_keys = OFF` (the
//! `-- sylvan:sqlite-foreign-keys-off` directive), so that dropping the
//! old table neither deletes nor refuses the rows that reference it.

use super::ddl;
use super::diff::Op;
use super::state::{ColumnState, SchemaState, TableState};
use crate::backend::Dialect;
use crate::value::SqlType;

const LITE: Dialect = Dialect::Sqlite;

/// The prefix of the table a rebuild fills.
const REBUILD_PREFIX: &str = "__sylvan_new_";

/// SQLite statements for `ops`, and whether one rebuilds a table (and so
/// needs foreign keys off). `renamed` is the old state after the renames
/// among `ops`, `new` the target.
pub(crate) fn render(ops: &[Op], renamed: &SchemaState, new: &SchemaState) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    let mut rebuilt = false;
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        if let Some(table) = op.altered_table() {
            // Every alteration of one table, together.
            let mut end = i;
            while end < ops.len() && ops[end].altered_table() == Some(table) {
                end += 1;
            }
            let group = &ops[i..end];
            match (renamed.table(table), new.table(table)) {
                (Some(old), Some(new_t)) if group.iter().any(needs_rebuild) => {
                    rebuild(&mut out, old, new_t);
                    rebuilt = true;
                }
                _ => group.iter().for_each(|op| simple(&mut out, op)),
            }
            i = end;
            continue;
        }
        simple(&mut out, op);
        i += 1;
    }
    (out, rebuilt)
}

fn id(name: &str) -> String {
    let mut s = String::new();
    LITE.push_identifier(&mut s, name);
    s
}

/// A default SQLite's `ADD COLUMN` accepts: a constant.
fn is_constant(default: &str) -> bool {
    let d = default.trim();
    let upper = d.to_ascii_uppercase();
    d.parse::<f64>().is_ok()
        || (d.starts_with('\'') && d.ends_with('\'') && d.len() >= 2)
        || ["NULL", "TRUE", "FALSE"].contains(&upper.as_str())
}

/// What SQLite's `ALTER TABLE` cannot do in place.
fn needs_rebuild(op: &Op) -> bool {
    match op {
        Op::AddColumn { column: c, .. } => {
            let default_null = c
                .default
                .as_deref()
                .is_none_or(|d| d.eq_ignore_ascii_case("NULL"));
            c.primary_key
                || c.unique
                || (!c.nullable && default_null)
                || c.default.as_deref().is_some_and(|d| !is_constant(d))
                || (c.references.is_some() && !default_null)
        }
        Op::DropColumn { column: c, .. } => {
            c.primary_key
                || c.unique
                || c.references.is_some()
                || c.allowed.is_some()
                || c.sql_type == SqlType::Bool
        }
        Op::AlterColumn { old, new, .. } => {
            let same_type = LITE.type_name(old.sql_type) == LITE.type_name(new.sql_type)
                && (old.sql_type == SqlType::Bool) == (new.sql_type == SqlType::Bool);
            let index_only = ColumnState {
                index: new.index,
                sql_type: new.sql_type,
                ..old.clone()
            } == *new;
            !(same_type && index_only)
        }
        _ => false,
    }
}

fn simple(out: &mut Vec<String>, op: &Op) {
    match op {
        Op::CreateTable(t) => {
            out.push(ddl::create_table(LITE, t, &t.name, false));
            out.extend(ddl::create_indexes(LITE, t, false));
        }
        Op::DropTable(t) => out.push(format!("DROP TABLE {}", id(&t.name))),
        Op::RenameTable { from, to, table } => {
            out.push(format!("ALTER TABLE {} RENAME TO {}", id(from), id(to)));
            for c in table.columns.iter().filter(|c| c.index) {
                out.push(ddl::drop_index(LITE, from, &c.name));
                out.push(ddl::create_index(LITE, to, &c.name, false));
            }
        }
        Op::RenameColumn { table, from, to } => {
            out.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                id(table),
                id(&from.name),
                id(to)
            ));
            if from.index {
                out.push(ddl::drop_index(LITE, table, &from.name));
                out.push(ddl::create_index(LITE, table, to, false));
            }
        }
        Op::AddColumn { table, column } => {
            let mut sql = format!("ALTER TABLE {} ADD COLUMN ", id(table));
            ddl::push_column(&mut sql, LITE, column);
            out.push(sql);
            if column.index {
                out.push(ddl::create_index(LITE, table, &column.name, false));
            }
        }
        Op::DropColumn { table, column } => {
            if column.index {
                out.push(ddl::drop_index(LITE, table, &column.name));
            }
            out.push(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                id(table),
                id(&column.name)
            ));
        }
        Op::AlterColumn { table, old, new } => {
            // Only an index (needs_rebuild said so).
            if old.index && !new.index {
                out.push(ddl::drop_index(LITE, table, &old.name));
            }
            if new.index && !old.index {
                out.push(ddl::create_index(LITE, table, &new.name, false));
            }
        }
    }
}

/// The rebuild of `old` into `new` (both under `new`'s name): the rows'
/// columns that both have are copied; the new ones take their defaults.
fn rebuild(out: &mut Vec<String>, old: &TableState, new: &TableState) {
    let temp = format!("{REBUILD_PREFIX}{}", new.name);
    out.push(ddl::create_table(LITE, new, &temp, false));
    let common: Vec<String> = new
        .columns
        .iter()
        .filter(|c| old.column(&c.name).is_some())
        .map(|c| id(&c.name))
        .collect();
    if !common.is_empty() {
        let list = common.join(", ");
        out.push(format!(
            "INSERT INTO {} ({list}) SELECT {list} FROM {}",
            id(&temp),
            id(&old.name)
        ));
    }
    out.push(format!("DROP TABLE {}", id(&old.name)));
    out.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        id(&temp),
        id(&new.name)
    ));
    out.extend(ddl::create_indexes(LITE, new, false));
}
