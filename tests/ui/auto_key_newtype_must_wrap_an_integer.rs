use sylvan::{FieldType, Model};

#[derive(Clone, FieldType)]
struct Slug(String);

#[derive(Model)]
struct Page {
    #[model(primary_key, auto)]
    id: Slug,
}

fn main() {}
