use sylvan::Model;

#[derive(Model)]
struct Event {
    #[model(primary_key, auto)]
    id: i64,
    data: serde_json::Value,
}

fn main() {
    let _ = Event::DATA.json_get::<i32>(["n"]);
}
