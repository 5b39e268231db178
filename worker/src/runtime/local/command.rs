//! How an instance's command line is run. A plain command naming its
//! program by path, with its arguments and `$NAME`s at most
//! (`./bin/web --port $PORT`), is executed directly, its `$NAME`s expanded
//! and split as `sh` would: no shell process to start first. Anything else is
//! `sh -c`'s, as `exec <line>` when it is one command, so the shell becomes
//! the app instead of forking it and waiting (dash does not do that by
//! itself). A bare program name is left to `sh`'s `PATH` search: it skips a
//! directory the app's user cannot enter (the worker's `PATH` may start with
//! one under `/root`), where `setpriv`'s own search gives up with status 126.

use std::collections::BTreeMap;
use std::ffi::OsString;

/// Characters that make a line more than one plain command: operators,
/// redirections, grouping, substitutions, quotes, escapes, comments.
const NOT_PLAIN: &[char] = &[
    ';', '&', '|', '<', '>', '(', ')', '{', '}', '`', '\\', '\'', '"', '\n', '#', '!',
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

/// The words of a plain `line` (see [`is_plain`]) without globs whose
/// program is a path, each `$NAME` replaced by its value in `env` (nothing
/// when unset) and split on blanks, as `sh` does; `None` where only a shell
/// would get it right (or a value is not UTF-8).
fn words(line: &str, env: &BTreeMap<String, OsString>) -> Option<Vec<String>> {
    if line.contains(GLOB) || env.contains_key("IFS") {
        return None;
    }
    let mut words = Vec::new();
    for word in line.split_whitespace() {
        let mut expanded = String::new();
        let mut rest = word;
        while let Some(at) = rest.find('$') {
            expanded.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let len = name_len(after)?;
            let value = match env.get(&after[..len]) {
                Some(value) => value.to_str()?,
                None => "",
            };
            if value.contains(GLOB) {
                return None;
            }
            expanded.push_str(value);
            rest = &after[len..];
        }
        expanded.push_str(rest);
        words.extend(
            expanded
                .split(BLANKS)
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
        );
    }
    match words.first() {
        Some(first) if first.contains('/') && !needs_shell(first) => Some(words),
        _ => None,
    }
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
