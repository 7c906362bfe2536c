use sylvan::Model;

#[derive(Model)]
struct User {
    #[model(primary_key)]
    id: i64,
    age: i32,
}

fn main() {
    let _ = User::AGE.contains("1");
}
