use sylvan::Model;

struct Cache;

#[derive(Model)]
struct User {
    #[model(primary_key)]
    id: i64,
    #[model(skip)]
    cache: Cache,
}

fn main() {}
