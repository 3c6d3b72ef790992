//! The action's install step (`action/install.sh`) against releases served from a directory on
//! 127.0.0.1: for a ref whose gate sources are a release it installs the pinned archive in
//! seconds and builds nothing; it refuses an archive whose sha256 is not the pinned one; it
//! builds from source, and says so, for a ref that is no release and for a release whose archive
//! cannot be downloaded.
//!
//! Each test runs install.sh from a copy of the action (what `uses: OWNER/lambda-gate@ref`
//! checks out: action.yml, action/, .ci/install and the gate's sources) whose
//! `action/releases.txt` the test writes. The archive is made by `.ci/dist archive`, the
//! release's own packaging, around this build of lambda-gate. `cargo` on the step's PATH is a
//! stand-in that records its arguments and installs this build, so a fallback to building costs
//! no compile here (what `cargo install` makes is the gate the other tests run).

use crate::support::{output, workspace};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The runner's release target, as install.sh names it.
fn target() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("install.sh has no release for {other}"),
    }
}

fn archive_name() -> String {
    format!("lambda-gate-{VERSION}-{}.tar.gz", target())
}

/// A static file server on 127.0.0.1 for `dir`: GET only, 404 for anything missing, every
/// request recorded. It stops when dropped, and after two minutes whatever happens.
struct Releases {
    address: SocketAddr,
    requests: Arc<Mutex<Vec<(String, u16)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Releases {
    fn serve(dir: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let dir = dir.to_path_buf();
        let thread = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Some(request) = answer(stream, &dir) {
                                requests.lock().unwrap().push(request);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })
        };
        Releases {
            address,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn requests(&self) -> Vec<(String, u16)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Releases {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request; returns its path and status.
fn answer(mut stream: TcpStream, dir: &Path) -> Option<(String, u16)> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).ok()? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1)?.to_owned();
    let file = (!path.contains(".."))
        .then(|| std::fs::read(dir.join(path.trim_start_matches('/'))).ok())
        .flatten();
    let (status, body) = match file {
        Some(body) => (200, body),
        None => (404, b"not found".to_vec()),
    };
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let header = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).ok()?;
    stream.write_all(&body).ok()?;
    Some((path, status))
}

/// Copies `from` (a file or a directory tree) to `to`.
fn copy(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// A checkout of the action at this ref, its `action/releases.txt` holding `pins` (lines of
/// VERSION SOURCE-KEY TARGET ARCHIVE SHA256) after the file's own header.
struct Action {
    dir: tempfile::TempDir,
}

impl Action {
    fn checkout() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = workspace();
        for path in [
            "action.yml",
            "action",
            ".ci/install",
            ".ci/common.sh",
            ".cargo/config.toml",
            "Cargo.toml",
            "Cargo.lock",
            "harness/Cargo.toml",
            "harness/build.rs",
            "harness/src",
        ] {
            copy(&root.join(path), &dir.path().join(path));
        }
        Action { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// action/source-key.sh of this checkout.
    fn key(&self) -> String {
        let (code, stdout, stderr) =
            output(Command::new(self.path().join("action/source-key.sh")).env_remove("CI"));
        assert_eq!(code, Some(0), "{stderr}");
        stdout.trim().to_owned()
    }

    fn pin(&self, pins: &[String]) {
        let file = self.path().join("action/releases.txt");
        let mut text = std::fs::read_to_string(&file).unwrap();
        for line in pins {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(file, text).unwrap();
    }
}

/// The runner of one install step: a tool root of its own, the runner's PATH file, and a
/// stand-in `cargo` that records its arguments and installs this build of lambda-gate.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("fake-bin");
        std::fs::create_dir_all(&bin).unwrap();
        let cargo = bin.join("cargo");
        std::fs::write(
            &cargo,
            "#!/bin/sh\n\
             printf '%s\\n' \"$*\" >> \"$FAKE_CARGO_LOG\"\n\
             root=\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done\n\
             mkdir -p \"$root/bin\" && cp \"$LAMBDA_GATE_BUILT\" \"$root/bin/lambda-gate\"\n",
        )
        .unwrap();
        let mut permissions = std::fs::metadata(&cargo).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&cargo, permissions).unwrap();
        Runner { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("tool-root")
    }

    fn cargo_calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("cargo.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn github_path(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("github-path")).unwrap_or_default()
    }

    /// Runs the action's install.sh as the runner runs a step; returns its exit code and output
    /// and how long it took.
    fn install(&self, action: &Action, releases: &str) -> (Option<i32>, String, Duration) {
        let path = std::iter::once(self.dir.path().join("fake-bin"))
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            ))
            .collect::<Vec<_>>();
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(action.path().join("action/install.sh"))
            .current_dir(self.dir.path())
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("ARCH", "x86_64")
            .env("LAMBDA_GATE_RELEASES_URL", releases)
            .env("LAMBDA_GATE_ROOT", self.root())
            .env("GITHUB_PATH", self.dir.path().join("github-path"))
            .env("RUNNER_TEMP", self.dir.path())
            .env("FAKE_CARGO_LOG", self.dir.path().join("cargo.log"))
            .env("LAMBDA_GATE_BUILT", env!("CARGO_BIN_EXE_lambda-gate"))
            .env_remove("CI");
        let started = Instant::now();
        let (code, stdout, stderr) = output(&mut command);
        (code, format!("{stdout}\n{stderr}"), started.elapsed())
    }
}

/// The release archive of this build of lambda-gate, made once (gzip of a debug binary takes a
/// while), copied into `dir/v<version>/`; returns its sha256.
fn this_release(dir: &Path) -> String {
    static MADE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Cargo's scratch directory for integration tests, inside the target directory: the next
    // run overwrites it.
    let made = Path::new(env!("CARGO_TARGET_TMPDIR")).join("action-install-release");
    let sha256 =
        MADE.get_or_init(|| release_archive(Path::new(env!("CARGO_BIN_EXE_lambda-gate")), &made));
    let name = format!("v{VERSION}/{}", archive_name());
    copy(&made.join(&name), &dir.join(&name));
    sha256.clone()
}

/// `.ci/dist archive` around `binary`, in `dir/v<version>/`; returns the archive's sha256.
fn release_archive(binary: &Path, dir: &Path) -> String {
    let out = dir.join(format!("v{VERSION}"));
    let (code, stdout, stderr) = output(
        Command::new(workspace().join(".ci/dist"))
            .arg("archive")
            .arg(binary)
            .arg(target())
            .arg(&out),
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let archive = out.join(archive_name());
    assert_eq!(stdout.trim(), archive.display().to_string());
    hex::encode(Sha256::digest(std::fs::read(&archive).unwrap()))
}

fn pin_line(key: &str, sha256: &str) -> String {
    format!(
        "{VERSION}  {key}  {}  {}  {sha256}",
        target(),
        archive_name()
    )
}

fn version_of(binary: &Path) -> String {
    let (code, stdout, stderr) = output(Command::new(binary).arg("--version"));
    assert_eq!(code, Some(0), "{stderr}");
    stdout.trim().to_owned()
}

#[test]
fn a_release_ref_installs_the_pinned_archive_and_builds_nothing() {
    let served = tempfile::tempdir().unwrap();
    let sha256 = this_release(served.path());
    let action = Action::checkout();
    assert_eq!(
        action.key(),
        output(&mut Command::new(workspace().join("action/source-key.sh")))
            .1
            .trim(),
        "the key is the sources' content, wherever they are checked out"
    );
    action.pin(&[pin_line(&action.key(), &sha256)]);
    let releases = Releases::serve(served.path());
    let runner = Runner::new();

    let (code, out, took) = runner.install(&action, &releases.url());
    eprintln!("install.sh took {took:.1?}:\n{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "lambda-gate {VERSION} ({}, sha256 {sha256}, pinned) is installed",
            target()
        )),
        "{out}"
    );
    assert_eq!(
        runner.cargo_calls(),
        Vec::<String>::new(),
        "nothing is built"
    );
    assert_eq!(
        releases.requests(),
        [(format!("/v{VERSION}/{}", archive_name()), 200)]
    );
    let installed = runner.root().join("bin/lambda-gate");
    assert_eq!(
        version_of(&installed),
        version_of(Path::new(env!("CARGO_BIN_EXE_lambda-gate")))
    );
    assert!(out.contains(&version_of(&installed)), "the step shows it");
    assert_eq!(
        runner.github_path().trim(),
        runner.root().join("bin").display().to_string()
    );
}

#[test]
fn an_archive_whose_sha256_is_not_the_pinned_one_is_refused() {
    let served = tempfile::tempdir().unwrap();
    let pinned = this_release(served.path());
    // The release's file replaced by another one of the same name and layout.
    let impostor = served.path().join("impostor");
    std::fs::write(
        &impostor,
        "#!/bin/sh\necho 'lambda-gate 0.0.0 (impostor)'\n",
    )
    .unwrap();
    let actual = release_archive(&impostor, served.path());
    assert_ne!(actual, pinned);
    let action = Action::checkout();
    action.pin(&[pin_line(&action.key(), &pinned)]);
    let releases = Releases::serve(served.path());
    let runner = Runner::new();

    let (code, out, _) = runner.install(&action, &releases.url());
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "{} has sha256 {actual}, but action/releases.txt pins {pinned}: refusing it",
            archive_name()
        )),
        "{out}"
    );
    assert!(!runner.root().join("bin/lambda-gate").exists());
    assert_eq!(
        runner.cargo_calls(),
        Vec::<String>::new(),
        "a refused archive is not a reason to build instead"
    );
    assert!(runner.github_path().is_empty(), "nothing goes on PATH");
}

#[test]
fn a_ref_that_is_no_release_builds_from_source_and_says_so() {
    let served = tempfile::tempdir().unwrap();
    let sha256 = this_release(served.path());
    let action = Action::checkout();
    // A release of other sources.
    action.pin(&[pin_line("0123456789abcdef", &sha256)]);
    let releases = Releases::serve(served.path());
    let runner = Runner::new();

    let (code, out, _) = runner.install(&action, &releases.url());
    assert_eq!(code, Some(0), "{out}");
    let key = action.key();
    assert!(
        out.contains(&format!(
            "building lambda-gate {key} from the action's sources (cargo install, several minutes): these sources are not a release (key {key} is not in action/releases.txt)"
        )),
        "{out}"
    );
    assert_eq!(
        runner.cargo_calls(),
        [format!(
            "install --locked --path {}/harness --bin lambda-gate --root {}",
            action.path().display(),
            runner.root().display()
        )]
    );
    assert_eq!(releases.requests(), [], "nothing is downloaded");
    assert!(runner.root().join("bin/lambda-gate").is_file());
}

#[test]
fn a_release_whose_archive_cannot_be_downloaded_falls_back_to_building() {
    let served = tempfile::tempdir().unwrap();
    let action = Action::checkout();
    action.pin(&[pin_line(&action.key(), &"0".repeat(64))]);
    // Nothing published yet.
    let releases = Releases::serve(served.path());
    let runner = Runner::new();

    let (code, out, _) = runner.install(&action, &releases.url());
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "::warning::lambda-gate {VERSION}: no archive at {}/v{VERSION}/{}",
            releases.url(),
            archive_name()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "(cargo install, several minutes): release {VERSION} has no archive to download"
        )),
        "{out}"
    );
    assert_eq!(runner.cargo_calls().len(), 1);
    assert_eq!(
        releases.requests(),
        [(format!("/v{VERSION}/{}", archive_name()), 404)]
    );
    assert!(runner.root().join("bin/lambda-gate").is_file());
}
