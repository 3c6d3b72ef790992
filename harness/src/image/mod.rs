//! What an image really contains, read from `docker save` rather than trusted from labels.
//!
//! The saved archive is what a registry push sends: its manifests tell whether the image is a
//! single platform, its config tells the declared architecture and how Lambda starts it
//! (`ENTRYPOINT` + `CMD`, `ENV`), and its layers, merged as a container sees them, hold the
//! program that actually runs (whose ELF header tells the real architecture) and the model file
//! (whose sha256 ties the image to the golden files).

mod archive;
mod build;
mod context;
mod executable;
mod filesystem;
mod layer;

pub use build::BuildError;
pub(crate) use build::{BuildSpec, ImageSource, PLATFORM_ARGS, build};
pub use context::ContextError;
pub use executable::Executable;
#[cfg(test)]
pub(crate) use executable::Loader;

use crate::runtime::{DockerClient, DockerError};
use archive::TarIndex;
use filesystem::Filesystem;
use std::path::Path;

/// One layer of the image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Layer {
    /// Path of the layer inside the saved archive (it carries the digest).
    pub blob: String,
    /// Uncompressed size in bytes.
    pub size_bytes: u64,
    /// The Dockerfile instruction that made it, from the image history.
    pub created_by: Option<String>,
}

/// A regular file found in the image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageFile {
    /// The path asked for, with `$VARS` expanded.
    pub path: String,
    /// Its real path after symlinks, and the symlinks followed.
    pub resolved: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// sha256 of the content.
    pub sha256: String,
}

/// Everything the gate's static checks need to know about an image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageFacts {
    /// The reference inspected.
    pub reference: String,
    /// The image id (`sha256:...`).
    pub id: String,
    /// `architecture` from the image config.
    pub architecture: String,
    /// `os` from the image config.
    pub os: String,
    /// Image manifests (platforms) in the saved archive.
    pub platform_manifests: usize,
    /// Attestation manifests (buildx provenance/SBOM) in the saved archive.
    pub attestation_manifests: usize,
    /// Whether the archive stores the image behind an index (manifest list).
    pub has_index: bool,
    /// Layers, bottom first.
    pub layers: Vec<Layer>,
    /// `Entrypoint` from the image config.
    pub entrypoint: Vec<String>,
    /// `Cmd` from the image config.
    pub cmd: Vec<String>,
    /// `WorkingDir` from the image config.
    pub working_dir: Option<String>,
    /// `Env` from the image config.
    pub env: Vec<String>,
    /// `Labels` from the image config.
    pub labels: std::collections::BTreeMap<String, String>,
    /// The program `ENTRYPOINT` + `CMD` starts, as found in the merged layers.
    pub program: Executable,
    /// The model file the spec names, if it was asked for and found.
    pub model: Option<ImageFile>,
    /// Why the model file was not found.
    pub model_problem: Option<String>,
}

impl ImageFacts {
    /// Total uncompressed size of all layers: what Lambda's 10 GB limit counts.
    pub fn size_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.size_bytes).sum()
    }

    /// The value of an environment variable set in the image config.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }

    /// What Lambda executes: `ENTRYPOINT` followed by `CMD`.
    pub fn command_line(&self) -> Vec<String> {
        self.entrypoint.iter().chain(&self.cmd).cloned().collect()
    }

    /// `$NAME` and `${NAME}` in `path` replaced by the image's environment.
    fn expand(&self, path: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = path;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, tail) = match after.strip_prefix('{') {
                Some(inner) => match inner.split_once('}') {
                    Some((name, tail)) => (name, tail),
                    None => return Err(format!("unclosed ${{ in {path}")),
                },
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            let value = self.env_var(name).ok_or_else(|| {
                format!(
                    "{path} uses ${name}, which the image's config does not set (ENV {name}=...)"
                )
            })?;
            out.push_str(value);
            rest = tail;
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Why an image could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The saved archive is not what `docker save` writes.
    #[error("the saved image archive is malformed: {0}")]
    Archive(String),
    /// Reading the archive failed.
    #[error("reading the saved image archive")]
    Io(#[from] std::io::Error),
}

/// What the local image `reference` really contains (exported with `docker save`); `model` is
/// the path of the model file to fingerprint (`$VARS` from the image's environment).
pub fn inspect_image(reference: &str, model: Option<&str>) -> Result<ImageFacts, ImageError> {
    let docker = DockerClient::connect()?;
    // Fail with "no such image" before exporting, which would give a less clear error.
    let id = docker.inspect(reference)?.id.unwrap_or_default();
    inspect(&docker, reference, &id, model)
}

/// Exports the image `id` (which `reference` named) and reads its facts.
pub(crate) fn inspect(
    docker: &DockerClient,
    reference: &str,
    id: &str,
    model: Option<&str>,
) -> Result<ImageFacts, ImageError> {
    let dir = tempfile::tempdir()?;
    let archive = dir.path().join("image.tar");
    docker.export(id, &archive)?;
    let mut facts = read_archive(reference, &archive, model)?;
    facts.id = id.to_owned();
    Ok(facts)
}

/// A file to look for by its content, not its path: what `init` knows of the model file it
/// was given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Content<'a> {
    /// Its sha256, lowercase hex.
    pub(crate) sha256: &'a str,
    /// Its size in bytes: only the image's files of this size are hashed.
    pub(crate) size: u64,
}

/// As [`inspect`] without a model path, and the absolute paths of the regular files in the
/// image's merged layers whose content is `content` (sorted; a hard link under each name).
pub(crate) fn inspect_finding(
    docker: &DockerClient,
    reference: &str,
    id: &str,
    content: Content<'_>,
) -> Result<(ImageFacts, Vec<String>), ImageError> {
    let dir = tempfile::tempdir()?;
    let archive = dir.path().join("image.tar");
    docker.export(id, &archive)?;
    let (mut facts, fs, index) = read_merged(reference, &archive, None)?;
    facts.id = id.to_owned();
    let found = fs.files_with_sha256(&index, content.sha256, content.size)?;
    Ok((facts, found))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn read_archive(
    reference: &str,
    archive: &Path,
    model: Option<&str>,
) -> Result<ImageFacts, ImageError> {
    read_merged(reference, archive, model).map(|(facts, _, _)| facts)
}

/// The facts of the saved image at `archive`, with its merged layers and the archive's index
/// to read their files with.
fn read_merged(
    reference: &str,
    archive: &Path,
    model: Option<&str>,
) -> Result<(ImageFacts, Filesystem, TarIndex), ImageError> {
    let index = TarIndex::open(archive)?;
    let manifest = index.json("manifest.json")?;
    let entries = manifest
        .as_array()
        .ok_or_else(|| ImageError::Archive("manifest.json is not a list".to_owned()))?;
    let [entry] = entries.as_slice() else {
        return Err(ImageError::Archive(format!(
            "manifest.json lists {} images, expected 1",
            entries.len()
        )));
    };
    let manifests = archive::count_manifests(&index)?;
    let config_path = entry["Config"]
        .as_str()
        .ok_or_else(|| ImageError::Archive("manifest.json has no Config".to_owned()))?;
    let config = index.json(config_path)?;
    let history: Vec<Option<String>> = config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|step| step["empty_layer"] != true)
                .map(|step| step["created_by"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();

    let mut fs = Filesystem::default();
    let mut layers = Vec::new();
    for (i, blob) in strings(&entry["Layers"]).into_iter().enumerate() {
        let size_bytes = fs.apply(&index, &blob)?;
        layers.push(Layer {
            blob,
            size_bytes,
            created_by: history.get(i).cloned().flatten(),
        });
    }
    let image = &config["config"];
    let mut facts = ImageFacts {
        reference: reference.to_owned(),
        id: String::new(),
        architecture: config["architecture"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        os: config["os"].as_str().unwrap_or_default().to_owned(),
        platform_manifests: manifests.platforms,
        attestation_manifests: manifests.attestations,
        has_index: manifests.has_index,
        layers,
        entrypoint: strings(&image["Entrypoint"]),
        cmd: strings(&image["Cmd"]),
        working_dir: image["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
        env: strings(&image["Env"]),
        labels: image["Labels"]
            .as_object()
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        program: Executable::Missing {
            command: String::new(),
            reason: "the image has neither ENTRYPOINT nor CMD".to_owned(),
        },
        model: None,
        model_problem: None,
    };
    if let Some(command) = facts.command_line().first() {
        facts.program = executable::find(&fs, &index, command, facts.env_var("PATH"))?;
    }
    if let Some(model) = model {
        match facts
            .expand(model)
            .and_then(|path| Ok((fs.resolve(&path)?, path)))
        {
            Ok((found, path)) => {
                facts.model = Some(ImageFile {
                    resolved: found.path.clone(),
                    path,
                    size_bytes: found.data.size,
                    sha256: fs.sha256(&index, &found.data)?,
                });
            }
            Err(problem) => facts.model_problem = Some(problem),
        }
    }
    Ok((facts, fs, index))
}
