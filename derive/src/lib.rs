//! Derive macros for Sylvan. Use them through `sylvan::Model`.

extern crate proc_macro;
use proc_macro::TokenStream;

/// Placeholder until the model derive lands.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let _ = input;
    TokenStream::new()
}
