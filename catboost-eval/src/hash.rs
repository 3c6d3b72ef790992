//! Category hashing: CityHash64 **v1.0.x**, as CatBoost uses it.
//!
//! CatBoost turns every categorical value into `CityHash64(utf8 bytes)` and keeps the low 32 bits,
//! reinterpreted as `i32`. It ships Google's CityHash *v1.0* (in `util/digest/city.cpp`), whose
//! `HashLen0to16`, `HashLen17to32` and long-input loop differ from v1.1, so the output differs
//! for most inputs. We implement v1.0 here because no pure-Rust crate provides it:
//! `cityhasher` implements v1.1, `cityhash-rs` only the 128-bit variant, and `cityhash` wraps the
//! C++ source through bindgen, which cannot build a static musl binary.
//!
//! The implementation is tested against hashes CatBoost itself wrote into models
//! (`features_info.cat_features_hash`), see `tests/parity.rs`.

const K0: u64 = 0xc3a5_c85c_97cb_3127;
const K1: u64 = 0xb492_b66f_be98_f273;
const K2: u64 = 0x9ae1_6a3b_2f90_404f;
const K3: u64 = 0xc949_d7c7_509e_6557;
const KMUL: u64 = 0x9ddf_ea08_eb38_2d69;

/// Reads 8 little-endian bytes at `at`. Callers guarantee `at + 8 <= s.len()`.
#[inline(always)]
fn fetch64(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Reads 4 little-endian bytes at `at`. Callers guarantee `at + 4 <= s.len()`.
#[inline(always)]
fn fetch32(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&s[at..at + 4]);
    u64::from(u32::from_le_bytes(b))
}

#[inline(always)]
fn rotate(val: u64, shift: u32) -> u64 {
    val.rotate_right(shift)
}

#[inline(always)]
fn shift_mix(val: u64) -> u64 {
    val ^ (val >> 47)
}

#[inline(always)]
fn hash_len16(u: u64, v: u64) -> u64 {
    // Hash128to64 with low = u, high = v.
    let mut a = (u ^ v).wrapping_mul(KMUL);
    a ^= a >> 47;
    let mut b = (v ^ a).wrapping_mul(KMUL);
    b ^= b >> 47;
    b.wrapping_mul(KMUL)
}

fn hash_len0to16(s: &[u8]) -> u64 {
    let len = s.len();
    if len > 8 {
        let a = fetch64(s, 0);
        let b = fetch64(s, len - 8);
        // v1.0: RotateByAtLeast1(b + len, len) ^ b (v1.1 changed this).
        return hash_len16(a, rotate(b.wrapping_add(len as u64), len as u32)) ^ b;
    }
    if len >= 4 {
        let a = fetch32(s, 0);
        return hash_len16((len as u64).wrapping_add(a << 3), fetch32(s, len - 4));
    }
    if len > 0 {
        let a = u32::from(s[0]);
        let b = u32::from(s[len >> 1]);
        let c = u32::from(s[len - 1]);
        let y = a.wrapping_add(b << 8);
        let z = (len as u32).wrapping_add(c << 2);
        return shift_mix(u64::from(y).wrapping_mul(K2) ^ u64::from(z).wrapping_mul(K3))
            .wrapping_mul(K2);
    }
    K2
}

fn hash_len17to32(s: &[u8]) -> u64 {
    let len = s.len();
    let a = fetch64(s, 0).wrapping_mul(K1);
    let b = fetch64(s, 8);
    let c = fetch64(s, len - 8).wrapping_mul(K2);
    let d = fetch64(s, len - 16).wrapping_mul(K0);
    hash_len16(
        rotate(a.wrapping_sub(b), 43)
            .wrapping_add(rotate(c, 30))
            .wrapping_add(d),
        a.wrapping_add(rotate(b ^ K3, 20))
            .wrapping_sub(c)
            .wrapping_add(len as u64),
    )
}

#[inline(always)]
fn weak_hash_len32_with_seeds_raw(w: u64, x: u64, y: u64, z: u64, a: u64, b: u64) -> (u64, u64) {
    let mut a = a.wrapping_add(w);
    let mut b = rotate(b.wrapping_add(a).wrapping_add(z), 21);
    let c = a;
    a = a.wrapping_add(x);
    a = a.wrapping_add(y);
    b = b.wrapping_add(rotate(a, 44));
    (a.wrapping_add(z), b.wrapping_add(c))
}

#[inline(always)]
fn weak_hash_len32_with_seeds(s: &[u8], at: usize, a: u64, b: u64) -> (u64, u64) {
    weak_hash_len32_with_seeds_raw(
        fetch64(s, at),
        fetch64(s, at + 8),
        fetch64(s, at + 16),
        fetch64(s, at + 24),
        a,
        b,
    )
}

fn hash_len33to64(s: &[u8]) -> u64 {
    let len = s.len();
    let mut z = fetch64(s, 24);
    let mut a = fetch64(s, 0).wrapping_add(
        (len as u64)
            .wrapping_add(fetch64(s, len - 16))
            .wrapping_mul(K0),
    );
    let mut b = rotate(a.wrapping_add(z), 52);
    let mut c = rotate(a, 37);
    a = a.wrapping_add(fetch64(s, 8));
    c = c.wrapping_add(rotate(a, 7));
    a = a.wrapping_add(fetch64(s, 16));
    let vf = a.wrapping_add(z);
    let vs = b.wrapping_add(rotate(a, 31)).wrapping_add(c);
    a = fetch64(s, 16).wrapping_add(fetch64(s, len - 32));
    z = fetch64(s, len - 8);
    b = rotate(a.wrapping_add(z), 52);
    c = rotate(a, 37);
    a = a.wrapping_add(fetch64(s, len - 24));
    c = c.wrapping_add(rotate(a, 7));
    a = a.wrapping_add(fetch64(s, len - 16));
    let wf = a.wrapping_add(z);
    let ws = b.wrapping_add(rotate(a, 31)).wrapping_add(c);
    let r = shift_mix(
        vf.wrapping_add(ws)
            .wrapping_mul(K2)
            .wrapping_add(wf.wrapping_add(vs).wrapping_mul(K0)),
    );
    shift_mix(r.wrapping_mul(K0).wrapping_add(vs)).wrapping_mul(K2)
}

/// CityHash64 v1.0 of `s`.
pub(crate) fn city_hash64(s: &[u8]) -> u64 {
    let len = s.len();
    if len <= 16 {
        return hash_len0to16(s);
    }
    if len <= 32 {
        return hash_len17to32(s);
    }
    if len <= 64 {
        return hash_len33to64(s);
    }
    // For strings over 64 bytes: hash the end first, then loop over 64-byte chunks keeping
    // 56 bytes of state v, w, x, y, z.
    let mut x = fetch64(s, 0);
    let mut y = fetch64(s, len - 16) ^ K1;
    let mut z = fetch64(s, len - 56) ^ K0;
    let mut v = weak_hash_len32_with_seeds(s, len - 64, len as u64, y);
    let mut w = weak_hash_len32_with_seeds(s, len - 32, (len as u64).wrapping_mul(K1), K0);
    z = z.wrapping_add(shift_mix(v.1).wrapping_mul(K1));
    x = rotate(z.wrapping_add(x), 39).wrapping_mul(K1);
    y = rotate(y, 33).wrapping_mul(K1);

    let mut remaining = (len - 1) & !63usize;
    let mut at = 0usize;
    loop {
        x = rotate(
            x.wrapping_add(y)
                .wrapping_add(v.0)
                .wrapping_add(fetch64(s, at + 16)),
            37,
        )
        .wrapping_mul(K1);
        y = rotate(y.wrapping_add(v.1).wrapping_add(fetch64(s, at + 48)), 42).wrapping_mul(K1);
        x ^= w.1;
        y ^= v.0;
        z = rotate(z ^ w.0, 33);
        v = weak_hash_len32_with_seeds(s, at, v.1.wrapping_mul(K1), x.wrapping_add(w.0));
        w = weak_hash_len32_with_seeds(s, at + 32, z.wrapping_add(w.1), y);
        std::mem::swap(&mut z, &mut x);
        at += 64;
        remaining -= 64;
        if remaining == 0 {
            break;
        }
    }
    hash_len16(
        hash_len16(v.0, w.0)
            .wrapping_add(shift_mix(y).wrapping_mul(K1))
            .wrapping_add(z),
        hash_len16(v.1, w.1).wrapping_add(x),
    )
}

/// CatBoost's hash of a categorical value: the low 32 bits of CityHash64 v1.0 of its UTF-8
/// bytes, as `i32` (the JSON export writes one-hot values and `cat_features_hash` with it).
#[inline]
pub(crate) fn cat_hash(value: &str) -> i32 {
    city_hash64(value.as_bytes()) as u32 as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes copied from `features_info.cat_features_hash` of a CatBoost 1.2.10 JSON export.
    #[test]
    fn single_letters_match_catboost() {
        for (s, h) in [
            ("x", 3510494104u32),
            ("z", 476319382),
            ("a", 3489901818),
            ("c", 2411623456),
            ("q", 1131503775),
            ("p", 759035679),
        ] {
            assert_eq!(cat_hash(s) as u32, h, "{s:?}");
        }
    }

    /// Every `cat_features_hash` entry CatBoost wrote into the corpus models (the
    /// `hash_strings` model holds strings of every length bucket 0..=16, 17..=32, 33..=64,
    /// >64 bytes, and unicode).
    #[test]
    fn matches_catboost_hashes_in_the_corpus() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/corpus");
        let mut checked = 0;
        let mut lengths = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&corpus).unwrap() {
            let path = entry.unwrap().path().join("model.json");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let Some(list) = doc["features_info"]["cat_features_hash"].as_array() else {
                continue;
            };
            for e in list {
                let s = e["value"].as_str().unwrap();
                let h = e["hash"].as_u64().unwrap();
                assert_eq!(
                    u64::from(cat_hash(s) as u32),
                    h,
                    "{s:?} ({} bytes) in {}",
                    s.len(),
                    path.display()
                );
                lengths.insert(s.len());
                checked += 1;
            }
        }
        assert!(checked > 300, "only {checked} hashes checked");
        for bucket in [0..=0, 1..=16, 17..=32, 33..=64, 65..=1000] {
            assert!(
                lengths.iter().any(|l| bucket.contains(l)),
                "no string of length {bucket:?}"
            );
        }
        assert!(
            lengths.iter().any(|&l| l > 128),
            "no string over two 64-byte chunks"
        );
    }

    #[test]
    fn empty_string_is_k2_low_bits() {
        assert_eq!(city_hash64(b""), K2);
        assert_eq!(cat_hash(""), K2 as u32 as i32);
    }

    #[test]
    fn every_length_is_total() {
        // No panic for any length across the branch boundaries, and lengths hash differently.
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut seen = std::collections::HashSet::new();
        for len in 0..data.len() {
            assert!(seen.insert(city_hash64(&data[..len])), "collision at {len}");
        }
    }
}
