use sylvan::FieldType;

#[derive(Clone, FieldType)]
struct Range(i64, i64);

#[derive(Clone, FieldType)]
struct Named {
    id: i64,
}

#[derive(Clone, FieldType)]
struct Maybe(Option<i64>);

fn main() {}
