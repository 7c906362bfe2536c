//! The reading of migration files (the `-- down` split, the no-transaction
//! marker, transaction control statements, statement splitting): the text
//! of `derive/src/migration_text.rs`, which `embed_migrations!` includes too.

include!("../../derive/src/migration_text.rs");

#[cfg(test)]
mod tests {
    use super::*;

    fn control(sql: &str) -> Option<String> {
        transaction_control(sql).map(|(_, s)| s)
    }

    #[test]
    fn transaction_control_statements_are_found() {
        for (sql, found) in [
            ("COMMIT", "COMMIT"),
            (
                "CREATE TABLE a (x INT);\ncommit;\nCREATE TABLE b (x INT);",
                "commit",
            ),
            ("BEGIN; CREATE TABLE a (x INT); END;", "BEGIN"),
            ("CREATE TABLE a (x INT); END TRANSACTION", "END TRANSACTION"),
            (
                "start  transaction isolation level serializable",
                "start transaction isolation level serializable",
            ),
            ("SELECT 1; ROLLBACK", "ROLLBACK"),
            ("SELECT 1; ABORT;", "ABORT"),
            ("SAVEPOINT s; SELECT 1; RELEASE s", "SAVEPOINT s"),
            ("SELECT 1; RELEASE SAVEPOINT s", "RELEASE SAVEPOINT s"),
            ("ROLLBACK TO SAVEPOINT s", "ROLLBACK TO SAVEPOINT s"),
            ("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION 'x'"),
            ("COMMIT PREPARED 'x'", "COMMIT PREPARED 'x'"),
            (
                "/* c */ -- c\n  Commit /* trailing */ ;",
                "Commit /* trailing */",
            ),
            // After a string with '' and a quoted identifier with "".
            ("INSERT INTO t VALUES ('it''s; COMMIT'); COMMIT", "COMMIT"),
            ("SELECT \"a;\"\"b\"; COMMIT", "COMMIT"),
            // An E'' string's \' does not end it.
            (r"SELECT E'\'; COMMIT; --'; COMMIT", "COMMIT"),
            // With standard_conforming_strings off, '\'' is one string;
            // with it on, COMMIT runs: every reading is checked.
            (r"SELECT '\'; COMMIT; --'", "COMMIT"),
            // SQLite ends a comment at the first */; PostgreSQL nests.
            ("/* /* */ COMMIT; -- */", "COMMIT"),
            // A COMMIT inside a SQLite trigger body is still one.
            (
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN COMMIT; END",
                "COMMIT",
            ),
            // Dollar quotes end at their own tag.
            ("DO $a$ SELECT $$x$$ $a$; COMMIT", "COMMIT"),
        ] {
            let got = control(sql).unwrap_or_else(|| panic!("not found in {sql:?}"));
            assert_eq!(got, found, "{sql:?}");
        }
    }

    #[test]
    fn transaction_words_in_bodies_strings_and_comments_are_not_statements() {
        for sql in [
            "DO $$ BEGIN PERFORM 1; COMMIT; END $$;",
            "DO $body$ BEGIN\n  RAISE NOTICE 'x';\nEND\n$body$ LANGUAGE plpgsql;",
            "CREATE FUNCTION f() RETURNS void AS $$ BEGIN ROLLBACK; END; $$ LANGUAGE plpgsql;",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
            "CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET x = CASE WHEN 1 THEN 2 END; \
             SELECT RAISE(ROLLBACK, 'no'); END; CREATE TABLE z (x INT);",
            "CREATE TEMP TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN INSERT INTO b VALUES (1); END",
            "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW WHEN (OLD.begin <> NEW.begin) \
             EXECUTE FUNCTION f(); CREATE TABLE z (x INT); END_OF_NOTHING;",
            "INSERT INTO t VALUES ('; COMMIT'), ('BEGIN'), (E'\\'; END; ')",
            "-- COMMIT;\nSELECT 1; /* ROLLBACK; */ SELECT \"commit\"; SELECT `end`, [begin]",
            "CREATE TABLE \"BEGIN\" (\"END\" INT); CREATE INDEX i ON \"BEGIN\" (\"END\")",
            "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
            "SELECT $1; SELECT a$b FROM t",
            "UPDATE t SET state = 'commit' WHERE kind = 'begin'",
            "",
            "-- only a comment",
        ] {
            assert_eq!(control(sql), None, "{sql:?}");
        }
    }

    #[test]
    fn statements_split_as_postgres_reads_them() {
        let sql = "CREATE TABLE a (x TEXT DEFAULT ';');\n\
                   -- a comment; with a semicolon\n\
                   DO $$ BEGIN PERFORM 1; END $$;\n\
                   CREATE INDEX CONCURRENTLY i ON a (x)";
        assert_eq!(
            split_statements(sql, POSTGRES_LEXING),
            [
                "CREATE TABLE a (x TEXT DEFAULT ';')",
                "DO $$ BEGIN PERFORM 1; END $$",
                "CREATE INDEX CONCURRENTLY i ON a (x)",
            ]
        );
    }

    #[test]
    fn a_column_named_begin_opens_no_body() {
        let sql = "CREATE TRIGGER t BEFORE UPDATE ON a FOR EACH ROW WHEN (OLD.begin <> NEW.begin) \
                   EXECUTE FUNCTION f(); COMMIT;";
        assert_eq!(control(sql).as_deref(), Some("COMMIT"));
        assert_eq!(split_statements(sql, POSTGRES_LEXING).len(), 2);
    }
}
