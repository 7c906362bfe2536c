use sylvan::Model;

#[derive(Model)]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model)]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: i64,
}

fn main() {
    // A condition on an aggregate is a `Having`, not a `Condition`.
    let _ = Author::objects().filter(Book::AUTHOR.count().gt(3));
}
