//! Small lexical helpers over raw SQL text: the leading keyword of a
//! statement, `$N` placeholders rewritten for SQLite or counted.

use std::borrow::Cow;

/// Length of the comment or whitespace run starting at `i`, or 0.
fn skip_trivia(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    loop {
        match bytes.get(j) {
            Some(c) if c.is_ascii_whitespace() => j += 1,
            Some(b'-') if bytes.get(j + 1) == Some(&b'-') => {
                while j < bytes.len() && bytes[j] != b'\n' {
                    j += 1;
                }
            }
            Some(b'/') if bytes.get(j + 1) == Some(&b'*') => {
                j += 2;
                while j < bytes.len() && !(bytes[j] == b'*' && bytes.get(j + 1) == Some(&b'/')) {
                    j += 1;
                }
                j = (j + 2).min(bytes.len());
            }
            _ => return j - i,
        }
    }
}

/// The statement's first keyword as written (empty if none); compare it
/// with `eq_ignore_ascii_case`.
pub(crate) fn first_keyword(sql: &str) -> &str {
    let bytes = sql.as_bytes();
    let start = skip_trivia(bytes, 0);
    let len = bytes[start..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    &sql[start..start + len]
}

/// True when the statement's first keyword is one of `keywords` (upper case).
pub(crate) fn first_keyword_is(sql: &str, keywords: &[&str]) -> bool {
    let first = first_keyword(sql);
    keywords.iter().any(|k| k.eq_ignore_ascii_case(first))
}

/// Rewrites PostgreSQL-style `$N` placeholders to SQLite's `?N`, leaving
/// string literals, quoted identifiers and comments untouched. SQLite would
/// otherwise read `$1` as a *named* parameter and number it by first
/// appearance, so `$2 … $1` would bind in the wrong order.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn rewrite_placeholders_for_sqlite(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let trivia = skip_trivia(bytes, i);
        if trivia > 0 {
            i += trivia;
            continue;
        }
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = after_quoted(bytes, i, false),
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
                i += 1;
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                && (i == 0 || !is_ident_byte(bytes[i - 1])) =>
            {
                out.push_str(&sql[copied..i]);
                out.push('?');
                copied = i + 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied.min(sql.len())..]);
    Cow::Owned(out)
}

/// The index just past the quoted text (a string literal or quoted
/// identifier, a doubled quote standing for itself) that opens at `start`;
/// `escapes`: a backslash escapes the next byte (PostgreSQL's `E'…'`).
fn after_quoted(bytes: &[u8], start: usize, escapes: bool) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            break;
        }
        i += 1;
    }
    i + 1
}

/// The highest `$N` placeholder in a PostgreSQL statement (0 if none),
/// outside string literals (`'…'`, `E'…'` with its backslash escapes,
/// dollar-quoted `$tag$…$tag$`), quoted identifiers and comments: the
/// number of binds the statement takes, as the server counts them when it
/// prepares it.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn max_placeholder(sql: &str) -> usize {
    if !sql.contains('$') {
        return 0;
    }
    let bytes = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < bytes.len() {
        let trivia = skip_trivia(bytes, i);
        if trivia > 0 {
            i += trivia;
            continue;
        }
        let after_ident = i > 0 && is_ident_byte(bytes[i - 1]);
        match bytes[i] {
            quote @ (b'\'' | b'"') => {
                let escapes = quote == b'\''
                    && i > 0
                    && bytes[i - 1].eq_ignore_ascii_case(&b'e')
                    && !(i > 1 && is_ident_byte(bytes[i - 2]));
                i = after_quoted(bytes, i, escapes);
            }
            b'$' if !after_ident && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let n = sql[i + 1..i + 1 + digits]
                    .parse::<usize>()
                    .unwrap_or(usize::MAX);
                max = max.max(n);
                i += 1 + digits;
            }
            b'$' if !after_ident => {
                // A dollar quote `$tag$` (tag empty or an identifier): skip
                // to the same tag.
                let tag_len = bytes[i + 1..]
                    .iter()
                    .take_while(|b| is_ident_byte(**b))
                    .count();
                if bytes.get(i + 1 + tag_len) == Some(&b'$') {
                    let tag = &sql[i..i + tag_len + 2];
                    let body = i + tag.len();
                    i = sql[body..]
                        .find(tag)
                        .map_or(bytes.len(), |at| body + at + tag.len());
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    max
}

/// Statements that, as such, leave no session state behind (PostgreSQL);
/// the functions they call still may (see [`may_change_session`]).
const PLAIN_DML: &[&str] = &[
    "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE", "EXPLAIN",
];

/// Words whose presence in a raw statement means it may leave session
/// state behind even though it starts like plain DML: `set_config(…,
/// false)`, session advisory locks, `SELECT … INTO TEMP`, `pg_temp`,
/// dblink's named connections (PostgreSQL).
const SESSION_WORDS_PG: &[&str] = &["set_config", "advisory", "temp", "dblink"];
/// SQLite statements that change the connection's state: pragmas and
/// attached databases, and `CREATE TEMP …` (SQL functions cannot change
/// them); in a script, these words anywhere.
const SESSION_KEYWORDS_SQLITE: &[&str] = &["PRAGMA", "ATTACH", "DETACH"];
const SESSION_WORDS_SQLITE: &[&str] = &["temp", "pragma", "attach", "detach"];

/// True when a raw statement (or, with `script`, a script of several)
/// written by a user may change the state of the session it runs on — a
/// setting, the role, a temporary table, `LISTEN`, a session lock, a
/// prepared statement, an open transaction — so that its connection must
/// be reset before anyone else borrows it. Errs on the side of "may": a
/// false positive costs one reset, a false negative leaks state.
/// Statements Sylvan renders itself never change session state and are not
/// checked.
///
/// What it cannot see: a user-defined function called from plain DML that
/// changes session state inside its body (PostgreSQL).
pub(crate) fn may_change_session(sql: &str, postgres: bool, script: bool) -> bool {
    if postgres {
        script
            || !first_keyword_is(sql, PLAIN_DML)
            || contains_any_ignore_case(sql, SESSION_WORDS_PG)
    } else if script {
        contains_any_ignore_case(sql, SESSION_WORDS_SQLITE)
    } else {
        // One statement (SQLite prepares only one): its first keyword says
        // it all, so the common case costs no scan of the text.
        let first = first_keyword(sql);
        SESSION_KEYWORDS_SQLITE
            .iter()
            .any(|k| k.eq_ignore_ascii_case(first))
            || (first.eq_ignore_ascii_case("CREATE") && contains_any_ignore_case(sql, &["temp"]))
    }
}

/// True when `hay` contains one of the lower-case ASCII `needles`, ignoring
/// ASCII case. This runs on every raw statement, so it makes one pass over
/// `hay` and compares the needles only where a byte is the first letter of
/// one of them (a bit set of those letters).
fn contains_any_ignore_case(hay: &str, needles: &[&str]) -> bool {
    let firsts = needles
        .iter()
        .filter_map(|n| n.as_bytes().first())
        .fold(0_u32, |set, b| set | letter_bit(*b));
    let hay = hay.as_bytes();
    for (i, b) in hay.iter().enumerate() {
        if firsts & letter_bit(*b) == 0 {
            continue;
        }
        for needle in needles {
            let needle = needle.as_bytes();
            if hay.len() - i >= needle.len()
                && hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
            {
                return true;
            }
        }
    }
    false
}

/// A bit per ASCII letter (either case); 0 for any other byte.
fn letter_bit(b: u8) -> u32 {
    let lower = b | 0x20;
    if lower.is_ascii_lowercase() {
        1 << (lower - b'a')
    } else {
        0
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        assert_eq!(first_keyword("  select 1"), "select");
        assert!(first_keyword_is(" begin;", &["START", "BEGIN"]));
        assert!(!first_keyword_is("BEGINNING", &["BEGIN"]));
        assert_eq!(first_keyword("-- c\n/* x */ WITH a AS (SELECT 1)"), "WITH");
        assert_eq!(first_keyword("(SELECT 1)"), "");
        assert_eq!(first_keyword(""), "");
    }

    #[test]
    fn session_changes() {
        for sql in [
            "SET search_path = x",
            "reset all",
            "LISTEN chan",
            "PREPARE p AS SELECT 1",
            "CREATE TEMP TABLE t (x int)",
            "SELECT set_config('app.user', '1', false)",
            "select PG_ADVISORY_LOCK(1)",
            "SELECT 1 INTO TEMPORARY t",
            "SET LOCAL x = 1; BEGIN",
            "DO $$ BEGIN PERFORM 1; END $$",
            "CALL p()",
        ] {
            assert!(may_change_session(sql, true, false), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "  insert into t values ($1)",
            "UPDATE t SET x = 1",
            "WITH a AS (SELECT 1) SELECT * FROM a",
        ] {
            assert!(!may_change_session(sql, true, false), "{sql}");
        }
        assert!(may_change_session(
            "PRAGMA foreign_keys = OFF",
            false,
            false
        ));
        assert!(may_change_session("create TeMp TABLE t (x)", false, false));
        assert!(may_change_session("ATTACH 'x.db' AS x", false, false));
        assert!(!may_change_session("SELECT 1", false, false));
        assert!(!may_change_session("CREATE TABLE t (x)", false, false));
        assert!(!may_change_session("SELECT 'tem'", false, false));
        assert!(may_change_session(
            "CREATE TABLE a (x); pragma x = 1",
            false,
            true
        ));
        assert!(!may_change_session(
            "CREATE TABLE a (x); INSERT INTO a VALUES (1)",
            false,
            true
        ));
        assert!(may_change_session("SELECT 1 -- temp", true, false));
        assert!(may_change_session("SELECT 1", true, true));
    }

    #[test]
    fn placeholders_are_counted_outside_literals() {
        assert_eq!(max_placeholder("SELECT 1"), 0);
        assert_eq!(max_placeholder("SELECT $1, $2 + $1"), 2);
        assert_eq!(max_placeholder("SELECT $10"), 10);
        assert_eq!(
            max_placeholder("SELECT '$3', \"$4\", $1 -- $5\n/* $6 */ , a$7"),
            1
        );
        assert_eq!(max_placeholder("SELECT E'it\\'s $3', $2"), 2);
        assert_eq!(max_placeholder("SELECT 'it''s $3', $1"), 1);
        assert_eq!(max_placeholder("DO $$ BEGIN PERFORM $9; END $$"), 0);
        assert_eq!(max_placeholder("SELECT $q$ $5 $q$ || $2"), 2);
        assert_eq!(max_placeholder("SELECT $1::text"), 1);
        assert_eq!(max_placeholder("SELECT 'unterminated $1"), 0);
    }

    #[test]
    fn rewrites_only_real_placeholders() {
        assert_eq!(
            rewrite_placeholders_for_sqlite("SELECT $1, '$2', \"$3\", $10 -- $4\n/* $5 */ ,a$6"),
            "SELECT ?1, '$2', \"$3\", ?10 -- $4\n/* $5 */ ,a$6"
        );
        assert_eq!(
            rewrite_placeholders_for_sqlite("SELECT 'it''s $1', $2"),
            "SELECT 'it''s $1', ?2"
        );
        assert!(matches!(
            rewrite_placeholders_for_sqlite("SELECT ?1"),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            rewrite_placeholders_for_sqlite("SELECT $name"),
            "SELECT $name"
        );
        assert_eq!(
            rewrite_placeholders_for_sqlite("SELECT 'unterminated $1"),
            "SELECT 'unterminated $1"
        );
    }
}
