use sylvan::Model;

#[derive(Model)]
struct User {
    #[model(primary_key)]
    id: i64,
    name: String,
}

#[derive(Model)]
struct Post {
    #[model(primary_key)]
    id: i64,
    title: String,
}

fn main() {
    let _ = User::objects().order_by(Post::TITLE.asc());
}
