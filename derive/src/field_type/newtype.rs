//! A newtype (`struct BookId(i64);`) stored exactly as its one field.

use crate::attr::push;
use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, Type};

/// The impls for a tuple struct with the one field `field`.
pub(crate) fn expand(
    input: &DeriveInput,
    field: &syn::Field,
    krate: &syn::Path,
    errors: &mut Option<syn::Error>,
) -> syn::Result<TokenStream> {
    super::attr::reject_on_field(&field.attrs, errors);
    let ident = &input.ident;
    let inner = &field.ty;
    if is_option(inner) {
        push(
            errors,
            syn::Error::new_spanned(
                inner,
                "a newtype wraps a non-null column type: wrap the inner type and declare the model field `Option<ThisNewtype>` for a nullable column",
            ),
        );
    }
    if let Some(e) = errors.take() {
        return Err(e);
    }
    let type_name = ident.to_string();
    Ok(quote! {
        impl #krate::ToValue for #ident {
            fn to_value(&self) -> #krate::Result<#krate::Value> {
                <#inner as #krate::ToValue>::to_value(&self.0)
            }
            fn into_value(self) -> #krate::Result<#krate::Value> {
                <#inner as #krate::ToValue>::into_value(self.0)
            }
        }

        impl #krate::Decode for #ident {
            const TYPE_NAME: &'static str = #type_name;
            fn decode(
                value: #krate::ValueRef<'_>,
            ) -> ::core::result::Result<Self, ::std::string::String> {
                <#inner as #krate::Decode>::decode(value).map(Self)
            }
        }

        impl #krate::FieldType for #ident {
            type Base = Self;
            const NULLABLE: bool = false;
            const SQL_TYPE: #krate::SqlType = <#inner as #krate::FieldType>::SQL_TYPE;
            const ALLOWED: ::core::option::Option<#krate::Allowed> =
                <#inner as #krate::FieldType>::ALLOWED;
        }

        impl #krate::NonNull for #ident {}

        impl #krate::Newtype for #ident {
            type Inner = #inner;
        }
    })
}

/// `Option<…>` as written (also `std::option::Option<…>`).
fn is_option(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Option"),
        _ => false,
    }
}
