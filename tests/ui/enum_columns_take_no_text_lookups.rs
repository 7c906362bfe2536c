use sylvan::{FieldType, Model};

#[derive(Clone, FieldType)]
enum Status {
    Draft,
    Published,
}

#[derive(Model)]
struct Post {
    #[model(primary_key)]
    id: i64,
    status: Status,
}

fn main() {
    let _ = Post::STATUS.icontains("draft");
}
