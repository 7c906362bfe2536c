use sylvan::{FieldType, Model};

#[derive(Clone, Copy, FieldType)]
struct PostId(i64);

#[derive(Model)]
struct Post {
    #[model(primary_key)]
    id: PostId,
}

fn main() {
    let _ = Post::ID.eq(3);
}
