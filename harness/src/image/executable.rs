//! The program Lambda starts: `ENTRYPOINT` + `CMD`'s first word, found the way `execve` and the
//! runtime find it (`PATH` for a bare name, symlinks followed), and what it is: a static or
//! dynamic ELF for some machine (with its loader, which must be in the image too), or a script
//! whose `#!` interpreter is the program that really runs. `#!/usr/bin/env NAME`, the most
//! common `#!` line, runs NAME found on the image's `PATH` the way `env` finds it: NAME is
//! judged as well as `env`.

use super::ImageError;
use super::archive::TarIndex;
use super::filesystem::Filesystem;
use crate::arch::machine_of_elf;

/// `PATH` when the image sets none (Docker's default).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Enough of a file for its ELF and program headers, its `PT_INTERP` string, or a `#!` line.
const HEAD_BYTES: u64 = 64 * 1024;
/// Scripts calling scripts: how deep the gate follows `#!` lines.
const MAX_SCRIPT_DEPTH: usize = 4;

/// What the image would run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Executable {
    /// An ELF binary.
    Elf {
        /// Its real path, after symlinks.
        path: String,
        /// How the command got there (`PATH` lookup, symlinks).
        via: Vec<String>,
        /// ELF `e_machine`.
        machine: u16,
        /// Its program interpreter (dynamic loader); `None` for a static binary.
        loader: Option<Loader>,
    },
    /// A script; the interpreter on its `#!` line is what runs.
    Script {
        /// Its real path.
        path: String,
        /// How the command got there.
        via: Vec<String>,
        /// The interpreter.
        interpreter: Box<Executable>,
        /// What the interpreter runs when it is `env` (`#!/usr/bin/env NAME`): NAME, found on
        /// the image's `PATH`. It runs too, so it is judged as well as `env`.
        #[serde(skip_serializing_if = "Option::is_none")]
        env_runs: Option<Box<Executable>>,
    },
    /// A file that is neither ELF nor a script.
    NotExecutable {
        /// Its real path.
        path: String,
        /// What the first bytes look like.
        what: String,
    },
    /// Nothing runnable was found.
    Missing {
        /// The command as the image names it.
        command: String,
        /// Why.
        reason: String,
    },
}

/// A dynamic ELF's loader, as found in the image.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Loader {
    /// The path the ELF names (`PT_INTERP`).
    pub path: String,
    /// The loader's own ELF machine, if the file exists and is ELF.
    pub machine: Option<u16>,
    /// Why it is missing, if it is.
    pub problem: Option<String>,
}

/// Finds and describes the program `command` with the image's `PATH`.
pub(super) fn find(
    fs: &Filesystem,
    index: &TarIndex,
    command: &str,
    path_env: Option<&str>,
) -> Result<Executable, ImageError> {
    describe(fs, index, command, path_env, 0)
}

fn describe(
    fs: &Filesystem,
    index: &TarIndex,
    command: &str,
    path_env: Option<&str>,
    depth: usize,
) -> Result<Executable, ImageError> {
    let mut lookup = Vec::new();
    let found = if command.contains('/') {
        fs.resolve(command)
    } else {
        let path = path_env.unwrap_or(DEFAULT_PATH);
        let hit = path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
            fs.resolve(&format!("{}/{command}", dir.trim_end_matches('/')))
                .ok()
        });
        match hit {
            Some(found) => {
                lookup.push(format!("{command} found on PATH"));
                Ok(found)
            }
            None => Err(format!("{command} is not in any directory of PATH={path}")),
        }
    };
    let found = match found {
        Ok(found) => found,
        Err(reason) => {
            return Ok(Executable::Missing {
                command: command.to_owned(),
                reason,
            });
        }
    };
    let mut via = lookup;
    via.extend(found.via);
    let head = fs.read(index, &found.data, HEAD_BYTES)?;
    if let Some(machine) = machine_of_elf(&head) {
        let loader = match interpreter(&head) {
            None => None,
            Some(path) => Some(match fs.resolve(&path) {
                Ok(file) => {
                    let bytes = fs.read(index, &file.data, HEAD_BYTES)?;
                    let machine = machine_of_elf(&bytes);
                    Loader {
                        problem: machine
                            .is_none()
                            .then(|| format!("{} is not an ELF file", file.path)),
                        path,
                        machine,
                    }
                }
                Err(reason) => Loader {
                    path,
                    machine: None,
                    problem: Some(reason),
                },
            }),
        };
        return Ok(Executable::Elf {
            path: found.path,
            via,
            machine,
            loader,
        });
    }
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        // The kernel passes what follows the interpreter as one argument.
        let line = line.trim();
        let (program, argument) = line
            .split_once([' ', '\t'])
            .map_or((line, ""), |(p, a)| (p, a.trim()));
        if program.is_empty() {
            return Ok(Executable::NotExecutable {
                path: found.path,
                what: "a #! line without an interpreter".to_owned(),
            });
        }
        if depth >= MAX_SCRIPT_DEPTH {
            return Ok(Executable::NotExecutable {
                path: found.path,
                what: "a script whose interpreters nest too deeply".to_owned(),
            });
        }
        let interpreter = describe(fs, index, program, path_env, depth + 1)?;
        // `argv[0]` decides what a multi-call binary (busybox) does: the name on the line.
        let env_runs = if program.rsplit('/').next() == Some("env") {
            Some(Box::new(env_program(fs, index, argument, path_env, depth)?))
        } else {
            None
        };
        return Ok(Executable::Script {
            path: found.path,
            via,
            interpreter: Box::new(interpreter),
            env_runs,
        });
    }
    Ok(Executable::NotExecutable {
        path: found.path,
        what: format!(
            "starts with {:?}",
            String::from_utf8_lossy(&head[..head.len().min(16)])
        ),
    })
}

/// The program `env` runs with `argument` (the rest of a `#!/usr/bin/env` line), found on the
/// `PATH` it would use: a `PATH=` it sets, glibc's default after `-i`, else the image's, else
/// Lambda's.
fn env_program(
    fs: &Filesystem,
    index: &TarIndex,
    argument: &str,
    path_env: Option<&str>,
    depth: usize,
) -> Result<Executable, ImageError> {
    let command = EnvCommand::parse(argument);
    let Some(program) = command.program else {
        return Ok(Executable::Missing {
            command: format!("env {argument}"),
            reason: format!("`#!/usr/bin/env {argument}` names no program for env to run"),
        });
    };
    let path = match (&command.path, command.ignore_environment) {
        (Some(path), _) => path.as_str(),
        (None, true) => EXECVP_DEFAULT_PATH,
        (None, false) => path_env.unwrap_or(crate::lambda::DEFAULT_PATH),
    };
    let mut runs = describe(fs, index, &program, Some(path), depth + 1)?;
    let note = format!("#!/usr/bin/env runs {program} with PATH={path}");
    match &mut runs {
        Executable::Elf { via, .. } | Executable::Script { via, .. } => via.insert(0, note),
        Executable::Missing { reason, .. } => *reason = format!("{reason} ({note})"),
        Executable::NotExecutable { .. } => {}
    }
    Ok(runs)
}

/// glibc's `execvp` path when the environment has no `PATH` (`env -i`).
const EXECVP_DEFAULT_PATH: &str = "/bin:/usr/bin";

/// What GNU `env` makes of its arguments: options, `NAME=VALUE` assignments, then the program.
#[derive(Debug, Default, PartialEq)]
struct EnvCommand {
    program: Option<String>,
    /// A `PATH=` assignment.
    path: Option<String>,
    /// `-i`: the program starts with no environment (and so no `PATH`).
    ignore_environment: bool,
}

impl EnvCommand {
    /// Parses the one argument the kernel passes from a `#!` line; `-S` (`--split-string`)
    /// splits it into more, as `env` does.
    fn parse(argument: &str) -> Self {
        let mut command = EnvCommand::default();
        let mut args: Vec<String> = if argument.is_empty() {
            Vec::new()
        } else {
            vec![argument.to_owned()]
        };
        args.reverse();
        let mut options = true;
        while let Some(arg) = args.pop() {
            if options && arg == "--" {
                options = false;
            } else if options && (arg == "-" || arg == "--ignore-environment") {
                command.ignore_environment = true;
            } else if options && let Some(rest) = arg.strip_prefix("--split-string") {
                let split = rest.strip_prefix('=').map(str::to_owned);
                let split = split.or_else(|| args.pop()).unwrap_or_default();
                args.extend(split_string(&split).into_iter().rev());
            } else if options && (arg.starts_with("--unset") || arg.starts_with("--chdir")) {
                if !arg.contains('=') {
                    args.pop();
                }
            } else if options && arg.starts_with("--") {
                // Other long options take no value.
            } else if options && arg.len() > 1 && arg.starts_with('-') {
                let flags = &arg[1..];
                for (i, flag) in flags.char_indices() {
                    let rest = &flags[i + flag.len_utf8()..];
                    match flag {
                        'i' => command.ignore_environment = true,
                        'S' => {
                            let split = if rest.is_empty() {
                                args.pop().unwrap_or_default()
                            } else {
                                rest.to_owned()
                            };
                            args.extend(split_string(&split).into_iter().rev());
                            break;
                        }
                        'u' | 'C' => {
                            if rest.is_empty() {
                                args.pop();
                            }
                            break;
                        }
                        _ => {}
                    }
                }
            } else if let Some((name, value)) = arg.split_once('=')
                && command.program.is_none()
                && !name.is_empty()
            {
                if name == "PATH" {
                    command.path = Some(value.to_owned());
                }
                options = false;
            } else {
                command.program = Some(arg);
                break;
            }
        }
        command
    }
}

/// `env -S`'s split: words separated by blanks, with `'...'` and `"..."` quoting.
fn split_string(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ' | '\t') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `PT_INTERP` path of an ELF file, `None` for a static one.
fn interpreter(bytes: &[u8]) -> Option<String> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let header = object::elf::FileHeader64::<object::Endianness>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let headers = header.program_headers(endian, bytes).ok()?;
    headers
        .iter()
        .find(|ph| ph.p_type(endian) == object::elf::PT_INTERP)
        .map(|ph| {
            let start = usize::try_from(ph.p_offset(endian)).unwrap_or(usize::MAX);
            let size = usize::try_from(ph.p_filesz(endian)).unwrap_or(0);
            let raw = bytes
                .get(start..start.saturating_add(size))
                .unwrap_or_default();
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::EnvCommand;

    fn parse(argument: &str) -> (Option<String>, Option<String>, bool) {
        let command = EnvCommand::parse(argument);
        (command.program, command.path, command.ignore_environment)
    }

    #[test]
    fn env_finds_the_program_after_its_options_and_assignments() {
        let program = |argument: &str| parse(argument).0.unwrap_or_default();
        assert_eq!(program("python3"), "python3");
        assert_eq!(program("-S python3 -u"), "python3");
        assert_eq!(program("-S\tpython3 -u"), "python3");
        assert_eq!(program("-vS mybin --flag"), "mybin");
        assert_eq!(program("--split-string=node --x"), "node");
        assert_eq!(program("-S -u HOME LANG=C 'my bin' -x"), "my bin");
        assert_eq!(program("-S -- mybin"), "mybin");
        assert_eq!(
            parse("-S PATH=/opt/bin:/bin mybin"),
            (
                Some("mybin".to_owned()),
                Some("/opt/bin:/bin".to_owned()),
                false
            )
        );
        assert_eq!(parse("-S -i mybin"), (Some("mybin".to_owned()), None, true));
        assert_eq!(parse(""), (None, None, false));
        assert_eq!(parse("-S A=1"), (None, None, false));
    }
}
