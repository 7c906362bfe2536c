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
    // Books per author is `Book::AUTHOR.count()`, an aggregate of Author;
    // `Book::ID.count()` counts books, not authors.
    let _ = Author::objects().annotate(Book::ID.count());
}
