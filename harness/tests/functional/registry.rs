//! A real registry for the push tests: Debian's `docker-registry` (the CNCF distribution
//! registry) serving a temporary directory on 127.0.0.1, and `skopeo` to read it back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the registry may take to say it is listening.
const START_WAIT: Duration = Duration::from_secs(30);

/// A running `docker-registry serve` on 127.0.0.1; dropping it kills the process and removes
/// its storage.
pub(crate) struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    _storage: tempfile::TempDir,
}

/// Panics, naming the install step, unless `program` runs.
pub(crate) fn require(program: &str) {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{program}` is not installed: the push tests need a real registry and skopeo; run `.ci/install registry` (Debian: apt-get install docker-registry skopeo)"
    );
}

impl Registry {
    /// Starts a registry on a port the kernel picks and waits until it is listening (its own
    /// log line says where), then until `GET /v2/` answers.
    pub(crate) fn start() -> Registry {
        require("docker-registry");
        require("skopeo");
        let storage = tempfile::tempdir().expect("a temporary directory");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:0\n",
                storage.path().join("data").display()
            ),
        )
        .expect("write the registry's config");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start docker-registry");
        let stderr = child.stderr.take().expect("the registry's stderr");
        let (found, listening) = mpsc::channel();
        // Reads the log for good (an unread pipe would block the registry), sending the
        // address once.
        std::thread::spawn(move || {
            const MARK: &str = "listening on ";
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find(MARK) {
                    let address: String = line[at + MARK.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    let _ = found.send(address);
                }
            }
        });
        let mut registry = Registry {
            address: String::new(),
            child,
            _storage: storage,
        };
        registry.address = listening.recv_timeout(START_WAIT).unwrap_or_else(|_| {
            panic!(
                "docker-registry did not say it was listening within {START_WAIT:?} (exit status: {:?})",
                registry.child.try_wait()
            )
        });
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let answer = client
            .get(format!("http://{}/v2/", registry.address))
            .send()
            .unwrap_or_else(|e| {
                panic!("the registry at {} does not answer: {e}", registry.address)
            });
        assert!(
            answer.status().is_success(),
            "GET /v2/ answered {}",
            answer.status()
        );
        registry
    }

    /// The raw manifest (or with `config`, the raw config blob) of `reference` in this
    /// registry, read with skopeo.
    pub(crate) fn inspect(&self, reference: &str, config: bool) -> Vec<u8> {
        let mut command = Command::new("skopeo");
        command.args(["inspect", "--tls-verify=false"]);
        if config {
            command.arg("--config");
        }
        let output = command
            .arg("--raw")
            .arg(format!("docker://{}/{reference}", self.address))
            .output()
            .expect("run skopeo");
        assert!(
            output.status.success(),
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Whether the registry has any tag in `repository`.
    pub(crate) fn has_repository(&self, repository: &str) -> bool {
        reqwest::blocking::get(format!("http://{}/v2/{repository}/tags/list", self.address))
            .is_ok_and(|answer| answer.status().is_success())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
