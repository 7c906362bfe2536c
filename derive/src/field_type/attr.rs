//! `#[field_type(...)]` attributes and the `#[repr]` of an enum, parsed with
//! `parse_nested_meta`; every error of one input is collected.

use crate::attr::push;
use proc_macro2::Span;
use syn::{Attribute, LitStr};

/// Settings on the type.
#[derive(Default)]
pub(crate) struct TypeAttrs {
    pub(crate) krate: Option<syn::Path>,
    pub(crate) rename_all: Option<(RenameAll, Span)>,
}

/// How `rename_all` spells the variants' names.
#[derive(Clone, Copy)]
pub(crate) enum RenameAll {
    Lower,
    Upper,
    Snake,
    ScreamingSnake,
    Kebab,
}

impl RenameAll {
    const CHOICES: &'static str = "unknown `rename_all` style; expected one of: \"lowercase\", \"UPPERCASE\", \"snake_case\", \"SCREAMING_SNAKE_CASE\", \"kebab-case\"";

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => RenameAll::Lower,
            "UPPERCASE" => RenameAll::Upper,
            "snake_case" => RenameAll::Snake,
            "SCREAMING_SNAKE_CASE" => RenameAll::ScreamingSnake,
            "kebab-case" => RenameAll::Kebab,
            _ => return None,
        })
    }

    /// The stored name of variant `name`.
    pub(crate) fn apply(self, name: &str) -> String {
        let snake = crate::model::snake_case(name);
        match self {
            RenameAll::Lower => name.to_lowercase(),
            RenameAll::Upper => name.to_uppercase(),
            RenameAll::Snake => snake,
            RenameAll::ScreamingSnake => snake.to_uppercase(),
            RenameAll::Kebab => snake.replace('_', "-"),
        }
    }
}

/// The integer type of `#[repr(...)]`, if it names one.
pub(crate) struct Repr {
    pub(crate) ty: syn::Ident,
}

const TYPE_CHOICES: &str =
    "expected one of: `crate = \"...\"`, `rename_all = \"...\"` (enums of text)";
const VARIANT_CHOICES: &str = "expected: `rename = \"stored text\"`";
const REPRS: &[&str] = &["i8", "u8", "i16", "u16", "i32", "u32", "i64"];

fn ours(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("field_type"))
}

fn string(meta: &syn::meta::ParseNestedMeta<'_>, form: &str) -> syn::Result<LitStr> {
    let value = meta
        .value()
        .map_err(|_| syn::Error::new_spanned(&meta.path, format!("write {form}")))?;
    value.parse().map_err(|e: syn::Error| {
        syn::Error::new(e.span(), format!("expected a string literal: {form}"))
    })
}

pub(crate) fn parse_type(attrs: &[Attribute], errors: &mut Option<syn::Error>) -> TypeAttrs {
    let mut out = TypeAttrs::default();
    for attr in ours(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                out.krate = Some(string(&meta, "`crate = \"path\"`")?.parse()?);
            } else if meta.path.is_ident("rename_all") {
                let lit = string(&meta, "`rename_all = \"snake_case\"`")?;
                match RenameAll::parse(&lit.value()) {
                    Some(r) => out.rename_all = Some((r, lit.span())),
                    None => return Err(syn::Error::new_spanned(lit, RenameAll::CHOICES)),
                }
            } else {
                return Err(meta.error(format!(
                    "unknown field_type attribute on a type; {TYPE_CHOICES}"
                )));
            }
            Ok(())
        });
        if let Err(e) = result {
            push(errors, e);
        }
    }
    out
}

/// A variant's `rename`, with its span.
pub(crate) fn parse_variant(
    attrs: &[Attribute],
    errors: &mut Option<syn::Error>,
) -> Option<(String, Span)> {
    let mut out = None;
    for attr in ours(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit = string(&meta, "`rename = \"stored text\"`")?;
                let value = lit.value();
                if value.contains('\0') {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "the stored text must not contain a NUL character (PostgreSQL cannot store it)",
                    ));
                }
                out = Some((value, lit.span()));
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown field_type attribute on a variant; {VARIANT_CHOICES}"
                )))
            }
        });
        if let Err(e) = result {
            push(errors, e);
        }
    }
    out
}

/// Attributes a field of a newtype cannot take.
pub(crate) fn reject_on_field(attrs: &[Attribute], errors: &mut Option<syn::Error>) {
    for attr in ours(attrs) {
        push(
            errors,
            syn::Error::new_spanned(
                attr,
                "a newtype's field takes no field_type attribute: it is stored as it is",
            ),
        );
    }
}

/// The integer `#[repr]` of an enum: `#[repr(i32)]` stores the
/// discriminants in an integer column.
pub(crate) fn parse_repr(attrs: &[Attribute], errors: &mut Option<syn::Error>) -> Option<Repr> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let result = attr.parse_nested_meta(|meta| {
            if let Some(ident) = meta.path.get_ident() {
                let name = ident.to_string();
                if REPRS.contains(&name.as_str()) {
                    out = Some(Repr { ty: ident.clone() });
                } else if matches!(name.as_str(), "u64" | "i128" | "u128" | "isize" | "usize") {
                    return Err(syn::Error::new_spanned(
                        ident,
                        format!(
                            "`#[repr({name})]` has no SQL integer column that holds every value; use one of: {}",
                            REPRS.join(", ")
                        ),
                    ));
                }
            }
            // `C`, `align(..)` and the like say nothing about the column.
            if meta.input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in meta.input);
            }
            Ok(())
        });
        if let Err(e) = result {
            push(errors, e);
        }
    }
    out
}
