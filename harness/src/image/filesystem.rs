//! The image's root filesystem as a container sees it: every layer applied in order.
//!
//! A file in a lower layer means nothing if an upper layer deleted it (a whiteout, `.wh.name`),
//! emptied its directory (an opaque directory, `.wh..wh..opq`), or put a symlink or another file
//! in its place. Lambda runs what the merged view holds, so the gate reads the same view: paths
//! are resolved component by component through symlinks (absolute and relative, also in the
//! middle of a path), and hard links point at the data of the file they link to.

use super::ImageError;
use super::archive::{TarIndex, normalize};
use std::collections::BTreeMap;
use std::io::Read;

/// Symlinks followed in one resolution before giving up, as Linux does (`ELOOP`).
const MAX_SYMLINKS: usize = 40;
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Where a regular file's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FileData {
    /// Index of the layer that holds the bytes.
    pub(super) layer: usize,
    /// The tar member (the link target for a hard link).
    pub(super) member: String,
    /// Offset of the data in the layer's tar stream.
    pub(super) offset: u64,
    /// Size in bytes.
    pub(super) size: u64,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Dir,
    File(FileData),
    Symlink(String),
    /// Devices, fifos: present, not readable.
    Special,
}

/// A regular file found by resolving a path.
#[derive(Clone, Debug)]
pub(super) struct Found {
    /// The path the file really has, after every symlink.
    pub(super) path: String,
    /// The symlinks followed, as `from -> to`.
    pub(super) via: Vec<String>,
    /// Where its bytes are.
    pub(super) data: FileData,
}

/// The merged view of all layers.
#[derive(Default)]
pub(super) struct Filesystem {
    nodes: BTreeMap<String, Node>,
    /// Per layer: its blob in the archive and whether it is compressed.
    layers: Vec<(String, bool)>,
}

/// One entry of a layer, as read.
enum Change {
    Whiteout(String),
    Opaque(String),
    Put(String, Node),
}

impl Filesystem {
    /// Applies the next layer; returns its uncompressed size.
    pub(super) fn apply(&mut self, index: &TarIndex, blob: &str) -> Result<u64, ImageError> {
        let layer = self.layers.len();
        let (reader, compressed) = index.layer(blob)?;
        self.layers.push((blob.to_owned(), compressed));
        let mut counter = CountingReader {
            inner: reader,
            count: 0,
        };
        let mut changes = Vec::new();
        {
            let mut archive = tar::Archive::new(&mut counter);
            // Hard links refer to earlier members of the same layer.
            let mut files: BTreeMap<String, FileData> = BTreeMap::new();
            for entry in archive.entries()? {
                let entry = entry?;
                let path = normalize(&entry.path()?.to_string_lossy());
                if path.is_empty() {
                    continue;
                }
                let (parent, name) = split(&path);
                if name == OPAQUE {
                    changes.push(Change::Opaque(parent.to_owned()));
                    continue;
                }
                if let Some(hidden) = name.strip_prefix(WHITEOUT) {
                    changes.push(Change::Whiteout(join(parent, hidden)));
                    continue;
                }
                let kind = entry.header().entry_type();
                let node = if kind.is_dir() {
                    Node::Dir
                } else if kind.is_symlink() {
                    let target = entry
                        .link_name()?
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Node::Symlink(target)
                } else if kind.is_hard_link() {
                    let target = entry
                        .link_name()?
                        .map(|t| normalize(&t.to_string_lossy()))
                        .unwrap_or_default();
                    match files.get(&target) {
                        Some(data) => Node::File(data.clone()),
                        None => Node::Special,
                    }
                } else if kind.is_file() || kind == tar::EntryType::Continuous {
                    let data = FileData {
                        layer,
                        member: path.clone(),
                        offset: entry.raw_file_position(),
                        size: entry.size(),
                    };
                    files.insert(path.clone(), data.clone());
                    Node::File(data)
                } else {
                    Node::Special
                };
                changes.push(Change::Put(path, node));
            }
        }
        // Drain the end-of-archive padding so the size is the whole layer.
        std::io::copy(&mut counter, &mut std::io::sink())?;
        // Whiteouts and opaque markers hide what the lower layers had, whatever their order in
        // this layer's archive; then this layer's own entries go on top.
        for change in &changes {
            match change {
                Change::Whiteout(path) => self.remove_tree(path, true),
                Change::Opaque(dir) => self.remove_tree(dir, false),
                Change::Put(..) => {}
            }
        }
        for change in changes {
            if let Change::Put(path, node) = change {
                // Anything but a directory over a directory replaces it with all it held; a
                // directory over a directory merges.
                let merges =
                    node == Node::Dir && matches!(self.nodes.get(&path), None | Some(Node::Dir));
                if !merges {
                    self.remove_tree(&path, true);
                }
                self.nodes.insert(path, node);
            }
        }
        Ok(counter.count)
    }

    /// Removes everything below `path`, and `path` itself when `itself`.
    fn remove_tree(&mut self, path: &str, itself: bool) {
        if itself {
            self.nodes.remove(path);
        }
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let below: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for key in below {
            self.nodes.remove(&key);
        }
    }

    fn lookup(&self, path: &str) -> Option<Node> {
        if path.is_empty() {
            return Some(Node::Dir);
        }
        if let Some(node) = self.nodes.get(path) {
            return Some(node.clone());
        }
        // A layer may hold `a/b/c` without an entry for `a/b`: the directory still exists.
        let prefix = format!("{path}/");
        self.nodes
            .range(prefix.clone()..)
            .next()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|_| Node::Dir)
    }

    /// The regular file at `path` (absolute, or relative to `/`), following symlinks.
    pub(super) fn resolve(&self, path: &str) -> Result<Found, String> {
        let mut pending: Vec<String> = components(path);
        pending.reverse();
        let mut current: Vec<String> = Vec::new();
        let mut via = Vec::new();
        while let Some(part) = pending.pop() {
            match part.as_str() {
                "" | "." => continue,
                ".." => {
                    current.pop();
                    continue;
                }
                _ => {}
            }
            let here = join(&current.join("/"), &part);
            match self.lookup(&here) {
                None => return Err(format!("/{here} does not exist in the image")),
                Some(Node::Symlink(target)) => {
                    if via.len() == MAX_SYMLINKS {
                        return Err(format!(
                            "more than {MAX_SYMLINKS} symlinks resolving {path} (a loop?)"
                        ));
                    }
                    via.push(format!("/{here} -> {target}"));
                    if target.starts_with('/') {
                        current.clear();
                    }
                    let mut more = components(&target);
                    more.reverse();
                    pending.extend(more);
                }
                Some(Node::Dir) => current.push(part),
                Some(Node::File(data)) if pending.is_empty() => {
                    return Ok(Found {
                        path: format!("/{here}"),
                        via,
                        data,
                    });
                }
                Some(Node::File(_)) => {
                    return Err(format!(
                        "/{here} is a file, not a directory (resolving {path})"
                    ));
                }
                Some(Node::Special) => {
                    return Err(format!("/{here} is not a regular file"));
                }
            }
        }
        Err(format!("{path} is a directory, not a file"))
    }

    /// The first `limit` bytes of a file (all of it with `u64::MAX`).
    pub(super) fn read(
        &self,
        index: &TarIndex,
        data: &FileData,
        limit: u64,
    ) -> Result<Vec<u8>, ImageError> {
        let (blob, compressed) = &self.layers[data.layer];
        let size = data.size.min(limit);
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        if *compressed {
            // No random access into gzip: scan the layer for the member.
            let (reader, _) = index.layer(blob)?;
            let mut archive = tar::Archive::new(reader);
            for entry in archive.entries()? {
                let entry = entry?;
                if normalize(&entry.path()?.to_string_lossy()) == data.member {
                    entry.take(size).read_to_end(&mut bytes)?;
                    return Ok(bytes);
                }
            }
            return Err(ImageError::Archive(format!(
                "{} vanished from layer {blob}",
                data.member
            )));
        }
        index
            .range(blob, data.offset, size)?
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// sha256 of a file's content, streamed.
    pub(super) fn sha256(&self, index: &TarIndex, data: &FileData) -> Result<String, ImageError> {
        // Model files are megabytes; reading them whole is fine and keeps one code path.
        Ok(crate::digest::sha256_hex(&self.read(
            index,
            data,
            u64::MAX,
        )?))
    }
}

fn components(path: &str) -> Vec<String> {
    path.split('/').map(str::to_owned).collect()
}

fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}/{name}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer tar with the given entries: (path, kind, data or link target).
    fn layer(entries: &[(&str, char, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o755);
            match kind {
                'd' => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder.append_data(&mut header, path, &[][..]).unwrap();
                }
                'l' | 'h' => {
                    header.set_entry_type(if *kind == 'l' {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    });
                    header.set_size(0);
                    builder.append_link(&mut header, path, content).unwrap();
                }
                _ => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(content.len() as u64);
                    builder
                        .append_data(&mut header, path, content.as_bytes())
                        .unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn image(layers: &[Vec<u8>]) -> (tempfile::TempDir, TarIndex, Filesystem) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        let mut outer = tar::Builder::new(Vec::new());
        for (i, bytes) in layers.iter().enumerate() {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            outer
                .append_data(&mut header, format!("l{i}/layer.tar"), bytes.as_slice())
                .unwrap();
        }
        std::fs::write(&path, outer.into_inner().unwrap()).unwrap();
        let index = TarIndex::open(&path).unwrap();
        let mut fs = Filesystem::default();
        for i in 0..layers.len() {
            fs.apply(&index, &format!("l{i}/layer.tar")).unwrap();
        }
        (dir, index, fs)
    }

    fn content(fs: &Filesystem, index: &TarIndex, path: &str) -> Result<String, String> {
        let found = fs.resolve(path)?;
        Ok(String::from_utf8(fs.read(index, &found.data, u64::MAX).unwrap()).unwrap())
    }

    #[test]
    fn an_upper_symlink_replaces_a_lower_file() {
        let (_d, index, fs) = image(&[
            layer(&[
                ("var/runtime/bootstrap", 'f', "old"),
                ("opt/other", 'f', "new"),
            ]),
            layer(&[("var/runtime/bootstrap", 'l', "/opt/other")]),
        ]);
        assert_eq!(
            content(&fs, &index, "/var/runtime/bootstrap").unwrap(),
            "new"
        );
        let found = fs.resolve("/var/runtime/bootstrap").unwrap();
        assert_eq!(found.path, "/opt/other");
        assert_eq!(found.via, ["/var/runtime/bootstrap -> /opt/other"]);
    }

    #[test]
    fn symlinks_resolve_through_directories_and_relative_targets() {
        let (_d, index, fs) = image(&[layer(&[
            ("usr/lib/x86_64-linux-gnu/ld.so", 'f', "loader"),
            ("lib64", 'l', "usr/lib"),
            ("usr/lib/ld-linux.so.2", 'l', "x86_64-linux-gnu/ld.so"),
            ("opt/venv/bin/python3", 'l', "../../../usr/bin/python3.11"),
            ("usr/bin/python3.11", 'f', "python"),
            ("loop", 'l', "/loop"),
        ])]);
        assert_eq!(
            content(&fs, &index, "/lib64/ld-linux.so.2").unwrap(),
            "loader"
        );
        assert_eq!(
            content(&fs, &index, "/opt/venv/bin/python3").unwrap(),
            "python"
        );
        let err = fs.resolve("/loop").unwrap_err();
        assert!(err.contains("a loop"), "{err}");
        assert!(
            fs.resolve("/usr/bin/python3.11/x")
                .unwrap_err()
                .contains("not a directory")
        );
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_files() {
        let (_d, index, fs) = image(&[
            layer(&[
                ("app/model.json", 'f', "old model"),
                ("app/keep", 'f', "k"),
                ("data/a", 'f', "a"),
            ]),
            layer(&[
                ("app/.wh.model.json", 'f', ""),
                ("data/.wh..wh..opq", 'f', ""),
                ("data/b", 'f', "b"),
            ]),
        ]);
        assert!(
            fs.resolve("/app/model.json")
                .unwrap_err()
                .contains("does not exist")
        );
        assert_eq!(content(&fs, &index, "/app/keep").unwrap(), "k");
        assert!(fs.resolve("/data/a").is_err());
        assert_eq!(content(&fs, &index, "/data/b").unwrap(), "b");
    }

    #[test]
    fn a_hard_link_reads_the_data_of_its_target() {
        let (_d, index, fs) = image(&[
            layer(&[("bin/tool", 'f', "lower")]),
            layer(&[("opt/real", 'f', "upper"), ("bin/tool", 'h', "opt/real")]),
        ]);
        assert_eq!(content(&fs, &index, "/bin/tool").unwrap(), "upper");
    }
}
