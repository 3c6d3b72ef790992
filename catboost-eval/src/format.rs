//! The compiled model file: the evaluator's own structures (`model.rs`), written once from a
//! CatBoost JSON export and read back at start-up with no parsing and no recomputation.
//!
//! Layout, every number little-endian whatever the machine (so a file written on x86_64 loads
//! on arm64), no `usize` anywhere:
//!
//! | bytes | what |
//! |---|---|
//! | 0..8 | magic `\x89CBEVAL\n` |
//! | 8..12 | format version, u32 ([`FORMAT_VERSION`]) |
//! | 12..16 | flags, u32, 0 |
//! | 16..24 | payload length in bytes, u64 |
//! | 24..28 | CRC-32 of bytes 32..end (source hash and payload), u32 |
//! | 28..32 | reserved, u32, 0 |
//! | 32..64 | sha256 of the JSON export the model was compiled from |
//! | 64.. | payload: the model's parts in declaration order; a list is a u32 count then its items |
//!
//! The same model always gives the same bytes. Reading streams the payload straight into the
//! model's vectors (nothing holds the whole file), refuses lists longer than the bytes left,
//! checks the checksum at the end and then every invariant the evaluator relies on, so a
//! truncated, corrupt or foreign file is an error, never a panic.

use crate::model::{
    BinTest, Columns, CtrFeature, CtrTable, FloatColumn, KeyPart, KeyStep, Lookup, NsNode,
    OneHotBin, Output, Parts, Trees,
};
use crate::{ClassLabel, FeatureKind};
use std::io::{self, Read};

const MAGIC: [u8; 8] = *b"\x89CBEVAL\n";
const HEADER: usize = 64;

/// Version of the layout this build reads and writes; bumped whenever the layout changes.
pub const FORMAT_VERSION: u32 = 1;

/// Why a compiled model file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompiledError {
    /// The file could not be read.
    #[error("cannot read the compiled model: {0}")]
    Io(io::Error),
    /// Not a compiled model at all (e.g. the JSON export itself, or another file).
    #[error(
        "not a compiled catboost-eval model (wrong magic bytes): compile the JSON export with \
         catboost-compile"
    )]
    NotCompiled,
    /// Written by a build with another layout.
    #[error(
        "compiled model format version {found}, this build reads version {expected}: recompile \
         the JSON export with this build's catboost-compile"
    )]
    Version {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        expected: u32,
    },
    /// The file ends before the data it declares.
    #[error("the compiled model is truncated: {0}")]
    Truncated(String),
    /// The bytes are not what was written: checksum, sizes or structure do not hold.
    #[error("the compiled model is corrupt: {0}")]
    Corrupt(String),
}

/// The compiled file of `parts`.
pub(crate) fn write(parts: &Parts) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(HEADER + 1024));
    w.0.extend_from_slice(&MAGIC);
    w.u32(FORMAT_VERSION);
    w.u32(0);
    w.u64(0); // payload length, patched below
    w.u32(0); // checksum, patched below
    w.u32(0);
    w.0.extend_from_slice(&parts.source_sha256);
    write_parts(&mut w, parts);
    let mut out = w.0;
    let payload = (out.len() - HEADER) as u64;
    out[16..24].copy_from_slice(&payload.to_le_bytes());
    let crc = crc32fast::hash(&out[32..]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Reads a compiled file of `len` bytes from `reader`.
pub(crate) fn read(reader: impl Read, len: u64) -> Result<Parts, CompiledError> {
    let mut reader = io::BufReader::with_capacity(1 << 16, reader);
    let mut header = [0u8; HEADER];
    let got = read_up_to(&mut reader, &mut header)?;
    if got < MAGIC.len() || header[..8] != MAGIC {
        return Err(CompiledError::NotCompiled);
    }
    if got < HEADER {
        return Err(CompiledError::Truncated(format!(
            "{got} bytes, shorter than the {HEADER}-byte header"
        )));
    }
    let u32_at = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = u32_at(8);
    if version != FORMAT_VERSION {
        return Err(CompiledError::Version {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    if u32_at(12) != 0 || u32_at(28) != 0 {
        return Err(CompiledError::Corrupt(
            "the header's flags or reserved field is not zero".into(),
        ));
    }
    let mut payload = [0u8; 8];
    payload.copy_from_slice(&header[16..24]);
    let payload = u64::from_le_bytes(payload);
    let actual = len.saturating_sub(HEADER as u64);
    if payload > actual {
        return Err(CompiledError::Truncated(format!(
            "the header declares {payload} bytes of model, the file holds {actual}"
        )));
    }
    if payload < actual {
        return Err(CompiledError::Corrupt(format!(
            "{} bytes after the {payload} bytes of model the header declares",
            actual - payload
        )));
    }
    let expected_crc = u32_at(24);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[32..]);
    let mut source_sha256 = [0u8; 32];
    source_sha256.copy_from_slice(&header[32..64]);
    let mut r = Reader {
        inner: reader,
        crc,
        remaining: payload,
        chunk: Vec::new(),
    };
    // A structural error may be the first sign of a corrupt byte: name the checksum then.
    let parts = read_parts(&mut r, source_sha256);
    let crc = r.crc.clone().finalize();
    if r.remaining == 0 && crc != expected_crc {
        return Err(CompiledError::Corrupt(format!(
            "checksum {crc:08x} does not match the recorded {expected_crc:08x}"
        )));
    }
    let parts = parts?;
    if r.remaining != 0 {
        return Err(CompiledError::Corrupt(format!(
            "{} bytes left after the model",
            r.remaining
        )));
    }
    if crc != expected_crc {
        return Err(CompiledError::Corrupt(format!(
            "checksum {crc:08x} does not match the recorded {expected_crc:08x}"
        )));
    }
    parts.validate().map_err(CompiledError::Corrupt)?;
    Ok(parts)
}

/// Reads until `buf` is full or the input ends; the number of bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, CompiledError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CompiledError::Io(e)),
        }
    }
    Ok(got)
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        // Every list of a model is far below 2^32 (the compiler's indices are u32).
        self.u32(n as u32);
    }
    fn f32s(&mut self, v: &[f32]) {
        self.len(v.len());
        v.iter()
            .for_each(|x| self.0.extend_from_slice(&x.to_le_bytes()));
    }
    fn f64s(&mut self, v: &[f64]) {
        self.len(v.len());
        v.iter()
            .for_each(|x| self.0.extend_from_slice(&x.to_le_bytes()));
    }
    fn u32s(&mut self, v: &[u32]) {
        self.len(v.len());
        v.iter().for_each(|&x| self.u32(x));
    }
    fn bin(&mut self, b: BinTest) {
        self.u32(b.col);
        self.u8(b.thr as u8);
    }
    fn columns(&mut self, c: Columns) {
        self.u32(c.first);
        self.u32(c.per_column);
    }
    fn string(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

fn write_parts(w: &mut Writer, p: &Parts) {
    w.len(p.kinds.len());
    for k in &p.kinds {
        w.u8(match k {
            FeatureKind::Float => 0,
            FeatureKind::Categorical => 1,
        });
    }
    w.len(p.floats.len());
    for f in &p.floats {
        w.u32(f.flat);
        w.columns(f.columns);
        w.u8(u8::from(f.nan_as_true));
        w.f32s(&f.borders);
    }
    w.u32s(&p.cat_flat);
    w.len(p.onehots.len());
    for o in &p.onehots {
        w.u32(o.cat);
        w.u32(o.value as u32);
    }
    w.u32(p.onehot_first_col);
    w.len(p.steps.len());
    for s in &p.steps {
        w.u32(s.level);
        match s.part {
            KeyPart::Cat(c) => {
                w.u8(0);
                w.u32(c);
            }
            KeyPart::FloatBin(b) => {
                w.u8(1);
                w.bin(b);
            }
            KeyPart::FloatValue {
                pos,
                border,
                nan_as_true,
            } => {
                w.u8(2);
                w.u32(pos);
                w.0.extend_from_slice(&border.to_le_bytes());
                w.u8(u8::from(nan_as_true));
            }
            KeyPart::Exact { cat, value } => {
                w.u8(3);
                w.u32(cat);
                w.u32(value as u32);
            }
        }
        w.len(s.lookups.len());
        for l in &s.lookups {
            w.u32(l.table);
            w.u32s(&l.ctrs);
        }
    }
    w.len(p.tables.len());
    for t in &p.tables {
        w.len(t.slots.len());
        t.slots.iter().for_each(|&k| w.u64(k));
    }
    w.len(p.ctrs.len());
    for c in &p.ctrs {
        w.u32(c.table);
        w.columns(c.columns);
        w.u32(c.n_columns);
        w.len(c.quant.len());
        w.0.extend(c.quant.iter().map(|&q| q as u8));
    }
    w.u32(p.n_cols);
    match &p.trees {
        Trees::Oblivious {
            depths,
            splits,
            leaves,
        } => {
            w.u8(0);
            w.len(depths.len());
            w.0.extend_from_slice(depths);
            w.len(splits.len());
            splits.iter().for_each(|&b| w.bin(b));
            w.f64s(leaves);
        }
        Trees::NonSymmetric {
            roots,
            nodes,
            leaves,
        } => {
            w.u8(1);
            w.u32s(roots);
            w.len(nodes.len());
            for n in nodes {
                w.bin(n.bin);
                w.u32(n.left);
                w.u32(n.right);
            }
            w.f64s(leaves);
        }
    }
    w.u32(p.dim);
    w.0.extend_from_slice(&p.scale.to_le_bytes());
    w.f64s(&p.bias);
    let labels = |w: &mut Writer, tag: u8, labels: &[ClassLabel]| {
        w.u8(tag);
        w.len(labels.len());
        for l in labels {
            match l {
                ClassLabel::Integer(i) => {
                    w.u8(0);
                    w.u64(*i as u64);
                }
                ClassLabel::Float(f) => {
                    w.u8(1);
                    w.0.extend_from_slice(&f.to_le_bytes());
                }
                ClassLabel::String(s) => {
                    w.u8(2);
                    w.string(s);
                }
                ClassLabel::Boolean(b) => {
                    w.u8(3);
                    w.u8(u8::from(*b));
                }
            }
        }
    };
    match &p.output {
        Output::Binary { labels: l } => labels(w, 0, l),
        Output::MultiClass { labels: l } => labels(w, 1, l),
        Output::OneVsAll { labels: l } => labels(w, 2, l),
        Output::Regression { exponent } => {
            w.u8(3);
            w.u8(u8::from(*exponent));
        }
    }
}

/// Bytes decoded per read of a list.
const CHUNK: usize = 1 << 16;

struct Reader<R> {
    inner: R,
    crc: crc32fast::Hasher,
    /// Payload bytes not read yet.
    remaining: u64,
    chunk: Vec<u8>,
}

impl<R: Read> Reader<R> {
    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), CompiledError> {
        if buf.len() as u64 > self.remaining {
            return Err(CompiledError::Corrupt(
                "a value runs past the declared end of the model".into(),
            ));
        }
        self.inner.read_exact(buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                CompiledError::Truncated("the file ends inside the model".into())
            }
            _ => CompiledError::Io(e),
        })?;
        self.crc.update(buf);
        self.remaining -= buf.len() as u64;
        Ok(())
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CompiledError> {
        let mut b = [0u8; N];
        self.bytes(&mut b)?;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, CompiledError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, CompiledError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, CompiledError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64, CompiledError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    fn bool(&mut self) -> Result<bool, CompiledError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(CompiledError::Corrupt(format!("{b} is not a boolean"))),
        }
    }
    /// A list count whose items take at least `item_bytes` each: never more than the bytes
    /// left, so a corrupt count cannot make the reader allocate beyond the file's size.
    fn count(&mut self, item_bytes: usize) -> Result<usize, CompiledError> {
        let n = self.u32()? as usize;
        if (n as u64).saturating_mul(item_bytes.max(1) as u64) > self.remaining {
            return Err(CompiledError::Corrupt(format!(
                "a list of {n} items is longer than the rest of the file"
            )));
        }
        Ok(n)
    }
    /// A list of fixed-size items, read in chunks and decoded straight into the vector.
    fn list<const S: usize, T>(
        &mut self,
        decode: fn([u8; S]) -> T,
    ) -> Result<Vec<T>, CompiledError> {
        let n = self.count(S)?;
        let mut out = Vec::with_capacity(n);
        let mut chunk = std::mem::take(&mut self.chunk);
        let mut left = n;
        while left > 0 {
            let take = left.min(CHUNK / S);
            chunk.resize(take * S, 0);
            let read = self.bytes(&mut chunk);
            if let Err(e) = read {
                self.chunk = chunk;
                return Err(e);
            }
            out.extend(chunk.as_chunks::<S>().0.iter().map(|&b| decode(b)));
            left -= take;
        }
        self.chunk = chunk;
        Ok(out)
    }
    fn u32s(&mut self) -> Result<Vec<u32>, CompiledError> {
        self.list(u32::from_le_bytes)
    }
    fn f64s(&mut self) -> Result<Vec<f64>, CompiledError> {
        self.list(f64::from_le_bytes)
    }
    fn bin(&mut self) -> Result<BinTest, CompiledError> {
        Ok(BinTest {
            col: self.u32()?,
            thr: self.u8()? as i8,
        })
    }
    fn columns(&mut self) -> Result<Columns, CompiledError> {
        Ok(Columns {
            first: self.u32()?,
            per_column: self.u32()?,
        })
    }
    fn string(&mut self) -> Result<String, CompiledError> {
        let bytes = self.list::<1, u8>(|[b]| b)?;
        String::from_utf8(bytes).map_err(|_| CompiledError::Corrupt("a label is not UTF-8".into()))
    }
}

fn bad_tag(what: &str, tag: u8) -> CompiledError {
    CompiledError::Corrupt(format!("unknown {what} tag {tag}"))
}

fn read_parts<R: Read>(r: &mut Reader<R>, source_sha256: [u8; 32]) -> Result<Parts, CompiledError> {
    let kinds = r
        .list::<1, u8>(|[b]| b)?
        .into_iter()
        .map(|k| match k {
            0 => Ok(FeatureKind::Float),
            1 => Ok(FeatureKind::Categorical),
            t => Err(bad_tag("feature kind", t)),
        })
        .collect::<Result<_, _>>()?;
    let n = r.count(13)?;
    let mut floats = Vec::with_capacity(n);
    for _ in 0..n {
        floats.push(FloatColumn {
            flat: r.u32()?,
            columns: r.columns()?,
            nan_as_true: r.bool()?,
            borders: r.list(f32::from_le_bytes)?,
        });
    }
    let cat_flat = r.u32s()?;
    let onehots = r.list::<8, OneHotBin>(|b| OneHotBin {
        cat: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        value: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    })?;
    let onehot_first_col = r.u32()?;
    let n = r.count(9)?;
    let mut steps = Vec::with_capacity(n);
    for _ in 0..n {
        let level = r.u32()?;
        let part = match r.u8()? {
            0 => KeyPart::Cat(r.u32()?),
            1 => KeyPart::FloatBin(r.bin()?),
            2 => KeyPart::FloatValue {
                pos: r.u32()?,
                border: f32::from_le_bytes(r.array()?),
                nan_as_true: r.bool()?,
            },
            3 => KeyPart::Exact {
                cat: r.u32()?,
                value: r.u32()? as i32,
            },
            t => return Err(bad_tag("key part", t)),
        };
        let m = r.count(8)?;
        let mut lookups = Vec::with_capacity(m);
        for _ in 0..m {
            lookups.push(Lookup {
                table: r.u32()?,
                ctrs: r.u32s()?,
            });
        }
        steps.push(KeyStep {
            level,
            part,
            lookups,
        });
    }
    let n = r.count(4)?;
    let mut tables = Vec::with_capacity(n);
    for _ in 0..n {
        tables.push(CtrTable {
            slots: r.list(u64::from_le_bytes)?,
        });
    }
    let n = r.count(20)?;
    let mut ctrs = Vec::with_capacity(n);
    for _ in 0..n {
        ctrs.push(CtrFeature {
            table: r.u32()?,
            columns: r.columns()?,
            n_columns: r.u32()?,
            quant: r.list::<1, i8>(|[b]| b as i8)?,
        });
    }
    let n_cols = r.u32()?;
    let trees = match r.u8()? {
        0 => Trees::Oblivious {
            depths: r.list::<1, u8>(|[b]| b)?,
            splits: r.list::<5, BinTest>(|b| BinTest {
                col: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                thr: b[4] as i8,
            })?,
            leaves: r.f64s()?,
        },
        1 => Trees::NonSymmetric {
            roots: r.u32s()?,
            nodes: r.list::<13, NsNode>(|b| {
                let u = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                NsNode {
                    bin: BinTest {
                        col: u(0),
                        thr: b[4] as i8,
                    },
                    left: u(5),
                    right: u(9),
                }
            })?,
            leaves: r.f64s()?,
        },
        t => return Err(bad_tag("trees", t)),
    };
    let dim = r.u32()?;
    let scale = r.f64()?;
    let bias = r.f64s()?;
    let tag = r.u8()?;
    let output = if tag == 3 {
        Output::Regression {
            exponent: r.bool()?,
        }
    } else {
        let n = r.count(2)?;
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            labels.push(match r.u8()? {
                0 => ClassLabel::Integer(r.u64()? as i64),
                1 => ClassLabel::Float(r.f64()?),
                2 => ClassLabel::String(r.string()?),
                3 => ClassLabel::Boolean(r.bool()?),
                t => return Err(bad_tag("class label", t)),
            });
        }
        match tag {
            0 => Output::Binary { labels },
            1 => Output::MultiClass { labels },
            2 => Output::OneVsAll { labels },
            t => return Err(bad_tag("output", t)),
        }
    };
    Ok(Parts {
        kinds,
        floats,
        cat_flat,
        onehots,
        onehot_first_col,
        steps,
        tables,
        ctrs,
        n_cols,
        trees,
        dim,
        scale,
        bias,
        output,
        source_sha256,
    })
}
