use sylvan::FieldType;

#[derive(Clone, FieldType)]
#[field_type(rename_all = "Title Case")]
enum A {
    One,
}

#[derive(Clone, FieldType)]
#[field_type(rename_all = "snake_case")]
#[repr(i32)]
enum B {
    #[field_type(rename = "one")]
    One = 1,
}

#[derive(Clone, FieldType)]
enum C {
    One = 1,
    Two = 2,
}

#[derive(Clone, FieldType)]
#[field_type(rename_all = "lowercase")]
enum D {
    InReview,
    Inreview,
    #[field_type(label = "x")]
    Other,
}

#[derive(Clone, FieldType)]
#[repr(u64)]
enum E {
    One,
}

fn main() {}
