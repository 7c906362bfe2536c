//! Documentation-only pages: guides and references that belong to no one
//! item. They hold no code; their text lives in `docs/guide/*.md`, so the
//! examples in them are compiled and run as doc-tests.

#[doc = include_str!("../docs/guide/model-attributes.md")]
pub mod model_attributes {}

#[doc = include_str!("../docs/guide/derive-output.md")]
pub mod derive_output {}

#[doc = include_str!("../docs/guide/types.md")]
pub mod types {}

#[doc = include_str!("../docs/guide/relations.md")]
pub mod relations {}

#[doc = include_str!("../docs/guide/transactions.md")]
pub mod transactions {}

#[doc = include_str!("../docs/guide/migrations.md")]
pub mod migrations {}

#[doc = include_str!("../docs/guide/annotations.md")]
pub mod annotations {}

#[doc = include_str!("../docs/guide/n-plus-one.md")]
pub mod n_plus_one {}

#[doc = include_str!("../docs/guide/testing.md")]
pub mod testing {}
