//! Migration checksums: SHA-256 of the up section with its line endings
//! normalised (CRLF and lone CR become LF), so one file checked out on
//! Windows (`core.autocrlf`) and on Linux has one checksum.
//!
//! Versions before this one recorded FNV-1a 64 of the raw up text (16 hex
//! digits). [`matches`] still accepts such a record when it equals the
//! legacy hash of the file's up text, raw or normalised; the record is not
//! rewritten (verifying stays read-only), so an old database keeps its old
//! values and new migrations get SHA-256 ones.

use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The text with CRLF and lone CR turned into LF (borrowed when it has no
/// CR at all).
pub(super) fn normalise_line_endings(text: &str) -> Cow<'_, str> {
    if !text.contains('\r') {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The checksum recorded for an up section: SHA-256 of the normalised
/// text, 64 lowercase hex digits.
pub(super) fn checksum(up: &str) -> String {
    let digest = Sha256::digest(normalise_line_endings(up).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a 64 of the text, 16 lowercase hex digits: the checksum recorded
/// by earlier versions.
fn legacy_fnv(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// True when `recorded` is the checksum of `up`: the current one, or a
/// legacy FNV value of the raw or the normalised text.
pub(super) fn matches(recorded: &str, up: &str) -> bool {
    if recorded.len() == 16 {
        return recorded == legacy_fnv(up) || recorded == legacy_fnv(&normalise_line_endings(up));
    }
    recorded == checksum(up)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_lone_cr_and_lf_have_one_checksum() {
        let lf = checksum("CREATE TABLE t (x INT);\nCREATE INDEX i ON t (x);\n");
        let crlf = checksum("CREATE TABLE t (x INT);\r\nCREATE INDEX i ON t (x);\r\n");
        let cr = checksum("CREATE TABLE t (x INT);\rCREATE INDEX i ON t (x);\r");
        assert_eq!(lf, crlf);
        assert_eq!(lf, cr);
        assert_eq!(lf.len(), 64);
        assert!(lf.bytes().all(|b| b.is_ascii_hexdigit()), "{lf}");
    }

    #[test]
    fn known_sha256_value() {
        // `printf 'SELECT 1;\n' | sha256sum`
        assert_eq!(
            checksum("SELECT 1;\r\n"),
            "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd"
        );
    }

    #[test]
    fn different_sql_has_a_different_checksum() {
        assert_ne!(
            checksum("CREATE TABLE t (x INT)"),
            checksum("CREATE TABLE t (x BIGINT)")
        );
        // Line breaks are not whitespace-insensitive beyond their endings.
        assert_ne!(checksum("SELECT 1;\n\n"), checksum("SELECT 1;\n"));
    }

    #[test]
    fn legacy_fnv_records_are_accepted_raw_or_normalised() {
        let lf = "CREATE TABLE t (x INT);\n";
        let crlf = "CREATE TABLE t (x INT);\r\n";
        // Recorded by the old version on Linux, verified against a CRLF checkout.
        assert!(matches(&legacy_fnv(lf), crlf));
        // Recorded on Windows (CRLF), verified against the same CRLF file.
        assert!(matches(&legacy_fnv(crlf), crlf));
        assert!(matches(&legacy_fnv(lf), lf));
        assert!(matches(&checksum(crlf), lf));
        // The FNV value of 0xcbf29ce484222325 for the empty text.
        assert_eq!(legacy_fnv(""), "cbf29ce484222325");
    }

    #[test]
    fn an_edited_file_is_still_detected() {
        let old = "CREATE TABLE t (x INT);\n";
        let new = "CREATE TABLE t (x BIGINT);\n";
        assert!(!matches(&legacy_fnv(old), new));
        assert!(!matches(&checksum(old), new));
        assert!(!matches("not a checksum", new));
        assert!(!matches("", new));
    }
}
