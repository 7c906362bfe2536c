//! `embed_migrations!("dir")`: reads the migration files at compile time.

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

/// One parsed file.
struct File {
    version: i64,
    name: String,
    up: String,
    down: Option<String>,
    path: String,
}

fn split_down(text: &str) -> (String, Option<String>) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().eq_ignore_ascii_case("-- down") {
            return (
                text[..offset].to_owned(),
                Some(text[offset + line.len()..].to_owned()),
            );
        }
        offset += line.len();
    }
    (text.to_owned(), None)
}

/// Expands to a `sylvan::Migrations` built from the files of the directory
/// (relative to the invoking crate's manifest).
pub(crate) fn expand(dir: &LitStr) -> syn::Result<TokenStream> {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| syn::Error::new_spanned(dir, "CARGO_MANIFEST_DIR is not set"))?;
    let path = std::path::Path::new(&root).join(dir.value());
    let entries = std::fs::read_dir(&path).map_err(|e| {
        syn::Error::new_spanned(
            dir,
            format!("cannot read migrations directory {}: {e}", path.display()),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| syn::Error::new_spanned(dir, e.to_string()))?;
        let file_path = entry.path();
        let Some(file_name) = file_path.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file_name.strip_suffix(".sql") else {
            continue;
        };
        let bad = |why: &str| syn::Error::new_spanned(dir, format!("{file_name}: {why}"));
        let (number, name) = stem
            .split_once('_')
            .ok_or_else(|| bad("expected a name like 0001_create_users.sql"))?;
        let version: i64 = number
            .parse()
            .map_err(|_| bad("the name must start with a version number"))?;
        let text = std::fs::read_to_string(&file_path).map_err(|e| bad(&e.to_string()))?;
        let (up, down) = split_down(&text);
        files.push(File {
            version,
            name: name.to_owned(),
            up,
            down,
            path: file_path.display().to_string(),
        });
    }
    files.sort_by_key(|f| f.version);
    if let Some(w) = files.windows(2).find(|w| w[0].version == w[1].version) {
        return Err(syn::Error::new_spanned(
            dir,
            format!(
                "two migrations have version {}: {} and {}",
                w[0].version, w[0].name, w[1].name
            ),
        ));
    }
    let items = files.iter().map(|f| {
        let (version, name, up, path) = (f.version, &f.name, &f.up, &f.path);
        let down = match &f.down {
            Some(d) => quote! { ::core::option::Option::Some(#d) },
            None => quote! { ::core::option::Option::None },
        };
        quote! {
            {
                // Rebuild when the file changes.
                const _: &str = include_str!(#path);
                ::sylvan::Migration::new(#version, #name, #up, #down)
            }
        }
    });
    Ok(quote! {
        ::sylvan::Migrations::embedded(::std::vec![#(#items),*])
    })
}
