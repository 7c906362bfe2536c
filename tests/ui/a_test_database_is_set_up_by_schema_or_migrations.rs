use sylvan::Database;

fn books() -> sylvan::Schema {
    sylvan::Schema::new()
}

#[sylvan::test(schema = books, migrations = "tests/migrations")]
async fn both(db: Database) {
    let _ = db;
}

fn main() {}
