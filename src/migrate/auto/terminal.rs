//! The question a rename raises, asked on a terminal: what
//! [`MakeMigrations::ask_on_terminal`](super::MakeMigrations::ask_on_terminal)
//! installs for a `makemigrations` binary.

use super::diff::{Ambiguity, Answer};
use std::io::{BufRead, IsTerminal, Write};

/// Asks on the process's terminal; [`Answer::Stop`] (the question becomes
/// the error) when standard input is not a terminal, so a script or CI job
/// never hangs on a prompt.
pub(super) fn ask(ambiguity: &Ambiguity) -> Answer {
    if !std::io::stdin().is_terminal() {
        return Answer::Stop;
    }
    ask_with(
        ambiguity,
        &mut std::io::stdin().lock(),
        &mut std::io::stderr(),
    )
}

/// The names the removed table or column may have been renamed to.
fn candidates(ambiguity: &Ambiguity) -> (&str, &[String]) {
    match ambiguity {
        Ambiguity::Table { removed, added } | Ambiguity::Column { removed, added, .. } => {
            (removed, added)
        }
    }
}

/// Asks until the answer is one of the added names (a rename), `drop`, or
/// `stop`; end of input stops.
pub(super) fn ask_with(
    ambiguity: &Ambiguity,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> Answer {
    let (removed, added) = candidates(ambiguity);
    loop {
        // A prompt that cannot be written cannot be answered.
        if writeln!(output, "{ambiguity}").is_err()
            || write!(
                output,
                "Renamed to which of {}? Type the new name, `drop` to drop \"{removed}\" with its data, or `stop`: ",
                added.join(", ")
            )
            .is_err()
            || output.flush().is_err()
        {
            return Answer::Stop;
        }
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return Answer::Stop,
            Ok(_) => {}
        }
        match line.trim() {
            "drop" => return Answer::Drop,
            "stop" => return Answer::Stop,
            name if added.iter().any(|a| a == name) => return Answer::Rename(name.to_owned()),
            other => {
                let _ = writeln!(output, "\"{other}\" is not one of the answers.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column() -> Ambiguity {
        Ambiguity::Column {
            table: "book".into(),
            removed: "title".into(),
            added: vec!["name".into(), "subtitle".into()],
        }
    }

    fn answer(typed: &str) -> (Answer, String) {
        let mut out = Vec::new();
        let a = ask_with(&column(), &mut typed.as_bytes(), &mut out);
        (a, String::from_utf8(out).unwrap())
    }

    #[test]
    fn a_typed_name_is_a_rename_and_drop_and_stop_are_words() {
        let (a, out) = answer("name\n");
        assert_eq!(a, Answer::Rename("name".into()));
        assert!(out.contains("lost column \"title\""), "{out}");
        assert!(out.contains("Renamed to which of name, subtitle?"), "{out}");
        assert_eq!(answer("drop\n").0, Answer::Drop);
        assert_eq!(answer("stop\n").0, Answer::Stop);
    }

    #[test]
    fn an_unknown_answer_asks_again_and_end_of_input_stops() {
        let (a, out) = answer("author\nsubtitle\n");
        assert_eq!(a, Answer::Rename("subtitle".into()));
        assert!(
            out.contains("\"author\" is not one of the answers"),
            "{out}"
        );
        assert_eq!(answer("").0, Answer::Stop);
        assert_eq!(answer("nope\n").0, Answer::Stop);
    }
}
