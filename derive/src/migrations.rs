//! `embed_migrations!("dir")`: reads the migration files at compile time,
//! refusing a file with transaction control statements (the library
//! checks the same at run time, with the same code).

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
    file_name: String,
}

/// The reading of migration files shared with the library (which runs the
/// same checks at run time): see the file's header.
#[allow(dead_code)] // statement splitting serves the library only
mod text {
    include!("migration_text.rs");
}

fn split_down(text: &str) -> (String, Option<String>) {
    let (up, down) = text::split_down(text);
    (up.to_owned(), down.map(str::to_owned))
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
        text::check_migration_text(&up, down.as_deref()).map_err(|why| bad(&why))?;
        files.push(File {
            version,
            name: name.to_owned(),
            up,
            down,
            path: file_path.display().to_string(),
            file_name: file_name.to_owned(),
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
    // A proc macro cannot ask cargo to watch a directory on stable Rust:
    // the directory and the file names go into the binary, and the library
    // refuses the set at run time when they no longer match.
    let dir_text = path.display().to_string();
    let names = files.iter().map(|f| &f.file_name);
    Ok(quote! {
        ::sylvan::Migrations::embedded_from(
            #dir_text,
            &[#(#names),*],
            ::std::vec![#(#items),*],
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of migration files under the system's temp dir, removed
    /// on drop.
    struct Dir(std::path::PathBuf);

    impl Dir {
        fn with(name: &str, files: &[(&str, &str)]) -> Dir {
            let path =
                std::env::temp_dir().join(format!("sylvan_derive_{name}_{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            for (file, text) in files {
                std::fs::write(path.join(file), text).unwrap();
            }
            Dir(path)
        }

        fn lit(&self) -> LitStr {
            // An absolute path: joined to CARGO_MANIFEST_DIR, it wins.
            LitStr::new(
                &self.0.display().to_string(),
                proc_macro2::Span::call_site(),
            )
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn transaction_control_is_a_compile_error_naming_the_file() {
        let dir = Dir::with(
            "commit",
            &[
                ("0001_ok.sql", "CREATE TABLE a (x INT);\n"),
                ("0002_bad.sql", "DO $$ BEGIN NULL; END $$;\nEND;\n"),
            ],
        );
        let e = expand(&dir.lit()).unwrap_err().to_string();
        assert!(e.contains("0002_bad.sql: line 2: `END`"), "{e}");
    }

    #[test]
    fn no_transaction_migrations_embed() {
        let dir = Dir::with(
            "no_tx",
            &[(
                "0001_index.sql",
                "-- sylvan:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
            )],
        );
        let out = expand(&dir.lit()).unwrap().to_string();
        assert!(out.contains("sylvan:no-transaction"), "{out}");
    }

    #[test]
    fn generated_migrations_with_dialect_sections_embed() {
        let dir = Dir::with(
            "generated",
            &[(
                "0001_auto.sql",
                "-- sylvan:generated\n-- sylvan:postgres\nCREATE TABLE a (x BIGINT);\n\
                 -- sylvan:sqlite\nCREATE TABLE a (x INTEGER);\n-- down\n\
                 -- sylvan:postgres\nDROP TABLE a;\n-- sylvan:sqlite\nDROP TABLE a;\n\
                 -- sylvan:state\n-- table \"a\"\n",
            )],
        );
        let out = expand(&dir.lit()).unwrap().to_string();
        assert!(out.contains("sylvan:state"), "{out}");
        let bad = Dir::with(
            "misspelt",
            &[("0001_auto.sql", "-- sylvan:postgress\nSELECT 1;\n")],
        );
        let e = expand(&bad.lit()).unwrap_err().to_string();
        assert!(e.contains("0001_auto.sql: line 1"), "{e}");
    }

    #[test]
    fn the_directory_and_its_file_names_are_baked_in() {
        let dir = Dir::with(
            "names",
            &[
                ("0002_b.sql", "SELECT 2;\n"),
                ("0001_a.sql", "SELECT 1;\n"),
                ("README.md", "not a migration"),
            ],
        );
        let out = expand(&dir.lit()).unwrap().to_string();
        assert!(out.contains("embedded_from"), "{out}");
        assert!(
            out.contains(&format!("{:?}", dir.0.display().to_string())),
            "{out}"
        );
        assert!(out.contains("[\"0001_a.sql\" , \"0002_b.sql\"]"), "{out}");
        assert!(!out.contains("README.md"), "{out}");
    }
}
