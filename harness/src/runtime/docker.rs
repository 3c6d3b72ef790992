//! The few Docker Engine calls the gate makes outside testcontainers: build, inspect, export.
//!
//! testcontainers runs the containers; it cannot build for another platform, so image builds and
//! image inspection go through the same `bollard` client it uses (re-exported by testcontainers,
//! so both agree on the Engine API version). The gate is synchronous, so each call blocks on a
//! private current-thread runtime.

use futures_util::StreamExt;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use testcontainers::bollard::{self, Docker};

/// Why a Docker call failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine is not reachable.
    #[error(
        "Docker is not reachable: start the Docker daemon (or set DOCKER_HOST to a reachable engine) and run the gate again"
    )]
    Unavailable {
        /// The client error.
        source: bollard::errors::Error,
    },
    /// The image build failed; `log` holds the end of the builder's output.
    #[error("docker build of {tag} failed: {message}\n--- end of the build log ---\n{log}")]
    Build {
        /// The tag being built.
        tag: String,
        /// The builder's error.
        message: String,
        /// The last lines the builder printed.
        log: String,
    },
    /// The image does not exist locally.
    #[error(
        "image {reference} is not in the local Docker image store: build it first (`{build}`) or check the reference",
        build = crate::environment::command("build")
    )]
    NoSuchImage {
        /// The reference asked for.
        reference: String,
    },
    /// Another Engine API error.
    #[error("Docker API call `{call}` failed")]
    Api {
        /// What was being done.
        call: &'static str,
        /// The client error.
        source: bollard::errors::Error,
    },
    /// Local I/O while streaming an export.
    #[error("cannot write the exported image to {path}")]
    Io {
        /// The file being written.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The private runtime could not start.
    #[error("cannot start the async runtime for Docker calls")]
    Runtime(#[source] std::io::Error),
}

/// The label of the networks the gate creates.
const NETWORK_LABEL: &str = "lambda-gate";

/// How a container is doing.
#[derive(Clone, Debug)]
pub(crate) struct ContainerState {
    pub(crate) running: bool,
    pub(crate) status: String,
    pub(crate) exit_code: Option<i64>,
    pub(crate) oom_killed: bool,
}

/// A connected Docker Engine client.
pub(crate) struct DockerClient {
    runtime: tokio::runtime::Runtime,
    docker: Docker,
}

impl DockerClient {
    /// Connects with the usual defaults (`DOCKER_HOST`, else the local socket) and checks that
    /// the engine answers, so a missing daemon is reported once, clearly, before any work.
    pub(crate) fn connect() -> Result<Self, DockerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DockerError::Runtime)?;
        let docker = runtime.block_on(async {
            let docker = Docker::connect_with_defaults()?;
            let docker = docker.negotiate_version().await?;
            docker.ping().await?;
            Ok::<_, bollard::errors::Error>(docker)
        });
        let docker = docker.map_err(|source| DockerError::Unavailable { source })?;
        Ok(DockerClient { runtime, docker })
    }

    /// Whether the engine still answers a ping within a few seconds (asked when something
    /// failed, to tell Docker gone from a failure of the image).
    pub(crate) fn answers(&self) -> bool {
        self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), self.docker.ping())
                .await
                .is_ok_and(|pong| pong.is_ok())
        })
    }

    /// Whether `reference` is in the local image store.
    pub(crate) fn image_exists(&self, reference: &str) -> Result<bool, DockerError> {
        match self.inspect(reference) {
            Ok(_) => Ok(true),
            Err(DockerError::NoSuchImage { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The engine's view of an image: config, architecture, size.
    pub(crate) fn inspect(
        &self,
        reference: &str,
    ) -> Result<bollard::models::ImageInspect, DockerError> {
        self.runtime
            .block_on(self.docker.inspect_image(reference))
            .map_err(|source| match source {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => DockerError::NoSuchImage {
                    reference: reference.to_owned(),
                },
                source => DockerError::Api {
                    call: "inspect image",
                    source,
                },
            })
    }

    /// Tags the image `source` (a reference or an image id) as `repository:tag`. Tagging by id
    /// is how `push` makes the pushed tag name exactly the verified image.
    pub(crate) fn tag(&self, source: &str, repository: &str, tag: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::TagImageOptions {
            repo: Some(repository.to_owned()),
            tag: Some(tag.to_owned()),
        };
        self.runtime
            .block_on(self.docker.tag_image(source, Some(options)))
            .map_err(|source| DockerError::Api {
                call: "tag image",
                source,
            })
    }

    /// Builds `context` (an uncompressed tar holding `dockerfile`) for `platform` with its
    /// build arguments, with the classic builder, which stores a plain single-platform image
    /// (no attestation index). Each line the builder prints goes to `on_line` as it arrives.
    pub(crate) fn build(
        &self,
        context: Vec<u8>,
        dockerfile: &str,
        tag: &str,
        platform: &str,
        build_args: &std::collections::BTreeMap<String, String>,
        mut on_line: impl FnMut(&str),
    ) -> Result<(), DockerError> {
        let options = bollard::query_parameters::BuildImageOptions {
            dockerfile: dockerfile.to_owned(),
            t: Some(tag.to_owned()),
            platform: platform.to_owned(),
            buildargs: Some(build_args.clone().into_iter().collect()),
            rm: true,
            forcerm: true,
            // The classic builder's cache ignores the platform: a layer cached from an amd64
            // build would be reused for arm64 and fail. The content tag already skips builds
            // of unchanged sources.
            nocache: true,
            ..Default::default()
        };
        self.runtime.block_on(async {
            let mut stream =
                self.docker
                    .build_image(options, None, Some(bollard::body_full(context.into())));
            let mut log: std::collections::VecDeque<String> = std::collections::VecDeque::new();
            let tail = |log: &std::collections::VecDeque<String>| {
                log.iter().cloned().collect::<Vec<_>>().join("\n")
            };
            while let Some(item) = stream.next().await {
                let info = item.map_err(|source| DockerError::Build {
                    tag: tag.to_owned(),
                    message: source.to_string(),
                    log: tail(&log),
                })?;
                for line in info.stream.iter().flat_map(|s| s.lines()) {
                    let line = line.trim_end();
                    if line.is_empty() {
                        continue;
                    }
                    on_line(line);
                    if log.len() == 20 {
                        log.pop_front();
                    }
                    log.push_back(line.to_owned());
                }
                if let Some(detail) = info.error_detail {
                    return Err(DockerError::Build {
                        tag: tag.to_owned(),
                        message: detail.message.unwrap_or_default(),
                        log: tail(&log),
                    });
                }
            }
            Ok(())
        })
    }

    /// How many CPUs the engine's machine has: the most a container can be given (`--cpus`).
    pub(crate) fn cpus(&self) -> Result<u32, DockerError> {
        let info = self
            .runtime
            .block_on(self.docker.info())
            .map_err(|source| DockerError::Api {
                call: "info",
                source,
            })?;
        Ok(info
            .ncpu
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n > 0)
            .unwrap_or(1))
    }

    /// Whether the container runs, and if not, how it ended (status, exit code, OOM kill).
    pub(crate) fn container_state(
        &self,
        container_id: &str,
    ) -> Result<ContainerState, DockerError> {
        let details = self
            .runtime
            .block_on(self.docker.inspect_container(container_id, None))
            .map_err(|source| DockerError::Api {
                call: "inspect container",
                source,
            })?;
        let state = details.state.unwrap_or_default();
        Ok(ContainerState {
            running: state.running.unwrap_or(false),
            status: state
                .status
                .map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
            exit_code: state.exit_code,
            oom_killed: state.oom_killed.unwrap_or(false),
        })
    }

    /// Creates a bridge network for one function container: no masquerading (so no route out
    /// of the machine) and no traffic between containers; labelled so a later run can remove it
    /// if this one was killed.
    pub(crate) fn create_isolated_network(&self, name: &str) -> Result<(), DockerError> {
        let options = bollard::models::NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            options: Some(
                [
                    ("com.docker.network.bridge.enable_ip_masquerade", "false"),
                    ("com.docker.network.bridge.enable_icc", "false"),
                    ("com.docker.network.bridge.host_binding_ipv4", "127.0.0.1"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            ),
            labels: Some(
                [(NETWORK_LABEL.to_owned(), "1".to_owned())]
                    .into_iter()
                    .collect(),
            ),
            ..Default::default()
        };
        self.runtime
            .block_on(self.docker.create_network(options))
            .map(|_| ())
            .map_err(|source| DockerError::Api {
                call: "create network",
                source,
            })
    }

    /// Removes a network (a no-op when it is gone or still in use).
    pub(crate) fn remove_network(&self, name: &str) {
        let _ = self.runtime.block_on(self.docker.remove_network(name));
    }

    /// Removes the networks earlier runs left behind (a run killed before it could clean up);
    /// networks still in use stay.
    pub(crate) fn remove_stale_networks(&self) {
        let options = bollard::query_parameters::ListNetworksOptions {
            filters: Some(
                [("label".to_owned(), vec![NETWORK_LABEL.to_owned()])]
                    .into_iter()
                    .collect(),
            ),
        };
        let names: Vec<String> = self
            .runtime
            .block_on(self.docker.list_networks(Some(options)))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| n.name)
            .collect();
        for name in names {
            self.remove_network(&name);
        }
    }

    /// The container's peak memory use in bytes, as the kernel counts it for its cgroup: read
    /// from the cgroup's own file on this machine (`memory.peak` under cgroup v2,
    /// `memory.max_usage_in_bytes` under v1), else from the engine's stats, which report a peak
    /// under cgroup v1 only. `None` when neither has one.
    ///
    /// The file comes first because it costs nothing, while the engine's stats take one to two
    /// seconds (it waits for its collector's next sample, and for a second one unless asked
    /// for one-shot), per call, on every run; the file is there whenever the engine runs on
    /// this machine with its usual cgroup layout, and a remote or rootless engine gets the stats.
    pub(crate) fn peak_memory(&self, container_id: &str) -> Option<u64> {
        cgroup_peak(Path::new("/sys/fs/cgroup"), container_id).or_else(|| {
            let options = bollard::query_parameters::StatsOptions {
                stream: false,
                one_shot: true,
            };
            self.runtime.block_on(async {
                let mut stream = self.docker.stats(container_id, Some(options));
                let stats = stream.next().await?.ok()?;
                stats.memory_stats?.max_usage
            })
        })
    }

    /// Streams `docker save` of `reference` into `path` (a tar of manifests, config and layers).
    pub(crate) fn export(&self, reference: &str, path: &Path) -> Result<(), DockerError> {
        let io = |source| DockerError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        self.runtime.block_on(async {
            let mut stream = self.docker.export_image(reference);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|source| DockerError::Api {
                    call: "export image",
                    source,
                })?;
                file.write_all(&chunk).map_err(io)?;
            }
            file.flush().map_err(io)
        })
    }
}

/// The peak memory of the container's cgroup below `root` (`/sys/fs/cgroup`), wherever the
/// engine's cgroup driver put it: `system.slice/docker-<id>.scope` (systemd) or `docker/<id>`
/// (cgroupfs), in the unified hierarchy (v2, `memory.peak`) or the memory controller's (v1,
/// `memory.max_usage_in_bytes`).
fn cgroup_peak(root: &Path, container_id: &str) -> Option<u64> {
    let scopes = [
        format!("system.slice/docker-{container_id}.scope"),
        format!("docker/{container_id}"),
    ];
    let v2 = scopes
        .iter()
        .map(|scope| root.join(scope).join("memory.peak"));
    let v1 = scopes.iter().map(|scope| {
        root.join("memory")
            .join(scope)
            .join("memory.max_usage_in_bytes")
    });
    v2.chain(v1)
        .find_map(|file| std::fs::read_to_string(file).ok())
        .and_then(|text| text.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup_peak_is_found_under_either_driver_and_version() {
        let root = tempfile::tempdir().unwrap();
        let file = |dir: &str, name: &str, bytes: &str| {
            let dir = root.path().join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        };
        assert_eq!(cgroup_peak(root.path(), "a"), None);
        file("system.slice/docker-a.scope", "memory.peak", "17956864\n");
        assert_eq!(cgroup_peak(root.path(), "a"), Some(17_956_864));
        file("docker/b", "memory.peak", "4096\n");
        assert_eq!(cgroup_peak(root.path(), "b"), Some(4096));
        file("memory/docker/c", "memory.max_usage_in_bytes", "4194304\n");
        assert_eq!(cgroup_peak(root.path(), "c"), Some(4_194_304));
        file(
            "memory/system.slice/docker-d.scope",
            "memory.max_usage_in_bytes",
            "8192\n",
        );
        assert_eq!(cgroup_peak(root.path(), "d"), Some(8192));
        // Another container's file is not this one's.
        assert_eq!(cgroup_peak(root.path(), "e"), None);
    }
}
