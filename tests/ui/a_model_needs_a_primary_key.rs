use sylvan::Model;

#[derive(Model)]
struct Tag {
    name: String,
    label: String,
}

fn main() {}
