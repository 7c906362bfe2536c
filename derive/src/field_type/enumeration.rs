//! An enum of unit variants stored as text (each variant's name, or its
//! `rename`) or, with an integer `#[repr]`, as its discriminants.

use super::attr::{parse_variant, Repr, TypeAttrs};
use crate::attr::push;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{DataEnum, DeriveInput, Fields, Ident};

/// The impls for an enum.
pub(crate) fn expand(
    input: &DeriveInput,
    data: &DataEnum,
    attrs: &TypeAttrs,
    repr: Option<Repr>,
    krate: &syn::Path,
    errors: &mut Option<syn::Error>,
) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    if data.variants.is_empty() {
        push(
            errors,
            syn::Error::new_spanned(
                ident,
                "an enum without variants has no value to store: add at least one unit variant",
            ),
        );
    }
    if let (Some(repr), Some((_, span))) = (&repr, attrs.rename_all) {
        push(
            errors,
            syn::Error::new(
                span,
                format!(
                    "`rename_all` applies to enums stored as text; this `#[repr({})]` enum stores its discriminants in an integer column",
                    repr.ty
                ),
            ),
        );
    }
    let mut variants: Vec<&Ident> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            push(
                errors,
                syn::Error::new_spanned(
                    &variant.fields,
                    format!(
                        "variant `{}` carries data, but #[derive(FieldType)] stores unit variants only: move the data into model fields of its own, or store it as JSON",
                        variant.ident
                    ),
                ),
            );
        }
        let rename = parse_variant(&variant.attrs, errors);
        match (&repr, &rename, &variant.discriminant) {
            (Some(repr), Some((_, span)), _) => push(
                errors,
                syn::Error::new(
                    *span,
                    format!(
                        "`rename` applies to enums stored as text; this `#[repr({})]` enum stores its discriminants in an integer column",
                        repr.ty
                    ),
                ),
            ),
            (None, _, Some((_, discriminant))) => push(
                errors,
                syn::Error::new_spanned(
                    discriminant,
                    "an enum without an integer `#[repr]` is stored as its variants' names: add `#[repr(i32)]` (or i8, u8, i16, u16, u32, i64) to store the discriminants in an integer column, or remove the discriminant",
                ),
            ),
            _ => {}
        }
        let name = variant.ident.to_string();
        let stored = match (rename, attrs.rename_all) {
            (Some((text, _)), _) => text,
            (None, Some((rule, _))) => rule.apply(&name),
            (None, None) => name,
        };
        if repr.is_none() {
            if let Some(i) = names.iter().position(|n| *n == stored) {
                push(
                    errors,
                    syn::Error::new_spanned(
                        &variant.ident,
                        format!(
                            "variants `{}` and `{}` would both be stored as {stored:?}: give one a different `#[field_type(rename = \"...\")]`",
                            variants[i], variant.ident
                        ),
                    ),
                );
            }
        }
        variants.push(&variant.ident);
        names.push(stored);
    }
    if let Some(e) = errors.take() {
        return Err(e);
    }
    let type_name = ident.to_string();
    let (allowed, sql_type, to_value) = match &repr {
        None => (
            quote! { #krate::Allowed::Text(&[#(#names),*]) },
            quote! { #krate::SqlType::Text },
            quote! {
                #krate::Value::Text(::std::string::String::from(match self {
                    #(Self::#variants => #names,)*
                }))
            },
        ),
        Some(repr) => {
            let (variant, int) = match repr.ty.to_string().as_str() {
                "i8" | "u8" | "i16" => (quote!(I16), quote!(i16)),
                "u16" | "i32" => (quote!(I32), quote!(i32)),
                _ => (quote!(I64), quote!(i64)),
            };
            (
                quote! { #krate::Allowed::Integer(&[#(#ident::#variants as i64),*]) },
                quote! { #krate::SqlType::#variant },
                quote! {
                    #krate::Value::#variant(match self {
                        #(Self::#variants => Self::#variants as #int,)*
                    })
                },
            )
        }
    };
    let positions = 0..variants.len();
    Ok(quote! {
        impl #krate::ToValue for #ident {
            fn to_value(&self) -> #krate::Result<#krate::Value> {
                ::core::result::Result::Ok(#to_value)
            }
        }

        impl #krate::Decode for #ident {
            const TYPE_NAME: &'static str = #type_name;
            fn decode(
                value: #krate::ValueRef<'_>,
            ) -> ::core::result::Result<Self, ::std::string::String> {
                const ALLOWED: #krate::Allowed = #allowed;
                match ALLOWED.position(value, #type_name)? {
                    #(#positions => ::core::result::Result::Ok(Self::#variants),)*
                    _ => ::core::result::Result::Err(::std::string::String::from(
                        "a value without a variant",
                    )),
                }
            }
        }

        impl #krate::FieldType for #ident {
            type Base = Self;
            const NULLABLE: bool = false;
            const SQL_TYPE: #krate::SqlType = #sql_type;
            const ALLOWED: ::core::option::Option<#krate::Allowed> =
                ::core::option::Option::Some(#allowed);
        }

        impl #krate::NonNull for #ident {}
    })
}
