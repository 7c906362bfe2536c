//! Compile-fail tests: each file in `tests/ui/` must fail to compile with
//! the error pinned in its `.stderr` file.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
