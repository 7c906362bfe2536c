use sylvan::Model;

#[derive(Model)]
struct Author {
    #[model(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Book {
    #[model(primary_key)]
    id: i64,
    #[model(foreign_key = Author)]
    author_id: i64,
}

#[derive(Model)]
struct Member {
    #[model(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Loan {
    #[model(primary_key)]
    id: i64,
    #[model(foreign_key = Book)]
    book_id: i64,
    #[model(foreign_key = Member)]
    member_id: Option<i64>,
}

fn main() {
    // The second step must start at Book, where the first one ends.
    let _ = Loan::BOOK.then(Loan::MEMBER);
}
