//! One layer as Docker unpacks it, before it is merged over the layers below.
//!
//! Docker does not take a tar member's name as written: it cleans it (Go's `filepath.Clean`:
//! `x/../a` is `a`, `a/./b` and `a//b` are `a/b`, a leading `/` or `./` goes), refuses names
//! that leave the root, and creates the member through the symlinks this same layer already
//! unpacked (the kernel follows them, in a chroot of the layer's own directory). A gate that
//! indexed the raw names would judge a stale lower file while Docker runs the upper one. Hard
//! link and whiteout names are cleaned and resolved the same way.

use super::ImageError;
use super::filesystem::{FileData, Node, join, split};
use std::collections::BTreeMap;
use std::io::Read;

/// Symlinks followed in one resolution before giving up, as Linux does (`ELOOP`).
pub(super) const MAX_SYMLINKS: usize = 40;
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// What one layer holds on its own, and what it hides below it.
#[derive(Default)]
pub(super) struct Unpacked {
    /// Every path the layer creates, parents included (Docker creates missing parents).
    pub(super) nodes: BTreeMap<String, Node>,
    /// Paths a whiteout (`.wh.NAME`) deletes from the layers below.
    pub(super) whiteouts: Vec<String>,
    /// Directories an opaque marker (`.wh..wh..opq`) empties of what the layers below put there.
    pub(super) opaques: Vec<String>,
}

/// A member or link name as Docker applies it: cleaned, relative to the root, `""` for the root
/// itself. A relative name whose `..` climbs above the root is refused, as Docker refuses it;
/// `/..` is the root, as in Go's `filepath.Clean`.
pub(super) fn clean(name: &str) -> Result<String, String> {
    let rooted = name.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !rooted {
                    return Err(format!("{name:?} leaves the image's root"));
                }
            }
            _ => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// Reads the layer `layer` (its index in the image) from its tar stream, in archive order.
pub(super) fn unpack(reader: impl Read, layer: usize, blob: &str) -> Result<Unpacked, ImageError> {
    let refuse = |what: String| ImageError::Archive(format!("layer {blob}: {what}"));
    let mut unpacked = Unpacked::default();
    let mut archive = tar::Archive::new(reader);
    for (ordinal, entry) in archive.entries()?.enumerate() {
        let entry = entry?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            // Metadata for other members, not a file: Docker skips it.
            continue;
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean(&raw).map_err(refuse)?;
        if name.is_empty() {
            continue;
        }
        let (parent, base) = split(&name);
        let parent = unpacked
            .directory(parent)
            .map_err(|e| refuse(format!("{raw:?}: {e}")))?;
        if base == OPAQUE {
            unpacked.opaques.push(parent);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(WHITEOUT) {
            if matches!(hidden, "" | "." | "..") {
                return Err(refuse(format!("{raw:?} is a whiteout of no file")));
            }
            unpacked.whiteouts.push(join(&parent, hidden));
            continue;
        }
        let path = join(&parent, base);
        let node = if kind.is_dir() {
            Node::Dir
        } else if kind.is_symlink() {
            let target = entry.link_name_bytes().unwrap_or_default();
            Node::Symlink(String::from_utf8_lossy(&target).into_owned())
        } else if kind.is_hard_link() {
            let target = entry.link_name_bytes().unwrap_or_default();
            let target = String::from_utf8_lossy(&target).into_owned();
            unpacked
                .link_target(&target)
                .map_err(|e| refuse(format!("hard link {raw:?} -> {target:?}: {e}")))?
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            Node::File(FileData {
                layer,
                entry: ordinal,
                offset: entry.raw_file_position(),
                size: entry.size(),
            })
        } else {
            Node::Special
        };
        unpacked.put(path, node);
    }
    Ok(unpacked)
}

impl Unpacked {
    /// Creates `path`, replacing what the layer had there (and below it) unless both are
    /// directories, which merge.
    fn put(&mut self, path: String, node: Node) {
        let merges = node == Node::Dir && self.nodes.get(&path) == Some(&Node::Dir);
        if !merges {
            let prefix = format!("{path}/");
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
        self.nodes.insert(path, node);
    }

    /// The directory a member named below `parent` lands in: `parent` resolved through the
    /// symlinks this layer holds so far, missing directories created as Docker creates them.
    fn directory(&mut self, parent: &str) -> Result<String, String> {
        let mut pending: Vec<String> = parent.split('/').rev().map(str::to_owned).collect();
        let mut current: Vec<String> = Vec::new();
        let mut followed = 0;
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
            match self.nodes.get(&here) {
                None => {
                    self.nodes.insert(here, Node::Dir);
                    current.push(part);
                }
                Some(Node::Dir) => current.push(part),
                Some(Node::Symlink(target)) => {
                    followed += 1;
                    if followed > MAX_SYMLINKS {
                        return Err(format!("more than {MAX_SYMLINKS} symlinks below /{here}"));
                    }
                    if target.starts_with('/') {
                        current.clear();
                    }
                    pending.extend(target.split('/').rev().map(str::to_owned));
                }
                Some(_) => return Err(format!("/{here} is not a directory")),
            }
        }
        Ok(current.join("/"))
    }

    /// What a hard link to `target` is: the same file (or symlink) of this layer. A link to
    /// nothing this layer holds is kept as present but unreadable.
    fn link_target(&mut self, target: &str) -> Result<Node, String> {
        let name = clean(target)?;
        let (parent, base) = split(&name);
        let parent = self.directory(parent)?;
        Ok(match self.nodes.get(&join(&parent, base)) {
            Some(node @ (Node::File(_) | Node::Symlink(_))) => node.clone(),
            _ => Node::Special,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn names_are_cleaned_as_docker_cleans_them() {
        for (raw, clean_name) in [
            ("x/../var/runtime/bootstrap", "var/runtime/bootstrap"),
            ("var/runtime/./bootstrap", "var/runtime/bootstrap"),
            ("var//runtime/bootstrap", "var/runtime/bootstrap"),
            ("/./var/runtime/bootstrap", "var/runtime/bootstrap"),
            ("./var/runtime/", "var/runtime"),
            ("/../etc", "etc"),
            ("./", ""),
            ("/", ""),
        ] {
            assert_eq!(clean(raw).unwrap(), clean_name, "{raw}");
        }
        for escaping in ["../etc", "a/../../etc", ".."] {
            assert!(
                clean(escaping).unwrap_err().contains("leaves"),
                "{escaping}"
            );
        }
    }
}
