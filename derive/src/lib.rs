//! Derive macros for Sylvan. Use them through `sylvan::Model`.
//!
//! The entry point is thin: it parses the input and hands it to
//! [`model::expand`] (or [`field_type::expand`], [`test_attr::expand`]), a
//! plain `proc_macro2` function.

extern crate proc_macro;

mod attr;
mod field_type;
mod migrations;
mod model;
mod test_attr;

use proc_macro::TokenStream;

/// (Implemented in the `sylvan-derive` crate; use it as `sylvan::Model`,
/// whose page lists its attributes.)
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    model::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// (Implemented in the `sylvan-derive` crate; use it as
/// `sylvan::FieldType`, whose page lists its attributes.)
#[proc_macro_derive(FieldType, attributes(field_type))]
pub fn derive_field_type(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    field_type::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `embed_migrations!("migrations")`: the `NNNN_name.sql` files of the
/// directory (relative to the crate's `Cargo.toml`) as `sylvan::Migrations`,
/// read at compile time. A file's optional down section follows a line
/// `-- down`; a first line `-- sylvan:no-transaction` makes it run outside a
/// transaction. A file with a statement that controls the transaction
/// (`COMMIT`, `BEGIN`, …) is a compile error naming the file and line.
///
/// Cargo reruns the macro when an embedded file changes (each is
/// `include_str!`ed), but not when one is added or removed: stable Rust
/// has no way for a proc macro to track a directory. Put
/// `println!("cargo:rerun-if-changed=migrations");` in the crate's
/// `build.rs`. The expansion also carries the directory's path and file
/// names, and the library refuses to run a set whose directory, when it
/// exists at run time, has other `*.sql` files.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let dir = syn::parse_macro_input!(input as syn::LitStr);
    migrations::expand(&dir)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// (Implemented in the `sylvan-derive` crate; use it as `#[sylvan::test]`,
/// whose page lists its options.)
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = syn::parse_macro_input!(item as syn::ItemFn);
    test_attr::expand(args.into(), function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
