use sylvan::Model;

#[derive(Model)]
struct Membership {
    #[model(primary_key)]
    user_id: i64,
    #[model(primary_key)]
    group_id: i64,
}

fn main() {}
