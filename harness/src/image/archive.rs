//! The archive `docker save` writes: what a registry push sends.
//!
//! Both the classic layout (`manifest.json`, `<id>/layer.tar`) and the OCI layout of the
//! containerd image store (`index.json`, `blobs/sha256/...`, possibly gzip-compressed layers) are
//! read. Members are indexed by byte range, so a layer or a file inside an uncompressed layer is
//! read without unpacking the archive.

use super::ImageError;
use flate2::read::MultiGzDecoder;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Byte range of each member of an (uncompressed) tar file, for random access.
pub(super) struct TarIndex {
    path: PathBuf,
    pub(super) members: HashMap<String, (u64, u64)>,
}

impl TarIndex {
    pub(super) fn open(path: &Path) -> Result<Self, ImageError> {
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

    /// `size` bytes at `offset` of member `name`.
    pub(super) fn range(
        &self,
        name: &str,
        offset: u64,
        size: u64,
    ) -> Result<impl Read + use<>, ImageError> {
        let &(start, _) = self
            .members
            .get(&normalize(name))
            .ok_or_else(|| ImageError::Archive(format!("no member {name}")))?;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(start + offset))?;
        Ok(BufReader::new(file).take(size))
    }

    pub(super) fn read(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let size = self
            .members
            .get(&normalize(name))
            .map_or(0, |&(_, size)| size);
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        self.range(name, 0, size)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    pub(super) fn json(&self, name: &str) -> Result<serde_json::Value, ImageError> {
        serde_json::from_slice(&self.read(name)?)
            .map_err(|e| ImageError::Archive(format!("{name}: {e}")))
    }

    /// A layer's tar stream, decompressed if it is gzip, and whether it was.
    pub(super) fn layer(&self, blob: &str) -> Result<(Box<dyn Read>, bool), ImageError> {
        let size = self.members.get(&normalize(blob)).map_or(0, |&(_, s)| s);
        let mut reader = self.range(blob, 0, size)?;
        let mut magic = [0u8; 2];
        let n = reader.read(&mut magic)?;
        let prefix = std::io::Cursor::new(magic[..n].to_vec());
        Ok(if n == 2 && magic == [0x1f, 0x8b] {
            (Box::new(MultiGzDecoder::new(prefix.chain(reader))), true)
        } else {
            (Box::new(prefix.chain(reader)), false)
        })
    }
}

/// A path inside an archive or an image without `./` or `/` in front.
pub(super) fn normalize(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// How the image is stored: what a registry push would send.
pub(super) struct Manifests {
    /// Image manifests (platforms).
    pub(super) platforms: usize,
    /// Attestation manifests (buildx provenance/SBOM).
    pub(super) attestations: usize,
    /// Whether an index (manifest list) holds them.
    pub(super) has_index: bool,
}

/// Counts the manifests reachable from the OCI `index.json`, descending into nested indexes;
/// the classic layout has exactly one plain manifest.
pub(super) fn count_manifests(index: &TarIndex) -> Result<Manifests, ImageError> {
    let mut counts = Manifests {
        platforms: 0,
        attestations: 0,
        has_index: false,
    };
    if !index.members.contains_key("index.json") {
        counts.platforms = 1;
        return Ok(counts);
    }
    let root = index.json("index.json")?;
    let mut pending: Vec<serde_json::Value> =
        root["manifests"].as_array().cloned().unwrap_or_default();
    while let Some(descriptor) = pending.pop() {
        let media_type = descriptor["mediaType"].as_str().unwrap_or_default();
        if INDEX_TYPES.contains(&media_type) {
            counts.has_index = true;
            let digest = descriptor["digest"].as_str().unwrap_or_default();
            let nested = index.json(&blob_path(digest))?;
            pending.extend(nested["manifests"].as_array().cloned().unwrap_or_default());
        } else if descriptor["annotations"]["vnd.docker.reference.type"] == "attestation-manifest" {
            counts.attestations += 1;
        } else {
            counts.platforms += 1;
        }
    }
    Ok(counts)
}
