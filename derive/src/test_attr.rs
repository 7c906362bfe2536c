//! `#[sylvan::test(...)]`: an async test run once per backend, each run
//! on a fresh database (the runtime lives in `sylvan::testing`).
//!
//! `#[sylvan::test(schema = books)] async fn adds_books(db: Database)`
//! keeps the function as written and adds, beside it, a hidden setup
//! function (`fn() -> Setup`, so the option's path resolves where the user
//! wrote it) and a module of the same name (modules and functions live in
//! different namespaces) holding one `#[test] fn sqlite()` and one
//! `#[test] fn postgres()`, each calling `sylvan::testing::TestRun`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, LitBool, LitStr, Path};

const OPTIONS: &str = "expected `schema = fn`, `migrations = \"dir\"`, `migrations = fn`, `backends(sqlite, postgres)`, `n_plus_one = false` or `crate = \"path\"`";

/// Where the test database's setup comes from.
enum SetupArg {
    Schema(Path),
    MigrationsDir(LitStr),
    MigrationsFn(Path),
}

/// The parsed options.
#[derive(Default)]
struct Options {
    setup: Option<(Ident, SetupArg)>,
    sqlite: bool,
    postgres: bool,
    backends_given: bool,
    n_plus_one: Option<LitBool>,
    krate: Option<Path>,
}

/// Collects errors so that all of one input are reported together.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn parse_options(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "schema" | "migrations" => {
                let ident = meta
                    .path
                    .get_ident()
                    .cloned()
                    .unwrap_or_else(|| Ident::new(&key, Span::call_site()));
                let value = meta.value()?;
                let arg = if key == "migrations" && value.peek(LitStr) {
                    SetupArg::MigrationsDir(value.parse()?)
                } else {
                    let path: Path = value.parse().map_err(|e| {
                        let what = if key == "schema" {
                            "`schema = my_schema`, the path of a `fn() -> sylvan::Schema`"
                        } else {
                            "`migrations = \"dir\"` (a directory) or `migrations = my_migrations`, the path of a `fn() -> sylvan::Migrations`"
                        };
                        syn::Error::new(e.span(), format!("expected {what}"))
                    })?;
                    if key == "schema" {
                        SetupArg::Schema(path)
                    } else {
                        SetupArg::MigrationsFn(path)
                    }
                };
                match &options.setup {
                    Some((first, _)) if first == "schema" && key == "schema" || first == "migrations" && key == "migrations" => {
                        errors.push(syn::Error::new_spanned(&ident, format!("`{key}` is given twice")));
                    }
                    Some(_) => errors.push(syn::Error::new_spanned(
                        &ident,
                        "give either `schema = …` or `migrations = …`, not both: a test database is set up by one of them",
                    )),
                    None => options.setup = Some((ident, arg)),
                }
                Ok(())
            }
            "backends" => {
                if options.backends_given {
                    errors.push(meta.error("`backends` is given twice"));
                }
                options.backends_given = true;
                let mut unknown = false;
                meta.parse_nested_meta(|backend| {
                    if backend.path.is_ident("sqlite") {
                        options.sqlite = true;
                    } else if backend.path.is_ident("postgres") {
                        options.postgres = true;
                    } else {
                        unknown = true;
                        errors.push(
                            backend.error("unknown backend; expected `sqlite` or `postgres`"),
                        );
                    }
                    Ok(())
                })?;
                if !unknown && !options.sqlite && !options.postgres {
                    errors.push(
                        meta.error("`backends(...)` needs at least one of `sqlite`, `postgres`"),
                    );
                }
                Ok(())
            }
            "n_plus_one" => {
                let value = meta.value()?;
                options.n_plus_one = Some(value.parse().map_err(|e: syn::Error| {
                    syn::Error::new(
                        e.span(),
                        "expected `n_plus_one = true` or `n_plus_one = false`",
                    )
                })?);
                Ok(())
            }
            "crate" => {
                let lit: LitStr = meta.value()?.parse()?;
                options.krate = Some(lit.parse().map_err(|_| {
                    syn::Error::new_spanned(
                        &lit,
                        "expected the path to Sylvan, e.g. `crate = \"::sylvan\"`",
                    )
                })?);
                Ok(())
            }
            _ => Err(meta.error(format!("unknown #[sylvan::test] option; {OPTIONS}"))),
        }
    });
    if let Err(e) = syn::parse::Parser::parse2(parser, args) {
        errors.push(e);
    }
    if !options.backends_given {
        options.sqlite = true;
        options.postgres = true;
    }
    options
}

/// Checks the function's signature: `async fn name(db: Database) -> ()`
/// or `-> Result<(), E>`.
fn check_signature(function: &ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "a #[sylvan::test] function is async: write `async fn name(db: sylvan::Database)`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a #[sylvan::test] function cannot be generic",
        ));
    }
    let takes_one = "a #[sylvan::test] function takes one argument, the test's database: `db: sylvan::Database`";
    match sig.inputs.len() {
        1 => match sig.inputs.first() {
            Some(syn::FnArg::Typed(arg)) => {
                if let syn::Type::Reference(r) = &*arg.ty {
                    errors.push(syn::Error::new_spanned(
                        r,
                        "take the database by value: `db: sylvan::Database` (it is a cheap handle)",
                    ));
                }
            }
            Some(receiver) => errors.push(syn::Error::new_spanned(receiver, takes_one)),
            None => {}
        },
        0 => errors.push(syn::Error::new(sig.paren_token.span.join(), takes_one)),
        _ => errors.push(syn::Error::new_spanned(&sig.inputs, takes_one)),
    }
}

/// Expands `#[sylvan::test(args)]` on `function`.
pub(crate) fn expand(args: TokenStream, function: ItemFn) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let options = parse_options(args, &mut errors);
    check_signature(&function, &mut errors);
    if let Err(e) = errors.finish() {
        // The function stays, so its imports and callers still resolve
        // and only the attribute's mistakes are reported.
        let e = e.into_compile_error();
        return Ok(quote! {
            #e
            #[allow(dead_code)]
            #function
        });
    }

    let krate = options
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::sylvan));
    let name = function.sig.ident.clone();
    let setup_fn = format_ident!("__sylvan_test_setup_{}", name);
    let setup = match &options.setup {
        None => quote! { #krate::testing::Setup::empty() },
        Some((_, SetupArg::Schema(path))) => {
            quote_spanned! {path.span()=> #krate::testing::Setup::schema(#path()) }
        }
        Some((_, SetupArg::MigrationsFn(path))) => {
            quote_spanned! {path.span()=> #krate::testing::Setup::migrations(#path()) }
        }
        Some((_, SetupArg::MigrationsDir(dir))) => {
            quote! { #krate::testing::Setup::migrations(#krate::embed_migrations!(#dir)) }
        }
    };
    let n_plus_one = options.n_plus_one.as_ref().is_none_or(LitBool::value);

    // `#[ignore]` and `#[should_panic]` go to the generated tests.
    let (forwarded, kept): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .cloned()
        .partition(|a| a.path().is_ident("ignore") || a.path().is_ident("should_panic"));
    let mut function = function;
    function.attrs = kept;

    let body_span = function.sig.span();
    let half = |backend: &str| {
        let test = Ident::new(backend, Span::call_site());
        let variant = Ident::new(
            if backend == "sqlite" {
                "Sqlite"
            } else {
                "Postgres"
            },
            Span::call_site(),
        );
        let run = quote_spanned! {body_span=>
            #krate::testing::TestRun::new(::core::module_path!(), #krate::testing::Backend::#variant)
                .setup(super::#setup_fn())
                .n_plus_one(#n_plus_one)
                .run(super::#name)
        };
        quote! {
            #[::core::prelude::v1::test]
            #(#forwarded)*
            fn #test() {
                #run;
            }
        }
    };
    let sqlite = options.sqlite.then(|| half("sqlite"));
    let postgres = options.postgres.then(|| half("postgres"));
    Ok(quote! {
        #[cfg_attr(not(test), allow(dead_code))]
        #function

        #[doc(hidden)]
        #[cfg_attr(not(test), allow(dead_code))]
        fn #setup_fn() -> #krate::testing::Setup {
            #setup
        }

        /// The backends' runs of the test of the same name.
        mod #name {
            #sqlite
            #postgres
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(args: TokenStream, function: TokenStream) -> String {
        let function: ItemFn = syn::parse2(function).unwrap();
        let out = expand(args, function).unwrap().to_string();
        assert!(out.contains("compile_error"), "{out}");
        out
    }

    #[test]
    fn every_mistake_of_one_input_is_reported() {
        let e = errors(
            quote!(schema = a, migrations = "m", colour = 1),
            quote!(
                fn t(a: i32, b: i32) {}
            ),
        );
        assert!(e.contains("not both"), "{e}");
        assert!(e.contains("unknown #[sylvan::test] option"), "{e}");
        assert!(e.contains("is async"), "{e}");
        assert!(e.contains("takes one argument"), "{e}");
    }

    #[test]
    fn one_backend_makes_one_test() {
        let function: ItemFn = syn::parse2(quote!(
            async fn t(db: Database) {}
        ))
        .unwrap();
        let out = expand(quote!(backends(postgres)), function)
            .unwrap()
            .to_string();
        assert!(out.contains("fn postgres"), "{out}");
        assert!(!out.contains("fn sqlite"), "{out}");
    }
}
