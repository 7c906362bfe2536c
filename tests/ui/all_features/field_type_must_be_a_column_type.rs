use sylvan::Model;

#[derive(Clone)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(Model)]
struct Place {
    #[model(primary_key)]
    id: i64,
    big: u128,
    location: Point,
    maybe_location: Option<Point>,
}

fn main() {}
