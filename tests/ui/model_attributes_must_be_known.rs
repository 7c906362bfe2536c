use sylvan::Model;

#[derive(Model)]
#[model(tabel = "users")]
struct User {
    #[model(primary_key)]
    id: i64,
    #[model(colum = "full_name")]
    name: String,
}

fn main() {}
