//! `#[model(...)]` attributes, parsed with `parse_nested_meta`. Every error
//! of one input is collected and reported together.

use syn::{Attribute, LitStr};

/// Struct-level settings.
#[derive(Default)]
pub(crate) struct StructAttrs {
    pub(crate) table: Option<String>,
    pub(crate) krate: Option<syn::Path>,
}

/// Field-level settings.
#[derive(Default)]
pub(crate) struct FieldAttrs {
    pub(crate) column: Option<String>,
    pub(crate) primary_key: Option<proc_macro2::Span>,
    pub(crate) auto: Option<proc_macro2::Span>,
    pub(crate) unique: bool,
    pub(crate) index: bool,
    pub(crate) default: Option<String>,
    pub(crate) skip: Option<proc_macro2::Span>,
    pub(crate) foreign_key: Option<syn::Path>,
    pub(crate) on_delete: Option<(String, proc_macro2::Span)>,
}

const STRUCT_CHOICES: &str = "expected one of: `table = \"...\"`, `crate = \"...\"`";
const FIELD_CHOICES: &str = "expected one of: `primary_key`, `auto`, `column = \"...\"`, `unique`, `index`, `default = \"SQL expression\"`, `skip`, `foreign_key = Model`, `on_delete = \"cascade\" | \"set_null\" | \"restrict\"`";

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

/// The string after `name =`; a missing `=` or a value that is not a string
/// literal is an error showing the expected form, `name = "placeholder"`.
fn string_value(meta: &syn::meta::ParseNestedMeta<'_>, placeholder: &str) -> syn::Result<LitStr> {
    let name = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    let form = format!("`{name} = \"{placeholder}\"`");
    let value = meta.value().map_err(|_| {
        syn::Error::new_spanned(&meta.path, format!("`{name}` takes a value: {form}"))
    })?;
    value.parse().map_err(|e: syn::Error| {
        syn::Error::new(e.span(), format!("expected a string literal: {form}"))
    })
}

fn non_empty(lit: LitStr, what: &str) -> syn::Result<String> {
    let value = lit.value();
    if value.trim().is_empty() {
        return Err(syn::Error::new_spanned(
            lit,
            format!("the {what} must not be empty"),
        ));
    }
    Ok(value)
}

pub(crate) fn parse_struct(attrs: &[Attribute], errors: &mut Option<syn::Error>) -> StructAttrs {
    let mut out = StructAttrs::default();
    for attr in model_attrs(attrs) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                out.table = Some(non_empty(string_value(&meta, "name")?, "table name")?);
                Ok(())
            } else if meta.path.is_ident("crate") {
                let lit = string_value(&meta, "path")?;
                out.krate = Some(lit.parse()?);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown model attribute on a struct; {STRUCT_CHOICES}"
                )))
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
            let path = &meta.path;
            let flag = |meta: &syn::meta::ParseNestedMeta<'_>| -> syn::Result<()> {
                if meta.input.peek(syn::Token![=]) {
                    let name = meta
                        .path
                        .get_ident()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    Err(meta.error(format!("`{name}` takes no value: write `#[model({name})]`")))
                } else {
                    Ok(())
                }
            };
            if path.is_ident("column") {
                out.column = Some(non_empty(string_value(&meta, "name")?, "column name")?);
            } else if path.is_ident("primary_key") {
                flag(&meta)?;
                out.primary_key = Some(syn::spanned::Spanned::span(path));
            } else if path.is_ident("auto") {
                flag(&meta)?;
                out.auto = Some(syn::spanned::Spanned::span(path));
            } else if path.is_ident("unique") {
                flag(&meta)?;
                out.unique = true;
            } else if path.is_ident("index") {
                flag(&meta)?;
                out.index = true;
            } else if path.is_ident("default") {
                out.default = Some(non_empty(
                    string_value(&meta, "SQL expression")?,
                    "default expression",
                )?);
            } else if path.is_ident("skip") {
                flag(&meta)?;
                out.skip = Some(syn::spanned::Spanned::span(path));
            } else if path.is_ident("foreign_key") {
                out.foreign_key = Some(meta.value()?.parse::<syn::Path>()?);
            } else if path.is_ident("on_delete") {
                let lit = string_value(&meta, "action")?;
                let action = lit.value();
                if !matches!(action.as_str(), "cascade" | "set_null" | "restrict") {
                    return Err(syn::Error::new_spanned(
                        lit,
                        "expected one of: \"cascade\", \"set_null\", \"restrict\"",
                    ));
                }
                out.on_delete = Some((action, lit.span()));
            } else {
                return Err(meta.error(format!(
                    "unknown model attribute on a field; {FIELD_CHOICES}"
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
