//! [`SchemaState`]: the tables, columns and indexes a set of models makes,
//! as plain owned data, and its text form (the `-- sylvan:state` block
//! ending each generated migration).
//!
//! The text form, one line per table and one per column, each after `-- `
//! in a file:
//!
//! ```text
//! table "book"
//!   column "id" i64 pk auto
//!   column "author_id" i64 null references "author" "id" cascade
//!   column "title" text unique default "'untitled'"
//!   column "kind" text index allowed-text "novel" "essay"
//! ```
//!
//! Names and SQL are quoted strings (`\"` and `\\` escaped, `\n` for a
//! newline); flags are bare words; `allowed-text` / `allowed-int` take the
//! rest of the line.

use crate::error::{Error, Result};
use crate::model::FieldInfo;
use crate::relation::OnDelete;
use crate::value::{Allowed, SqlType};
use std::fmt::{self, Write};

/// The schema a set of models describes, or a generated migration
/// recorded: what [`MakeMigrations`](crate::MakeMigrations) compares.
///
/// Its [`Display`](fmt::Display) is the snapshot text, which
/// [`SchemaState::parse`] reads back.
///
/// ```
/// use sylvan::{Model, Schema, SchemaState};
///
/// #[derive(Model)]
/// struct Note { #[model(primary_key, auto)] id: i64, #[model(index)] body: String }
///
/// let state = Schema::new().model::<Note>().state().unwrap();
/// let text = state.to_string();
/// assert_eq!(text, "table \"note\"\n  column \"id\" i64 pk auto\n  column \"body\" text index\n");
/// assert_eq!(SchemaState::parse(&text).unwrap(), state);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaState {
    /// In creation order (referenced tables first) when built from a
    /// [`Schema`](crate::Schema).
    pub(crate) tables: Vec<TableState>,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableState {
    pub(crate) name: String,
    pub(crate) columns: Vec<ColumnState>,
}

/// One column, with the constraints and index it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnState {
    pub(crate) name: String,
    pub(crate) sql_type: SqlType,
    pub(crate) nullable: bool,
    pub(crate) primary_key: bool,
    pub(crate) auto: bool,
    /// A UNIQUE constraint (never on the primary key).
    pub(crate) unique: bool,
    /// A plain index (never with `unique` or `primary_key`).
    pub(crate) index: bool,
    pub(crate) default: Option<String>,
    pub(crate) references: Option<RefState>,
    pub(crate) allowed: Option<AllowedState>,
}

/// A foreign key's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefState {
    pub(crate) table: String,
    pub(crate) column: String,
    pub(crate) on_delete: OnDelete,
}

/// The values an enum column may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AllowedState {
    Text(Vec<String>),
    Integer(Vec<i64>),
}

impl ColumnState {
    /// The column a model field makes.
    pub(crate) fn from_field(f: &FieldInfo) -> ColumnState {
        ColumnState {
            name: f.column.to_owned(),
            sql_type: f.sql_type,
            nullable: f.nullable && !f.primary_key,
            primary_key: f.primary_key,
            auto: f.auto && f.primary_key,
            unique: f.unique && !f.primary_key,
            index: f.index && !f.unique && !f.primary_key,
            default: f.default.map(str::to_owned),
            references: f.references.map(|r| RefState {
                table: r.table.to_owned(),
                column: r.column.to_owned(),
                on_delete: r.on_delete,
            }),
            allowed: f.allowed.map(|a| match a {
                Allowed::Text(names) => {
                    AllowedState::Text(names.iter().map(|n| (*n).to_owned()).collect())
                }
                Allowed::Integer(values) => AllowedState::Integer(values.to_vec()),
            }),
        }
    }
}

impl TableState {
    /// The table a model's fields make.
    pub(crate) fn from_fields(name: &str, fields: &[FieldInfo]) -> TableState {
        TableState {
            name: name.to_owned(),
            columns: fields.iter().map(ColumnState::from_field).collect(),
        }
    }

    pub(crate) fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The other tables this one references.
    pub(crate) fn depends_on(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .filter_map(|c| c.references.as_ref().map(|r| r.table.as_str()))
            .filter(move |t| *t != self.name)
    }
}

impl SchemaState {
    /// Reads the snapshot text written by this type's `Display` (lines may
    /// keep the `-- ` they have in a migration file). An error names the
    /// line.
    pub fn parse(text: &str) -> Result<SchemaState> {
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let l = l.trim();
                l.strip_prefix("--").unwrap_or(l).trim().to_owned()
            })
            .collect();
        SchemaState::parse_lines(&lines, 1).map_err(|(line, why)| Error::Migration {
            version: None,
            message: format!("schema state: line {line}: {why}"),
        })
    }

    /// Parses snapshot lines (without their `--`); an error gives the line
    /// number, counted from `first_line`.
    pub(crate) fn parse_lines(
        lines: &[String],
        first_line: usize,
    ) -> std::result::Result<SchemaState, (usize, String)> {
        let mut state = SchemaState::default();
        for (n, line) in lines.iter().enumerate() {
            let at = |why: String| (first_line + n, why);
            let tokens = tokenize(line).map_err(at)?;
            let mut tokens = tokens.into_iter();
            match tokens.next() {
                None => continue,
                Some(Token::Word(w)) if w == "table" => {
                    let name = expect_text(tokens.next(), "a quoted table name").map_err(at)?;
                    if let Some(extra) = tokens.next() {
                        return Err(at(format!("unexpected {extra} after the table name")));
                    }
                    if state.table(&name).is_some() {
                        return Err(at(format!("table \"{name}\" appears twice")));
                    }
                    state.tables.push(TableState {
                        name,
                        columns: Vec::new(),
                    });
                }
                Some(Token::Word(w)) if w == "column" => {
                    let column = parse_column(&mut tokens).map_err(at)?;
                    let Some(table) = state.tables.last_mut() else {
                        return Err(at("a column before any table".to_owned()));
                    };
                    if table.column(&column.name).is_some() {
                        return Err(at(format!(
                            "column \"{}\" appears twice in table \"{}\"",
                            column.name, table.name
                        )));
                    }
                    table.columns.push(column);
                }
                Some(other) => {
                    return Err(at(format!("expected `table` or `column`, found {other}")));
                }
            }
        }
        Ok(state)
    }

    pub(crate) fn table(&self, name: &str) -> Option<&TableState> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The tables in creation order: referenced tables first (tables in a
    /// cycle keep their order at the end).
    pub(crate) fn creation_order(&self) -> Vec<&TableState> {
        let mut done: Vec<&TableState> = Vec::with_capacity(self.tables.len());
        let mut left: Vec<&TableState> = self.tables.iter().collect();
        while !left.is_empty() {
            let ready = left.iter().position(|t| {
                t.depends_on()
                    .all(|d| done.iter().any(|x| x.name == d) || !left.iter().any(|x| x.name == d))
            });
            done.push(left.remove(ready.unwrap_or(0)));
        }
        done
    }
}

impl fmt::Display for SchemaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for table in &self.tables {
            f.write_str("table ")?;
            write_text(f, &table.name)?;
            f.write_char('\n')?;
            for c in &table.columns {
                f.write_str("  column ")?;
                write_text(f, &c.name)?;
                write!(f, " {}", type_word(c.sql_type))?;
                for (on, word) in [
                    (c.nullable, "null"),
                    (c.primary_key, "pk"),
                    (c.auto, "auto"),
                    (c.unique, "unique"),
                    (c.index, "index"),
                ] {
                    if on {
                        write!(f, " {word}")?;
                    }
                }
                if let Some(default) = &c.default {
                    f.write_str(" default ")?;
                    write_text(f, default)?;
                }
                if let Some(r) = &c.references {
                    f.write_str(" references ")?;
                    write_text(f, &r.table)?;
                    f.write_char(' ')?;
                    write_text(f, &r.column)?;
                    f.write_str(match r.on_delete {
                        OnDelete::Restrict => " restrict",
                        OnDelete::Cascade => " cascade",
                        OnDelete::SetNull => " set-null",
                    })?;
                }
                match &c.allowed {
                    Some(AllowedState::Text(names)) => {
                        f.write_str(" allowed-text")?;
                        for name in names {
                            f.write_char(' ')?;
                            write_text(f, name)?;
                        }
                    }
                    Some(AllowedState::Integer(values)) => {
                        f.write_str(" allowed-int")?;
                        for v in values {
                            write!(f, " {v}")?;
                        }
                    }
                    None => {}
                }
                f.write_char('\n')?;
            }
        }
        Ok(())
    }
}

const TYPES: [(SqlType, &str); 14] = [
    (SqlType::Bool, "bool"),
    (SqlType::I16, "i16"),
    (SqlType::I32, "i32"),
    (SqlType::I64, "i64"),
    (SqlType::F32, "f32"),
    (SqlType::F64, "f64"),
    (SqlType::Text, "text"),
    (SqlType::Blob, "blob"),
    (SqlType::Timestamp, "timestamp"),
    (SqlType::TimestampTz, "timestamptz"),
    (SqlType::Date, "date"),
    (SqlType::Time, "time"),
    (SqlType::Uuid, "uuid"),
    (SqlType::Json, "json"),
];

/// The snapshot's word for a type.
pub(crate) fn type_word(ty: SqlType) -> &'static str {
    TYPES
        .iter()
        .find(|(t, _)| *t == ty)
        .map_or("text", |(_, w)| w)
}

fn write_text(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Text(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "`{w}`"),
            Token::Text(t) => write!(f, "{t:?}"),
        }
    }
}

fn tokenize(line: &str) -> std::result::Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    None => return Err("an unterminated quoted string".to_owned()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('"') => text.push('"'),
                        Some('\\') => text.push('\\'),
                        Some('n') => text.push('\n'),
                        Some('r') => text.push('\r'),
                        other => {
                            return Err(format!("an unknown escape `\\{}`", other.unwrap_or(' ')))
                        }
                    },
                    Some(c) => text.push(c),
                }
            }
            tokens.push(Token::Text(text));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            tokens.push(Token::Word(word));
        }
    }
    Ok(tokens)
}

fn expect_text(token: Option<Token>, what: &str) -> std::result::Result<String, String> {
    match token {
        Some(Token::Text(t)) => Ok(t),
        Some(other) => Err(format!("expected {what}, found {other}")),
        None => Err(format!("expected {what} at the end of the line")),
    }
}

fn parse_column(
    tokens: &mut impl Iterator<Item = Token>,
) -> std::result::Result<ColumnState, String> {
    let name = expect_text(tokens.next(), "a quoted column name")?;
    let sql_type = match tokens.next() {
        Some(Token::Word(w)) => TYPES
            .iter()
            .find(|(_, word)| *word == w)
            .map(|(t, _)| *t)
            .ok_or_else(|| {
                let known: Vec<&str> = TYPES.iter().map(|(_, w)| *w).collect();
                format!("unknown type `{w}` (known: {})", known.join(", "))
            })?,
        other => return Err(format!("expected the type of \"{name}\", found {other:?}")),
    };
    let mut c = ColumnState {
        name,
        sql_type,
        nullable: false,
        primary_key: false,
        auto: false,
        unique: false,
        index: false,
        default: None,
        references: None,
        allowed: None,
    };
    while let Some(token) = tokens.next() {
        let Token::Word(word) = token else {
            return Err(format!("expected a flag, found {token}"));
        };
        match word.as_str() {
            "null" => c.nullable = true,
            "pk" => c.primary_key = true,
            "auto" => c.auto = true,
            "unique" => c.unique = true,
            "index" => c.index = true,
            "default" => c.default = Some(expect_text(tokens.next(), "a quoted default")?),
            "references" => {
                let table = expect_text(tokens.next(), "a quoted referenced table")?;
                let column = expect_text(tokens.next(), "a quoted referenced column")?;
                let on_delete = match tokens.next() {
                    Some(Token::Word(w)) if w == "restrict" => OnDelete::Restrict,
                    Some(Token::Word(w)) if w == "cascade" => OnDelete::Cascade,
                    Some(Token::Word(w)) if w == "set-null" => OnDelete::SetNull,
                    other => {
                        return Err(format!(
                            "expected `restrict`, `cascade` or `set-null`, found {}",
                            other.map_or("the end of the line".to_owned(), |t| t.to_string())
                        ))
                    }
                };
                c.references = Some(RefState {
                    table,
                    column,
                    on_delete,
                });
            }
            "allowed-text" => {
                let names = tokens
                    .by_ref()
                    .map(|t| expect_text(Some(t), "a quoted allowed value"))
                    .collect::<std::result::Result<_, _>>()?;
                c.allowed = Some(AllowedState::Text(names));
            }
            "allowed-int" => {
                let values = tokens
                    .by_ref()
                    .map(|t| match t {
                        Token::Word(w) => w
                            .parse::<i64>()
                            .map_err(|_| format!("`{w}` is not an integer")),
                        other => Err(format!("expected an integer, found {other}")),
                    })
                    .collect::<std::result::Result<_, _>>()?;
                c.allowed = Some(AllowedState::Integer(values));
            }
            other => {
                return Err(format!(
                    "unknown flag `{other}` (known: null, pk, auto, unique, index, default, \
                     references, allowed-text, allowed-int)"
                ))
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        "[a-z\"\\\\ \n'_()0-9é]{0,12}"
    }

    fn column() -> impl Strategy<Value = ColumnState> {
        (
            text(),
            0..TYPES.len(),
            any::<[bool; 5]>(),
            proptest::option::of(text()),
            proptest::option::of((text(), text(), 0..3u8)),
            proptest::option::of(prop_oneof![
                proptest::collection::vec(text(), 0..4).prop_map(AllowedState::Text),
                proptest::collection::vec(any::<i64>(), 0..4).prop_map(AllowedState::Integer),
            ]),
        )
            .prop_map(
                |(name, ty, flags, default, references, allowed)| ColumnState {
                    name,
                    sql_type: TYPES[ty].0,
                    nullable: flags[0],
                    primary_key: flags[1],
                    auto: flags[2],
                    unique: flags[3],
                    index: flags[4],
                    default,
                    references: references.map(|(table, column, d)| RefState {
                        table,
                        column,
                        on_delete: [OnDelete::Restrict, OnDelete::Cascade, OnDelete::SetNull]
                            [usize::from(d)],
                    }),
                    allowed,
                },
            )
    }

    proptest! {
        #[test]
        fn snapshot_text_round_trips(
            tables in proptest::collection::vec(
                (text(), proptest::collection::vec(column(), 0..4)), 0..4)
        ) {
            let mut state = SchemaState::default();
            for (i, (name, columns)) in tables.into_iter().enumerate() {
                // Names are unique within their scope.
                let mut columns_unique: Vec<ColumnState> = Vec::new();
                for (j, mut c) in columns.into_iter().enumerate() {
                    c.name = format!("{}{j}", c.name);
                    columns_unique.push(c);
                }
                state.tables.push(TableState { name: format!("{name}{i}"), columns: columns_unique });
            }
            let text = state.to_string();
            prop_assert_eq!(SchemaState::parse(&text).unwrap(), state.clone());
            // As it stands in a file, after `-- `.
            let in_file: String = text.lines().map(|l| format!("-- {l}\n")).collect();
            prop_assert_eq!(SchemaState::parse(&in_file).unwrap(), state);
        }
    }

    #[test]
    fn bad_snapshots_name_the_line() {
        for (text, line, needle) in [
            ("table \"a\"\n  column \"x\" int", 2, "unknown type `int`"),
            ("column \"x\" i64", 1, "before any table"),
            (
                "table \"a\"\n\n  column \"x\" i64 nul",
                3,
                "unknown flag `nul`",
            ),
            ("table \"a\n", 1, "unterminated"),
            ("table \"a\"\ntable \"a\"", 2, "appears twice"),
            (
                "table \"a\"\n  column \"x\" i64 references \"b\" \"id\"",
                2,
                "expected `restrict`",
            ),
        ] {
            let e = SchemaState::parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("line {line}: ")), "{text:?}: {e}");
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}
