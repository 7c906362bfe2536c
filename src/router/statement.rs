//! What the router knows of a statement: whether it is a plain read, and
//! the table it names first.
//!
//! Both come from a light scan of the SQL text (words outside string
//! literals, quoted identifiers and comments), not a parser. A mistake is
//! harmless either way: a read taken for a write runs on the primary, and a
//! write taken for a read is refused by the read-only replica (SQLSTATE
//! 25006) and re-run on the primary.

use std::borrow::Cow;

/// A statement on its way to a server, as a [`RoutingPolicy`](crate::RoutingPolicy)
/// sees it.
#[derive(Debug, Clone, Copy)]
pub struct Statement<'a> {
    sql: &'a str,
    read: bool,
}

impl<'a> Statement<'a> {
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn new(sql: &'a str, read: bool) -> Self {
        Statement { sql, read }
    }

    /// The SQL text (binds are never shown).
    pub fn sql(&self) -> &'a str {
        self.sql
    }

    /// True when Sylvan takes it for a plain read, which by default goes
    /// to a replica: first keyword `SELECT`, `VALUES`, `TABLE` or `SHOW`,
    /// or `WITH` without `INSERT`/`UPDATE`/`DELETE`/`MERGE`; no row lock
    /// (`FOR UPDATE`, `FOR SHARE`, …), no `SELECT … INTO`; and, for raw
    /// SQL, nothing that may change session state (`set_config`, advisory
    /// locks, temporary tables).
    pub fn is_read(&self) -> bool {
        self.read
    }

    /// The first table the statement names (`FROM`, `INSERT INTO`,
    /// `UPDATE`, `TABLE`), without schema or quotes; unquoted names in
    /// lower case, as PostgreSQL folds them. `None` when there is none
    /// (`SELECT 1`). A best guess from the text: in
    /// `SELECT extract(epoch FROM now())` it is `now`.
    pub fn table(&self) -> Option<Cow<'a, str>> {
        table_of(self.sql)
    }
}

/// One lexical token of SQL text outside literals and comments.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    Word(&'a str),
    Quoted(Cow<'a, str>),
    Punct(u8),
}

/// The tokens of `sql`: words, quoted identifiers and punctuation; string
/// literals (`'…'`, `E'…'`, `$tag$…$tag$`), placeholders and comments are
/// skipped.
fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'\'' => {
                let escapes = matches!(out.last(), Some(Token::Word(w)) if w.eq_ignore_ascii_case("E") && i > 0 && bytes[i - 1].is_ascii_alphabetic());
                if escapes {
                    out.pop();
                }
                i += 1;
                while i < bytes.len() {
                    if escapes && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                i = start;
                while i < bytes.len() {
                    if bytes[i] == b'"' {
                        if bytes.get(i + 1) == Some(&b'"') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                let raw = &sql[start..i.min(sql.len())];
                out.push(Token::Quoted(if raw.contains("\"\"") {
                    Cow::Owned(raw.replace("\"\"", "\""))
                } else {
                    Cow::Borrowed(raw)
                }));
                i += 1;
            }
            b'$' => {
                let tag_len = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let tag_end = i + 1 + tag_len;
                let is_tag = bytes.get(tag_end) == Some(&b'$')
                    && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                if is_tag {
                    let tag = &sql[i..=tag_end];
                    let body = tag_end + 1;
                    i = sql[body..]
                        .find(tag)
                        .map_or(sql.len(), |at| body + at + tag.len());
                } else {
                    i = tag_end; // a placeholder such as $1
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Token::Word(&sql[start..i]));
            }
            c if c.is_ascii_whitespace() || c.is_ascii_digit() => i += 1,
            c => {
                out.push(Token::Punct(c));
                i += 1;
            }
        }
    }
    out
}

fn word_is(token: Option<&Token<'_>>, words: &[&str]) -> bool {
    matches!(token, Some(Token::Word(w)) if words.iter().any(|k| k.eq_ignore_ascii_case(w)))
}

/// True when `sql` is a plain read (see [`Statement::is_read`], which
/// adds the session check for raw SQL).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn is_plain_read(sql: &str) -> bool {
    // Writes (a bulk INSERT may be long) are told apart without a scan.
    if !crate::backend::first_keyword_is(sql, &["SELECT", "VALUES", "TABLE", "SHOW", "WITH"]) {
        return false;
    }
    let tokens = tokens(sql);
    let first = tokens.first();
    let with = word_is(first, &["WITH"]);
    if !with && !word_is(first, &["SELECT", "VALUES", "TABLE", "SHOW"]) {
        return false;
    }
    for (i, token) in tokens.iter().enumerate() {
        if with && word_is(Some(token), &["INSERT", "UPDATE", "DELETE", "MERGE"]) {
            return false;
        }
        if word_is(Some(token), &["INTO"]) {
            return false;
        }
        if word_is(Some(token), &["FOR"])
            && word_is(tokens.get(i + 1), &["UPDATE", "SHARE", "NO", "KEY"])
        {
            return false;
        }
    }
    true
}

/// The first table `sql` names: see [`Statement::table`].
pub(crate) fn table_of(sql: &str) -> Option<Cow<'_, str>> {
    let tokens = tokens(sql);
    let starts_with_update = word_is(tokens.first(), &["UPDATE"]);
    let starts_with_table = word_is(tokens.first(), &["TABLE"]);
    let at = tokens.iter().enumerate().position(|(i, t)| {
        word_is(Some(t), &["FROM", "INTO"])
            && matches!(tokens.get(i + 1), Some(Token::Word(_) | Token::Quoted(_)))
            || (i == 0 && (starts_with_update || starts_with_table))
    })?;
    // The name, then `.name` parts: the last one is the table.
    let mut name = None;
    let mut j = at + 1;
    if word_is(tokens.get(j), &["ONLY"]) {
        j += 1;
    }
    loop {
        match tokens.get(j) {
            Some(Token::Word(w)) => name = Some(Cow::Owned(w.to_ascii_lowercase())),
            Some(Token::Quoted(q)) => name = Some(q.clone()),
            _ => return name,
        }
        if tokens.get(j + 1) != Some(&Token::Punct(b'.')) {
            return name;
        }
        j += 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_reads() {
        for sql in [
            "SELECT 1",
            "  select * from t where x = $1",
            "VALUES (1)",
            "TABLE t",
            "SHOW server_version",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "SELECT 'for update', \"into\" FROM t",
            "SELECT $$ delete $$, E'it\\'s INTO' FROM t -- FOR UPDATE",
            "SELECT updated_at, inserted FROM t",
            "/* INSERT */ SELECT nextval('s')",
        ] {
            assert!(is_plain_read(sql), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET x = 1",
            "DELETE FROM t",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "with x as (select 1) insert into t select * from x",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED",
            "SELECT * FROM t for share",
            "SELECT * INTO new_t FROM t",
            "CREATE TABLE t (x int)",
            "EXPLAIN ANALYZE DELETE FROM t",
            "BEGIN",
            "",
            "(SELECT 1)",
        ] {
            assert!(!is_plain_read(sql), "{sql}");
        }
    }

    #[test]
    fn first_table() {
        let t = |sql| table_of(sql).map(Cow::into_owned);
        assert_eq!(
            t("SELECT * FROM Items WHERE x = 1").as_deref(),
            Some("items")
        );
        assert_eq!(
            t(r#"SELECT "a"."x" FROM "public"."Odd""Name" AS a"#).as_deref(),
            Some("Odd\"Name")
        );
        assert_eq!(
            t(r#"SELECT COUNT(*) FROM (SELECT "item"."id" FROM "item") AS counted"#).as_deref(),
            Some("item")
        );
        assert_eq!(t("INSERT INTO log (x) VALUES ($1)").as_deref(), Some("log"));
        assert_eq!(t("UPDATE ONLY acct SET b = 1").as_deref(), Some("acct"));
        assert_eq!(t("DELETE FROM s.t").as_deref(), Some("t"));
        assert_eq!(t("TABLE things").as_deref(), Some("things"));
        assert_eq!(t("SELECT 1"), None);
        assert_eq!(t("SELECT 'FROM x'"), None);
    }
}
