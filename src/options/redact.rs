//! Passwords hidden from the URLs that error messages show.

use super::key_value::{key_value_pairs, looks_like_key_value};
use super::url::is_url;

/// The URL with any password replaced, for error messages.
///
/// Errs on the side of hiding too much: in a URL everything from the first
/// `:` of the user part to the *last* `@` is hidden (a password may hold an
/// unencoded `/`, `?` or `@`), and so is any `password=` parameter; in a
/// libpq `key=value` string every `password` value is hidden, and whatever
/// follows a part that does not parse is left out.
pub(super) fn redact(url: &str) -> String {
    let shown = if let Some((scheme, rest)) = url.split_once("://").filter(|_| is_url(url)) {
        match rest.rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
                    None => url.to_owned(),
                }
            }
            None => url.to_owned(),
        }
    } else if looks_like_key_value(url) {
        redact_key_value(url)
    } else {
        url.to_owned()
    };
    redact_password_params(&shown)
}

/// Hides the value of every `password=` URL parameter.
fn redact_password_params(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find(['?', '&']) {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let key_end = rest.find(['=', '&']).unwrap_or(rest.len());
        if rest[..key_end].eq_ignore_ascii_case("password") && rest[key_end..].starts_with('=') {
            out.push_str(&rest[..=key_end]);
            out.push_str("***");
            rest = &rest[key_end + 1..];
            rest = &rest[rest.find('&').unwrap_or(rest.len())..];
        }
    }
    out.push_str(rest);
    out
}

/// A libpq `key=value` string with every `password` value hidden; the text
/// after a part that does not parse is left out.
fn redact_key_value(s: &str) -> String {
    let (pairs, failed_at) = match key_value_pairs(s) {
        Ok(pairs) => (pairs, None),
        Err(e) => (e.parsed, Some(e.at)),
    };
    let mut out = String::with_capacity(s.len());
    let mut shown = 0;
    for pair in pairs
        .iter()
        .filter(|p| p.key.eq_ignore_ascii_case("password"))
    {
        out.push_str(&s[shown..pair.raw.start]);
        out.push_str("***");
        shown = pair.raw.end;
    }
    match failed_at {
        None => out.push_str(&s[shown..]),
        Some(at) => {
            out.push_str(&s[shown..at.max(shown)]);
            out.push('…');
        }
    }
    out
}

#[cfg(test)]
#[cfg(all(feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::super::{ConnectOptions, Target};
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, password) in [
            ("postgres://u:secret@h/db", "secret"),
            ("postgres://u:pa/ss?w@h/db", "pa/ss?w"),
            ("postgres://u:pa/ss?w@h/db", "ss?w"),
            ("postgres://u:p@ss@h/db", "p@ss"),
            ("postgres://u:p@ss@h/db", "ss@"),
            ("postgresql://u:pa?ss@h:5432/db?nonsense=1", "pa?ss"),
            ("postgres://u:s%40cret@h/db?x=1", "s%40cret"),
            ("postgres://u@h/db?password=secret&nonsense=1", "secret"),
            ("postgres://u@h/db?nonsense=1&PASSWORD=secret", "secret"),
            ("host=h password=secret nonsense=1", "secret"),
            ("host=h password='se cret' nonsense=1", "se cret"),
            ("host=h password='se cret' nonsense=1", "cret"),
            ("host=h password = 'it\\'s' bogus", "it\\'s"),
            ("host=h password='se cret", "se cret"),
            ("host=h password=secret user", "secret"),
            ("host=h password=", "password=\u{2026}"),
            ("host=h password=secret application_name=a://b@c", "secret"),
            ("password=secret host=h://x nonsense=1", "secret"),
        ] {
            let shown = redact(url);
            assert!(!shown.contains(password), "{url} shows {password}: {shown}");
            if let Err(e) = ConnectOptions::parse(url) {
                for text in [e.to_string(), format!("{e:?}")] {
                    assert!(!text.contains(password), "{url}: {text}");
                }
            }
        }
        // What is not a password stays readable.
        assert_eq!(
            redact("postgres://u:pw@h:5432/db?application_name=a"),
            "postgres://u:***@h:5432/db?application_name=a"
        );
        assert_eq!(
            redact("host=h password='se cret' dbname=d"),
            "host=h password=*** dbname=d"
        );
        assert_eq!(
            redact("postgres://u@h/db?password=x&sslmode=disable"),
            "postgres://u@h/db?password=***&sslmode=disable"
        );
        assert_eq!(redact("sqlite://a.db?x=1"), "sqlite://a.db?x=1");
        let o = ConnectOptions::parse("host=h application_name=http://x").unwrap();
        assert!(matches!(o.target, Target::Postgres(_)));
    }
}
