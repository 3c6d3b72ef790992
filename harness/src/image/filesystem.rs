//! The image's root filesystem as a container sees it: every layer applied in order.
//!
//! A file in a lower layer means nothing if an upper layer deleted it (a whiteout, `.wh.name`),
//! emptied its directory (an opaque directory, `.wh..wh..opq`), or put a symlink or another file
//! in its place. Lambda runs what the merged view holds, so the gate reads the same view: paths
//! are resolved component by component through symlinks (absolute and relative, also in the
//! middle of a path), and hard links point at the data of the file they link to.

use super::ImageError;
use super::archive::TarIndex;
use super::layer::{self, MAX_SYMLINKS};
use std::collections::BTreeMap;
use std::io::Read;

/// Where a regular file's bytes are.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FileData {
    /// Index of the layer that holds the bytes.
    pub(super) layer: usize,
    /// The position of its tar member in the layer (the link target's for a hard link).
    pub(super) entry: usize,
    /// Offset of the data in the layer's tar stream.
    pub(super) offset: u64,
    /// Size in bytes.
    pub(super) size: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Node {
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
        let unpacked = layer::unpack(&mut counter, layer, blob)?;
        // Drain the end-of-archive padding so the size is the whole layer.
        std::io::copy(&mut counter, &mut std::io::sink())?;
        // Whiteouts and opaque markers hide what the lower layers had, whatever their order in
        // this layer's archive; then this layer's own entries go on top, parents first.
        for path in &unpacked.whiteouts {
            self.remove_tree(path, true);
        }
        for dir in &unpacked.opaques {
            self.remove_tree(dir, false);
        }
        for (path, node) in unpacked.nodes {
            // Anything but a directory over a directory replaces it with all it held (a
            // directory this layer creates hides a lower symlink of that name); a directory
            // over a directory merges.
            let merges = node == Node::Dir && self.nodes.get(&path) == Some(&Node::Dir);
            if !merges {
                self.remove_tree(&path, true);
            }
            self.nodes.insert(path, node);
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

    /// Every regular file of the merged view, as its absolute path and where its bytes are (a
    /// hard link is listed under each of its names).
    pub(super) fn files(&self) -> impl Iterator<Item = (String, &FileData)> {
        self.nodes.iter().filter_map(|(path, node)| match node {
            Node::File(data) => Some((format!("/{path}"), data)),
            _ => None,
        })
    }

    /// The paths of the regular files whose content has this sha256; only files of `size`
    /// bytes are read, and an empty file (`size` 0) matches none.
    pub(super) fn files_with_sha256(
        &self,
        index: &TarIndex,
        sha256: &str,
        size: u64,
    ) -> Result<Vec<String>, ImageError> {
        // An empty file names nothing: every empty file in the image would match it.
        if size == 0 {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for (path, data) in self.files().filter(|(_, d)| d.size == size) {
            if self.sha256(index, data)? == sha256 {
                found.push(path);
            }
        }
        Ok(found)
    }

    /// The first `limit` bytes of a file (all of it with `u64::MAX`), in memory: for the
    /// heads of executables, never for a whole file of unknown size.
    pub(super) fn read(
        &self,
        index: &TarIndex,
        data: &FileData,
        limit: u64,
    ) -> Result<Vec<u8>, ImageError> {
        let size = data.size.min(limit);
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        self.with_content(index, data, |content| {
            content.take(size).read_to_end(&mut bytes)
        })?;
        Ok(bytes)
    }

    /// sha256 of a file's content, streamed: a model of gigabytes costs a buffer, not its size.
    pub(super) fn sha256(&self, index: &TarIndex, data: &FileData) -> Result<String, ImageError> {
        self.with_content(index, data, |content| {
            crate::digest::sha256_reader(content.take(data.size))
        })
    }

    /// Runs `use_content` on a reader of the file's bytes where its layer holds them.
    fn with_content<T>(
        &self,
        index: &TarIndex,
        data: &FileData,
        use_content: impl FnOnce(&mut dyn Read) -> std::io::Result<T>,
    ) -> Result<T, ImageError> {
        let (blob, compressed) = &self.layers[data.layer];
        if *compressed {
            // No random access into gzip: scan the layer for the member.
            let (reader, _) = index.layer(blob)?;
            let mut archive = tar::Archive::new(reader);
            if let Some(entry) = archive.entries()?.nth(data.entry) {
                return Ok(use_content(&mut entry?)?);
            }
            return Err(ImageError::Archive(format!(
                "member {} vanished from layer {blob}",
                data.entry
            )));
        }
        Ok(use_content(&mut index.range(
            blob,
            data.offset,
            data.size,
        )?)?)
    }
}

fn components(path: &str) -> Vec<String> {
    path.split('/').map(str::to_owned).collect()
}

pub(super) fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

pub(super) fn join(parent: &str, name: &str) -> String {
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

    /// A layer tar whose names (and hard link targets, kind `'h'`) are exactly as given (`..`,
    /// `//`, a leading `/`), which `tar::Builder` would refuse or tidy.
    fn raw_layer(entries: &[(&str, char, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, content) in entries {
            let mut header = tar::Header::new_gnu();
            let gnu = header.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            let data = if *kind == 'h' {
                gnu.linkname[..content.len()].copy_from_slice(content.as_bytes());
                header.set_entry_type(tar::EntryType::Link);
                ""
            } else {
                header.set_entry_type(tar::EntryType::Regular);
                content
            };
            header.set_mode(0o755);
            header.set_size(data.len() as u64);
            header.set_cksum();
            builder.append(&header, data.as_bytes()).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
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
    fn a_file_is_found_by_its_content_in_the_merged_view_only() {
        let sha = |text: &str| crate::digest::sha256_hex(text.as_bytes());
        let (_d, index, fs) = image(&[
            layer(&[
                ("opt/old/model.json", 'f', "model-v1"),
                ("opt/gone.json", 'f', "model-v1"),
                ("var/task/other.json", 'f', "model-v2"),
            ]),
            gzip(&layer(&[
                ("opt/.wh.gone.json", 'f', ""),
                ("var/task/model/model.json", 'f', "model-v1"),
                ("var/task/link.json", 'h', "var/task/model/model.json"),
            ])),
        ]);
        let files: Vec<(String, u64)> = fs.files().map(|(p, d)| (p, d.size)).collect();
        assert!(
            files.contains(&("/var/task/other.json".to_owned(), 8)),
            "{files:?}"
        );
        assert!(
            !files.iter().any(|(p, _)| p == "/opt/gone.json"),
            "{files:?}"
        );
        assert_eq!(
            fs.files_with_sha256(&index, &sha("model-v1"), 8).unwrap(),
            [
                "/opt/old/model.json",
                "/var/task/link.json",
                "/var/task/model/model.json"
            ]
        );
        // Another size is not read, whatever its content.
        assert!(
            fs.files_with_sha256(&index, &sha("model-v1"), 9)
                .unwrap()
                .is_empty()
        );
        assert!(
            fs.files_with_sha256(&index, &sha("model-v3"), 8)
                .unwrap()
                .is_empty()
        );
        // An empty model would match every empty file (a whiteout's too): it matches none.
        assert!(
            fs.files_with_sha256(&index, &sha(""), 0)
                .unwrap()
                .is_empty()
        );
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

    #[test]
    fn member_names_are_cleaned_before_they_replace_a_lower_file() {
        for name in [
            "x/../var/runtime/bootstrap",
            "var/runtime/./bootstrap",
            "var//runtime/bootstrap",
            "/./var/runtime/bootstrap",
        ] {
            let (_d, index, fs) = image(&[
                layer(&[("var/runtime/bootstrap", 'f', "lower")]),
                raw_layer(&[(name, 'f', "upper")]),
            ]);
            assert_eq!(
                content(&fs, &index, "/var/runtime/bootstrap").unwrap(),
                "upper",
                "{name}"
            );
        }
    }

    #[test]
    fn a_name_that_leaves_the_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        let bytes = raw_layer(&[("a/../../etc/passwd", 'f', "x")]);
        let mut outer = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        outer
            .append_data(&mut header, "l0/layer.tar", bytes.as_slice())
            .unwrap();
        std::fs::write(&path, outer.into_inner().unwrap()).unwrap();
        let index = TarIndex::open(&path).unwrap();
        let err = Filesystem::default()
            .apply(&index, "l0/layer.tar")
            .err()
            .unwrap();
        assert!(err.to_string().contains("leaves the image's root"), "{err}");
    }

    #[test]
    fn a_member_below_a_symlink_of_its_own_layer_is_written_where_the_symlink_leads() {
        let (_d, index, fs) = image(&[
            layer(&[("opt/bootstrap", 'f', "lower")]),
            layer(&[
                ("var/runtime", 'l', "/opt"),
                ("var/runtime/bootstrap", 'f', "upper"),
            ]),
        ]);
        assert_eq!(
            content(&fs, &index, "/var/runtime/bootstrap").unwrap(),
            "upper"
        );
        assert_eq!(content(&fs, &index, "/opt/bootstrap").unwrap(), "upper");
    }

    #[test]
    fn a_directory_an_upper_layer_creates_hides_a_lower_symlink() {
        let (_d, index, fs) = image(&[
            layer(&[("lib", 'l', "usr/lib"), ("usr/lib/libc.so", 'f', "libc")]),
            layer(&[("lib/extra.so", 'f', "extra")]),
        ]);
        assert_eq!(content(&fs, &index, "/lib/extra.so").unwrap(), "extra");
        assert!(fs.resolve("/lib/libc.so").is_err());
    }

    #[test]
    fn the_last_of_two_members_with_one_name_is_read_even_from_a_compressed_layer() {
        let (_d, index, fs) = image(&[gzip(&layer(&[
            ("var/runtime/bootstrap", 'f', "first"),
            ("var/runtime/bootstrap", 'f', "second"),
        ]))]);
        assert_eq!(
            content(&fs, &index, "/var/runtime/bootstrap").unwrap(),
            "second"
        );
    }

    #[test]
    fn hard_links_and_whiteouts_use_cleaned_names() {
        let (_d, index, fs) = image(&[
            layer(&[("app/model", 'f', "lower"), ("app/gone", 'f', "gone")]),
            raw_layer(&[
                ("opt//real", 'f', "upper"),
                ("app/./model", 'h', "/./opt/x/../real"),
                ("app/./.wh.gone", 'f', ""),
            ]),
        ]);
        assert!(fs.resolve("/app/gone").is_err());
        assert_eq!(content(&fs, &index, "/app/model").unwrap(), "upper");
    }

    #[test]
    fn a_hard_link_to_a_file_of_a_lower_layer_is_not_readable() {
        // Docker links within the layer it unpacks: the lower file is not there to link to.
        let (_d, _index, fs) = image(&[
            layer(&[("opt/real", 'f', "lower")]),
            layer(&[("app/model", 'h', "opt/real")]),
        ]);
        assert!(
            fs.resolve("/app/model")
                .unwrap_err()
                .contains("not a regular")
        );
    }
}
