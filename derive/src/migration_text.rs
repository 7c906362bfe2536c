// Reading migration files: one source for both readers. The `sylvan`
// library includes this file (`include!` in src/migrate/text.rs) for
// `Migration::parse`, `Migrations::from_dir` and the checks run before any
// migration is applied; `embed_migrations!` includes it
// (derive/src/migrations.rs) to refuse the same files at compile time.
// The proc-macro crate cannot depend on the library, hence the include.
// Plain `std` only, and no `crate::` paths: it compiles in both crates.
//
// The lexer follows PostgreSQL's and SQLite's: `--` and `/* */` comments
// (nested on PostgreSQL), '…' strings with '' (and, in E'…' strings or
// with standard_conforming_strings off, backslash escapes), "…", `…` and
// […] quoted identifiers, $tag$…$tag$ bodies. Where the two servers, or
// one server's settings, read a text differently, every reading is
// checked.

/// The first line of a migration that runs outside a transaction.
pub(crate) const NO_TRANSACTION_MARKER: &str = "-- sylvan:no-transaction";

/// Splits a migration file at its `-- down` line.
pub(crate) fn split_down(text: &str) -> (&str, Option<&str>) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().eq_ignore_ascii_case("-- down") {
            return (&text[..offset], Some(&text[offset + line.len()..]));
        }
        offset += line.len();
    }
    (text, None)
}

/// True when the up section starts with [`NO_TRANSACTION_MARKER`].
pub(crate) fn is_no_transaction(up: &str) -> bool {
    up.lines()
        .next()
        .is_some_and(|line| line.trim().eq_ignore_ascii_case(NO_TRANSACTION_MARKER))
}

/// The directive a line holds: the lowercased word after `-- sylvan:`.
pub(crate) fn directive(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let prefix = trimmed.get(..10)?;
    prefix
        .eq_ignore_ascii_case("-- sylvan:")
        .then(|| trimmed[10..].trim().to_ascii_lowercase())
}

/// The dialect section directives: `-- sylvan:postgres`, `-- sylvan:sqlite`.
pub(crate) const DIALECTS: [&str; 2] = ["postgres", "sqlite"];

/// Marks a file written by `MakeMigrations`.
pub(crate) const GENERATED: &str = "generated";

/// Asks the SQLite runner to turn `PRAGMA foreign_keys` off around the
/// migration's transaction (a table rebuild must not cascade deletes).
pub(crate) const SQLITE_FOREIGN_KEYS_OFF: &str = "sqlite-foreign-keys-off";

/// Opens the schema snapshot, the file's last lines.
pub(crate) const STATE: &str = "state";

/// True when the up section's header (the lines before its first dialect
/// section) holds the directive `name`.
pub(crate) fn has_header_directive(up: &str, name: &str) -> bool {
    for line in up.lines() {
        match directive(line) {
            Some(d) if DIALECTS.contains(&d.as_str()) => return false,
            Some(d) if d == name => return true,
            _ => {}
        }
    }
    false
}

/// The text of `section` that runs on `dialect`: `None` when it has no
/// dialect sections (all of it runs on every backend); otherwise the text
/// with every line outside that dialect's section blanked, so that line
/// numbers in errors still point into the file.
pub(crate) fn dialect_text(section: &str, dialect: &str) -> Option<String> {
    if !section
        .lines()
        .any(|l| directive(l).is_some_and(|d| DIALECTS.contains(&d.as_str())))
    {
        return None;
    }
    let mut out = String::with_capacity(section.len());
    let mut inside = false;
    for line in section.split_inclusive('\n') {
        if let Some(d) = directive(line) {
            if DIALECTS.contains(&d.as_str()) || d == STATE {
                inside = d == dialect;
            }
            out.push('\n');
            continue;
        }
        if inside {
            out.push_str(line);
        } else if line.ends_with('\n') {
            out.push('\n');
        }
    }
    Some(out)
}

/// The schema snapshot: the lines after `-- sylvan:state` (without their
/// `--`), with the file line number of the first, if the file has one.
pub(crate) fn state_lines(up: &str, down: Option<&str>) -> Option<(usize, Vec<String>)> {
    let down_line = up.matches('\n').count() + 2;
    for (first_line, text) in [(1, Some(up)), (down_line, down)] {
        let Some(text) = text else { continue };
        let mut lines = text.lines().enumerate();
        while let Some((n, line)) = lines.next() {
            if directive(line).as_deref() == Some(STATE) {
                let body = lines
                    .map(|(_, l)| {
                        let l = l.trim();
                        l.strip_prefix("--").unwrap_or(l).trim().to_owned()
                    })
                    .collect();
                return Some((first_line + n + 1, body));
            }
        }
    }
    None
}

/// Checks the `-- sylvan:` directives of a section: where each may stand.
fn check_directives(
    section: &str,
    text: &str,
    first_line: usize,
    last_section: bool,
) -> Result<(), String> {
    let mut seen: Vec<String> = Vec::new();
    let mut in_dialect = false;
    let mut in_state = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let line_no = first_line + n;
        if in_state {
            if (!trimmed.is_empty() && !trimmed.starts_with("--")) || directive(line).is_some() {
                return Err(format!(
                    "line {line_no}: after `-- sylvan:{STATE}` only the snapshot's comment lines \
                     may follow, found `{trimmed}`"
                ));
            }
            continue;
        }
        let Some(d) = directive(line) else {
            continue;
        };
        let ok = match d.as_str() {
            "no-transaction" => section == "up" && n == 0,
            SQLITE_FOREIGN_KEYS_OFF if seen.iter().any(|s| s == "no-transaction") => {
                return Err(format!(
                    "line {line_no}: `{trimmed}` needs a transaction (it checks the foreign \
                     keys before COMMIT), which `{NO_TRANSACTION_MARKER}` turns off: use one \
                     or the other"
                ));
            }
            GENERATED | SQLITE_FOREIGN_KEYS_OFF => section == "up" && !in_dialect,
            "postgres" | "sqlite" => !seen.contains(&d),
            STATE => last_section && !seen.iter().any(|s| s == STATE),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "line {line_no}: `{trimmed}` is not a directive Sylvan knows here; they are \
                 `{NO_TRANSACTION_MARKER}` (as the file's first line), `-- sylvan:{GENERATED}` and \
                 `-- sylvan:{SQLITE_FOREIGN_KEYS_OFF}` (in the up section before its dialect \
                 sections), `-- sylvan:postgres` and `-- sylvan:sqlite` (once per section) and \
                 `-- sylvan:{STATE}` (once, ending the file)"
            ));
        }
        if DIALECTS.contains(&d.as_str()) {
            in_dialect = true;
        }
        in_state = d == STATE;
        seen.push(d);
    }
    if in_dialect {
        // SQL before the first dialect section would run nowhere.
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if directive(line).is_some_and(|d| DIALECTS.contains(&d.as_str())) {
                break;
            }
            if !trimmed.is_empty() && !trimmed.starts_with("--") {
                unreachable_section(first_line + n)?;
            }
        }
    }
    Ok(())
}

fn unreachable_section(line: usize) -> Result<(), String> {
    Err(format!(
        "line {line}: SQL outside any `-- sylvan:postgres` / `-- sylvan:sqlite` section of a \
         section that has them would run on no backend; move it into one (or both)"
    ))
}

/// Checks a migration's sections: no statement may control the transaction
/// (Sylvan runs each migration in a transaction of its own, or in none when
/// asked, and holds the migration lock meanwhile), and directives stand
/// where they mean something (see [`check_directives`]). The message names
/// the line and the statement; the caller adds the file.
pub(crate) fn check_migration_text(up: &str, down: Option<&str>) -> Result<(), String> {
    let down_line = up.matches('\n').count() + 2;
    for (section, first_line, text) in [("up", 1, Some(up)), ("down", down_line, down)] {
        let Some(text) = text else { continue };
        let last_section = section == "down" || down.is_none();
        check_directives(section, text, first_line, last_section)?;
        if let Some((offset, statement)) = transaction_control(text) {
            let line = first_line + text[..offset].matches('\n').count();
            return Err(format!(
                "line {line}: `{statement}` controls the transaction, which Sylvan owns: each \
                 migration runs in a transaction of its own while holding the migration lock, \
                 so a COMMIT, BEGIN, END, ROLLBACK, ABORT, SAVEPOINT or RELEASE would end it \
                 early or break its all-or-nothing. Remove it; for a migration that cannot run \
                 in a transaction (CREATE INDEX CONCURRENTLY, VACUUM), make the file's first \
                 line `{NO_TRANSACTION_MARKER}`"
            ));
        }
    }
    Ok(())
}

/// How a server reads SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lexing {
    /// `/* /* */ */` is one comment (PostgreSQL), not one and a half (SQLite).
    pub(crate) nested_comments: bool,
    /// `\` escapes in plain '…' strings (PostgreSQL with
    /// standard_conforming_strings off).
    pub(crate) backslash_strings: bool,
}

/// PostgreSQL with its default settings.
pub(crate) const POSTGRES_LEXING: Lexing = Lexing {
    nested_comments: true,
    backslash_strings: false,
};

/// Every reading checked for transaction control.
const ALL_LEXINGS: [Lexing; 4] = [
    POSTGRES_LEXING,
    Lexing {
        nested_comments: false,
        backslash_strings: false,
    },
    Lexing {
        nested_comments: true,
        backslash_strings: true,
    },
    Lexing {
        nested_comments: false,
        backslash_strings: true,
    },
];

/// The first statement that controls the transaction, under any reading of
/// the text: its byte offset and its text (shortened).
pub(crate) fn transaction_control(sql: &str) -> Option<(usize, String)> {
    ALL_LEXINGS
        .iter()
        .filter_map(|&lexing| {
            scan(sql, lexing)
                .into_iter()
                .find(|s| controls_transaction(&s.words, s.nested))
        })
        .min_by_key(|s| s.start)
        .map(|s| (s.start, shorten(sql[s.start..s.end].trim())))
}

/// The statements of a script, as `lexing` reads it, without their `;`.
pub(crate) fn split_statements(sql: &str, lexing: Lexing) -> Vec<&str> {
    scan(sql, lexing)
        .into_iter()
        .filter(|s| !s.nested)
        .map(|s| sql[s.start..s.end].trim())
        .filter(|s| !s.is_empty())
        .collect()
}

fn shorten(statement: &str) -> String {
    let one_line: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn controls_transaction(words: &[String], nested: bool) -> bool {
    let first = words.first().map_or("", String::as_str);
    let second = words.get(1).map_or("", String::as_str);
    match first {
        // Inside a trigger or BEGIN ATOMIC body these are the body's own
        // delimiters, not statements.
        "BEGIN" | "END" => !nested,
        "COMMIT" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE" => true,
        "START" | "PREPARE" => second == "TRANSACTION",
        _ => false,
    }
}

/// One statement found by [`scan`].
#[derive(Debug)]
struct Scanned {
    /// Byte range, from its first token to before its `;`.
    start: usize,
    end: usize,
    /// Its first words, upper case.
    words: Vec<String>,
    /// A statement inside a trigger or `BEGIN ATOMIC` body (it is part of
    /// the enclosing statement, reported separately for the check only).
    nested: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_byte(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// Splits `sql` into statements. A `;` ends a statement unless it is
/// inside parentheses (`CREATE RULE … DO (…; …)`) or inside the body of a
/// `CREATE TRIGGER … BEGIN … END` or `CREATE FUNCTION … BEGIN ATOMIC … END`
/// (counting `CASE … END` inside it); the statements of such a body are
/// also returned, marked nested.
fn scan(sql: &str, lexing: Lexing) -> Vec<Scanned> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    // The statement being read.
    let mut start: Option<usize> = None;
    let mut words: Vec<String> = Vec::new();
    let mut parens = 0usize;
    let mut block = 0usize;
    // A statement inside a block body.
    let mut inner: Option<Scanned> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let token_start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 1;
            i += 2;
            while i < b.len() && depth > 0 {
                if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                } else if lexing.nested_comments && b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            continue;
        }
        let mut word: Option<String> = None;
        match c {
            b';' if parens == 0 && block == 0 => {
                if let Some(s) = start.take() {
                    out.push(Scanned {
                        start: s,
                        end: token_start,
                        words: std::mem::take(&mut words),
                        nested: false,
                    });
                }
                i += 1;
                continue;
            }
            b';' => {
                if let Some(s) = inner.take() {
                    out.push(Scanned {
                        end: token_start,
                        ..s
                    });
                }
                i += 1;
                continue;
            }
            b'\'' => {
                let escapes = lexing.backslash_strings
                    || (i > 0
                        && b[i - 1].eq_ignore_ascii_case(&b'e')
                        && (i < 2 || !is_ident_byte(b[i - 2])));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                    } else if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                        } else {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            b'"' | b'`' | b'[' => {
                let close = match c {
                    b'[' => b']',
                    other => other,
                };
                i += 1;
                while i < b.len() {
                    if b[i] == close {
                        if close != b']' && b.get(i + 1) == Some(&close) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' if i == 0 || !is_ident_byte(b[i - 1]) => {
                // $tag$ … $tag$, or a $1 / $name parameter.
                let tag_len = b[i + 1..]
                    .iter()
                    .take_while(|&&x| is_ident_byte(x) && x != b'$')
                    .count();
                let tag_end = i + 1 + tag_len;
                let valid_tag = tag_len == 0 || is_ident_start(b[i + 1]);
                if valid_tag && b.get(tag_end) == Some(&b'$') {
                    let tag = &sql[i..=tag_end];
                    i = match sql[tag_end + 1..].find(tag) {
                        Some(n) => tag_end + 1 + n + tag.len(),
                        None => b.len(),
                    };
                } else {
                    i = tag_end;
                }
            }
            b'(' => {
                parens += 1;
                i += 1;
            }
            b')' => {
                parens = parens.saturating_sub(1);
                i += 1;
            }
            x if is_ident_start(x) => {
                while i < b.len() && is_ident_byte(b[i]) {
                    i += 1;
                }
                word = Some(sql[token_start..i].to_ascii_uppercase());
            }
            _ => {
                i += 1;
            }
        }
        if start.is_none() {
            start = Some(token_start);
        }
        if let Some(w) = word {
            if block > 0 {
                match inner.as_mut() {
                    Some(s) => {
                        if s.words.len() < 4 {
                            s.words.push(w.clone());
                        }
                    }
                    None => {
                        inner = Some(Scanned {
                            start: token_start,
                            end: i,
                            words: vec![w.clone()],
                            nested: true,
                        });
                    }
                }
            }
            // `old.begin`: a column, not a keyword.
            let qualified = sql[..token_start].trim_end().ends_with('.');
            let head = words.first().map_or("", String::as_str);
            let is_body_statement = !qualified
                && head == "CREATE"
                && words
                    .iter()
                    .take(5)
                    .any(|x| matches!(x.as_str(), "TRIGGER" | "FUNCTION" | "PROCEDURE"));
            if is_body_statement {
                match w.as_str() {
                    "BEGIN" if block == 0 => {
                        let trigger = words.iter().take(5).any(|x| x == "TRIGGER");
                        let atomic = sql[i..]
                            .trim_start()
                            .get(..6)
                            .is_some_and(|x| x.eq_ignore_ascii_case("atomic"));
                        if trigger || atomic {
                            block = 1;
                            inner = None;
                        }
                    }
                    "CASE" if block > 0 => block += 1,
                    "END" if block > 0 => {
                        block -= 1;
                        if block == 0 {
                            if let Some(s) = inner.take() {
                                out.push(Scanned {
                                    end: token_start,
                                    ..s
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            if words.len() < 8 {
                words.push(w);
            }
        }
    }
    if let Some(s) = inner.take() {
        out.push(Scanned { end: b.len(), ..s });
    }
    if let Some(s) = start {
        out.push(Scanned {
            start: s,
            end: b.len(),
            words,
            nested: false,
        });
    }
    out
}
