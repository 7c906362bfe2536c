use sylvan::Database;

fn books() -> sylvan::Schema {
    sylvan::Schema::new()
}

#[sylvan::test(schemas = books)]
async fn misspelled(db: Database) {
    let _ = db;
}

#[sylvan::test(schema = books, backends(mysql))]
async fn unknown_backend(db: Database) {
    let _ = db;
}

#[sylvan::test(schema = "books")]
async fn schema_is_a_function(db: Database) {
    let _ = db;
}

fn main() {}
