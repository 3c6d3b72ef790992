//! What an image really contains, read from `docker save` rather than trusted from labels.
//!
//! The saved archive is what a registry push sends: its manifests tell whether the image is a
//! single platform, its config tells the declared architecture, and its layers hold the actual
//! `bootstrap` binary (whose ELF header tells the real architecture) and the model file (whose
//! sha256 ties the image to the golden files). Both the classic `docker save` layout and the OCI
//! layout of the containerd image store are read; gzip-compressed layers are decompressed.

use crate::digest::sha256_hex;
use crate::docker::{DockerClient, DockerError};
use flate2::read::MultiGzDecoder;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Environment variable of the image config naming the directory that holds `model.json`.
pub const MODEL_DIR_ENV: &str = "MODEL_DIR";

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

/// Facts about the `bootstrap` executable found in the image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Executable {
    /// Path inside the image (the entrypoint).
    pub path: String,
    /// ELF `e_machine`, or `None` when the file is not a 64-bit ELF.
    pub elf_machine: Option<u16>,
    /// Whether it has no program interpreter (a `FROM scratch` image has no dynamic loader).
    pub statically_linked: bool,
}

/// A regular file found in the image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageFile {
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
    /// `User` from the image config.
    pub user: Option<String>,
    /// `Env` from the image config.
    pub env: Vec<String>,
    /// The entrypoint executable, if it was found in the layers.
    pub executable: Option<Executable>,
    /// `${MODEL_DIR}/model.json`, if the config sets `MODEL_DIR` and the file exists.
    pub model: Option<ImageFile>,
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
    #[error("reading the saved image archive: {0}")]
    Io(#[from] std::io::Error),
}

/// What the local image `reference` really contains (exported with `docker save`).
pub fn inspect_image(reference: &str) -> Result<ImageFacts, ImageError> {
    inspect(&DockerClient::connect()?, reference)
}

/// Exports `reference` and reads its facts.
pub(crate) fn inspect(docker: &DockerClient, reference: &str) -> Result<ImageFacts, ImageError> {
    // Fail with "no such image" before exporting, which would give a less clear error.
    docker.inspect(reference)?;
    let dir = tempfile::tempdir()?;
    let archive = dir.path().join("image.tar");
    docker.export(reference, &archive)?;
    read_archive(reference, &archive)
}

/// Byte range of each member of an (uncompressed) tar file, for random access.
struct TarIndex {
    path: PathBuf,
    members: HashMap<String, (u64, u64)>,
}

impl TarIndex {
    fn open(path: &Path) -> Result<Self, ImageError> {
        let mut archive = tar::Archive::new(BufReader::new(File::open(path)?));
        let mut members = HashMap::new();
        for entry in archive.entries()? {
            let entry = entry?;
            if entry.header().entry_type().is_file() {
                let name = normalize(&entry.path()?.to_string_lossy());
                members.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
        Ok(TarIndex {
            path: path.to_path_buf(),
            members,
        })
    }

    fn reader(&self, name: &str) -> Result<(impl Read + use<>, u64), ImageError> {
        let &(offset, size) = self
            .members
            .get(&normalize(name))
            .ok_or_else(|| ImageError::Archive(format!("no member {name}")))?;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok((BufReader::new(file).take(size), size))
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let (mut reader, size) = self.reader(name)?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        reader.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn json(&self, name: &str) -> Result<serde_json::Value, ImageError> {
        serde_json::from_slice(&self.read(name)?)
            .map_err(|e| ImageError::Archive(format!("{name}: {e}")))
    }
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .to_owned()
}

fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Counts (platform manifests, attestation manifests, whether an index was seen) reachable from
/// the OCI `index.json`, descending into nested indexes.
fn count_manifests(index: &TarIndex) -> Result<(usize, usize, bool), ImageError> {
    let mut platforms = 0;
    let mut attestations = 0;
    let mut nested_index = false;
    let root = index.json("index.json")?;
    let mut pending: Vec<serde_json::Value> =
        root["manifests"].as_array().cloned().unwrap_or_default();
    while let Some(descriptor) = pending.pop() {
        let media_type = descriptor["mediaType"].as_str().unwrap_or_default();
        if INDEX_TYPES.contains(&media_type) {
            nested_index = true;
            let digest = descriptor["digest"].as_str().unwrap_or_default();
            let nested = index.json(&blob_path(digest))?;
            pending.extend(nested["manifests"].as_array().cloned().unwrap_or_default());
        } else if descriptor["annotations"]["vnd.docker.reference.type"] == "attestation-manifest" {
            attestations += 1;
        } else {
            platforms += 1;
        }
    }
    Ok((platforms, attestations, nested_index))
}

fn read_archive(reference: &str, archive: &Path) -> Result<ImageFacts, ImageError> {
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
    let (platform_manifests, attestation_manifests, has_index) =
        if index.members.contains_key("index.json") {
            count_manifests(&index)?
        } else {
            (1, 0, false)
        };
    let config_path = entry["Config"]
        .as_str()
        .ok_or_else(|| ImageError::Archive("manifest.json has no Config".to_owned()))?;
    let config = index.json(config_path)?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let entrypoint = strings(&config["config"]["Entrypoint"]);
    let env = strings(&config["config"]["Env"]);
    let user = config["config"]["User"]
        .as_str()
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    let history: Vec<Option<String>> = config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|step| step["empty_layer"] != true)
                .map(|step| step["created_by"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();

    let mut facts = ImageFacts {
        reference: reference.to_owned(),
        architecture: config["architecture"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        os: config["os"].as_str().unwrap_or_default().to_owned(),
        platform_manifests,
        attestation_manifests,
        has_index,
        layers: Vec::new(),
        entrypoint,
        user,
        env,
        executable: None,
        model: None,
    };
    let exe_path = facts.entrypoint.first().map(|p| normalize(p));
    let model_path = facts
        .env_var(MODEL_DIR_ENV)
        .map(|dir| normalize(&format!("{}/model.json", dir.trim_end_matches('/'))));

    let layer_paths = strings(&entry["Layers"]);
    for (i, blob) in layer_paths.iter().enumerate() {
        let scan = scan_layer(&index, blob, exe_path.as_deref(), model_path.as_deref())?;
        if let Some((path, bytes)) = scan.executable {
            facts.executable = Some(executable_facts(path, &bytes));
        }
        if let Some(file) = scan.model {
            facts.model = Some(file);
        }
        facts.layers.push(Layer {
            blob: blob.clone(),
            size_bytes: scan.size_bytes,
            created_by: history.get(i).cloned().flatten(),
        });
    }
    Ok(facts)
}

struct LayerScan {
    size_bytes: u64,
    executable: Option<(String, Vec<u8>)>,
    model: Option<ImageFile>,
}

/// Counts the layer's uncompressed bytes and picks out the files the checks need.
fn scan_layer(
    index: &TarIndex,
    blob: &str,
    exe_path: Option<&str>,
    model_path: Option<&str>,
) -> Result<LayerScan, ImageError> {
    let (mut reader, _) = index.reader(blob)?;
    let mut magic = [0u8; 2];
    let n = reader.read(&mut magic)?;
    let prefix = std::io::Cursor::new(magic[..n].to_vec());
    let raw: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(MultiGzDecoder::new(prefix.chain(reader)))
    } else {
        Box::new(prefix.chain(reader))
    };
    let mut counter = CountingReader {
        inner: raw,
        count: 0,
    };
    let mut scan = LayerScan {
        size_bytes: 0,
        executable: None,
        model: None,
    };
    {
        let mut layer = tar::Archive::new(&mut counter);
        for entry in layer.entries()? {
            let mut entry = entry?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = normalize(&entry.path()?.to_string_lossy());
            if Some(path.as_str()) == exe_path {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                scan.executable = Some((path, bytes));
            } else if Some(path.as_str()) == model_path {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes)?;
                scan.model = Some(ImageFile {
                    size_bytes: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                });
            }
        }
    }
    // Drain the end-of-archive padding so the size is the whole layer.
    std::io::copy(&mut counter, &mut std::io::sink())?;
    scan.size_bytes = counter.count;
    Ok(scan)
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// The ELF `e_machine` of a 64-bit ELF file, `None` for anything else.
pub(crate) fn elf_machine(bytes: &[u8]) -> Option<u16> {
    use object::read::elf::FileHeader;
    let header = object::elf::FileHeader64::<object::Endianness>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    Some(header.e_machine(endian).0)
}

fn executable_facts(path: String, bytes: &[u8]) -> Executable {
    use object::read::elf::{FileHeader, ProgramHeader};
    let parsed = object::elf::FileHeader64::<object::Endianness>::parse(bytes).ok();
    let Some(header) = parsed else {
        return Executable {
            path,
            elf_machine: None,
            statically_linked: false,
        };
    };
    let endian = header.endian().unwrap_or(object::Endianness::Little);
    let interp = header
        .program_headers(endian, bytes)
        .map(|phs| {
            phs.iter()
                .any(|ph| ph.p_type(endian) == object::elf::PT_INTERP)
        })
        .unwrap_or(true);
    Executable {
        path,
        elf_machine: Some(header.e_machine(endian).0),
        statically_linked: !interp,
    }
}
