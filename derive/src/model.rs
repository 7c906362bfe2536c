//! The expansion of `#[derive(Model)]`.

use crate::attr::{parse_field, parse_struct, push};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

/// `BlogPost` → `blog_post`.
pub(crate) fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if prev_lower || (prev_upper && next_lower) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Expands the derive for one struct.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = None;
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => &named.named,
            _ => {
                return Err(syn::Error::new_spanned(
                    &input.ident,
                    "#[derive(Model)] needs a struct with named fields",
                ))
            }
        },
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "#[derive(Model)] can only be used on a struct",
            ))
        }
    };
    if !input.generics.params.is_empty() {
        push(
            &mut errors,
            syn::Error::new_spanned(
                &input.generics,
                "#[derive(Model)] does not support generic structs",
            ),
        );
    }
    let attrs = parse_struct(&input.attrs, &mut errors);
    let ident = &input.ident;
    let table = attrs
        .table
        .unwrap_or_else(|| snake_case(&ident.to_string()));
    let mut columns = Vec::new();
    let mut decodes = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let f = parse_field(&field.attrs, &mut errors);
        let Some(name) = &field.ident else { continue };
        let column = f.column.unwrap_or_else(|| {
            let s = name.to_string();
            s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
        });
        columns.push(column);
        decodes.push(quote! { #name: row.get(#i)? });
    }
    if let Some(e) = errors {
        return Err(e);
    }
    Ok(quote! {
        impl ::sylvan::Model for #ident {
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [&'static str] = &[#(#columns),*];
        }

        impl ::sylvan::FromRow for #ident {
            fn from_row(row: &::sylvan::Row<'_>) -> ::sylvan::Result<Self> {
                ::core::result::Result::Ok(Self { #(#decodes),* })
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("BlogPost"), "blog_post");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Order2Item"), "order2_item");
    }

    #[test]
    fn expands_and_reports_all_errors_together() {
        let input: DeriveInput = syn::parse_quote! {
            #[model(tabel = "x")]
            struct User { #[model(colum = "y")] id: i64 }
        };
        let e = expand(&input).unwrap_err();
        let all: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].contains("expected `table"), "{all:?}");
        assert!(all[1].contains("expected `column"), "{all:?}");

        let ok: DeriveInput =
            syn::parse_quote! { struct BlogPost { id: i64, #[model(column = "t")] title: String } };
        let out = expand(&ok).unwrap().to_string();
        assert!(out.contains("\"blog_post\""), "{out}");
        assert!(out.contains("\"t\""), "{out}");
    }
}
