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
    // A plain query has no groups to order by an aggregate.
    let _ = Author::objects().order_by(Book::AUTHOR.count().desc());
}
