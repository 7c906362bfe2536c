//! The expansion of `#[derive(FieldType)]`: an enum of unit variants
//! stored as text or as its integer discriminants ([`enumeration`]), or a
//! newtype stored as its one field ([`newtype`]).

mod attr;
mod enumeration;
mod newtype;

use crate::attr::push;
use proc_macro2::TokenStream;
use syn::{Data, DeriveInput, Fields};

const SHAPES: &str = "#[derive(FieldType)] needs an enum of unit variants (`enum Status { Draft, Published }`) or a tuple struct with one field (a newtype such as `struct BookId(i64);`)";

/// Expands the derive for one type.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = None;
    if !input.generics.params.is_empty() {
        push(
            &mut errors,
            syn::Error::new_spanned(
                &input.generics,
                "#[derive(FieldType)] does not support generic types",
            ),
        );
    }
    let attrs = attr::parse_type(&input.attrs, &mut errors);
    let krate = attrs
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::sylvan));
    let out = match &input.data {
        Data::Enum(data) => {
            let repr = attr::parse_repr(&input.attrs, &mut errors);
            enumeration::expand(input, data, &attrs, repr, &krate, &mut errors)
        }
        Data::Struct(data) => match &data.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                if let Some((_, span)) = attrs.rename_all {
                    push(
                        &mut errors,
                        syn::Error::new(span, "`rename_all` applies to enums, not to a newtype"),
                    );
                }
                newtype::expand(input, &fields.unnamed[0], &krate, &mut errors)
            }
            Fields::Unnamed(fields) => Err(syn::Error::new_spanned(
                fields,
                format!(
                    "a newtype has exactly one field, this struct has {}; {SHAPES}",
                    fields.unnamed.len()
                ),
            )),
            Fields::Named(fields) => Err(syn::Error::new_spanned(
                fields,
                format!("a struct with named fields is a model, not a column type; {SHAPES}"),
            )),
            Fields::Unit => Err(syn::Error::new_spanned(&input.ident, SHAPES)),
        },
        Data::Union(_) => Err(syn::Error::new_spanned(&input.ident, SHAPES)),
    };
    match (out, errors) {
        (Ok(tokens), None) => Ok(tokens),
        (Ok(_), Some(e)) => Err(e),
        (Err(e), None) => Err(e),
        (Err(e), Some(mut all)) => {
            all.combine(e);
            Err(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(input: DeriveInput) -> Vec<String> {
        match expand(&input) {
            Ok(_) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn rename_all_styles() {
        use attr::RenameAll::*;
        assert_eq!(Lower.apply("InReview"), "inreview");
        assert_eq!(Upper.apply("InReview"), "INREVIEW");
        assert_eq!(Snake.apply("InReview"), "in_review");
        assert_eq!(ScreamingSnake.apply("InReview"), "IN_REVIEW");
        assert_eq!(Kebab.apply("HTTPError"), "http-error");
    }

    #[test]
    fn all_errors_of_one_enum_together() {
        let all = errors(syn::parse_quote! {
            #[field_type(rename_all = "nope")]
            enum E<T> { A(T), #[field_type(renam = "b")] B = 2 }
        });
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(all[0].contains("generic"), "{all:?}");
        assert!(all[1].contains("rename_all"), "{all:?}");
        assert!(all[2].contains("carries data"), "{all:?}");
        assert!(all[3].contains("`rename = "), "{all:?}");
        assert!(all[4].contains("#[repr(i32)]"), "{all:?}");
    }

    #[test]
    fn shapes() {
        assert!(errors(syn::parse_quote! { struct Id(i64); }).is_empty());
        assert!(errors(syn::parse_quote! { #[repr(u8)] enum P { A = 1, B } }).is_empty());
        assert!(errors(syn::parse_quote! { enum S { A, B } }).is_empty());
        let empty = errors(syn::parse_quote! { enum Never {} });
        assert!(empty[0].contains("at least one"), "{empty:?}");
        let unit = errors(syn::parse_quote! { struct Unit; });
        assert!(unit[0].contains("newtype"), "{unit:?}");
        let out = expand(&syn::parse_quote! { #[repr(u16)] enum P { A = 3 } })
            .unwrap()
            .to_string();
        assert!(out.contains("SqlType :: I32"), "{out}");
        assert!(out.contains("P :: A as i64"), "{out}");
    }
}
