//! The one renderer: SQL text goes in through `push_sql`, identifiers
//! through `push_identifier` (quoted), values through `push_bind`
//! (placeholder). Nothing else reaches the statement.

use super::column::escape_like;
use super::condition::{CmpOp, Node, PatternKind};
use super::operand::Operand;
use super::order::{Nulls, Order};
use crate::backend::Dialect;
use crate::value::{SqlType, Value};

/// Lists longer than this travel as one JSON array bind instead of one bind
/// per value.
const IN_LIST_INLINE_MAX: usize = 1_000;

/// SQL text and its binds, for one dialect.
#[derive(Debug)]
pub(crate) struct SqlWriter {
    dialect: Dialect,
    sql: String,
    binds: Vec<Value>,
    /// Relation aggregates render as correlated subqueries (see
    /// `statement.rs`).
    pub(crate) correlate_aggregates: bool,
}

impl SqlWriter {
    pub(crate) fn new(dialect: Dialect) -> Self {
        SqlWriter {
            dialect,
            sql: String::with_capacity(128),
            binds: Vec::new(),
            correlate_aggregates: false,
        }
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub(crate) fn push_sql(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    pub(crate) fn push_identifier(&mut self, name: &str) {
        self.dialect.push_identifier(&mut self.sql, name);
    }

    pub(crate) fn push_bind(&mut self, value: Value) {
        self.binds.push(value);
        self.dialect
            .push_placeholder(&mut self.sql, self.binds.len());
    }

    pub(crate) fn finish(self) -> (String, Vec<Value>) {
        (self.sql, self.binds)
    }

    /// `"a", "b", …`
    pub(crate) fn push_identifiers(&mut self, names: &[&str]) {
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self.push_sql(", ");
            }
            self.push_identifier(name);
        }
    }

    /// `"table"."column"`
    pub(crate) fn push_column(&mut self, table: &str, name: &str) {
        self.push_identifier(table);
        self.push_sql(".");
        self.push_identifier(name);
    }

    pub(crate) fn push_operand(&mut self, operand: &Operand) {
        match operand {
            Operand::Column { table, name } => self.push_column(table, name),
            Operand::Value(v) => self.push_bind(v.clone()),
            Operand::Arith(lhs, op, rhs) => {
                self.push_sql("(");
                self.push_operand(lhs);
                self.push_sql(op.sql());
                self.push_operand(rhs);
                self.push_sql(")");
            }
            Operand::Aggregate(call) => self.push_aggregate(call),
            Operand::Case(case) => self.push_case(case),
            Operand::JsonGet(get) => self.push_json_get(get),
        }
    }

    pub(crate) fn push_condition(&mut self, node: &Node) {
        match node {
            Node::True => self.push_sql("(1 = 1)"),
            Node::False => self.push_sql("(1 = 0)"),
            Node::Cmp(lhs, op @ (CmpOp::Eq | CmpOp::Ne), Operand::Value(Value::Null)) => {
                self.push_sql("(");
                self.push_operand(lhs);
                self.push_sql(if *op == CmpOp::Eq {
                    " IS NULL)"
                } else {
                    " IS NOT NULL)"
                });
            }
            Node::Cmp(lhs, op, rhs) => {
                self.push_sql("(");
                self.push_operand(lhs);
                self.push_sql(op.sql());
                self.push_operand(rhs);
                self.push_sql(")");
            }
            Node::In(lhs, list, sql_type) => self.push_in(lhs, list, *sql_type),
            Node::IsNull(operand, is_null) => {
                self.push_sql("(");
                self.push_operand(operand);
                self.push_sql(if *is_null {
                    " IS NULL)"
                } else {
                    " IS NOT NULL)"
                });
            }
            Node::Between(operand, low, high) => {
                self.push_sql("(");
                self.push_operand(operand);
                self.push_sql(" BETWEEN ");
                self.push_operand(low);
                self.push_sql(" AND ");
                self.push_operand(high);
                self.push_sql(")");
            }
            Node::Pattern {
                operand,
                kind,
                pattern,
                case_insensitive,
            } => self.push_pattern(operand, *kind, pattern, *case_insensitive),
            Node::And(nodes) | Node::Or(nodes) if nodes.is_empty() => {
                self.push_condition(if matches!(node, Node::And(_)) {
                    &Node::True
                } else {
                    &Node::False
                });
            }
            Node::And(nodes) | Node::Or(nodes) => {
                let joiner = if matches!(node, Node::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.push_sql("(");
                for (i, n) in nodes.iter().enumerate() {
                    if i > 0 {
                        self.push_sql(joiner);
                    }
                    self.push_condition(n);
                }
                self.push_sql(")");
            }
            Node::InSubquery {
                operand,
                table,
                column,
                filter,
            } => {
                self.push_sql("(");
                self.push_operand(operand);
                self.push_sql(" IN (SELECT ");
                self.push_column(table, column);
                self.push_sql(" FROM ");
                self.push_identifier(table);
                self.push_sql(" WHERE ");
                self.push_condition(filter);
                self.push_sql("))");
            }
            Node::Not(inner) => {
                self.push_sql("NOT ");
                self.push_condition(inner);
            }
            Node::InSelect(operand, select) => {
                self.push_sql("(");
                self.push_operand(operand);
                self.push_sql(" IN (");
                self.push_select(select);
                self.push_sql("))");
            }
            Node::Exists(select) => {
                self.push_sql("EXISTS (");
                self.push_select(select);
                self.push_sql(")");
            }
            #[cfg(feature = "json")]
            Node::JsonHasKey(operand, key) => self.push_json_has_key(operand, key),
            #[cfg(feature = "json")]
            Node::JsonContains(operand, needle) => self.push_json_contains(operand, needle),
        }
    }

    fn push_in(&mut self, lhs: &Operand, list: &[Operand], sql_type: SqlType) {
        if self.dialect == Dialect::Postgres && list.len() > 1 {
            if let Some(array) = pg_array_literal(list) {
                // One bind whatever the number of values, so one prepared
                // statement serves every list length; the server reads it
                // as a native array (`= ANY` is what it makes of `IN`).
                self.push_sql("(");
                self.push_operand(lhs);
                // The bind is text (typed so by the inner cast), read as
                // an array by the outer one.
                self.push_sql(" = ANY(CAST(CAST(");
                self.push_bind(Value::Text(array));
                self.push_sql(" AS TEXT) AS ");
                self.push_sql(self.dialect.type_name(sql_type));
                self.push_sql("[])))");
                return;
            }
        }
        if list.len() > IN_LIST_INLINE_MAX {
            if let Some(json) = json_array(list, self.dialect) {
                self.push_sql("(");
                self.push_operand(lhs);
                match (self.dialect, sql_type) {
                    (Dialect::Postgres, SqlType::Blob) => {
                        self.push_sql(
                            " IN (SELECT decode(value, 'hex') FROM jsonb_array_elements_text(CAST(",
                        );
                    }
                    (Dialect::Postgres, _) => {
                        self.push_sql(" IN (SELECT CAST(value AS ");
                        self.push_sql(self.dialect.type_name(sql_type));
                        self.push_sql(") FROM jsonb_array_elements_text(CAST(");
                    }
                    (Dialect::Sqlite, SqlType::Blob | SqlType::Uuid) => {
                        self.push_sql(" IN (SELECT unhex(value) FROM json_each(");
                    }
                    (Dialect::Sqlite, _) => self.push_sql(" IN (SELECT value FROM json_each("),
                }
                self.push_bind(Value::Text(json));
                self.push_sql(match self.dialect {
                    Dialect::Postgres => " AS jsonb)) AS value))",
                    Dialect::Sqlite => ")))",
                });
                return;
            }
        }
        self.push_sql("(");
        self.push_operand(lhs);
        self.push_sql(" IN (");
        for (i, v) in list.iter().enumerate() {
            if i > 0 {
                self.push_sql(", ");
            }
            self.push_operand(v);
        }
        self.push_sql("))");
    }

    fn push_pattern(&mut self, operand: &Operand, kind: PatternKind, pattern: &str, ci: bool) {
        let like = match kind {
            PatternKind::Like => balance_trailing_escape(pattern),
            PatternKind::Contains => format!("%{}%", escape_like(pattern)),
            PatternKind::StartsWith => format!("{}%", escape_like(pattern)),
            PatternKind::EndsWith => format!("%{}", escape_like(pattern)),
        };
        self.push_sql("(");
        self.push_operand(operand);
        match (self.dialect, ci) {
            (Dialect::Postgres, false) => self.push_sql(" LIKE "),
            (Dialect::Postgres, true) => self.push_sql(" ILIKE "),
            // SQLite's LIKE folds ASCII case, which is what `i…` lookups want.
            (Dialect::Sqlite, true) => self.push_sql(" LIKE "),
            // Case-sensitive matching on SQLite: GLOB.
            (Dialect::Sqlite, false) => {
                self.push_sql(" GLOB ");
                self.push_bind(Value::Text(like_to_glob(&like)));
                self.push_sql(")");
                return;
            }
        }
        self.push_bind(Value::Text(like));
        self.push_sql(self.dialect.like_escape());
        self.push_sql(")");
    }

    /// `ORDER BY …` terms.
    pub(crate) fn push_orders<M>(&mut self, orders: &[Order<M>]) {
        self.push_orders_with(orders, |_| None);
    }

    /// `ORDER BY …`, where `position` may name a term by its place in the
    /// select list instead (so a bound value is not bound twice).
    pub(crate) fn push_orders_with<M>(
        &mut self,
        orders: &[Order<M>],
        position: impl Fn(usize) -> Option<usize>,
    ) {
        for (i, o) in orders.iter().enumerate() {
            self.push_sql(if i == 0 { " ORDER BY " } else { ", " });
            match position(i) {
                Some(p) => self.push_sql(&p.to_string()),
                None => self.push_operand(&o.operand),
            }
            self.push_sql(if o.descending { " DESC" } else { " ASC" });
            self.push_sql(match o.nulls {
                Nulls::First => " NULLS FIRST",
                Nulls::Last => " NULLS LAST",
                Nulls::Never => "",
            });
        }
    }

    /// `LIMIT … OFFSET …` as integer literals: they come from `u64`s, not
    /// user text, and a bound LIMIT makes SQLite re-prepare the statement
    /// on every run (its plan depends on the value).
    pub(crate) fn push_limit_offset(&mut self, limit: Option<u64>, offset: Option<u64>) {
        let clamp = |n: u64| n.min(i64::MAX as u64);
        match (limit, offset) {
            (None, None) => {}
            (Some(l), None) => self.push_sql(&format!(" LIMIT {}", clamp(l))),
            (limit, Some(o)) => {
                match (limit, self.dialect) {
                    (Some(l), _) => self.push_sql(&format!(" LIMIT {}", clamp(l))),
                    // SQLite needs a LIMIT before OFFSET; -1 is "no limit".
                    (None, Dialect::Sqlite) => self.push_sql(" LIMIT -1"),
                    (None, Dialect::Postgres) => {}
                }
                self.push_sql(&format!(" OFFSET {}", clamp(o)));
            }
        }
    }
}

/// A LIKE pattern ending in a lone `\` gets it doubled, so it matches a
/// literal backslash on both backends (PostgreSQL would reject it).
fn balance_trailing_escape(pattern: &str) -> String {
    let trailing = pattern.chars().rev().take_while(|&c| c == '\\').count();
    let mut out = pattern.to_owned();
    if trailing % 2 == 1 {
        out.push('\\');
    }
    out
}

/// Translates a LIKE pattern (`%`, `_`, `\` escapes) to an equivalent GLOB
/// pattern (`*`, `?`, `[x]` for literal specials).
fn like_to_glob(like: &str) -> String {
    let mut out = String::with_capacity(like.len() + 4);
    let mut chars = like.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(literal) => push_glob_literal(&mut out, literal),
                None => push_glob_literal(&mut out, '\\'),
            },
            '%' => out.push('*'),
            '_' => out.push('?'),
            other => push_glob_literal(&mut out, other),
        }
    }
    out
}

fn push_glob_literal(out: &mut String, c: char) {
    match c {
        '*' => out.push_str("[*]"),
        '?' => out.push_str("[?]"),
        '[' => out.push_str("[[]"),
        other => out.push(other),
    }
}

/// The values of an IN list as a JSON array, when every one of them has a
/// faithful JSON form: bytes as hex strings (and SQLite's UUID blobs), UUIDs
/// as text on PostgreSQL, non-finite floats as PostgreSQL's float spellings
/// or SQLite's JSON5 `Infinity`.
fn json_array(list: &[Operand], dialect: Dialect) -> Option<String> {
    let mut out = String::from("[");
    for (i, op) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Operand::Value(v) = op else { return None };
        match v {
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::I16(n) => out.push_str(&n.to_string()),
            Value::I32(n) => out.push_str(&n.to_string()),
            Value::I64(n) => out.push_str(&n.to_string()),
            Value::F32(f) => push_json_float(&mut out, f64::from(*f), dialect)?,
            Value::F64(f) => push_json_float(&mut out, *f, dialect)?,
            Value::Text(s) => push_json_string(&mut out, s),
            Value::Blob(b) => push_json_string(&mut out, &hex(b)),
            #[cfg(feature = "uuid")]
            Value::Uuid(u) => match dialect {
                Dialect::Postgres => push_json_string(&mut out, &u.hyphenated().to_string()),
                Dialect::Sqlite => push_json_string(&mut out, &hex(u.as_bytes())),
            },
            #[cfg(feature = "chrono")]
            Value::Timestamp(t) => push_json_string(
                &mut out,
                &t.format(crate::value::time_formats::TIMESTAMP).to_string(),
            ),
            #[cfg(feature = "chrono")]
            Value::TimestampTz(t) => push_json_string(
                &mut out,
                &t.format(crate::value::time_formats::TIMESTAMPTZ)
                    .to_string(),
            ),
            #[cfg(feature = "chrono")]
            Value::Date(d) => push_json_string(
                &mut out,
                &d.format(crate::value::time_formats::DATE).to_string(),
            ),
            #[cfg(feature = "chrono")]
            Value::Time(t) => push_json_string(
                &mut out,
                &t.format(crate::value::time_formats::TIME).to_string(),
            ),
            _ => return None,
        }
    }
    out.push(']');
    Some(out)
}

/// The values of an IN list as a PostgreSQL array literal (`{1,2,3}`,
/// `{"a","b\"c"}`), when each is a bool, an integer, text or a UUID:
/// types whose text form the server reads back exactly. Other lists keep
/// their per-value binds (or their JSON form past
/// [`IN_LIST_INLINE_MAX`]).
fn pg_array_literal(list: &[Operand]) -> Option<String> {
    let mut out = String::with_capacity(2 + list.len() * 8);
    out.push('{');
    for (i, op) in list.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Operand::Value(v) = op else { return None };
        match v {
            Value::Null => out.push_str("NULL"),
            Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            Value::I16(n) => out.push_str(&n.to_string()),
            Value::I32(n) => out.push_str(&n.to_string()),
            Value::I64(n) => out.push_str(&n.to_string()),
            Value::Text(s) => {
                out.push('"');
                for c in s.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
            #[cfg(feature = "uuid")]
            Value::Uuid(u) => out.push_str(&u.hyphenated().to_string()),
            _ => return None,
        }
    }
    out.push('}');
    Some(out)
}

fn push_json_float(out: &mut String, f: f64, dialect: Dialect) -> Option<()> {
    if f.is_finite() {
        out.push_str(&format!("{f:e}"));
        return Some(());
    }
    match (dialect, f.is_nan(), f > 0.0) {
        (Dialect::Postgres, true, _) => push_json_string(out, "NaN"),
        (Dialect::Postgres, false, true) => push_json_string(out, "Infinity"),
        (Dialect::Postgres, false, false) => push_json_string(out, "-Infinity"),
        // SQLite cannot store NaN: leave the list to per-value binds, which
        // refuse it with a typed error.
        (Dialect::Sqlite, true, _) => return None,
        (Dialect::Sqlite, false, true) => out.push_str("Infinity"),
        (Dialect::Sqlite, false, false) => out.push_str("-Infinity"),
    }
    Some(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_array_literals_quote_text_and_refuse_other_types() {
        let v = |v: Value| Operand::Value(v);
        assert_eq!(
            pg_array_literal(&[v(Value::I64(1)), v(Value::Null), v(Value::I64(-3))]).as_deref(),
            Some("{1,NULL,-3}")
        );
        assert_eq!(
            pg_array_literal(&[
                v(Value::Text(r#"a "q" \ b"#.into())),
                v(Value::Text("NULL".into()))
            ])
            .as_deref(),
            Some(r#"{"a \"q\" \\ b","NULL"}"#)
        );
        assert_eq!(pg_array_literal(&[v(Value::F64(0.1))]), None);
        assert_eq!(pg_array_literal(&[v(Value::Blob(vec![1]))]), None);
    }

    #[test]
    fn glob_translation() {
        assert_eq!(like_to_glob("%a_b%"), "*a?b*");
        assert_eq!(like_to_glob(r"50\%\_x\\"), r"50%_x\");
        assert_eq!(like_to_glob("*?["), "[*][?][[]");
        assert_eq!(like_to_glob(r"end\"), r"end\");
    }

    #[test]
    fn trailing_escape_is_balanced() {
        assert_eq!(balance_trailing_escape(r"a\"), r"a\\");
        assert_eq!(balance_trailing_escape(r"a\\"), r"a\\");
        assert_eq!(balance_trailing_escape("a"), "a");
    }

    #[test]
    fn json_arrays() {
        let list = vec![
            Operand::Value(Value::Text("q\"\\\n".into())),
            Operand::Value(Value::I64(-5)),
            Operand::Value(Value::F64(1.5)),
        ];
        assert_eq!(
            json_array(&list, Dialect::Sqlite).unwrap(),
            r#"["q\"\\\u000a",-5,1.5e0]"#
        );
        let nan = [Operand::Value(Value::F64(f64::NAN))];
        assert!(json_array(&nan, Dialect::Sqlite).is_none());
        assert_eq!(json_array(&nan, Dialect::Postgres).unwrap(), r#"["NaN"]"#);
        let blob = [Operand::Value(Value::Blob(vec![1, 0xab]))];
        assert_eq!(json_array(&blob, Dialect::Sqlite).unwrap(), r#"["01ab"]"#);
        let column = [Operand::Column {
            table: "t",
            name: "c",
        }];
        assert!(json_array(&column, Dialect::Postgres).is_none());
    }

    #[test]
    fn empty_and_or() {
        let mut w = SqlWriter::new(Dialect::Sqlite);
        w.push_condition(&Node::And(vec![]));
        w.push_sql(" ");
        w.push_condition(&Node::Or(vec![]));
        assert_eq!(w.finish().0, "(1 = 1) (1 = 0)");
    }
}
