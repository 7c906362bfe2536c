use sylvan::Database;

#[sylvan::test]
async fn no_database() {}

#[sylvan::test]
async fn borrowed(db: &Database) {
    let _ = db;
}

#[sylvan::test]
async fn two(db: Database, other: Database) {
    let _ = (db, other);
}

fn main() {}
