//! The commit `lambda-gate` is built from, for `--version` and the reports:
//!
//! - `LAMBDA_GATE_COMMIT`: the full commit id (`-dirty` appended when the package's sources or
//!   the workspace's `Cargo.toml`/`Cargo.lock` differ from it), or `unknown`;
//! - `LAMBDA_GATE_VERSION`: `0.1.0 (1a2b3c4d5e6f 2026-12-03)`, the way rustc and uv say it.
//!
//! Where it comes from, first found: `LAMBDA_GATE_SOURCE_COMMIT` in the build's environment (a
//! build from a source tarball can say it), then `git` in the checkout, then the
//! `.cargo_vcs_info.json` that `cargo package` writes into a published crate (so
//! `cargo install lambda-gate` knows its commit too).

use std::path::Path;
use std::process::Command;

fn main() {
    // Not LAMBDA_GATE_COMMIT itself: cargo hands what a build script sets to the processes it
    // runs (tests), and a build those start must not take it for an override.
    println!("cargo:rerun-if-env-changed=LAMBDA_GATE_SOURCE_COMMIT");
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let manifest_dir = Path::new(&manifest_dir);

    let (commit, date) = match std::env::var("LAMBDA_GATE_SOURCE_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => (commit.trim().to_owned(), None),
        _ => from_git(manifest_dir)
            .or_else(|| from_vcs_info(manifest_dir))
            .unwrap_or_else(|| ("unknown".to_owned(), None)),
    };

    let short = if commit == "unknown" {
        "commit unknown".to_owned()
    } else {
        let dirty = commit.ends_with("-dirty");
        let id: String = commit.chars().take(12).collect();
        format!("{id}{}", if dirty { "-dirty" } else { "" })
    };
    let described = match date {
        Some(date) => format!("{short} {date}"),
        None => short,
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=LAMBDA_GATE_COMMIT={commit}");
    println!("cargo:rustc-env=LAMBDA_GATE_VERSION={version} ({described})");
}

/// `git` output in `dir`, or `None` when git is missing or this is no checkout.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The checkout's HEAD, `-dirty` when the gate's sources differ from it, and its date.
fn from_git(dir: &Path) -> Option<(String, Option<String>)> {
    let head = git(dir, &["rev-parse", "HEAD"])?;
    if head.len() != 40 {
        return None;
    }
    // Rebuild when HEAD moves (a commit, a checkout); the gate's own sources rebuild it anyway.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={}", dir.join(p).display());
        }
    }
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(dir, &["rev-parse", "--git-path", &reference])
    {
        println!("cargo:rerun-if-changed={}", dir.join(p).display());
    }
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let changed = git(
        dir,
        &[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "src",
            "build.rs",
            "Cargo.toml",
            "../Cargo.toml",
            "../Cargo.lock",
        ],
    )
    .unwrap_or_default();
    let date = git(dir, &["log", "-1", "--format=%cs", "HEAD"]);
    let commit = if changed.is_empty() {
        head
    } else {
        format!("{head}-dirty")
    };
    Some((commit, date))
}

/// `{"git": {"sha1": "..."}}` of a packaged crate.
fn from_vcs_info(dir: &Path) -> Option<(String, Option<String>)> {
    let path = dir.join(".cargo_vcs_info.json");
    println!("cargo:rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("\"sha1\"")? + "\"sha1\"".len();
    let rest = &text[start..];
    let open = rest.find('"')? + 1;
    let close = rest[open..].find('"')? + open;
    let sha = &rest[open..close];
    (sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())).then(|| (sha.to_owned(), None))
}
