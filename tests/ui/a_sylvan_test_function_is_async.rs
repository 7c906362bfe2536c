use sylvan::Database;

#[sylvan::test]
fn lists_books(db: Database) {
    let _ = db;
}

fn main() {}
