use sylvan::Model;

#[derive(Model)]
struct Country {
    #[model(primary_key, auto)]
    code: String,
    name: String,
}

fn main() {}
