use sylvan::Model;

#[derive(Model)]
#[model(table = 5)]
struct User {
    #[model(primary_key = "yes")]
    id: i64,
    name: String,
}

fn main() {}
