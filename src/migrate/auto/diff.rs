//! The difference between two [`SchemaState`]s as a list of operations.
//!
//! Renames are never guessed: a table that disappears while another
//! appears (or a column, within one table) is either covered by a hint
//! (`rename_…` or `drop_…`), answered by the [`Ambiguity`] hook, or an
//! error that asks the question.

use super::state::{ColumnState, SchemaState, TableState};
use crate::error::{Error, Result};
use std::fmt;

/// One step of a generated migration; its `Display` is the line a CLI
/// prints (`add column "book"."pages" i32 default 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation(pub(crate) Op);

/// The operations the renderers turn into SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    CreateTable(TableState),
    DropTable(TableState),
    /// `table` is the table as it was, under its old name.
    RenameTable {
        from: String,
        to: String,
        table: TableState,
    },
    RenameColumn {
        table: String,
        from: ColumnState,
        to: String,
    },
    AddColumn {
        table: String,
        column: ColumnState,
    },
    DropColumn {
        table: String,
        column: ColumnState,
    },
    AlterColumn {
        table: String,
        old: ColumnState,
        new: ColumnState,
    },
}

impl Op {
    /// The table an operation changes in place (not created or dropped).
    pub(crate) fn altered_table(&self) -> Option<&str> {
        match self {
            Op::AddColumn { table, .. }
            | Op::DropColumn { table, .. }
            | Op::AlterColumn { table, .. } => Some(table),
            _ => None,
        }
    }
}

/// A question `plan` cannot answer alone: was something renamed, or
/// dropped while something else was added?
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ambiguity {
    /// Table `removed` is gone from the models while tables `added` appeared.
    Table {
        /// The recorded table no model has any more.
        removed: String,
        /// The models' tables that were not recorded.
        added: Vec<String>,
    },
    /// Column `removed` of `table` is gone while columns `added` appeared.
    Column {
        /// The table (its name in the models).
        table: String,
        /// The recorded column the model no longer has.
        removed: String,
        /// The model's columns that were not recorded.
        added: Vec<String>,
    },
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ambiguity::Table { removed, added } => write!(
                f,
                "table \"{removed}\" is gone and {} appeared: was \"{removed}\" renamed to one of \
                 them, or dropped? Say it with `.rename_table(\"{removed}\", \"{}\")` or \
                 `.drop_table(\"{removed}\")` (a rename is never guessed)",
                quoted_list(added),
                added.first().map_or("", String::as_str)
            ),
            Ambiguity::Column {
                table,
                removed,
                added,
            } => write!(
                f,
                "table \"{table}\" lost column \"{removed}\" and gained {}: was \"{removed}\" \
                 renamed, or dropped? Say it with `.rename_column(\"{table}\", \"{removed}\", \
                 \"{}\")` or `.drop_column(\"{table}\", \"{removed}\")` (a rename is never \
                 guessed)",
                quoted_list(added),
                added.first().map_or("", String::as_str)
            ),
        }
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the [`Ambiguity`] hook answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// Renamed to this (one of the `added` names).
    Rename(String),
    /// Dropped (its data is lost); the added ones are new.
    Drop,
    /// Stop planning with the question as the error.
    Stop,
}

/// The hints given to `MakeMigrations`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hints {
    pub(crate) rename_tables: Vec<(String, String)>,
    /// (table as in the models, from, to).
    pub(crate) rename_columns: Vec<(String, String, String)>,
    pub(crate) drop_tables: Vec<String>,
    pub(crate) drop_columns: Vec<(String, String)>,
}

/// The `Ambiguity` hook.
pub(crate) type Ask<'a> = Option<&'a mut dyn FnMut(&Ambiguity) -> Answer>;

/// What [`diff`] found: the operations, and the old state after the
/// renames (what the alterations start from).
#[derive(Debug)]
pub(crate) struct Diff {
    pub(crate) ops: Vec<Op>,
    pub(crate) renamed: SchemaState,
}

/// The operations turning `old` into `new`. With `assume_drops` (the
/// down section, whose up was resolved already), whatever disappears is
/// dropped without asking.
pub(crate) fn diff(
    old: &SchemaState,
    new: &SchemaState,
    hints: &Hints,
    mut ask: Ask<'_>,
    assume_drops: bool,
) -> Result<Diff> {
    let mut cur = old.clone();
    let mut ops = Vec::new();

    for (from, to) in &hints.rename_tables {
        if cur.table(from).is_some() && cur.table(to).is_none() && new.table(to).is_some() {
            rename_table(&mut cur, &mut ops, from, to);
        } else if !(cur.table(from).is_none() && cur.table(to).is_some()) {
            return Err(hint_error(format!(
                "`.rename_table(\"{from}\", \"{to}\")`: the recorded state has no table \
                 \"{from}\", or the models have no table \"{to}\", or \"{to}\" exists already"
            )));
        }
    }
    let mut dropped = hints.drop_tables.clone();
    loop {
        let removed: Vec<String> = names(&cur)
            .filter(|t| new.table(t).is_none() && !dropped.contains(t))
            .collect();
        let added: Vec<String> = names(new).filter(|t| cur.table(t).is_none()).collect();
        let (Some(first), false) = (removed.first(), added.is_empty() || assume_drops) else {
            break;
        };
        let question = Ambiguity::Table {
            removed: first.clone(),
            added: added.clone(),
        };
        match answer(&mut ask, &question)? {
            Some(to) if added.contains(&to) => rename_table(&mut cur, &mut ops, first, &to),
            Some(to) => return Err(not_offered(&question, &to)),
            None => dropped.push(first.clone()),
        }
    }
    diff_columns(new, hints, ask, assume_drops, cur, ops)
}

fn names(state: &SchemaState) -> impl Iterator<Item = String> + '_ {
    state.tables.iter().map(|t| t.name.clone())
}

/// Asks the hook: `Some(name)` for a rename, `None` for a drop.
fn answer(ask: &mut Ask<'_>, question: &Ambiguity) -> Result<Option<String>> {
    let Some(ask) = ask else {
        return Err(hint_error(question.to_string()));
    };
    match ask(question) {
        Answer::Rename(to) => Ok(Some(to)),
        Answer::Drop => Ok(None),
        Answer::Stop => Err(hint_error(question.to_string())),
    }
}

fn not_offered(question: &Ambiguity, to: &str) -> Error {
    hint_error(format!(
        "answered a rename to \"{to}\", which is not one of the choices: {question}"
    ))
}

fn hint_error(message: String) -> Error {
    Error::Migration {
        version: None,
        message,
    }
}

fn rename_table(cur: &mut SchemaState, ops: &mut Vec<Op>, from: &str, to: &str) {
    let Some(table) = cur.table(from).cloned() else {
        return;
    };
    for t in &mut cur.tables {
        if t.name == from {
            t.name = to.to_owned();
        }
        for c in &mut t.columns {
            if let Some(r) = &mut c.references {
                if r.table == from {
                    r.table = to.to_owned();
                }
            }
        }
    }
    ops.push(Op::RenameTable {
        from: from.to_owned(),
        to: to.to_owned(),
        table,
    });
}

fn rename_column(cur: &mut SchemaState, ops: &mut Vec<Op>, table: &str, from: &str, to: &str) {
    let Some(column) = cur.table(table).and_then(|t| t.column(from)).cloned() else {
        return;
    };
    for t in &mut cur.tables {
        for c in &mut t.columns {
            if t.name == table && c.name == from {
                c.name = to.to_owned();
            }
            if let Some(r) = &mut c.references {
                if r.table == table && r.column == from {
                    r.column = to.to_owned();
                }
            }
        }
    }
    ops.push(Op::RenameColumn {
        table: table.to_owned(),
        from: column,
        to: to.to_owned(),
    });
}

fn diff_columns(
    new: &SchemaState,
    hints: &Hints,
    mut ask: Ask<'_>,
    assume_drops: bool,
    mut cur: SchemaState,
    mut ops: Vec<Op>,
) -> Result<Diff> {
    for new_table in new.creation_order() {
        let name = new_table.name.as_str();
        if cur.table(name).is_none() {
            continue;
        }
        for (table, from, to) in &hints.rename_columns {
            if table != name {
                continue;
            }
            let has = |s: &SchemaState, c: &str| s.table(name).and_then(|t| t.column(c)).is_some();
            if has(&cur, from) && !has(&cur, to) && new_table.column(to).is_some() {
                rename_column(&mut cur, &mut ops, name, from, to);
            } else if has(&cur, from) || !has(&cur, to) {
                return Err(hint_error(format!(
                    "`.rename_column(\"{name}\", \"{from}\", \"{to}\")`: the recorded table has \
                     no column \"{from}\", or the model has no column \"{to}\", or \"{to}\" \
                     exists already"
                )));
            }
        }
        let mut dropped: Vec<String> = hints
            .drop_columns
            .iter()
            .filter(|(t, _)| t == name)
            .map(|(_, c)| c.clone())
            .collect();
        while let Some(old_table) = cur.table(name) {
            let removed: Vec<String> = old_table
                .columns
                .iter()
                .map(|c| c.name.clone())
                .filter(|c| new_table.column(c).is_none() && !dropped.contains(c))
                .collect();
            let added: Vec<String> = new_table
                .columns
                .iter()
                .map(|c| c.name.clone())
                .filter(|c| old_table.column(c).is_none())
                .collect();
            let (Some(first), false) = (removed.first(), added.is_empty() || assume_drops) else {
                break;
            };
            let question = Ambiguity::Column {
                table: name.to_owned(),
                removed: first.clone(),
                added: added.clone(),
            };
            match answer(&mut ask, &question)? {
                Some(to) if added.contains(&to) => {
                    rename_column(&mut cur, &mut ops, name, first, &to);
                }
                Some(to) => return Err(not_offered(&question, &to)),
                None => dropped.push(first.clone()),
            }
        }
    }

    let renamed = cur.clone();
    for table in new.creation_order() {
        if cur.table(&table.name).is_none() {
            ops.push(Op::CreateTable(table.clone()));
        }
    }
    for new_table in new.creation_order() {
        let Some(old_table) = cur.table(&new_table.name) else {
            continue;
        };
        let table = new_table.name.clone();
        for column in &new_table.columns {
            match old_table.column(&column.name) {
                None => ops.push(Op::AddColumn {
                    table: table.clone(),
                    column: column.clone(),
                }),
                Some(old) if old != column => ops.push(Op::AlterColumn {
                    table: table.clone(),
                    old: old.clone(),
                    new: column.clone(),
                }),
                Some(_) => {}
            }
        }
        for column in &old_table.columns {
            if new_table.column(&column.name).is_none() {
                ops.push(Op::DropColumn {
                    table: table.clone(),
                    column: column.clone(),
                });
            }
        }
    }
    let gone: Vec<TableState> = cur
        .creation_order()
        .into_iter()
        .rev()
        .filter(|t| new.table(&t.name).is_none())
        .cloned()
        .collect();
    ops.extend(gone.into_iter().map(Op::DropTable));
    Ok(Diff { ops, renamed })
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::state::type_word;
        match &self.0 {
            Op::CreateTable(t) => write!(f, "create table \"{}\"", t.name),
            Op::DropTable(t) => write!(f, "drop table \"{}\"", t.name),
            Op::RenameTable { from, to, .. } => write!(f, "rename table \"{from}\" to \"{to}\""),
            Op::RenameColumn { table, from, to } => {
                write!(f, "rename column \"{table}\".\"{}\" to \"{to}\"", from.name)
            }
            Op::AddColumn { table, column } => {
                write!(
                    f,
                    "add column \"{table}\".\"{}\" {}",
                    column.name,
                    type_word(column.sql_type)
                )?;
                if column.nullable {
                    f.write_str(" null")?;
                }
                if let Some(d) = &column.default {
                    write!(f, " default {d}")?;
                }
                Ok(())
            }
            Op::DropColumn { table, column } => {
                write!(f, "drop column \"{table}\".\"{}\"", column.name)
            }
            Op::AlterColumn { table, old, new } => {
                write!(f, "alter column \"{table}\".\"{}\":", new.name)?;
                let mut changes = Vec::new();
                if old.sql_type != new.sql_type {
                    changes.push(format!(
                        "type {} -> {}",
                        type_word(old.sql_type),
                        type_word(new.sql_type)
                    ));
                }
                if old.nullable != new.nullable {
                    changes.push(if new.nullable { "nullable" } else { "not null" }.to_owned());
                }
                if old.default != new.default {
                    changes.push(format!(
                        "default {} -> {}",
                        old.default.as_deref().unwrap_or("none"),
                        new.default.as_deref().unwrap_or("none")
                    ));
                }
                for (was, is, what) in [
                    (old.unique, new.unique, "unique"),
                    (old.index, new.index, "index"),
                    (old.primary_key, new.primary_key, "primary key"),
                    (old.auto, new.auto, "auto"),
                ] {
                    if was != is {
                        changes.push(format!("{} {what}", if is { "add" } else { "drop" }));
                    }
                }
                if old.references != new.references {
                    changes.push(match &new.references {
                        Some(r) => format!("foreign key to \"{}\".\"{}\"", r.table, r.column),
                        None => "drop foreign key".to_owned(),
                    });
                }
                if old.allowed != new.allowed {
                    changes.push("allowed values".to_owned());
                }
                write!(f, " {}", changes.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(text: &str) -> SchemaState {
        SchemaState::parse(text).unwrap()
    }

    fn lines(d: &Diff) -> Vec<String> {
        d.ops
            .iter()
            .map(|o| Operation(o.clone()).to_string())
            .collect()
    }

    const BOOK: &str = "table \"book\"\n  column \"id\" i64 pk auto\n  column \"title\" text\n";

    #[test]
    fn additions_alterations_and_drops_in_dependency_order() {
        let old = state(BOOK);
        let new = state(
            "table \"author\"\n  column \"id\" i64 pk auto\n\
             table \"book\"\n  column \"id\" i64 pk auto\n  column \"title\" text null index\n\
               column \"author_id\" i64 null references \"author\" \"id\" cascade\n\
               column \"pages\" i32 default \"0\"\n",
        );
        let d = diff(&old, &new, &Hints::default(), None, false).unwrap();
        assert_eq!(
            lines(&d),
            [
                "create table \"author\"",
                "alter column \"book\".\"title\": nullable, add index",
                "add column \"book\".\"author_id\" i64 null",
                "add column \"book\".\"pages\" i32 default 0",
            ]
        );
        let back = diff(&new, &old, &Hints::default(), None, true).unwrap();
        assert_eq!(
            lines(&back),
            [
                "alter column \"book\".\"title\": not null, drop index",
                "drop column \"book\".\"author_id\"",
                "drop column \"book\".\"pages\"",
                "drop table \"author\"",
            ]
        );
        assert!(diff(&new, &new, &Hints::default(), None, false)
            .unwrap()
            .ops
            .is_empty());
    }

    #[test]
    fn a_rename_is_asked_never_guessed() {
        let old = state(BOOK);
        let new = state("table \"book\"\n  column \"id\" i64 pk auto\n  column \"name\" text\n");
        let e = diff(&old, &new, &Hints::default(), None, false)
            .unwrap_err()
            .to_string();
        for needle in [
            ".rename_column(\"book\", \"title\", \"name\")",
            ".drop_column(\"book\", \"title\")",
        ] {
            assert!(e.contains(needle), "{e}");
        }
        let hints = Hints {
            rename_columns: vec![("book".into(), "title".into(), "name".into())],
            ..Hints::default()
        };
        let d = diff(&old, &new, &hints, None, false).unwrap();
        assert_eq!(lines(&d), ["rename column \"book\".\"title\" to \"name\""]);
        let hints = Hints {
            drop_columns: vec![("book".into(), "title".into())],
            ..Hints::default()
        };
        let d = diff(&old, &new, &hints, None, false).unwrap();
        assert_eq!(
            lines(&d),
            [
                "add column \"book\".\"name\" text",
                "drop column \"book\".\"title\""
            ]
        );
        // The hook answers.
        let mut asked = Vec::new();
        let mut hook = |q: &Ambiguity| {
            asked.push(q.clone());
            Answer::Rename("name".into())
        };
        let d = diff(&old, &new, &Hints::default(), Some(&mut hook), false).unwrap();
        assert_eq!(lines(&d), ["rename column \"book\".\"title\" to \"name\""]);
        assert_eq!(asked.len(), 1);
    }

    #[test]
    fn a_table_rename_follows_references() {
        let old = state(
            "table \"writer\"\n  column \"id\" i64 pk auto\n\
             table \"book\"\n  column \"id\" i64 pk auto\n\
               column \"writer_id\" i64 references \"writer\" \"id\" restrict\n",
        );
        let new = state(
            "table \"author\"\n  column \"id\" i64 pk auto\n\
             table \"book\"\n  column \"id\" i64 pk auto\n\
               column \"writer_id\" i64 references \"author\" \"id\" restrict\n",
        );
        let e = diff(&old, &new, &Hints::default(), None, false).unwrap_err();
        assert!(
            e.to_string()
                .contains(".rename_table(\"writer\", \"author\")"),
            "{e}"
        );
        let hints = Hints {
            rename_tables: vec![("writer".into(), "author".into())],
            ..Hints::default()
        };
        let d = diff(&old, &new, &hints, None, false).unwrap();
        assert_eq!(lines(&d), ["rename table \"writer\" to \"author\""]);
        let mut hook = |_: &Ambiguity| Answer::Drop;
        let d = diff(&old, &new, &Hints::default(), Some(&mut hook), false).unwrap();
        assert_eq!(
            lines(&d),
            [
                "create table \"author\"",
                "alter column \"book\".\"writer_id\": foreign key to \"author\".\"id\"",
                "drop table \"writer\"",
            ]
        );
    }
}
