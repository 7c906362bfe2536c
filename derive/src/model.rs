//! The expansion of `#[derive(Model)]`.

use crate::attr::{parse_field, parse_struct, push, FieldAttrs};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

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

/// Whether `ty` is written as one of the integer types a database can
/// generate as a key (`AutoKey`): `i16`, `i32`, `i64`, bare or through
/// `std::primitive` / `core::primitive`. The derive sees tokens, not
/// types, so an alias of `i64` is not recognised.
fn is_integer(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    if path.qself.is_some() || path.path.segments.iter().any(|s| !s.arguments.is_none()) {
        return false;
    }
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let integer = |name: &str| matches!(name, "i16" | "i32" | "i64");
    match segments.as_slice() {
        [one] => path.path.leading_colon.is_none() && integer(one),
        [krate, module, one] => {
            matches!(krate.as_str(), "std" | "core") && module == "primitive" && integer(one)
        }
        _ => false,
    }
}

/// One field of the struct, with its settings.
struct Field<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    attrs: FieldAttrs,
    column: String,
}

impl Field<'_> {
    fn name(&self) -> String {
        let s = self.ident.to_string();
        s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
    }

    fn const_ident(&self) -> Ident {
        Ident::new(&self.name().to_uppercase(), self.ident.span())
    }
}

/// Expands the derive for one struct.
pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = None;
    let named = match &input.data {
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
    let krate = attrs.krate.unwrap_or_else(|| syn::parse_quote!(::sylvan));
    let table = attrs
        .table
        .unwrap_or_else(|| snake_case(&ident.to_string()));

    let mut fields = Vec::new();
    for field in named {
        let Some(fident) = &field.ident else { continue };
        let fattrs = parse_field(&field.attrs, &mut errors);
        let mut f = Field {
            ident: fident,
            ty: &field.ty,
            column: String::new(),
            attrs: fattrs,
        };
        f.column = f.attrs.column.clone().unwrap_or_else(|| f.name());
        if let Some(span) = f.attrs.skip {
            let stored_only = f.attrs.primary_key.is_some()
                || f.attrs.auto.is_some()
                || f.attrs.unique
                || f.attrs.index
                || f.attrs.column.is_some()
                || f.attrs.default.is_some();
            if stored_only {
                push(
                    &mut errors,
                    syn::Error::new(
                        span,
                        "a `skip` field is not stored, so it takes no other model attribute",
                    ),
                );
            }
        }
        if let (Some(span), None) = (f.attrs.auto, f.attrs.primary_key) {
            push(
                &mut errors,
                syn::Error::new(span, "`auto` applies to the primary key: add `primary_key`"),
            );
        }
        fields.push(f);
    }

    // The primary key: the field marked `primary_key`, else a field named `id`.
    let marked: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].attrs.primary_key.is_some())
        .collect();
    let pk = match marked.as_slice() {
        [one] => Some(*one),
        [] => {
            let by_name = fields
                .iter()
                .position(|f| f.name() == "id" && f.attrs.skip.is_none());
            if by_name.is_none() {
                push(
                    &mut errors,
                    syn::Error::new_spanned(
                        ident,
                        "a model needs a primary key: mark one field `#[model(primary_key)]` (a field named `id` is taken by default)",
                    ),
                );
            }
            by_name
        }
        [_, rest @ ..] => {
            for &i in rest {
                let span = fields[i].attrs.primary_key.unwrap_or_else(Span::call_site);
                push(
                    &mut errors,
                    syn::Error::new(
                        span,
                        "a model has one primary key: composite primary keys are not supported; keep `primary_key` on one field and add a unique constraint in a migration",
                    ),
                );
            }
            None
        }
    };
    if let Some(e) = errors {
        return Err(e);
    }
    let Some(pk) = pk else {
        return Err(syn::Error::new_spanned(
            ident,
            "a model needs a primary key",
        ));
    };
    // The implicit key (no field marked `primary_key`, a field `id` of an
    // integer type) is generated by the database, as in Django; marking
    // `id` `#[model(primary_key)]` keeps a key the program writes.
    let implicit_auto = marked.is_empty() && is_integer(fields[pk].ty);

    let stored: Vec<&Field<'_>> = fields.iter().filter(|f| f.attrs.skip.is_none()).collect();
    let pk_field = &fields[pk];
    let pk_index = stored
        .iter()
        .position(|f| f.ident == pk_field.ident)
        .unwrap_or_default();
    let pk_ident = pk_field.ident;
    let pk_ty = pk_field.ty;
    let pk_const = pk_field.const_ident();

    let consts = stored.iter().map(|f| {
        let name = f.const_ident();
        let ty = f.ty;
        let column = &f.column;
        let doc = format!("The `{}` column (field `{}`).", f.column, f.name());
        quote! {
            #[doc = #doc]
            pub const #name: #krate::Column<#ident, #ty> = #krate::Column::new(#table, #column);
        }
    });
    let columns = stored.iter().map(|f| &f.column);
    let infos = stored.iter().map(|f| {
        let ty = f.ty;
        let name = f.name();
        let column = &f.column;
        let mut info = quote! {
            #krate::FieldInfo::new(
                #name,
                #column,
                <#ty as #krate::FieldType>::SQL_TYPE,
                <#ty as #krate::FieldType>::NULLABLE,
            )
            .allowed(<#ty as #krate::FieldType>::ALLOWED)
        };
        if f.attrs.primary_key.is_some() || f.ident == pk_ident {
            info = quote! { #info.primary_key() };
        }
        if f.attrs.auto.is_some() || (implicit_auto && f.ident == pk_ident) {
            info = quote! { #info.auto() };
        }
        if f.attrs.unique {
            info = quote! { #info.unique() };
        }
        if f.attrs.index {
            info = quote! { #info.index() };
        }
        if let Some(d) = &f.attrs.default {
            info = quote! { #info.default_sql(#d) };
        }
        if let Some(target) = &f.attrs.foreign_key {
            let action = match f.attrs.on_delete.as_ref().map(|(a, _)| a.as_str()) {
                Some("cascade") => quote! { #krate::OnDelete::Cascade },
                Some("set_null") => quote! { #krate::OnDelete::SetNull },
                _ => quote! { #krate::OnDelete::Restrict },
            };
            info = quote! {
                #info.references(
                    <#target as #krate::Model>::TABLE,
                    <#target as #krate::Model>::COLUMNS[<#target as #krate::Model>::PRIMARY_KEY_INDEX],
                    #action,
                )
            };
        }
        info
    });
    // Foreign keys: a relation constant and an accessor per key.
    let relations = stored.iter().filter_map(|f| {
        let target = f.attrs.foreign_key.as_ref()?;
        let fi = f.ident;
        let ty = f.ty;
        let name = f.name();
        let stem = name.strip_suffix("_id").map(str::to_owned).unwrap_or_else(|| format!("{name}_rel"));
        let rel_const = Ident::new(&stem.to_uppercase(), fi.span());
        let accessor = Ident::new(&stem, fi.span());
        let column_const = f.const_ident();
        let doc_const = format!("The foreign key `{name}` to [`{}`].", quote!(#target));
        let doc_fn = format!("The `{}` row `{name}` points at (one query).", quote!(#target));
        let null_check = f.attrs.on_delete.as_ref().filter(|(a, _)| a == "set_null").map(|(_, span)| {
            quote_spanned! { *span =>
                const _: () = {
                    #[allow(dead_code)]
                    fn set_null_needs_a_nullable_key<T: #krate::Nullable>() {}
                    #[allow(dead_code)]
                    fn check() { set_null_needs_a_nullable_key::<#ty>(); }
                };
            }
        });
        Some(quote! {
            #null_check
            impl #ident {
                #[doc = #doc_const]
                pub const #rel_const: #krate::Relation<#ident, #target, #ty> =
                    #krate::Relation::new(Self::#column_const, |m: &#ident| ::core::clone::Clone::clone(&m.#fi));

                #[doc = #doc_fn]
                pub async fn #accessor<E: #krate::Executor>(
                    &self,
                    executor: &E,
                ) -> #krate::Result<<#ty as #krate::ForeignKeyType<<#target as #krate::Model>::PrimaryKey>>::Joined<#target>> {
                    Self::#rel_const.get_for(self, executor).await
                }
            }
        })
    });
    let on_delete_alone = stored
        .iter()
        .filter(|f| f.attrs.foreign_key.is_none())
        .filter_map(|f| f.attrs.on_delete.as_ref())
        .map(|(_, span)| {
            syn::Error::new(
                *span,
                "`on_delete` needs `foreign_key = Model` on the same field",
            )
            .to_compile_error()
        });
    // Each use of a field's type below names `#ty` together with a
    // `FieldType` check on the same tokens, so a type that is not a column
    // type is reported once, as "`T` cannot be the type of a model field",
    // and not again as a missing `ToValue` / `Decode` (rustc drops errors
    // implied by another at the same span).
    let to_values = stored.iter().map(|f| {
        let fi = f.ident;
        let ty = f.ty;
        quote! {{
            let _ = <#ty as #krate::FieldType>::NULLABLE;
            <#ty as #krate::ToValue>::to_value(&self.#fi)?
        }}
    });
    // The fields decoded from the row, reading stored column `i` at index
    // `__at(i)`: `offset + i` for the ORM's own queries, the resolved
    // position for raw SQL with its columns in another order.
    let mut position = 0_usize;
    let decodes = fields.iter().map(|f| {
        let fi = f.ident;
        let ty = f.ty;
        if f.attrs.skip.is_some() {
            quote_spanned! { ty.span() => #fi: <#ty as ::core::default::Default>::default() }
        } else {
            let i = position;
            position += 1;
            quote! {
                #fi: {
                    let _ = <#ty as #krate::FieldType>::NULLABLE;
                    #krate::Row::get::<#ty>(row, __at(#i))?
                }
            }
        }
    });
    let model_name = ident.to_string();
    let auto_check = pk_field.attrs.auto.map(|_| {
        let check = format_ident!("__sylvan_auto_key_check_{}", ident);
        quote_spanned! { pk_ty.span() =>
            #[allow(non_snake_case, dead_code)]
            fn #check() {
                fn is_auto_key<T: #krate::AutoKey>() {}
                is_auto_key::<#pk_ty>();
            }
        }
    });

    Ok(quote! {
        impl #ident {
            #(#consts)*

            #[doc(hidden)]
            #[inline]
            fn __sylvan_decode(
                row: &#krate::Row<'_>,
                __at: impl ::core::ops::Fn(usize) -> usize,
            ) -> #krate::Result<Self> {
                ::core::result::Result::Ok(Self { #(#decodes),* })
            }
        }

        #(#relations)*
        #(#on_delete_alone)*

        #auto_check

        impl #krate::Model for #ident {
            const TABLE: &'static str = #table;
            const COLUMNS: &'static [&'static str] = &[#(#columns),*];
            const FIELDS: &'static [#krate::FieldInfo] = &[#(#infos),*];
            const PRIMARY_KEY_INDEX: usize = #pk_index;
            type PrimaryKey = #pk_ty;

            fn primary_key_column() -> #krate::Column<Self, #pk_ty> {
                Self::#pk_const
            }

            fn primary_key(&self) -> #pk_ty {
                ::core::clone::Clone::clone(&self.#pk_ident)
            }

            fn set_primary_key(&mut self, key: #pk_ty) {
                self.#pk_ident = key;
            }

            fn to_values(&self) -> #krate::Result<::std::vec::Vec<#krate::Value>> {
                ::core::result::Result::Ok(::std::vec![#(#to_values),*])
            }

            fn from_row_at(row: &#krate::Row<'_>, offset: usize) -> #krate::Result<Self> {
                Self::__sylvan_decode(row, |i| offset + i)
            }
        }

        impl #krate::FromRow for #ident {
            fn from_row(row: &#krate::Row<'_>) -> #krate::Result<Self> {
                match #krate::Row::__positions(row) {
                    ::core::option::Option::None => <Self as #krate::Model>::from_row_at(row, 0),
                    ::core::option::Option::Some(positions) => {
                        Self::__sylvan_decode(row, |i| #krate::Row::__position(positions, i))
                    }
                }
            }

            fn column_positions(
                row: &#krate::Row<'_>,
            ) -> #krate::Result<::core::option::Option<::std::vec::Vec<usize>>> {
                #krate::Row::__resolve_columns(
                    row,
                    #model_name,
                    <Self as #krate::Model>::COLUMNS,
                )
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
        assert!(all[0].contains("`table"), "{all:?}");
        assert!(all[1].contains("`column"), "{all:?}");

        let ok: DeriveInput =
            syn::parse_quote! { struct BlogPost { id: i64, #[model(column = "t")] title: String } };
        let out = expand(&ok).unwrap().to_string();
        assert!(out.contains("\"blog_post\""), "{out}");
        assert!(out.contains("\"t\""), "{out}");
    }

    #[test]
    fn integer_types_for_the_implicit_key() {
        for ty in [
            "i16",
            "i32",
            "i64",
            "std::primitive::i64",
            "core::primitive::i32",
        ] {
            assert!(is_integer(&syn::parse_str(ty).unwrap()), "{ty}");
        }
        for ty in [
            "u64",
            "String",
            "Option<i64>",
            "uuid::Uuid",
            "my::i64",
            "::i64",
            "i64<T>",
        ] {
            assert!(!is_integer(&syn::parse_str(ty).unwrap()), "{ty}");
        }
    }

    #[test]
    fn the_implicit_integer_id_is_generated_unless_marked() {
        let auto = |input: DeriveInput| {
            let out = expand(&input).unwrap().to_string();
            out.contains(". auto ()")
        };
        assert!(auto(
            syn::parse_quote! { struct A { id: i64, name: String } }
        ));
        assert!(!auto(
            syn::parse_quote! { struct B { #[model(primary_key)] id: i64 } }
        ));
        assert!(auto(
            syn::parse_quote! { struct C { #[model(primary_key, auto)] id: i64 } }
        ));
        assert!(!auto(syn::parse_quote! { struct D { id: String } }));
        assert!(!auto(
            syn::parse_quote! { struct E { id: i64, #[model(primary_key)] code: String } }
        ));
    }

    #[test]
    fn primary_key_rules() {
        let none: DeriveInput = syn::parse_quote! { struct A { name: String } };
        assert!(expand(&none)
            .unwrap_err()
            .to_string()
            .contains("needs a primary key"));
        let two: DeriveInput = syn::parse_quote! {
            struct B { #[model(primary_key)] a: i64, #[model(primary_key)] b: i64 }
        };
        assert!(expand(&two).unwrap_err().to_string().contains("composite"));
    }
}
