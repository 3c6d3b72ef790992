//! sha256 as the gate writes it everywhere: lowercase hex.

use sha2::{Digest, Sha256};
use std::io::{self, Read};
use std::path::Path;

/// The sha256 of a byte string.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The sha256 of a file, read in chunks so a large file costs no memory.
pub(crate) fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_reader(std::fs::File::open(path)?)
}

/// The sha256 of everything `reader` gives, read in 64 KiB chunks: a file of any size (a
/// model in an image layer, say) costs the buffer, not its size.
pub(crate) fn sha256_reader(mut reader: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
