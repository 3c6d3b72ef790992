//! The build context: the files `docker build` would send, as a reproducible tar.
//!
//! `.dockerignore` is applied as Docker applies it (moby's patternmatcher): each pattern is a Go
//! `filepath.Match` glob plus `**`, anchored at the context root; it matches a path or any of
//! its parent directories; `!` makes an exception; the last pattern that matches decides. The
//! Dockerfile is always sent, excluded or not, as the Docker CLI does. A Dockerfile-specific
//! `<Dockerfile>.dockerignore` takes precedence over the context's, as in BuildKit.
//!
//! Every entry gets fixed metadata (owner 0, mtime 0), so the tar, and the content tag derived
//! from it, is a pure function of the files: the same sources give the same tag.

use globset::{Glob, GlobBuilder, GlobMatcher};
use std::path::{Path, PathBuf};

/// Where the Dockerfile goes when it lies outside the context.
const OUTSIDE_DOCKERFILE: &str = ".lambda-gate.Dockerfile";

/// Why the context could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A file or directory could not be read.
    #[error("cannot read {path} for the build context")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `.dockerignore` line is not a valid pattern.
    #[error("{path}:{line}: {message}")]
    Ignore {
        /// The ignore file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

struct Rule {
    text: String,
    matcher: GlobMatcher,
    exception: bool,
}

/// The rules of a `.dockerignore` file.
#[derive(Default)]
pub(crate) struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Parses the text of a `.dockerignore` file (`path` is for error messages).
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, ContextError> {
        let mut rules = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let text = clean(pattern);
            if text.is_empty() {
                return Err(ContextError::Ignore {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!("{line:?} has no pattern"),
                });
            }
            let matcher = GlobBuilder::new(&text)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map(|g: Glob| g.compile_matcher())
                .map_err(|e| ContextError::Ignore {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: e.to_string(),
                })?;
            rules.push(Rule {
                text,
                matcher,
                exception,
            });
        }
        Ok(IgnoreRules { rules })
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            let mut candidate = Some(path);
            let matched = std::iter::from_fn(|| {
                let current = candidate?;
                candidate = current.rsplit_once('/').map(|(parent, _)| parent);
                Some(current)
            })
            .any(|p| rule.matcher.is_match(p));
            if matched {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an excluded directory must still be walked because an exception may bring back
    /// something below it (moby's rule: an exception pattern starting with the directory, or
    /// one whose first component is a wildcard).
    fn walk_excluded(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.rules.iter().filter(|r| r.exception).any(|r| {
            r.text.starts_with(&prefix)
                || r.text.starts_with(['*', '?', '['])
                || prefix.starts_with(&format!("{}/", r.text))
        })
    }
}

/// `filepath.Clean` as far as patterns need it: no leading `/` or `./`, no trailing `/`.
fn clean(pattern: &str) -> String {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    parts.join("/")
}

/// The context of `dockerfile` in `context` as an uncompressed tar, and the Dockerfile's path
/// inside it.
pub(crate) fn tar(context: &Path, dockerfile: &Path) -> Result<(Vec<u8>, String), ContextError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ContextError::Read { path, source }
    };
    let specific = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
    let ignore_file = if specific.is_file() {
        specific
    } else {
        context.join(".dockerignore")
    };
    let rules = match std::fs::read_to_string(&ignore_file) {
        Ok(text) => IgnoreRules::parse(&text, &ignore_file)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => IgnoreRules::default(),
        Err(e) => return Err(read_err(&ignore_file)(e)),
    };
    let mut entries = Vec::new();
    walk(context, "", &rules, &mut entries)?;
    let dockerfile_bytes = std::fs::read(dockerfile).map_err(read_err(dockerfile))?;
    let inside = std::path::absolute(dockerfile)
        .ok()
        .zip(std::path::absolute(context).ok())
        .and_then(|(d, c)| d.strip_prefix(&c).ok().map(Path::to_path_buf))
        .map(|p| p.to_string_lossy().replace('\\', "/"));
    let dockerfile_name = inside.unwrap_or_else(|| OUTSIDE_DOCKERFILE.to_owned());
    entries.retain(|e| e.path != dockerfile_name);
    entries.push(Entry {
        path: dockerfile_name.clone(),
        kind: Kind::File(dockerfile_bytes, 0o644),
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));

    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let appended = match entry.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder.append_data(&mut header, &entry.path, &[][..])
            }
            Kind::File(bytes, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(mode);
                header.set_size(bytes.len() as u64);
                builder.append_data(&mut header, &entry.path, bytes.as_slice())
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, &entry.path, &target)
            }
        };
        appended.map_err(read_err(Path::new(&entry.path)))?;
    }
    let bytes = builder.into_inner().map_err(read_err(context))?;
    Ok((bytes, dockerfile_name))
}

struct Entry {
    path: String,
    kind: Kind,
}

enum Kind {
    Dir,
    File(Vec<u8>, u32),
    Symlink(PathBuf),
}

fn walk(
    root: &Path,
    relative: &str,
    rules: &IgnoreRules,
    out: &mut Vec<Entry>,
) -> Result<(), ContextError> {
    let dir = root.join(relative);
    let read_err = |source| ContextError::Read {
        path: dir.clone(),
        source,
    };
    let mut children: Vec<_> = std::fs::read_dir(&dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    children.sort_by_key(std::fs::DirEntry::file_name);
    for child in children {
        let name = child.file_name().to_string_lossy().into_owned();
        let path = if relative.is_empty() {
            name
        } else {
            format!("{relative}/{name}")
        };
        let excluded = rules.excludes(&path);
        let file_type = child.file_type().map_err(|source| ContextError::Read {
            path: child.path(),
            source,
        })?;
        if file_type.is_dir() {
            if !excluded {
                out.push(Entry {
                    path: path.clone(),
                    kind: Kind::Dir,
                });
            }
            if !excluded || rules.walk_excluded(&path) {
                walk(root, &path, rules, out)?;
            }
        } else if excluded {
            continue;
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(child.path()).map_err(|source| ContextError::Read {
                path: child.path(),
                source,
            })?;
            out.push(Entry {
                path,
                kind: Kind::Symlink(target),
            });
        } else if file_type.is_file() {
            use std::os::unix::fs::PermissionsExt;
            let meta = child.metadata().map_err(|source| ContextError::Read {
                path: child.path(),
                source,
            })?;
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let bytes = std::fs::read(child.path()).map_err(|source| ContextError::Read {
                path: child.path(),
                source,
            })?;
            out.push(Entry {
                path,
                kind: Kind::File(bytes, mode),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text, Path::new(".dockerignore")).unwrap()
    }

    #[test]
    fn patterns_match_paths_and_their_parents_and_the_last_match_decides() {
        let r = rules("*\n!target/lambda/bootstrap/bootstrap\n!models/artifacts/*.json\n");
        assert!(r.excludes("Cargo.toml"));
        assert!(r.excludes("target/debug/harness"));
        assert!(!r.excludes("target/lambda/bootstrap/bootstrap"));
        assert!(!r.excludes("models/artifacts/model.json"));
        assert!(r.excludes("models/artifacts/model.cbm"));
        assert!(r.walk_excluded("target"));
        assert!(r.walk_excluded("target/lambda"));
        assert!(!r.walk_excluded("target/debug"));
    }

    #[test]
    fn stars_stop_at_slashes_and_double_stars_do_not() {
        let r = rules("*.pyc\n/build/\n**/__pycache__\n# comment\n\n");
        assert!(r.excludes("a.pyc"));
        assert!(!r.excludes("src/a.pyc"), "`*` does not cross `/`");
        assert!(r.excludes("build/x"));
        assert!(r.excludes("src/deep/__pycache__/m.pyc"));
        assert!(r.excludes("__pycache__"));
    }

    #[test]
    fn the_tar_is_reproducible_and_always_has_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(root.join(".dockerignore"), "*\n!keep\n").unwrap();
        std::fs::write(root.join("keep"), "k").unwrap();
        std::fs::write(root.join("drop"), "d").unwrap();
        let (first, name) = tar(root, &root.join("Dockerfile")).unwrap();
        assert_eq!(name, "Dockerfile");
        let mut archive = tar::Archive::new(first.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "keep"]);
        let (second, _) = tar(root, &root.join("Dockerfile")).unwrap();
        assert_eq!(first, second);
    }
}
