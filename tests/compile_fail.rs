//! Compile-fail tests: each file in `tests/ui/` must fail to compile with
//! the error pinned in its `.stderr` file.
//!
//! A message that lists the column types depends on the enabled features
//! (chrono, uuid, json add types): those cases are pinned twice, once for
//! all features (`tests/ui/all_features/`, the README's test command) and
//! once for the default ones (`tests/ui/default_features/`, plain
//! `cargo test`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    if cfg!(all(feature = "chrono", feature = "uuid", feature = "json")) {
        t.compile_fail("tests/ui/all_features/*.rs");
    } else if cfg!(not(any(
        feature = "chrono",
        feature = "uuid",
        feature = "json"
    ))) {
        t.compile_fail("tests/ui/default_features/*.rs");
    }
}
