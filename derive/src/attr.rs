//! `#[model(...)]` attributes, parsed with `parse_nested_meta`. Every error
//! of one input is collected and reported together.

use syn::{Attribute, LitStr};

/// Struct-level settings.
#[derive(Default)]
pub(crate) struct StructAttrs {
    pub(crate) table: Option<String>,
}

/// Field-level settings.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) column: Option<String>,
}

/// Appends `e` to the collected errors.
pub(crate) fn push(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

fn model_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("model"))
}

pub(crate) fn parse_struct(attrs: &[Attribute], errors: &mut Option<syn::Error>) -> StructAttrs {
    let mut out = StructAttrs::default();
    for attr in model_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "the table name must not be empty",
                    ));
                }
                out.table = Some(lit.value());
                Ok(())
            } else {
                Err(meta.error("unknown model attribute on a struct; expected `table = \"...\"`"))
            }
        });
        if let Err(e) = result {
            push(errors, e);
        }
    }
    out
}

pub(crate) fn parse_field(attrs: &[Attribute], errors: &mut Option<syn::Error>) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    for attr in model_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("column") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "the column name must not be empty",
                    ));
                }
                out.column = Some(lit.value());
                Ok(())
            } else {
                Err(meta.error("unknown model attribute on a field; expected `column = \"...\"`"))
            }
        });
        if let Err(e) = result {
            push(errors, e);
        }
    }
    out
}
