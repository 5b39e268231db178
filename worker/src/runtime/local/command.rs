//! How an instance's command line is run. A plain command naming its
//! program by path, with its arguments and `$NAME`s at most
//! (`./bin/web --port $PORT`, `'/opt/my app/web'`), is executed directly,
//! its `$NAME`s expanded and split and its single quotes removed as `sh`
//! would: no shell process to start first. Anything else is
//! `sh -c`'s, as `exec <line>` when it is one command, so the shell becomes
//! the app instead of forking it and waiting (dash does not do that by
//! itself). A bare program name is left to `sh`'s `PATH` search: it skips a
//! directory the app's user cannot enter (the worker's `PATH` may start with
//! one under `/root`), where `execvp`'s search, as the switch to the app's
//! uid runs it, gives up with status 126.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Characters that make a line more than one plain command: operators,
/// redirections, grouping, substitutions, double quotes, escapes, comments.
const NOT_PLAIN: &[char] = &[
    ';', '&', '|', '<', '>', '(', ')', '{', '}', '`', '\\', '"', '\n', '#', '!',
];
/// What `sh` expands in ways only a shell should: globs and `~`.
const GLOB: &[char] = &['*', '?', '[', '~'];
/// Blanks `sh` splits expansions on (its default `IFS`).
const BLANKS: &[char] = &[' ', '\t', '\n'];

/// Builtins and keywords of `sh`: a command starting with one needs the shell.
const BUILTINS: &[&str] = &[
    ".", ":", "[", "alias", "bg", "break", "case", "cd", "chdir", "command", "continue", "do",
    "done", "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg",
    "fi", "for", "getopts", "hash", "if", "in", "jobs", "kill", "local", "printf", "pwd", "read",
    "readonly", "return", "set", "shift", "test", "then", "times", "trap", "true", "type",
    "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// What to execute for a command line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Program {
    /// The program and its arguments, expanded.
    Direct(Vec<String>),
    /// The line for `sh -c`.
    Shell(String),
}

/// How to run `line` for a process whose environment is `env`.
pub(super) fn program(line: &str, env: &BTreeMap<String, OsString>) -> Program {
    if !is_plain(line) {
        return Program::Shell(line.to_owned());
    }
    match words(line, env) {
        Some(words) => Program::Direct(words),
        None => Program::Shell(format!("exec {line}")),
    }
}

/// One command: no character of [`NOT_PLAIN`], and a first word that is
/// neither an assignment nor a builtin or keyword.
fn is_plain(line: &str) -> bool {
    match line.split_whitespace().next() {
        Some(first) => !line.contains(NOT_PLAIN) && !needs_shell(first),
        None => false,
    }
}

fn needs_shell(first: &str) -> bool {
    first.contains('=') || BUILTINS.contains(&first)
}

/// A piece of a word as written: plain text, single-quoted text (taken
/// as it is), or a `$NAME`.
enum Piece<'a> {
    Text(&'a str),
    Quoted(&'a str),
    Name(&'a str),
}

/// The words of a plain `line` (see [`is_plain`]) whose program is a path,
/// as `sh` makes them: each `$NAME` outside quotes replaced by its value in
/// `env` (nothing when unset) and split on blanks, single quotes removed
/// with nothing inside them expanded. `None` where only a shell would get it
/// right: a glob outside quotes (or in a value), `$` without a name, an
/// unterminated quote, a value that is not UTF-8, an `IFS` of the app's own.
fn words(line: &str, env: &BTreeMap<String, OsString>) -> Option<Vec<String>> {
    if env.contains_key("IFS") {
        return None;
    }
    let mut words = Vec::new();
    for pieces in split(line)? {
        // `Some` once the word has begun: `''` is a word, an empty `$NAME` is not.
        let mut word: Option<String> = None;
        for piece in pieces {
            match piece {
                Piece::Text(text) if text.contains(GLOB) => return None,
                Piece::Text(text) | Piece::Quoted(text) => {
                    word.get_or_insert_with(String::new).push_str(text)
                }
                Piece::Name(name) => {
                    let value = match env.get(name) {
                        Some(value) => value.to_str()?,
                        None => "",
                    };
                    if value.contains(GLOB) {
                        return None;
                    }
                    let mut fields = value.split(BLANKS);
                    if let Some(first) = fields.next().filter(|f| !f.is_empty()) {
                        word.get_or_insert_with(String::new).push_str(first);
                    }
                    for field in fields {
                        words.extend(word.take());
                        word = (!field.is_empty()).then(|| field.to_owned());
                    }
                }
            }
        }
        words.extend(word);
    }
    match words.first() {
        Some(first) if first.contains('/') && !needs_shell(first) => Some(words),
        _ => None,
    }
}

/// `line` cut into words at blanks outside quotes, each as its pieces;
/// `None` for an unterminated quote or a `$` without a name.
fn split(line: &str) -> Option<Vec<Vec<Piece<'_>>>> {
    let mut words = Vec::new();
    let mut word = Vec::new();
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        rest = if BLANKS.contains(&c) {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            after
        } else if c == '\'' {
            let end = after.find('\'')?;
            word.push(Piece::Quoted(&after[..end]));
            &after[end + 1..]
        } else if c == '$' {
            let len = name_len(after)?;
            word.push(Piece::Name(&after[..len]));
            &after[len..]
        } else {
            let end = rest
                .find(|c: char| BLANKS.contains(&c) || c == '\'' || c == '$')
                .unwrap_or(rest.len());
            word.push(Piece::Text(&rest[..end]));
            &rest[end..]
        };
    }
    if !word.is_empty() {
        words.push(word);
    }
    Some(words)
}

/// The length of the variable name `s` starts with; `None` when it starts
/// with none (`$1`, `$@`, a `$` alone), which is for a shell to read.
fn name_len(s: &str) -> Option<usize> {
    let len = s
        .char_indices()
        .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(s.len(), |(i, _)| i);
    (len > 0).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> BTreeMap<String, OsString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect()
    }

    fn direct(words: &[&str]) -> Program {
        Program::Direct(words.iter().map(|w| (*w).to_owned()).collect())
    }

    #[test]
    fn a_plain_command_runs_directly_with_its_names_expanded_and_split() {
        let env = env_of(&[("PORT", "8080"), ("FLAGS", " -v  --color "), ("EMPTY", "")]);
        assert_eq!(program("  ./web serve", &env), direct(&["./web", "serve"]));
        assert_eq!(
            program("/srv/web --port $PORT --bind=0.0.0.0:$PORT", &env),
            direct(&["/srv/web", "--port", "8080", "--bind=0.0.0.0:8080"])
        );
        assert_eq!(
            program("bin/web $FLAGS $EMPTY $UNSET x$PORT.y", &env),
            direct(&["bin/web", "-v", "--color", "x8080.y"])
        );
    }

    #[test]
    fn single_quotes_are_removed_and_nothing_inside_them_expanded() {
        let env = env_of(&[("PORT", "8080"), ("FLAGS", " -v ")]);
        assert_eq!(
            program("'/opt/my app/web' --port $PORT 'a  b' x'y'z ''", &env),
            direct(&["/opt/my app/web", "--port", "8080", "a  b", "xyz", ""])
        );
        assert_eq!(
            program("./web '$PORT' '*.txt' '~'", &env),
            direct(&["./web", "$PORT", "*.txt", "~"])
        );
        assert_eq!(
            program("./web $FLAGS'x' $UNSET'' a$PORT'$PORT'", &env),
            direct(&["./web", "-v", "x", "", "a8080$PORT"])
        );
    }

    #[test]
    fn what_only_a_shell_reads_goes_to_sh_as_exec_when_it_is_one_command() {
        let env = env_of(&[("GLOB", "*.txt"), ("CMD", "echo"), ("PORT", "8080")]);
        for line in [
            "python3 -m http.server $PORT",
            "ls *.txt",
            "cat ~/x",
            "./web $1",
            "./web $",
            "./web $$",
            "./web $GLOB",
            "$CMD hi",
            "./web 'unterminated",
            "'web' --bare-name",
        ] {
            assert_eq!(
                program(line, &env),
                Program::Shell(format!("exec {line}")),
                "{line}"
            );
        }
        let split = env_of(&[("IFS", ":"), ("A", "x:y")]);
        assert_eq!(
            program("./web $A", &split),
            Program::Shell("exec ./web $A".to_owned())
        );
    }

    #[test]
    fn anything_more_than_one_plain_command_goes_to_sh_as_it_is() {
        let env = BTreeMap::new();
        for line in [
            "",
            "   ",
            "a && b",
            "a; b",
            "a | b",
            "a > log",
            "FOO=1 app",
            "cd web",
            "exit 3",
            "echo hi",
            "sleep 1 &",
            "python -c 'print(1)'",
            "echo \"$(date)\"",
            "app\nother",
            "while true",
            "app # comment",
            "web ${PORT}",
        ] {
            assert_eq!(
                program(line, &env),
                Program::Shell(line.to_owned()),
                "{line:?}"
            );
        }
    }
}
