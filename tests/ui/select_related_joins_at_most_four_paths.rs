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
    let _ = Loan::objects()
        .select_related(Loan::BOOK)
        .select_related(Loan::MEMBER)
        .select_related(Loan::BOOK.then(Book::AUTHOR))
        .select_related(Loan::BOOK)
        .select_related(Loan::MEMBER);
}
