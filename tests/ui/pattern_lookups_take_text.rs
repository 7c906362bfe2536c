use sylvan::Model;

#[derive(Model)]
struct User {
    #[model(primary_key)]
    id: i64,
    name: String,
}

fn main() {
    let _ = User::NAME.icontains(42);
}
