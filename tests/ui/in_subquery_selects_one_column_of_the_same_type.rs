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
    let authors = Author::objects().values((Author::ID, Author::NAME));
    let _ = Book::objects().filter(Book::AUTHOR_ID.in_subquery(authors));
}
