//! The program Lambda starts: `ENTRYPOINT` + `CMD`'s first word, found the way `execve` and the
//! runtime find it (`PATH` for a bare name, symlinks followed), and what it is: a static or
//! dynamic ELF for some machine (with its loader, which must be in the image too), or a script
//! whose `#!` interpreter is the program that really runs.

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
        let Some(program) = line.split_whitespace().next() else {
            return Ok(Executable::NotExecutable {
                path: found.path,
                what: "a #! line without an interpreter".to_owned(),
            });
        };
        if depth >= MAX_SCRIPT_DEPTH {
            return Ok(Executable::NotExecutable {
                path: found.path,
                what: "a script whose interpreters nest too deeply".to_owned(),
            });
        }
        let interpreter = describe(fs, index, program, path_env, depth + 1)?;
        return Ok(Executable::Script {
            path: found.path,
            via,
            interpreter: Box::new(interpreter),
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
